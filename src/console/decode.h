// How the message browser shows a key or value: JSON when it parses as JSON,
// Avro (through the schema registry) when it carries the Confluent framing
// (magic byte 0, 4-byte big-endian schema id), text when it is UTF-8, else
// base64. The result is one JSON object:
//   {"format": "json"|"avro"|"text"|"binary"|"null", "size": N, "value": ...,
//    "schema_id": N (avro), "error": "..." (framed but not decodable)}
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "millrace/common/result.h"

namespace millrace::console {

// Decodes the Avro body (after the 5-byte frame) written with schema `id`.
using avro_decoder = std::function<result<nlohmann::ordered_json>(int32_t schema_id, std::string_view body)>;

nlohmann::ordered_json decode_payload(const std::optional<std::string>& bytes, const avro_decoder& avro);

bool valid_utf8(std::string_view text);
std::string base64(std::string_view bytes);
// Standard or URL-safe base64 (padding optional); invalid_argument otherwise.
result<std::string> unbase64(std::string_view text);

}  // namespace millrace::console
