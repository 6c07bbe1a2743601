// SaslHandshake (key 17): the client names its SASL mechanism; the reply
// lists the enabled ones. An unsupported mechanism, or a handshake out of
// order, closes the connection after the reply, as Kafka does. Without
// security.enabled there is no SASL: ILLEGAL_SASL_STATE, as on Kafka's
// PLAINTEXT listeners.
#include "auth/security.h"
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_sasl_handshake(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::sasl_handshake_request>(ctx, in);
    messages::sasl_handshake_response response;
    if (ctx.session == nullptr) {
        response.error_code = error_code::illegal_sasl_state;
    } else {
        auto r = ctx.session->handshake(request.mechanism);
        response.error_code = static_cast<error_code>(r.error);
        response.mechanisms = auth::enabled_mechanisms();
        ctx.close_after_response = r.close;
        if (r.error != 0) {
            ctx.broker.log().info("closing connection from {} (client {}): SASL mechanism '{}' is not enabled or out of order",
                                  ctx.client_host, ctx.client_id, request.mechanism);
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
