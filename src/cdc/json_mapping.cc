#include "millrace/cdc/json_mapping.h"

#include <array>
#include <cctype>
#include <vector>

#include <fmt/format.h>

#include "millrace/common/json_text.h"
#include "pg_array.h"

namespace millrace::cdc {
namespace {

// Built-in type OIDs (pg_type.dat); stable across PostgreSQL versions.
enum : uint32_t {
    k_bool = 16, k_bytea = 17, k_char = 18, k_name = 19, k_int8 = 20, k_int2 = 21, k_int4 = 23, k_text = 25,
    k_oid = 26, k_json = 114, k_float4 = 700, k_float8 = 701, k_money = 790, k_bpchar = 1042, k_varchar = 1043,
    k_date = 1082, k_time = 1083, k_timestamp = 1114, k_timestamptz = 1184, k_interval = 1186, k_timetz = 1266,
    k_numeric = 1700, k_uuid = 2950, k_jsonb = 3802,
};

struct array_type {
    uint32_t array;
    uint32_t element;
};
constexpr std::array<array_type, 22> k_array_types = {{
    {1000, k_bool}, {1001, k_bytea}, {1002, k_char}, {1003, k_name}, {1016, k_int8}, {1005, k_int2},
    {1007, k_int4}, {1009, k_text}, {1028, k_oid}, {199, k_json}, {1021, k_float4}, {1022, k_float8},
    {1014, k_bpchar}, {1015, k_varchar}, {1182, k_date}, {1183, k_time}, {1115, k_timestamp},
    {1185, k_timestamptz}, {1187, k_interval}, {1231, k_numeric}, {2951, k_uuid}, {3807, k_jsonb},
}};

constexpr char k_base64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// bytea in hex output ("\x0a0b") → base64 string; anything else as a string.
void append_bytea(std::string& out, std::string_view text) {
    if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
        append_json_string(out, text);
        return;
    }
    std::vector<uint8_t> bytes;
    bytes.reserve((text.size() - 2) / 2);
    for (size_t pos = 2; pos + 1 < text.size(); pos += 2) {
        int hi = hex_digit(text[pos]);
        int lo = hex_digit(text[pos + 1]);
        if (hi < 0 || lo < 0) {
            append_json_string(out, text);
            return;
        }
        bytes.push_back(static_cast<uint8_t>(hi * 16 + lo));
    }
    out.push_back('"');
    size_t idx = 0;
    for (; idx + 2 < bytes.size(); idx += 3) {
        uint32_t n = (bytes[idx] << 16) | (bytes[idx + 1] << 8) | bytes[idx + 2];
        out += {k_base64[(n >> 18) & 63], k_base64[(n >> 12) & 63], k_base64[(n >> 6) & 63], k_base64[n & 63]};
    }
    if (idx + 1 == bytes.size()) {
        uint32_t n = bytes[idx] << 16;
        out += {k_base64[(n >> 18) & 63], k_base64[(n >> 12) & 63], '=', '='};
    } else if (idx + 2 == bytes.size()) {
        uint32_t n = (bytes[idx] << 16) | (bytes[idx + 1] << 8);
        out += {k_base64[(n >> 18) & 63], k_base64[(n >> 12) & 63], k_base64[(n >> 6) & 63], '='};
    }
    out.push_back('"');
}

// "2024-01-02 03:04:05.5+00" → "2024-01-02T03:04:05.5Z"; other offsets become
// "+05:30"; BC dates and infinities stay as PostgreSQL wrote them.
void append_timestamp(std::string& out, std::string_view text, bool with_zone) {
    if (text.size() < 19 || text[10] != ' ' || text.find("BC") != std::string_view::npos) {
        append_json_string(out, text);
        return;
    }
    std::string iso(text);
    iso[10] = 'T';
    if (with_zone) {
        auto sign = iso.find_last_of("+-");
        if (sign != std::string::npos && sign > 10) {
            std::string zone = iso.substr(sign);
            iso.resize(sign);
            if (zone == "+00" || zone == "+00:00" || zone == "-00") {
                iso += "Z";
            } else {
                if (zone.size() == 3) zone += ":00";
                iso += zone;
            }
        }
    }
    append_json_string(out, iso);
}

void append_number_or_string(std::string& out, std::string_view text) {
    // NaN and the infinities are not JSON numbers.
    if (text.empty() || text == "NaN" || text == "Infinity" || text == "-Infinity") {
        append_json_string(out, text);
    } else {
        out += text;
    }
}

// Parses PostgreSQL's array literal ({a,"b c",NULL,{1,2}}) starting at `pos`
// (just after '{') and appends a JSON array; false when the text is malformed.
bool append_array(std::string& out, uint32_t element, std::string_view text, size_t& pos, int depth) {
    if (depth > 16) return false;
    out.push_back('[');
    bool first = true;
    if (pos < text.size() && text[pos] == '}') {
        ++pos;
        out.push_back(']');
        return true;
    }
    while (pos < text.size()) {
        if (!first) out.push_back(',');
        first = false;
        char c = text[pos];
        if (c == '{') {
            ++pos;
            if (!append_array(out, element, text, pos, depth + 1)) return false;
        } else {
            std::optional<std::string> value;
            if (!read_array_element(text, pos, value)) return false;
            if (value) {
                append_json_value(out, element, *value);
            } else {
                out += "null";
            }
        }
        if (pos >= text.size()) return false;
        if (text[pos] == ',') {
            ++pos;
        } else if (text[pos] == '}') {
            ++pos;
            out.push_back(']');
            return true;
        } else {
            return false;
        }
    }
    return false;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
    json_text::append_string(out, text, json_text::invalid_utf8::replace);
}

uint32_t array_element_type(uint32_t type_oid) {
    for (const auto& a : k_array_types) {
        if (a.array == type_oid) return a.element;
    }
    return 0;
}

void append_json_value(std::string& out, uint32_t type_oid, std::string_view text) {
    switch (type_oid) {
        case k_bool: out += (text == "t" || text == "true") ? "true" : "false"; return;
        case k_int2:
        case k_int4:
        case k_int8:
        case k_oid: out += text; return;
        case k_float4:
        case k_float8: append_number_or_string(out, text); return;
        case k_json:
        case k_jsonb: out += text; return;  // PostgreSQL validated it
        case k_timestamptz: append_timestamp(out, text, true); return;
        case k_timestamp: append_timestamp(out, text, false); return;
        case k_bytea: append_bytea(out, text); return;
        default: break;
    }
    if (uint32_t element = array_element_type(type_oid); element != 0) {
        size_t pos = 0;
        if (!text.empty() && text[0] == '[') {  // explicit bounds: "[0:1]={1,2}"
            pos = text.find('=');
            pos = pos == std::string_view::npos ? text.size() : pos + 1;
        }
        std::string array;
        if (pos < text.size() && text[pos] == '{') {
            ++pos;
            if (append_array(array, element, text, pos, 0) && pos == text.size()) {
                out += array;
                return;
            }
        }
    }
    // numeric (no precision loss), text, uuid, date, time, interval, enums, ...
    append_json_string(out, text);
}

}  // namespace millrace::cdc
