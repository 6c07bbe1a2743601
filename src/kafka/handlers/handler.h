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

#include <asio/awaitable.hpp>

#include "protocol/api.h"
#include "protocol/errors.h"
#include "protocol/wire.h"
#include "kafka_messages.h"

namespace millrace::kafka {

class broker_core;

struct request_context {
    broker_core& broker;
    api_key key;
    int16_t api_version;
    bool flexible;            // this version uses compact encodings and tagged fields
    int32_t correlation_id;
    std::string client_id;
    std::string client_host;  // peer address, for DescribeGroups
    bool send_response = true;  // a handler sets false for Produce with acks=0
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

// The handler for `key`, or nullptr when the API is not implemented.
handler_fn find_handler(api_key key);

// Writes the ApiVersions v0 body listing every supported API with `code`;
// the reply to a request whose version we do not support.
void write_api_versions_fallback(writer& out, error_code code);

}  // namespace millrace::kafka
