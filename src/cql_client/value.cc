// Typed CQL values and their wire encoding (native protocol v4 §6).
#include <arpa/inet.h>

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "millrace/common/endian.h"
#include "millrace/cql_client/client.h"
#include "wire.h"

namespace millrace::cql_client {

namespace {

data_type simple(type_id id) {
    data_type t;
    t.id = id;
    return t;
}

bool is_integer(type_id id) {
    return id == type_id::tinyint || id == type_id::smallint || id == type_id::int_ || id == type_id::bigint ||
           id == type_id::counter;
}

bool is_textual(type_id id) { return id == type_id::varchar || id == type_id::ascii; }

[[noreturn]] void kind_mismatch(const char* accessor, const data_type& t, bool null) {
    MILLRACE_ASSERT(false, "cql value: {}() on a {} value", accessor, null ? "null" : t.to_string());
    std::abort();
}

// Minimal big-endian two's complement bytes of v.
std::string varint_of(int64_t v) {
    std::string out;
    endian::append_be<uint64_t>(out, static_cast<uint64_t>(v));
    size_t start = 0;
    while (start + 1 < out.size()) {
        auto b0 = static_cast<uint8_t>(out[start]);
        auto b1 = static_cast<uint8_t>(out[start + 1]);
        if ((b0 == 0x00 && !(b1 & 0x80)) || (b0 == 0xFF && (b1 & 0x80))) {
            ++start;
        } else {
            break;
        }
    }
    return out.substr(start);
}

std::optional<int64_t> int_of_varint(std::string_view bytes) {
    if (bytes.empty() || bytes.size() > 8) return std::nullopt;
    int64_t v = static_cast<int8_t>(bytes[0]);
    for (size_t idx = 1; idx < bytes.size(); ++idx) v = static_cast<int64_t>((static_cast<uint64_t>(v) << 8) | uint8_t(bytes[idx]));
    return v;
}

std::string be_bytes(uint64_t v, int width) {
    std::string out;
    endian::append_be_width(out, v, static_cast<size_t>(width));
    return out;
}

uint64_t be_value(std::string_view b) {
    return endian::load_be_width(b);
}

std::string quote(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "''";
        else out.push_back(c);
    }
    return out + "'";
}

}  // namespace

std::string data_type::to_string() const {
    switch (id) {
        case type_id::custom: return fmt::format("'{}'", custom_class);
        case type_id::ascii: return "ascii";
        case type_id::bigint: return "bigint";
        case type_id::blob: return "blob";
        case type_id::boolean: return "boolean";
        case type_id::counter: return "counter";
        case type_id::decimal: return "decimal";
        case type_id::double_: return "double";
        case type_id::float_: return "float";
        case type_id::int_: return "int";
        case type_id::timestamp: return "timestamp";
        case type_id::uuid: return "uuid";
        case type_id::varchar: return "text";
        case type_id::varint: return "varint";
        case type_id::timeuuid: return "timeuuid";
        case type_id::inet: return "inet";
        case type_id::date: return "date";
        case type_id::time: return "time";
        case type_id::smallint: return "smallint";
        case type_id::tinyint: return "tinyint";
        case type_id::duration: return "duration";
        case type_id::list: return fmt::format("list<{}>", params.empty() ? "?" : params[0].to_string());
        case type_id::set: return fmt::format("set<{}>", params.empty() ? "?" : params[0].to_string());
        case type_id::map:
            return params.size() < 2 ? "map<?, ?>"
                                     : fmt::format("map<{}, {}>", params[0].to_string(), params[1].to_string());
        case type_id::udt: return fmt::format("{}.{}", udt_keyspace, udt_name);
        case type_id::tuple: {
            std::string out = "tuple<";
            for (size_t idx = 0; idx < params.size(); ++idx) out += (idx ? ", " : "") + params[idx].to_string();
            return out + ">";
        }
    }
    return fmt::format("type 0x{:04x}", static_cast<unsigned>(id));
}

bool data_type::operator==(const data_type& o) const {
    return id == o.id && params == o.params && custom_class == o.custom_class && field_names == o.field_names &&
           udt_keyspace == o.udt_keyspace && udt_name == o.udt_name;
}

value value::boolean(bool v) {
    value out;
    out.type_ = simple(type_id::boolean);
    out.null_ = false;
    out.int_ = v ? 1 : 0;
    return out;
}

#define MILLRACE_INT_FACTORY(name, ctype, id_)  \
    value value::name(ctype v) {                \
        value out;                              \
        out.type_ = simple(type_id::id_);       \
        out.null_ = false;                      \
        out.int_ = v;                           \
        return out;                             \
    }
MILLRACE_INT_FACTORY(tinyint, int8_t, tinyint)
MILLRACE_INT_FACTORY(smallint, int16_t, smallint)
MILLRACE_INT_FACTORY(int32, int32_t, int_)
MILLRACE_INT_FACTORY(bigint, int64_t, bigint)
MILLRACE_INT_FACTORY(counter, int64_t, counter)
MILLRACE_INT_FACTORY(timestamp, int64_t, timestamp)
MILLRACE_INT_FACTORY(date, int32_t, date)
MILLRACE_INT_FACTORY(time, int64_t, time)
#undef MILLRACE_INT_FACTORY

value value::float32(float v) {
    value out;
    out.type_ = simple(type_id::float_);
    out.null_ = false;
    out.double_ = v;
    return out;
}

value value::float64(double v) {
    value out;
    out.type_ = simple(type_id::double_);
    out.null_ = false;
    out.double_ = v;
    return out;
}

#define MILLRACE_BYTES_FACTORY(name, id_)      \
    value value::name(std::string v) {         \
        value out;                             \
        out.type_ = simple(type_id::id_);      \
        out.null_ = false;                     \
        out.bytes_ = std::move(v);             \
        return out;                            \
    }
MILLRACE_BYTES_FACTORY(text, varchar)
MILLRACE_BYTES_FACTORY(ascii, ascii)
MILLRACE_BYTES_FACTORY(blob, blob)
MILLRACE_BYTES_FACTORY(inet, inet)
MILLRACE_BYTES_FACTORY(varint_bytes, varint)
#undef MILLRACE_BYTES_FACTORY

value value::uuid(const uuid_bytes& v) {
    value out;
    out.type_ = simple(type_id::uuid);
    out.null_ = false;
    out.bytes_.assign(reinterpret_cast<const char*>(v.data()), v.size());
    return out;
}

value value::timeuuid(const uuid_bytes& v) {
    value out = uuid(v);
    out.type_.id = type_id::timeuuid;
    return out;
}

result<value> value::uuid_from_string(std::string_view s) {
    uuid_bytes b{};
    size_t nibbles = 0;
    for (char c : s) {
        if (c == '-') continue;
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return make_error(errc::invalid_argument, "uuid '{}': '{}' is not a hex digit", s, c);
        if (nibbles >= 32) return make_error(errc::invalid_argument, "uuid '{}': more than 32 hex digits", s);
        b[nibbles / 2] = static_cast<uint8_t>(b[nibbles / 2] | (nibbles % 2 ? d : d << 4));
        ++nibbles;
    }
    if (nibbles != 32 || s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') {
        return make_error(errc::invalid_argument, "uuid '{}': expected 8-4-4-4-12 hex digits", s);
    }
    return uuid(b);
}

result<value> value::inet_from_string(std::string_view address) {
    std::string text(address);
    unsigned char buf[16];
    if (inet_pton(AF_INET, text.c_str(), buf) == 1) return inet(std::string(reinterpret_cast<char*>(buf), 4));
    if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return inet(std::string(reinterpret_cast<char*>(buf), 16));
    return make_error(errc::invalid_argument, "inet '{}': not an IPv4 or IPv6 address", address);
}

value value::varint(int64_t v) { return varint_bytes(varint_of(v)); }

value value::decimal(int32_t scale, int64_t unscaled) { return decimal_bytes(scale, varint_of(unscaled)); }

value value::decimal_bytes(int32_t scale, std::string unscaled) {
    value out;
    out.type_ = simple(type_id::decimal);
    out.null_ = false;
    out.int_ = scale;
    out.bytes_ = std::move(unscaled);
    return out;
}

value value::list(std::vector<value> elements) {
    value out;
    out.type_ = simple(type_id::list);
    out.type_.params.push_back(elements.empty() ? simple(type_id::blob) : elements[0].type());
    out.null_ = false;
    out.elements_ = std::move(elements);
    return out;
}

value value::set(std::vector<value> elements) {
    value out = list(std::move(elements));
    out.type_.id = type_id::set;
    return out;
}

value value::map(std::vector<std::pair<value, value>> entries) {
    value out;
    out.type_ = simple(type_id::map);
    out.type_.params.push_back(entries.empty() ? simple(type_id::blob) : entries[0].first.type());
    out.type_.params.push_back(entries.empty() ? simple(type_id::blob) : entries[0].second.type());
    out.null_ = false;
    for (auto& [k, v] : entries) {
        out.elements_.push_back(std::move(k));
        out.elements_.push_back(std::move(v));
    }
    return out;
}

bool value::as_bool() const {
    if (null_ || type_.id != type_id::boolean) kind_mismatch("as_bool", type_, null_);
    return int_ != 0;
}

int64_t value::as_int() const {
    if (!null_ && is_integer(type_.id)) return int_;
    if (!null_ && type_.id == type_id::varint) {
        if (auto v = int_of_varint(bytes_)) return *v;
    }
    kind_mismatch("as_int", type_, null_);
}

double value::as_double() const {
    if (!null_ && (type_.id == type_id::float_ || type_.id == type_id::double_)) return double_;
    if (!null_ && is_integer(type_.id)) return static_cast<double>(int_);
    kind_mismatch("as_double", type_, null_);
}

const std::string& value::as_bytes() const {
    if (null_) kind_mismatch("as_bytes", type_, null_);
    switch (type_.id) {
        case type_id::varchar:
        case type_id::ascii:
        case type_id::blob:
        case type_id::varint:
        case type_id::decimal:
        case type_id::inet:
        case type_id::uuid:
        case type_id::timeuuid:
        case type_id::custom:
        case type_id::duration:
            return bytes_;
        default:
            kind_mismatch("as_bytes", type_, null_);
    }
}

uuid_bytes value::as_uuid() const {
    if (null_ || (type_.id != type_id::uuid && type_.id != type_id::timeuuid)) kind_mismatch("as_uuid", type_, null_);
    uuid_bytes out{};
    std::memcpy(out.data(), bytes_.data(), std::min<size_t>(16, bytes_.size()));
    return out;
}

std::string value::uuid_string() const {
    auto b = as_uuid();
    std::string out;
    for (size_t idx = 0; idx < 16; ++idx) {
        if (idx == 4 || idx == 6 || idx == 8 || idx == 10) out.push_back('-');
        out += fmt::format("{:02x}", b[idx]);
    }
    return out;
}

int64_t value::as_timestamp() const {
    if (null_ || type_.id != type_id::timestamp) kind_mismatch("as_timestamp", type_, null_);
    return int_;
}

int32_t value::as_date() const {
    if (null_ || type_.id != type_id::date) kind_mismatch("as_date", type_, null_);
    return static_cast<int32_t>(int_);
}

int64_t value::as_time() const {
    if (null_ || type_.id != type_id::time) kind_mismatch("as_time", type_, null_);
    return int_;
}

std::string value::inet_string() const {
    if (null_ || type_.id != type_id::inet) kind_mismatch("inet_string", type_, null_);
    char buf[64] = {0};
    if (bytes_.size() == 4) inet_ntop(AF_INET, bytes_.data(), buf, sizeof buf);
    else if (bytes_.size() == 16) inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
    else return fmt::format("<inet of {} bytes>", bytes_.size());
    return buf;
}

int32_t value::decimal_scale() const {
    if (null_ || type_.id != type_id::decimal) kind_mismatch("decimal_scale", type_, null_);
    return static_cast<int32_t>(int_);
}

const std::vector<value>& value::elements() const {
    if (null_ || (type_.id != type_id::list && type_.id != type_id::set && type_.id != type_id::tuple)) {
        kind_mismatch("elements", type_, null_);
    }
    return elements_;
}

std::vector<std::pair<value, value>> value::entries() const {
    if (null_ || type_.id != type_id::map) kind_mismatch("entries", type_, null_);
    std::vector<std::pair<value, value>> out;
    for (size_t idx = 0; idx + 1 < elements_.size(); idx += 2) out.emplace_back(elements_[idx], elements_[idx + 1]);
    return out;
}

std::string value::to_string() const {
    if (null_) return "null";
    switch (type_.id) {
        case type_id::boolean: return int_ ? "true" : "false";
        case type_id::tinyint:
        case type_id::smallint:
        case type_id::int_:
        case type_id::bigint:
        case type_id::counter:
        case type_id::timestamp:
        case type_id::date:
        case type_id::time:
            return std::to_string(int_);
        case type_id::float_:
        case type_id::double_:
            return fmt::format("{}", double_);
        case type_id::varchar:
        case type_id::ascii:
            return quote(bytes_);
        case type_id::uuid:
        case type_id::timeuuid:
            return uuid_string();
        case type_id::inet: return quote(inet_string());
        case type_id::varint: {
            if (auto v = int_of_varint(bytes_)) return std::to_string(*v);
            break;
        }
        case type_id::decimal: {
            if (auto v = int_of_varint(bytes_)) return fmt::format("{}E{}", *v, -int_);
            break;
        }
        case type_id::list:
        case type_id::set:
        case type_id::tuple: {
            std::string out = type_.id == type_id::list ? "[" : type_.id == type_id::set ? "{" : "(";
            for (size_t idx = 0; idx < elements_.size(); ++idx) out += (idx ? ", " : "") + elements_[idx].to_string();
            return out + (type_.id == type_id::list ? "]" : type_.id == type_id::set ? "}" : ")");
        }
        case type_id::map: {
            std::string out = "{";
            for (size_t idx = 0; idx + 1 < elements_.size(); idx += 2) {
                out += fmt::format("{}{}: {}", idx ? ", " : "", elements_[idx].to_string(), elements_[idx + 1].to_string());
            }
            return out + "}";
        }
        default: break;
    }
    std::string hex = "0x";
    for (char c : bytes_) hex += fmt::format("{:02x}", uint8_t(c));
    return hex;
}

bool value::operator==(const value& o) const {
    if (null_ || o.null_) return null_ == o.null_;
    if (type_.id != o.type_.id) return false;
    return int_ == o.int_ && (double_ == o.double_ || (std::isnan(double_) && std::isnan(o.double_))) &&
           bytes_ == o.bytes_ && elements_ == o.elements_;
}

result<std::string> value::encode(const data_type* target) const {
    const data_type& t = target ? *target : type_;
    if (null_) return make_error(errc::invalid_argument, "null has no encoding (send a null cell)");
    auto mismatch = [&]() {
        return make_error(errc::invalid_argument, "cannot encode a {} value {} as {}", type_.to_string(), to_string(),
                          t.to_string());
    };
    switch (t.id) {
        case type_id::boolean:
            if (type_.id != type_id::boolean) return mismatch();
            return std::string(1, int_ ? '\1' : '\0');
        case type_id::tinyint:
        case type_id::smallint:
        case type_id::int_:
        case type_id::bigint:
        case type_id::counter: {
            if (!is_integer(type_.id) && type_.id != type_id::varint) return mismatch();
            int64_t v = as_int();
            int width = t.id == type_id::tinyint ? 1 : t.id == type_id::smallint ? 2 : t.id == type_id::int_ ? 4 : 8;
            if (width < 8) {
                int64_t lo = -(int64_t(1) << (width * 8 - 1));
                int64_t hi = (int64_t(1) << (width * 8 - 1)) - 1;
                if (v < lo || v > hi) {
                    return make_error(errc::invalid_argument, "value {} does not fit in {} ({}..{})", v,
                                      t.to_string(), lo, hi);
                }
            }
            return be_bytes(static_cast<uint64_t>(v), width);
        }
        case type_id::timestamp:
        case type_id::time:
            if (type_.id != t.id && !is_integer(type_.id)) return mismatch();
            return be_bytes(static_cast<uint64_t>(int_), 8);
        case type_id::date:
            if (type_.id != t.id && !is_integer(type_.id)) return mismatch();
            return be_bytes(static_cast<uint32_t>(static_cast<int64_t>(1u << 31) + int_), 4);
        case type_id::float_: {
            if (type_.id != type_id::float_ && type_.id != type_id::double_ && !is_integer(type_.id)) return mismatch();
            float f = static_cast<float>(as_double());
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            return be_bytes(bits, 4);
        }
        case type_id::double_: {
            if (type_.id != type_id::float_ && type_.id != type_id::double_ && !is_integer(type_.id)) return mismatch();
            double d = as_double();
            uint64_t bits;
            std::memcpy(&bits, &d, 8);
            return be_bytes(bits, 8);
        }
        case type_id::varchar:
        case type_id::ascii:
            if (!is_textual(type_.id)) return mismatch();
            if (t.id == type_id::ascii) {
                for (char c : bytes_) {
                    if (static_cast<uint8_t>(c) > 127) {
                        return make_error(errc::invalid_argument, "text {} is not ascii", quote(bytes_));
                    }
                }
            }
            return bytes_;
        case type_id::blob:
        case type_id::custom:
        case type_id::duration:
            if (type_.id != type_id::blob && type_.id != t.id) return mismatch();
            return bytes_;
        case type_id::uuid:
        case type_id::timeuuid:
            if (type_.id != type_id::uuid && type_.id != type_id::timeuuid) return mismatch();
            return bytes_;
        case type_id::inet:
            if (type_.id != type_id::inet) return mismatch();
            return bytes_;
        case type_id::varint:
            if (type_.id == type_id::varint) return bytes_;
            if (is_integer(type_.id)) return varint_of(int_);
            return mismatch();
        case type_id::decimal: {
            if (type_.id != type_id::decimal) return mismatch();
            std::string out = be_bytes(static_cast<uint32_t>(int_), 4);
            return out + bytes_;
        }
        case type_id::list:
        case type_id::set:
        case type_id::map: {
            bool is_map = t.id == type_id::map;
            if (is_map != (type_.id == type_id::map) ||
                (type_.id != type_id::list && type_.id != type_id::set && type_.id != type_id::map)) {
                return mismatch();
            }
            std::string out;
            wire::wire_writer w(out);
            w.int32(static_cast<int32_t>(is_map ? elements_.size() / 2 : elements_.size()));
            for (size_t idx = 0; idx < elements_.size(); ++idx) {
                const data_type* element_type = nullptr;
                if (target && !t.params.empty()) element_type = is_map ? &t.params[idx % 2 == 0 ? 0 : 1] : &t.params[0];
                if (elements_[idx].is_null()) {
                    return make_error(errc::invalid_argument, "{} element {} is null (collections cannot hold nulls)",
                                      t.to_string(), idx);
                }
                auto bytes = elements_[idx].encode(element_type);
                if (!bytes.ok()) return bytes.err();
                w.bytes(*bytes);
            }
            return out;
        }
        case type_id::udt:
        case type_id::tuple: {
            if (type_.id != type_id::tuple && type_.id != type_id::udt) return mismatch();
            std::string out;
            wire::wire_writer w(out);
            for (size_t idx = 0; idx < elements_.size(); ++idx) {
                if (elements_[idx].is_null()) {
                    w.bytes(std::nullopt);
                    continue;
                }
                const data_type* element_type = target && idx < t.params.size() ? &t.params[idx] : nullptr;
                auto bytes = elements_[idx].encode(element_type);
                if (!bytes.ok()) return bytes.err();
                w.bytes(*bytes);
            }
            return out;
        }
    }
    return mismatch();
}

result<value> value::decode(const data_type& t, std::optional<std::string_view> bytes) {
    value out;
    out.type_ = t;
    if (!bytes) return out;
    std::string_view b = *bytes;
    out.null_ = false;
    auto need = [&](size_t n) -> status {
        if (b.size() != n) {
            return make_error(errc::corruption, "{} cell of {} bytes, expected {}", t.to_string(), b.size(), n);
        }
        return {};
    };
    switch (t.id) {
        case type_id::boolean: {
            if (auto s = need(1); !s.ok()) return s.err();
            out.int_ = b[0] != 0;
            return out;
        }
        case type_id::tinyint:
        case type_id::smallint:
        case type_id::int_:
        case type_id::bigint:
        case type_id::counter:
        case type_id::timestamp:
        case type_id::time: {
            size_t width = t.id == type_id::tinyint ? 1 : t.id == type_id::smallint ? 2 : t.id == type_id::int_ ? 4 : 8;
            if (b.empty() && t.id != type_id::time) {  // an empty cell reads as null, as drivers do
                out.null_ = true;
                return out;
            }
            if (auto s = need(width); !s.ok()) return s.err();
            uint64_t raw = be_value(b);
            int shift = static_cast<int>(64 - width * 8);
            out.int_ = shift ? static_cast<int64_t>(raw << shift) >> shift : static_cast<int64_t>(raw);
            return out;
        }
        case type_id::date: {
            if (auto s = need(4); !s.ok()) return s.err();
            out.int_ = static_cast<int64_t>(be_value(b)) - (int64_t(1) << 31);
            return out;
        }
        case type_id::float_: {
            if (auto s = need(4); !s.ok()) return s.err();
            auto bits = static_cast<uint32_t>(be_value(b));
            float f;
            std::memcpy(&f, &bits, 4);
            out.double_ = f;
            return out;
        }
        case type_id::double_: {
            if (auto s = need(8); !s.ok()) return s.err();
            uint64_t bits = be_value(b);
            std::memcpy(&out.double_, &bits, 8);
            return out;
        }
        case type_id::uuid:
        case type_id::timeuuid: {
            if (auto s = need(16); !s.ok()) return s.err();
            out.bytes_ = std::string(b);
            return out;
        }
        case type_id::inet: {
            if (b.size() != 4 && b.size() != 16) {
                return make_error(errc::corruption, "inet cell of {} bytes, expected 4 or 16", b.size());
            }
            out.bytes_ = std::string(b);
            return out;
        }
        case type_id::decimal: {
            if (b.size() < 4) return make_error(errc::corruption, "decimal cell of {} bytes, expected at least 4", b.size());
            out.int_ = static_cast<int32_t>(be_value(b.substr(0, 4)));
            out.bytes_ = std::string(b.substr(4));
            return out;
        }
        case type_id::list:
        case type_id::set:
        case type_id::map: {
            bool is_map = t.id == type_id::map;
            if (t.params.size() < (is_map ? 2u : 1u)) {
                return make_error(errc::corruption, "{} type without element types", t.to_string());
            }
            try {
                wire::wire_reader r(b);
                int32_t n = r.int32();
                if (n < 0 || static_cast<size_t>(n) > b.size()) {
                    return make_error(errc::corruption, "{} cell of {} bytes claims {} elements", t.to_string(),
                                      b.size(), n);
                }
                for (int32_t idx = 0; idx < n * (is_map ? 2 : 1); ++idx) {
                    const data_type& element_type = is_map ? t.params[idx % 2] : t.params[0];
                    auto element = decode(element_type, r.bytes());
                    if (!element.ok()) return element.err().with_context(t.to_string());
                    out.elements_.push_back(std::move(element).value());
                }
                if (r.remaining() != 0) {
                    return make_error(errc::corruption, "{} cell has {} trailing bytes", t.to_string(), r.remaining());
                }
            } catch (const wire::decode_error& e) {
                return make_error(errc::corruption, "{} cell of {} bytes: {}", t.to_string(), b.size(), e.what());
            }
            return out;
        }
        case type_id::tuple:
        case type_id::udt: {
            try {
                wire::wire_reader r(b);
                for (size_t idx = 0; idx < t.params.size() && r.remaining() > 0; ++idx) {
                    auto element = decode(t.params[idx], r.bytes());
                    if (!element.ok()) return element.err().with_context(t.to_string());
                    out.elements_.push_back(std::move(element).value());
                }
            } catch (const wire::decode_error& e) {
                return make_error(errc::corruption, "{} cell of {} bytes: {}", t.to_string(), b.size(), e.what());
            }
            return out;
        }
        default:
            out.bytes_ = std::string(b);
            return out;
    }
}

}  // namespace millrace::cql_client
