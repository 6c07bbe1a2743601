// DescribeProducers (key 61): the idempotent and transactional producers
// each partition remembers, with the first offset of a producer's open
// transaction.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_describe_producers(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::describe_producers_request>(ctx, in);
    messages::describe_producers_response response;
    for (const auto& rt : request.topics) {
        auto& tr = response.topics.emplace_back();
        tr.name = rt.name;
        topic* t = b.topics().find(rt.name);
        const bool allowed = authorized(ctx, acl_operation::read, resource_type::topic, rt.name);
        for (int32_t index : rt.partition_indexes) {
            auto& pr = tr.partitions.emplace_back();
            pr.partition_index = index;
            auto* log = t ? t->partition(index) : nullptr;
            if (!allowed) {
                pr.error_code = error_code::topic_authorization_failed;
                continue;
            }
            if (log == nullptr) {
                pr.error_code = error_code::unknown_topic_or_partition;
                continue;
            }
            for (const auto& p : log->producers()) {
                auto& state = pr.active_producers.emplace_back();
                state.producer_id = p.producer_id;
                state.producer_epoch = p.epoch;
                state.last_sequence = p.last_sequence;
                state.coordinator_epoch = -1;
                state.current_txn_start_offset = log->open_txn_start(p.producer_id);
            }
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
