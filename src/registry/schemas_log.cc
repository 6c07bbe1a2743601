#include "schemas_log.h"

#include <chrono>

#include <librdkafka/rdkafka.h>

#include "millrace/common/log.h"
#include "millrace/common/security.h"
#include "millrace/kafka_client/offsets.h"

namespace millrace::registry {

// Delivery reports are matched to the append waiting for them by sequence
// number, so a late report of an abandoned record touches nothing.
struct schemas_log::delivery {
    uint64_t sequence = 0;
    bool done = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    int64_t offset = -1;
};

namespace {

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* d = static_cast<schemas_log::delivery*>(opaque);
    if (d == nullptr || reinterpret_cast<uintptr_t>(message->_private) != d->sequence) return;
    d->done = true;
    d->err = message->err;
    d->offset = message->offset;
}

// librdkafka's own log lines go through our logger (syslog levels: 0..3 error, 4 warning, 5..6 info, 7 debug).
void on_log(const rd_kafka_t*, int level, const char* facility, const char* message) {
    log::level lvl = level <= 3 ? log::level::error : level == 4 ? log::level::warn : level <= 6 ? log::level::info : log::level::debug;
    if (log::enabled(lvl)) log::write(lvl, "registry", fmt::format("librdkafka {}: {}", facility, message));
}

result<rd_kafka_conf_t*> make_conf(const std::string& bootstrap, const std::vector<std::pair<std::string, std::string>>& base,
                                   bool producer, void* opaque = nullptr) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    std::vector<std::pair<std::string, std::string>> settings = {{"bootstrap.servers", bootstrap}, {"client.id", "millrace-registry"}};
    if (producer) {
        settings.insert(settings.end(), {{"acks", "all"}, {"linger.ms", "0"}, {"enable.idempotence", "false"},
                                         {"message.timeout.ms", "30000"}});
    } else {
        settings.insert(settings.end(), {{"group.id", "millrace-registry-reader"}, {"enable.auto.commit", "false"},
                                         {"enable.partition.eof", "true"}, {"auto.offset.reset", "earliest"}});
    }
    settings.insert(settings.end(), base.begin(), base.end());
    for (const auto& [name, value] : settings) {
        if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return make_error(errc::invalid_argument, "librdkafka {}={}: {}", name, security::printable_property(name, value), errstr);
        }
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (producer) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, opaque);
    }
    return conf;
}

}  // namespace

schemas_log::schemas_log(std::string bootstrap, std::vector<std::pair<std::string, std::string>> kafka_properties,
                         std::string topic, int replication_factor, const std::atomic<bool>& stopping)
    : bootstrap_(std::move(bootstrap)),
      kafka_properties_(std::move(kafka_properties)),
      topic_(std::move(topic)),
      replication_factor_(replication_factor),
      stopping_(stopping),
      pending_(std::make_unique<delivery>()) {}

schemas_log::~schemas_log() { close(); }

void schemas_log::close() {
    if (producer_ != nullptr) {
        // Every append waited for its delivery report, so nothing is left to flush.
        rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(producer_);
        producer_ = nullptr;
    }
}

namespace {
error stopped(const std::string& topic) { return make_error(errc::cancelled, "the registry is stopping (topic {})", topic); }
}  // namespace

status schemas_log::open(int64_t timeout_ms) {
    if (producer_ == nullptr) {
        auto conf = make_conf(bootstrap_, kafka_properties_, true, pending_.get());
        if (!conf) return conf.err();
        char errstr[512];
        producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, errstr, sizeof errstr);
        if (producer_ == nullptr) return make_error(errc::unavailable, "creating the Kafka producer for {}: {}", bootstrap_, errstr);
    }
    // Create the topic; "already exists" is success.
    rd_kafka_NewTopic_t* new_topic = rd_kafka_NewTopic_new(topic_.c_str(), 1, replication_factor_, nullptr, 0);
    rd_kafka_NewTopic_set_config(new_topic, "cleanup.policy", "compact");
    rd_kafka_queue_t* queue = rd_kafka_queue_new(producer_);
    rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(producer_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    char errstr[512];
    rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout_ms), errstr, sizeof errstr);
    rd_kafka_CreateTopics(producer_, &new_topic, 1, options, queue);
    rd_kafka_event_t* event = nullptr;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms + 1000);
    while (event == nullptr && !stopping_ && std::chrono::steady_clock::now() < deadline) event = rd_kafka_queue_poll(queue, 200);
    status out;
    if (event == nullptr && stopping_) {
        out = stopped(topic_);
    } else if (event == nullptr) {
        out = make_error(errc::unavailable, "creating topic {} on {}: no answer within {} ms", topic_, bootstrap_, timeout_ms);
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        out = make_error(errc::unavailable, "creating topic {} on {}: {}", topic_, bootstrap_, rd_kafka_event_error_string(event));
    } else {
        const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(event);
        size_t count = 0;
        const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &count);
        for (size_t idx = 0; idx < count; ++idx) {
            rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[idx]);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                out = make_error(errc::unavailable, "creating topic {} on {}: {}", topic_, bootstrap_, rd_kafka_err2str(err));
            }
        }
    }
    if (event != nullptr) rd_kafka_event_destroy(event);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy(new_topic);
    return out;
}

status schemas_log::read_all(const std::function<void(int64_t, const std::string&, const std::optional<std::string>&)>& apply,
                             int64_t timeout_ms) {
    auto conf = make_conf(bootstrap_, kafka_properties_, false);
    if (!conf) return conf.err();
    char errstr[512];
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, errstr, sizeof errstr);
    if (consumer == nullptr) return make_error(errc::unavailable, "creating the Kafka consumer for {}: {}", bootstrap_, errstr);
    const auto offsets_timeout = std::chrono::milliseconds(std::min<int64_t>(timeout_ms, 5000));
    auto lows = kafka_client::list_offsets(consumer, topic_, 1, RD_KAFKA_OFFSET_BEGINNING, offsets_timeout);
    auto highs = lows ? kafka_client::list_offsets(consumer, topic_, 1, RD_KAFKA_OFFSET_END, offsets_timeout) : lows;
    int64_t low = lows ? lows->front() : 0;
    int64_t high = highs ? highs->front() : 0;
    status out;
    if (!highs) {
        out = highs.err().with_context(fmt::format("reading {} on {}", topic_, bootstrap_));
    } else if (high > low) {
        rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, topic_.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(consumer, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        int64_t next = low;
        while (next < high) {
            if (stopping_) {
                out = stopped(topic_);
                break;
            }
            if (std::chrono::steady_clock::now() > deadline) {
                out = make_error(errc::timed_out, "reading {} on {}: reached offset {} of {} within {} ms", topic_, bootstrap_, next, high,
                                 timeout_ms);
                break;
            }
            rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 500);
            if (message == nullptr) continue;
            if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                next = std::max(next, message->offset);
                rd_kafka_message_destroy(message);
                if (next >= high) break;
                continue;
            }
            if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                out = make_error(errc::unavailable, "reading {} on {}: {}", topic_, bootstrap_, rd_kafka_message_errstr(message));
                rd_kafka_message_destroy(message);
                break;
            }
            std::string key(static_cast<const char*>(message->key), message->key_len);
            std::optional<std::string> value;
            if (message->payload != nullptr) value.emplace(static_cast<const char*>(message->payload), message->len);
            apply(message->offset, key, value);
            next = message->offset + 1;
            rd_kafka_message_destroy(message);
        }
    }
    // No group was joined (partitions are assigned), so there is nothing to leave.
    rd_kafka_destroy_flags(consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return out;
}

result<int64_t> schemas_log::append(const std::string& key, const std::optional<std::string>& value, int64_t timeout_ms) {
    if (producer_ == nullptr) return make_error(errc::unavailable, "the {} producer is not open", topic_);
    delivery& d = *pending_;
    d = delivery{++sequence_};
    void* payload = value ? const_cast<char*>(value->data()) : nullptr;
    size_t payload_size = value ? value->size() : 0;
    void* key_data = const_cast<char*>(key.data());
    size_t key_size = key.size();
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_VALUE(payload, payload_size),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(d.sequence))), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return make_error(errc::unavailable, "producing to {} on {}: {}", topic_, bootstrap_, rd_kafka_err2str(err));
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!d.done) {
        rd_kafka_poll(producer_, 100);
        if (!d.done && stopping_) {
            rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(producer_, 0);
            if (!d.done || d.err != RD_KAFKA_RESP_ERR_NO_ERROR) return stopped(topic_);
        }
        if (!d.done && std::chrono::steady_clock::now() > deadline) {
            rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(producer_, 0);
            if (!d.done || d.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                return make_error(errc::timed_out, "producing to {} on {}: no acknowledgement within {} ms", topic_, bootstrap_, timeout_ms);
            }
        }
    }
    if (d.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return make_error(errc::unavailable, "producing to {} on {}: {}", topic_, bootstrap_, rd_kafka_err2str(d.err));
    }
    return d.offset;
}

}  // namespace millrace::registry
