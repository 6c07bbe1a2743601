// Selectors other than columns and count(*): token(), TTL(), WRITETIME() inside
// functions, CAST, toJson and the time functions (Cassandra's native scalar
// functions), typed for the result metadata and evaluated per row.
#include "statements/statement_runner.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstring>

#include "millrace/common/json_text.h"
#include "protocol/wire.h"
#include "storage/murmur3.h"

namespace millrace::cql {
namespace {

constexpr uint64_t k_uuid_epoch_offset = 0x01B21DD213814000ULL;  // 100 ns intervals from 1582-10-15 to 1970-01-01
constexpr int64_t k_millis_per_day = 86400000;
constexpr uint32_t k_date_epoch = 1U << 31;  // the date type counts days with 1970-01-01 at 2^31

cql_type scalar(type_kind k) { return cql_type{k, {}, false}; }

int64_t timeuuid_millis(std::string_view u) {
    uint64_t time_low = key_format::get_be(u, 4), time_mid = key_format::get_be(u.substr(4), 2);
    uint64_t time_hi = key_format::get_be(u.substr(6), 2) & 0x0FFF;
    uint64_t ts = (time_hi << 48) | (time_mid << 32) | time_low;
    return static_cast<int64_t>((ts - k_uuid_epoch_offset) / 10000);
}

// The smallest or largest timeuuid of a millisecond (Cassandra's minTimeuuid/maxTimeuuid clock sequences).
std::string timeuuid_of_millis(int64_t millis, bool max) {
    uint64_t ts = static_cast<uint64_t>(millis) * 10000 + k_uuid_epoch_offset + (max ? 9999 : 0);
    std::string out;
    key_format::put_be(out, ts & 0xFFFFFFFFULL, 4);
    key_format::put_be(out, (ts >> 32) & 0xFFFF, 2);
    key_format::put_be(out, ((ts >> 48) & 0x0FFF) | 0x1000, 2);
    key_format::put_be(out, max ? 0x7f7f7f7f7f7f7f7fULL : 0x8080808080808080ULL, 8);
    return out;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string uuid_text(std::string_view u) {
    std::string hex;
    for (unsigned char c : u) hex += fmt::format("{:02x}", c);
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" + hex.substr(20);
}

std::string date_text(int64_t days) {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    int64_t z = days + 719468, era = floor_div(z, 146097);
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    return fmt::format("{:04d}-{:02d}-{:02d}", y + (m <= 2), m, d);
}

std::string timestamp_text(int64_t millis) {
    int64_t days = floor_div(millis, k_millis_per_day), rest = millis - days * k_millis_per_day;
    return fmt::format("{} {:02d}:{:02d}:{:02d}.{:03d}Z", date_text(days), rest / 3600000, rest / 60000 % 60, rest / 1000 % 60, rest % 1000);
}

std::string json_string(std::string_view s) { return json_text::quote(s); }

double float_of(const cql_type& t, std::string_view v) {
    uint64_t bits = key_format::get_be(v, v.size());
    if (t.kind == type_kind::float_) {
        float f;
        uint32_t b = static_cast<uint32_t>(bits);
        std::memcpy(&f, &b, 4);
        return f;
    }
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
}

bool is_integer(type_kind k) {
    return k == type_kind::int_ || k == type_kind::bigint || k == type_kind::smallint || k == type_kind::tinyint ||
           k == type_kind::counter || k == type_kind::varint;
}

}  // namespace

// The JSON text of a value (Cassandra's toJson and SELECT JSON formats).
std::string json_value(const cql_type& t, const std::optional<std::string>& v) {
    if (!v) return "null";
    std::string_view b = *v;
    switch (t.kind) {
        case type_kind::ascii: case type_kind::varchar: return json_string(b);
        case type_kind::boolean: return !b.empty() && b[0] ? "true" : "false";
        case type_kind::int_: case type_kind::bigint: case type_kind::smallint: case type_kind::tinyint: case type_kind::counter:
        case type_kind::varint:
            return b.size() <= 8 ? std::to_string(be_int(b)) : json_string("0x" + uuid_text(b));
        case type_kind::float_: case type_kind::double_: {
            double d = float_of(t, b);
            if (std::isnan(d) || std::isinf(d)) return "null";
            return fmt::format("{}", d);
        }
        case type_kind::uuid: case type_kind::timeuuid: return b.size() == 16 ? json_string(uuid_text(b)) : "null";
        case type_kind::timestamp: return json_string(timestamp_text(be_int(b)));
        case type_kind::date: return json_string(date_text(static_cast<int64_t>(key_format::get_be(b, 4)) - k_date_epoch));
        case type_kind::blob: {
            std::string hex = "0x";
            for (unsigned char c : b) hex += fmt::format("{:02x}", c);
            return json_string(hex);
        }
        case type_kind::inet: {
            if (b.size() == 4) return json_string(fmt::format("{}.{}.{}.{}", uint8_t(b[0]), uint8_t(b[1]), uint8_t(b[2]), uint8_t(b[3])));
            char text[INET6_ADDRSTRLEN] = {};
            if (b.size() != 16 || ::inet_ntop(AF_INET6, b.data(), text, sizeof text) == nullptr) return "null";
            return json_string(text);
        }
        case type_kind::decimal: {
            // scale (4) | unscaled varint, written as Java's BigDecimal.toString does for small scales.
            if (b.size() < 5 || b.size() > 12) return "null";
            auto scale = static_cast<int32_t>(key_format::get_be(b, 4));
            int64_t unscaled = be_int(b.substr(4));
            std::string digits = std::to_string(unscaled < 0 ? -unscaled : unscaled);
            if (scale < 0) return fmt::format("{}{}E+{}", unscaled < 0 ? "-" : "", digits, -int64_t(scale));
            if (digits.size() <= size_t(scale)) digits.insert(0, size_t(scale) - digits.size() + 1, '0');
            if (scale > 0) digits.insert(digits.size() - size_t(scale), ".");
            return (unscaled < 0 ? "-" : "") + digits;
        }
        case type_kind::list: case type_kind::set: case type_kind::map: {
            reader r(b);
            int32_t n = r.int32();
            std::string out = t.kind == type_kind::map ? "{" : "[";
            for (int32_t idx = 0; idx < n; ++idx) {
                if (idx) out += ", ";
                if (t.kind == type_kind::map) {
                    auto key = r.bytes();
                    std::string k = json_value(t.params[0], key);
                    if (k.empty() || k[0] != '"') k = json_string(k);
                    out += k + ": " + json_value(t.params[1], r.bytes());
                } else {
                    out += json_value(t.params[0], r.bytes());
                }
            }
            return out + (t.kind == type_kind::map ? "}" : "]");
        }
        case type_kind::tuple: case type_kind::udt: {
            // A tuple as a list, a udt as an object of its fields (missing components are null).
            std::vector<std::optional<std::string>> parts;
            split_components(b, parts);
            parts.resize(t.params.size());
            bool udt = t.kind == type_kind::udt;
            std::string out = udt ? "{" : "[";
            for (size_t idx = 0; idx < parts.size(); ++idx) {
                if (idx) out += ", ";
                if (udt) out += json_string(t.field_names[idx]) + ": ";
                out += json_value(t.params[idx], parts[idx]);
            }
            return out + (udt ? "}" : "]");
        }
        default: return json_string(uuid_text(b));
    }
}

result<cql_type> statement_runner::selector_type(const selector_expr& e, const std::vector<std::pair<std::string, cql_type>>& all_columns,
                                                 const table_def* tbl) const {
    using k = selector_expr::kind;
    switch (e.k) {
        case k::column: {
            for (const auto& [name, type] : all_columns) {
                if (name == e.name) return type;
            }
            return make_error(errc::invalid_argument, "Undefined column name {}", e.name);
        }
        case k::literal:
            if (e.lit.kind == literal_kind::integer) return scalar(type_kind::int_);
            if (e.lit.kind == literal_kind::floating) return scalar(type_kind::double_);
            if (e.lit.kind == literal_kind::boolean) return scalar(type_kind::boolean);
            return scalar(type_kind::varchar);
        case k::ttl: case k::writetime: {
            const char* fn = e.k == k::ttl ? "ttl" : "writetime";
            const column_def_full* col = tbl ? tbl->find(e.args[0].name) : nullptr;
            if (tbl && col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", e.args[0].name);
            if (col && (col->kind == column_kind::partition_key || col->kind == column_kind::clustering)) {
                return make_error(errc::invalid_argument, "Cannot use selection function {} on PRIMARY KEY part {}", fn, col->name);
            }
            return scalar(e.k == k::ttl ? type_kind::int_ : type_kind::bigint);
        }
        case k::cast: {
            auto from = selector_type(e.args[0], all_columns, tbl);
            if (!from) return from.err();
            auto to = parse_type(e.cast_type);
            if (!to) return to.err();
            bool textual = to->kind == type_kind::varchar || to->kind == type_kind::ascii;
            bool numeric = is_integer(to->kind) || to->kind == type_kind::float_ || to->kind == type_kind::double_;
            bool from_numeric = is_integer(from->kind) || from->kind == type_kind::float_ || from->kind == type_kind::double_;
            if (!textual && !(numeric && from_numeric) && !(*to == *from)) {
                return make_error(errc::invalid_argument, "{} cannot be cast to {}", from->name(), to->name());
            }
            return *to;
        }
        case k::field: {
            auto from = selector_type(e.args[0], all_columns, tbl);
            if (!from) return from.err();
            if (from->kind != type_kind::udt) {
                return make_error(errc::invalid_argument, "Invalid field selection: {} of type {} is not a user type", e.args[0].display(),
                                  from->name());
            }
            auto at = std::find(from->field_names.begin(), from->field_names.end(), e.name);
            if (at == from->field_names.end()) {
                return make_error(errc::invalid_argument, "{} of type {} has no field {}", e.args[0].display(), from->name(), e.name);
            }
            return from->params[size_t(at - from->field_names.begin())];
        }
        case k::function: break;
    }
    for (const auto& arg : e.args) {
        auto at = selector_type(arg, all_columns, tbl);
        if (!at) return at.err();
    }
    const std::string& f = e.name;
    auto arity = [&](size_t n) -> status {
        if (e.args.size() != n) {
            return make_error(errc::invalid_argument, "Invalid number of arguments in call to function system.{}: {} required but {} provided",
                              f, n, e.args.size());
        }
        return {};
    };
    if (f == "token") {
        if (tbl == nullptr) return make_error(errc::invalid_argument, "token() is not supported on system tables");
        bool ok = e.args.size() == tbl->partition_key.size();
        for (size_t idx = 0; ok && idx < e.args.size(); ++idx) {
            ok = e.args[idx].k == selector_expr::kind::column && e.args[idx].name == tbl->columns[tbl->partition_key[idx]].name;
        }
        if (!ok) return make_error(errc::invalid_argument, "Invalid arguments for function system.token: the partition key columns in order");
        return scalar(type_kind::bigint);
    }
    if (f == "now" || f == "uuid") {
        if (auto st = arity(0); !st) return st.err();
        return scalar(f == "now" ? type_kind::timeuuid : type_kind::uuid);
    }
    if (f == "totimestamp" || f == "dateof") {
        if (auto st = arity(1); !st) return st.err();
        return scalar(type_kind::timestamp);
    }
    if (f == "todate") {
        if (auto st = arity(1); !st) return st.err();
        return scalar(type_kind::date);
    }
    if (f == "tounixtimestamp" || f == "unixtimestampof") {
        if (auto st = arity(1); !st) return st.err();
        return scalar(type_kind::bigint);
    }
    if (f == "mintimeuuid" || f == "maxtimeuuid") {
        if (auto st = arity(1); !st) return st.err();
        return scalar(type_kind::timeuuid);
    }
    if (f == "tojson") {
        if (auto st = arity(1); !st) return st.err();
        return scalar(type_kind::varchar);
    }
    return make_error(errc::invalid_argument, "Unknown function '{}'", f);
}

result<statement_runner::value> statement_runner::eval_selector(const selector_expr& e, const selector_row& row) const {
    using k = selector_expr::kind;
    auto type_of = [&](const selector_expr& x) -> std::optional<cql_type> {
        auto t = selector_type(x, *row.all_columns, row.tbl);
        if (!t) return std::nullopt;
        return *t;
    };
    switch (e.k) {
        case k::column: return row.column(e.name);
        case k::literal: {
            auto t = selector_type(e, {}, nullptr);
            if (!t) return t.err();
            return literal_to_value(*t, e.lit);
        }
        case k::ttl: case k::writetime: {
            const kf::cell* c = row.meta(e.args[0].name);
            if (c == nullptr) return value();
            if (e.k == k::writetime) return value(bigint_value(c->timestamp));
            if (c->ttl == 0) return value();
            return value(int_value(static_cast<int32_t>(c->expiry > now_seconds() ? c->expiry - now_seconds() : 0)));
        }
        case k::cast: {
            auto v = eval_selector(e.args[0], row);
            if (!v || !v->has_value()) return v;
            auto from = type_of(e.args[0]);
            auto to = parse_type(e.cast_type);
            if (!from || !to) return value();
            std::string_view b = **v;
            if (to->kind == type_kind::varchar || to->kind == type_kind::ascii) {
                if (from->kind == type_kind::varchar || from->kind == type_kind::ascii) return v;
                std::string j = json_value(*from, *v);
                if (j.size() >= 2 && j.front() == '"') j = j.substr(1, j.size() - 2);
                if (from->kind == type_kind::timestamp) j[10] = 'T';
                return value(j);
            }
            if (*to == *from) return v;
            bool from_float = from->kind == type_kind::float_ || from->kind == type_kind::double_;
            double d = from_float ? float_of(*from, b) : static_cast<double>(be_int(b));
            int64_t i = from_float ? static_cast<int64_t>(d) : be_int(b);
            std::string out;
            switch (to->kind) {
                case type_kind::tinyint: key_format::put_be(out, static_cast<uint64_t>(i), 1); break;
                case type_kind::smallint: key_format::put_be(out, static_cast<uint64_t>(i), 2); break;
                case type_kind::int_: key_format::put_be(out, static_cast<uint64_t>(i), 4); break;
                case type_kind::bigint: case type_kind::counter: case type_kind::varint: key_format::put_be(out, static_cast<uint64_t>(i), 8); break;
                case type_kind::float_: {
                    float f = static_cast<float>(d);
                    uint32_t bits;
                    std::memcpy(&bits, &f, 4);
                    key_format::put_be(out, bits, 4);
                    break;
                }
                default: {
                    uint64_t bits;
                    std::memcpy(&bits, &d, 8);
                    key_format::put_be(out, bits, 8);
                }
            }
            return value(out);
        }
        case k::field: {
            auto v = eval_selector(e.args[0], row);
            if (!v || !v->has_value()) return v;
            auto from = type_of(e.args[0]);
            if (!from || from->kind != type_kind::udt) return value();
            auto at = std::find(from->field_names.begin(), from->field_names.end(), e.name);
            std::vector<std::optional<std::string>> parts;
            split_components(**v, parts);
            size_t idx = size_t(at - from->field_names.begin());
            return idx < parts.size() ? parts[idx] : value();
        }
        case k::function: break;
    }
    const std::string& f = e.name;
    if (f == "token") return value(bigint_value(murmur3_token(token_input(*row.pk))));
    if (f == "now" || f == "uuid") return value(generate_uuid(f == "now"));
    auto arg_type = [&]() -> cql_type {
        if ((f == "mintimeuuid" || f == "maxtimeuuid") && e.args[0].k == k::literal) return scalar(type_kind::timestamp);
        return type_of(e.args[0]).value_or(scalar(type_kind::varchar));
    };
    cql_type at = arg_type();
    value arg;
    if (e.args[0].k == k::literal) {
        auto v = literal_to_value(at, e.args[0].lit);
        if (!v) return v.err();
        arg = *v;
    } else {
        auto v = eval_selector(e.args[0], row);
        if (!v) return v.err();
        arg = *v;
    }
    if (f == "tojson") return value(json_value(at, arg));
    if (!arg) return value();
    // The argument as milliseconds since the epoch.
    int64_t millis = 0;
    switch (at.kind) {
        case type_kind::timeuuid: millis = timeuuid_millis(*arg); break;
        case type_kind::timestamp: millis = be_int(*arg); break;
        case type_kind::date: millis = (static_cast<int64_t>(key_format::get_be(*arg, 4)) - k_date_epoch) * k_millis_per_day; break;
        default: return make_error(errc::invalid_argument, "Type error: {} cannot be passed as argument 0 of function system.{}", at.name(), f);
    }
    if (f == "totimestamp" || f == "dateof") return value(bigint_value(millis));
    if (f == "tounixtimestamp" || f == "unixtimestampof") return value(bigint_value(millis));
    if (f == "todate") {
        std::string out;
        key_format::put_be(out, static_cast<uint64_t>(floor_div(millis, k_millis_per_day) + k_date_epoch), 4);
        return value(out);
    }
    return value(timeuuid_of_millis(millis, f == "maxtimeuuid"));
}

}  // namespace millrace::cql
