// A C++ client for the CQL native protocol v4, used by the processor's sink and
// by the CQL benchmark. It speaks only the wire protocol, so it works the same
// against millrace's `cql` store and against Apache Cassandra.
//
// A `session` owns one I/O thread and a pool of connections per contact point;
// every connection carries many requests at once (one stream id each). Each
// connection sends STARTUP (with lz4 when asked), authenticates with SASL PLAIN
// when the server asks, and switches to `client_options::keyspace`. Prepared
// statements are cached per session and re-prepared when a node answers
// UNPREPARED; requests lost with a connection are retried with backoff on a
// fresh connection.
//
// Errors are `millrace::error`s. Errors the server sent carry its code and
// message ("cql 127.0.0.1:9042: [0x2200 invalid] unconfigured table t"); read
// the code back with `server_error_code`.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/cql_protocol/types.h"

namespace millrace::cql_client {

// Consistency levels with their wire values (shared with the server).
using cql_protocol::consistency;

struct client_options {
    // "host" or "host:port" ("[v6addr]:port" for IPv6); the default port is 9042.
    std::vector<std::string> contact_points;
    // USE'd on every connection when not empty.
    std::string keyspace;
    // Sent only when the server asks for authentication (SASL PLAIN).
    std::string username;
    std::string password;
    // TLS: when set, every connection is TLS and the server's certificate must
    // chain to this CA file (PEM) and name the contact point's host (or IP).
    std::string tls_ca;
    int connections_per_host = 2;
    int max_in_flight_per_connection = 1024;  // at most 32768 (the stream ids of v4)
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds request_timeout{12000};
    // Attempts after the first for requests that fail with a retryable error
    // (connection lost, cannot connect, timed out, overloaded, unprepared).
    int max_retries = 5;
    // Doubles on each retry, capped at 32 times this value.
    std::chrono::milliseconds retry_backoff{100};
    // "" (none) or "lz4".
    std::string compression;
    consistency default_consistency = consistency::local_one;
    // Rows per page when query_options::page_size is not set.
    int32_t default_page_size = 5000;
};

// Splits a comma-separated list (as `services::cql_contact_points(ctx)` returns)
// into contact points, trimming blanks. Errors name the bad entry.
result<std::vector<std::string>> parse_contact_points(std::string_view comma_list);
// Options with the contact points of `comma_list` and defaults otherwise.
result<client_options> options_from_contact_points(std::string_view comma_list);

// CQL type ids with their wire values ([option] ids of the protocol).
using type_id = cql_protocol::type_id;

// A column type: an id, and for collections their element types
// (list/set: one; map: key then value; tuple: each; udt: each field).
struct data_type {
    type_id id = type_id::blob;
    std::vector<data_type> params;
    std::string custom_class;                // for type_id::custom
    std::vector<std::string> field_names;    // for type_id::udt
    std::string udt_keyspace, udt_name;      // for type_id::udt

    // CQL spelling: "text", "list<int>", "map<text, bigint>".
    std::string to_string() const;
    bool operator==(const data_type& other) const;
};

using uuid_bytes = std::array<uint8_t, 16>;

// A typed CQL value, or null. Cheap to move; copying copies collections.
//
// Factories name the CQL type they produce. Accessors check the kind and abort
// on a mismatch (a bug); test with `type()` / `is_null()` first when unsure.
// Integers of every width read back through `as_int()`; text, ascii, blob and
// the raw bytes of varint/inet read back through `as_bytes()`.
class value {
public:
    value() = default;  // null

    static value null() { return {}; }
    static value boolean(bool v);
    static value tinyint(int8_t v);
    static value smallint(int16_t v);
    static value int32(int32_t v);    // CQL int
    static value bigint(int64_t v);
    static value counter(int64_t v);
    static value float32(float v);    // CQL float
    static value float64(double v);   // CQL double
    static value text(std::string v);
    static value ascii(std::string v);
    static value blob(std::string bytes);
    static value uuid(const uuid_bytes& v);
    static value timeuuid(const uuid_bytes& v);
    // "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; errors name the bad text.
    static result<value> uuid_from_string(std::string_view s);
    static value timestamp(int64_t ms_since_epoch);
    static value date(int32_t days_since_epoch);     // 1970-01-01 is day 0
    static value time(int64_t ns_since_midnight);
    static value inet(std::string address_bytes);     // 4 or 16 bytes
    static result<value> inet_from_string(std::string_view address);  // "10.0.0.1", "::1"
    static value varint(int64_t v);
    // Big-endian two's complement bytes, as on the wire.
    static value varint_bytes(std::string twos_complement);
    // unscaled * 10^-scale.
    static value decimal(int32_t scale, int64_t unscaled);
    static value decimal_bytes(int32_t scale, std::string unscaled_twos_complement);
    static value list(std::vector<value> elements);
    static value set(std::vector<value> elements);
    static value map(std::vector<std::pair<value, value>> entries);

    bool is_null() const { return null_; }
    // The type this value was made with or decoded as.
    const data_type& type() const { return type_; }

    bool as_bool() const;
    int64_t as_int() const;                  // tinyint, smallint, int, bigint, counter, varint (if it fits)
    double as_double() const;                // float, double (and integers)
    const std::string& as_bytes() const;     // text, ascii, blob, varint/decimal unscaled bytes, inet bytes
    const std::string& as_text() const { return as_bytes(); }
    uuid_bytes as_uuid() const;              // uuid, timeuuid
    std::string uuid_string() const;         // lower-case 8-4-4-4-12
    int64_t as_timestamp() const;            // ms since epoch
    int32_t as_date() const;                 // days since epoch
    int64_t as_time() const;                 // ns since midnight
    std::string inet_string() const;         // "10.0.0.1" / "::1"
    int32_t decimal_scale() const;
    const std::vector<value>& elements() const;  // list, set
    std::vector<std::pair<value, value>> entries() const;  // map

    // Readable form, close to a CQL literal ('text', 1, [1, 2], {'k': 'v'}, null).
    std::string to_string() const;

    bool operator==(const value& other) const;

    // Wire codec. `encode` writes the [bytes] body (without its length) in the
    // encoding of `target` when given (converting between integer widths and
    // float/double; text into uuid/inet/timestamp is refused), else in its own
    // type. `decode` reads one cell of type `t`; nullopt is a null cell.
    // Errors name the type and the byte counts.
    result<std::string> encode(const data_type* target = nullptr) const;
    static result<value> decode(const data_type& t, std::optional<std::string_view> bytes);

private:
    data_type type_;
    bool null_ = true;
    int64_t int_ = 0;          // integers, boolean, timestamp, date, time, decimal scale
    double double_ = 0;
    std::string bytes_;        // text/ascii/blob, uuid (16 bytes), inet, varint, decimal unscaled
    std::vector<value> elements_;  // list/set elements; map: key0, value0, key1, value1, ...
};

using row = std::vector<value>;

struct column_spec {
    std::string keyspace;
    std::string table;
    std::string name;
    data_type type;
};

// One page of a result. Statements without rows (INSERT, DDL, USE) give an
// empty `rows`; `schema_change` / `keyspace` tell what happened.
struct rows {
    std::vector<column_spec> columns;
    std::vector<row> data;
    // Set when more pages follow: pass it in query_options::paging_state.
    std::optional<std::string> paging_state;
    std::string keyspace;       // after USE
    std::string schema_change;  // "CREATED TABLE ks.t" after DDL
    std::vector<std::string> warnings;
    std::string trace_id;  // 16-byte session id when the request was traced, else empty

    // Index of the column called `name`, or -1.
    int index_of(std::string_view name) const;
    size_t size() const { return data.size(); }
    bool empty() const { return data.empty(); }
    // Cell of row `row_idx` in column `name`; aborts when the column is missing.
    const value& at(size_t row_idx, std::string_view name) const;
};

// A statement prepared on the server: its id, the types of its bind markers
// and of its result columns. Shared, immutable; valid across connections and
// reconnects (the session re-prepares it when a node forgets it).
class prepared_statement {
public:
    prepared_statement(std::string query, std::string id, std::vector<column_spec> bind_columns,
                       std::vector<column_spec> result_columns, std::vector<uint16_t> partition_key_indexes)
        : query_(std::move(query)), id_(std::move(id)), bind_columns_(std::move(bind_columns)),
          result_columns_(std::move(result_columns)), partition_key_indexes_(std::move(partition_key_indexes)) {}

    const std::string& query() const { return query_; }
    // The id the server gave at PREPARE time (the session tracks re-prepared ids).
    const std::string& id() const { return id_; }
    const std::vector<column_spec>& bind_columns() const { return bind_columns_; }
    const std::vector<column_spec>& result_columns() const { return result_columns_; }
    const std::vector<uint16_t>& partition_key_indexes() const { return partition_key_indexes_; }

private:
    std::string query_;
    std::string id_;
    std::vector<column_spec> bind_columns_;
    std::vector<column_spec> result_columns_;
    std::vector<uint16_t> partition_key_indexes_;
};

using prepared_ptr = std::shared_ptr<const prepared_statement>;

struct query_options {
    std::optional<consistency> consistency_level;  // default: client_options::default_consistency
    std::optional<consistency> serial_consistency;
    // Rows per page (<= 0: no paging); default client_options::default_page_size.
    std::optional<int32_t> page_size;
    std::optional<std::string> paging_state;
    std::optional<int64_t> default_timestamp;      // microseconds since epoch
    std::optional<std::chrono::milliseconds> timeout;  // default client_options::request_timeout
    // Whether the request may be sent again after a connection was lost while it
    // was in flight (upserts are; counters and some LWTs are not).
    bool idempotent = true;
    // Sets the frame's tracing flag: the server records the request in
    // system_traces and rows::trace_id names the session.
    bool tracing = false;
};

enum class batch_kind : uint8_t { logged = 0, unlogged = 1, counter = 2 };

// One statement of a batch: prepared (with `prepared` set) or a query string.
struct batch_statement {
    prepared_ptr prepared;
    std::string query;
    std::vector<value> params;

    batch_statement(prepared_ptr p, std::vector<value> v) : prepared(std::move(p)), params(std::move(v)) {}
    batch_statement(std::string q, std::vector<value> v = {}) : query(std::move(q)), params(std::move(v)) {}
};

// Counters of one session (monotonic since connect).
struct session_stats {
    uint64_t requests = 0;
    uint64_t retries = 0;
    uint64_t reprepares = 0;
    uint64_t reconnects = 0;
    uint64_t timeouts = 0;
    int open_connections = 0;
};

// Thread-safe: every method may be called from any thread. The synchronous
// methods block the caller until the answer (or the timeout); do not call them
// from inside an async callback. Async callbacks run on the session's I/O
// thread: they must not block (hand heavy work to another thread) but may start
// further async requests.
class session {
public:
    class impl;
    using rows_callback = std::function<void(result<rows>)>;

    // Connects at least one connection to one contact point (errors name every
    // address tried and why); the rest of the pool opens in the background.
    static result<std::shared_ptr<session>> connect(client_options options);

    explicit session(std::shared_ptr<impl> impl);
    ~session();  // close()
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // A statement with optional positional `?` values (encoded by their own type).
    result<rows> query(std::string_view cql, const std::vector<value>& params = {}, const query_options& opts = {});
    // Cached by query string: preparing the same text twice asks the server once.
    result<prepared_ptr> prepare(std::string_view cql);
    result<rows> execute(const prepared_ptr& stmt, const std::vector<value>& params = {},
                         const query_options& opts = {});
    result<rows> batch(batch_kind kind, const std::vector<batch_statement>& statements,
                       const query_options& opts = {});
    // Every page of `cql`, concatenated (for tests and small tables).
    result<rows> query_all(std::string_view cql, const std::vector<value>& params = {},
                           const query_options& opts = {});

    void query_async(std::string cql, std::vector<value> params, rows_callback done, query_options opts = {});
    void execute_async(prepared_ptr stmt, std::vector<value> params, rows_callback done, query_options opts = {});
    void batch_async(batch_kind kind, std::vector<batch_statement> statements, rows_callback done,
                     query_options opts = {});

    // Fails in-flight and later requests with errc::cancelled, closes every
    // connection and joins the I/O thread. Idempotent. Must not be called from a
    // callback.
    void close();

    const client_options& options() const;
    session_stats stats() const;

private:
    std::shared_ptr<impl> impl_;
};

// The server's error code carried by `e` (0x2200 invalid, 0x2500 unprepared,
// ...), or nullopt when the error did not come from a server answer.
std::optional<int32_t> server_error_code(const error& e);

}  // namespace millrace::cql_client
