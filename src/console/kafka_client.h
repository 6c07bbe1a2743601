// The console's view of a Kafka cluster, through librdkafka only (so it works
// against Apache Kafka as well as `millrace broker`): metadata, watermarks,
// topic configs, topic admin, consumer groups and their offsets, and a reader
// that fetches records from chosen offsets.
//
// Thread-safety: every kafka_client method may be called from any thread at
// once (librdkafka handles are thread-safe). A record_reader belongs to one
// thread. Errors: not_found for an unknown topic or group, already_exists,
// invalid_argument for what the cluster refused as bad input, unavailable or
// timed_out when the cluster cannot be reached; messages name the object.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "millrace/common/result.h"

struct rd_kafka_s;

namespace millrace::console {

using topic_partition = std::pair<std::string, int32_t>;

struct broker_info {
    int32_t id = -1;
    std::string host;
    int port = 0;
};

struct partition_info {
    int32_t id = 0;
    int32_t leader = -1;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
    std::string error;  // empty when healthy
};

struct topic_info {
    std::string name;
    std::vector<partition_info> partitions;
    bool internal = false;
};

struct cluster_info {
    std::string cluster_id;
    int32_t controller = -1;
    std::vector<broker_info> brokers;
    std::vector<topic_info> topics;  // sorted by name
    const topic_info* find(const std::string& name) const;
};

struct watermark {
    int64_t low = -1;   // log start offset
    int64_t high = -1;  // next offset to be written
};

struct config_entry {
    std::string name;
    std::optional<std::string> value;
    std::string source;  // "topic", "broker", "default", ...
    bool is_default = false;
    bool read_only = false;
    bool sensitive = false;
};

struct group_listing {
    std::string group_id;
    std::string state;  // "Stable", "Empty", ... ("Unknown" when the cluster did not say)
    bool simple = false;
};

struct group_member {
    std::string member_id;
    std::string client_id;
    std::string host;
    std::vector<topic_partition> assignment;
};

struct group_description {
    std::string group_id;
    std::string state;
    std::string assignor;
    int32_t coordinator = -1;
    std::vector<group_member> members;
};

struct committed_offset {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = -1;
    std::string metadata;
};

struct kafka_record {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    int64_t timestamp = -1;
    std::string timestamp_type;  // "create", "log_append" or "none"
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

// Where a produced record was stored.
struct produced_at {
    int32_t partition = -1;
    int64_t offset = -1;
};

class kafka_client {
public:
    using properties = std::vector<std::pair<std::string, std::string>>;
    // Creates the handle; does not contact the cluster yet. `base`: every Kafka
    // client's base properties (security::kafka_client_properties).
    static result<std::unique_ptr<kafka_client>> create(const std::string& bootstrap, std::chrono::milliseconds timeout,
                                                        properties base = {});
    ~kafka_client();

    const std::string& bootstrap() const { return bootstrap_; }
    const properties& base_properties() const { return base_; }
    std::chrono::milliseconds timeout() const { return timeout_; }

    result<cluster_info> metadata() const;
    // Log start and end offsets of each partition, two requests per broker.
    result<std::map<topic_partition, watermark>> watermarks(const std::vector<topic_partition>& partitions) const;
    // The earliest offset whose timestamp is >= `timestamp_ms`, per partition
    // (the end offset when none is).
    result<std::map<topic_partition, int64_t>> offsets_for_time(const std::vector<topic_partition>& partitions,
                                                                int64_t timestamp_ms) const;
    result<std::vector<config_entry>> topic_configs(const std::string& topic) const;
    status create_topic(const std::string& name, int32_t partitions, int32_t replication_factor,
                        const std::vector<std::pair<std::string, std::string>>& configs) const;
    status delete_topic(const std::string& name) const;
    // Sets and removes topic-level configs, keeping the topic's other dynamic
    // ones (librdkafka 2.0 has no IncrementalAlterConfigs: the topic's whole
    // dynamic set is read and written back with AlterConfigs).
    status alter_topic_configs(const std::string& topic, const std::map<std::string, std::string>& set,
                               const std::vector<std::string>& remove) const;
    // Produces one record (acks=all, idempotent) and waits for its offset.
    // `record.partition` < 0 lets the partitioner choose.
    result<produced_at> produce(const kafka_record& record) const;

    result<std::vector<group_listing>> list_groups() const;
    result<group_description> describe_group(const std::string& group_id) const;
    result<std::vector<committed_offset>> committed_offsets(const std::string& group_id) const;
    // Commits `offsets` for an inactive group (the cluster refuses an active one).
    status alter_offsets(const std::string& group_id, const std::vector<committed_offset>& offsets) const;

private:
    kafka_client(rd_kafka_s* handle, std::string bootstrap, std::chrono::milliseconds timeout, properties base)
        : handle_(handle), bootstrap_(std::move(bootstrap)), timeout_(timeout), base_(std::move(base)) {}
    rd_kafka_s* handle_;
    // The producer for produce(), created on first use; produce() calls are
    // serialised (the console produces one record per user action).
    mutable std::mutex producer_mutex_;
    mutable rd_kafka_s* producer_ = nullptr;  // guarded by producer_mutex_
    std::string bootstrap_;
    std::chrono::milliseconds timeout_;
    properties base_;
};

// A consumer without a group that reads chosen partitions from chosen offsets.
class record_reader {
public:
    static result<std::unique_ptr<record_reader>> create(const std::string& bootstrap,
                                                         const std::vector<std::pair<std::string, std::string>>& base = {});
    ~record_reader();

    // Starts reading each partition at its offset (replaces an earlier assignment).
    status assign(const std::vector<std::pair<topic_partition, int64_t>>& starts);
    // The next record, nullopt when none arrived within `wait`. A partition at
    // its end is not an error.
    result<std::optional<kafka_record>> poll(std::chrono::milliseconds wait);

private:
    explicit record_reader(rd_kafka_s* handle) : handle_(handle) {}
    rd_kafka_s* handle_;
};

}  // namespace millrace::console
