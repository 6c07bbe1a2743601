#include "millrace/sql/types.h"

#include <cstdio>

#include <fmt/format.h>

#include "millrace/sql/diagnostic.h"
#include "time_util.h"

namespace millrace::sql {

sql_type sql_type::of(type_id id, int precision, int scale) {
    sql_type t;
    t.id = id;
    t.precision = precision;
    t.scale = scale;
    return t;
}

std::string sql_type::to_string() const {
    std::string s;
    switch (id) {
        case type_id::null_type: s = "NULL"; break;
        case type_id::boolean: s = "BOOLEAN"; break;
        case type_id::tinyint: s = "TINYINT"; break;
        case type_id::smallint: s = "SMALLINT"; break;
        case type_id::int_: s = "INT"; break;
        case type_id::bigint: s = "BIGINT"; break;
        case type_id::float_: s = "FLOAT"; break;
        case type_id::double_: s = "DOUBLE"; break;
        case type_id::decimal: s = fmt::format("DECIMAL({}, {})", precision, scale); break;
        case type_id::char_: s = fmt::format("CHAR({})", precision); break;
        case type_id::varchar: s = precision == k_max_varchar ? "STRING" : fmt::format("VARCHAR({})", precision); break;
        case type_id::binary: s = fmt::format("BINARY({})", precision); break;
        case type_id::varbinary: s = precision == k_max_varchar ? "BYTES" : fmt::format("VARBINARY({})", precision); break;
        case type_id::date: s = "DATE"; break;
        case type_id::time: s = fmt::format("TIME({})", precision); break;
        case type_id::timestamp: s = fmt::format("TIMESTAMP({})", precision); break;
        case type_id::timestamp_ltz: s = fmt::format("TIMESTAMP_LTZ({})", precision); break;
        case type_id::interval_day_time: s = "INTERVAL DAY TO SECOND"; break;
        case type_id::interval_year_month: s = "INTERVAL YEAR TO MONTH"; break;
        case type_id::array: s = fmt::format("ARRAY<{}>", children.empty() ? "?" : children[0].to_string()); break;
        case type_id::map:
            s = fmt::format("MAP<{}, {}>", children.size() > 0 ? children[0].to_string() : "?",
                            children.size() > 1 ? children[1].to_string() : "?");
            break;
        case type_id::row: {
            s = "ROW<";
            for (size_t idx = 0; idx < children.size(); ++idx) {
                if (idx) s += ", ";
                s += fmt::format("{} {}", idx < field_names.size() ? field_names[idx] : "f", children[idx].to_string());
            }
            s += ">";
            break;
        }
    }
    if (!nullable) s += " NOT NULL";
    return s;
}

bool sql_type::same_as(const sql_type& other) const {
    if (id != other.id || precision != other.precision || scale != other.scale) return false;
    if (children.size() != other.children.size()) return false;
    for (size_t idx = 0; idx < children.size(); ++idx) {
        if (!children[idx].same_as(other.children[idx])) return false;
    }
    return field_names == other.field_names;
}

std::string format_timestamp(int64_t millis) { return timeutil::format_pattern(millis, "yyyy-MM-dd HH:mm:ss.SSS"); }

std::string format_date(int64_t days) { return timeutil::format_pattern(days * 86400000LL, "yyyy-MM-dd"); }

std::string format_decimal(int64_t unscaled, int scale) {
    if (scale <= 0) return std::to_string(unscaled);
    bool negative = unscaled < 0;
    uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(unscaled) : static_cast<uint64_t>(unscaled);
    std::string digits = std::to_string(magnitude);
    if (digits.size() <= static_cast<size_t>(scale)) digits.insert(0, static_cast<size_t>(scale) + 1 - digits.size(), '0');
    digits.insert(digits.size() - static_cast<size_t>(scale), ".");
    return negative ? "-" + digits : digits;
}

std::string format_double(double d) {
    if (d != d) return "NaN";
    if (d == 1.0 / 0.0) return "Infinity";
    if (d == -1.0 / 0.0) return "-Infinity";
    // Shortest form that reads back, with a decimal point as Java prints doubles.
    std::string s = fmt::format("{}", d);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

std::string format_value(const value& v, const sql_type& t) {
    if (v.is_null()) return "NULL";
    switch (t.id) {
        case type_id::boolean: return v.b ? "TRUE" : "FALSE";
        case type_id::tinyint: case type_id::smallint: case type_id::int_: case type_id::bigint:
            return std::to_string(v.i);
        case type_id::float_: case type_id::double_: return format_double(v.d);
        case type_id::decimal: return format_decimal(v.i, t.scale);
        case type_id::char_: case type_id::varchar: {
            std::string s = "'";
            for (char c : v.s) {
                s += c;
                if (c == '\'') s += '\'';
            }
            return s + "'";
        }
        case type_id::binary: case type_id::varbinary: {
            std::string s = "X'";
            for (unsigned char c : v.s) s += fmt::format("{:02X}", c);
            return s + "'";
        }
        case type_id::date: return "DATE '" + format_date(v.i) + "'";
        case type_id::time: return "TIME '" + timeutil::format_pattern(v.i, "HH:mm:ss.SSS") + "'";
        case type_id::timestamp: return "TIMESTAMP '" + format_timestamp(v.i) + "'";
        case type_id::timestamp_ltz: return "TIMESTAMP_LTZ '" + format_timestamp(v.i) + "'";
        case type_id::interval_day_time: return fmt::format("INTERVAL '{}' MILLISECOND", v.i);
        case type_id::interval_year_month: return fmt::format("INTERVAL '{}' MONTH", v.i);
        case type_id::array: case type_id::row: {
            std::string s = t.id == type_id::array ? "ARRAY[" : "ROW(";
            for (size_t idx = 0; idx < v.items.size(); ++idx) {
                if (idx) s += ", ";
                const sql_type& et = t.id == type_id::array ? t.children.at(0) : t.children.at(idx);
                s += format_value(v.items[idx], et);
            }
            return s + (t.id == type_id::array ? "]" : ")");
        }
        case type_id::map: {
            std::string s = "MAP[";
            for (size_t idx = 0; idx + 1 < v.items.size(); idx += 2) {
                if (idx) s += ", ";
                s += format_value(v.items[idx], t.children.at(0)) + ", " + format_value(v.items[idx + 1], t.children.at(1));
            }
            return s + "]";
        }
        case type_id::null_type: return "NULL";
    }
    return "?";
}

std::string diagnostic::to_string() const { return fmt::format("{}:{}:{}: {}", file, line, column, message); }

std::string to_string(const std::vector<diagnostic>& diagnostics) {
    std::string out;
    for (const auto& d : diagnostics) out += d.to_string() + "\n";
    return out;
}

}  // namespace millrace::sql
