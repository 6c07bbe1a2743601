// AUTH_RESPONSE → AUTH_SUCCESS or ERROR Bad credentials. The token is SASL
// PLAIN: [authzid] 0x00 authcid 0x00 password, checked against the roles of
// system_auth (bcrypt, off the io thread). A failure leaves the connection
// open and unauthenticated, as Cassandra does, so the client may retry or close.
#include "handlers/handler.h"

namespace millrace::cql {

asio::awaitable<handler_reply> handle_auth_response(request_context& rc, reader& in) {
    auto token = in.bytes();
    if (!rc.conn.started || rc.conn.authenticated || !rc.auth.required) {
        co_return error_reply({error_code::protocol_error, "unexpected AUTH_RESPONSE: no authentication is in progress", {}, {}, {}});
    }
    std::string_view t = token ? std::string_view(*token) : std::string_view();
    auto first = t.find('\0');
    auto second = first == std::string_view::npos ? std::string_view::npos : t.find('\0', first + 1);
    if (second == std::string_view::npos) {
        co_return error_reply({error_code::bad_credentials, "Authentication failed: the SASL PLAIN token needs authzid NUL username NUL password", {}, {}, {}});
    }
    std::string user(t.substr(first + 1, second - first - 1));
    std::string password(t.substr(second + 1));
    std::string refused = co_await rc.exec.authenticate(user, std::move(password));
    if (!refused.empty()) co_return error_reply({error_code::bad_credentials, std::move(refused), {}, {}, {}});
    rc.conn.authenticated = true;
    rc.conn.sess.user = std::move(user);
    handler_reply r{opcode::auth_success, {}};
    writer(r.body).bytes(std::nullopt);
    co_return r;
}

}  // namespace millrace::cql
