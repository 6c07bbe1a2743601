// OffsetForLeaderEpoch (key 23): every partition has had leader epoch 0 since
// it was created, so the end offset of any epoch >= 0 is the log end.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_offset_for_leader_epoch(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::offset_for_leader_epoch_request>(ctx, in);
    messages::offset_for_leader_epoch_response response;
    for (const auto& rt : request.topics) {
        auto& tr = response.topics.emplace_back();
        tr.topic = rt.topic;
        topic* t = b.topics().find(rt.topic);
        const bool allowed = authorized(ctx, acl_operation::describe, resource_type::topic, rt.topic);
        for (const auto& rp : rt.partitions) {
            auto& pr = tr.partitions.emplace_back();
            pr.partition = rp.partition;
            auto* log = t ? t->partition(rp.partition) : nullptr;
            if (!allowed) {
                pr.error_code = error_code::topic_authorization_failed;
            } else if (log == nullptr) {
                pr.error_code = error_code::unknown_topic_or_partition;
            } else if (rp.current_leader_epoch > 0) {
                pr.error_code = error_code::unknown_leader_epoch;
            }
            bool answered = pr.error_code == error_code::none && rp.leader_epoch >= 0;
            pr.leader_epoch = answered ? 0 : -1;
            pr.end_offset = answered ? log->next_offset() : -1;
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
