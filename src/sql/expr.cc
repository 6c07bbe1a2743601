#include "expr.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <re2/re2.h>

#include "json_path.h"
#include "time_util.h"

namespace millrace::sql {

int64_t eval_ctx::now() const {
    if (clock) return clock();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string upper_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

namespace {

using timeutil::k_ms_per_day;

int rank(type_id id) {
    switch (id) {
        case type_id::tinyint: return 1;
        case type_id::smallint: return 2;
        case type_id::int_: return 3;
        case type_id::bigint: return 4;
        case type_id::decimal: return 5;
        case type_id::float_: return 6;
        case type_id::double_: return 7;
        default: return 0;
    }
}

int integer_digits(type_id id) {
    switch (id) {
        case type_id::tinyint: return 3;
        case type_id::smallint: return 5;
        case type_id::int_: return 10;
        default: return 19;
    }
}

int64_t pow10(int n) {
    int64_t v = 1;
    while (n-- > 0) v *= 10;
    return v;
}

double as_double(const value& v, const sql_type& t) {
    if (t.id == type_id::decimal) return static_cast<double>(v.i) / static_cast<double>(pow10(t.scale));
    if (t.id == type_id::float_ || t.id == type_id::double_) return v.d;
    return static_cast<double>(v.i);
}

// A decimal of `scale` from an integer or decimal value; nullopt on overflow.
std::optional<int64_t> rescale(int64_t unscaled, int from_scale, int to_scale) {
    if (to_scale >= from_scale) {
        __int128 r = static_cast<__int128>(unscaled) * pow10(to_scale - from_scale);
        if (r > INT64_MAX || r < INT64_MIN) return std::nullopt;
        return static_cast<int64_t>(r);
    }
    int64_t div = pow10(from_scale - to_scale);
    int64_t q = unscaled / div, rem = unscaled % div;
    if (std::llabs(rem) * 2 >= div) q += unscaled < 0 ? -1 : 1;  // half up (away from zero)
    return q;
}

bool fits_precision(int64_t unscaled, int precision) {
    if (precision >= 19) return true;
    int64_t limit = pow10(precision);
    return unscaled < limit && unscaled > -limit;
}

// UTF-8 code point boundaries.
std::vector<size_t> code_points(std::string_view s) {
    std::vector<size_t> starts;
    for (size_t pos = 0; pos < s.size(); ++pos) {
        if ((static_cast<unsigned char>(s[pos]) & 0xC0) != 0x80) starts.push_back(pos);
    }
    return starts;
}
size_t char_length(std::string_view s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

std::string type_text(const sql_type& t) { return t.to_string(); }

[[noreturn]] void bind_fail(position where, std::string message) { throw bind_error{where, std::move(message)}; }

std::string wrap_int(int64_t v, type_id id, int64_t& out) {
    switch (id) {
        case type_id::tinyint: out = static_cast<int8_t>(v); break;
        case type_id::smallint: out = static_cast<int16_t>(v); break;
        case type_id::int_: out = static_cast<int32_t>(static_cast<uint32_t>(v)); break;
        default: out = v; break;
    }
    return {};
}

sql_type nullable(sql_type t, bool n) {
    t.nullable = n;
    return t;
}

std::string trim_spaces(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

}  // namespace

std::string java_double(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    double mag = std::fabs(d);
    char buf[64];
    if (mag >= 1e-3 && mag < 1e7) {
        auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
        std::string s(buf, r.ptr);
        if (s.find('.') == std::string::npos) s += ".0";
        return s;
    }
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string s(buf, r.ptr);
    size_t e = s.find('e');
    std::string mant = s.substr(0, e);
    int exp = std::stoi(s.substr(e + 1));
    if (mant.find('.') == std::string::npos) mant += ".0";
    return fmt::format("{}E{}", mant, exp);
}

std::string value_to_text(const value& v, const sql_type& t) {
    switch (t.id) {
        case type_id::boolean: return v.b ? "TRUE" : "FALSE";
        case type_id::tinyint: case type_id::smallint: case type_id::int_: case type_id::bigint: return std::to_string(v.i);
        case type_id::float_: return java_double(static_cast<double>(static_cast<float>(v.d)));
        case type_id::double_: return java_double(v.d);
        case type_id::decimal: {
            std::string digits = std::to_string(v.i < 0 ? -static_cast<__int128>(v.i) > INT64_MAX ? 0 : -v.i : v.i);
            if (t.scale > 0) {
                if (digits.size() <= static_cast<size_t>(t.scale)) digits.insert(0, static_cast<size_t>(t.scale) + 1 - digits.size(), '0');
                digits.insert(digits.size() - static_cast<size_t>(t.scale), ".");
            }
            return v.i < 0 ? "-" + digits : digits;
        }
        case type_id::char_: case type_id::varchar: case type_id::binary: case type_id::varbinary: return v.s;
        case type_id::date: return timeutil::format_pattern(v.i * k_ms_per_day, "yyyy-MM-dd");
        case type_id::time: return timeutil::format_pattern(v.i, "HH:mm:ss");
        case type_id::timestamp: case type_id::timestamp_ltz: {
            std::string s = timeutil::format_pattern(v.i, "yyyy-MM-dd HH:mm:ss");
            if (t.precision > 0) {
                std::string frac = fmt::format("{:03}", timeutil::floor_div(v.i, 1) - timeutil::floor_div(v.i, 1000) * 1000);
                while (static_cast<int>(frac.size()) < t.precision) frac += '0';
                s += "." + frac.substr(0, static_cast<size_t>(t.precision));
            }
            return s;
        }
        default: return format_value(v, t);
    }
}

std::optional<value> parse_text_as(std::string_view raw, const sql_type& to) {
    std::string text = trim_spaces(raw);
    switch (to.id) {
        case type_id::boolean: {
            std::string u = upper_ascii(text);
            if (u == "TRUE" || u == "T" || u == "YES" || u == "Y" || u == "1") return value::from_bool(true);
            if (u == "FALSE" || u == "F" || u == "NO" || u == "N" || u == "0") return value::from_bool(false);
            return std::nullopt;
        }
        case type_id::tinyint: case type_id::smallint: case type_id::int_: case type_id::bigint: {
            int64_t v = 0;
            const char* b = text.data();
            if (!text.empty() && text[0] == '+') ++b;
            auto [ptr, ec] = std::from_chars(b, text.data() + text.size(), v);
            if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
            int digits = integer_digits(to.id);
            (void)digits;
            int64_t lo = to.id == type_id::tinyint ? INT8_MIN : to.id == type_id::smallint ? INT16_MIN : to.id == type_id::int_ ? INT32_MIN : INT64_MIN;
            int64_t hi = to.id == type_id::tinyint ? INT8_MAX : to.id == type_id::smallint ? INT16_MAX : to.id == type_id::int_ ? INT32_MAX : INT64_MAX;
            if (v < lo || v > hi) return std::nullopt;
            return value::from_int(v);
        }
        case type_id::float_: case type_id::double_: {
            if (text.empty()) return std::nullopt;
            std::string u = upper_ascii(text);
            if (u == "NAN") return value::from_double(NAN);
            if (u == "INFINITY" || u == "+INFINITY") return value::from_double(INFINITY);
            if (u == "-INFINITY") return value::from_double(-INFINITY);
            double d = 0;
            const char* b = text.data();
            if (text[0] == '+') ++b;
            auto [ptr, ec] = std::from_chars(b, text.data() + text.size(), d);
            if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
            if (to.id == type_id::float_) d = static_cast<float>(d);
            return value::from_double(d);
        }
        case type_id::decimal: {
            if (text.empty()) return std::nullopt;
            size_t pos = 0;
            bool negative = false;
            if (text[pos] == '+' || text[pos] == '-') negative = text[pos++] == '-';
            __int128 unscaled = 0;
            int scale = 0;
            bool dot = false, any = false;
            int extra = 0;  // digits beyond the target scale, first one kept for rounding
            int round_digit = -1;
            for (; pos < text.size(); ++pos) {
                char c = text[pos];
                if (c == '.' && !dot) { dot = true; continue; }
                if (c < '0' || c > '9') return std::nullopt;
                any = true;
                if (dot && scale >= to.scale) {
                    if (extra++ == 0) round_digit = c - '0';
                    continue;
                }
                unscaled = unscaled * 10 + (c - '0');
                if (dot) ++scale;
                if (unscaled > static_cast<__int128>(INT64_MAX) * 10) return std::nullopt;
            }
            if (!any) return std::nullopt;
            while (scale < to.scale) { unscaled *= 10; ++scale; }
            if (round_digit >= 5) unscaled += 1;
            if (negative) unscaled = -unscaled;
            if (unscaled > INT64_MAX || unscaled < INT64_MIN || !fits_precision(static_cast<int64_t>(unscaled), to.precision)) return std::nullopt;
            return value::from_int(static_cast<int64_t>(unscaled));
        }
        case type_id::char_: case type_id::varchar: case type_id::binary: case type_id::varbinary:
            return value::from_string(std::string(raw));
        case type_id::date: {
            auto d = timeutil::parse_date(text);
            if (!d) {
                auto ts = timeutil::parse_timestamp(text, true, false);
                if (!ts) return std::nullopt;
                return value::from_int(timeutil::floor_div(*ts, k_ms_per_day));
            }
            return value::from_int(*d);
        }
        case type_id::time: {
            auto t = timeutil::parse_time(text);
            if (!t) return std::nullopt;
            return value::from_int(*t);
        }
        case type_id::timestamp: case type_id::timestamp_ltz: {
            auto ts = timeutil::parse_timestamp(text, true, to.id == type_id::timestamp_ltz);
            if (!ts) return std::nullopt;
            return value::from_int(*ts);
        }
        default: return std::nullopt;
    }
}

bool castable(const sql_type& from, const sql_type& to) {
    if (from.id == type_id::null_type) return true;
    if (from.is_string() || to.is_string()) {
        if (to.is_string()) return true;
        return to.id != type_id::array && to.id != type_id::map && to.id != type_id::row && !to.is_interval();
    }
    if (from.is_numeric() && to.is_numeric()) return true;
    if (from.id == type_id::boolean && (to.is_numeric() || to.id == type_id::boolean)) return true;
    if (from.is_numeric() && to.id == type_id::boolean) return true;
    if ((from.is_timestamp() || from.id == type_id::date) && (to.is_timestamp() || to.id == type_id::date)) return true;
    if (from.is_timestamp() && to.id == type_id::time) return true;
    if (from.id == type_id::time && to.id == type_id::time) return true;
    if (from.is_binary() && to.is_binary()) return true;
    if (from.is_interval() && from.id == to.id) return true;
    if (from.id == to.id && (from.id == type_id::array || from.id == type_id::map || from.id == type_id::row)) return from.same_as(to);
    return false;
}

bool implicitly_castable(const sql_type& from, const sql_type& to) {
    if (from.id == type_id::null_type) return true;
    if (from.is_string() && to.is_string()) return true;
    if (from.is_binary() && to.is_binary()) return true;
    if (from.is_numeric() && to.is_numeric()) return rank(from.id) <= rank(to.id) || to.id == type_id::decimal || from.id == type_id::decimal;
    if (from.is_timestamp() && to.is_timestamp()) return true;
    if (from.id == to.id) return from.id != type_id::array && from.id != type_id::map && from.id != type_id::row ? true : from.same_as(to);
    return false;
}

std::optional<sql_type> common_type(const sql_type& a, const sql_type& b) {
    bool n = a.nullable || b.nullable;
    if (a.id == type_id::null_type) return nullable(b, true);
    if (b.id == type_id::null_type) return nullable(a, true);
    if (a.is_string() && b.is_string()) {
        if (a.id == type_id::char_ && b.id == type_id::char_ && a.precision == b.precision) return nullable(a, n);
        return nullable(sql_type::of(type_id::varchar, std::max(a.precision, b.precision)), n);
    }
    if (a.is_binary() && b.is_binary()) return nullable(sql_type::of(type_id::varbinary, std::max(a.precision, b.precision)), n);
    if (a.is_numeric() && b.is_numeric()) {
        if (a.id == type_id::decimal || b.id == type_id::decimal) {
            if (a.id == type_id::double_ || b.id == type_id::double_ || a.id == type_id::float_ || b.id == type_id::float_) return nullable(sql_type::double_(), n);
            int sa = a.id == type_id::decimal ? a.scale : 0, sb = b.id == type_id::decimal ? b.scale : 0;
            int ia = a.id == type_id::decimal ? a.precision - a.scale : integer_digits(a.id);
            int ib = b.id == type_id::decimal ? b.precision - b.scale : integer_digits(b.id);
            int s = std::max(sa, sb);
            int p = std::min(18, std::max(ia, ib) + s);
            return nullable(sql_type::of(type_id::decimal, p, s), n);
        }
        return nullable(rank(a.id) >= rank(b.id) ? a : b, n);
    }
    if (a.is_timestamp() && b.is_timestamp()) {
        sql_type t = a.id == b.id ? a : sql_type::timestamp_ltz(3);
        t.precision = std::max(a.precision, b.precision);
        return nullable(t, n);
    }
    if (a.id == b.id && a.same_as(b)) return nullable(a, n);
    if (a.id == b.id && (a.id == type_id::boolean || a.id == type_id::date || a.is_interval())) return nullable(a, n);
    if (a.id == type_id::time && b.id == type_id::time) return nullable(a, n);
    return std::nullopt;
}

value cast_value(const value& v, const sql_type& from, const sql_type& to) {
    if (v.is_null()) return v;
    if (from.id == to.id && from.precision == to.precision && from.scale == to.scale && !to.is_string()) return v;
    auto fail = [&](std::string why = "") -> value {
        throw eval_failure{"", why.empty() ? fmt::format("cannot cast {} of type {} to {}", format_value(v, from), from.to_string(), to.to_string()) : why};
    };
    if (to.is_string()) {
        std::string s = from.is_string() ? v.s : value_to_text(v, from);
        if (to.id == type_id::char_ || to.precision < k_max_varchar) {
            auto starts = code_points(s);
            if (starts.size() > static_cast<size_t>(to.precision)) s.resize(starts[static_cast<size_t>(to.precision)]);
            if (to.id == type_id::char_) {
                size_t len = char_length(s);
                if (len < static_cast<size_t>(to.precision)) s.append(static_cast<size_t>(to.precision) - len, ' ');
            }
        }
        return value::from_string(std::move(s));
    }
    if (from.is_string()) {
        if (to.is_binary()) return value::from_string(v.s);
        auto parsed = parse_text_as(v.s, to);
        if (!parsed) fail(fmt::format("cannot cast '{}' to {}", v.s, to.to_string()));
        return *parsed;
    }
    switch (to.id) {
        case type_id::boolean:
            if (from.id == type_id::boolean) return v;
            if (from.is_numeric()) return value::from_bool(as_double(v, from) != 0);
            break;
        case type_id::tinyint: case type_id::smallint: case type_id::int_: case type_id::bigint: {
            int64_t raw = 0;
            if (from.id == type_id::boolean) raw = v.b ? 1 : 0;
            else if (from.is_integer()) raw = v.i;
            else if (from.id == type_id::decimal) raw = v.i / pow10(from.scale);
            else if (from.id == type_id::float_ || from.id == type_id::double_) {
                // Java's (long) cast: NaN -> 0, saturating at the range.
                double d = std::trunc(v.d);
                if (std::isnan(d)) raw = 0;
                else if (d >= 9.2233720368547758e18) raw = INT64_MAX;
                else if (d <= -9.2233720368547758e18) raw = INT64_MIN;
                else raw = static_cast<int64_t>(d);
                if (to.id != type_id::bigint) {
                    // (int) of a double saturates at the int range, then narrows.
                    if (raw > INT32_MAX) raw = INT32_MAX;
                    if (raw < INT32_MIN) raw = INT32_MIN;
                }
            } else break;
            int64_t out = 0;
            wrap_int(raw, to.id, out);
            return value::from_int(out);
        }
        case type_id::float_: case type_id::double_: {
            double d = 0;
            if (from.id == type_id::boolean) d = v.b ? 1 : 0;
            else if (from.is_numeric()) d = as_double(v, from);
            else break;
            if (to.id == type_id::float_) d = static_cast<float>(d);
            return value::from_double(d);
        }
        case type_id::decimal: {
            std::optional<int64_t> unscaled;
            if (from.id == type_id::boolean) unscaled = rescale(v.b ? 1 : 0, 0, to.scale);
            else if (from.is_integer()) unscaled = rescale(v.i, 0, to.scale);
            else if (from.id == type_id::decimal) unscaled = rescale(v.i, from.scale, to.scale);
            else if (from.id == type_id::float_ || from.id == type_id::double_) {
                long double scaled = std::round(static_cast<long double>(v.d) * pow10(to.scale));
                if (std::isfinite(v.d) && scaled < 9.2e18L && scaled > -9.2e18L) unscaled = static_cast<int64_t>(scaled);
            } else break;
            // Flink: a value that does not fit the precision becomes NULL.
            if (!unscaled || !fits_precision(*unscaled, to.precision)) return value::null();
            return value::from_int(*unscaled);
        }
        case type_id::date:
            if (from.is_timestamp()) return value::from_int(timeutil::floor_div(v.i, k_ms_per_day));
            break;
        case type_id::time:
            if (from.is_timestamp()) return value::from_int(v.i - timeutil::floor_div(v.i, k_ms_per_day) * k_ms_per_day);
            if (from.id == type_id::time) return v;
            break;
        case type_id::timestamp: case type_id::timestamp_ltz:
            if (from.id == type_id::date) return value::from_int(v.i * k_ms_per_day);
            if (from.is_timestamp()) return v;
            break;
        case type_id::binary: case type_id::varbinary:
            if (from.is_binary()) return v;
            break;
        default:
            if (from.same_as(to)) return v;
            break;
    }
    return fail();
}

int compare_values(const value& a, const sql_type& ta, const value& b, const sql_type& tb) {
    if (ta.is_numeric() && tb.is_numeric()) {
        if (ta.is_integer() && tb.is_integer()) return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
        if (ta.id == type_id::decimal && tb.id == type_id::decimal) {
            int s = std::max(ta.scale, tb.scale);
            __int128 x = static_cast<__int128>(a.i) * pow10(s - ta.scale), y = static_cast<__int128>(b.i) * pow10(s - tb.scale);
            return x < y ? -1 : x > y ? 1 : 0;
        }
        if ((ta.id == type_id::decimal || ta.is_integer()) && (tb.id == type_id::decimal || tb.is_integer())) {
            int sa = ta.id == type_id::decimal ? ta.scale : 0, sb = tb.id == type_id::decimal ? tb.scale : 0;
            int s = std::max(sa, sb);
            __int128 x = static_cast<__int128>(a.i) * pow10(s - sa), y = static_cast<__int128>(b.i) * pow10(s - sb);
            return x < y ? -1 : x > y ? 1 : 0;
        }
        double x = as_double(a, ta), y = as_double(b, tb);
        if (std::isnan(x) || std::isnan(y)) return std::isnan(x) ? (std::isnan(y) ? 0 : 1) : -1;  // Java: NaN greatest
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (ta.id == type_id::boolean) return a.b == b.b ? 0 : a.b ? 1 : -1;
    if (a.kind == value_kind::text) {
        int c = a.s.compare(b.s);
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (ta.id == type_id::date && tb.is_timestamp()) return compare_values(value::from_int(a.i * k_ms_per_day), tb, b, tb);
    if (tb.id == type_id::date && ta.is_timestamp()) return compare_values(a, ta, value::from_int(b.i * k_ms_per_day), ta);
    if (a.kind == value_kind::list) {
        size_t n = std::min(a.items.size(), b.items.size());
        for (size_t idx = 0; idx < n; ++idx) {
            const sql_type& ea = ta.id == type_id::row ? ta.children[idx] : ta.id == type_id::map ? ta.children[idx % 2] : ta.children[0];
            const sql_type& eb = tb.id == type_id::row ? tb.children[idx] : tb.id == type_id::map ? tb.children[idx % 2] : tb.children[0];
            if (a.items[idx].is_null() || b.items[idx].is_null()) {
                if (a.items[idx].is_null() != b.items[idx].is_null()) return a.items[idx].is_null() ? -1 : 1;
                continue;
            }
            int c = compare_values(a.items[idx], ea, b.items[idx], eb);
            if (c) return c;
        }
        return a.items.size() < b.items.size() ? -1 : a.items.size() > b.items.size() ? 1 : 0;
    }
    return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Binding

namespace {

bound_ptr make_bound(sql_type t, std::function<value(const row&, eval_ctx&)> f, std::string text) {
    auto b = std::make_shared<bound_expr>();
    b->type = std::move(t);
    b->eval = std::move(f);
    b->text = std::move(text);
    return b;
}

std::string expr_text(const ast::expr& e) {
    if (!e.text.empty()) return e.text;
    switch (e.kind) {
        case ast::expr_kind::column: return e.qualifier.empty() ? e.name : e.qualifier + "." + e.name;
        case ast::expr_kind::literal: return format_value(e.literal, e.type);
        case ast::expr_kind::call: return e.name + "(...)";
        default: return e.name.empty() ? "expression" : e.name;
    }
}

std::string describe(const bound_ptr& b) {
    sql_type t = b->type;
    t.nullable = true;
    return fmt::format("{} ({})", b->text, type_text(t));
}

bound_ptr implicit(bound_ptr b, const sql_type& to) {
    if (b->type.same_as(to)) return b;
    return cast_expr(b, to, false, {});
}

// The type both sides of a comparison convert to; a string against a number,
// date or timestamp converts the string (Flink's implicit coercion).
std::optional<sql_type> comparison_type(const sql_type& a, const sql_type& b) {
    if (auto c = common_type(a, b)) return c;
    if (a.is_string() && (b.is_numeric() || b.id == type_id::date || b.is_timestamp() || b.id == type_id::boolean)) return nullable(b, true);
    if (b.is_string() && (a.is_numeric() || a.id == type_id::date || a.is_timestamp() || a.id == type_id::boolean)) return nullable(a, true);
    if (a.id == type_id::date && b.is_timestamp()) return b;
    if (b.id == type_id::date && a.is_timestamp()) return a;
    return std::nullopt;
}

bound_ptr bool_result(std::function<value(const row&, eval_ctx&)> f, std::string text, bool nullable_result = true) {
    sql_type t = sql_type::boolean();
    t.nullable = nullable_result;
    return make_bound(t, std::move(f), std::move(text));
}

bound_ptr bind_comparison(const std::string& op, bound_ptr l, bound_ptr r, position where, const std::string& text) {
    auto t = comparison_type(l->type, r->type);
    if (!t) bind_fail(where, fmt::format("cannot compare {} with {}", describe(l), describe(r)));
    l = implicit(l, *t);
    r = implicit(r, *t);
    sql_type ct = *t;
    int mode = op == "=" ? 0 : op == "<>" ? 1 : op == "<" ? 2 : op == "<=" ? 3 : op == ">" ? 4 : 5;
    return bool_result([l, r, ct, mode](const row& in, eval_ctx& ctx) {
        value a = l->eval(in, ctx);
        if (a.is_null()) return value::null();
        value b = r->eval(in, ctx);
        if (b.is_null()) return value::null();
        int c = compare_values(a, ct, b, ct);
        bool res = false;
        switch (mode) {
            case 0: res = c == 0; break;
            case 1: res = c != 0; break;
            case 2: res = c < 0; break;
            case 3: res = c <= 0; break;
            case 4: res = c > 0; break;
            default: res = c >= 0; break;
        }
        return value::from_bool(res);
    }, text, l->type.nullable || r->type.nullable);
}

int64_t add_months(int64_t millis, int64_t months) {
    int64_t days = timeutil::floor_div(millis, k_ms_per_day);
    int64_t rest = millis - days * k_ms_per_day;
    int64_t y = 0;
    unsigned m = 0, d = 0;
    timeutil::civil_from_days(days, y, m, d);
    int64_t total = y * 12 + (m - 1) + months;
    int64_t ny = timeutil::floor_div(total, 12);
    unsigned nm = static_cast<unsigned>(total - ny * 12 + 1);
    static const unsigned k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned limit = k_days[nm - 1];
    if (nm == 2 && ((ny % 4 == 0 && ny % 100 != 0) || ny % 400 == 0)) limit = 29;
    if (d > limit) d = limit;
    return timeutil::days_from_civil(ny, nm, d) * k_ms_per_day + rest;
}

bound_ptr bind_arithmetic(const std::string& op, bound_ptr l, bound_ptr r, position where, const std::string& text) {
    const sql_type& a = l->type;
    const sql_type& b = r->type;
    bool n = a.nullable || b.nullable;
    // Temporal arithmetic.
    if ((op == "+" || op == "-") && (a.is_timestamp() || a.id == type_id::date) && b.is_interval()) {
        sql_type rt = a;
        rt.nullable = n;
        bool months = b.id == type_id::interval_year_month;
        bool date = a.id == type_id::date;
        int sign = op == "+" ? 1 : -1;
        return make_bound(rt, [l, r, months, date, sign](const row& in, eval_ctx& ctx) {
            value x = l->eval(in, ctx);
            value y = r->eval(in, ctx);
            if (x.is_null() || y.is_null()) return value::null();
            int64_t ms = date ? x.i * k_ms_per_day : x.i;
            ms = months ? add_months(ms, sign * y.i) : ms + sign * y.i;
            return value::from_int(date ? timeutil::floor_div(ms, k_ms_per_day) : ms);
        }, text);
    }
    if (op == "+" && a.is_interval() && (b.is_timestamp() || b.id == type_id::date)) return bind_arithmetic(op, r, l, where, text);
    if ((op == "+" || op == "-") && a.is_interval() && b.id == a.id) {
        int sign = op == "+" ? 1 : -1;
        return make_bound(nullable(a, n), [l, r, sign](const row& in, eval_ctx& ctx) {
            value x = l->eval(in, ctx), y = r->eval(in, ctx);
            if (x.is_null() || y.is_null()) return value::null();
            return value::from_int(x.i + sign * y.i);
        }, text);
    }
    if (a.id == type_id::null_type && b.is_numeric()) return bind_arithmetic(op, implicit(l, b), r, where, text);
    if (b.id == type_id::null_type && a.is_numeric()) return bind_arithmetic(op, l, implicit(r, a), where, text);
    if (!a.is_numeric() || !b.is_numeric()) {
        static const std::map<std::string, std::string> k_verbs = {{"+", "add"}, {"-", "subtract"}, {"*", "multiply"}, {"/", "divide"}, {"%", "take the remainder of"}};
        bind_fail(where, fmt::format("cannot {} {} and {}", k_verbs.at(op), describe(l), describe(r)));
    }
    bool floating = a.id == type_id::double_ || b.id == type_id::double_ || a.id == type_id::float_ || b.id == type_id::float_;
    if (floating) {
        sql_type rt = (a.id == type_id::double_ || b.id == type_id::double_) ? sql_type::double_() : sql_type::of(type_id::float_);
        rt.nullable = n;
        auto ll = implicit(l, rt), rr = implicit(r, rt);
        bool is_float = rt.id == type_id::float_;
        char o = op[0];
        return make_bound(rt, [ll, rr, o, is_float](const row& in, eval_ctx& ctx) {
            value x = ll->eval(in, ctx), y = rr->eval(in, ctx);
            if (x.is_null() || y.is_null()) return value::null();
            double res = 0;
            switch (o) {
                case '+': res = x.d + y.d; break;
                case '-': res = x.d - y.d; break;
                case '*': res = x.d * y.d; break;
                case '/': res = x.d / y.d; break;
                default: res = std::fmod(x.d, y.d); break;
            }
            if (is_float) res = static_cast<float>(res);
            return value::from_double(res);
        }, text);
    }
    if (a.id == type_id::decimal || b.id == type_id::decimal) {
        int sa = a.id == type_id::decimal ? a.scale : 0, sb = b.id == type_id::decimal ? b.scale : 0;
        int pa = a.id == type_id::decimal ? a.precision : integer_digits(a.id);
        int pb = b.id == type_id::decimal ? b.precision : integer_digits(b.id);
        int rs = 0, rp = 0;
        char o = op[0];
        switch (o) {
            case '+': case '-': rs = std::max(sa, sb); rp = std::min(18, std::max(pa - sa, pb - sb) + rs + 1); break;
            case '*': rs = std::min(18, sa + sb); rp = std::min(18, pa + pb + 1); break;
            case '/': rs = std::min(18, std::max(6, sa + pb + 1)); rp = 18; break;
            default: rs = std::max(sa, sb); rp = std::min(18, std::min(pa - sa, pb - sb) + rs); break;
        }
        if (rs > rp) rs = rp;
        sql_type rt = sql_type::of(type_id::decimal, rp, rs);
        rt.nullable = true;  // overflow gives NULL
        sql_type ta = sql_type::of(type_id::decimal, std::min(18, pa), sa), tb = sql_type::of(type_id::decimal, std::min(18, pb), sb);
        auto ll = a.id == type_id::decimal ? l : implicit(l, ta);
        auto rr = b.id == type_id::decimal ? r : implicit(r, tb);
        return make_bound(rt, [ll, rr, o, sa, sb, rs, rp](const row& in, eval_ctx& ctx) {
            value x = ll->eval(in, ctx), y = rr->eval(in, ctx);
            if (x.is_null() || y.is_null()) return value::null();
            __int128 res = 0;
            int s = std::max(sa, sb);
            __int128 xa = static_cast<__int128>(x.i) * pow10(s - sa), yb = static_cast<__int128>(y.i) * pow10(s - sb);
            switch (o) {
                case '+': res = (xa + yb) * pow10(rs - s); break;
                case '-': res = (xa - yb) * pow10(rs - s); break;
                case '*': {
                    res = static_cast<__int128>(x.i) * y.i;  // scale sa + sb
                    int from = sa + sb;
                    if (from > rs) {
                        __int128 div = pow10(from - rs);
                        __int128 q = res / div, rem = res % div;
                        if ((rem < 0 ? -rem : rem) * 2 >= div) q += res < 0 ? -1 : 1;
                        res = q;
                    }
                    break;
                }
                case '/': {
                    if (y.i == 0) throw eval_failure{"", "division by zero"};
                    // x / y at scale rs: x * 10^(rs + sb - sa) / y, rounded half up.
                    int shift = rs + sb - sa;
                    __int128 num = static_cast<__int128>(x.i);
                    __int128 den = y.i;
                    if (shift >= 0) {
                        for (int k = 0; k < shift; ++k) {
                            if (num > static_cast<__int128>(INT64_MAX) * 1000000000LL || num < -static_cast<__int128>(INT64_MAX) * 1000000000LL) return value::null();
                            num *= 10;
                        }
                    } else den *= pow10(-shift);
                    __int128 q = num / den, rem = num % den;
                    if ((rem < 0 ? -rem : rem) * 2 >= (den < 0 ? -den : den)) q += ((num < 0) != (den < 0)) ? -1 : 1;
                    res = q;
                    break;
                }
                default: {
                    if (yb == 0) throw eval_failure{"", "division by zero"};
                    res = (xa % yb) * pow10(rs - s);
                    break;
                }
            }
            if (res > INT64_MAX || res < INT64_MIN || !fits_precision(static_cast<int64_t>(res), rp)) return value::null();
            return value::from_int(static_cast<int64_t>(res));
        }, text);
    }
    // Integers: Java semantics (wrap around on overflow); integer division truncates.
    sql_type rt = rank(a.id) >= rank(b.id) ? a : b;
    if (rank(rt.id) < rank(type_id::int_)) rt = sql_type::int_();
    rt.nullable = n;
    rt.precision = 0;
    char o = op[0];
    type_id id = rt.id;
    std::string lt = l->text, rtext = r->text;
    return make_bound(rt, [l, r, o, id](const row& in, eval_ctx& ctx) {
        value x = l->eval(in, ctx), y = r->eval(in, ctx);
        if (x.is_null() || y.is_null()) return value::null();
        uint64_t ux = static_cast<uint64_t>(x.i), uy = static_cast<uint64_t>(y.i);
        int64_t res = 0;
        switch (o) {
            case '+': res = static_cast<int64_t>(ux + uy); break;
            case '-': res = static_cast<int64_t>(ux - uy); break;
            case '*': res = static_cast<int64_t>(ux * uy); break;
            case '/':
                if (y.i == 0) throw eval_failure{"", "division by zero"};
                res = (x.i == INT64_MIN && y.i == -1) ? INT64_MIN : x.i / y.i;
                break;
            default:
                if (y.i == 0) throw eval_failure{"", "division by zero"};
                res = y.i == -1 ? 0 : x.i % y.i;
                break;
        }
        int64_t out = 0;
        wrap_int(res, id, out);
        return value::from_int(out);
    }, text);
}

bool like_match(std::string_view s, std::string_view p, char escape) {
    // Iterative wildcard matching over bytes; '_' matches one UTF-8 code point.
    size_t si = 0, pi = 0, star_p = std::string_view::npos, star_s = 0;
    auto cp_len = [&](size_t at) {
        size_t n = 1;
        while (at + n < s.size() && (static_cast<unsigned char>(s[at + n]) & 0xC0) == 0x80) ++n;
        return n;
    };
    while (si < s.size()) {
        if (pi < p.size()) {
            char pc = p[pi];
            if (escape && pc == escape && pi + 1 < p.size()) {
                if (s[si] == p[pi + 1]) { ++si; pi += 2; continue; }
            } else if (pc == '%') {
                star_p = pi++;
                star_s = si;
                continue;
            } else if (pc == '_') {
                si += cp_len(si);
                ++pi;
                continue;
            } else if (pc == s[si]) {
                ++si;
                ++pi;
                continue;
            }
        }
        if (star_p == std::string_view::npos) return false;
        pi = star_p + 1;
        star_s += cp_len(star_s);
        si = star_s;
    }
    while (pi < p.size() && p[pi] == '%') ++pi;
    return pi == p.size();
}

std::string format_uuid(std::mt19937_64& rng) {
    uint64_t hi = rng(), lo = rng();
    hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
    lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48,
                       lo & 0xFFFFFFFFFFFFULL);
}

int64_t extract_field(const std::string& unit, int64_t millis, bool is_date, position where) {
    int64_t days = is_date ? millis : timeutil::floor_div(millis, k_ms_per_day);
    int64_t rest = is_date ? 0 : millis - days * k_ms_per_day;
    int64_t y = 0;
    unsigned m = 0, d = 0;
    timeutil::civil_from_days(days, y, m, d);
    if (unit == "YEAR") return y;
    if (unit == "QUARTER") return (m - 1) / 3 + 1;
    if (unit == "MONTH") return m;
    if (unit == "DAY" || unit == "DAYOFMONTH") return d;
    if (unit == "HOUR") return rest / 3600000;
    if (unit == "MINUTE") return rest / 60000 % 60;
    if (unit == "SECOND") return rest / 1000 % 60;
    if (unit == "MILLISECOND") return rest / 1000 % 60 * 1000 + rest % 1000;
    if (unit == "DOW" || unit == "DAYOFWEEK") return ((days % 7 + 7 + 4) % 7) + 1;  // Sunday = 1
    if (unit == "DOY" || unit == "DAYOFYEAR") return days - timeutil::days_from_civil(y, 1, 1) + 1;
    if (unit == "EPOCH") return timeutil::floor_div(is_date ? millis * k_ms_per_day : millis, 1000);
    if (unit == "WEEK") {
        // ISO-8601 week of year.
        int64_t dow = ((days % 7 + 7 + 3) % 7);  // Monday = 0
        int64_t thursday = days - dow + 3;
        int64_t ty = 0;
        unsigned tm = 0, td = 0;
        timeutil::civil_from_days(thursday, ty, tm, td);
        return (thursday - timeutil::days_from_civil(ty, 1, 1)) / 7 + 1;
    }
    throw bind_error{where, fmt::format("EXTRACT unit {} is not supported", unit)};
}

const std::set<std::string>& extract_units() {
    static const std::set<std::string> k = {"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DAYOFMONTH", "HOUR", "MINUTE", "SECOND",
                                            "MILLISECOND", "DOW", "DAYOFWEEK", "DOY", "DAYOFYEAR", "EPOCH"};
    return k;
}

void require_args(const ast::expr& e, size_t lo, size_t hi) {
    if (e.args.size() < lo || e.args.size() > hi) {
        if (lo == hi) bind_fail(e.where, fmt::format("{} takes {} argument{}, got {}", e.name, lo, lo == 1 ? "" : "s", e.args.size()));
        bind_fail(e.where, fmt::format("{} takes {} to {} arguments, got {}", e.name, lo, hi, e.args.size()));
    }
}

void require_string(const ast::expr& e, const bound_ptr& b, size_t position_number) {
    if (!b->type.is_string() && b->type.id != type_id::null_type) {
        bind_fail(e.where, fmt::format("argument {} of {} must be a string, got {}", position_number, e.name, describe(b)));
    }
}
void require_integer(const ast::expr& e, const bound_ptr& b, size_t position_number) {
    if (!b->type.is_integer() && b->type.id != type_id::null_type) {
        bind_fail(e.where, fmt::format("argument {} of {} must be an integer, got {}", position_number, e.name, describe(b)));
    }
}

bool any_nullable(const std::vector<bound_ptr>& args) {
    for (const auto& a : args) {
        if (a->type.nullable) return true;
    }
    return false;
}

std::string utf8_upper(std::string s, bool up) {
    for (char& c : s) c = static_cast<char>(up ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// REGEXP_* run user patterns on RE2: linear time in the input and no recursion, so a long input or a
// pathological pattern cannot overflow the stack or hang the job (std::regex did both). RE2 is the
// syntax of Java's patterns without backreferences and lookaround; those make the pattern invalid (NULL).
struct regex_cache {
    std::string pattern;
    std::unique_ptr<re2::RE2> re;
    const re2::RE2* get(const std::string& p) {
        if (!re || pattern != p) {
            pattern = p;
            re2::RE2::Options o;
            o.set_log_errors(false);
            re = std::make_unique<re2::RE2>(p, o);
        }
        return re->ok() ? re.get() : nullptr;
    }
};

// A Java replacement string (`$n` a group, `\c` the character c) as an RE2 rewrite (`\n`, `\\`).
std::string re2_rewrite(std::string_view rep) {
    std::string out;
    for (size_t idx = 0; idx < rep.size(); ++idx) {
        char c = rep[idx];
        if (c == '\\' && idx + 1 < rep.size()) {
            char next = rep[++idx];
            if (next == '\\') out += "\\\\";
            else out += next;
        } else if (c == '$' && idx + 1 < rep.size() && rep[idx + 1] >= '0' && rep[idx + 1] <= '9') {
            out += '\\';
            out += rep[++idx];
        } else if (c == '\\') {
            out += "\\\\";
        } else {
            out += c;
        }
    }
    return out;
}

bound_ptr bind_call(const ast::expr& e, const scope& s) {
    if (e.name == "COUNT" || e.name == "SUM" || e.name == "MIN" || e.name == "MAX" || e.name == "AVG") {
        bind_fail(e.where, fmt::format("aggregate {} is only allowed in the SELECT list of a GROUP BY over a window table function", e.name));
    }
    std::vector<bound_ptr> args;
    for (const auto& a : e.args) {
        if (a->kind == ast::expr_kind::star) bind_fail(a->where, fmt::format("'*' is not an argument of {}", e.name));
        args.push_back(bind_expr(*a, s));
    }
    const std::string& f = e.name;
    std::string text = expr_text(e);
    bool n = any_nullable(args);
    if (f == "COUNT" || f == "SUM" || f == "MIN" || f == "MAX" || f == "AVG") {
        bind_fail(e.where, fmt::format("aggregate {} is only allowed in the SELECT list of a GROUP BY over a window table function", f));
    }
    if (f == "UPPER" || f == "LOWER" || f == "UCASE" || f == "LCASE") {
        require_args(e, 1, 1);
        require_string(e, args[0], 1);
        bool up = f == "UPPER" || f == "UCASE";
        auto a0 = args[0];
        return make_bound(nullable(sql_type::string(), n), [a0, up](const row& in, eval_ctx& ctx) {
            value v = a0->eval(in, ctx);
            if (v.is_null()) return v;
            return value::from_string(utf8_upper(std::move(v.s), up));
        }, text);
    }
    if (f == "CONCAT") {
        if (args.empty()) bind_fail(e.where, "CONCAT takes at least one argument");
        for (size_t idx = 0; idx < args.size(); ++idx) {
            if (!args[idx]->type.is_string() && args[idx]->type.id != type_id::null_type) {
                bind_fail(e.where, fmt::format("argument {} of CONCAT must be a string, got {} (CAST it to STRING)", idx + 1, describe(args[idx])));
            }
        }
        return make_bound(nullable(sql_type::string(), n), [args](const row& in, eval_ctx& ctx) {
            std::string out;
            for (const auto& a : args) {
                value v = a->eval(in, ctx);
                if (v.is_null()) return value::null();
                out += v.s;
            }
            return value::from_string(std::move(out));
        }, text);
    }
    if (f == "SUBSTRING") {
        require_args(e, 2, 3);
        require_string(e, args[0], 1);
        require_integer(e, args[1], 2);
        if (args.size() == 3) require_integer(e, args[2], 3);
        return make_bound(nullable(sql_type::string(), n), [args](const row& in, eval_ctx& ctx) {
            value sv = args[0]->eval(in, ctx);
            value pv = args[1]->eval(in, ctx);
            if (sv.is_null() || pv.is_null()) return value::null();
            int64_t len = INT64_MAX;
            if (args.size() == 3) {
                value lv = args[2]->eval(in, ctx);
                if (lv.is_null()) return value::null();
                len = lv.i;
                if (len < 0) throw eval_failure{"", fmt::format("SUBSTRING length {} is negative", len)};
            }
            auto starts = code_points(sv.s);
            int64_t count = static_cast<int64_t>(starts.size());
            int64_t start = pv.i > 0 ? pv.i - 1 : pv.i == 0 ? 0 : count + pv.i;
            if (start < 0) start = 0;
            if (start >= count) return value::from_string("");
            int64_t end = len > count ? count : std::min(count, start + len);
            size_t b = starts[static_cast<size_t>(start)];
            size_t en = end >= count ? sv.s.size() : starts[static_cast<size_t>(end)];
            return value::from_string(sv.s.substr(b, en - b));
        }, text);
    }
    if (f == "TRIM" || f == "LTRIM" || f == "RTRIM") {
        std::string mode = f == "LTRIM" ? "LEADING" : f == "RTRIM" ? "TRAILING" : e.qualifier;
        require_args(e, 1, f == "TRIM" ? 2 : 1);
        require_string(e, args[0], 1);
        if (args.size() == 2) require_string(e, args[1], 2);
        bool lead = mode != "TRAILING", trail = mode != "LEADING";
        return make_bound(nullable(sql_type::string(), n), [args, lead, trail](const row& in, eval_ctx& ctx) {
            value v = args[0]->eval(in, ctx);
            if (v.is_null()) return v;
            std::string chars = " ";
            if (args.size() == 2) {
                value c = args[1]->eval(in, ctx);
                if (c.is_null()) return c;
                chars = c.s;
            }
            size_t b = 0, en = v.s.size();
            if (lead) while (b < en && chars.find(v.s[b]) != std::string::npos) ++b;
            if (trail) while (en > b && chars.find(v.s[en - 1]) != std::string::npos) --en;
            return value::from_string(v.s.substr(b, en - b));
        }, text);
    }
    if (f == "CHAR_LENGTH" || f == "CHARACTER_LENGTH") {
        require_args(e, 1, 1);
        require_string(e, args[0], 1);
        auto a0 = args[0];
        return make_bound(nullable(sql_type::int_(), n), [a0](const row& in, eval_ctx& ctx) {
            value v = a0->eval(in, ctx);
            if (v.is_null()) return v;
            return value::from_int(static_cast<int64_t>(char_length(v.s)));
        }, text);
    }
    if (f == "SPLIT_INDEX") {
        require_args(e, 3, 3);
        require_string(e, args[0], 1);
        require_string(e, args[1], 2);
        require_integer(e, args[2], 3);
        return make_bound(nullable(sql_type::string(), true), [args](const row& in, eval_ctx& ctx) {
            value sv = args[0]->eval(in, ctx), sep = args[1]->eval(in, ctx), idx = args[2]->eval(in, ctx);
            if (sv.is_null() || sep.is_null() || idx.is_null() || idx.i < 0) return value::null();
            std::vector<std::string> parts;
            if (sep.s.empty()) {
                parts.push_back(sv.s);
            } else {
                size_t start = 0;
                for (;;) {
                    size_t hit = sv.s.find(sep.s, start);
                    if (hit == std::string::npos) { parts.push_back(sv.s.substr(start)); break; }
                    parts.push_back(sv.s.substr(start, hit - start));
                    start = hit + sep.s.size();
                }
            }
            if (static_cast<size_t>(idx.i) >= parts.size()) return value::null();
            return value::from_string(parts[static_cast<size_t>(idx.i)]);
        }, text);
    }
    if (f == "REGEXP_REPLACE" || f == "REGEXP_EXTRACT" || f == "REGEXP") {
        if (f == "REGEXP_REPLACE") require_args(e, 3, 3);
        else if (f == "REGEXP") require_args(e, 2, 2);
        else require_args(e, 2, 3);
        require_string(e, args[0], 1);
        require_string(e, args[1], 2);
        if (f == "REGEXP_REPLACE") require_string(e, args[2], 3);
        if (f == "REGEXP_EXTRACT" && args.size() == 3) require_integer(e, args[2], 3);
        auto cache = std::make_shared<regex_cache>();
        std::string fn = f;
        sql_type rt = fn == "REGEXP" ? sql_type::boolean() : sql_type::string();
        rt.nullable = true;
        return make_bound(rt, [args, cache, fn](const row& in, eval_ctx& ctx) {
            value sv = args[0]->eval(in, ctx), pv = args[1]->eval(in, ctx);
            if (sv.is_null() || pv.is_null()) return value::null();
            const re2::RE2* re = cache->get(pv.s);
            if (!re) return value::null();  // Flink: an invalid pattern gives NULL
            if (fn == "REGEXP") return value::from_bool(re2::RE2::PartialMatch(sv.s, *re));
            if (fn == "REGEXP_REPLACE") {
                value rv = args[2]->eval(in, ctx);
                if (rv.is_null()) return value::null();
                std::string rewrite = re2_rewrite(rv.s), err, out = sv.s;
                // A group the pattern does not have (`$3` of a 1-group pattern): NULL, like an invalid pattern.
                if (!re->CheckRewriteString(rewrite, &err)) return value::null();
                re2::RE2::GlobalReplace(&out, *re, rewrite);
                return value::from_string(std::move(out));
            }
            int64_t group = 1;
            if (args.size() == 3) {
                value gv = args[2]->eval(in, ctx);
                if (gv.is_null()) return value::null();
                group = gv.i;
            }
            if (group < 0 || group > re->NumberOfCapturingGroups()) return value::null();
            std::vector<re2::StringPiece> m(static_cast<size_t>(group) + 1);
            if (!re->Match(sv.s, 0, sv.s.size(), re2::RE2::UNANCHORED, m.data(), static_cast<int>(m.size()))) return value::null();
            const auto& g = m[static_cast<size_t>(group)];
            if (g.data() == nullptr) return value::null();
            return value::from_string(std::string(g.data(), g.size()));
        }, text);
    }
    if (f == "REPLACE") {
        require_args(e, 3, 3);
        for (size_t idx = 0; idx < 3; ++idx) require_string(e, args[idx], idx + 1);
        return make_bound(nullable(sql_type::string(), n), [args](const row& in, eval_ctx& ctx) {
            value sv = args[0]->eval(in, ctx), from = args[1]->eval(in, ctx), to = args[2]->eval(in, ctx);
            if (sv.is_null() || from.is_null() || to.is_null()) return value::null();
            if (from.s.empty()) return sv;
            std::string out;
            size_t start = 0;
            for (;;) {
                size_t hit = sv.s.find(from.s, start);
                if (hit == std::string::npos) break;
                out += sv.s.substr(start, hit - start) + to.s;
                start = hit + from.s.size();
            }
            out += sv.s.substr(start);
            return value::from_string(std::move(out));
        }, text);
    }
    if (f == "POSITION") {
        require_args(e, 2, 2);
        require_string(e, args[0], 1);
        require_string(e, args[1], 2);
        return make_bound(nullable(sql_type::int_(), n), [args](const row& in, eval_ctx& ctx) {
            value needle = args[0]->eval(in, ctx), hay = args[1]->eval(in, ctx);
            if (needle.is_null() || hay.is_null()) return value::null();
            size_t hit = hay.s.find(needle.s);
            if (hit == std::string::npos) return value::from_int(0);
            return value::from_int(static_cast<int64_t>(char_length(std::string_view(hay.s).substr(0, hit)) + 1));
        }, text);
    }
    if (f == "COALESCE" || f == "IFNULL") {
        if (f == "IFNULL") require_args(e, 2, 2);
        if (args.empty()) bind_fail(e.where, "COALESCE takes at least one argument");
        sql_type t = args[0]->type;
        for (size_t idx = 1; idx < args.size(); ++idx) {
            auto c = common_type(t, args[idx]->type);
            if (!c) bind_fail(e.where, fmt::format("{} arguments have no common type: {} and {}", f, describe(args[0]), describe(args[idx])));
            t = *c;
        }
        bool all_nullable = true;
        for (auto& a : args) {
            all_nullable = all_nullable && a->type.nullable;
            a = implicit(a, t);
        }
        t.nullable = all_nullable;
        return make_bound(t, [args](const row& in, eval_ctx& ctx) {
            for (const auto& a : args) {
                value v = a->eval(in, ctx);
                if (!v.is_null()) return v;
            }
            return value::null();
        }, text);
    }
    if (f == "NULLIF") {
        require_args(e, 2, 2);
        auto eq = bind_comparison("=", args[0], args[1], e.where, text);
        auto a0 = args[0];
        return make_bound(nullable(a0->type, true), [a0, eq](const row& in, eval_ctx& ctx) {
            value c = eq->eval(in, ctx);
            if (!c.is_null() && c.b) return value::null();
            return a0->eval(in, ctx);
        }, text);
    }
    if (f == "IF") {
        require_args(e, 3, 3);
        if (args[0]->type.id != type_id::boolean && args[0]->type.id != type_id::null_type) bind_fail(e.where, fmt::format("the condition of IF must be BOOLEAN, got {}", describe(args[0])));
        auto t = common_type(args[1]->type, args[2]->type);
        if (!t) bind_fail(e.where, fmt::format("IF branches have no common type: {} and {}", describe(args[1]), describe(args[2])));
        auto c = args[0], a = implicit(args[1], *t), b = implicit(args[2], *t);
        return make_bound(*t, [c, a, b](const row& in, eval_ctx& ctx) {
            value cv = c->eval(in, ctx);
            return (!cv.is_null() && cv.b) ? a->eval(in, ctx) : b->eval(in, ctx);
        }, text);
    }
    if (f == "ABS") {
        require_args(e, 1, 1);
        if (!args[0]->type.is_numeric()) bind_fail(e.where, fmt::format("ABS needs a number, got {}", describe(args[0])));
        auto a0 = args[0];
        return make_bound(a0->type, [a0](const row& in, eval_ctx& ctx) {
            value v = a0->eval(in, ctx);
            if (v.is_null()) return v;
            if (v.kind == value_kind::floating) v.d = std::fabs(v.d);
            else v.i = v.i < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(v.i)) : v.i;
            return v;
        }, text);
    }
    if (f == "MOD") {
        require_args(e, 2, 2);
        return bind_arithmetic("%", args[0], args[1], e.where, text);
    }
    if (f == "UUID") {
        require_args(e, 0, 0);
        sql_type t = sql_type::string();
        t.nullable = false;
        return make_bound(t, [](const row&, eval_ctx& ctx) { return value::from_string(format_uuid(ctx.rng)); }, text);
    }
    if (f == "CURRENT_TIMESTAMP" || f == "LOCALTIMESTAMP" || f == "CURRENT_ROW_TIMESTAMP") {
        sql_type t = f == "LOCALTIMESTAMP" ? sql_type::timestamp(3) : sql_type::timestamp_ltz(3);
        t.nullable = false;
        return make_bound(t, [](const row&, eval_ctx& ctx) { return value::from_int(ctx.now()); }, text);
    }
    if (f == "CURRENT_DATE") {
        sql_type t = sql_type::of(type_id::date);
        t.nullable = false;
        return make_bound(t, [](const row&, eval_ctx& ctx) { return value::from_int(timeutil::floor_div(ctx.now(), k_ms_per_day)); }, text);
    }
    if (f == "CURRENT_TIME") {
        sql_type t = sql_type::of(type_id::time, 0);
        t.nullable = false;
        return make_bound(t, [](const row&, eval_ctx& ctx) {
            int64_t now = ctx.now();
            return value::from_int(now - timeutil::floor_div(now, k_ms_per_day) * k_ms_per_day);
        }, text);
    }
    if (f == "TO_TIMESTAMP") {
        require_args(e, 1, 2);
        require_string(e, args[0], 1);
        if (args.size() == 2) require_string(e, args[1], 2);
        return make_bound(nullable(sql_type::timestamp(3), true), [args](const row& in, eval_ctx& ctx) {
            value sv = args[0]->eval(in, ctx);
            if (sv.is_null()) return sv;
            std::optional<int64_t> ts;
            if (args.size() == 2) {
                value fv = args[1]->eval(in, ctx);
                if (fv.is_null()) return fv;
                ts = timeutil::parse_pattern(sv.s, fv.s);
            } else {
                ts = timeutil::parse_pattern(sv.s, "yyyy-MM-dd HH:mm:ss");
                if (!ts) ts = timeutil::parse_timestamp(sv.s, false, false);
            }
            if (!ts) return value::null();  // Flink: unparseable text gives NULL
            return value::from_int(*ts);
        }, text);
    }
    if (f == "TO_DATE") {
        require_args(e, 1, 2);
        require_string(e, args[0], 1);
        return make_bound(nullable(sql_type::of(type_id::date), true), [args](const row& in, eval_ctx& ctx) {
            value sv = args[0]->eval(in, ctx);
            if (sv.is_null()) return sv;
            std::optional<int64_t> ms;
            if (args.size() == 2) {
                value fv = args[1]->eval(in, ctx);
                if (fv.is_null()) return fv;
                ms = timeutil::parse_pattern(sv.s, fv.s);
            } else {
                ms = timeutil::parse_pattern(sv.s, "yyyy-MM-dd");
            }
            if (!ms) return value::null();
            return value::from_int(timeutil::floor_div(*ms, k_ms_per_day));
        }, text);
    }
    if (f == "DATE_FORMAT") {
        require_args(e, 2, 2);
        const sql_type& t0 = args[0]->type;
        if (!t0.is_timestamp() && !t0.is_string() && t0.id != type_id::date && t0.id != type_id::null_type) {
            bind_fail(e.where, fmt::format("argument 1 of DATE_FORMAT must be a timestamp or a string, got {}", describe(args[0])));
        }
        require_string(e, args[1], 2);
        bool from_string = t0.is_string();
        bool from_date = t0.id == type_id::date;
        return make_bound(nullable(sql_type::string(), true), [args, from_string, from_date](const row& in, eval_ctx& ctx) {
            value tv = args[0]->eval(in, ctx), fv = args[1]->eval(in, ctx);
            if (tv.is_null() || fv.is_null()) return value::null();
            int64_t ms = tv.i;
            if (from_string) {
                auto parsed = timeutil::parse_timestamp(tv.s, true, true);
                if (!parsed) return value::null();
                ms = *parsed;
            } else if (from_date) {
                ms = tv.i * k_ms_per_day;
            }
            return value::from_string(timeutil::format_pattern(ms, fv.s));
        }, text);
    }
    if (f == "EXTRACT") {
        require_args(e, 1, 1);
        const sql_type& t0 = args[0]->type;
        if (!t0.is_timestamp() && t0.id != type_id::date && t0.id != type_id::time && t0.id != type_id::null_type) {
            bind_fail(e.where, fmt::format("EXTRACT needs a DATE, TIME or TIMESTAMP, got {}", describe(args[0])));
        }
        if (!extract_units().count(e.qualifier)) bind_fail(e.where, fmt::format("EXTRACT unit {} is not supported", e.qualifier));
        std::string unit = e.qualifier;
        bool is_date = t0.id == type_id::date;
        position where = e.where;
        auto a0 = args[0];
        return make_bound(nullable(sql_type::bigint(), n), [a0, unit, is_date, where](const row& in, eval_ctx& ctx) {
            value v = a0->eval(in, ctx);
            if (v.is_null()) return v;
            return value::from_int(extract_field(unit, v.i, is_date, where));
        }, text);
    }
    if (f == "TIMESTAMPDIFF" || f == "TIMESTAMPADD") {
        std::string unit = e.qualifier;
        if (unit.size() > 1 && unit.back() == 'S') unit.pop_back();
        if (unit.rfind("SQL_TSI_", 0) == 0) unit = unit.substr(8);
        static const std::map<std::string, int64_t> k_ms = {{"MILLISECOND", 1}, {"SECOND", 1000}, {"MINUTE", 60000}, {"HOUR", 3600000}, {"DAY", 86400000}, {"WEEK", 604800000}};
        static const std::map<std::string, int64_t> k_months = {{"MONTH", 1}, {"QUARTER", 3}, {"YEAR", 12}};
        bool months = k_months.count(unit) > 0;
        if (!months && !k_ms.count(unit)) bind_fail(e.where, fmt::format("{} unit {} is not supported (SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR)", f, e.qualifier));
        int64_t scale = months ? k_months.at(unit) : k_ms.at(unit);
        if (f == "TIMESTAMPADD") {
            require_integer(e, args[0], 2);
            const sql_type& t1 = args[1]->type;
            if (!t1.is_timestamp() && t1.id != type_id::date) bind_fail(e.where, fmt::format("argument 3 of TIMESTAMPADD must be a timestamp or date, got {}", describe(args[1])));
            bool is_date = t1.id == type_id::date;
            sql_type rt = is_date && !months && scale < 86400000 ? sql_type::timestamp(3) : t1;
            rt.nullable = n;
            bool to_ts = rt.is_timestamp();
            return make_bound(rt, [args, months, scale, is_date, to_ts](const row& in, eval_ctx& ctx) {
                value k = args[0]->eval(in, ctx), t = args[1]->eval(in, ctx);
                if (k.is_null() || t.is_null()) return value::null();
                int64_t ms = is_date ? t.i * k_ms_per_day : t.i;
                ms = months ? add_months(ms, k.i * scale) : ms + k.i * scale;
                return value::from_int(to_ts ? ms : timeutil::floor_div(ms, k_ms_per_day));
            }, text);
        }
        for (size_t idx = 0; idx < 2; ++idx) {
            const sql_type& t = args[idx]->type;
            if (!t.is_timestamp() && t.id != type_id::date && t.id != type_id::null_type) {
                bind_fail(e.where, fmt::format("argument {} of TIMESTAMPDIFF must be a timestamp or date, got {}", idx + 2, describe(args[idx])));
            }
        }
        bool d0 = args[0]->type.id == type_id::date, d1 = args[1]->type.id == type_id::date;
        return make_bound(nullable(sql_type::int_(), n), [args, months, scale, d0, d1](const row& in, eval_ctx& ctx) {
            value a = args[0]->eval(in, ctx), b = args[1]->eval(in, ctx);
            if (a.is_null() || b.is_null()) return value::null();
            int64_t x = d0 ? a.i * k_ms_per_day : a.i, y = d1 ? b.i * k_ms_per_day : b.i;
            if (!months) return value::from_int(static_cast<int32_t>((y - x) / scale));
            // Whole months from x to y (a month counts when the day and time of day are reached).
            auto split = [](int64_t ms, int64_t& total_months, int64_t& in_month) {
                int64_t days = timeutil::floor_div(ms, k_ms_per_day);
                int64_t yy = 0;
                unsigned mm = 0, dd = 0;
                timeutil::civil_from_days(days, yy, mm, dd);
                total_months = yy * 12 + mm - 1;
                in_month = (static_cast<int64_t>(dd) - 1) * k_ms_per_day + (ms - days * k_ms_per_day);
            };
            int64_t mx = 0, rx = 0, my = 0, ry = 0;
            split(x, mx, rx);
            split(y, my, ry);
            int64_t diff = my - mx;
            if (diff > 0 && ry < rx) --diff;
            if (diff < 0 && ry > rx) ++diff;
            return value::from_int(static_cast<int32_t>(diff / scale));
        }, text);
    }
    if (f == "JSON_VALUE") {
        require_args(e, 2, 2);
        require_string(e, args[0], 1);
        require_string(e, args[1], 2);
        sql_type rt = e.has_type ? e.type : sql_type::string();
        rt.nullable = true;
        if (e.has_type && !castable(sql_type::string(), rt)) bind_fail(e.where, fmt::format("JSON_VALUE cannot return {}", rt.to_string()));
        auto parsed_path = std::make_shared<std::optional<json_path>>();
        if (e.args[1]->kind == ast::expr_kind::literal && !e.args[1]->literal.is_null()) {
            auto p = parse_json_path(e.args[1]->literal.s);
            if (!p) bind_fail(e.args[1]->where, fmt::format("JSON path '{}' is not supported ($, .name, ['name'], [index])", e.args[1]->literal.s));
            *parsed_path = *p;
        }
        return make_bound(rt, [args, rt, parsed_path](const row& in, eval_ctx& ctx) {
            value doc = args[0]->eval(in, ctx), pv = args[1]->eval(in, ctx);
            if (doc.is_null() || pv.is_null()) return value::null();
            std::optional<json_path> p = *parsed_path ? **parsed_path : parse_json_path(pv.s);
            if (!p) return value::null();
            auto scalar = json_value_at(doc.s, *p);
            if (!scalar) return value::null();
            if (rt.is_string()) return value::from_string(*scalar);
            auto v = parse_text_as(*scalar, rt);
            return v ? *v : value::null();  // NULL ON ERROR (Flink's default)
        }, text);
    }
    static const std::set<std::string> k_unsupported_aggregates = {"COLLECT", "LISTAGG", "FIRST_VALUE", "LAST_VALUE", "STDDEV_POP", "STDDEV_SAMP", "VAR_POP", "VAR_SAMP"};
    if (k_unsupported_aggregates.count(f)) bind_fail(e.where, fmt::format("aggregate function {} is not supported (COUNT, SUM, MIN, MAX, AVG are)", f));
    bind_fail(e.where, fmt::format("function {} is not supported", f));
}

}  // namespace

bound_ptr cast_expr(bound_ptr from, const sql_type& to, bool try_cast, position where) {
    if (!castable(from->type, to)) bind_fail(where, fmt::format("cannot cast {} to {}", describe(from), to.to_string()));
    sql_type ft = from->type;
    sql_type rt = to;
    rt.nullable = to.nullable && (from->type.nullable || try_cast || true);
    if (from->type.same_as(to) && !to.is_string()) {
        auto b = std::make_shared<bound_expr>(*from);
        b->type = rt;
        return b;
    }
    return make_bound(rt, [from, ft, to, try_cast](const row& in, eval_ctx& ctx) {
        value v = from->eval(in, ctx);
        if (v.is_null()) return v;
        if (try_cast) {
            try {
                return cast_value(v, ft, to);
            } catch (const eval_failure&) {
                return value::null();
            }
        }
        return cast_value(v, ft, to);
    }, from->text);
}

bound_ptr bind_expr(const ast::expr& e, const scope& s) {
    if (s.intercept) {
        if (auto b = s.intercept(e)) return b;
    }
    std::string text = expr_text(e);
    switch (e.kind) {
        case ast::expr_kind::literal: {
            value v = e.literal;
            return make_bound(e.type, [v](const row&, eval_ctx&) { return v; }, text);
        }
        case ast::expr_kind::star:
            bind_fail(e.where, "'*' is only allowed alone in the SELECT list or in COUNT(*)");
        case ast::expr_kind::column: {
            if (!e.qualifier.empty()) {
                bool known = false;
                for (const auto& q : s.qualifiers) known = known || iequals(q, e.qualifier);
                if (!known) bind_fail(e.where, fmt::format("unknown table or alias {} in {}.{}", e.qualifier, e.qualifier, e.name));
            }
            for (const auto& c : s.columns) {
                if (iequals(c.name, e.name)) {
                    if (s.forbid) {
                        std::string why = s.forbid(c.name);
                        if (!why.empty()) bind_fail(e.where, why);
                    }
                    size_t idx = c.index;
                    auto b = std::make_shared<bound_expr>();
                    b->type = c.type;
                    b->eval = [idx](const row& in, eval_ctx&) { return in[idx]; };
                    b->text = text;
                    b->input_column = idx;
                    return b;
                }
            }
            std::string known;
            for (const auto& c : s.columns) known += (known.empty() ? "" : ", ") + c.name;
            bind_fail(e.where, fmt::format("unknown column {} (columns: {})", e.name, known));
        }
        case ast::expr_kind::unary: {
            auto a = bind_expr(*e.args[0], s);
            if (e.name == "NOT") {
                if (a->type.id != type_id::boolean && a->type.id != type_id::null_type) bind_fail(e.where, fmt::format("NOT needs a BOOLEAN, got {}", describe(a)));
                return bool_result([a](const row& in, eval_ctx& ctx) {
                    value v = a->eval(in, ctx);
                    if (v.is_null()) return v;
                    return value::from_bool(!v.b);
                }, text, a->type.nullable);
            }
            // Unary minus.
            if (!a->type.is_numeric() && !a->type.is_interval()) bind_fail(e.where, fmt::format("cannot negate {}", describe(a)));
            sql_type t = a->type;
            return make_bound(t, [a, t](const row& in, eval_ctx& ctx) {
                value v = a->eval(in, ctx);
                if (v.is_null()) return v;
                if (v.kind == value_kind::floating) v.d = -v.d;
                else {
                    int64_t out = 0;
                    wrap_int(static_cast<int64_t>(0 - static_cast<uint64_t>(v.i)), t.id, out);
                    v.i = out;
                }
                return v;
            }, text);
        }
        case ast::expr_kind::binary: {
            auto l = bind_expr(*e.args[0], s);
            auto r = bind_expr(*e.args[1], s);
            const std::string& op = e.name;
            if (op == "AND" || op == "OR") {
                for (const auto& side : {l, r}) {
                    if (side->type.id != type_id::boolean && side->type.id != type_id::null_type) {
                        bind_fail(e.where, fmt::format("{} needs BOOLEAN operands, got {}", op, describe(side)));
                    }
                }
                bool is_and = op == "AND";
                return bool_result([l, r, is_and](const row& in, eval_ctx& ctx) {
                    value a = l->eval(in, ctx);
                    if (!a.is_null() && a.b != is_and) return a;  // short circuit: FALSE AND x, TRUE OR x
                    value b = r->eval(in, ctx);
                    if (!b.is_null() && b.b != is_and) return b;
                    if (a.is_null() || b.is_null()) return value::null();
                    return value::from_bool(is_and);
                }, text, l->type.nullable || r->type.nullable);
            }
            if (op == "||") {
                if ((!l->type.is_string() && l->type.id != type_id::null_type) || (!r->type.is_string() && r->type.id != type_id::null_type)) {
                    bind_fail(e.where, fmt::format("|| needs strings, got {} and {} (CAST to STRING)", describe(l), describe(r)));
                }
                return make_bound(nullable(sql_type::string(), l->type.nullable || r->type.nullable), [l, r](const row& in, eval_ctx& ctx) {
                    value a = l->eval(in, ctx);
                    if (a.is_null()) return a;
                    value b = r->eval(in, ctx);
                    if (b.is_null()) return b;
                    return value::from_string(a.s + b.s);
                }, text);
            }
            if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%") return bind_arithmetic(op, l, r, e.where, text);
            return bind_comparison(op, l, r, e.where, text);
        }
        case ast::expr_kind::call: return bind_call(e, s);
        case ast::expr_kind::cast: {
            auto a = bind_expr(*e.args[0], s);
            return cast_expr(a, e.type, e.flag, e.where);
        }
        case ast::expr_kind::case_: {
            size_t pos = 0;
            bound_ptr operand;
            if (e.case_has_operand) operand = bind_expr(*e.args[pos++], s);
            std::vector<bound_ptr> conds, results;
            size_t end = e.args.size() - (e.case_has_else ? 1 : 0);
            for (; pos + 1 < end + 1 && pos < end; pos += 2) {
                auto c = bind_expr(*e.args[pos], s);
                if (operand) c = bind_comparison("=", operand, c, e.args[pos]->where, text);
                else if (c->type.id != type_id::boolean && c->type.id != type_id::null_type) bind_fail(e.args[pos]->where, fmt::format("a WHEN condition must be BOOLEAN, got {}", describe(c)));
                conds.push_back(c);
                results.push_back(bind_expr(*e.args[pos + 1], s));
            }
            bound_ptr otherwise = e.case_has_else ? bind_expr(*e.args.back(), s) : make_bound(sql_type::of(type_id::null_type), [](const row&, eval_ctx&) { return value::null(); }, "NULL");
            sql_type t = otherwise->type;
            for (const auto& r : results) {
                auto c = common_type(t, r->type);
                if (!c) bind_fail(e.where, fmt::format("CASE branches have no common type: {} and {}", describe(r), t.to_string()));
                t = *c;
            }
            if (t.id == type_id::null_type) t = sql_type::string();
            for (auto& r : results) r = implicit(r, t);
            otherwise = implicit(otherwise, t);
            return make_bound(t, [conds, results, otherwise](const row& in, eval_ctx& ctx) {
                for (size_t idx = 0; idx < conds.size(); ++idx) {
                    value c = conds[idx]->eval(in, ctx);
                    if (!c.is_null() && c.b) return results[idx]->eval(in, ctx);
                }
                return otherwise->eval(in, ctx);
            }, text);
        }
        case ast::expr_kind::in_list: {
            auto a = bind_expr(*e.args[0], s);
            std::vector<bound_ptr> eqs;
            for (size_t idx = 1; idx < e.args.size(); ++idx) eqs.push_back(bind_comparison("=", a, bind_expr(*e.args[idx], s), e.args[idx]->where, text));
            bool negated = e.flag;
            return bool_result([eqs, negated](const row& in, eval_ctx& ctx) {
                bool saw_null = false;
                for (const auto& eq : eqs) {
                    value v = eq->eval(in, ctx);
                    if (v.is_null()) saw_null = true;
                    else if (v.b) return value::from_bool(!negated);
                }
                if (saw_null) return value::null();
                return value::from_bool(negated);
            }, text);
        }
        case ast::expr_kind::between: {
            auto a = bind_expr(*e.args[0], s);
            auto lo = bind_comparison(">=", a, bind_expr(*e.args[1], s), e.where, text);
            auto hi = bind_comparison("<=", a, bind_expr(*e.args[2], s), e.where, text);
            bool negated = e.flag;
            return bool_result([lo, hi, negated](const row& in, eval_ctx& ctx) {
                value x = lo->eval(in, ctx), y = hi->eval(in, ctx);
                // x AND y with three-valued logic, then NOT when negated.
                value r;
                if ((!x.is_null() && !x.b) || (!y.is_null() && !y.b)) r = value::from_bool(false);
                else if (x.is_null() || y.is_null()) r = value::null();
                else r = value::from_bool(true);
                if (negated && !r.is_null()) r.b = !r.b;
                return r;
            }, text);
        }
        case ast::expr_kind::like: {
            auto a = bind_expr(*e.args[0], s);
            auto p = bind_expr(*e.args[1], s);
            bound_ptr esc = e.args.size() > 2 ? bind_expr(*e.args[2], s) : nullptr;
            if ((!a->type.is_string() && a->type.id != type_id::null_type) || (!p->type.is_string() && p->type.id != type_id::null_type)) {
                bind_fail(e.where, fmt::format("LIKE needs strings, got {} LIKE {}", describe(a), describe(p)));
            }
            bool negated = e.flag;
            return bool_result([a, p, esc, negated](const row& in, eval_ctx& ctx) {
                value x = a->eval(in, ctx), y = p->eval(in, ctx);
                if (x.is_null() || y.is_null()) return value::null();
                char escape = 0;
                if (esc) {
                    value ev = esc->eval(in, ctx);
                    if (ev.is_null()) return value::null();
                    if (ev.s.size() != 1) throw eval_failure{"", fmt::format("LIKE escape '{}' must be one character", ev.s)};
                    escape = ev.s[0];
                }
                return value::from_bool(like_match(x.s, y.s, escape) != negated);
            }, text);
        }
        case ast::expr_kind::is: {
            auto a = bind_expr(*e.args[0], s);
            bool negated = e.flag;
            if (e.name == "DISTINCT") {
                auto b = bind_expr(*e.args[1], s);
                auto t = comparison_type(a->type, b->type);
                if (!t) bind_fail(e.where, fmt::format("cannot compare {} with {}", describe(a), describe(b)));
                auto l = implicit(a, *t), r = implicit(b, *t);
                sql_type ct = *t;
                return bool_result([l, r, ct, negated](const row& in, eval_ctx& ctx) {
                    value x = l->eval(in, ctx), y = r->eval(in, ctx);
                    bool distinct = x.is_null() != y.is_null() || (!x.is_null() && compare_values(x, ct, y, ct) != 0);
                    return value::from_bool(distinct != negated);
                }, text, false);
            }
            if (e.name != "NULL" && a->type.id != type_id::boolean && a->type.id != type_id::null_type) {
                bind_fail(e.where, fmt::format("IS {} needs a BOOLEAN, got {}", e.name, describe(a)));
            }
            int what = e.name == "NULL" ? 0 : e.name == "TRUE" ? 1 : 2;
            return bool_result([a, what, negated](const row& in, eval_ctx& ctx) {
                value v = a->eval(in, ctx);
                bool r = what == 0 ? v.is_null() : what == 1 ? (!v.is_null() && v.b) : (!v.is_null() && !v.b);
                return value::from_bool(r != negated);
            }, text, false);
        }
    }
    bind_fail(e.where, "unsupported expression");
}

}  // namespace millrace::sql
