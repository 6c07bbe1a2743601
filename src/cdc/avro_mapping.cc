#include "millrace/cdc/avro_mapping.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "millrace/avro/codec.h"
#include "millrace/avro/json.h"
#include "millrace/cdc/json_mapping.h"
#include "pg_array.h"

namespace millrace::cdc {
namespace {

// Built-in type OIDs (pg_type.dat).
enum : uint32_t {
    k_bool = 16, k_bytea = 17, k_name = 19, k_int8 = 20, k_int2 = 21, k_int4 = 23, k_text = 25, k_oid = 26,
    k_json = 114, k_float4 = 700, k_float8 = 701, k_bpchar = 1042, k_varchar = 1043, k_date = 1082, k_time = 1083,
    k_timestamp = 1114, k_timestamptz = 1184, k_numeric = 1700, k_uuid = 2950, k_jsonb = 3802,
};

// numeric(p,s): typmod = ((p << 16) | s) + 4; -1 without precision.
bool numeric_precision(int32_t typmod, int& precision, int& scale) {
    if (typmod < 4) return false;
    precision = ((typmod - 4) >> 16) & 0xffff;
    scale = (typmod - 4) & 0xffff;
    return precision > 0 && scale <= precision;
}

// Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (H. Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(std::string_view text, size_t pos, size_t n, int64_t& out) {
    if (pos + n > text.size()) return false;
    out = 0;
    for (size_t idx = pos; idx < pos + n; ++idx) {
        if (text[idx] < '0' || text[idx] > '9') return false;
        out = out * 10 + (text[idx] - '0');
    }
    return true;
}

// "YYYY-MM-DD" (more year digits allowed) at the start of `text`; sets `used`.
bool parse_date(std::string_view text, int64_t& days, size_t& used) {
    size_t dash = text.find('-', 1);
    if (dash == std::string_view::npos || dash < 4) return false;
    int64_t year, month, day;
    if (!digits(text, 0, dash, year) || !digits(text, dash + 1, 2, month) || text.size() < dash + 6 ||
        text[dash + 3] != '-' || !digits(text, dash + 4, 2, day) || month < 1 || month > 12 || day < 1 || day > 31) {
        return false;
    }
    used = dash + 6;
    if (text.ends_with(" BC")) year = 1 - year;
    days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    return true;
}

// "HH:MM:SS[.ffffff]" at `pos`; µs since midnight; advances `pos`.
bool parse_time(std::string_view text, size_t& pos, int64_t& micros) {
    int64_t h, m, s;
    if (!digits(text, pos, 2, h) || text.size() < pos + 8 || text[pos + 2] != ':' || !digits(text, pos + 3, 2, m) ||
        text[pos + 5] != ':' || !digits(text, pos + 6, 2, s)) {
        return false;
    }
    pos += 8;
    int64_t frac = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        int n = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (n < 6) frac = frac * 10 + (text[pos] - '0');
            ++n;
            ++pos;
        }
        for (; n < 6; ++n) frac *= 10;
    }
    micros = ((h * 60 + m) * 60 + s) * 1'000'000 + frac;
    return true;
}

status bad_value(const avro_column& c, std::string_view text, std::string_view expected) {
    return make_error(errc::invalid_argument, "column {}: \"{}\" is not {}", c.name, text.substr(0, 80), expected);
}

void append_string(std::string& out, std::string_view text) {
    avro::write_long(out, static_cast<int64_t>(text.size()));
    out.append(text);
}

// One PostgreSQL array literal, one dimension: elements (nullopt = NULL).
bool parse_array(std::string_view text, std::vector<std::optional<std::string>>& out) {
    if (text.size() < 2 || text.front() != '{' || text.back() != '}') return false;
    size_t pos = 1;
    if (text[pos] == '}') return pos + 1 == text.size();
    while (pos < text.size()) {
        char c = text[pos];
        if (c == '{') return false;  // multidimensional
        std::optional<std::string> element;
        if (!read_array_element(text, pos, element)) return false;
        out.push_back(std::move(element));
        if (pos >= text.size()) return false;
        if (text[pos] == '}') return pos + 1 == text.size();
        if (text[pos] != ',') return false;
        ++pos;
    }
    return false;
}

// The non-null value of a scalar type.
status append_scalar(std::string& out, const avro_column& c, std::string_view text) {
    switch (c.type_oid) {
        case k_bool:
            out.push_back(text == "t" || text == "true" ? 1 : 0);
            return {};
        case k_int2:
        case k_int4:
        case k_int8:
        case k_oid: {
            char* end = nullptr;
            std::string copy(text);
            errno = 0;
            long long v = std::strtoll(copy.c_str(), &end, 10);
            if (copy.empty() || *end != '\0' || errno != 0) return bad_value(c, text, "an integer");
            avro::write_long(out, v);
            return {};
        }
        case k_float4:
        case k_float8: {
            std::string copy(text);
            char* end = nullptr;
            double v = std::strtod(copy.c_str(), &end);
            if (copy.empty() || *end != '\0') return bad_value(c, text, "a number");
            if (c.type_oid == k_float4) {
                float f = static_cast<float>(v);
                char bytes[4];
                std::memcpy(bytes, &f, 4);  // little-endian hosts only (x86-64, arm64)
                out.append(bytes, 4);
            } else {
                char bytes[8];
                std::memcpy(bytes, &v, 8);
                out.append(bytes, 8);
            }
            return {};
        }
        case k_numeric: {
            int precision = 0, scale = 0;
            if (!numeric_precision(c.type_modifier, precision, scale)) {
                append_string(out, text);
                return {};
            }
            auto bytes = decimal_bytes(text, scale);
            if (!bytes) return bad_value(c, text, fmt::format("a decimal({},{})", precision, scale));
            append_string(out, *bytes);
            return {};
        }
        case k_bytea: {
            if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
                return bad_value(c, text, "bytea in hex form");
            }
            std::string bytes;
            for (size_t pos = 2; pos + 1 < text.size(); pos += 2) {
                auto hex = [](char h) { return h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10; };
                bytes.push_back(static_cast<char>(hex(text[pos]) << 4 | hex(text[pos + 1])));
            }
            append_string(out, bytes);
            return {};
        }
        case k_date: {
            auto days = date_days(text);
            if (!days) return bad_value(c, text, "a date");
            avro::write_long(out, *days);
            return {};
        }
        case k_time: {
            size_t pos = 0;
            int64_t micros = 0;
            if (!parse_time(text, pos, micros) || pos != text.size()) return bad_value(c, text, "a time");
            avro::write_long(out, micros);
            return {};
        }
        case k_timestamp:
        case k_timestamptz: {
            auto micros = timestamp_micros(text);
            if (!micros) return bad_value(c, text, "a timestamp");
            avro::write_long(out, *micros);
            return {};
        }
        case k_json:
        case k_jsonb:
        case k_uuid:
        default: {
            // Strings; invalid UTF-8 is passed through JSON's repair (U+FFFD).
            bool ascii_or_valid = true;
            for (unsigned char ch : text) ascii_or_valid &= ch < 0x80;
            if (ascii_or_valid) {
                append_string(out, text);
            } else {
                std::string quoted;
                append_json_string(quoted, text);
                auto parsed = avro::json::parse(quoted);
                append_string(out, parsed ? std::string_view(parsed->text) : text);
            }
            return {};
        }
    }
}

}  // namespace

std::string avro_name(std::string_view text) {
    std::string out;
    for (char c : text) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out.push_back(ok ? c : '_');
    }
    if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
    return out;
}

std::string avro_type(uint32_t type_oid, int32_t type_modifier) {
    if (uint32_t element = array_element_type(type_oid); element != 0) {
        return R"({"type":"array","items":["null",)" + avro_type(element, -1) + "]}";
    }
    switch (type_oid) {
        case k_bool: return R"("boolean")";
        case k_int2:
        case k_int4: return R"("int")";
        case k_int8:
        case k_oid: return R"("long")";
        case k_float4: return R"("float")";
        case k_float8: return R"("double")";
        case k_numeric: {
            int precision = 0, scale = 0;
            if (!numeric_precision(type_modifier, precision, scale)) return R"("string")";
            return fmt::format(R"({{"type":"bytes","logicalType":"decimal","precision":{},"scale":{}}})", precision, scale);
        }
        case k_bytea: return R"("bytes")";
        case k_uuid: return R"({"type":"string","logicalType":"uuid"})";
        case k_date: return R"({"type":"int","logicalType":"date"})";
        case k_time: return R"({"type":"long","logicalType":"time-micros"})";
        case k_timestamptz: return R"({"type":"long","logicalType":"timestamp-micros"})";
        case k_timestamp: return R"({"type":"long","logicalType":"local-timestamp-micros"})";
        case k_json:
        case k_jsonb:
        case k_text:
        case k_varchar:
        case k_bpchar:
        case k_name:
        default: return R"("string")";
    }
}

std::string avro_record_schema(std::string_view name, std::string_view ns, const std::vector<avro_column>& columns) {
    std::string out = R"({"type":"record","name":)" + avro::json::quote(avro_name(name));
    if (!ns.empty()) out += R"(,"namespace":)" + avro::json::quote(ns);
    out += R"(,"fields":[)";
    for (size_t idx = 0; idx < columns.size(); ++idx) {
        const auto& c = columns[idx];
        if (idx) out.push_back(',');
        out += R"({"name":)" + avro::json::quote(avro_name(c.name)) + R"(,"type":)";
        std::string t = avro_type(c.type_oid, c.type_modifier);
        if (c.nullable) {
            out += R"(["null",)" + t + R"(],"default":null)";
        } else {
            out += t;
        }
        out.push_back('}');
    }
    out += "]}";
    return out;
}

status append_avro_value(std::string& out, const avro_column& column, std::optional<std::string_view> text) {
    if (!text) {
        if (!column.nullable) return make_error(errc::invalid_argument, "column {} is NULL but not nullable", column.name);
        avro::write_long(out, 0);
        return {};
    }
    if (column.nullable) avro::write_long(out, 1);
    if (uint32_t element = array_element_type(column.type_oid); element != 0) {
        std::vector<std::optional<std::string>> items;
        if (!parse_array(*text, items)) return bad_value(column, *text, "a one-dimensional array");
        if (!items.empty()) {
            avro::write_long(out, static_cast<int64_t>(items.size()));
            avro_column item{column.name, element, -1, true};
            for (const auto& v : items) {
                if (v) {
                    avro::write_long(out, 1);
                    if (auto st = append_scalar(out, item, *v); !st) return st;
                } else {
                    avro::write_long(out, 0);
                }
            }
        }
        avro::write_long(out, 0);
        return {};
    }
    return append_scalar(out, column, *text);
}

result<int64_t> timestamp_micros(std::string_view text) {
    if (text == "infinity") return std::numeric_limits<int64_t>::max();
    if (text == "-infinity") return std::numeric_limits<int64_t>::min();
    int64_t days = 0;
    size_t pos = 0;
    if (!parse_date(text, days, pos) || pos >= text.size() || (text[pos] != ' ' && text[pos] != 'T')) {
        return make_error(errc::invalid_argument, "\"{}\" is not a timestamp", text);
    }
    ++pos;
    int64_t micros = 0;
    if (!parse_time(text, pos, micros)) return make_error(errc::invalid_argument, "\"{}\" is not a timestamp", text);
    int64_t offset_s = 0;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        int sign = text[pos] == '-' ? -1 : 1;
        int64_t h = 0, m = 0, s = 0;
        if (!digits(text, pos + 1, 2, h)) return make_error(errc::invalid_argument, "\"{}\" has a bad zone", text);
        pos += 3;
        if (pos < text.size() && text[pos] == ':' && digits(text, pos + 1, 2, m)) pos += 3;
        if (pos < text.size() && text[pos] == ':' && digits(text, pos + 1, 2, s)) pos += 3;
        offset_s = sign * (h * 3600 + m * 60 + s);
    }
    return days * 86'400'000'000LL + micros - offset_s * 1'000'000;
}

result<int32_t> date_days(std::string_view text) {
    if (text == "infinity") return std::numeric_limits<int32_t>::max();
    if (text == "-infinity") return std::numeric_limits<int32_t>::min();
    int64_t days = 0;
    size_t used = 0;
    if (!parse_date(text, days, used) || (used != text.size() && !text.substr(used).starts_with(" BC"))) {
        return make_error(errc::invalid_argument, "\"{}\" is not a date", text);
    }
    return static_cast<int32_t>(days);
}

result<std::string> decimal_bytes(std::string_view text, int scale) {
    bool negative = !text.empty() && text[0] == '-';
    std::string_view body = negative || (!text.empty() && text[0] == '+') ? text.substr(1) : text;
    std::string unscaled;
    size_t dot = body.find('.');
    std::string_view whole = body.substr(0, dot);
    std::string_view frac = dot == std::string_view::npos ? std::string_view() : body.substr(dot + 1);
    if (whole.empty() && frac.empty()) return make_error(errc::invalid_argument, "\"{}\" is not a decimal", text);
    for (char c : whole) {
        if (c < '0' || c > '9') return make_error(errc::invalid_argument, "\"{}\" is not a decimal", text);
        unscaled.push_back(c);
    }
    for (int idx = 0; idx < scale; ++idx) {
        char c = static_cast<size_t>(idx) < frac.size() ? frac[static_cast<size_t>(idx)] : '0';
        if (c < '0' || c > '9') return make_error(errc::invalid_argument, "\"{}\" is not a decimal", text);
        unscaled.push_back(c);
    }
    if (frac.size() > static_cast<size_t>(scale)) {
        return make_error(errc::invalid_argument, "\"{}\" has more than {} decimal places", text, scale);
    }
    // Decimal digits → big-endian magnitude bytes.
    std::vector<uint8_t> magnitude;  // little-endian while building
    for (char c : unscaled) {
        unsigned carry = static_cast<unsigned>(c - '0');
        for (auto& b : magnitude) {
            unsigned v = b * 10u + carry;
            b = static_cast<uint8_t>(v & 0xff);
            carry = v >> 8;
        }
        while (carry) {
            magnitude.push_back(static_cast<uint8_t>(carry & 0xff));
            carry >>= 8;
        }
    }
    if (magnitude.empty()) magnitude.push_back(0);
    magnitude.push_back(0);  // room for the sign bit
    if (negative) {
        unsigned carry = 1;
        for (auto& b : magnitude) {
            unsigned v = static_cast<uint8_t>(~b) + carry;
            b = static_cast<uint8_t>(v & 0xff);
            carry = v >> 8;
        }
    }
    // Drop redundant sign bytes (minimal two's complement, as Java's BigInteger writes it).
    while (magnitude.size() > 1) {
        uint8_t top = magnitude.back(), next = magnitude[magnitude.size() - 2];
        if ((top == 0 && (next & 0x80) == 0) || (top == 0xff && (next & 0x80) != 0)) {
            magnitude.pop_back();
        } else {
            break;
        }
    }
    return std::string(magnitude.rbegin(), magnitude.rend());
}

}  // namespace millrace::cdc
