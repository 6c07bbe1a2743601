// CreateTopics (key 19). Replication factor must be 1 or -1 (default); manual
// replica assignments may only name this node.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

constexpr int8_t k_source_dynamic_topic = 1;
constexpr int8_t k_source_default = 5;

}  // namespace

asio::awaitable<void> handle_create_topics(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::create_topics_request>(ctx, in);
    messages::create_topics_response response;
    // ACLs: CREATE on the cluster, or else on each topic.
    const bool cluster_create = authorized_cluster(ctx, acl_operation::create);
    for (const auto& rt : request.topics) {
        bool assignment_ok = true;
        for (const auto& a : rt.assignments) {
            assignment_ok &= a.broker_ids.size() == 1 && a.broker_ids.front() == b.node_id();
        }
        const auto assignments = static_cast<int32_t>(rt.assignments.size());
        std::map<std::string, std::string> configs;
        for (const auto& c : rt.configs) {
            if (c.value) configs[c.name] = *c.value;
        }
        std::optional<topic_error> err;
        if (!cluster_create && !authorized(ctx, acl_operation::create, resource_type::topic, rt.name)) {
            err = topic_error{error_code::topic_authorization_failed, "Authorization failed."};
        } else if (rt.replication_factor != -1 && rt.replication_factor != 1) {
            err = topic_error{error_code::invalid_replication_factor,
                              fmt::format("replication factor {} is larger than the 1 available broker", rt.replication_factor)};
        } else if (assignments > 0 && (!assignment_ok || rt.num_partitions != -1)) {
            err = topic_error{error_code::invalid_replica_assignment, "replica assignments may only name this broker"};
        } else {
            err = b.topics().create(rt.name, assignments > 0 ? assignments : rt.num_partitions, configs, request.validate_only);
        }
        topic* t = err ? nullptr : b.topics().find(rt.name);
        auto& result = response.topics.emplace_back();
        result.name = rt.name;
        result.topic_id = t ? t->id : uuid{};
        result.error_code = err ? err->code : error_code::none;
        if (err) result.error_message = err->message;
        result.num_partitions = t ? t->partition_count() : -1;
        result.replication_factor = t ? 1 : -1;
        if (t) {
            result.configs.emplace();
            for (const auto& e : b.topics().describe(*t)) {
                result.configs->push_back({e.name, e.value, false, e.is_default ? k_source_default : k_source_dynamic_topic, false});
            }
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
