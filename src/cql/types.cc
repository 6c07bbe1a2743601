#include "types.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include <arpa/inet.h>

#include "protocol/wire.h"
#include "millrace/common/endian.h"

namespace millrace::cql {
namespace {

struct type_name {
    const char* name;
    type_kind kind;
};

constexpr type_name k_names[] = {
    {"ascii", type_kind::ascii},       {"bigint", type_kind::bigint},       {"blob", type_kind::blob},
    {"boolean", type_kind::boolean},   {"counter", type_kind::counter},     {"decimal", type_kind::decimal},
    {"double", type_kind::double_},    {"float", type_kind::float_},        {"int", type_kind::int_},
    {"timestamp", type_kind::timestamp}, {"uuid", type_kind::uuid},         {"text", type_kind::varchar},
    {"varchar", type_kind::varchar},   {"varint", type_kind::varint},       {"timeuuid", type_kind::timeuuid},
    {"inet", type_kind::inet},         {"date", type_kind::date},           {"time", type_kind::time},
    {"smallint", type_kind::smallint}, {"tinyint", type_kind::tinyint},
};

// Fixed serialized size of a type, or 0 for variable-length types.
size_t fixed_size(type_kind k) {
    switch (k) {
        case type_kind::boolean: case type_kind::tinyint: return 1;
        case type_kind::smallint: return 2;
        case type_kind::int_: case type_kind::float_: case type_kind::date: return 4;
        case type_kind::bigint: case type_kind::counter: case type_kind::double_: case type_kind::timestamp:
        case type_kind::time: return 8;
        case type_kind::uuid: case type_kind::timeuuid: return 16;
        default: return 0;
    }
}

uint32_t get_u32(std::string_view b) {
    return endian::load_be<uint32_t>(b);
}

std::string be(uint64_t v, size_t width) {
    std::string out(width, '\0');
    for (size_t idx = 0; idx < width; ++idx) out[width - 1 - idx] = static_cast<char>((v >> (8 * idx)) & 0xFF);
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

void trim(std::string_view& s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
}

// Two's-complement minimal big-endian bytes of v (CQL varint).
std::string varint_bytes(__int128 v) {
    std::string out;
    for (;;) {
        out.insert(out.begin(), static_cast<char>(static_cast<uint8_t>(v & 0xFF)));
        __int128 rest = v >> 8;
        bool sign = (static_cast<uint8_t>(out.front()) & 0x80) != 0;
        if ((rest == 0 && !sign) || (rest == -1 && sign)) break;
        v = rest;
    }
    return out;
}

result<__int128> parse_integer(std::string_view text) {
    bool negative = false;
    size_t pos = 0;
    if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) negative = text[pos++] == '-';
    if (pos >= text.size() || text.size() - pos > 38) return make_error(errc::invalid_argument, "invalid integer {}", text);
    __int128 v = 0;
    for (; pos < text.size(); ++pos) {
        if (!std::isdigit(static_cast<unsigned char>(text[pos]))) return make_error(errc::invalid_argument, "invalid integer {}", text);
        v = v * 10 + (text[pos] - '0');
    }
    return negative ? -v : v;
}

result<std::string> fixed_int(std::string_view text, size_t width, const char* type) {
    auto v = parse_integer(text);
    if (!v) return v.err();
    __int128 lo = -(__int128(1) << (8 * width - 1));
    __int128 hi = (__int128(1) << (8 * width - 1)) - 1;
    if (*v < lo || *v > hi) return make_error(errc::invalid_argument, "{} is out of range for type {}", text, type);
    return be(static_cast<uint64_t>(static_cast<int64_t>(*v)), width);
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Reads `count` digits as a number; false if not digits.
bool digits(std::string_view s, size_t& pos, size_t count, int64_t& out) {
    if (pos + count > s.size()) return false;
    out = 0;
    for (size_t idx = 0; idx < count; ++idx) {
        char c = s[pos + idx];
        if (c < '0' || c > '9') return false;
        out = out * 10 + (c - '0');
    }
    pos += count;
    return true;
}

result<int64_t> parse_date_days(std::string_view s, size_t& pos) {
    int64_t y = 0, m = 0, d = 0;
    if (!digits(s, pos, 4, y) || pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, m) || pos >= s.size() ||
        s[pos++] != '-' || !digits(s, pos, 2, d) || m < 1 || m > 12 || d < 1 || d > 31) {
        return make_error(errc::invalid_argument, "unable to parse a date from '{}'", s);
    }
    return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

// "hh:mm[:ss[.fffffffff]]" → nanoseconds of the day.
result<int64_t> parse_time_nanos(std::string_view s, size_t& pos) {
    int64_t h = 0, mi = 0, sec = 0, nanos = 0;
    if (!digits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':' || !digits(s, pos, 2, mi) || h > 23 || mi > 59) {
        return make_error(errc::invalid_argument, "unable to parse a time from '{}'", s);
    }
    if (pos < s.size() && s[pos] == ':') {
        ++pos;
        if (!digits(s, pos, 2, sec) || sec > 59) return make_error(errc::invalid_argument, "unable to parse a time from '{}'", s);
        if (pos < s.size() && s[pos] == '.') {
            ++pos;
            int64_t scale = 100'000'000;
            size_t start = pos;
            while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
                if (scale > 0) nanos += (s[pos] - '0') * scale;
                scale /= 10;
                ++pos;
            }
            if (pos == start) return make_error(errc::invalid_argument, "unable to parse a time from '{}'", s);
        }
    }
    return ((h * 60 + mi) * 60 + sec) * 1'000'000'000 + nanos;
}

result<int64_t> parse_timestamp_millis(std::string_view s) {
    size_t pos = 0;
    auto days = parse_date_days(s, pos);
    if (!days) return make_error(errc::invalid_argument, "unable to parse a timestamp from '{}'", s);
    int64_t nanos = 0;
    if (pos < s.size() && (s[pos] == ' ' || s[pos] == 'T')) {
        ++pos;
        auto t = parse_time_nanos(s, pos);
        if (!t) return make_error(errc::invalid_argument, "unable to parse a timestamp from '{}'", s);
        nanos = *t;
    }
    int64_t offset_minutes = 0;
    while (pos < s.size() && s[pos] == ' ') ++pos;
    if (pos < s.size()) {
        if (s[pos] == 'Z') {
            ++pos;
        } else if (s[pos] == '+' || s[pos] == '-') {
            int sign = s[pos++] == '-' ? -1 : 1;
            int64_t hh = 0, mm = 0;
            if (!digits(s, pos, 2, hh)) return make_error(errc::invalid_argument, "unable to parse a timestamp from '{}'", s);
            if (pos < s.size() && s[pos] == ':') ++pos;
            if (pos < s.size() && !digits(s, pos, 2, mm)) return make_error(errc::invalid_argument, "unable to parse a timestamp from '{}'", s);
            offset_minutes = sign * (hh * 60 + mm);
        }
    }
    if (pos != s.size()) return make_error(errc::invalid_argument, "unable to parse a timestamp from '{}'", s);
    return *days * 86'400'000 + nanos / 1'000'000 - offset_minutes * 60'000;
}

result<std::string> parse_uuid_text(std::string_view s) {
    std::string hex;
    for (char c : s) {
        if (c == '-') continue;
        hex.push_back(c);
    }
    if (hex.size() != 32 || s.size() != 36) return make_error(errc::invalid_argument, "invalid UUID '{}'", s);
    std::string out(16, '\0');
    for (size_t idx = 0; idx < 16; ++idx) {
        auto nibble = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            return -1;
        };
        int hi = nibble(hex[2 * idx]), lo = nibble(hex[2 * idx + 1]);
        if (hi < 0 || lo < 0) return make_error(errc::invalid_argument, "invalid UUID '{}'", s);
        out[idx] = static_cast<char>(hi * 16 + lo);
    }
    return out;
}

std::string collection_value(const std::vector<std::string>& elements) {
    std::string out;
    writer w(out);
    w.int32(static_cast<int32_t>(elements.size()));
    for (const auto& e : elements) w.bytes(e);
    return out;
}

// Elements of a serialized collection; false when malformed.
bool split_collection(std::string_view bytes, std::vector<std::string>& out, bool pairs) {
    try {
        reader r(bytes);
        int32_t n = r.int32();
        if (n < 0 || static_cast<size_t>(n) > bytes.size()) return false;
        for (int32_t idx = 0; idx < n * (pairs ? 2 : 1); ++idx) {
            auto e = r.bytes();
            out.push_back(e.value_or(""));
        }
        return r.remaining() == 0;
    } catch (const protocol_error&) {
        return false;
    }
}

void append_escaped(std::string& out, std::string_view value) {
    for (char c : value) {
        out.push_back(c);
        if (c == '\0') out.push_back('\xFF');
    }
    out.push_back('\0');
    out.push_back('\x01');
}

// Decimal digits of the magnitude of a two's-complement big-endian integer
// ("0" for zero and for no bytes); `negative` tells the sign.
std::string magnitude_digits(std::string_view bytes, bool& negative) {
    std::vector<uint8_t> mag(bytes.begin(), bytes.end());
    negative = !mag.empty() && (mag[0] & 0x80) != 0;
    if (negative) {
        for (auto& b : mag) b = static_cast<uint8_t>(~b);
        for (size_t idx = mag.size(); idx-- > 0;) {
            if (++mag[idx] != 0) break;
        }
    }
    std::string digits;
    size_t start = 0;
    while (start < mag.size()) {
        if (mag[start] == 0) {
            ++start;
            continue;
        }
        unsigned remainder = 0;
        for (size_t idx = start; idx < mag.size(); ++idx) {
            unsigned current = remainder * 256 + mag[idx];
            mag[idx] = static_cast<uint8_t>(current / 10);
            remainder = current % 10;
        }
        digits.push_back(static_cast<char>('0' + remainder));
    }
    if (digits.empty()) return "0";
    std::reverse(digits.begin(), digits.end());
    return digits;
}

// Order-preserving key of unscaled * 10^-scale (varint: scale 0), so that
// memcmp order is numeric order and 1.5 == 1.50:
//   zero: 0x02.  positive: 0x03 | exponent (8, sign bit flipped) | digits | 0x00
//   negative: 0x01 | the same 8 + digits + 0x00 bytes inverted
// where the value is 0.<digits> x 10^exponent, digits without trailing zeros.
constexpr char k_number_negative = 0x01, k_number_zero = 0x02, k_number_positive = 0x03;

void append_number_order(std::string& out, int64_t scale, std::string_view unscaled) {
    bool negative = false;
    std::string digits = magnitude_digits(unscaled, negative);
    if (digits == "0") {
        out.push_back(k_number_zero);
        return;
    }
    int64_t exponent = static_cast<int64_t>(digits.size()) - scale;
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    std::string body = be(static_cast<uint64_t>(exponent) ^ (uint64_t(1) << 63), 8) + digits;
    body.push_back('\0');
    out.push_back(negative ? k_number_negative : k_number_positive);
    for (char c : body) out.push_back(negative ? static_cast<char>(~c) : c);
}

}  // namespace

std::string cql_type::name() const {
    std::string base;
    switch (kind) {
        case type_kind::list: base = fmt::format("list<{}>", params.at(0).name()); break;
        case type_kind::set: base = fmt::format("set<{}>", params.at(0).name()); break;
        case type_kind::map: base = fmt::format("map<{}, {}>", params.at(0).name(), params.at(1).name()); break;
        case type_kind::varchar: base = "text"; break;
        case type_kind::tuple: {
            base = "tuple<";
            for (size_t idx = 0; idx < params.size(); ++idx) base += (idx ? ", " : "") + params[idx].name();
            base += ">";
            break;
        }
        case type_kind::udt: base = udt_name; break;
        default:
            for (const auto& n : k_names) {
                if (n.kind == kind) {
                    base = n.name;
                    break;
                }
            }
    }
    return frozen ? fmt::format("frozen<{}>", base) : base;
}

bool cql_type::references(const std::string& ks, const std::string& udt) const {
    if (kind == type_kind::udt && keyspace == ks && udt_name == udt) return true;
    return std::any_of(params.begin(), params.end(), [&](const cql_type& p) { return p.references(ks, udt); });
}

bool split_components(std::string_view bytes, std::vector<std::optional<std::string>>& out) {
    try {
        reader r(bytes);
        while (r.remaining() > 0) {
            auto e = r.bytes();
            out.push_back(e ? std::optional<std::string>(std::string(*e)) : std::nullopt);
        }
        return true;
    } catch (const protocol_error&) {
        return false;
    }
}

std::string join_components(const std::vector<std::optional<std::string>>& components) {
    std::string out;
    writer w(out);
    for (const auto& c : components) {
        if (c) w.bytes(*c);
        else w.int32(-1);
    }
    return out;
}

result<cql_type> parse_type(std::string_view text, const udt_resolver& resolve) {
    trim(text);
    auto open = text.find('<');
    std::string head = lower(text.substr(0, open));
    std::string_view h = head;
    trim(h);
    if (open == std::string_view::npos) {
        for (const auto& n : k_names) {
            if (h == n.name) return cql_type{n.kind, {}, false};
        }
        if (resolve) {
            if (auto u = resolve(std::string(h))) return *u;
        }
        return make_error(errc::invalid_argument, "unknown type {}", text);
    }
    if (text.back() != '>') return make_error(errc::invalid_argument, "unknown type {}", text);
    std::string_view inner = text.substr(open + 1, text.size() - open - 2);
    // Split on top-level commas.
    std::vector<std::string_view> parts;
    int depth = 0;
    size_t start = 0;
    for (size_t idx = 0; idx < inner.size(); ++idx) {
        if (inner[idx] == '<') ++depth;
        if (inner[idx] == '>') --depth;
        if (inner[idx] == ',' && depth == 0) {
            parts.push_back(inner.substr(start, idx - start));
            start = idx + 1;
        }
    }
    parts.push_back(inner.substr(start));
    std::vector<cql_type> params;
    for (auto p : parts) {
        auto t = parse_type(p, resolve);
        if (!t) return t.err();
        params.push_back(*t);
    }
    if (h == "tuple" && !params.empty()) {
        // A tuple is frozen, and so is everything in it.
        for (auto& p : params) {
            if (p.is_collection() || p.kind == type_kind::udt) p.frozen = true;
        }
        return cql_type{type_kind::tuple, params, true};
    }
    if (h == "frozen" && params.size() == 1) {
        auto t = params[0];
        t.frozen = true;
        return t;
    }
    if (h == "list" && params.size() == 1) return cql_type{type_kind::list, params, false};
    if (h == "set" && params.size() == 1) return cql_type{type_kind::set, params, false};
    if (h == "map" && params.size() == 2) return cql_type{type_kind::map, params, false};
    return make_error(errc::invalid_argument, "unknown type {}", text);
}

void write_type_option(std::string& out, const cql_type& t) {
    writer w(out);
    w.uint16(static_cast<uint16_t>(t.kind));
    if (t.kind == type_kind::tuple) {
        w.uint16(static_cast<uint16_t>(t.params.size()));
    } else if (t.kind == type_kind::udt) {
        // [string keyspace][string name][short n] then n ([string field][option]).
        w.string(t.keyspace);
        w.string(t.udt_name);
        w.uint16(static_cast<uint16_t>(t.params.size()));
        for (size_t idx = 0; idx < t.params.size(); ++idx) {
            writer(out).string(t.field_names[idx]);
            write_type_option(out, t.params[idx]);
        }
        return;
    }
    for (const auto& p : t.params) write_type_option(out, p);
}

status validate_value(const cql_type& t, std::string_view bytes) {
    size_t want = fixed_size(t.kind);
    if (want != 0 && bytes.size() != want) {
        return make_error(errc::invalid_argument, "expected {} bytes for a {} value, got {}", want, t.name(), bytes.size());
    }
    if (t.kind == type_kind::inet && bytes.size() != 4 && bytes.size() != 16) {
        return make_error(errc::invalid_argument, "expected 4 or 16 bytes for an inet value, got {}", bytes.size());
    }
    if (t.kind == type_kind::decimal && bytes.size() < 4) {
        return make_error(errc::invalid_argument, "expected at least 4 bytes for a decimal value, got {}", bytes.size());
    }
    if (t.is_collection()) {
        std::vector<std::string> elements;
        if (!split_collection(bytes, elements, t.kind == type_kind::map)) return make_error(errc::invalid_argument, "malformed {} value", t.name());
    }
    if (t.kind == type_kind::tuple || t.kind == type_kind::udt) {
        std::vector<std::optional<std::string>> parts;
        if (!split_components(bytes, parts)) return make_error(errc::invalid_argument, "malformed {} value", t.name());
        if (parts.size() > t.params.size()) {
            return make_error(errc::invalid_argument, "{} value has {} components, the type has {}", t.name(), parts.size(), t.params.size());
        }
        for (size_t idx = 0; idx < parts.size(); ++idx) {
            if (!parts[idx]) continue;
            if (auto st = validate_value(t.params[idx], *parts[idx]); !st) return st;
        }
    }
    return {};
}

std::string pad_components(const cql_type& t, std::string_view bytes) {
    std::vector<std::optional<std::string>> parts;
    if (!split_components(bytes, parts) || parts.size() >= t.params.size()) return std::string(bytes);
    parts.resize(t.params.size());
    return join_components(parts);
}

void append_ordered(std::string& out, const cql_type& t, std::string_view value, bool descending) {
    size_t start = out.size();
    switch (t.kind) {
        case type_kind::tinyint: case type_kind::smallint: case type_kind::int_: case type_kind::bigint:
        case type_kind::timestamp: case type_kind::counter: case type_kind::time:
            out.append(value);
            if (!value.empty()) out[start] = static_cast<char>(out[start] ^ 0x80);
            break;
        case type_kind::boolean: case type_kind::date:
            out.append(value);
            break;
        case type_kind::float_: case type_kind::double_: {
            out.append(value);
            bool negative = !value.empty() && (uint8_t(value[0]) & 0x80);
            for (size_t idx = start; idx < out.size(); ++idx) {
                if (negative) out[idx] = static_cast<char>(~out[idx]);
                else if (idx == start) out[idx] = static_cast<char>(out[idx] ^ 0x80);
            }
            break;
        }
        case type_kind::uuid: case type_kind::timeuuid: {
            // Version first; version-1 UUIDs then by timestamp (time_hi, time_mid, time_low).
            uint8_t version = value.size() == 16 ? uint8_t(value[6]) >> 4 : 0;
            out.push_back(static_cast<char>(version));
            if (version == 1) {
                for (int idx : {6, 7, 4, 5, 0, 1, 2, 3}) out.push_back(value[idx]);
                out.append(value.substr(8));
            } else {
                out.append(value);
            }
            break;
        }
        case type_kind::varint:
            // The numeric key, then the exact bytes (a decoder returns what was written).
            append_number_order(out, 0, value);
            append_escaped(out, value);
            break;
        case type_kind::decimal:
            if (value.size() >= 4) append_number_order(out, static_cast<int32_t>(get_u32(value)), value.substr(4));
            else out.push_back(k_number_zero);
            append_escaped(out, value);
            break;
        case type_kind::tuple: case type_kind::udt: {
            // Component by component up to the last non-null one, then 0x00: 0x01 a null one, 0x02 and the
            // component's own encoding. So nulls sort first, and a udt value written before ALTER TYPE ADD (fewer
            // components) has the key of the same value with the new fields null.
            std::vector<std::optional<std::string>> parts;
            split_components(value, parts);
            while (!parts.empty() && !parts.back()) parts.pop_back();
            for (size_t idx = 0; idx < parts.size() && idx < t.params.size(); ++idx) {
                if (!parts[idx]) {
                    out.push_back('\x01');
                    continue;
                }
                out.push_back('\x02');
                append_ordered(out, t.params[idx], *parts[idx], false);
            }
            out.push_back('\x00');
            break;
        }
        default:
            append_escaped(out, value);
    }
    if (descending) {
        for (size_t idx = start; idx < out.size(); ++idx) out[idx] = static_cast<char>(~out[idx]);
    }
}

std::optional<std::string> read_ordered(std::string_view& in, const cql_type& t, bool descending) {
    auto at = [&](size_t idx) -> char { return descending ? static_cast<char>(~in[idx]) : in[idx]; };
    if (t.kind == type_kind::tuple || t.kind == type_kind::udt) {
        std::string plain;  // the components' encodings, un-inverted
        if (descending) {
            for (char c : in) plain.push_back(static_cast<char>(~c));
        }
        std::string_view rest = descending ? std::string_view(plain) : in;
        size_t before = rest.size();
        std::vector<std::optional<std::string>> parts;
        for (;;) {
            if (rest.empty()) return std::nullopt;
            char marker = rest[0];
            rest.remove_prefix(1);
            if (marker == '\x00') break;
            if (parts.size() >= t.params.size()) return std::nullopt;
            if (marker == '\x01') {
                parts.emplace_back();
                continue;
            }
            if (marker != '\x02') return std::nullopt;
            auto v = read_ordered(rest, t.params[parts.size()], false);
            if (!v) return std::nullopt;
            parts.emplace_back(std::move(*v));
        }
        parts.resize(t.params.size());  // the trailing nulls the key leaves out
        in.remove_prefix(before - rest.size());
        return join_components(parts);
    }
    size_t width = fixed_size(t.kind);
    std::string out;
    if (t.kind == type_kind::uuid || t.kind == type_kind::timeuuid) {
        if (in.size() < 17) return std::nullopt;
        std::string raw;
        for (size_t idx = 1; idx < 17; ++idx) raw.push_back(at(idx));
        if (uint8_t(at(0)) == 1) {
            out.assign(16, '\0');
            const int order[] = {6, 7, 4, 5, 0, 1, 2, 3};
            for (int idx = 0; idx < 8; ++idx) out[order[idx]] = raw[idx];
            for (int idx = 8; idx < 16; ++idx) out[idx] = raw[idx];
        } else {
            out = raw;
        }
        in.remove_prefix(17);
        return out;
    }
    size_t pos = 0;  // where the escaped bytes start
    if (t.kind == type_kind::varint || t.kind == type_kind::decimal) {
        // Skip the numeric key of append_number_order.
        if (in.empty()) return std::nullopt;
        char cls = at(0);
        pos = 1;
        if (cls == k_number_negative || cls == k_number_positive) {
            char terminator = cls == k_number_negative ? '\xFF' : '\0';
            pos += 8;
            while (pos < in.size() && at(pos) != terminator) ++pos;
            if (pos >= in.size()) return std::nullopt;
            ++pos;
        } else if (cls != k_number_zero) {
            return std::nullopt;
        }
    }
    if (width != 0) {
        if (in.size() < width) return std::nullopt;
        for (size_t idx = 0; idx < width; ++idx) out.push_back(at(idx));
        in.remove_prefix(width);
        switch (t.kind) {
            case type_kind::boolean: case type_kind::date: break;
            case type_kind::float_: case type_kind::double_:
                if (uint8_t(out[0]) & 0x80) out[0] = static_cast<char>(out[0] ^ 0x80);
                else for (auto& c : out) c = static_cast<char>(~c);
                break;
            default: out[0] = static_cast<char>(out[0] ^ 0x80);
        }
        return out;
    }
    for (size_t idx = pos; idx < in.size(); ++idx) {
        char c = at(idx);
        if (c != '\0') {
            out.push_back(c);
            continue;
        }
        if (idx + 1 >= in.size()) return std::nullopt;
        char next = at(idx + 1);
        if (next == '\x01') {
            in.remove_prefix(idx + 2);
            return out;
        }
        if (next != '\xFF') return std::nullopt;
        out.push_back('\0');
        ++idx;
    }
    return std::nullopt;
}

int compare_values(const cql_type& t, std::string_view a, std::string_view b) {
    std::string ea, eb;
    if (t.kind == type_kind::varint || t.kind == type_kind::decimal) {
        // Numbers only: 1.5 and 1.50 are equal, as in Cassandra.
        auto number = [&](std::string& out, std::string_view v) {
            if (t.kind == type_kind::varint) append_number_order(out, 0, v);
            else if (v.size() >= 4) append_number_order(out, static_cast<int32_t>(get_u32(v)), v.substr(4));
            else out.push_back(k_number_zero);
        };
        number(ea, a);
        number(eb, b);
        return ea.compare(eb) < 0 ? -1 : (ea == eb ? 0 : 1);
    }
    append_ordered(ea, t, a, false);
    append_ordered(eb, t, b, false);
    return ea.compare(eb) < 0 ? -1 : (ea == eb ? 0 : 1);
}

result<std::optional<std::string>> literal_to_value(const cql_type& t, const literal& lit, std::string_view receiver) {
    using R = result<std::optional<std::string>>;
    if (t.kind == type_kind::tuple && lit.kind != literal_kind::null) {
        // A lone value is a one-element tuple (the rest null), as Cassandra reads it.
        std::vector<literal> one;
        const auto& elements = lit.kind == literal_kind::tuple ? lit.elements : (one = {lit});
        if (elements.size() > t.params.size()) {
            return make_error(errc::invalid_argument, "Invalid tuple literal for {}: too many elements. Type {} expects {} but got {}",
                              receiver, t.name(), t.params.size(), elements.size());
        }
        std::vector<std::optional<std::string>> parts(t.params.size());
        for (size_t idx = 0; idx < elements.size(); ++idx) {
            auto v = literal_to_value(t.params[idx], elements[idx], receiver);
            if (!v) {
                return make_error(errc::invalid_argument, "Invalid tuple literal for {}: component {} is not of type {}", receiver, idx,
                                  t.params[idx].name());
            }
            parts[idx] = std::move(*v);
        }
        return std::optional<std::string>(join_components(parts));
    }
    if (t.kind == type_kind::udt && lit.kind != literal_kind::null) {
        if (lit.kind != literal_kind::udt) {
            return make_error(errc::invalid_argument, "Invalid {} literal for {} of type {}",
                              lit.kind == literal_kind::map ? "map" : lit.kind == literal_kind::set ? "set" : "literal", receiver, t.name());
        }
        std::vector<std::optional<std::string>> parts(t.params.size());
        for (size_t idx = 0; idx + 1 < lit.elements.size(); idx += 2) {
            const auto& field = lit.elements[idx].text;
            auto at = std::find(t.field_names.begin(), t.field_names.end(), field);
            if (at == t.field_names.end()) {
                return make_error(errc::invalid_argument, "Unknown field '{}' in value of user defined type {}", field, t.udt_name);
            }
            size_t f = static_cast<size_t>(at - t.field_names.begin());
            auto v = literal_to_value(t.params[f], lit.elements[idx + 1], receiver);
            if (!v) {
                return make_error(errc::invalid_argument, "Invalid user type literal for {}: field {} is not of type {}", receiver, field,
                                  t.params[f].name());
            }
            parts[f] = std::move(*v);
        }
        return std::optional<std::string>(join_components(parts));
    }
    auto mismatch = [&]() -> R {
        return make_error(errc::invalid_argument, "invalid {} constant ({}) for a value of type {}",
                          lit.kind == literal_kind::string ? "STRING" : "literal", lit.text, t.name());
    };
    if (lit.kind == literal_kind::null) return std::optional<std::string>();
    switch (t.kind) {
        case type_kind::ascii: case type_kind::varchar:
            if (lit.kind != literal_kind::string) return mismatch();
            return std::optional<std::string>(lit.text);
        case type_kind::tinyint: case type_kind::smallint: case type_kind::int_: case type_kind::bigint:
        case type_kind::counter: {
            if (lit.kind != literal_kind::integer) return mismatch();
            size_t width = fixed_size(t.kind);
            auto v = fixed_int(lit.text, width, t.name().c_str());
            if (!v) return v.err();
            return std::optional<std::string>(*v);
        }
        case type_kind::varint: {
            if (lit.kind != literal_kind::integer) return mismatch();
            auto v = parse_integer(lit.text);
            if (!v) return v.err();
            return std::optional<std::string>(varint_bytes(*v));
        }
        case type_kind::decimal: {
            if (lit.kind != literal_kind::integer && lit.kind != literal_kind::floating) return mismatch();
            std::string digits_only;
            int32_t scale = 0;
            bool after_point = false;
            std::string_view text = lit.text;
            auto e = text.find_first_of("eE");
            int64_t exponent = 0;
            if (e != std::string_view::npos) {
                auto ex = parse_integer(text.substr(e + 1));
                if (!ex) return ex.err();
                exponent = static_cast<int64_t>(*ex);
                text = text.substr(0, e);
            }
            for (char c : text) {
                if (c == '.') after_point = true;
                else {
                    digits_only.push_back(c);
                    if (after_point) ++scale;
                }
            }
            auto unscaled = parse_integer(digits_only);
            if (!unscaled) return unscaled.err();
            scale = static_cast<int32_t>(scale - exponent);
            return std::optional<std::string>(be(static_cast<uint32_t>(scale), 4) + varint_bytes(*unscaled));
        }
        case type_kind::float_: case type_kind::double_: {
            if (lit.kind != literal_kind::integer && lit.kind != literal_kind::floating) return mismatch();
            double d = std::strtod(lit.text.c_str(), nullptr);
            if (t.kind == type_kind::double_) return std::optional<std::string>(double_value(d));
            float f = static_cast<float>(d);
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            return std::optional<std::string>(be(bits, 4));
        }
        case type_kind::boolean:
            if (lit.kind != literal_kind::boolean) return mismatch();
            return std::optional<std::string>(bool_value(lower(lit.text) == "true"));
        case type_kind::uuid: case type_kind::timeuuid: {
            if (lit.kind != literal_kind::uuid && lit.kind != literal_kind::string) return mismatch();
            auto v = parse_uuid_text(lit.text);
            if (!v) return v.err();
            if (t.kind == type_kind::timeuuid && (uint8_t((*v)[6]) >> 4) != 1) {
                return make_error(errc::invalid_argument, "unsupported UUID for timeuuid column: {} is not a version 1 UUID", lit.text);
            }
            return std::optional<std::string>(*v);
        }
        case type_kind::timestamp: {
            if (lit.kind == literal_kind::integer) {
                auto v = fixed_int(lit.text, 8, "timestamp");
                if (!v) return v.err();
                return std::optional<std::string>(*v);
            }
            if (lit.kind != literal_kind::string) return mismatch();
            auto ms = parse_timestamp_millis(lit.text);
            if (!ms) return ms.err();
            return std::optional<std::string>(bigint_value(*ms));
        }
        case type_kind::date: {
            if (lit.kind == literal_kind::integer) {
                auto v = parse_integer(lit.text);
                if (!v || *v < 0 || *v > 0xFFFFFFFFLL) return mismatch();
                return std::optional<std::string>(be(static_cast<uint64_t>(*v), 4));
            }
            if (lit.kind != literal_kind::string) return mismatch();
            size_t pos = 0;
            auto days = parse_date_days(lit.text, pos);
            if (!days || pos != lit.text.size()) return make_error(errc::invalid_argument, "unable to coerce '{}' to a formatted date (yyyy-mm-dd)", lit.text);
            return std::optional<std::string>(be(static_cast<uint64_t>(*days + (int64_t(1) << 31)), 4));
        }
        case type_kind::time: {
            if (lit.kind == literal_kind::integer) {
                auto v = fixed_int(lit.text, 8, "time");
                if (!v) return v.err();
                return std::optional<std::string>(*v);
            }
            if (lit.kind != literal_kind::string) return mismatch();
            size_t pos = 0;
            auto nanos = parse_time_nanos(lit.text, pos);
            if (!nanos || pos != lit.text.size()) return make_error(errc::invalid_argument, "unable to coerce '{}' to a time (hh:mm:ss[.fffffffff])", lit.text);
            return std::optional<std::string>(bigint_value(*nanos));
        }
        case type_kind::blob: {
            if (lit.kind != literal_kind::hex) return mismatch();
            std::string_view hex = std::string_view(lit.text).substr(2);
            if (hex.size() % 2 != 0) return make_error(errc::invalid_argument, "hex string {} has an odd length", lit.text);
            std::string out;
            for (size_t idx = 0; idx < hex.size(); idx += 2) {
                out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(idx, 2)), nullptr, 16)));
            }
            return std::optional<std::string>(out);
        }
        case type_kind::inet: {
            if (lit.kind != literal_kind::string) return mismatch();
            std::string out(16, '\0');
            if (::inet_pton(AF_INET, lit.text.c_str(), out.data()) == 1) return std::optional<std::string>(out.substr(0, 4));
            if (::inet_pton(AF_INET6, lit.text.c_str(), out.data()) == 1) return std::optional<std::string>(out);
            return make_error(errc::invalid_argument, "unable to make inet address from '{}'", lit.text);
        }
        case type_kind::list: case type_kind::set: {
            bool ok_kind = lit.kind == literal_kind::list || lit.kind == literal_kind::set ||
                           (lit.kind == literal_kind::map && lit.elements.empty());
            if (!ok_kind) return mismatch();
            std::vector<std::string> elements;
            for (const auto& e : lit.elements) {
                auto v = literal_to_value(t.params[0], e, receiver);
                if (!v) return v.err();
                if (!v->has_value()) return make_error(errc::invalid_argument, "null is not supported inside collections");
                elements.push_back(**v);
            }
            if (t.kind == type_kind::set) {
                std::sort(elements.begin(), elements.end(),
                          [&](const auto& a, const auto& b) { return compare_values(t.params[0], a, b) < 0; });
                elements.erase(std::unique(elements.begin(), elements.end()), elements.end());
            }
            return std::optional<std::string>(collection_value(elements));
        }
        case type_kind::map: {
            if (lit.kind != literal_kind::map && !(lit.kind == literal_kind::set && lit.elements.empty())) return mismatch();
            std::vector<std::pair<std::string, std::string>> entries;
            for (size_t idx = 0; idx + 1 < lit.elements.size(); idx += 2) {
                auto k = literal_to_value(t.params[0], lit.elements[idx], receiver);
                if (!k) return k.err();
                auto v = literal_to_value(t.params[1], lit.elements[idx + 1], receiver);
                if (!v) return v.err();
                if (!k->has_value() || !v->has_value()) return make_error(errc::invalid_argument, "null is not supported inside collections");
                entries.emplace_back(**k, **v);
            }
            std::stable_sort(entries.begin(), entries.end(),
                             [&](const auto& a, const auto& b) { return compare_values(t.params[0], a.first, b.first) < 0; });
            return std::optional<std::string>(map_value(entries));
        }
        default:
            return mismatch();
    }
}

namespace {

struct split_value {
    std::vector<std::string> elements;                       // list, set
    std::vector<std::pair<std::string, std::string>> entries;  // map
};

split_value split(const cql_type& t, std::string_view bytes) {
    split_value out;
    std::vector<std::string> flat;
    if (!split_collection(bytes, flat, t.kind == type_kind::map)) return out;
    if (t.kind != type_kind::map) {
        out.elements = std::move(flat);
        return out;
    }
    for (size_t idx = 0; idx + 1 < flat.size(); idx += 2) out.entries.emplace_back(std::move(flat[idx]), std::move(flat[idx + 1]));
    return out;
}

std::string join(const cql_type& t, split_value v) {
    if (t.kind == type_kind::map) {
        // Stable sort, then keep the last entry of equal keys.
        std::stable_sort(v.entries.begin(), v.entries.end(),
                         [&](const auto& a, const auto& b) { return compare_values(t.params[0], a.first, b.first) < 0; });
        std::vector<std::pair<std::string, std::string>> unique;
        for (auto& e : v.entries) {
            if (!unique.empty() && compare_values(t.params[0], unique.back().first, e.first) == 0) unique.back() = std::move(e);
            else unique.push_back(std::move(e));
        }
        return map_value(unique);
    }
    if (t.kind == type_kind::set) {
        std::sort(v.elements.begin(), v.elements.end(),
                  [&](const auto& a, const auto& b) { return compare_values(t.params[0], a, b) < 0; });
        v.elements.erase(std::unique(v.elements.begin(), v.elements.end(),
                                     [&](const auto& a, const auto& b) { return compare_values(t.params[0], a, b) == 0; }),
                         v.elements.end());
    }
    return collection_value(v.elements);
}

}  // namespace

std::string normalize_collection(const cql_type& t, std::string_view bytes) {
    if (t.kind != type_kind::set && t.kind != type_kind::map) return std::string(bytes);
    std::vector<std::string> flat;
    if (!split_collection(bytes, flat, t.kind == type_kind::map)) return std::string(bytes);
    return join(t, split(t, bytes));
}

std::optional<std::string> apply_collection_op(const cql_type& t, collection_op op, const std::optional<std::string>& current,
                                               std::string_view operand) {
    split_value have = current ? split(t, *current) : split_value{};
    if (t.kind == type_kind::map && op == collection_op::remove) {
        std::vector<std::string> keys;
        split_collection(operand, keys, false);
        std::erase_if(have.entries, [&](const auto& e) {
            return std::any_of(keys.begin(), keys.end(), [&](const auto& k) { return compare_values(t.params[0], k, e.first) == 0; });
        });
    } else {
        split_value add = split(t, operand);
        switch (op) {
            case collection_op::append:
                have.elements.insert(have.elements.end(), add.elements.begin(), add.elements.end());
                have.entries.insert(have.entries.end(), add.entries.begin(), add.entries.end());
                break;
            case collection_op::prepend:
                add.elements.insert(add.elements.end(), have.elements.begin(), have.elements.end());
                have.elements = std::move(add.elements);
                break;
            case collection_op::remove:
                std::erase_if(have.elements, [&](const auto& e) {
                    return std::any_of(add.elements.begin(), add.elements.end(),
                                       [&](const auto& x) { return compare_values(t.params[0], x, e) == 0; });
                });
                break;
        }
    }
    if (have.elements.empty() && have.entries.empty()) return std::nullopt;
    return join(t, std::move(have));
}

std::string text_value(std::string_view s) { return std::string(s); }
std::string int_value(int32_t v) { return be(static_cast<uint32_t>(v), 4); }
std::string bigint_value(int64_t v) { return be(static_cast<uint64_t>(v), 8); }
std::string bool_value(bool v) { return std::string(1, v ? '\x01' : '\x00'); }
std::string double_value(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return be(bits, 8);
}
std::string uuid_value_from_string(std::string_view s) {
    auto v = parse_uuid_text(s);
    MILLRACE_ASSERT(v.ok(), "bad built-in uuid {}", s);
    return *v;
}
std::string list_value(const std::vector<std::string>& elements) { return collection_value(elements); }
std::string map_value(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string out;
    writer w(out);
    w.int32(static_cast<int32_t>(entries.size()));
    for (const auto& [k, v] : entries) {
        w.bytes(k);
        w.bytes(v);
    }
    return out;
}
std::string inet_value(std::string_view address) {
    std::string out(16, '\0');
    std::string a(address);
    if (::inet_pton(AF_INET, a.c_str(), out.data()) == 1) return out.substr(0, 4);
    if (::inet_pton(AF_INET6, a.c_str(), out.data()) == 1) return out;
    return std::string("\x7f\x00\x00\x01", 4);
}

}  // namespace millrace::cql
