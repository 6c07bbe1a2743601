// AUTH_RESPONSE → AUTH_SUCCESS or ERROR Bad credentials. The token is SASL
// PLAIN: [authzid] 0x00 authcid 0x00 password. Credentials are compared in
// constant time; a failure leaves the connection open and unauthenticated, as
// Cassandra does, so the client may retry or close.
#include <algorithm>

#include "handlers/handler.h"

namespace millrace::cql {
namespace {

bool equal_constant_time(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t idx = 0; idx < std::max(a.size(), b.size()); ++idx) {
        unsigned char x = idx < a.size() ? static_cast<unsigned char>(a[idx]) : 0;
        unsigned char y = idx < b.size() ? static_cast<unsigned char>(b[idx]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

}  // namespace

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
    std::string_view user = t.substr(first + 1, second - first - 1);
    std::string_view password = t.substr(second + 1);
    bool user_ok = equal_constant_time(user, rc.auth.username);
    bool password_ok = equal_constant_time(password, rc.auth.password);
    if (!user_ok || !password_ok) {
        co_return error_reply({error_code::bad_credentials,
                               fmt::format("Provided username {} and/or password are incorrect", user), {}, {}, {}});
    }
    rc.conn.authenticated = true;
    handler_reply r{opcode::auth_success, {}};
    writer(r.body).bytes(std::nullopt);
    co_return r;
}

}  // namespace millrace::cql
