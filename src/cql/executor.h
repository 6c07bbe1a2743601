// Executes parsed statements against the catalog and the store, and builds
// RESULT bodies. Lives on the io thread; writes wait for the store's writer
// without blocking it.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <unordered_map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "millrace/common/clock.h"
#include "millrace/common/log.h"
#include "millrace/common/metrics.h"
#include "parser.h"
#include "protocol/frame_format.h"
#include "schema.h"
#include "storage/store.h"

namespace millrace::cql {

// An answer that is an ERROR frame.
struct request_error {
    error_code code = error_code::server_error;
    std::string message;
    std::string keyspace, table;  // already_exists
    std::string statement_id;     // unprepared
};

// RESULT body bytes, or an error.
using response = std::variant<std::string, request_error>;

struct query_params {
    int16_t consistency = 1;
    std::vector<std::optional<std::string>> values;
    std::vector<bool> unset;  // parallel to values: the client sent "unset"
    std::vector<std::string> names;  // with names_for_values
    int32_t page_size = -1;
    std::optional<std::string> paging_state;
    bool skip_metadata = false;
    std::optional<int64_t> default_timestamp;
};

struct column_spec {
    std::string keyspace, table, name;
    cql_type type;
};

struct prepared_statement {
    std::string id;
    std::string query;
    std::string keyspace;  // the session keyspace when prepared
    parsed_statement parsed;
    std::vector<column_spec> bind_specs;
    std::vector<column_spec> result_specs;
    std::vector<int16_t> pk_indexes;
};

// Per-connection state a statement may change.
struct session {
    std::string keyspace;
};

class executor {
public:
    // `prepared_cache_size` caps the prepared statements kept (least recently used evicted).
    executor(asio::io_context& io, store& db, millrace::clock& clock, size_t prepared_cache_size = 10000);

    // Called on the io thread after every schema change that was made durable,
    // with the body of the Schema_change result after its kind (change, target, options).
    void set_schema_listener(std::function<void(std::string_view)> listener) { schema_listener_ = std::move(listener); }
    // Counts prepared statements evicted from the cache (may stay unset).
    void set_eviction_counter(metrics::counter* evictions) { evictions_ = evictions; }

    // Loads the catalog from the store. An error means the data directory is unusable.
    status load();

    asio::awaitable<response> execute(const parsed_statement& stmt, const query_params& params, session& s);
    // Parses and describes `query`; the result is cached by id.
    response prepare(const std::string& query, const session& s);
    // The cached statement, marked most recently used; nullptr when unknown or
    // evicted. The pointer is valid until the next prepare().
    const prepared_statement* find_prepared(const std::string& id);
    size_t prepared_count() const { return prepared_.size(); }
    // Executes a BATCH frame's statements as one atomic mutation.
    asio::awaitable<response> execute_batch(std::vector<std::pair<const parsed_statement*, query_params>> statements,
                                            const query_params& common, session& s);

private:
    friend struct statement_runner;
    asio::io_context& io_;
    store& store_;
    millrace::clock& clock_;
    catalog catalog_;
    // LRU of prepared statements: most recently used first; prepared_ indexes it.
    std::list<prepared_statement> prepared_lru_;
    std::unordered_map<std::string, std::list<prepared_statement>::iterator> prepared_;
    size_t prepared_cache_size_;
    std::function<void(std::string_view)> schema_listener_;
    metrics::counter* evictions_ = nullptr;
    int64_t last_timestamp_ = 0;
    log::logger log_{"cql"};
};

}  // namespace millrace::cql
