// SaslAuthenticate (key 36): one SASL token each way (PLAIN in one round,
// SCRAM in two). A failure answers SASL_AUTHENTICATION_FAILED with Kafka's
// message and closes the connection. The final reply carries
// session_lifetime_ms (connections.max.reauth.ms; KIP-368): the client must
// re-authenticate before it ends or the broker closes the connection at its
// next request.
#include <chrono>

#include "auth/security.h"
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_sasl_authenticate(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::sasl_authenticate_request>(ctx, in);
    messages::sasl_authenticate_response response;
    if (ctx.session == nullptr) {
        response.error_code = error_code::illegal_sasl_state;
        response.error_message = "SaslAuthenticate request received on a connection without SASL (security.enabled is off)";
    } else {
        bool was_authenticated = ctx.session->authenticated();
        auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          ctx.broker.clock().mono_now().time_since_epoch()).count();
        auto r = ctx.session->authenticate(request.auth_bytes, now_ms);
        response.error_code = static_cast<error_code>(r.error);
        response.error_message = r.message;
        response.auth_bytes = std::move(r.bytes);
        response.session_lifetime_ms = r.session_lifetime_ms;
        ctx.close_after_response = r.close;
        if (r.error != 0) {
            ctx.broker.log().info("closing connection from {} (client {}): {}", ctx.client_host, ctx.client_id,
                                  r.message.value_or("SASL authentication failed"));
        } else if (ctx.session->authenticated() && !was_authenticated) {
            ctx.broker.log().debug("connection from {} (client {}) authenticated as {}", ctx.client_host, ctx.client_id,
                                   ctx.session->principal());
        }
        if (r.error == 0 && r.repeated_scram_nonce) {
            // Accepted (as Kafka 3.8.1-3.9 did), but worth knowing: that client cannot log in to Kafka 4.
            ctx.broker.log().info("connection from {} (client {}) logged in with a SCRAM client-final message that "
                                  "repeats its nonce (librdkafka before 2.6.1), which Apache Kafka 4 refuses",
                                  ctx.client_host, ctx.client_id);
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
