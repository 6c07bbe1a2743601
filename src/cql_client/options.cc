// Contact point parsing, error-code lookup and row helpers.
#include <charconv>

#include <fmt/format.h>

#include "endpoint.h"
#include "millrace/cql_client/client.h"

namespace millrace::cql_client {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

result<host_port> parse_host_port(std::string_view text, uint16_t default_port) {
    text = trim(text);
    host_port out{std::string(text), default_port};
    std::string_view port_text;
    if (text.empty()) return make_error(errc::invalid_argument, "empty contact point");
    if (text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) {
            return make_error(errc::invalid_argument, "contact point '{}': '[' without ']'", text);
        }
        out.host = std::string(text.substr(1, close - 1));
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') return make_error(errc::invalid_argument, "contact point '{}': junk after ']'", text);
            port_text = text.substr(close + 2);
        }
    } else if (auto colon = text.find(':'); colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
        out.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    if (!port_text.empty() || (text.back() == ':' && text.front() != '[')) {
        unsigned port = 0;
        auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535) {
            return make_error(errc::invalid_argument, "contact point '{}': '{}' is not a port (1..65535)", text, port_text);
        }
        out.port = static_cast<uint16_t>(port);
    }
    if (out.host.empty()) return make_error(errc::invalid_argument, "contact point '{}' has no host", text);
    return out;
}

std::string host_port::to_string() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

result<std::vector<std::string>> parse_contact_points(std::string_view comma_list) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= comma_list.size()) {
        size_t comma = comma_list.find(',', start);
        if (comma == std::string_view::npos) comma = comma_list.size();
        std::string_view entry = trim(comma_list.substr(start, comma - start));
        if (!entry.empty()) {
            auto parsed = parse_host_port(entry, 9042);
            if (!parsed.ok()) return parsed.err();
            out.emplace_back(entry);
        }
        start = comma + 1;
    }
    if (out.empty()) return make_error(errc::invalid_argument, "contact points '{}': no host given", comma_list);
    return out;
}

result<client_options> options_from_contact_points(std::string_view comma_list) {
    auto points = parse_contact_points(comma_list);
    if (!points.ok()) return points.err();
    client_options out;
    out.contact_points = std::move(points).value();
    return out;
}

std::optional<int32_t> server_error_code(const error& e) {
    const std::string& m = e.message();
    size_t at = m.find(": [0x");
    while (at != std::string::npos) {
        size_t start = at + 5;
        size_t end = m.find(' ', start);
        if (end != std::string::npos && end > start && end - start <= 4) {
            int32_t code = 0;
            auto [ptr, ec] = std::from_chars(m.data() + start, m.data() + end, code, 16);
            if (ec == std::errc() && ptr == m.data() + end) return code;
        }
        at = m.find(": [0x", at + 1);
    }
    return std::nullopt;
}

int rows::index_of(std::string_view name) const {
    for (size_t idx = 0; idx < columns.size(); ++idx) {
        if (columns[idx].name == name) return static_cast<int>(idx);
    }
    return -1;
}

const value& rows::at(size_t row_idx, std::string_view name) const {
    int column = index_of(name);
    MILLRACE_ASSERT(column >= 0, "rows::at: no column '{}' among {} columns", name, columns.size());
    MILLRACE_ASSERT(row_idx < data.size(), "rows::at: row {} of {}", row_idx, data.size());
    return data[row_idx][static_cast<size_t>(column)];
}

}  // namespace millrace::cql_client
