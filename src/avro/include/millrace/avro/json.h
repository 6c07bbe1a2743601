// A JSON document model for Avro schemas, Avro's JSON encoding and the
// registry's REST bodies: a strict parser whose errors name the byte offset,
// and a compact writer. Objects keep member order (schemas are written back in
// a deliberate order). Integers that fit in int64 stay exact.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::avro::json {

enum class kind { null, boolean, integer, number, string, array, object };

struct value {
    kind type = kind::null;
    bool boolean = false;
    int64_t integer = 0;   // kind::integer
    double number = 0;     // kind::number (and the double value of an integer)
    std::string text;      // kind::string
    std::vector<value> items;
    std::vector<std::pair<std::string, value>> members;

    static value null_value() { return value{}; }
    static value from_bool(bool b) { value v; v.type = kind::boolean; v.boolean = b; return v; }
    static value from_int(int64_t i) { value v; v.type = kind::integer; v.integer = i; v.number = static_cast<double>(i); return v; }
    static value from_double(double d) { value v; v.type = kind::number; v.number = d; return v; }
    static value from_string(std::string s) { value v; v.type = kind::string; v.text = std::move(s); return v; }
    static value array() { value v; v.type = kind::array; return v; }
    static value object() { value v; v.type = kind::object; return v; }

    bool is_null() const { return type == kind::null; }
    bool is_bool() const { return type == kind::boolean; }
    bool is_integer() const { return type == kind::integer; }
    bool is_number() const { return type == kind::integer || type == kind::number; }
    bool is_string() const { return type == kind::string; }
    bool is_array() const { return type == kind::array; }
    bool is_object() const { return type == kind::object; }

    // The member `name` of an object, or nullptr.
    const value* find(std::string_view name) const;
    value* find(std::string_view name);
    // Appends a member (objects) without checking for duplicates.
    value& set(std::string name, value v);
    bool operator==(const value& other) const;
};

// Parses one document; trailing non-space bytes are an error. Errors are
// invalid_argument: "at byte 17: expected ':' after an object key".
result<value> parse(std::string_view text);
// Compact form, no spaces; strings escaped minimally (", \, control chars).
std::string dump(const value& v);
void append_quoted(std::string& out, std::string_view text);
std::string quote(std::string_view text);

}  // namespace millrace::avro::json
