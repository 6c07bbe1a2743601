// DescribeTransactions (key 65): the coordinator's view of transactional ids
// (kafka-transactions describe).
#include "broker_core.h"
#include "handlers/handler.h"
#include "txn/txn_coordinator.h"

namespace millrace::kafka {

asio::awaitable<void> handle_describe_transactions(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::describe_transactions_request>(ctx, in);
    messages::describe_transactions_response response;
    for (const auto& id : request.transactional_ids) {
        auto& state = response.transaction_states.emplace_back();
        state.transactional_id = id;
        state.transaction_state = "";
        state.producer_id = -1;
        state.producer_epoch = -1;
        state.transaction_start_time_ms = -1;
        if (!authorized(ctx, acl_operation::describe, resource_type::transactional_id, id)) {
            state.error_code = error_code::transactional_id_authorization_failed;
            continue;
        }
        auto found = ctx.broker.txns().describe(id);
        if (!found) {
            state.error_code = error_code::transactional_id_not_found;
            continue;
        }
        state.transaction_state = found->state;
        state.transaction_timeout_ms = found->timeout_ms;
        state.transaction_start_time_ms = found->start_ms;
        state.producer_id = found->producer_id;
        state.producer_epoch = found->producer_epoch;
        for (auto& [topic, partitions] : found->partitions) {
            auto& t = state.topics.emplace_back();
            t.topic = topic;
            t.partitions = partitions;
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
