// STARTUP → READY, or AUTHENTICATE when cql.authenticator is `password`. Only
// CQL_VERSION 3.x is accepted; COMPRESSION may name lz4 or snappy, which then
// applies to every later frame (READY itself is plain).
#include "handlers/handler.h"

namespace millrace::cql {

asio::awaitable<handler_reply> handle_startup(request_context& rc, reader& in) {
    auto options = in.string_map();
    auto version = options.find("CQL_VERSION");
    if (version == options.end() || !version->second.starts_with("3.")) {
        co_return error_reply({error_code::protocol_error, "STARTUP needs CQL_VERSION 3.x", {}, {}, {}});
    }
    if (auto c = options.find("COMPRESSION"); c != options.end() && !c->second.empty()) {
        auto codec = parse_compression(c->second);
        if (!codec) {
            co_return error_reply({error_code::protocol_error, fmt::format("unsupported compression algorithm {}", c->second), {}, {}, {}});
        }
        if (*codec == compression::snappy && rc.conn.version >= 5) {
            // v5 compresses segments, and only with lz4 (as Cassandra 4.0).
            co_return error_reply({error_code::protocol_error, "Snappy compression is not supported in protocol V5", {}, {}, {}});
        }
        rc.conn.codec = *codec;
    }
    rc.conn.started = true;
    if (rc.auth.required) {
        handler_reply r{opcode::authenticate, {}};
        writer(r.body).string(k_password_authenticator);
        co_return r;
    }
    rc.conn.authenticated = true;
    co_return handler_reply{opcode::ready, {}};
}

}  // namespace millrace::cql
