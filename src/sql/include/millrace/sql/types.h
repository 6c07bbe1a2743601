// SQL types and values of millrace's Flink SQL subset.
//
// A `value` is a small tagged union; the declared `sql_type` of its column
// travels beside it (a row's types are the table's or the plan's columns), so
// the runtime can bind a value to CQL or encode it to Kafka. Representation:
//   boolean            -> b
//   TINYINT..INT       -> i (int32 range)     BIGINT -> i
//   FLOAT, DOUBLE      -> d
//   DECIMAL(p, s)      -> i, the unscaled value (p <= 18), scale from the type
//   CHAR, VARCHAR/STRING, BINARY, VARBINARY/BYTES -> s
//   DATE               -> i, days since 1970-01-01
//   TIME(p)            -> i, milliseconds of the day
//   TIMESTAMP(p), TIMESTAMP_LTZ(p) -> i, milliseconds since 1970-01-01 00:00 UTC
//                         (precision above 3 is kept as milliseconds)
//   INTERVAL           -> i, milliseconds (day-time) or months (year-month)
//   ARRAY, ROW         -> items (ROW: one per field)   MAP -> items as key, value, key, value...
// Values are plain data: copyable, no shared state, thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace millrace::sql {

enum class type_id : uint8_t {
    null_type,  // the type of a bare NULL literal before it is cast
    boolean, tinyint, smallint, int_, bigint, float_, double_, decimal,
    char_, varchar, binary, varbinary,
    date, time, timestamp, timestamp_ltz,
    interval_day_time, interval_year_month,
    array, map, row,
};

constexpr int k_max_varchar = 2147483647;  // STRING = VARCHAR(2147483647), BYTES likewise

struct sql_type {
    type_id id = type_id::null_type;
    int precision = 0;     // length of CHAR/VARCHAR/BINARY; digits of DECIMAL; fraction digits of TIME/TIMESTAMP
    int scale = 0;         // DECIMAL
    bool nullable = true;  // false for NOT NULL
    std::vector<sql_type> children;       // ARRAY element; MAP key, value; ROW fields
    std::vector<std::string> field_names; // ROW

    static sql_type of(type_id id, int precision = 0, int scale = 0);
    static sql_type string() { return of(type_id::varchar, k_max_varchar); }
    static sql_type bigint() { return of(type_id::bigint); }
    static sql_type int_() { return of(type_id::int_); }
    static sql_type boolean() { return of(type_id::boolean); }
    static sql_type double_() { return of(type_id::double_); }
    static sql_type timestamp(int precision = 3) { return of(type_id::timestamp, precision); }
    static sql_type timestamp_ltz(int precision = 3) { return of(type_id::timestamp_ltz, precision); }

    bool is_string() const { return id == type_id::char_ || id == type_id::varchar; }
    bool is_binary() const { return id == type_id::binary || id == type_id::varbinary; }
    bool is_integer() const { return id >= type_id::tinyint && id <= type_id::bigint; }
    bool is_numeric() const { return id >= type_id::tinyint && id <= type_id::decimal; }
    bool is_timestamp() const { return id == type_id::timestamp || id == type_id::timestamp_ltz; }
    bool is_interval() const { return id == type_id::interval_day_time || id == type_id::interval_year_month; }
    // Flink's spelling: "STRING", "VARCHAR(10)", "TIMESTAMP(3)", "DECIMAL(10, 2)", "INT NOT NULL".
    std::string to_string() const;
    // Equal ignoring nullability.
    bool same_as(const sql_type& other) const;
    bool operator==(const sql_type& other) const = default;
};

enum class value_kind : uint8_t { null, boolean, integer, floating, text, list };

struct value {
    value_kind kind = value_kind::null;
    bool b = false;
    int64_t i = 0;
    double d = 0;
    std::string s;
    std::vector<value> items;

    static value null() { return value{}; }
    static value from_bool(bool v) { value x; x.kind = value_kind::boolean; x.b = v; return x; }
    static value from_int(int64_t v) { value x; x.kind = value_kind::integer; x.i = v; return x; }
    static value from_double(double v) { value x; x.kind = value_kind::floating; x.d = v; return x; }
    static value from_string(std::string v) { value x; x.kind = value_kind::text; x.s = std::move(v); return x; }
    static value from_list(std::vector<value> v) { value x; x.kind = value_kind::list; x.items = std::move(v); return x; }

    bool is_null() const { return kind == value_kind::null; }
    bool operator==(const value& other) const = default;
};

using row = std::vector<value>;

// The time CURRENT_TIMESTAMP and early firing read, in milliseconds since the
// epoch (UTC). Operators default to the system clock; tests inject a manual one.
using clock_fn = std::function<int64_t()>;

// A named, typed column of a row (a table's, or a plan's output).
struct column_type {
    std::string name;
    sql_type type;
};

// The SQL literal form of `v` as `t`, as the conformance suite prints it:
// NULL, TRUE, 42, 1.5, 12.30, 'text', X'0aff', DATE '2024-01-02',
// TIMESTAMP '2024-01-02 03:04:05.678', ARRAY[...], MAP[...], ROW(...).
std::string format_value(const value& v, const sql_type& t);
// Timestamps as Flink prints them: "2024-01-02 03:04:05.678" (always 3 fraction digits).
std::string format_timestamp(int64_t millis);
std::string format_date(int64_t days);

}  // namespace millrace::sql
