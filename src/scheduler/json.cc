#include "json.h"

#include "millrace/common/http.h"

namespace millrace::scheduler::json {

std::string quote(std::string_view text) {
    std::string out = "\"";
    for (char ch : text) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(ch) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<int>(ch));
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

object& object::raw(std::string_view name, std::string_view json_text) {
    if (text_.size() > 1) text_ += ",";
    text_ += quote(name);
    text_ += ":";
    text_ += json_text;
    return *this;
}

std::string array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t idx = 0; idx < items.size(); ++idx) out += (idx ? "," : "") + items[idx];
    return out + "]";
}

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
