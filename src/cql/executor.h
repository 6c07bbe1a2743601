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
#include <asio/thread_pool.hpp>

#include "millrace/common/clock.h"
#include "millrace/common/log.h"
#include "millrace/common/metrics.h"
#include "auth.h"
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

// RESULT bodies: Void, and Rows with full metadata and no paging.
std::string void_result_body();
std::string rows_result_body(const std::vector<column_spec>& specs, const std::vector<std::vector<std::optional<std::string>>>& rows);

struct prepared_statement {
    std::string id;
    std::string query;
    std::string keyspace;  // the session keyspace when prepared
    // Shared, not copied, by the requests executing it: the cache may evict
    // the entry while one runs, and a copy per EXECUTE was a deep copy of
    // the statement's tree on the hot path.
    std::shared_ptr<const parsed_statement> parsed;
    std::vector<column_spec> bind_specs;
    std::vector<column_spec> result_specs;
    std::vector<int16_t> pk_indexes;
};

// Per-connection state a statement may change.
struct session {
    std::string keyspace;
    // The logged-in role when authentication is on ("" otherwise: nothing is checked).
    std::string user;
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
    // The port the server listens on, shown as system.local.rpc_port (drivers read it). Before serving.
    void set_native_port(uint16_t port) { native_port_ = port; }

    // Loads the catalog (and the roles and grants) from the store. An error
    // means the data directory is unusable.
    status load();

    // Authentication and authorization (cql.authenticator=password or
    // security.enabled): role statements work and every statement of a
    // session with a user is checked. Call before serving.
    void enable_auth() { auth_enabled_ = true; }
    bool auth_enabled() const { return auth_enabled_; }
    const auth_model& auth() const { return auth_; }
    // Creates the role (superuser, LOGIN) or resets its password when it does
    // not match; blocks until durable. For start(), before serving.
    status bootstrap_role(const std::string& name, const std::string& password);
    // SASL PLAIN credentials against system_auth.roles: "" when they are
    // right, else the Bad credentials message. bcrypt runs off the io thread.
    asio::awaitable<std::string> authenticate(std::string user, std::string password);

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
    friend struct auth_runner;
    // Queues `m` on the store's writer; resumes on the io thread once durable.
    asio::awaitable<mutation_result> apply_mutation(mutation m);
    // Role and permission statements (auth_statements.cc).
    asio::awaitable<response> run_auth_statement(const parsed_statement& stmt, session& s);
    // After a CREATE/DROP KEYSPACE/TABLE answered SCHEMA_CHANGE: the creator
    // gets every permission on it; a dropped one loses its grants (Cassandra does both).
    asio::awaitable<void> after_schema_change(const statement& st, const session& s);
    asio::io_context& io_;
    store& store_;
    millrace::clock& clock_;
    catalog catalog_;
    // LRU of prepared statements: most recently used first; prepared_ indexes it.
    std::list<prepared_statement> prepared_lru_;
    std::unordered_map<std::string, std::list<prepared_statement>::iterator> prepared_;
    size_t prepared_cache_size_;
    std::function<void(std::string_view)> schema_listener_;
    bool auth_enabled_ = false;
    auth_model auth_;
    // bcrypt (tens of milliseconds) runs here, never on the io thread.
    asio::thread_pool hash_pool_{1};
    metrics::counter* evictions_ = nullptr;
    int64_t last_timestamp_ = 0;
    uint16_t native_port_ = 9042;
    log::logger log_{"cql"};
};

}  // namespace millrace::cql
