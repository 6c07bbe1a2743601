#include "millrace/pg_client/connection.h"

#include <algorithm>
#include <charconv>

#include <libpq-fe.h>
#include <poll.h>

#include "millrace/common/log.h"

namespace millrace::pg {
namespace {

const log::logger k_log("postgres");

// COPY data goes in pieces: PQputCopyData takes an int, and smaller sends keep libpq's buffer small.
constexpr size_t k_copy_piece = 1 << 20;

// Server notices (NOTICE, WARNING, ...) into our log instead of libpq's stderr.
void on_notice(void*, const PGresult* res) {
    const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    std::string message = one_line(PQresultErrorMessage(res));
    if (severity != nullptr && std::string_view(severity) == "WARNING") {
        k_log.warn("{}", message);
    } else {
        k_log.debug("{}", message);
    }
}

std::string_view statement_head(std::string_view sql) {
    sql = sql.substr(0, std::min(sql.find('\n'), size_t{120}));
    return sql;
}

std::string sqlstate_of(const PGresult* res) {
    const char* s = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    return s != nullptr ? s : "";
}

bool lost_sqlstate(std::string_view state) {
    // 08: connection exception; 57P01..57P03: admin/crash shutdown, cannot connect now.
    return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

}  // namespace

std::string one_line(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\n' || c == '\t' || c == '\r') {
            if (!out.empty() && out.back() != ' ') out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

bool retryable_sqlstate(std::string_view state) {
    return lost_sqlstate(state) || state.starts_with("40") || state.starts_with("53") || state == "55P03";
}

std::string quote_ident(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string quote_qualified(std::string_view schema, std::string_view name) {
    return quote_ident(schema) + "." + quote_ident(name);
}

std::string quote_literal(std::string_view text) {
    bool backslash = text.find('\\') != std::string_view::npos;
    std::string out = backslash ? "E'" : "'";
    for (char c : text) {
        if (c == '\'' || c == '\\') out.push_back(c);
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

// ---- rows ------------------------------------------------------------------

rows::rows(::pg_result* res) : res_(res) {}
rows::~rows() { PQclear(res_); }
rows::rows(rows&& other) noexcept : res_(std::exchange(other.res_, nullptr)) {}
rows& rows::operator=(rows&& other) noexcept {
    if (this != &other) {
        PQclear(res_);
        res_ = std::exchange(other.res_, nullptr);
    }
    return *this;
}

int rows::size() const { return res_ != nullptr ? PQntuples(res_) : 0; }
int rows::columns() const { return res_ != nullptr ? PQnfields(res_) : 0; }

void rows::check(int row, int column) const {
    MILLRACE_ASSERT(row >= 0 && row < size() && column >= 0 && column < columns(),
                    "row {} column {} outside a result of {} rows and {} columns", row, column, size(), columns());
}

bool rows::is_null(int row, int column) const {
    check(row, column);
    return PQgetisnull(res_, row, column) != 0;
}

std::string_view rows::text(int row, int column) const {
    check(row, column);
    return {PQgetvalue(res_, row, column), static_cast<size_t>(PQgetlength(res_, row, column))};
}

std::optional<int64_t> rows::integer(int row, int column) const {
    if (is_null(row, column)) return std::nullopt;
    auto t = text(row, column);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
    return v;
}

std::string_view rows::column_name(int column) const {
    MILLRACE_ASSERT(column >= 0 && column < columns(), "column {} of {}", column, columns());
    return PQfname(res_, column);
}

uint32_t rows::column_type(int column) const {
    MILLRACE_ASSERT(column >= 0 && column < columns(), "column {} of {}", column, columns());
    return static_cast<uint32_t>(PQftype(res_, column));
}

int32_t rows::column_modifier(int column) const {
    MILLRACE_ASSERT(column >= 0 && column < columns(), "column {} of {}", column, columns());
    return PQfmod(res_, column);
}

std::string_view rows::command_status() const { return res_ != nullptr ? PQcmdStatus(res_) : ""; }

std::string_view rows::affected_text() const { return res_ != nullptr ? PQcmdTuples(res_) : ""; }

bool rows::has_rows() const { return res_ != nullptr && PQresultStatus(res_) == PGRES_TUPLES_OK; }

int64_t rows::affected() const {
    if (res_ == nullptr) return 0;
    std::string_view t = PQcmdTuples(res_);
    int64_t v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
}

// ---- connection --------------------------------------------------------------

connection::connection(connect_options options) : options_(std::move(options)) {}
connection::~connection() { close(); }

connection::connection(connection&& other) noexcept
    : options_(std::move(other.options_)), conn_(std::exchange(other.conn_, nullptr)),
      last_sqlstate_(std::move(other.last_sqlstate_)), last_message_(std::move(other.last_message_)) {}

connection& connection::operator=(connection&& other) noexcept {
    if (this != &other) {
        close();
        options_ = std::move(other.options_);
        conn_ = std::exchange(other.conn_, nullptr);
        last_sqlstate_ = std::move(other.last_sqlstate_);
        last_message_ = std::move(other.last_message_);
    }
    return *this;
}

void connection::close() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
}

bool connection::alive() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

bool connection::in_transaction() const {
    if (conn_ == nullptr) return false;
    auto s = PQtransactionStatus(conn_);
    return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

status connection::connect() {
    close();
    last_sqlstate_.clear();
    last_message_.clear();
    // dsn first: the keywords after it override the DSN's values.
    std::vector<const char*> keys{"dbname"}, values{options_.dsn.c_str()};
    std::string timeout = std::to_string(options_.connect_timeout.count());
    if (options_.replication) keys.push_back("replication"), values.push_back("database");
    if (!options_.options.empty()) keys.push_back("options"), values.push_back(options_.options.c_str());
    if (!options_.application_name.empty()) {
        keys.push_back("application_name");
        values.push_back(options_.application_name.c_str());
    }
    if (options_.connect_timeout.count() > 0) keys.push_back("connect_timeout"), values.push_back(timeout.c_str());
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
        std::string message = conn_ != nullptr ? one_line(PQerrorMessage(conn_)) : "out of memory";
        last_message_ = message;
        close();
        std::string prefix = !options_.error_prefix.empty() ? options_.error_prefix
                             : options_.purpose.empty()     ? "PostgreSQL unavailable"
                                                            : "PostgreSQL unavailable " + options_.purpose;
        return make_error(errc::unavailable, "{}: {}", prefix, message);
    }
    PQsetNoticeReceiver(conn_, &on_notice, nullptr);
    return {};
}

status connection::ensure() {
    if (alive()) return {};
    return connect();
}

error connection::failure(std::string_view sql, ::pg_result* res) {
    last_sqlstate_ = sqlstate_of(res);
    std::string message = one_line(res != nullptr && *PQresultErrorMessage(res) != '\0'
                                       ? PQresultErrorMessage(res)
                                       : (conn_ != nullptr ? PQerrorMessage(conn_) : "no connection"));
    last_message_ = message;
    bool lost = !alive() || lost_sqlstate(last_sqlstate_);
    std::string state = last_sqlstate_.empty() ? "" : fmt::format(" (SQLSTATE {})", last_sqlstate_);
    if (lost) {
        close();
        return make_error(errc::unavailable, "PostgreSQL unavailable: {}: {}{}", statement_head(sql), message, state);
    }
    return make_error(retryable_sqlstate(last_sqlstate_) ? errc::unavailable : errc::io_error, "PostgreSQL: {}: {}{}",
                      statement_head(sql), message, state);
}

result<rows> connection::exec(std::string_view sql, const std::vector<param>& params) {
    if (conn_ == nullptr) {
        last_sqlstate_.clear();
        last_message_ = "not connected";
        return make_error(errc::unavailable, "PostgreSQL unavailable: {}: not connected", statement_head(sql));
    }
    std::string text(sql);
    PGresult* raw = nullptr;
    if (params.empty()) {
        raw = PQexec(conn_, text.c_str());
    } else {
        std::vector<const char*> values;
        values.reserve(params.size());
        for (const auto& p : params) values.push_back(p.value ? p.value->c_str() : nullptr);
        raw = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0);
    }
    rows out(raw);
    auto st = PQresultStatus(raw);
    if (raw != nullptr && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_BOTH ||
                           st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_EMPTY_QUERY)) {
        last_sqlstate_.clear();
        return out;
    }
    return failure(sql, raw);
}

status connection::run(std::string_view sql, const std::vector<param>& params) {
    auto r = exec(sql, params);
    if (!r) return r.err();
    return {};
}

void connection::rollback() {
    if (in_transaction()) PQclear(PQexec(conn_, "ROLLBACK"));
}

result<int64_t> connection::copy_in(std::string_view copy_sql, std::string_view data) {
    auto started = exec(copy_sql);
    if (!started) return started.err();
    for (size_t done = 0; done < data.size(); done += k_copy_piece) {
        size_t n = std::min(k_copy_piece, data.size() - done);
        if (PQputCopyData(conn_, data.data() + done, static_cast<int>(n)) != 1) return failure(copy_sql, nullptr);
    }
    if (PQputCopyEnd(conn_, nullptr) != 1) return failure(copy_sql, nullptr);
    PGresult* res = PQgetResult(conn_);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    std::optional<error> err;
    if (!ok) err = failure(copy_sql, res);
    rows finished(res);
    // Drain: libpq wants every result read before the next command.
    while (conn_ != nullptr && (res = PQgetResult(conn_)) != nullptr) PQclear(res);
    if (err) return *err;
    return finished.affected();
}

result<std::string> connection::copy_out(std::string_view copy_sql) {
    auto started = exec(copy_sql);
    if (!started) return started.err();
    std::string out;
    while (true) {
        char* buffer = nullptr;
        int len = PQgetCopyData(conn_, &buffer, 0);
        if (len > 0) {
            out.append(buffer, static_cast<size_t>(len));
            PQfreemem(buffer);
            continue;
        }
        if (len == -2) return failure(copy_sql, nullptr);
        break;  // -1: done
    }
    PGresult* res = PQgetResult(conn_);
    std::optional<error> err;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) err = failure(copy_sql, res);
    PQclear(res);
    while (conn_ != nullptr && (res = PQgetResult(conn_)) != nullptr) PQclear(res);
    if (err) return *err;
    return out;
}

result<std::optional<copy_chunk>> connection::read_copy(std::chrono::milliseconds wait) {
    if (conn_ == nullptr) return make_error(errc::unavailable, "PostgreSQL replication connection lost: not connected");
    char* buffer = nullptr;
    int len = PQgetCopyData(conn_, &buffer, 1);
    if (len == 0) {
        pollfd fd{PQsocket(conn_), POLLIN, 0};
        ::poll(&fd, 1, static_cast<int>(wait.count()));
        if (PQconsumeInput(conn_) == 0) {
            return make_error(errc::unavailable, "PostgreSQL replication connection lost: {}", one_line(PQerrorMessage(conn_)));
        }
        len = PQgetCopyData(conn_, &buffer, 1);
        if (len == 0) return std::optional<copy_chunk>();
    }
    if (len == -1) {
        PGresult* res = PQgetResult(conn_);
        last_sqlstate_ = sqlstate_of(res);
        std::string message = one_line(res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
        last_message_ = message;
        PQclear(res);
        return make_error(errc::unavailable, "PostgreSQL ended the replication stream: {}", message);
    }
    if (len < 0) {
        return make_error(errc::unavailable, "PostgreSQL replication connection lost: {}", one_line(PQerrorMessage(conn_)));
    }
    copy_chunk chunk{std::string(buffer, static_cast<size_t>(len))};
    PQfreemem(buffer);
    return std::optional<copy_chunk>(std::move(chunk));
}

status connection::write_copy(std::string_view bytes) {
    if (conn_ == nullptr || PQputCopyData(conn_, bytes.data(), static_cast<int>(bytes.size())) != 1 || PQflush(conn_) != 0) {
        return make_error(errc::unavailable, "PostgreSQL connection lost sending COPY data: {}",
                          one_line(conn_ != nullptr ? PQerrorMessage(conn_) : "not connected"));
    }
    return {};
}

void connection::end_copy() {
    if (conn_ == nullptr) return;
    PQputCopyEnd(conn_, nullptr);
    PQflush(conn_);
}

result<std::string> connection::encrypt_password(const std::string& password, const std::string& user) {
    if (conn_ == nullptr) return make_error(errc::unavailable, "cannot compute a SCRAM verifier: not connected");
    char* verifier = PQencryptPasswordConn(conn_, password.c_str(), user.c_str(), "scram-sha-256");
    if (verifier == nullptr) {
        return make_error(errc::io_error, "cannot compute a SCRAM verifier: {}", one_line(PQerrorMessage(conn_)));
    }
    std::string out = verifier;
    PQfreemem(verifier);
    return out;
}

}  // namespace millrace::pg
