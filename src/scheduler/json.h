// The REST API's JSON: replies written by the common writer (json_text.h's
// `object`, `array`, `quote`), request bodies read by nlohmann/json (JSON only,
// nesting bounded by http::k_max_json_depth).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "millrace/common/json_text.h"
#include "millrace/common/result.h"

namespace millrace::scheduler::json {

using json_text::array;
using json_text::object;
using json_text::quote;

// Parses a request body that must be a JSON object. Errors are invalid_argument.
result<nlohmann::json> parse_object(std::string_view body);
// Compact JSON text of `value`.
std::string to_json(const nlohmann::json& value);
// The JSON type name of `value` as the API's messages say it: "string", "integer", "number", ...
std::string type_name(const nlohmann::json& value);

}  // namespace millrace::scheduler::json
