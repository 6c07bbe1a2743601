// CQL native protocol v4 and v5 facts shared by the server (src/cql) and the
// client (src/cql_client): the one place that names opcodes, frame flags,
// QUERY/EXECUTE/BATCH flags, result kinds, rows flags and error codes.
//
// Frame header (9 bytes, big-endian):
//   version (1 byte: 0x04 request, 0x84 response; 0x05/0x85 in v5) | flags (1)
//   | stream id (2, signed) | opcode (1) | body length (4, unsigned)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace millrace::cql_protocol {

constexpr uint8_t k_response_bit = 0x80;
constexpr size_t k_header_size = 9;

enum class opcode : uint8_t {
    error = 0x00,
    startup = 0x01,
    ready = 0x02,
    authenticate = 0x03,
    options = 0x05,
    supported = 0x06,
    query = 0x07,
    result = 0x08,
    prepare = 0x09,
    execute = 0x0A,
    register_ = 0x0B,
    event = 0x0C,
    batch = 0x0D,
    auth_challenge = 0x0E,
    auth_response = 0x0F,
    auth_success = 0x10,
};

// "QUERY", "RESULT", ...; "unknown opcode" for any other byte.
std::string_view opcode_name(uint8_t op);

namespace frame_flag {
constexpr uint8_t compression = 0x01;
constexpr uint8_t tracing = 0x02;
constexpr uint8_t custom_payload = 0x04;
constexpr uint8_t warning = 0x08;
constexpr uint8_t use_beta = 0x10;
}  // namespace frame_flag

// QUERY / EXECUTE / BATCH parameter flags (one byte in v4, an [int] in v5).
namespace query_flag {
constexpr uint8_t values = 0x01;
constexpr uint8_t skip_metadata = 0x02;
constexpr uint8_t page_size = 0x04;
constexpr uint8_t paging_state = 0x08;
constexpr uint8_t serial_consistency = 0x10;
constexpr uint8_t default_timestamp = 0x20;
constexpr uint8_t names_for_values = 0x40;
constexpr uint32_t with_keyspace = 0x80;    // v5: [string] keyspace after the timestamp
constexpr uint32_t now_in_seconds = 0x100;  // v5: [int] after the keyspace
}  // namespace query_flag

// PREPARE flags (v5, an [int] after the query string).
namespace prepare_flag {
constexpr uint32_t with_keyspace = 0x01;
}  // namespace prepare_flag

enum class result_kind : int32_t {
    void_ = 0x0001,
    rows = 0x0002,
    set_keyspace = 0x0003,
    prepared = 0x0004,
    schema_change = 0x0005,
};

namespace rows_flag {
constexpr int32_t global_tables_spec = 0x0001;
constexpr int32_t has_more_pages = 0x0002;
constexpr int32_t no_metadata = 0x0004;
constexpr int32_t metadata_changed = 0x0008;  // v5: a new result metadata id follows
}  // namespace rows_flag

// Error codes with their wire values.
enum class error_code : int32_t {
    server_error = 0x0000,      // something unexpected happened server side
    protocol_error = 0x000A,    // the client broke the protocol (also: unsupported version)
    bad_credentials = 0x0100,   // authentication failed
    unavailable = 0x1000,       // not enough live replicas (never on one node)
    overloaded = 0x1001,        // the request was shed
    is_bootstrapping = 0x1002,
    truncate_error = 0x1003,
    write_timeout = 0x1100,
    read_timeout = 0x1200,
    read_failure = 0x1300,
    function_failure = 0x1400,
    write_failure = 0x1500,
    syntax_error = 0x2000,      // the statement does not parse
    unauthorized = 0x2100,
    invalid = 0x2200,           // the statement parses but is not valid here
    config_error = 0x2300,
    already_exists = 0x2400,    // body also carries keyspace and table
    unprepared = 0x2500,        // body also carries the unknown statement id
};

constexpr int32_t code_of(error_code c) { return static_cast<int32_t>(c); }

// "server error", "unprepared", ...; "unknown error" for any other code.
std::string_view error_name(int32_t code);

}  // namespace millrace::cql_protocol
