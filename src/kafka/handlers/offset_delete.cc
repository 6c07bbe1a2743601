// OffsetDelete (key 47): removes a group's committed offsets of some
// partitions (kafka-consumer-groups --delete-offsets). While the group has
// members, the topics they subscribe to are refused per partition with
// GROUP_SUBSCRIBED_TO_TOPIC and the others deleted; a group-level error
// answers no topics, as Kafka does.
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_offset_delete(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::offset_delete_request>(ctx, in);
    if (!authorized(ctx, acl_operation::remove, resource_type::group, request.group_id)) {
        messages::offset_delete_response denied;
        denied.error_code = error_code::group_authorization_failed;
        encode_response(ctx, out, denied);
        co_return;
    }
    // ACLs: READ on each topic; partitions of the others are left alone.
    std::vector<bool> topic_allowed;
    for (const auto& t : request.topics) {
        topic_allowed.push_back(authorized(ctx, acl_operation::read, resource_type::topic, t.name));
    }
    std::vector<std::pair<std::string, int32_t>> partitions;
    for (size_t topic_idx = 0; topic_idx < request.topics.size(); ++topic_idx) {
        if (!topic_allowed[topic_idx]) continue;
        for (const auto& p : request.topics[topic_idx].partitions) partitions.emplace_back(request.topics[topic_idx].name, p.partition_index);
    }
    auto [group_error, errors] = co_await ctx.broker.groups().delete_offsets(request.group_id, partitions);
    messages::offset_delete_response response;
    response.error_code = group_error;
    if (group_error != error_code::none) {
        encode_response(ctx, out, response);
        co_return;
    }
    size_t idx = 0;
    for (size_t topic_idx = 0; topic_idx < request.topics.size(); ++topic_idx) {
        const auto& t = request.topics[topic_idx];
        auto& tr = response.topics.emplace_back();
        tr.name = t.name;
        topic* found = ctx.broker.topics().find(t.name);
        for (const auto& p : t.partitions) {
            if (!topic_allowed[topic_idx]) {
                tr.partitions.push_back({p.partition_index, error_code::topic_authorization_failed});
                continue;
            }
            error_code code = idx < errors.size() ? errors[idx] : error_code::none;
            ++idx;
            if (found == nullptr || found->partition(p.partition_index) == nullptr) code = error_code::unknown_topic_or_partition;
            tr.partitions.push_back({p.partition_index, code});
        }
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
