// ConsumerGroupDescribe (key 69, KIP-848): epochs, assignor, and each member's
// subscription, current and target assignment. A classic group or an unknown
// id answers GROUP_ID_NOT_FOUND (the admin client then asks DescribeGroups).
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

// READ (3), DELETE (6), DESCRIBE (8) and DESCRIBE_CONFIGS (10)... as bits of Kafka's AclOperation codes.
constexpr int32_t k_group_operations = (1 << 3) | (1 << 6) | (1 << 8);

using described = messages::consumer_group_describe_response::described_group;

described::member::assignment_t to_assignment(topic_registry& topics, const partition_map& partitions) {
    described::member::assignment_t out;
    for (const auto& [topic_id, set] : partitions) {
        if (set.empty()) continue;
        topic* t = topics.find(topic_id);
        out.topic_partitions.push_back(
            {topic_id, t != nullptr ? t->name : std::string(), std::vector<int32_t>(set.begin(), set.end())});
    }
    return out;
}

}  // namespace

asio::awaitable<void> handle_consumer_group_describe(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::consumer_group_describe_request>(ctx, in);
    messages::consumer_group_describe_response response;
    auto& groups = ctx.broker.groups();
    for (const auto& group_id : request.group_ids) {
        described d;
        d.group_id = group_id;
        if (!authorized(ctx, acl_operation::describe, resource_type::group, group_id)) {
            d.error_code = error_code::group_authorization_failed;
            response.groups.push_back(std::move(d));
            continue;
        }
        if (groups.closed()) {
            d.error_code = error_code::not_coordinator;
            response.groups.push_back(std::move(d));
            continue;
        }
        const consumer_group* g = groups.find_consumer_group(group_id);
        if (g == nullptr) {
            d.error_code = error_code::group_id_not_found;
            d.group_state = "Dead";
            d.error_message = groups.state_of(group_id) ? fmt::format("Group {} is not a consumer group.", group_id)
                                                        : fmt::format("Group {} not found.", group_id);
            response.groups.push_back(std::move(d));
            continue;
        }
        d.group_state = std::string(to_string(g->state()));
        d.group_epoch = g->group_epoch;
        d.assignment_epoch = g->assignment_epoch;
        d.assignor_name = g->assignor;
        for (const auto& [id, m] : g->members) {
            auto& dm = d.members.emplace_back();
            dm.member_id = id;
            dm.instance_id = m.instance_id;
            dm.rack_id = m.rack_id;
            dm.member_epoch = m.member_epoch;
            dm.client_id = m.client_id;
            dm.client_host = m.client_host;
            dm.subscribed_topic_names = m.subscribed_names;
            dm.subscribed_topic_regex = m.subscribed_regex;
            dm.assignment = to_assignment(ctx.broker.topics(), m.assigned);
            auto target = g->target.find(id);
            if (target != g->target.end()) dm.target_assignment = to_assignment(ctx.broker.topics(), target->second);
            dm.member_type = 1;  // a consumer-protocol member
        }
        if (request.include_authorized_operations) d.authorized_operations = k_group_operations;
        response.groups.push_back(std::move(d));
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
