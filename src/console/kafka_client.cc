#include "kafka_client.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include <librdkafka/rdkafka.h>

#include "millrace/common/log.h"
#include "millrace/common/security.h"

namespace millrace::console {
namespace {

const log::logger& kafka_log() {
    static const log::logger logger("console");
    return logger;
}

// librdkafka's own lines (reconnects and the like) are debug detail: the
// console reports an unreachable cluster through its health view instead.
void log_callback(const rd_kafka_t*, int level, const char* facility, const char* text) {
    if (level <= 2) {
        kafka_log().error("librdkafka {}: {}", facility, text);
    } else {
        kafka_log().debug("librdkafka {}: {}", facility, text);
    }
}

result<rd_kafka_conf_t*> make_conf(const std::string& bootstrap, const std::vector<std::pair<std::string, std::string>>& base,
                                   const std::vector<std::pair<std::string, std::string>>& extra) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    std::vector<std::pair<std::string, std::string>> settings = {
        {"bootstrap.servers", bootstrap},
        {"client.id", "millrace-console"},
        {"log.connection.close", "false"},
        {"reconnect.backoff.max.ms", "2000"},
        {"topic.metadata.refresh.interval.ms", "30000"},
    };
    settings.insert(settings.end(), extra.begin(), extra.end());
    settings.insert(settings.end(), base.begin(), base.end());
    for (const auto& [name, value] : settings) {
        if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return make_error(errc::invalid_argument, "kafka client setting {}={}: {}", name,
                              security::printable_property(name, value), errstr);
        }
    }
    rd_kafka_conf_set_log_cb(conf, log_callback);
    return conf;
}

result<rd_kafka_t*> make_handle(rd_kafka_type_t type, const std::string& bootstrap,
                                const std::vector<std::pair<std::string, std::string>>& base,
                                const std::vector<std::pair<std::string, std::string>>& extra) {
    auto conf = make_conf(bootstrap, base, extra);
    if (!conf) return conf.err();
    char errstr[512];
    rd_kafka_t* handle = rd_kafka_new(type, *conf, errstr, sizeof errstr);
    if (handle == nullptr) {
        rd_kafka_conf_destroy(*conf);
        return make_error(errc::invalid_argument, "cannot create a Kafka client for {}: {}", bootstrap, errstr);
    }
    return handle;
}

errc code_of(rd_kafka_resp_err_t err) {
    switch (err) {
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
            return errc::not_found;
        case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
            return errc::already_exists;
        case RD_KAFKA_RESP_ERR__TIMED_OUT:
        case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
            return errc::timed_out;
        case RD_KAFKA_RESP_ERR__TRANSPORT:
        case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        case RD_KAFKA_RESP_ERR__RESOLVE:
        case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
        case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
            return errc::unavailable;
        case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
        case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
        case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
            return errc::already_exists;  // the group is active: a conflict
        default:
            return errc::invalid_argument;
    }
}

error kafka_error(rd_kafka_resp_err_t err, std::string_view what, const char* detail = nullptr) {
    std::string text = detail != nullptr && *detail != '\0' ? detail : rd_kafka_err2str(err);
    return error(code_of(err), fmt::format("{}: {} ({})", what, text, rd_kafka_err2name(err)));
}

// One admin request and its result event, cleaned up on every path.
class admin_call {
public:
    admin_call(rd_kafka_t* handle, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout)
        : handle_(handle), timeout_(timeout), queue_(rd_kafka_queue_new(handle)), options_(rd_kafka_AdminOptions_new(handle, op)) {
        char errstr[256];
        rd_kafka_AdminOptions_set_request_timeout(options_, static_cast<int>(timeout.count()), errstr, sizeof errstr);
        if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS) {
            rd_kafka_AdminOptions_set_operation_timeout(options_, static_cast<int>(timeout.count()), errstr, sizeof errstr);
        }
    }
    ~admin_call() {
        if (event_ != nullptr) rd_kafka_event_destroy(event_);
        rd_kafka_AdminOptions_destroy(options_);
        rd_kafka_queue_destroy(queue_);
    }
    admin_call(const admin_call&) = delete;
    admin_call& operator=(const admin_call&) = delete;

    rd_kafka_AdminOptions_t* options() { return options_; }
    rd_kafka_queue_t* queue() { return queue_; }

    // Waits for the result; an error covers the whole request.
    result<rd_kafka_event_t*> wait(std::string_view what) {
        event_ = rd_kafka_queue_poll(queue_, static_cast<int>(timeout_.count()) + 2000);
        if (event_ == nullptr) {
            return make_error(errc::timed_out, "{}: no answer from the Kafka cluster within {} ms", what, timeout_.count());
        }
        if (rd_kafka_resp_err_t err = rd_kafka_event_error(event_); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return kafka_error(err, what, rd_kafka_event_error_string(event_));
        }
        return event_;
    }

private:
    rd_kafka_t* handle_;
    std::chrono::milliseconds timeout_;
    rd_kafka_queue_t* queue_;
    rd_kafka_AdminOptions_t* options_;
    rd_kafka_event_t* event_ = nullptr;
};

struct partition_list {
    partition_list() : list(rd_kafka_topic_partition_list_new(8)) {}
    ~partition_list() { rd_kafka_topic_partition_list_destroy(list); }
    partition_list(const partition_list&) = delete;
    partition_list& operator=(const partition_list&) = delete;
    rd_kafka_topic_partition_list_t* list;
};

}  // namespace

const topic_info* cluster_info::find(const std::string& name) const {
    for (const auto& t : topics) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

result<std::unique_ptr<kafka_client>> kafka_client::create(const std::string& bootstrap, std::chrono::milliseconds timeout,
                                                           properties base) {
    auto handle = make_handle(RD_KAFKA_PRODUCER, bootstrap, base, {{"allow.auto.create.topics", "false"}});
    if (!handle) {
        // allow.auto.create.topics is a consumer property in older librdkafka.
        handle = make_handle(RD_KAFKA_PRODUCER, bootstrap, base, {});
        if (!handle) return handle.err();
    }
    return std::unique_ptr<kafka_client>(new kafka_client(*handle, bootstrap, timeout, std::move(base)));
}

kafka_client::~kafka_client() {
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
    rd_kafka_destroy(handle_);
}

result<cluster_info> kafka_client::metadata() const {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(handle_, 1, nullptr, &md, static_cast<int>(timeout_.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return kafka_error(err, fmt::format("metadata from Kafka at {}", bootstrap_));
    }
    cluster_info info;
    for (int idx = 0; idx < md->broker_cnt; ++idx) {
        info.brokers.push_back({md->brokers[idx].id, md->brokers[idx].host, md->brokers[idx].port});
    }
    for (int idx = 0; idx < md->topic_cnt; ++idx) {
        const auto& t = md->topics[idx];
        if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
        topic_info topic;
        topic.name = t.topic;
        topic.internal = topic.name.rfind("__", 0) == 0;
        for (int p = 0; p < t.partition_cnt; ++p) {
            const auto& part = t.partitions[p];
            partition_info pi;
            pi.id = part.id;
            pi.leader = part.leader;
            pi.replicas.assign(part.replicas, part.replicas + part.replica_cnt);
            pi.isr.assign(part.isrs, part.isrs + part.isr_cnt);
            if (part.err != RD_KAFKA_RESP_ERR_NO_ERROR) pi.error = rd_kafka_err2str(part.err);
            topic.partitions.push_back(std::move(pi));
        }
        std::sort(topic.partitions.begin(), topic.partitions.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
        info.topics.push_back(std::move(topic));
    }
    rd_kafka_metadata_destroy(md);
    std::sort(info.topics.begin(), info.topics.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    std::sort(info.brokers.begin(), info.brokers.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    const int wait_ms = static_cast<int>(timeout_.count());
    if (char* id = rd_kafka_clusterid(handle_, wait_ms)) {
        info.cluster_id = id;
        rd_kafka_mem_free(handle_, id);
    }
    info.controller = rd_kafka_controllerid(handle_, wait_ms);
    return info;
}

result<std::map<topic_partition, int64_t>> kafka_client::offsets_for_time(const std::vector<topic_partition>& partitions,
                                                                          int64_t timestamp_ms) const {
    std::map<topic_partition, int64_t> out;
    if (partitions.empty()) return out;
    partition_list query;
    for (const auto& [topic, partition] : partitions) {
        rd_kafka_topic_partition_list_add(query.list, topic.c_str(), partition)->offset = timestamp_ms;
    }
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(handle_, query.list, static_cast<int>(timeout_.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return kafka_error(err, fmt::format("offsets of {} partitions at timestamp {}", partitions.size(), timestamp_ms));
    }
    for (int idx = 0; idx < query.list->cnt; ++idx) {
        const auto& elem = query.list->elems[idx];
        if (elem.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return kafka_error(elem.err, fmt::format("offset of {}-{} at timestamp {}", elem.topic, elem.partition, timestamp_ms));
        }
        out[{elem.topic, elem.partition}] = elem.offset;
    }
    return out;
}

result<std::map<topic_partition, watermark>> kafka_client::watermarks(const std::vector<topic_partition>& partitions) const {
    // ListOffsets with the special timestamps -2 (earliest) and -1 (latest),
    // batched per leader, instead of one request per partition.
    auto low = offsets_for_time(partitions, -2);
    if (!low) return low.err();
    auto high = offsets_for_time(partitions, -1);
    if (!high) return high.err();
    std::map<topic_partition, watermark> out;
    for (const auto& tp : partitions) out[tp] = watermark{(*low)[tp], (*high)[tp]};
    return out;
}

result<std::vector<config_entry>> kafka_client::topic_configs(const std::string& topic) const {
    admin_call call(handle_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_);
    rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    rd_kafka_DescribeConfigs(handle_, &resource, 1, call.options(), call.queue());
    rd_kafka_ConfigResource_destroy(resource);
    std::string what = fmt::format("configs of topic '{}'", topic);
    auto event = call.wait(what);
    if (!event) return event.err();
    size_t count = 0;
    const rd_kafka_ConfigResource_t** resources =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(*event), &count);
    std::vector<config_entry> out;
    for (size_t idx = 0; idx < count; ++idx) {
        if (rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(resources[idx]); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return kafka_error(err, what, rd_kafka_ConfigResource_error_string(resources[idx]));
        }
        size_t entry_count = 0;
        const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[idx], &entry_count);
        for (size_t e = 0; e < entry_count; ++e) {
            config_entry entry;
            entry.name = rd_kafka_ConfigEntry_name(entries[e]);
            if (const char* value = rd_kafka_ConfigEntry_value(entries[e])) entry.value = value;
            entry.source = rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(entries[e]));
            entry.is_default = rd_kafka_ConfigEntry_is_default(entries[e]) != 0;
            entry.read_only = rd_kafka_ConfigEntry_is_read_only(entries[e]) != 0;
            entry.sensitive = rd_kafka_ConfigEntry_is_sensitive(entries[e]) != 0;
            out.push_back(std::move(entry));
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

status kafka_client::create_topic(const std::string& name, int32_t partitions, int32_t replication_factor,
                                  const std::vector<std::pair<std::string, std::string>>& configs) const {
    char errstr[512];
    rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(name.c_str(), partitions, replication_factor, errstr, sizeof errstr);
    if (topic == nullptr) return make_error(errc::invalid_argument, "topic '{}': {}", name, errstr);
    for (const auto& [key, value] : configs) {
        if (rd_kafka_NewTopic_set_config(topic, key.c_str(), value.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_NewTopic_destroy(topic);
            return make_error(errc::invalid_argument, "topic '{}': config {}={} refused by the client", name, key, value);
        }
    }
    admin_call call(handle_, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_);
    rd_kafka_CreateTopics(handle_, &topic, 1, call.options(), call.queue());
    rd_kafka_NewTopic_destroy(topic);
    std::string what = fmt::format("creating topic '{}'", name);
    auto event = call.wait(what);
    if (!event) return event.err();
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(*event), &count);
    for (size_t idx = 0; idx < count; ++idx) {
        if (rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[idx]); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return kafka_error(err, what, rd_kafka_topic_result_error_string(results[idx]));
        }
    }
    return {};
}

status kafka_client::delete_topic(const std::string& name) const {
    admin_call call(handle_, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_);
    rd_kafka_DeleteTopic_t* topic = rd_kafka_DeleteTopic_new(name.c_str());
    rd_kafka_DeleteTopics(handle_, &topic, 1, call.options(), call.queue());
    rd_kafka_DeleteTopic_destroy(topic);
    std::string what = fmt::format("deleting topic '{}'", name);
    auto event = call.wait(what);
    if (!event) return event.err();
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(*event), &count);
    for (size_t idx = 0; idx < count; ++idx) {
        if (rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[idx]); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return kafka_error(err, what, rd_kafka_topic_result_error_string(results[idx]));
        }
    }
    return {};
}

status kafka_client::alter_topic_configs(const std::string& topic, const std::map<std::string, std::string>& set,
                                         const std::vector<std::string>& remove) const {
    auto current = topic_configs(topic);
    if (!current) return current.err();
    std::map<std::string, std::string> dynamic;
    for (const auto& c : *current) {
        if (c.source == "DYNAMIC_TOPIC_CONFIG" && c.value) dynamic[c.name] = *c.value;
    }
    for (const auto& name : remove) dynamic.erase(name);
    for (const auto& [name, value] : set) dynamic[name] = value;
    rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    for (const auto& [name, value] : dynamic) {
        if (rd_kafka_ConfigResource_set_config(resource, name.c_str(), value.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_ConfigResource_destroy(resource);
            return make_error(errc::invalid_argument, "topic '{}': config {}={} refused by the client", topic, name, value);
        }
    }
    admin_call call(handle_, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, timeout_);
    rd_kafka_AlterConfigs(handle_, &resource, 1, call.options(), call.queue());
    rd_kafka_ConfigResource_destroy(resource);
    std::string what = fmt::format("altering configs of topic '{}'", topic);
    auto event = call.wait(what);
    if (!event) return event.err();
    size_t count = 0;
    const rd_kafka_ConfigResource_t** resources =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(*event), &count);
    for (size_t idx = 0; idx < count; ++idx) {
        if (rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(resources[idx]); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return kafka_error(err, what, rd_kafka_ConfigResource_error_string(resources[idx]));
        }
    }
    return {};
}

namespace {

// One produce() call's outcome, shared by the caller and the delivery callback
// (which may run after the caller gave up waiting).
struct delivery {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    produced_at at;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
    auto* owner = static_cast<std::shared_ptr<delivery>*>(message->_private);
    if (owner == nullptr) return;
    {
        std::lock_guard lock((*owner)->mutex);
        (*owner)->done = true;
        (*owner)->err = message->err;
        (*owner)->at = {message->partition, message->offset};
    }
    (*owner)->done_cv.notify_all();
    delete owner;
}

}  // namespace

result<produced_at> kafka_client::produce(const kafka_record& record) const {
    std::lock_guard lock(producer_mutex_);
    if (producer_ == nullptr) {
        auto conf = make_conf(bootstrap_, base_,
                              {{"client.id", "millrace-console-producer"},
                               {"acks", "all"},
                               {"enable.idempotence", "true"},
                               {"linger.ms", "0"},
                               {"message.timeout.ms", std::to_string(std::max<int64_t>(1000, timeout_.count()))}});
        if (!conf) return conf.err();
        rd_kafka_conf_set_dr_msg_cb(*conf, on_delivery);
        char errstr[512];
        producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, errstr, sizeof errstr);
        if (producer_ == nullptr) {
            rd_kafka_conf_destroy(*conf);
            return make_error(errc::invalid_argument, "cannot create a Kafka producer for {}: {}", bootstrap_, errstr);
        }
    }
    rd_kafka_headers_t* headers = rd_kafka_headers_new(record.headers.size());
    for (const auto& [name, value] : record.headers) {
        rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value ? value->data() : nullptr,
                            value ? static_cast<ssize_t>(value->size()) : 0);
    }
    auto outcome = std::make_shared<delivery>();
    auto* owner = new std::shared_ptr<delivery>(outcome);
    // (The producev macros cast their arguments: no expressions inside them.)
    const void* key = record.key ? record.key->data() : nullptr;
    const size_t key_size = record.key ? record.key->size() : 0;
    const void* value = record.value ? record.value->data() : nullptr;
    const size_t value_size = record.value ? record.value->size() : 0;
    const int32_t partition = record.partition < 0 ? RD_KAFKA_PARTITION_UA : record.partition;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(record.topic.c_str()),
        RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(const_cast<void*>(value), value_size),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(owner), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        delete owner;
        rd_kafka_headers_destroy(headers);  // not taken over by a failed producev
        return kafka_error(err, fmt::format("producing to topic '{}'", record.topic));
    }
    // flush() serves the delivery callback; a record still unacknowledged at
    // the deadline is purged so that its report (an error) arrives now.
    rd_kafka_flush(producer_, static_cast<int>(timeout_.count()) + 1000);
    bool done = false;
    {
        std::lock_guard wait_lock(outcome->mutex);
        done = outcome->done;
    }
    if (!done) {
        rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(producer_, 2000);
        return make_error(errc::timed_out, "producing to topic '{}': no acknowledgement from Kafka at {} within {} ms", record.topic,
                          bootstrap_, timeout_.count());
    }
    std::lock_guard result_lock(outcome->mutex);
    if (outcome->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return kafka_error(outcome->err, fmt::format("producing to topic '{}'", record.topic));
    }
    return outcome->at;
}

result<std::vector<group_listing>> kafka_client::list_groups() const {
    admin_call call(handle_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, timeout_);
    rd_kafka_ListConsumerGroups(handle_, call.options(), call.queue());
    auto event = call.wait("listing consumer groups");
    if (!event) return event.err();
    const auto* res = rd_kafka_event_ListConsumerGroups_result(*event);
    size_t count = 0;
    const rd_kafka_ConsumerGroupListing_t** groups = rd_kafka_ListConsumerGroups_result_valid(res, &count);
    std::vector<group_listing> out;
    for (size_t idx = 0; idx < count; ++idx) {
        group_listing g;
        g.group_id = rd_kafka_ConsumerGroupListing_group_id(groups[idx]);
        g.simple = rd_kafka_ConsumerGroupListing_is_simple_consumer_group(groups[idx]) != 0;
        g.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(groups[idx]));
        out.push_back(std::move(g));
    }
    size_t error_count = 0;
    const rd_kafka_error_t** errors = rd_kafka_ListConsumerGroups_result_errors(res, &error_count);
    if (out.empty() && error_count > 0) {
        return kafka_error(rd_kafka_error_code(errors[0]), "listing consumer groups", rd_kafka_error_string(errors[0]));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.group_id < b.group_id; });
    return out;
}

result<group_description> kafka_client::describe_group(const std::string& group_id) const {
    admin_call call(handle_, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_);
    const char* ids[] = {group_id.c_str()};
    rd_kafka_DescribeConsumerGroups(handle_, ids, 1, call.options(), call.queue());
    std::string what = fmt::format("describing consumer group '{}'", group_id);
    auto event = call.wait(what);
    if (!event) return event.err();
    size_t count = 0;
    const rd_kafka_ConsumerGroupDescription_t** groups =
        rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(*event), &count);
    if (count == 0) return make_error(errc::not_found, "{}: no such group", what);
    const auto* desc = groups[0];
    if (const rd_kafka_error_t* err = rd_kafka_ConsumerGroupDescription_error(desc)) {
        return kafka_error(rd_kafka_error_code(err), what, rd_kafka_error_string(err));
    }
    group_description out;
    out.group_id = rd_kafka_ConsumerGroupDescription_group_id(desc);
    out.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(desc));
    if (const char* assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(desc)) out.assignor = assignor;
    if (const rd_kafka_Node_t* node = rd_kafka_ConsumerGroupDescription_coordinator(desc)) out.coordinator = rd_kafka_Node_id(node);
    size_t members = rd_kafka_ConsumerGroupDescription_member_count(desc);
    for (size_t idx = 0; idx < members; ++idx) {
        const rd_kafka_MemberDescription_t* m = rd_kafka_ConsumerGroupDescription_member(desc, idx);
        group_member member;
        member.member_id = rd_kafka_MemberDescription_consumer_id(m);
        member.client_id = rd_kafka_MemberDescription_client_id(m);
        member.host = rd_kafka_MemberDescription_host(m);
        if (const rd_kafka_MemberAssignment_t* assignment = rd_kafka_MemberDescription_assignment(m)) {
            if (const rd_kafka_topic_partition_list_t* parts = rd_kafka_MemberAssignment_partitions(assignment)) {
                for (int p = 0; p < parts->cnt; ++p) member.assignment.emplace_back(parts->elems[p].topic, parts->elems[p].partition);
            }
        }
        std::sort(member.assignment.begin(), member.assignment.end());
        out.members.push_back(std::move(member));
    }
    return out;
}

result<std::vector<committed_offset>> kafka_client::committed_offsets(const std::string& group_id) const {
    admin_call call(handle_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_);
    rd_kafka_ListConsumerGroupOffsets_t* request = rd_kafka_ListConsumerGroupOffsets_new(group_id.c_str(), nullptr);
    rd_kafka_ListConsumerGroupOffsets(handle_, &request, 1, call.options(), call.queue());
    rd_kafka_ListConsumerGroupOffsets_destroy(request);
    std::string what = fmt::format("committed offsets of group '{}'", group_id);
    auto event = call.wait(what);
    if (!event) return event.err();
    size_t count = 0;
    const rd_kafka_group_result_t** groups =
        rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(*event), &count);
    std::vector<committed_offset> out;
    for (size_t idx = 0; idx < count; ++idx) {
        if (const rd_kafka_error_t* err = rd_kafka_group_result_error(groups[idx])) {
            return kafka_error(rd_kafka_error_code(err), what, rd_kafka_error_string(err));
        }
        const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[idx]);
        for (int p = 0; parts != nullptr && p < parts->cnt; ++p) {
            const auto& elem = parts->elems[p];
            if (elem.err != RD_KAFKA_RESP_ERR_NO_ERROR || elem.offset < 0) continue;
            committed_offset c;
            c.topic = elem.topic;
            c.partition = elem.partition;
            c.offset = elem.offset;
            if (elem.metadata != nullptr) c.metadata.assign(static_cast<const char*>(elem.metadata), elem.metadata_size);
            out.push_back(std::move(c));
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
    });
    return out;
}

status kafka_client::alter_offsets(const std::string& group_id, const std::vector<committed_offset>& offsets) const {
    partition_list parts;
    for (const auto& c : offsets) rd_kafka_topic_partition_list_add(parts.list, c.topic.c_str(), c.partition)->offset = c.offset;
    admin_call call(handle_, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout_);
    rd_kafka_AlterConsumerGroupOffsets_t* request = rd_kafka_AlterConsumerGroupOffsets_new(group_id.c_str(), parts.list);
    rd_kafka_AlterConsumerGroupOffsets(handle_, &request, 1, call.options(), call.queue());
    rd_kafka_AlterConsumerGroupOffsets_destroy(request);
    std::string what = fmt::format("resetting offsets of group '{}'", group_id);
    auto event = call.wait(what);
    if (!event) return event.err();
    size_t count = 0;
    const rd_kafka_group_result_t** groups =
        rd_kafka_AlterConsumerGroupOffsets_result_groups(rd_kafka_event_AlterConsumerGroupOffsets_result(*event), &count);
    for (size_t idx = 0; idx < count; ++idx) {
        if (const rd_kafka_error_t* err = rd_kafka_group_result_error(groups[idx])) {
            return kafka_error(rd_kafka_error_code(err), what, rd_kafka_error_string(err));
        }
        const rd_kafka_topic_partition_list_t* result_parts = rd_kafka_group_result_partitions(groups[idx]);
        for (int p = 0; result_parts != nullptr && p < result_parts->cnt; ++p) {
            const auto& elem = result_parts->elems[p];
            if (elem.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                return kafka_error(elem.err, fmt::format("{} on {}-{}", what, elem.topic, elem.partition));
            }
        }
    }
    return {};
}

result<std::unique_ptr<record_reader>> record_reader::create(const std::string& bootstrap,
                                                             const std::vector<std::pair<std::string, std::string>>& base) {
    // A group id is required by the consumer API, but the reader never joins
    // the group or commits: it only fetches from assigned offsets.
    auto handle = make_handle(RD_KAFKA_CONSUMER, bootstrap, base,
                              {{"group.id", "millrace-console-browser"},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"enable.partition.eof", "false"},
                               {"allow.auto.create.topics", "false"},
                               {"auto.offset.reset", "earliest"},
                               {"fetch.wait.max.ms", "100"},
                               {"check.crcs", "true"}});
    if (!handle) return handle.err();
    return std::unique_ptr<record_reader>(new record_reader(*handle));
}

record_reader::~record_reader() {
    rd_kafka_assign(handle_, nullptr);
    rd_kafka_destroy_flags(handle_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

status record_reader::assign(const std::vector<std::pair<topic_partition, int64_t>>& starts) {
    partition_list parts;
    for (const auto& [tp, offset] : starts) rd_kafka_topic_partition_list_add(parts.list, tp.first.c_str(), tp.second)->offset = offset;
    if (rd_kafka_resp_err_t err = rd_kafka_assign(handle_, parts.list); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return kafka_error(err, fmt::format("assigning {} partitions to the reader", starts.size()));
    }
    return {};
}

result<std::optional<kafka_record>> record_reader::poll(std::chrono::milliseconds wait) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(handle_, static_cast<int>(wait.count()));
    if (message == nullptr) return std::optional<kafka_record>();
    struct guard {
        rd_kafka_message_t* m;
        ~guard() { rd_kafka_message_destroy(m); }
    } release{message};
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::optional<kafka_record>();
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::string where = message->rkt != nullptr ? fmt::format("reading {}-{}", rd_kafka_topic_name(message->rkt), message->partition)
                                                    : std::string("reading records");
        return kafka_error(message->err, where, rd_kafka_message_errstr(message));
    }
    kafka_record r;
    r.topic = rd_kafka_topic_name(message->rkt);
    r.partition = message->partition;
    r.offset = message->offset;
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    r.timestamp = rd_kafka_message_timestamp(message, &type);
    r.timestamp_type = type == RD_KAFKA_TIMESTAMP_CREATE_TIME ? "create" : type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? "log_append" : "none";
    if (message->key != nullptr) r.key.emplace(static_cast<const char*>(message->key), message->key_len);
    if (message->payload != nullptr) r.value.emplace(static_cast<const char*>(message->payload), message->len);
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t idx = 0; rd_kafka_header_get_all(headers, idx, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++idx) {
            std::optional<std::string> v;
            if (value != nullptr) v.emplace(static_cast<const char*>(value), size);
            r.headers.emplace_back(name, std::move(v));
        }
    }
    return std::optional<kafka_record>(std::move(r));
}

}  // namespace millrace::console
