// Source decoders: a Kafka record (value, key, metadata) -> the source
// table's row (every declared column: physical, metadata, computed), or a
// decode error for the DLQ. One per thread; reuses its buffers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/sql/types.h"

namespace millrace::sql {

// Why a record was rejected; to_string() is the DLQ header error.code.
enum class error_code : uint8_t {
    empty_value,     // null or empty value (a tombstone) where the format needs one
    malformed_json,  // not JSON, invalid UTF-8, trailing bytes
    not_an_object,   // JSON, but not an object
    missing_field,   // a declared field is absent and json.fail-on-missing-field is true, or a NOT NULL column is null
    wrong_type,      // a field's JSON/Avro type cannot become the column's type
    invalid_value,   // right type, unusable value (bad timestamp text, number out of range)
    malformed_avro,  // Confluent-framed Avro that does not decode with its writer schema
    unknown_schema,  // an Avro writer schema that is not a record or cannot be resolved to the columns
    eval_error,      // a computed column, filter or projection failed (CAST of bad text, ...)
    late_record,     // a record for a window that already fired (watermark passed its end)
};
std::string_view to_string(error_code code);

struct record_error {
    error_code code = error_code::eval_error;
    std::string field;    // the column/field concerned, "" when none
    std::string message;  // one line: what and where
};

struct kafka_header {
    std::string key;
    std::optional<std::string> value;
};

// The record's Kafka facts, for metadata columns. Views must outlive the decode() call only.
struct record_metadata {
    std::string_view topic;
    int32_t partition = 0;
    int64_t offset = 0;
    int64_t timestamp_ms = 0;
    int32_t timestamp_type = 0;  // 0 create time, 1 log append time
    const std::vector<kafka_header>* headers = nullptr;
};

enum class decode_status : uint8_t {
    ok,           // `out` holds the row
    rejected,     // `error` says why; send the record to the DLQ
    need_schema,  // avro-confluent: call add_writer_schema(schema_id(), text) then decode again
};

class source_decoder {
public:
    virtual ~source_decoder() = default;

    // Decodes one record into `out` (resized to the table's columns). `value`
    // or `key` nullopt means a null value/key. Not thread-safe.
    virtual decode_status decode(std::optional<std::string_view> value, std::optional<std::string_view> key,
                                 const record_metadata& meta, row& out, record_error& error) = 0;

    // After need_schema: the schema id the last record was framed with.
    virtual int32_t schema_id() const { return -1; }
    // Installs (and caches for the decoder's life) the writer schema `id` the
    // registry returned. Errors: invalid_argument when the text is not an Avro
    // schema; records framed with it are then rejected as unknown_schema.
    virtual status add_writer_schema(int32_t id, std::string_view schema_text);

    // The index, in the decoded row, of the watermark's rowtime column, or nullopt.
    virtual std::optional<size_t> rowtime_index() const = 0;
    // The clock computed columns' CURRENT_TIMESTAMP reads (default: the system clock).
    virtual void set_clock(clock_fn now_ms) = 0;
};

}  // namespace millrace::sql
