// InitProducerId (key 22): ids for idempotent producers; with a
// transactional id the transaction coordinator's id and bumped epoch, which
// fences older producers of that id (and aborts their open transaction).
#include "broker_core.h"
#include "handlers/handler.h"
#include "txn/txn_coordinator.h"

namespace millrace::kafka {

asio::awaitable<void> handle_init_producer_id(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::init_producer_id_request>(ctx, in);
    messages::init_producer_id_response response;
    response.producer_id = -1;
    response.producer_epoch = -1;
    const int64_t existing_id = request.producer_id;
    const int16_t existing_epoch = request.producer_epoch;
    if (request.transactional_id && !authorized(ctx, acl_operation::write, resource_type::transactional_id,
                                                *request.transactional_id)) {
        response.error_code = error_code::transactional_id_authorization_failed;
    } else if (request.transactional_id) {
        auto init = b.txns().init_producer_id(*request.transactional_id, request.transaction_timeout_ms, existing_id,
                                              existing_epoch, ctx.api_version);
        response.error_code = init.error;
        response.producer_id = init.producer_id;
        response.producer_epoch = init.producer_epoch;
    } else if (!authorized_cluster(ctx, acl_operation::idempotent_write) &&
               !authorized_any(ctx, acl_operation::write, resource_type::topic)) {
        // Kafka: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic.
        response.error_code = error_code::cluster_authorization_failed;
    } else if (existing_id >= 0 && existing_epoch >= 0 && existing_epoch < INT16_MAX - 1) {
        // An idempotent producer bumping its epoch keeps its id (KIP-360).
        response.producer_id = existing_id;
        response.producer_epoch = static_cast<int16_t>(existing_epoch + 1);
    } else {
        auto id = b.next_producer_id();
        if (!id) {
            b.log().error("allocating a producer id: {}", id.err().message());
            response.error_code = error_code::kafka_storage_error;
        } else {
            response.producer_id = *id;
            response.producer_epoch = 0;
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
