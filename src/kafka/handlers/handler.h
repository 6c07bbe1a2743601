// The interface between the connection loop and the per-API handlers: one
// handler file per Kafka API (handlers/<api>.cc), each a coroutine that
// decodes its request into the generated struct (kafka_messages.h), acts, and
// encodes the response struct: decode_request -> act -> encode_response.
//
// The connection loop has already parsed the request header and will write
// the response header; a handler writes only the body. Decoding errors throw
// protocol_error (the connection is closed). Handlers run on the broker's
// io_context thread and may co_await (long-poll fetch, group rebalances).
#pragma once

#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "auth/acl.h"
#include "protocol/api.h"
#include "protocol/errors.h"
#include "protocol/wire.h"
#include "kafka_messages.h"

namespace millrace::kafka {

class broker_core;
namespace auth {
class sasl_session;
}

struct request_context {
    broker_core& broker;
    api_key key;
    int16_t api_version;
    bool flexible;            // this version uses compact encodings and tagged fields
    int32_t correlation_id;
    std::string client_id;
    std::string client_host;  // peer address, for DescribeGroups
    bool send_response = true;  // a handler sets false for Produce with acks=0
    // The connection's SASL session when security.enabled, else nullptr (and
    // every authorization check passes). Requests other than ApiVersions and
    // SASL reach handlers only once it is authenticated.
    auth::sasl_session* session = nullptr;
    bool close_after_response = false;  // a failed authentication: Kafka closes the connection
};

using handler_fn = asio::awaitable<void> (*)(request_context& ctx, reader& in, writer& out);

// The request body at the context's version; throws protocol_error.
template <typename Request>
Request decode_request(const request_context& ctx, reader& in) {
    Request request;
    request.decode(in, ctx.api_version);
    return request;
}

// Appends the response body at the context's version.
template <typename Response>
void encode_response(const request_context& ctx, writer& out, const Response& response) {
    response.encode(out, ctx.api_version);
}

using auth::acl_operation;
using auth::resource_type;

bool authorize_session(const request_context& ctx, acl_operation op, resource_type type, std::string_view name);
bool authorize_session_any(const request_context& ctx, acl_operation op, resource_type type);

// Whether the connection's principal may do `op` on the resource (Kafka's
// authorizer: super users, then ACLs; no ACL means no). Always true when
// security is off: one branch.
inline bool authorized(const request_context& ctx, acl_operation op, resource_type type, std::string_view name) {
    return ctx.session == nullptr || authorize_session(ctx, op, type, name);
}
inline bool authorized_cluster(const request_context& ctx, acl_operation op) {
    return ctx.session == nullptr || authorize_session(ctx, op, resource_type::cluster, auth::k_cluster_name);
}
// Whether `op` is allowed on some resource of `type` (idempotent producers).
inline bool authorized_any(const request_context& ctx, acl_operation op, resource_type type) {
    return ctx.session == nullptr || authorize_session_any(ctx, op, type);
}

// The handler for `key`, or nullptr when the API is not implemented.
handler_fn find_handler(api_key key);

// Writes the ApiVersions v0 body listing every supported API with `code`;
// the reply to a request whose version we do not support.
void write_api_versions_fallback(writer& out, error_code code);

}  // namespace millrace::kafka
