// EndTxn (key 26): commits or aborts the producer's transaction. Answers once
// the markers are in every partition of the transaction (and, on commit, its
// offsets are in their groups).
#include "broker_core.h"
#include "handlers/handler.h"
#include "txn/txn_coordinator.h"

namespace millrace::kafka {

asio::awaitable<void> handle_end_txn(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::end_txn_request>(ctx, in);
    messages::end_txn_response response;
    if (!authorized(ctx, acl_operation::write, resource_type::transactional_id, request.transactional_id)) {
        response.error_code = error_code::transactional_id_authorization_failed;
    } else {
        response.error_code = co_await ctx.broker.txns().end_txn(request.transactional_id, request.producer_id,
                                                                 request.producer_epoch, request.committed,
                                                                 ctx.api_version);
    }
    // v5 (transaction.version 2) tells the producer its next epoch; with
    // version 1 the epoch stays.
    if (response.error_code == error_code::none) {
        response.producer_id = request.producer_id;
        response.producer_epoch = request.producer_epoch;
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
