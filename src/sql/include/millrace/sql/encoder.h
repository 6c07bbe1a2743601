// Sink encoders (Kafka: json, avro-confluent), the Avro schema Flink derives
// from a table's columns, and the Flink -> CQL type mapping for the cassandra sink.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/sql/program.h"
#include "millrace/sql/types.h"

namespace millrace::sql {

// Encodes a pipeline's output rows as Kafka values (and keys when the sink has
// 'key.format' and 'key.fields'). One per thread. Rows are laid out as the
// sink's persisted_columns(); metadata columns (e.g. 'timestamp', 'headers') are
// not encoded: the engine sets them on the Kafka record. Errors: invalid_argument
// naming the column when a value cannot be written (a NULL in a NOT NULL column).
class row_encoder {
public:
    virtual ~row_encoder() = default;
    virtual status encode_value(const row& r, std::string& out) = 0;
    // The key bytes, or nullopt when the sink has no key.
    virtual result<std::optional<std::string>> encode_key(const row& r) = 0;
};

// The Avro record schema Flink derives for these columns (nullable columns
// become ["null", T] unions; record name "record" unless given).
std::string avro_schema_for(const std::vector<column_type>& columns, const std::string& record_name = "record");
// The value schema of a Kafka sink table: its physical columns written to the
// value (without key fields when 'value.fields-include' = 'EXCEPT_KEY'); what
// make_encoder() encodes. Register this one for an avro-confluent sink.
std::string avro_schema_for(const table_def& sink);

// The columns Flink derives from an Avro record schema (for a source without a
// column list). Errors: invalid_argument naming the field whose type has no mapping.
result<std::vector<column_type>> columns_from_avro(std::string_view schema_text);

// CQL type for a Flink type: STRING->text, BIGINT->bigint, INT->int,
// SMALLINT->smallint, TINYINT->tinyint, DOUBLE->double, FLOAT->float,
// BOOLEAN->boolean, DECIMAL->decimal, DATE->date, TIME->time,
// TIMESTAMP/TIMESTAMP_LTZ->timestamp, BYTES->blob, ARRAY->list<...>,
// MAP->map<...>, ROW->text (JSON). invalid_argument for types without one.
result<std::string> cql_type_for(const sql_type& t);
// "CREATE TABLE IF NOT EXISTS ks.t (col type, ..., PRIMARY KEY (k...))" for a
// cassandra sink table ('keyspace' and 'table' options; the primary key as
// declared, else the error names the table). Columns written = persisted_columns().
result<std::string> cql_create_table(const table_def& sink);
// "CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {...}" (SimpleStrategy,
// 'replication-factor' option, default 1).
result<std::string> cql_create_keyspace(const table_def& sink);
// "INSERT INTO ks.t (cols) VALUES (?, ...)" in persisted_columns() order.
result<std::string> cql_upsert(const table_def& sink);

// A CQL identifier as a statement must spell it: a lower-case simple name
// ([a-z][a-z0-9_]*, not a reserved word) as is, anything else double-quoted
// with embedded quotes doubled ("firstName", "my col", "select"). CQL folds
// unquoted names to lower case, so quoting keeps the declared name exactly: the
// name system_schema stores is then the declared one.
std::string cql_identifier(std::string_view name);
// Whether `type` is a CQL type as CREATE TABLE accepts it: a native type
// (ascii, bigint, blob, boolean, counter, date, decimal, double, duration,
// float, inet, int, smallint, text, time, timestamp, timeuuid, tinyint, uuid,
// varchar, varint), list<T>, set<T>, map<K, V>, tuple<T, ...>, frozen<T>,
// vector<T, n>; case-insensitive, spaces allowed between tokens.
bool valid_cql_type(std::string_view type);

}  // namespace millrace::sql
