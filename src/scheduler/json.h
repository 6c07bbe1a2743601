// A small JSON writer for the REST API, and request bodies read by
// nlohmann/json (JSON only, nesting bounded by http::k_max_json_depth).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "millrace/common/result.h"

namespace millrace::scheduler::json {

std::string quote(std::string_view text);

// Builds one object: writer w; w.field("a", 1).field("b", "x"); w.done().
class object {
public:
    object& raw(std::string_view name, std::string_view json_text);
    object& str(std::string_view name, std::string_view value) { return raw(name, quote(value)); }
    object& str_or_null(std::string_view name, const std::optional<std::string>& value) {
        return raw(name, value ? quote(*value) : "null");
    }
    object& num(std::string_view name, int64_t value) { return raw(name, std::to_string(value)); }
    object& boolean(std::string_view name, bool value) { return raw(name, value ? "true" : "false"); }
    std::string done() { return text_ + "}"; }

private:
    std::string text_ = "{";
};

std::string array(const std::vector<std::string>& items);

// Parses a request body that must be a JSON object. Errors are invalid_argument.
result<nlohmann::json> parse_object(std::string_view body);
// Compact JSON text of `value`.
std::string to_json(const nlohmann::json& value);
// The JSON type name of `value` as the API's messages say it: "string", "integer", "number", ...
std::string type_name(const nlohmann::json& value);

}  // namespace millrace::scheduler::json
