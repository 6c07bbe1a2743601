// How a PostgreSQL relation becomes an Avro record schema, and a row (values
// in their text output form, as pgoutput sends them) its Avro binary datum,
// for `cdc.format: avro`. docs/cdc.md documents the mapping; the text forms
// assume the capture's session settings (k_session_options: DateStyle ISO,
// TimeZone UTC, bytea_output hex).
//
// Pure functions, no I/O; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::cdc {

struct avro_column {
    std::string name;           // PostgreSQL column name
    uint32_t type_oid = 0;
    int32_t type_modifier = -1;  // numeric(p,s) needs it for decimal
    bool nullable = true;        // ["null", T] union with default null
};

// An Avro name: letters, digits and _ (others become _), not starting with a digit.
std::string avro_name(std::string_view text);

// The Avro type (schema JSON) of a non-null value of a PostgreSQL type.
std::string avro_type(uint32_t type_oid, int32_t type_modifier);

// {"type":"record","name":<name>,"namespace":<ns>,"fields":[...]}: one field
// per column in order, nullable columns as ["null", T] with default null.
std::string avro_record_schema(std::string_view name, std::string_view ns, const std::vector<avro_column>& columns);

// Appends the binary encoding of one column value (`text` nullopt = SQL NULL).
// Errors (invalid_argument) name the column and the text.
status append_avro_value(std::string& out, const avro_column& column, std::optional<std::string_view> text);

// Helpers exposed for tests: "2024-02-29 11:14:15.5+00" → µs since the epoch;
// "2024-02-29" → days since the epoch; "-12.50" at scale 2 → two's complement
// big-endian bytes of -1250.
result<int64_t> timestamp_micros(std::string_view text);
result<int32_t> date_days(std::string_view text);
result<std::string> decimal_bytes(std::string_view text, int scale);

}  // namespace millrace::cdc
