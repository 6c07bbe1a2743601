// The statement runner: evaluates one parsed statement with its bound values
// against the executor's catalog and store. Its methods are split by statement
// kind, as ScyllaDB splits cql3/statements: statement_runner.cc (dispatch, terms,
// keys), select_statement.cc, modification_statement.cc (INSERT/UPDATE/DELETE/
// BATCH cells), schema_statement.cc (DDL), describe_statement.cc. Internal to
// src/cql; short-lived, on the io thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "executor.h"
#include "statements/results.h"
#include "storage/key_format.h"
#include "system_tables.h"

namespace millrace::cql {
namespace kf = key_format;

// Cartesian products of IN lists on the partition key are capped (Cassandra caps them too).
constexpr size_t k_max_partitions_per_query = 1000;

inline request_error invalid(std::string message) { return {error_code::invalid, std::move(message), {}, {}, {}}; }

inline cql_type int_type() { return cql_type{type_kind::int_, {}, false}; }
inline cql_type bigint_type() { return cql_type{type_kind::bigint, {}, false}; }

// A big-endian two's complement integer of 1..8 bytes.
inline int64_t be_int(std::string_view b) {
    uint64_t v = 0;
    for (char c : b) v = (v << 8) | uint8_t(c);
    if (!b.empty() && b.size() < 8 && (uint8_t(b[0]) & 0x80)) v |= ~uint64_t(0) << (8 * b.size());
    return static_cast<int64_t>(v);
}

// The serialized partition key that Murmur3 hashes: the single value, or for a
// composite key each component as length (2) + bytes + 0x00.
std::string token_input(const std::vector<std::string>& components);

// A JSON value as a value of type `t` (fromJson(); from_json.cc); errors are Cassandra's messages.
result<std::optional<std::string>> value_from_json(const cql_type& t, std::string_view text);
// The columns and values of INSERT ... JSON's object, in the object's order; unknown columns and
// undecodable values are errors with Cassandra's messages.
result<std::vector<std::pair<const column_def_full*, std::optional<std::string>>>> row_from_json(const table_def& t,
                                                                                                  std::string_view text);

// The JSON text of a value as Cassandra's toJson() writes it ("null" for null); selectors.cc.
std::string json_value(const cql_type& t, const std::optional<std::string>& v);

struct statement_runner {
    executor& ex;
    const parsed_statement& ps;
    const query_params& params;
    session& sess;
    // A conditional write (IF NOT EXISTS / IF EXISTS / IF col ...): its table, row key and the columns a refused
    // answer returns after [applied] (cas_all: every column, as for IF NOT EXISTS). Set by build_write.
    std::shared_ptr<table_def> cas_table = nullptr;
    std::string cas_row = {};
    std::vector<const column_def_full*> cas_columns = {};
    bool cas_all = false;

    using value = std::optional<std::string>;

    uint32_t now_seconds() const { return static_cast<uint32_t>(ex.clock_.wall_millis() / 1000); }

    int64_t next_timestamp();

    std::string keyspace_of(const std::string& ks) const { return ks.empty() ? sess.keyspace : ks; }

    result<std::shared_ptr<table_def>> table(const std::string& ks_in, const std::string& name) const;

    // The value of a term for a receiver of type `type`.
    result<value> eval(const term& tm, const cql_type& type, std::string_view receiver = {}) const;

    std::string generate_uuid(bool time_based) const;

    result<int64_t> eval_int(const term& tm, bool is_bigint) const;

    // ---- keys

    std::string partition_prefix(const table_def& t, const std::vector<std::string>& pk) const;

    std::string row_key(const table_def& t, const std::vector<std::string>& pk, const std::vector<std::string>& ck) const;

    // Decodes partition key and clustering values from a row key (ck stays empty for a partition's
    // static cells: the partition prefix alone).
    bool decode_row_key(const table_def& t, std::string_view key, std::vector<std::string>& pk, std::vector<std::string>& ck) const;

    // ---- WHERE analysis

    struct key_restrictions {
        std::vector<std::vector<std::string>> partitions;  // every partition key addressed (cartesian product of = / IN)
        bool partition_restricted = false;
        std::optional<int64_t> token_lo, token_hi;  // inclusive bounds
        std::vector<std::vector<std::string>> clustering_eq;  // exact clustering prefixes (when every relation is = / IN)
        struct filter {
            const column_def_full* column;
            relation_op op;
            std::vector<std::string> values;
        };
        std::vector<filter> filters;  // evaluated on each row
        bool needs_filtering = false;
    };

    result<key_restrictions> analyze(const table_def& t, const std::vector<relation>& where) const;

    static bool matches(const key_restrictions::filter& f, const value& v);
    // True when an index (CREATE INDEX) answers the restrictions that would otherwise need ALLOW FILTERING.
    static bool served_by_index(const table_def& t, const key_restrictions& kr);

    // ---- reading rows

    struct row_data {
        std::string key;                              // row key (without the column id)
        std::map<uint16_t, std::string> cells;        // live cells
        std::map<uint16_t, kf::cell> meta;            // their write time and ttl
        std::vector<std::string> pk, ck;
        std::map<uint16_t, kf::cell> dead;            // dead cells read so far (a later-read older cell must not revive)
    };

    // Adds a stored cell of column `id` to `r` last-write-wins against what `r` already holds for it.
    static void merge_cell(row_data& r, uint16_t id, const kf::cell& c, uint32_t now);

    // Calls `on_row` for every live row in [begin, end) (reverse order when asked)
    // until it returns false.
    void scan(const table_def& t, const std::string& begin, const std::string& end, bool reverse,
              const std::function<bool(row_data&)>& on_row) const;

    // The length of the partition prefix (table, token, partition key) that starts `key`; 0 when malformed.
    static size_t partition_prefix_size(const table_def& t, std::string_view key);
    // Adds the live static cells of `partition` (a partition prefix) to `out`.
    void read_statics(const table_def& t, const std::string& partition, row_data& out) const;

    value column_value(const table_def& t, const row_data& r, const column_def_full& col) const;

    // ---- statements

    // Not a coroutine itself: GCC 12 mishandles init-captures inside a co_await
    // expression, so the awaitable is returned directly.
    asio::awaitable<mutation_result> apply(mutation m) { return ex.apply_mutation(std::move(m)); }

    static request_error server_error(const mutation_result& r);

    void bump_schema_version();

    asio::awaitable<response> run(const statement& st);

    // DESCRIBE as Cassandra 4.0 answers it: rows of (keyspace_name, type, name)
    // for lists, plus create_statement for elements.
    response describe(const describe_stmt& d);

    static std::string table_name(const statement& st);

    // Adds the cells of one INSERT/UPDATE/DELETE to `m`. Returns the keyspace.
    result<std::string> build_write(const statement& st, mutation& m, const write_options& batch_options);

    struct write_meta {
        int64_t timestamp;
        uint32_t ttl = 0;
    };

    result<write_meta> options_of(const write_options& o, const write_options& batch_options, int32_t default_ttl = 0);

    std::string cell(const write_meta& w, uint32_t now, const value& v) const;

    static std::string cell_key(const std::string& row, uint16_t id);

    result<std::string> insert(const insert_stmt& s, mutation& m, const write_options& batch_options);

    // Rows addressed by a full primary key (UPDATE, DELETE of a row).
    result<std::vector<std::string>> exact_rows(const table_def& tbl, const std::vector<relation>& where, bool allow_partial,
                                                key_restrictions& kr);

    result<std::string> update(const update_stmt& s, mutation& m, const write_options& batch_options);

    bool is_unset(const term& tm) const;

    // `u.f = v` (nullptr value: DELETE u.f) on a non-frozen udt column: the merge that sets the field.
    result<std::function<std::optional<std::string>(const std::optional<std::string>&)>> field_update(const column_def_full& col,
                                                                                                       const std::string& field,
                                                                                                       const term* value_term);
    // The operation and operand of `c = c + x`, `c = x + c`, `c = c - x` or
    // `m[k] = v` on a non-frozen collection; nullopt when the operand is null.
    result<std::optional<std::pair<collection_op, std::string>>> collection_update(const column_def_full& col, const assignment& a);

    result<std::string> remove(const delete_stmt& s, mutation& m, const write_options& batch_options);

    // UPDATE/DELETE ... IF EXISTS or IF col op v [AND ...] on the one row of `rows`: the mutation's
    // condition and the CAS columns (nothing when neither is given).
    status add_if_clauses(const std::shared_ptr<table_def>& tbl, bool if_exists, const std::vector<relation>& conditions,
                          const std::vector<std::string>& rows, mutation& m);

    // The answer to a conditional write: [applied], and when refused on an existing row, that row's columns.
    std::string cas_result(const std::string& keyspace, const std::string& table, const mutation_result& res) const;

    // One conditional statement of a BATCH: its row and the columns a refusal returns (as cas_* above).
    struct cas_row_spec {
        std::shared_ptr<table_def> table;
        std::string row;
        std::vector<const column_def_full*> columns;
        bool all = false;
    };
    // A conditional BATCH's answer: [applied]; when refused, one row per existing conditioned row (in key order) with
    // the key columns and the union of the conditions' columns (every column after an IF [NOT] EXISTS).
    std::string batch_cas_result(const std::string& keyspace, const std::string& table, const std::vector<cas_row_spec>& rows,
                                 const mutation_result& res) const;
    // The same when conditions name static columns (Cassandra answers with the partition's first row then).
    std::string batch_cas_result_with_statics(const std::string& keyspace, const std::string& table,
                                              const std::vector<cas_row_spec>& rows, const mutation_result& res) const;
    // A refused conditional batch's rows: [applied] false, then `columns` of each row in `existing`
    // (row key → its cells); static columns from `statics` when given.
    std::string refused_rows(const table_def& tbl, const std::string& keyspace, const std::string& table,
                             const std::vector<const column_def_full*>& columns,
                             const std::map<std::string, const std::map<uint16_t, std::string>*>& existing,
                             const std::map<uint16_t, std::string>* statics) const;

    // ---- SELECT

    struct projection {
        std::vector<column_spec> specs;
        std::vector<const column_def_full*> columns;  // nullptr for count(*)
        std::vector<bool> writetime;                  // per column: WRITETIME(column) rather than its value
        std::vector<const selector_expr*> exprs;      // per column: a function/cast/ttl selector (columns[i] is nullptr)
        std::vector<column_spec> json_specs;          // SELECT JSON: the selected columns (specs is then [json])
        bool count = false;
    };

    result<projection> project(const select_stmt& s, const std::string& ks, const std::string& tname,
                               const std::vector<std::pair<std::string, cql_type>>& all_columns,
                               const std::vector<const column_def_full*>* table_columns) const;

    // What a selector reads from the current row (a stored row or a system table's).
    struct selector_row {
        const std::vector<std::pair<std::string, cql_type>>* all_columns = nullptr;
        const table_def* tbl = nullptr;  // nullptr for system tables
        std::function<value(const std::string&)> column;
        std::function<const kf::cell*(const std::string&)> meta;  // write time and ttl of a regular column's cell
        const std::vector<std::string>* pk = nullptr;
    };
    // The type of a selector (selectors.cc); errors are Invalid answers (unknown column or function, bad arity).
    result<cql_type> selector_type(const selector_expr& e, const std::vector<std::pair<std::string, cql_type>>& all_columns,
                                   const table_def* tbl) const;
    result<value> eval_selector(const selector_expr& e, const selector_row& row) const;

    response select_system(const select_stmt& s, const std::string& ks, virtual_table v);
    // SELECT JSON: each row as one JSON object of the selected columns (Cassandra's [json] column).
    static void to_json_rows(const projection& p, std::vector<std::vector<value>>& rows);

    // SELECT DISTINCT's restrictions on what is selected and restricted; an Invalid answer when broken.
    std::optional<request_error> check_distinct(const table_def& tbl, const select_stmt& s, const projection& p,
                                                const key_restrictions& kr) const;

    response select(const select_stmt& s);

    // ---- DDL

    asio::awaitable<response> create_keyspace(const create_keyspace_stmt& s);

    asio::awaitable<response> create_table(const create_table_stmt& s);

    // Validates and sets the kept table options; an error answer when one is out of range.
    static std::optional<request_error> apply_table_options(table_def& t, const std::optional<std::string>& comment,
                                                            const std::optional<int64_t>& default_ttl,
                                                            const std::optional<int64_t>& gc_grace);

    asio::awaitable<response> drop(const drop_stmt& s);

    asio::awaitable<response> truncate(const truncate_stmt& s);

    asio::awaitable<response> alter(const alter_table_stmt& s);

    // CREATE INDEX / DROP INDEX: the table's record with its index list changed (schema.h index_def).
    asio::awaitable<response> create_index(const create_index_stmt& s);
    asio::awaitable<response> drop_index(const drop_index_stmt& s);
    // CREATE / ALTER / DROP TYPE (schema.h udt_def); ALTER re-resolves the columns of the keyspace's tables.
    asio::awaitable<response> type_statement(const type_stmt& s);
    // A column's type as written in `ks`, checked as Cassandra checks column types; an Invalid message.
    result<cql_type> column_type(const std::string& ks, const std::string& text) const;
    // Writes `copy` as the table's record and makes it the catalog's; the SCHEMA_CHANGE answer.
    asio::awaitable<response> replace_table(std::shared_ptr<table_def> copy);

    // The index on `column` that answers `op` (= on the value, CONTAINS on values(), CONTAINS KEY on keys()).
    static const index_def* index_for(const table_def& t, const column_def_full& column, relation_op op);
};

// Gathers the statements of a BATCH (query text or BATCH frame) into one mutation; with conditions, Cassandra's
// conditional batch: one table, one partition, every condition checked by the store's writer, all or nothing.
struct batch_builder {
    mutation m;
    std::vector<statement_runner::cas_row_spec> cas_rows;
    std::set<std::pair<std::string, std::string>> tables;  // (keyspace, table)
    std::set<std::string> partitions;                      // partition prefixes written
    std::optional<request_error> add(statement_runner& runner, const statement& st, const write_options& batch_options);
    // Cassandra's rules for conditional batches (an Invalid answer when broken).
    std::optional<request_error> check(bool custom_timestamp) const;
    // Void for a plain batch, else [applied] (and the existing rows when refused).
    response answer(const statement_runner& runner, const mutation_result& res) const;
};

}  // namespace millrace::cql
