// The one PostgreSQL client of the tree, over libpq: the source's manager and
// COPY writer, CDC (control and replication sessions), the console's sampler,
// the coordination leases, up's pipeline probe and the scheduler's store and
// `sql` tasks all connect through it, so connect timeouts, the DSN's TLS and
// passfile settings, error wording, SQLSTATE handling and notices are decided
// once. No module calls PQconnectdb or PQexec* itself.
//
// Values never become SQL text: they travel as parameters ($1, $2, ...);
// the identifiers a statement needs (table, role, slot, publication names)
// pass through quote_ident, and the few replication-protocol commands that
// take no parameters through quote_literal.
//
// Library `millrace_pg_client` (src/pg_client), apart from millrace_common so
// that only its users link libpq.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "millrace/common/result.h"

// libpq's opaque types (PGconn, PGresult), so that users need not include libpq-fe.h.
struct pg_conn;
struct pg_result;

namespace millrace::pg {

struct connect_options {
    // A conninfo string ("host=... port=... passfile=... sslmode=...") or a
    // postgresql:// URI; its TLS (sslmode, sslrootcert, ...) and passfile
    // settings apply as given. The fields below override the DSN's.
    std::string dsn;
    std::string application_name;               // "" keeps the DSN's
    std::chrono::seconds connect_timeout{0};    // 0 keeps the DSN's (libpq: wait forever)
    std::string options;                        // the `options` parameter ("-c key=value ..."); "" keeps the DSN's
    bool replication = false;                   // replication=database: walsender commands on this session
    // Words after "PostgreSQL unavailable" in connect errors: "for migrations", "(replication)".
    std::string purpose;
    // Replaces "PostgreSQL unavailable <purpose>" before libpq's message when
    // the caller names what and where itself ("cannot connect to PostgreSQL on port 5432").
    std::string error_prefix;
};

// One row-set (or command status) a statement returned. Owns the libpq
// result; movable, not copyable. Row and column indexes are checked.
class rows {
public:
    rows() = default;
    explicit rows(::pg_result* res);
    ~rows();
    rows(rows&& other) noexcept;
    rows& operator=(rows&& other) noexcept;
    rows(const rows&) = delete;
    rows& operator=(const rows&) = delete;

    int size() const;
    bool empty() const { return size() == 0; }
    int columns() const;
    bool is_null(int row, int column) const;
    // The value's text form; "" for NULL.
    std::string_view text(int row, int column) const;
    std::string str(int row, int column) const { return std::string(text(row, column)); }
    // The value as an integer, nullopt for NULL or text that is not one.
    std::optional<int64_t> integer(int row, int column) const;
    // A boolean column: true for "t".
    bool boolean(int row, int column) const { return text(row, column) == "t"; }
    std::string_view column_name(int column) const;
    uint32_t column_type(int column) const;     // type OID
    int32_t column_modifier(int column) const;  // typmod, -1 for none
    // The command tag ("INSERT 0 3") and the rows it affected (3); 0 when the tag has no count.
    std::string_view command_status() const;
    int64_t affected() const;
    std::string_view affected_text() const;  // "3", or "" when the tag has no count
    // The statement returned rows (a SELECT, also of none), not only a command tag.
    bool has_rows() const;
    // Hands the libpq result to the caller, who must PQclear it: only for code
    // that still reads results with libpq itself (the scheduler's store, until
    // its readers move to rows).
    ::pg_result* release() { return std::exchange(res_, nullptr); }

private:
    void check(int row, int column) const;
    ::pg_result* res_ = nullptr;
};

// A parameter of a statement: text (sent as is, typed by the server) or NULL.
struct param {
    std::optional<std::string> value;
    param(std::nullopt_t) {}
    param(std::string v) : value(std::move(v)) {}
    param(std::string_view v) : value(std::string(v)) {}
    param(const char* v) : value(std::string(v)) {}
    param(int64_t v) : value(std::to_string(v)) {}
    param(int v) : value(std::to_string(v)) {}
    param(const std::optional<std::string>& v) : value(v) {}
};

// One bytes-chunk of a COPY-out or COPY-both (replication) stream.
struct copy_chunk {
    std::string bytes;
};

// A session. Not thread-safe: one thread uses it at a time. Opened by
// connect(); ensure() is the reconnect policy callers share: it reopens a
// session that was lost (server restart, network) and leaves a live one be.
//
// Errors name the statement (its first line, at most 120 characters), carry
// the server's message and SQLSTATE, and say whether a retry makes sense:
// `unavailable` (retryable) when the connection is lost (class 08, 57P0x) or
// the server asks for a retry (class 40 serialization/deadlock, 53 resources,
// 55P03 lock not available); `io_error` otherwise — the statement itself is
// wrong or rejected and will fail again. last_sqlstate() holds the code of
// the last failure ("" for none or a client-side failure).
class connection {
public:
    connection() = default;
    explicit connection(connect_options options);
    ~connection();
    connection(connection&& other) noexcept;
    connection& operator=(connection&& other) noexcept;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Opens a new session (closing any open one): "PostgreSQL unavailable
    // <purpose>: <libpq's message>" (or "<error_prefix>: ..."), `unavailable`, on failure. Notices and
    // warnings of the session go to our log (component "postgres").
    [[nodiscard]] status connect();
    // connect() unless the session is open and healthy.
    [[nodiscard]] status ensure();
    bool alive() const;
    void close();
    // In a transaction block (or a failed one) rather than idle.
    bool in_transaction() const;
    const connect_options& options() const { return options_; }
    const std::string& last_sqlstate() const { return last_sqlstate_; }
    // The server's (or libpq's) message of the last failure, on one line, for
    // callers that word their own errors around it.
    const std::string& last_message() const { return last_message_; }

    // Runs one statement with `params` as $1, $2, ... (extended protocol).
    // Without params the text goes as a simple query: it may hold several
    // statements, none with a user value; replication commands go this way.
    [[nodiscard]] result<rows> exec(std::string_view sql, const std::vector<param>& params = {});
    // exec for statements whose rows do not matter.
    [[nodiscard]] status run(std::string_view sql, const std::vector<param>& params = {});
    // ROLLBACK when in a transaction; errors are dropped (the session may be gone).
    void rollback();

    // COPY ... FROM STDIN with `data` (in the format the statement names),
    // sent in pieces; the rows copied.
    [[nodiscard]] result<int64_t> copy_in(std::string_view copy_sql, std::string_view data);
    // COPY ... TO STDOUT: the whole output.
    [[nodiscard]] result<std::string> copy_out(std::string_view copy_sql);

    // A COPY-both stream (replication) begun with exec(): the next chunk, or
    // nullopt when none arrived within `wait`; an error when the server ended
    // the stream or the connection was lost.
    [[nodiscard]] result<std::optional<copy_chunk>> read_copy(std::chrono::milliseconds wait);
    // Sends one chunk and flushes it.
    [[nodiscard]] status write_copy(std::string_view bytes);
    // Ends our side of a COPY stream (best effort).
    void end_copy();

    // The SCRAM-SHA-256 verifier of `password` for `user`, computed here
    // (the password never travels), for ALTER ROLE ... PASSWORD.
    [[nodiscard]] result<std::string> encrypt_password(const std::string& password, const std::string& user);

private:
    error failure(std::string_view sql, ::pg_result* res);

    connect_options options_;
    ::pg_conn* conn_ = nullptr;
    std::string last_sqlstate_;
    std::string last_message_;
};

// A quoted identifier ("my ""table"""): the one way a name becomes SQL text.
std::string quote_ident(std::string_view name);
// "schema"."name".
std::string quote_qualified(std::string_view schema, std::string_view name);
// A quoted string literal ('it''s', E'a\\b' when it holds a backslash), for
// replication commands, which take no parameters.
std::string quote_literal(std::string_view text);
// True for SQLSTATEs after which the same statement may succeed later.
bool retryable_sqlstate(std::string_view sqlstate);
// libpq's messages span lines; logs and errors are one line each.
std::string one_line(std::string_view text);

}  // namespace millrace::pg
