// How a PostgreSQL value, in its text output form (what pgoutput sends and a
// text-mode SELECT returns), becomes JSON. docs/cdc.md documents the mapping;
// the text forms assume the session settings the capture sets on its
// connections (k_session_options): DateStyle ISO, TimeZone UTC,
// IntervalStyle iso_8601, bytea_output hex.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace millrace::cdc {

// The `options` connection parameter the capture connects with.
inline constexpr const char* k_session_options =
    "-c datestyle=ISO,YMD -c timezone=UTC -c intervalstyle=iso_8601 -c bytea_output=hex -c extra_float_digits=1";

// Appends `text` as a JSON string (quoted, escaped; invalid UTF-8 bytes
// become U+FFFD so the output is always valid JSON).
void append_json_string(std::string& out, std::string_view text);

// Appends the JSON form of a value of type `type_oid` given in its text
// output form. Unknown types (enums, domains over unknown types, ranges,
// geometric types, ...) become JSON strings of their text form.
void append_json_value(std::string& out, uint32_t type_oid, std::string_view text);

// The element type of a built-in array type, or 0 when `type_oid` is not one.
uint32_t array_element_type(uint32_t type_oid);

}  // namespace millrace::cdc
