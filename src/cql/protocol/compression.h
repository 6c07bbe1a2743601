// Frame body compression negotiated in STARTUP (native protocol v4 §5):
//   lz4:    uncompressed length (4 bytes, big-endian) | LZ4 block
//   snappy: a raw Snappy block (it stores its own length)
// Decompression refuses bodies that would exceed `max_bytes`, so a small frame
// cannot claim a huge allocation.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "millrace/common/result.h"

namespace millrace::cql {

enum class compression { none, lz4, snappy };

// "lz4" / "snappy" (case-insensitive); nullopt for anything else.
std::optional<compression> parse_compression(std::string_view name);

std::string compress(compression c, std::string_view body);
// Errors name the algorithm and the sizes; the caller closes the connection.
result<std::string> decompress(compression c, std::string_view body, size_t max_bytes);

}  // namespace millrace::cql
