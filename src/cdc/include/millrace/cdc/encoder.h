// How one captured change becomes a Kafka message: key, value and headers, in
// the three formats of cdc.format — flat JSON (deletes as tombstones), the
// Debezium-style envelope, and Avro in Confluent's framing (schema ids from
// the registry, which the caller asks before encoding). docs/cdc.md
// documents the formats.
//
// Pure: no I/O, no clock (the caller passes the time); thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "millrace/cdc/avro_mapping.h"
#include "millrace/cdc/pgoutput.h"
#include "millrace/common/result.h"

namespace millrace::cdc {

enum class message_format { json, envelope, avro };
const char* format_name(message_format format);

// One column of a captured table as the capture needs it.
struct column {
    std::string name;
    uint32_t type_oid = 0;
    bool key = false;
    int32_t type_modifier = -1;
};

// A captured table: its columns (from a Relation message or a snapshot's
// result) and, for cdc.format avro, the record schemas derived from them.
struct relation {
    std::string schema;
    std::string name;
    std::string topic;
    std::vector<column> columns;
    // cdc.format avro: the record schemas of the value (every column) and the
    // key (the key columns), and their registry ids (0 until registered).
    std::vector<avro_column> avro_value, avro_key;
    std::string value_schema, key_schema;
    mutable int value_schema_id = 0, key_schema_id = 0;
};

// Key columns are plain types; every other column is a ["null", T] union with
// default null: PostgreSQL sends NULL for them, an unchanged TOASTed value has
// no value to send, and a column added later stays a BACKWARD-compatible change.
void derive_avro(relation& rel);

// One row change (or a truncate) of a transaction, or a snapshot row.
struct change {
    char op;  // c u d r t
    const relation* rel;
    const tuple_data* before;
    const tuple_data* after;
    lsn position;
    uint32_t xid;
    int64_t commit_us;  // unix epoch
    bool snapshot;
    lsn commit_at{};  // the transaction's commit record (Begin's final LSN); the snapshot's point
};

struct encoder_options {
    message_format format = message_format::json;
    bool json_keys = false;  // cdc.key_format json
    std::string slot;        // the envelope's source.name
    std::string database;    // the envelope's source.db
    std::string version;     // the envelope's source.version
};

struct message {
    std::optional<std::string> key;    // none: no key columns (or a NULL key)
    std::optional<std::string> value;  // none: a tombstone
    std::vector<std::pair<std::string, std::string>> headers;
};

// The message for `ch`; nullopt when the format has nothing to say (a
// truncate in json and avro). `now_us` (unix epoch) is the envelope's ts_ms.
// For avro, the relation's schema ids must be set for the parts encoded (the
// key when there is a key schema, the value unless it is a delete). Errors
// (invalid_argument) name the column and value that do not encode.
[[nodiscard]] result<std::optional<message>> encode(const encoder_options& options, const change& ch, int64_t now_us);

// The message key: the primary key's text for a one-column key (json_keys
// false), else a JSON object of the key columns; nullopt without a key.
std::optional<std::string> encode_key(const relation& rel, const tuple_data& tuple, bool json_keys);

// Appends the row as a flat JSON object (unchanged TOASTed columns left out).
void append_row(std::string& out, const relation& rel, const tuple_data& tuple);

}  // namespace millrace::cdc
