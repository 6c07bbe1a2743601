// One handler per request opcode (this folder, one file each), and the table
// that maps opcodes to them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>

#include "executor.h"
#include "protocol/compression.h"
#include "protocol/wire.h"

namespace millrace::cql {

// cql.authenticator: `none` lets every connection in after STARTUP; `password`
// (or security.enabled) answers STARTUP with AUTHENTICATE and checks SASL
// PLAIN credentials against the roles in AUTH_RESPONSE. The listed logins
// (cql.username, and the admin user with security.enabled) are superuser
// roles created or reset at startup.
struct auth_settings {
    bool required = false;
    std::vector<std::pair<std::string, std::string>> bootstrap;  // (role, password)
};

constexpr std::string_view k_password_authenticator = "org.apache.cassandra.auth.PasswordAuthenticator";

// What a connection remembers between requests.
struct connection_context {
    bool started = false;        // STARTUP answered READY or AUTHENTICATE
    bool authenticated = false;  // READY or AUTH_SUCCESS sent: requests may run
    compression codec = compression::none;  // set by STARTUP, applies to the frames after READY
    session sess;
    bool schema_events = false;  // REGISTERed for SCHEMA_CHANGE
    uint8_t version = 0;         // set by the first frame (4 or 5); 0 before
    bool segments = false;       // v5 after STARTUP was answered: frames travel in segments
};

struct request_context {
    executor& exec;
    connection_context& conn;
    int16_t stream;
    uint8_t flags;
    const auth_settings& auth;
};

struct handler_reply {
    opcode op = opcode::result;
    std::string body;
};

// Handlers throw protocol_error for malformed bodies; the connection loop closes the connection.
using handler_fn = asio::awaitable<handler_reply> (*)(request_context&, reader&);

struct handler_entry {
    opcode op;
    std::string_view name;
    handler_fn fn;
};

const std::vector<handler_entry>& all_handlers();
const handler_entry* find_handler(opcode op);

// Shared helpers.
handler_reply error_reply(const request_error& e);
handler_reply to_reply(const response& r);
// Reads <query_parameters> from the consistency on: flags are a byte in v4 and
// an [int] in v5, where a per-request keyspace (stored in `*keyspace` when
// given) and now_in_seconds may follow.
query_params read_query_params(reader& in, uint8_t version, std::string* keyspace = nullptr);
// The session a request runs in: the connection's, or a copy in the keyspace
// the request named (v5).
session request_session(const session& conn, const std::string& keyspace);

asio::awaitable<handler_reply> handle_options(request_context&, reader&);
asio::awaitable<handler_reply> handle_startup(request_context&, reader&);
asio::awaitable<handler_reply> handle_register(request_context&, reader&);
asio::awaitable<handler_reply> handle_query(request_context&, reader&);
asio::awaitable<handler_reply> handle_prepare(request_context&, reader&);
asio::awaitable<handler_reply> handle_execute(request_context&, reader&);
asio::awaitable<handler_reply> handle_batch(request_context&, reader&);
asio::awaitable<handler_reply> handle_auth_response(request_context&, reader&);

}  // namespace millrace::cql
