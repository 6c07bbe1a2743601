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
    std::vector<std::pair<std::string, int32_t>> partitions;
    for (const auto& t : request.topics) {
        for (const auto& p : t.partitions) partitions.emplace_back(t.name, p.partition_index);
    }
    auto [group_error, errors] = co_await ctx.broker.groups().delete_offsets(request.group_id, partitions);
    messages::offset_delete_response response;
    response.error_code = group_error;
    if (group_error != error_code::none) {
        encode_response(ctx, out, response);
        co_return;
    }
    size_t idx = 0;
    for (const auto& t : request.topics) {
        auto& tr = response.topics.emplace_back();
        tr.name = t.name;
        topic* found = ctx.broker.topics().find(t.name);
        for (const auto& p : t.partitions) {
            error_code code = idx < errors.size() ? errors[idx] : error_code::none;
            ++idx;
            if (found == nullptr || found->partition(p.partition_index) == nullptr) code = error_code::unknown_topic_or_partition;
            tr.partitions.push_back({p.partition_index, code});
        }
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
