// ConsumerGroupHeartbeat (key 68, KIP-848): joins, heartbeats, reconciles and
// leaves a member of a consumer group; the coordinator computes assignments
// server-side. ACLs: READ on the group, and DESCRIBE on the topics of a
// subscription (Kafka checks topics when a regex is used; names are checked
// by the client's Metadata requests).
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

// The broker's topics as the consumer-group logic sees them.
topic_snapshot snapshot_topics(topic_registry& topics) {
    topic_snapshot out;
    for (const auto& [name, t] : topics.all()) {
        if (t->internal()) continue;
        out.emplace(name, topic_info{t->id, t->partition_count()});
    }
    return out;
}

}  // namespace

asio::awaitable<void> handle_consumer_group_heartbeat(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::consumer_group_heartbeat_request>(ctx, in);
    messages::consumer_group_heartbeat_response response;
    if (!authorized(ctx, acl_operation::read, resource_type::group, request.group_id)) {
        response.error_code = error_code::group_authorization_failed;
        encode_response(ctx, out, response);
        co_return;
    }
    consumer_heartbeat_request heartbeat;
    heartbeat.group_id = std::move(request.group_id);
    heartbeat.member_id = std::move(request.member_id);
    heartbeat.member_epoch = request.member_epoch;
    heartbeat.instance_id = std::move(request.instance_id);
    heartbeat.rack_id = std::move(request.rack_id);
    heartbeat.rebalance_timeout_ms = request.rebalance_timeout_ms;
    heartbeat.subscribed_names = std::move(request.subscribed_topic_names);
    heartbeat.subscribed_regex = std::move(request.subscribed_topic_regex);
    heartbeat.server_assignor = std::move(request.server_assignor);
    if (request.topic_partitions) {
        heartbeat.owned.emplace();
        for (const auto& t : *request.topic_partitions) {
            (*heartbeat.owned)[t.topic_id].insert(t.partitions.begin(), t.partitions.end());
        }
    }
    heartbeat.client_id = ctx.client_id;
    heartbeat.client_host = ctx.client_host;
    heartbeat.api_version = ctx.api_version;
    auto result = ctx.broker.groups().consumer_group_heartbeat(heartbeat, snapshot_topics(ctx.broker.topics()));
    response.error_code = result.error;
    response.error_message = std::move(result.error_message);
    response.member_id = std::move(result.member_id);
    response.member_epoch = result.member_epoch;
    response.heartbeat_interval_ms = result.heartbeat_interval_ms;
    if (result.assignment) {
        auto& assignment = response.assignment.emplace();
        for (const auto& [topic_id, partitions] : *result.assignment) {
            if (partitions.empty()) continue;
            assignment.topic_partitions.push_back({topic_id, std::vector<int32_t>(partitions.begin(), partitions.end())});
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
