// The topics of this broker: names, ids, configs, partition logs; creation,
// deletion, partition growth, and persistence of that metadata.
// Single-threaded: used on the broker's io_context thread only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker_core.h"
#include "protocol/errors.h"
#include "protocol/wire.h"
#include "storage/partition_log.h"

namespace millrace::kafka {

// A topic-level config as DescribeConfigs reports it.
struct topic_config_entry {
    std::string name;
    std::string value;
    bool is_default;
    int8_t type;  // DescribeConfigs config_type: 1 boolean, 2 string, 3 int, 5 long, 7 list
};

struct topic {
    std::string name;
    uuid id{};
    std::map<std::string, std::string> overrides;  // configs set explicitly
    storage::log_config log_cfg;
    std::vector<std::unique_ptr<storage::partition_log>> partitions;

    int32_t partition_count() const { return static_cast<int32_t>(partitions.size()); }
    bool internal() const { return !name.empty() && name[0] == '_' && name.rfind("__", 0) == 0; }
    storage::partition_log* partition(int32_t index) {
        return index >= 0 && index < partition_count() ? partitions[index].get() : nullptr;
    }
};

struct topic_error {
    error_code code;
    std::string message;
};

class topic_registry {
public:
    explicit topic_registry(broker_core& broker);
    ~topic_registry();

    // Loads every topic's metadata and recovers its partition logs.
    status open();
    // Writes indexes and producer state of every partition (clean shutdown).
    void close();

    topic* find(const std::string& name);
    // The topic with this id (Fetch v13+, Produce v13+, Metadata v10+), or nullptr.
    topic* find(const uuid& id);
    const std::map<std::string, std::unique_ptr<topic>>& all() const { return topics_; }

    // Creates a topic; `partitions` <= 0 uses the broker default.
    std::optional<topic_error> create(const std::string& name, int32_t partitions,
                                      const std::map<std::string, std::string>& configs, bool validate_only);
    std::optional<topic_error> remove(const std::string& name);
    std::optional<topic_error> add_partitions(const std::string& name, int32_t new_count, bool validate_only);

    // Replaces the explicitly set configs of `name` with `overrides` after
    // validating them; applied to every partition at once and persisted.
    // INVALID_CONFIG names the bad key; UNKNOWN_TOPIC_OR_PARTITION.
    std::optional<topic_error> alter_configs(const std::string& name, const std::map<std::string, std::string>& overrides,
                                             bool validate_only);

    // Resolves every topic's log config again (the broker defaults changed).
    void reapply_configs();

    // Every config of `t` with its effective value, default or not.
    std::vector<topic_config_entry> describe(const topic& t) const;

    // Applies retention and compaction to every partition.
    void enforce_retention();

    static std::optional<std::string> check_name(const std::string& name);

private:
    result<storage::log_config> resolve(const std::map<std::string, std::string>& overrides) const;
    status persist(const topic& t);
    // Opens partition `index` of `t`; `fresh` wipes a leftover directory first.
    result<std::unique_ptr<storage::partition_log>> open_partition(const topic& t, int32_t index, bool fresh, bool clean);
    broker_core& broker_;
    std::string meta_dir_;
    std::map<std::string, std::unique_ptr<topic>> topics_;
};

}  // namespace millrace::kafka
