// Confluent wire format: magic byte 0, the schema id as 4 bytes big-endian,
// then the Avro binary datum.
//
//   +------+----------------+-----------------+
//   | 0x00 | id (int32, BE) | Avro binary ... |
//   +------+----------------+-----------------+
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "millrace/common/result.h"

namespace millrace::avro::wire {

constexpr uint8_t k_magic = 0;
constexpr size_t k_header_bytes = 5;

struct framed {
    int32_t schema_id = 0;
    std::string_view payload;  // points into the input
};

// Prepends the 5-byte header to `payload`.
std::string frame(int32_t schema_id, std::string_view payload);
void append_header(std::string& out, int32_t schema_id);
// Splits a framed message. Errors (invalid_argument): shorter than 5 bytes,
// or a first byte other than 0 (both name the length or the byte).
result<framed> unframe(std::string_view message);
// Cheap test used to tell framed Avro from JSON: at least 5 bytes and magic 0
// (a JSON document never starts with a NUL byte).
bool looks_framed(std::string_view message);

}  // namespace millrace::avro::wire
