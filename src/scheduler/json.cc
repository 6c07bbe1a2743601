#include "json.h"

#include "millrace/common/http.h"

namespace millrace::scheduler::json {

result<nlohmann::json> parse_object(std::string_view body) {
    if (auto st = http::check_json(body); !st) return st.err();
    nlohmann::json value = nlohmann::json::parse(body, nullptr, false);
    if (value.is_discarded()) return make_error(errc::invalid_argument, "the request body is not valid JSON");
    if (!value.is_object()) return make_error(errc::invalid_argument, "the request body must be a JSON object");
    return value;
}

std::string to_json(const nlohmann::json& value) { return value.dump(); }

std::string type_name(const nlohmann::json& value) {
    if (value.is_number_integer()) return "integer";
    if (value.is_number()) return "number";
    return value.type_name();  // "string", "boolean", "object", "array", "null"
}

}  // namespace millrace::scheduler::json
