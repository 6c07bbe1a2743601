// DescribeConfigs (key 32), v0-4: topic configs (every key, default or set)
// and the broker's own settings.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

constexpr int8_t k_resource_topic = 2;
constexpr int8_t k_resource_broker = 4;
constexpr int8_t k_source_dynamic_topic = 1;
constexpr int8_t k_source_static_broker = 4;
constexpr int8_t k_source_default = 5;

std::vector<topic_config_entry> broker_entries(broker_core& b) {
    const auto& c = b.config();
    return {
        {"broker.id", std::to_string(c.node_id), false, 3},
        {"auto.create.topics.enable", c.auto_create_topics ? "true" : "false", false, 1},
        {"num.partitions", std::to_string(c.num_partitions), false, 3},
        {"log.dirs", c.data_dir, false, 2},
        {"log.segment.bytes", std::to_string(c.segment_bytes), false, 3},
        {"log.retention.ms", std::to_string(c.retention_ms), false, 5},
        {"log.retention.bytes", std::to_string(c.retention_bytes), false, 5},
        {"message.max.bytes", std::to_string(c.max_message_bytes), false, 3},
        {"socket.request.max.bytes", std::to_string(c.max_request_bytes), false, 3},
        {"log.flush.interval.ms", std::to_string(c.flush_interval_ms), false, 5},
        {"group.initial.rebalance.delay.ms", std::to_string(c.group_initial_rebalance_delay_ms), false, 3},
        {"group.min.session.timeout.ms", std::to_string(c.group_min_session_timeout_ms), false, 3},
        {"group.max.session.timeout.ms", std::to_string(c.group_max_session_timeout_ms), false, 3},
        {"offsets.retention.minutes", std::to_string(c.offsets_retention_ms / 60'000), false, 3},
        {"default.replication.factor", "1", true, 3},
        {"min.insync.replicas", "1", true, 3},
    };
}

}  // namespace

asio::awaitable<void> handle_describe_configs(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;

    struct resource {
        int8_t type;
        std::string name;
        std::optional<std::vector<std::string>> keys;
    };
    std::vector<resource> resources;
    int32_t count = in.array_length(flex);
    for (int32_t idx = 0; idx < count; ++idx) {
        resource r;
        r.type = in.int8();
        r.name = in.string(flex);
        int32_t keys = in.array_length(flex);
        if (keys >= 0) {
            r.keys.emplace();
            for (int32_t k = 0; k < keys; ++k) r.keys->push_back(in.string(flex));
        }
        in.skip_tags(flex);
        resources.push_back(std::move(r));
    }
    bool include_synonyms = v >= 1 ? in.boolean() : false;
    bool include_documentation = v >= 3 ? in.boolean() : false;
    (void)include_documentation;
    in.skip_tags(flex);

    out.int32(0);  // throttle_time_ms
    out.array_length(static_cast<int32_t>(resources.size()), flex);
    for (const auto& r : resources) {
        error_code code = error_code::none;
        std::string message;
        std::vector<topic_config_entry> entries;
        int8_t set_source = k_source_dynamic_topic;
        if (r.type == k_resource_topic) {
            topic* t = b.topics().find(r.name);
            if (t == nullptr) {
                code = error_code::unknown_topic_or_partition;
                message = fmt::format("topic '{}' does not exist", r.name);
            } else {
                entries = b.topics().describe(*t);
            }
        } else if (r.type == k_resource_broker) {
            if (!r.name.empty() && r.name != std::to_string(b.node_id())) {
                code = error_code::invalid_request;
                message = fmt::format("no broker with id {}", r.name);
            } else {
                entries = broker_entries(b);
                set_source = k_source_static_broker;
            }
        } else {
            code = error_code::invalid_request;
            message = fmt::format("resource type {} is not supported", r.type);
        }
        if (r.keys) {
            std::erase_if(entries, [&](const topic_config_entry& e) {
                return std::find(r.keys->begin(), r.keys->end(), e.name) == r.keys->end();
            });
        }
        out.int16(wire(code));
        if (code != error_code::none) {
            out.nullable_string(message, flex);
        } else {
            out.nullable_string(std::nullopt, flex);
        }
        out.int8(r.type);
        out.string(r.name, flex);
        out.array_length(static_cast<int32_t>(entries.size()), flex);
        for (const auto& e : entries) {
            int8_t source = e.is_default ? k_source_default : set_source;
            out.string(e.name, flex);
            out.nullable_string(e.value, flex);
            out.boolean(r.type == k_resource_broker);  // read_only: broker settings come from millrace's config
            if (v == 0) {
                out.boolean(e.is_default);
            } else {
                out.int8(source);
            }
            out.boolean(false);  // is_sensitive
            if (v >= 1) {
                if (include_synonyms) {
                    out.array_length(1, flex);
                    out.string(e.name, flex);
                    out.nullable_string(e.value, flex);
                    out.int8(source);
                    out.empty_tags(flex);
                } else {
                    out.array_length(0, flex);
                }
            }
            if (v >= 3) {
                out.int8(e.type);
                out.nullable_string(std::nullopt, flex);  // documentation
            }
            out.empty_tags(flex);
        }
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
    co_return;
}

}  // namespace millrace::kafka
