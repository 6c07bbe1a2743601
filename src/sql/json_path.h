// Internal: the JSON path subset of JSON_VALUE ($, .name, ['name'], [index])
// evaluated with simdjson (lax mode: a missing step gives no value).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace millrace::sql {

struct json_path {
    std::vector<std::variant<std::string, size_t>> steps;  // member names and array indexes
};

std::optional<json_path> parse_json_path(std::string_view text);
// The scalar at `path` of `document` as text (strings unquoted, numbers and
// booleans as written); nullopt when absent, null, not a scalar, or the
// document is not JSON.
std::optional<std::string> json_value_at(std::string_view document, const json_path& path);

}  // namespace millrace::sql
