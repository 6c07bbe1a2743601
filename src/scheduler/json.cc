#include "json.h"

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

result<YAML::Node> parse_object(std::string_view body) {
    size_t start = body.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos || body[start] != '{') {
        return make_error(errc::invalid_argument, "the request body must be a JSON object");
    }
    try {
        YAML::Node node = YAML::Load(std::string(body));
        if (!node.IsMap()) return make_error(errc::invalid_argument, "the request body must be a JSON object");
        return node;
    } catch (const YAML::Exception& e) {
        return make_error(errc::invalid_argument, "the request body is not valid JSON: {} at line {}, column {}", e.msg,
                          e.mark.line + 1, e.mark.column + 1);
    }
}

std::string to_json(const YAML::Node& node) {
    if (node.IsMap()) {
        object o;
        for (const auto& kv : node) o.raw(kv.first.Scalar(), to_json(kv.second));
        return o.done();
    }
    if (node.IsSequence()) {
        std::vector<std::string> items;
        for (const auto& item : node) items.push_back(to_json(item));
        return array(items);
    }
    if (node.IsNull()) return "null";
    const std::string& s = node.Scalar();
    // Plain (unquoted) scalars that look like JSON literals stay literals.
    if (node.Tag() != "!" && (s == "true" || s == "false" || s == "null")) return s;
    if (node.Tag() != "!" && !s.empty()) {
        bool number = true;
        size_t idx = (s[0] == '-') ? 1 : 0;
        if (idx >= s.size()) number = false;
        for (; idx < s.size() && number; ++idx) {
            char ch = s[idx];
            number = (ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '+' || ch == '-';
        }
        if (number) return s;
    }
    return quote(s);
}

}  // namespace millrace::scheduler::json
