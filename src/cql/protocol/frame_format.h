// CQL native protocol v4 and v5 frame (v5: envelope) layout and the versions
// the server speaks.
//
// Frame header (9 bytes, big-endian):
//   version (1 byte: 0x04 request, 0x84 response; 0x05/0x85 in v5) | flags (1)
//   | stream id (2, signed) | opcode (1) | body length (4, unsigned, at most cql.max_frame_size)
// The body follows; in v4 with the compression flag set it is compressed as a
// whole (lz4: 4-byte big-endian uncompressed length, then the lz4 block;
// snappy: raw). In v5 the frames after STARTUP travel inside checksummed
// segments (protocol/segment.h), which carry the compression instead.
#pragma once

#include <cstddef>
#include <cstdint>

#include "millrace/cql_protocol/frame.h"

namespace millrace::cql {

// Opcodes, flags, result kinds and error codes live in the protocol library
// shared with the client (src/cql_protocol); the server names them here.
using cql_protocol::error_code;
using cql_protocol::k_header_size;
using cql_protocol::k_response_bit;
using cql_protocol::opcode;
using cql_protocol::result_kind;
namespace frame_flag = cql_protocol::frame_flag;
namespace query_flag = cql_protocol::query_flag;
namespace prepare_flag = cql_protocol::prepare_flag;
namespace rows_flag = cql_protocol::rows_flag;

constexpr uint8_t k_protocol_version = 4;  // what millrace's own client speaks
constexpr uint8_t k_min_protocol_version = 4;
constexpr uint8_t k_max_protocol_version = 5;
// The answer to a version we do not speak names these (Cassandra's format).
constexpr const char* k_supported_versions_text = "4/v4, 5/v5";

}  // namespace millrace::cql
