// Internal: readers of a record's value/key bytes into the physical columns of
// a row, per format, and the writers for sinks.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "millrace/sql/decoder.h"
#include "millrace/sql/program.h"

namespace millrace::sql {

// The physical columns one part of a record (value or key) fills.
struct field_target {
    std::string name;
    sql_type type;
    size_t index = 0;  // in the decoded row
};

struct json_options {
    bool fail_on_missing_field = false;
    bool ignore_parse_errors = false;
    bool iso_timestamps = false;  // json.timestamp-format.standard = 'ISO-8601'
};
json_options json_options_of(const table_def& t, const std::string& prefix);

// Reads bytes into the targets of `row` (already sized). Not thread-safe.
class part_reader {
public:
    virtual ~part_reader() = default;
    // Fills the targets; returns ok, rejected (error set) or need_schema.
    virtual decode_status read(std::string_view bytes, row& out, record_error& error) = 0;
    virtual int32_t schema_id() const { return -1; }
    virtual status add_writer_schema(int32_t, std::string_view) { return make_error(errc::unsupported, "this format has no writer schemas"); }
};

std::unique_ptr<part_reader> make_json_reader(std::vector<field_target> targets, json_options options);
std::unique_ptr<part_reader> make_raw_reader(field_target target);
std::unique_ptr<part_reader> make_avro_reader(std::vector<field_target> targets);

// Writers: the columns (by index into the row) in the format.
void write_json(std::string& out, const row& r, const std::vector<field_target>& fields, const json_options& options);
void write_json_value(std::string& out, const value& v, const sql_type& t, const json_options& options);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace millrace::sql
