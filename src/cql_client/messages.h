// Request bodies and response decoders of the CQL native protocol v4 (§4).
// No I/O: the session frames these bodies and feeds response bodies back here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/cql_client/client.h"
#include "wire.h"

namespace millrace::cql_client::messages {

// An ERROR body.
struct server_error {
    int32_t code = 0;
    std::string message;
    std::string unprepared_id;  // for 0x2500
};

// A RESULT body.
struct result_body {
    wire::result_kind kind = wire::result_kind::void_;
    rows page;                                   // rows, set_keyspace, schema_change
    std::shared_ptr<prepared_statement> prepared;  // prepared
};

// Strips the tracing id (stored in `*trace_id` when given), warnings and
// custom payload the frame flags announce; returns the warnings. Throws
// wire::decode_error.
std::vector<std::string> skip_response_prefix(wire::wire_reader& r, uint8_t flags, std::string* trace_id = nullptr);

data_type read_type(wire::wire_reader& r, int depth = 0);

// Decoders: errors (errc::corruption) name the opcode and what was wrong.
result<server_error> decode_error(std::string_view body);
// `query` is the statement text for PREPARED results.
result<result_body> decode_result(std::string_view body, std::string_view query);
// The error a session reports for a server ERROR from `address`.
error to_error(const server_error& e, std::string_view address);

// Positional values of a statement: types from `bind` when given (prepared),
// else each value's own type. Errors name the marker index and the types.
result<std::string> encode_values(const std::vector<value>& params, const std::vector<column_spec>* bind);

// <consistency><flags>[<n><value_i>...][<result_page_size>][<paging_state>][<serial>][<timestamp>]
// `values` is the output of encode_values (with its count), `value_count` its count.
std::string encode_query_parameters(const query_options& opts, consistency default_consistency,
                                    int32_t default_page_size, const std::string& values, size_t value_count,
                                    bool skip_metadata);

std::string encode_startup(bool lz4);
std::string encode_auth_response(const std::string& username, const std::string& password);

}  // namespace millrace::cql_client::messages
