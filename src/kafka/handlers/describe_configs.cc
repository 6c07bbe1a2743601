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
constexpr int8_t k_source_dynamic_broker = 2;
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
    auto& b = ctx.broker;
    auto request = decode_request<messages::describe_configs_request>(ctx, in);
    messages::describe_configs_response response;
    for (const auto& r : request.resources) {
        auto& result = response.results.emplace_back();
        result.resource_type = r.resource_type;
        result.resource_name = r.resource_name;
        std::vector<topic_config_entry> entries;
        int8_t set_source = k_source_dynamic_topic;
        // ACLs: DESCRIBE_CONFIGS on the topic, or on the cluster for the broker.
        if (r.resource_type == k_resource_topic &&
            !authorized(ctx, acl_operation::describe_configs, resource_type::topic, r.resource_name)) {
            result.error_code = error_code::topic_authorization_failed;
        } else if (r.resource_type == k_resource_broker && !authorized_cluster(ctx, acl_operation::describe_configs)) {
            result.error_code = error_code::cluster_authorization_failed;
        } else if (r.resource_type == k_resource_topic) {
            topic* t = b.topics().find(r.resource_name);
            if (t == nullptr) {
                result.error_code = error_code::unknown_topic_or_partition;
                result.error_message = fmt::format("topic '{}' does not exist", r.resource_name);
            } else {
                entries = b.topics().describe(*t);
            }
        } else if (r.resource_type == k_resource_broker) {
            if (!r.resource_name.empty() && r.resource_name != std::to_string(b.node_id())) {
                result.error_code = error_code::invalid_request;
                result.error_message = fmt::format("no broker with id {}", r.resource_name);
            } else {
                entries = broker_entries(b);
                set_source = k_source_static_broker;
            }
        } else {
            result.error_code = error_code::invalid_request;
            result.error_message = fmt::format("resource type {} is not supported", r.resource_type);
        }
        if (r.configuration_keys) {
            std::erase_if(entries, [&](const topic_config_entry& e) {
                return std::find(r.configuration_keys->begin(), r.configuration_keys->end(), e.name) ==
                       r.configuration_keys->end();
            });
        }
        for (const auto& e : entries) {
            const bool dynamic = r.resource_type == k_resource_broker && b.dynamic_configs().contains(e.name);
            int8_t source = dynamic ? k_source_dynamic_broker : e.is_default ? k_source_default : set_source;
            auto& c = result.configs.emplace_back();
            c.name = e.name;
            c.value = e.value;
            // Broker settings come from millrace's config; only the dynamic ones may change.
            c.read_only = r.resource_type == k_resource_broker && !dynamic &&
                          e.name != "log.retention.ms" && e.name != "log.retention.bytes" &&
                          e.name != "log.segment.bytes" && e.name != "message.max.bytes";
            c.is_default = e.is_default;                         // v0
            c.config_source = source;                            // v1+
            if (request.include_synonyms) c.synonyms.push_back({e.name, e.value, source});
            c.config_type = e.type;
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
