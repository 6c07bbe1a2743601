// AddOffsetsToTxn (key 25): the transaction will carry offsets of this
// consumer group (sent with TxnOffsetCommit, visible when it commits).
#include "broker_core.h"
#include "handlers/handler.h"
#include "txn/txn_coordinator.h"

namespace millrace::kafka {

asio::awaitable<void> handle_add_offsets_to_txn(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::add_offsets_to_txn_request>(ctx, in);
    messages::add_offsets_to_txn_response response;
    if (!authorized(ctx, acl_operation::write, resource_type::transactional_id, request.transactional_id)) {
        response.error_code = error_code::transactional_id_authorization_failed;
    } else if (!authorized(ctx, acl_operation::read, resource_type::group, request.group_id)) {
        response.error_code = error_code::group_authorization_failed;
    } else {
        response.error_code = ctx.broker.txns().add_offsets(request.transactional_id, request.producer_id,
                                                            request.producer_epoch, request.group_id, ctx.api_version);
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
