#include "topics.h"

#include <charconv>
#include <random>

#include "flusher.h"

namespace millrace::kafka {
namespace {

// Topic configs we implement, with Kafka's names. A default of "" means it is
// taken from the broker config.
struct topic_config_spec {
    const char* name;
    int8_t type;  // DescribeConfigs config_type
    const char* fixed_default;
};

constexpr topic_config_spec k_topic_configs[] = {
    {"cleanup.policy", 7, "delete"},
    {"compression.type", 2, "producer"},
    {"delete.retention.ms", 5, "86400000"},
    {"index.interval.bytes", 3, "4096"},
    {"max.message.bytes", 3, ""},
    {"message.timestamp.after.max.ms", 5, "3600000"},
    {"message.timestamp.before.max.ms", 5, "9223372036854775807"},
    {"message.timestamp.type", 2, "CreateTime"},
    {"min.insync.replicas", 3, "1"},
    {"retention.bytes", 5, ""},
    {"retention.ms", 5, ""},
    {"segment.bytes", 3, ""},
    {"segment.ms", 5, ""},
    {"unclean.leader.election.enable", 1, "false"},
};

const topic_config_spec* find_spec(const std::string& name) {
    for (const auto& spec : k_topic_configs) {
        if (name == spec.name) return &spec;
    }
    return nullptr;
}

std::string hex(const uuid& id) {
    std::string out;
    for (uint8_t b : id) out += fmt::format("{:02x}", b);
    return out;
}

bool parse_hex(const std::string& text, uuid& id) {
    if (text.size() != 32) return false;
    for (size_t idx = 0; idx < 16; ++idx) {
        auto [end, ec] = std::from_chars(text.data() + 2 * idx, text.data() + 2 * idx + 2, id[idx], 16);
        if (ec != std::errc()) return false;
    }
    return true;
}

uuid random_uuid() {
    static std::random_device device;
    uuid id;
    for (auto& b : id) b = static_cast<uint8_t>(device());
    id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x40);
    id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);
    return id;
}

result<int64_t> parse_long(const std::string& name, const std::string& value) {
    int64_t out = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc() || end != value.data() + value.size()) {
        return make_error(errc::invalid_argument, "config {}: '{}' is not a number", name, value);
    }
    return out;
}

}  // namespace

topic_registry::topic_registry(broker_core& broker) : broker_(broker), meta_dir_(broker.config().data_dir + "/.topics") {}

topic_registry::~topic_registry() = default;

std::optional<std::string> topic_registry::check_name(const std::string& name) {
    if (name.empty()) return "topic name is empty";
    if (name == "." || name == "..") return fmt::format("topic name '{}' is not allowed", name);
    if (name.size() > 249) return fmt::format("topic name is {} characters, the limit is 249", name.size());
    for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
            return fmt::format("topic name '{}' contains '{}'; use ASCII letters, digits, '.', '_' and '-'", name, c);
        }
    }
    return std::nullopt;
}

result<storage::log_config> topic_registry::resolve(const std::map<std::string, std::string>& overrides) const {
    const auto& b = broker_.config();
    storage::log_config cfg;
    cfg.segment_bytes = b.segment_bytes;
    cfg.segment_ms = b.segment_ms;
    cfg.retention_ms = b.retention_ms;
    cfg.retention_bytes = b.retention_bytes;
    cfg.max_message_bytes = b.max_message_bytes;
    for (const auto& [name, value] : overrides) {
        const auto* spec = find_spec(name);
        if (spec == nullptr) return make_error(errc::invalid_argument, "unknown topic config '{}'", name);
        if (spec->type == 3 || spec->type == 5) {
            auto number = parse_long(name, value);
            if (!number) return number.err();
            if (name == "segment.bytes") {
                if (*number < 1024) return make_error(errc::invalid_argument, "segment.bytes {} is below 1024", *number);
                cfg.segment_bytes = *number;
            } else if (name == "segment.ms") {
                if (*number < 1) return make_error(errc::invalid_argument, "segment.ms must be positive");
                cfg.segment_ms = *number;
            } else if (name == "retention.ms") {
                cfg.retention_ms = *number;
            } else if (name == "retention.bytes") {
                cfg.retention_bytes = *number;
            } else if (name == "max.message.bytes") {
                if (*number < 0) return make_error(errc::invalid_argument, "max.message.bytes must not be negative");
                cfg.max_message_bytes = *number;
            } else if (name == "delete.retention.ms") {
                if (*number < 0) return make_error(errc::invalid_argument, "delete.retention.ms must not be negative");
                cfg.delete_retention_ms = *number;
            } else if (name == "message.timestamp.before.max.ms" || name == "message.timestamp.after.max.ms") {
                if (*number < 0) return make_error(errc::invalid_argument, "{} must not be negative", name);
                (name == "message.timestamp.before.max.ms" ? cfg.timestamp_before_max_ms : cfg.timestamp_after_max_ms) = *number;
            } else if (name == "index.interval.bytes") {
                cfg.index_interval_bytes = std::max<int64_t>(*number, 0);
            } else if (name == "min.insync.replicas" && *number != 1) {
                return make_error(errc::invalid_argument, "min.insync.replicas must be 1 on a single-node cluster");
            }
        } else if (name == "cleanup.policy") {
            if (value == "delete") {
                cfg.compact = false;
                cfg.delete_retention = true;
            } else if (value == "compact") {
                cfg.compact = true;
                cfg.delete_retention = false;
            } else if (value == "compact,delete" || value == "delete,compact") {
                cfg.compact = true;
                cfg.delete_retention = true;
            } else {
                return make_error(errc::invalid_argument, "cleanup.policy '{}' is not delete, compact or compact,delete", value);
            }
        } else if (name == "compression.type") {
            if (value != "producer") {
                return make_error(errc::invalid_argument,
                                  "compression.type '{}' is not supported (only producer: batches are stored as sent)", value);
            }
        } else if (name == "message.timestamp.type") {
            if (value != "CreateTime" && value != "LogAppendTime") {
                return make_error(errc::invalid_argument, "message.timestamp.type '{}' is not CreateTime or LogAppendTime", value);
            }
            cfg.log_append_time = value == "LogAppendTime";
        } else if (name == "unclean.leader.election.enable") {
            if (value != "true" && value != "false") return make_error(errc::invalid_argument, "{} must be true or false", name);
        }
    }
    return cfg;
}

std::vector<topic_config_entry> topic_registry::describe(const topic& t) const {
    std::vector<topic_config_entry> out;
    for (const auto& spec : k_topic_configs) {
        auto it = t.overrides.find(spec.name);
        std::string value;
        if (it != t.overrides.end()) {
            value = it->second;
        } else if (*spec.fixed_default != '\0') {
            value = spec.fixed_default;
        } else {
            std::string name = spec.name;
            value = name == "max.message.bytes" ? std::to_string(t.log_cfg.max_message_bytes)
                    : name == "retention.bytes" ? std::to_string(t.log_cfg.retention_bytes)
                    : name == "retention.ms"    ? std::to_string(t.log_cfg.retention_ms)
                    : name == "segment.bytes"   ? std::to_string(t.log_cfg.segment_bytes)
                                                : std::to_string(t.log_cfg.segment_ms);
        }
        out.push_back({spec.name, value, it == t.overrides.end(), spec.type});
    }
    return out;
}

status topic_registry::persist(const topic& t) {
    std::string text = fmt::format("id={}\npartitions={}\n", hex(t.id), t.partitions.size());
    for (const auto& [name, value] : t.overrides) text += fmt::format("config.{}={}\n", name, value);
    return write_file_atomic(broker_.fs(), meta_dir_ + "/" + t.name + ".properties", text);
}

status topic_registry::open() {
    auto& fs = broker_.fs();
    if (auto st = fs.create_directories(meta_dir_); !st) return st;
    bool clean = fs.exists(broker_.config().data_dir + "/.clean_shutdown");
    auto names = fs.list(meta_dir_);
    if (!names) return names.err();
    for (const auto& file_name : *names) {
        const std::string suffix = ".properties";
        if (file_name.size() <= suffix.size() || file_name.compare(file_name.size() - suffix.size(), suffix.size(), suffix) != 0) {
            continue;
        }
        auto text = read_file(fs, meta_dir_ + "/" + file_name);
        if (!text) return text.err();
        auto t = std::make_unique<topic>();
        t->name = file_name.substr(0, file_name.size() - suffix.size());
        int64_t partitions = 0;
        for (const auto& [key, value] : parse_properties(*text)) {
            if (key == "id") {
                if (!parse_hex(value, t->id)) return make_error(errc::corruption, "{}/{}: bad topic id '{}'", meta_dir_, file_name, value);
            } else if (key == "partitions") {
                auto n = parse_long(key, value);
                if (!n) return n.err().with_context(meta_dir_ + "/" + file_name);
                partitions = *n;
            } else if (key.rfind("config.", 0) == 0) {
                t->overrides[key.substr(7)] = value;
            }
        }
        auto cfg = resolve(t->overrides);
        if (!cfg) return cfg.err().with_context(meta_dir_ + "/" + file_name);
        t->log_cfg = *cfg;
        for (int64_t idx = 0; idx < partitions; ++idx) {
            auto log = open_partition(*t, static_cast<int32_t>(idx), /*fresh=*/false, clean);
            if (!log) return log.err();
            if ((*log)->truncated_on_open() > 0) {
                broker_.log().warn("recovery cut {} bytes of torn or corrupt tail (data not yet fsynced at the crash) from {}",
                                   (*log)->truncated_on_open(), (*log)->dir());
            }
            t->partitions.push_back(std::move(*log));
        }
        topics_.emplace(t->name, std::move(t));
    }
    return {};
}

void topic_registry::close() {
    for (auto& [name, t] : topics_) {
        for (auto& p : t->partitions) {
            if (auto st = p->close(); !st) broker_.log().error("closing {}: {}", p->dir(), st.err().message());
        }
    }
}

result<std::unique_ptr<storage::partition_log>> topic_registry::open_partition(const topic& t, int32_t index, bool fresh,
                                                                               bool clean) {
    auto log = std::make_unique<storage::partition_log>(
        broker_.fs(), broker_.clock(), fmt::format("{}/{}-{}", broker_.config().data_dir, t.name, index), t.log_cfg);
    // A new partition never inherits a leftover directory of a topic deleted before a crash.
    if (fresh && broker_.fs().exists(log->dir())) (void)broker_.fs().remove_all(log->dir());
    if (auto st = log->open(clean); !st) return st.err();
    return log;
}

topic* topic_registry::find(const std::string& name) {
    auto it = topics_.find(name);
    return it == topics_.end() ? nullptr : it->second.get();
}

std::optional<topic_error> topic_registry::alter_configs(const std::string& name,
                                                        const std::map<std::string, std::string>& overrides,
                                                        bool validate_only) {
    topic* t = find(name);
    if (t == nullptr) return topic_error{error_code::unknown_topic_or_partition, fmt::format("topic '{}' does not exist", name)};
    auto cfg = resolve(overrides);
    if (!cfg) return topic_error{error_code::invalid_config, cfg.err().message()};
    if (validate_only) return std::nullopt;
    auto previous = t->overrides;
    t->overrides = overrides;
    if (auto st = persist(*t); !st) {
        t->overrides = std::move(previous);
        return topic_error{error_code::kafka_storage_error, st.err().message()};
    }
    t->log_cfg = *cfg;
    for (auto& log : t->partitions) log->set_config(*cfg);
    return std::nullopt;
}

void topic_registry::reapply_configs() {
    for (auto& [name, t] : topics_) {
        auto cfg = resolve(t->overrides);
        if (!cfg) continue;  // validated when set; unchanged by broker defaults
        t->log_cfg = *cfg;
        for (auto& log : t->partitions) log->set_config(*cfg);
    }
}

topic* topic_registry::find(const uuid& id) {
    if (id == uuid{}) return nullptr;
    for (auto& [name, t] : topics_) {
        if (t->id == id) return t.get();
    }
    return nullptr;
}

std::optional<topic_error> topic_registry::create(const std::string& name, int32_t partitions,
                                                  const std::map<std::string, std::string>& configs, bool validate_only) {
    if (auto bad = check_name(name)) return topic_error{error_code::invalid_topic_exception, *bad};
    if (topics_.contains(name)) return topic_error{error_code::topic_already_exists, fmt::format("topic '{}' already exists", name)};
    if (partitions <= 0) partitions = broker_.config().num_partitions;
    if (partitions > 100'000) return topic_error{error_code::invalid_partitions, fmt::format("{} partitions is too many", partitions)};
    auto cfg = resolve(configs);
    if (!cfg) return topic_error{error_code::invalid_config, cfg.err().message()};
    if (validate_only) return std::nullopt;
    auto t = std::make_unique<topic>();
    t->name = name;
    t->id = random_uuid();
    t->overrides = configs;
    t->log_cfg = *cfg;
    for (int32_t idx = 0; idx < partitions; ++idx) {
        auto log = open_partition(*t, idx, /*fresh=*/true, /*clean=*/true);
        if (!log) return topic_error{error_code::kafka_storage_error, log.err().message()};
        t->partitions.push_back(std::move(*log));
    }
    if (auto st = persist(*t); !st) return topic_error{error_code::kafka_storage_error, st.err().message()};
    broker_.log().info("created topic {} with {} partition(s)", name, partitions);
    topics_.emplace(name, std::move(t));
    return std::nullopt;
}

std::optional<topic_error> topic_registry::remove(const std::string& name) {
    auto it = topics_.find(name);
    if (it == topics_.end()) {
        return topic_error{error_code::unknown_topic_or_partition, fmt::format("topic '{}' does not exist", name)};
    }
    auto& fs = broker_.fs();
    // The metadata goes first: a crash after it leaves orphan partition
    // directories, which a later create of the same name wipes.
    if (auto st = fs.remove(meta_dir_ + "/" + name + ".properties"); !st) {
        return topic_error{error_code::kafka_storage_error, st.err().message()};
    }
    (void)fs.sync_dir(meta_dir_);
    for (auto& p : it->second->partitions) {
        broker_.flush().forget(*p);
        if (auto st = p->destroy(); !st) broker_.log().warn("deleting {}: {}", p->dir(), st.err().message());
    }
    topics_.erase(it);
    broker_.log().info("deleted topic {}", name);
    return std::nullopt;
}

std::optional<topic_error> topic_registry::add_partitions(const std::string& name, int32_t new_count, bool validate_only) {
    topic* t = find(name);
    if (t == nullptr) return topic_error{error_code::unknown_topic_or_partition, fmt::format("topic '{}' does not exist", name)};
    if (new_count <= t->partition_count()) {
        return topic_error{error_code::invalid_partitions,
                           fmt::format("topic '{}' has {} partitions; the new count {} must be larger", name, t->partition_count(), new_count)};
    }
    if (new_count > 100'000) return topic_error{error_code::invalid_partitions, "too many partitions"};
    if (validate_only) return std::nullopt;
    for (int32_t idx = t->partition_count(); idx < new_count; ++idx) {
        auto log = open_partition(*t, idx, /*fresh=*/true, /*clean=*/true);
        if (!log) return topic_error{error_code::kafka_storage_error, log.err().message()};
        t->partitions.push_back(std::move(*log));
    }
    if (auto st = persist(*t); !st) return topic_error{error_code::kafka_storage_error, st.err().message()};
    return std::nullopt;
}

void topic_registry::enforce_retention() {
    for (auto& [name, t] : topics_) {
        for (auto& p : t->partitions) {
            if (int deleted = p->enforce_retention(); deleted > 0) {
                broker_.log().info("retention deleted {} segment(s) of {}", deleted, p->dir());
            }
            auto compacted = p->compact();
            if (!compacted) {
                broker_.log().error("compacting {}: {}", p->dir(), compacted.err().message());
            } else if (compacted->segments > 0) {
                broker_.log().info("compacted {} segment(s) of {}: {} records kept, {} removed", compacted->segments,
                                   p->dir(), compacted->records_kept, compacted->records_removed);
            }
        }
    }
}

}  // namespace millrace::kafka
