// InitProducerId (key 22), v0-4: ids for idempotent producers. Transactional
// ids are refused: transactions are not implemented.
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_init_producer_id(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;
    auto transactional_id = in.nullable_string(flex);
    in.int32();  // transaction_timeout_ms
    int64_t existing_id = -1;
    int16_t existing_epoch = -1;
    if (v >= 3) {
        existing_id = in.int64();
        existing_epoch = in.int16();
    }
    in.skip_tags(flex);

    error_code code = error_code::none;
    int64_t producer_id = -1;
    int16_t epoch = -1;
    if (transactional_id) {
        code = static_cast<error_code>(53);  // TRANSACTIONAL_ID_AUTHORIZATION_FAILED: transactions are not offered
    } else if (existing_id >= 0 && existing_epoch >= 0 && existing_epoch < INT16_MAX - 1) {
        // An idempotent producer bumping its epoch keeps its id (KIP-360).
        producer_id = existing_id;
        epoch = static_cast<int16_t>(existing_epoch + 1);
    } else {
        auto id = b.next_producer_id();
        if (!id) {
            b.log().error("allocating a producer id: {}", id.err().message());
            code = error_code::kafka_storage_error;
        } else {
            producer_id = *id;
            epoch = 0;
        }
    }
    out.int32(0);  // throttle_time_ms
    out.int16(wire(code));
    out.int64(producer_id);
    out.int16(epoch);
    out.empty_tags(flex);
    co_return;
}

}  // namespace millrace::kafka
