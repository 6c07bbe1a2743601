#include "fixture.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

namespace millrace::testing {

registry_cluster::registry_cluster(const std::string& topic_name) : topic(topic_name) {
    broker = start_server("broker", dir.file("broker"));
    if (!broker.proc) return;
    start_registry();
}

void registry_cluster::start_registry() {
    ++registry_starts;
    registry = start_server("registry", dir.file("registry"),
                            {"--set", "kafka.bootstrap=" + broker.address, "--set", "registry.topic=" + topic});
}

void registry_cluster::restart_registry() {
    if (registry.proc) {
        EXPECT_EQ(registry.proc->stop(SIGTERM), 0);
    }
    start_registry();
}

int reply::error_code() const {
    const avro::json::value* code = json.find("error_code");
    return code != nullptr && code->is_integer() ? static_cast<int>(code->integer) : 0;
}

std::string reply::message() const {
    const avro::json::value* m = json.find("message");
    return m != nullptr && m->is_string() ? m->text : std::string();
}

reply call(const std::string& address, const std::string& method, const std::string& target, const std::string& body) {
    http_result r = http_request(address, method, target, body);
    reply out;
    out.status = r.status;
    out.body = r.body;
    out.headers = r.headers;
    if (auto doc = avro::json::parse(r.body); doc.ok()) out.json = std::move(*doc);
    return out;
}

std::string schema_body(const std::string& schema_text, const std::string& type) {
    avro::json::value body = avro::json::value::object();
    body.set("schema", avro::json::value::from_string(schema_text));
    if (type != "AVRO") body.set("schemaType", avro::json::value::from_string(type));
    return avro::json::dump(body);
}

namespace {
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
    *static_cast<int64_t*>(message->_private) = message->err ? -2 : message->offset;
}
}  // namespace

int64_t produce_raw(const std::string& bootstrap, const std::string& topic, const std::string& key,
                    const std::optional<std::string>& value) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "acks", "all", errstr, sizeof errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (producer == nullptr) return -1;
    int64_t offset = -1;
    void* key_data = const_cast<char*>(key.data());
    size_t key_size = key.size();
    void* payload = value ? const_cast<char*>(value->data()) : nullptr;
    size_t payload_size = value ? value->size() : 0;
    rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key_data, key_size),
                      RD_KAFKA_V_VALUE(payload, payload_size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&offset),
                      RD_KAFKA_V_END);
    rd_kafka_flush(producer, 30'000);
    rd_kafka_destroy(producer);
    return offset;
}

}  // namespace millrace::testing
