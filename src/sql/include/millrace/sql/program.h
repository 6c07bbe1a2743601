// A compiled job: a file of Flink SQL statements (SET, CREATE TABLE, INSERT
// INTO ... SELECT, EXECUTE STATEMENT SET) parsed, bound, type-checked and
// planned. The runtime reads the tables, settings and pipelines from it and
// makes the per-thread operators (decoders, pipelines, window states).
//
//   auto compiled = sql::compile_job(text, "jobs/created_users.sql");
//   if (auto* errors = std::get_if<std::vector<sql::diagnostic>>(&compiled)) ...
//   const sql::job_program& job = std::get<sql::job_program>(compiled);
//
// A job_program is immutable and cheap to copy (shared state); thread-safe to
// read and to make operators from. Operators it makes keep the state alive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/sql/diagnostic.h"
#include "millrace/sql/types.h"

namespace millrace::sql {

class source_decoder;
class stateless_pipeline;
class window_state;
class row_encoder;

enum class column_kind : uint8_t {
    physical,  // read from the record's value (or key, when listed in key.fields)
    computed,  // `name AS expression`, evaluated by the decoder after the physical and metadata columns
    metadata,  // `name TYPE METADATA [FROM 'key'] [VIRTUAL]`
};

struct column_def {
    std::string name;
    sql_type type;
    column_kind kind = column_kind::physical;
    std::string metadata_key;     // metadata: "timestamp", "partition", "offset", "headers", "topic", ...
    bool is_virtual = false;      // metadata: VIRTUAL (not written by a sink)
    bool from_key = false;        // physical: one of 'key.fields', read from the record key
    std::string expression;       // computed: the expression's text as written
    position where;
};

// WATERMARK FOR column AS column - INTERVAL 'n' unit (or AS column: no delay).
struct watermark_def {
    std::string column;         // the rowtime column (TIMESTAMP(3) or TIMESTAMP_LTZ(3))
    size_t column_index = 0;    // index into the table's columns
    int64_t delay_ms = 0;       // watermark = max event time seen - delay_ms
    std::string expression;     // as written
};

struct table_def {
    std::string name;
    position where;
    std::vector<column_def> columns;  // declared order = the row layout of decoded rows
    bool columns_from_registry = false;  // avro-confluent source without a column list (see make_decoder)
    std::map<std::string, std::string> options;  // every WITH option, as written
    std::string connector;          // options["connector"]: "kafka" | "cassandra" | "upsert-kafka" | ...
    std::string format;             // options["format"] or ["value.format"]: "json" | "avro-confluent" | "" (cassandra)
    std::string key_format;         // options["key.format"], "" when none
    std::vector<std::string> key_fields;  // options["key.fields"] split on ';'
    std::optional<watermark_def> watermark;
    std::vector<std::string> primary_key;  // PRIMARY KEY (...) NOT ENFORCED

    // options[key] or `fallback`.
    std::string option(const std::string& key, const std::string& fallback = "") const;
    const column_def* find_column(std::string_view name) const;  // case-insensitive, nullptr when absent
    // Columns a sink writes: every column except virtual metadata and computed ones.
    std::vector<column_type> persisted_columns() const;
};

enum class window_kind : uint8_t { none, tumble, hop, cumulate };

struct window_spec {
    window_kind kind = window_kind::none;
    std::string time_column;  // DESCRIPTOR(col)
    int64_t size_ms = 0;      // TUMBLE size, HOP size, CUMULATE max size
    int64_t slide_ms = 0;     // HOP slide, CUMULATE step (= size for TUMBLE)
    int64_t offset_ms = 0;    // optional 4th argument (window alignment offset)
};

// One INSERT INTO sink SELECT ... FROM source.
struct pipeline_def {
    size_t index = 0;          // in job_program::pipelines()
    std::string source_table;  // name, as in tables()
    std::string sink_table;
    size_t source = 0;         // index into job_program::tables()
    size_t sink = 0;
    bool windowed = false;     // GROUP BY over a window TVF: make_window_state(); else make_stateless()
    window_spec window;
    // The output row's layout: the sink's persisted_columns() (names and declared
    // types; the query is cast to them; columns an INSERT column list leaves out are NULL).
    std::vector<column_type> output;
    std::string sql;           // the INSERT statement's text
    position where;
};

// A set of pipelines that read one source table once (one consumer). Each
// EXECUTE STATEMENT SET gives one read per source it reads; a lone INSERT
// gives a read of its own.
struct source_read {
    size_t source = 0;              // index into tables()
    std::vector<size_t> pipelines;  // indexes into pipelines()
};

class job_program {
public:
    const std::string& file_name() const;
    const std::string& text() const;
    // SET 'key' = 'value' statements, in effect for the whole job (later SETs win).
    const std::map<std::string, std::string>& settings() const;
    std::string setting(const std::string& key, const std::string& fallback = "") const;
    // Every CREATE TABLE, in file order.
    const std::vector<table_def>& tables() const;
    const table_def* find_table(std::string_view name) const;  // case-insensitive
    // Indexes into tables() of the tables INSERTs read (sources) and write (sinks).
    std::vector<size_t> sources() const;
    std::vector<size_t> sinks() const;
    const std::vector<pipeline_def>& pipelines() const;
    const std::vector<source_read>& reads() const;

    // The operator plan of every pipeline, as `millrace jobs explain` prints it.
    std::string explain() const;

    // A decoder for a source table's records. Errors: invalid_argument when the
    // table's format is not supported. One per thread (not thread-safe).
    result<std::unique_ptr<source_decoder>> make_decoder(size_t table) const;
    // A filter + projection for a stateless pipeline (invalid_argument when windowed). One per thread.
    result<std::unique_ptr<stateless_pipeline>> make_stateless(size_t pipeline) const;
    // Window state for a windowed pipeline (invalid_argument when stateless). One per thread.
    result<std::unique_ptr<window_state>> make_window_state(size_t pipeline) const;
    // An encoder of a Kafka sink's value (and key) in its format. For avro-confluent
    // give the schema id and text the registry returned for avro_schema_for(table).
    result<std::unique_ptr<row_encoder>> make_encoder(size_t table, int32_t avro_schema_id = -1,
                                                      std::string_view avro_schema_text = {}) const;

    struct state;  // internal
    explicit job_program(std::shared_ptr<const state> s) : state_(std::move(s)) {}
    const state& internal() const { return *state_; }

private:
    std::shared_ptr<const state> state_;
};

struct compile_options {
    // The latest Avro schema text of a registry subject ("<topic>-value"), for
    // avro-confluent sources declared without a column list. Unset: such tables
    // are an error. A failure's message becomes the diagnostic.
    std::function<result<std::string>(const std::string& subject)> latest_schema;
};

// Parses, binds and plans a job file. Returns every error found (not only the
// first), each with the file name, line and column. Pure; thread-safe.
std::variant<job_program, std::vector<diagnostic>> compile_job(std::string_view text, std::string file_name,
                                                               const compile_options& options = {});

// Setting keys the runtime understands (SET 'key' = 'value'); documented in docs/sql.md.
namespace settings {
constexpr const char* k_early_fire_enabled = "table.exec.emit.early-fire.enabled";
constexpr const char* k_early_fire_delay = "table.exec.emit.early-fire.delay";
// A source partition without records for this long no longer holds the
// watermark back (until it sends again); '0 ms' (the default) disables it.
constexpr const char* k_idle_timeout = "table.exec.source.idle-timeout";
constexpr const char* k_pipeline_name = "pipeline.name";
constexpr const char* k_group_id = "properties.group.id";
constexpr const char* k_dlq_topic = "dlq.topic";
constexpr const char* k_batch_size = "batch.size";
}  // namespace settings

// Parses a Flink duration ("5 s", "1 min", "500ms", "2 minutes", "1h") into
// milliseconds; invalid_argument otherwise.
result<int64_t> parse_duration(std::string_view text);

}  // namespace millrace::sql
