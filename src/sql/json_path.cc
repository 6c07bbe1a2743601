#include "json_path.h"

#include <cctype>
#include <charconv>

#include <simdjson.h>

namespace millrace::sql {

std::optional<json_path> parse_json_path(std::string_view text) {
    json_path out;
    size_t pos = 0;
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (text.substr(pos, 3) == "lax") pos += 3;
    else if (text.substr(pos, 6) == "strict") return std::nullopt;
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos >= text.size() || text[pos] != '$') return std::nullopt;
    ++pos;
    while (pos < text.size()) {
        if (text[pos] == '.') {
            size_t start = ++pos;
            while (pos < text.size() && text[pos] != '.' && text[pos] != '[') ++pos;
            if (pos == start) return std::nullopt;
            out.steps.emplace_back(std::string(text.substr(start, pos - start)));
        } else if (text[pos] == '[') {
            ++pos;
            if (pos < text.size() && (text[pos] == '\'' || text[pos] == '"')) {
                char q = text[pos++];
                size_t end = text.find(q, pos);
                if (end == std::string_view::npos || end + 1 >= text.size() || text[end + 1] != ']') return std::nullopt;
                out.steps.emplace_back(std::string(text.substr(pos, end - pos)));
                pos = end + 2;
            } else {
                size_t idx = 0;
                auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), idx);
                if (ec != std::errc() || ptr >= text.data() + text.size() || *ptr != ']') return std::nullopt;
                out.steps.emplace_back(idx);
                pos = static_cast<size_t>(ptr - text.data()) + 1;
            }
        } else if (std::isspace(static_cast<unsigned char>(text[pos]))) {
            ++pos;
        } else {
            return std::nullopt;
        }
    }
    return out;
}

std::optional<std::string> json_value_at(std::string_view document, const json_path& path) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element el;
    if (parser.parse(document.data(), document.size()).get(el)) return std::nullopt;
    for (const auto& step : path.steps) {
        if (auto* name = std::get_if<std::string>(&step)) {
            simdjson::dom::object obj;
            if (el.get_object().get(obj)) return std::nullopt;
            if (obj.at_key(*name).get(el)) return std::nullopt;
        } else {
            simdjson::dom::array arr;
            if (el.get_array().get(arr)) return std::nullopt;
            if (arr.at(std::get<size_t>(step)).get(el)) return std::nullopt;
        }
    }
    switch (el.type()) {
        case simdjson::dom::element_type::STRING: return std::string(std::string_view(el.get_string().value()));
        case simdjson::dom::element_type::INT64: return std::to_string(int64_t(el.get_int64().value()));
        case simdjson::dom::element_type::UINT64: return std::to_string(uint64_t(el.get_uint64().value()));
        case simdjson::dom::element_type::DOUBLE: return simdjson::minify(el);
        case simdjson::dom::element_type::BOOL: return el.get_bool().value() ? "true" : "false";
        default: return std::nullopt;
    }
}

}  // namespace millrace::sql
