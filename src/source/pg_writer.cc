#include "millrace/source/pg_writer.h"

#include <algorithm>

#include <libpq-fe.h>

namespace millrace::source {
namespace {

struct migration {
    int version;
    const char* description;
    std::string (*sql)(raw_storage raw);
};

std::string raw_column_type(raw_storage raw) {
    switch (raw) {
        case raw_storage::jsonb: return "jsonb";
        case raw_storage::text: return "text";
        case raw_storage::json:
        case raw_storage::off: return "json";
    }
    return "json";
}

// Versioned, append-only: a released migration is never edited.
const migration k_migrations[] = {
    {1, "table users",
     [](raw_storage raw) {
         return "CREATE TABLE IF NOT EXISTS users ("
                "id uuid PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, gender text NOT NULL, "
                "address text NOT NULL, post_code text NOT NULL, email text NOT NULL, username text NOT NULL, "
                "dob timestamptz NOT NULL, registered_date timestamptz NOT NULL, phone text NOT NULL, "
                "picture text NOT NULL, nat text NOT NULL, raw " + raw_column_type(raw) + ", "
                "ingested_at timestamptz NOT NULL DEFAULT now())";
     }},
};

constexpr const char* k_columns =
    "id, first_name, last_name, gender, address, post_code, email, username, dob, registered_date, phone, picture, nat, raw";

// COPY text format: backslash, tab, newline and carriage return escaped.
void copy_field(std::string& out, const std::string& value) {
    for (char c : value) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            default: out.push_back(c);
        }
    }
}

bool connection_lost(PGconn* conn, const PGresult* res) {
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) return true;
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    if (state == nullptr) return res == nullptr;
    std::string_view code(state);
    // 08: connection exception; 57P01..57P03: admin/crash shutdown, cannot connect now.
    return code.substr(0, 2) == "08" || code == "57P01" || code == "57P02" || code == "57P03";
}

// libpq's messages span lines; logs and errors are one line each.
std::string trim(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\n' || c == '\t') {
            if (!out.empty() && out.back() != ' ') out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

}  // namespace

result<raw_storage> parse_raw_storage(std::string_view text) {
    if (text == "off") return raw_storage::off;
    if (text == "json") return raw_storage::json;
    if (text == "jsonb") return raw_storage::jsonb;
    if (text == "text") return raw_storage::text;
    return make_error(errc::invalid_argument, "raw storage '{}': must be json, jsonb, text or off", text);
}

std::string_view to_string(raw_storage storage) {
    switch (storage) {
        case raw_storage::off: return "off";
        case raw_storage::json: return "json";
        case raw_storage::jsonb: return "jsonb";
        case raw_storage::text: return "text";
    }
    return "?";
}

pg_writer::pg_writer(std::string dsn, raw_storage raw) : dsn_(std::move(dsn)), raw_(raw) {}

pg_writer::~pg_writer() { disconnect(); }

void pg_writer::disconnect() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
}

error pg_writer::failure(std::string_view what) {
    std::string message = trim(conn_ ? PQerrorMessage(conn_) : "no connection");
    bool lost = conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK;
    if (lost) disconnect();
    return make_error(lost ? errc::unavailable : errc::io_error, "PostgreSQL {}: {}", what, message);
}

status pg_writer::connect() {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return {};
    disconnect();
    conn_ = PQconnectdb(dsn_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
        std::string message = trim(PQerrorMessage(conn_));
        disconnect();
        return make_error(errc::unavailable, "PostgreSQL unavailable: {}", message);
    }
    PGresult* res = PQexec(conn_, "SET client_min_messages = warning; "
                                  "CREATE TEMP TABLE IF NOT EXISTS users_stage (LIKE users INCLUDING DEFAULTS) "
                                  "ON COMMIT DELETE ROWS");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    bool lost = connection_lost(conn_, res);
    PQclear(res);
    if (!ok) {
        // Before migrate() the table may not exist yet; write_batch needs it.
        auto err = failure("preparing the staging table");
        if (!lost) disconnect();
        return err;
    }
    return {};
}

status pg_writer::migrate() {
    PGconn* conn = PQconnectdb(dsn_.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string message = trim(PQerrorMessage(conn));
        PQfinish(conn);
        return make_error(errc::unavailable, "PostgreSQL unavailable for migrations: {}", message);
    }
    auto exec = [&](const std::string& sql) -> status {
        PGresult* res = PQexec(conn, sql.c_str());
        auto rs = PQresultStatus(res);
        PQclear(res);
        if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
            return make_error(errc::io_error, "migration statement failed: {}: {}", sql.substr(0, 80), trim(PQerrorMessage(conn)));
        }
        return {};
    };
    status st = exec("SET client_min_messages = warning; SELECT pg_advisory_lock(7106432906)");
    if (st) {
        st = exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, description text NOT NULL, "
                  "applied_at timestamptz NOT NULL DEFAULT now())");
    }
    for (const auto& m : k_migrations) {
        if (!st) break;
        PGresult* res = PQexec(conn, fmt::format("SELECT 1 FROM schema_migrations WHERE version = {}", m.version).c_str());
        bool applied = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
        PQclear(res);
        if (applied) continue;
        st = exec(fmt::format("BEGIN; {}; INSERT INTO schema_migrations (version, description) VALUES ({}, '{}'); COMMIT",
                              m.sql(raw_), m.version, m.description));
        if (!st) (void)exec("ROLLBACK");
    }
    (void)exec("SELECT pg_advisory_unlock(7106432906)");
    PQfinish(conn);
    return st;
}

void encode_copy_rows(const std::vector<user_row>& rows, raw_storage raw, std::string& out) {
    out.reserve(out.size() + rows.size() * (raw == raw_storage::off ? 400 : 1600));
    for (const auto& r : rows) {
        const std::string* fields[] = {&r.id, &r.first_name, &r.last_name, &r.gender, &r.address, &r.post_code,
                                       &r.email, &r.username, &r.dob, &r.registered_date, &r.phone, &r.picture, &r.nat};
        for (const auto* f : fields) {
            copy_field(out, *f);
            out.push_back('\t');
        }
        if (raw == raw_storage::off) {
            out += "\\N";
        } else {
            copy_field(out, r.raw);
        }
        out.push_back('\n');
    }
}

result<batch_result> pg_writer::write_batch(const std::vector<user_row>& rows) {
    std::string data;
    encode_copy_rows(rows, raw_, data);
    return write_encoded(data, static_cast<int64_t>(rows.size()));
}

result<batch_result> pg_writer::write_encoded(std::string_view data, int64_t row_count) {
    if (auto st = connect(); !st) return st.err();
    auto command = [&](const char* sql, ExecStatusType want) -> status {
        PGresult* res = PQexec(conn_, sql);
        bool ok = PQresultStatus(res) == want;
        bool lost = connection_lost(conn_, res);
        std::string message = trim(PQresultErrorMessage(res));
        PQclear(res);
        if (ok) return {};
        if (lost) {
            disconnect();
            return make_error(errc::unavailable, "PostgreSQL unavailable: {}", message);
        }
        return make_error(errc::io_error, "PostgreSQL: {}: {}", sql, message);
    };
    auto abort_with = [&](error err) -> result<batch_result> {
        if (conn_ != nullptr && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
            PGresult* res = PQexec(conn_, "ROLLBACK");
            PQclear(res);
        }
        return err;
    };
    if (auto st = command("BEGIN", PGRES_COMMAND_OK); !st) return abort_with(st.err());
    std::string copy_sql = fmt::format("COPY users_stage ({}) FROM STDIN", k_columns);
    if (auto st = command(copy_sql.c_str(), PGRES_COPY_IN); !st) return abort_with(st.err());
    // In pieces: PQputCopyData takes an int, and smaller sends keep libpq's buffer small.
    constexpr size_t k_piece = 1 << 20;
    for (size_t done = 0; done < data.size(); done += k_piece) {
        size_t n = std::min(k_piece, data.size() - done);
        if (PQputCopyData(conn_, data.data() + done, static_cast<int>(n)) != 1) return abort_with(failure("COPY of a batch"));
    }
    if (PQputCopyEnd(conn_, nullptr) != 1) return abort_with(failure("COPY of a batch"));
    PGresult* res = PQgetResult(conn_);
    bool copied = PQresultStatus(res) == PGRES_COMMAND_OK;
    bool lost = connection_lost(conn_, res);
    std::string message = trim(PQresultErrorMessage(res));
    PQclear(res);
    while ((res = PQgetResult(conn_)) != nullptr) PQclear(res);
    if (!copied) {
        if (lost) {
            disconnect();
            return make_error(errc::unavailable, "PostgreSQL unavailable during COPY: {}", message);
        }
        return abort_with(make_error(errc::io_error, "PostgreSQL rejected a batch of {} users: {}", row_count, message));
    }
    res = PQexec(conn_, "INSERT INTO users SELECT * FROM users_stage ON CONFLICT (id) DO NOTHING");
    bool inserted_ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    int64_t inserted = inserted_ok ? std::atoll(PQcmdTuples(res)) : 0;
    lost = connection_lost(conn_, res);
    message = trim(PQresultErrorMessage(res));
    PQclear(res);
    if (!inserted_ok) {
        if (lost) {
            disconnect();
            return make_error(errc::unavailable, "PostgreSQL unavailable during INSERT: {}", message);
        }
        return abort_with(make_error(errc::io_error, "PostgreSQL: inserting a batch of {} users: {}", row_count, message));
    }
    if (auto st = command("COMMIT", PGRES_COMMAND_OK); !st) return abort_with(st.err());
    return batch_result{inserted, row_count - inserted};
}

result<int64_t> pg_writer::count_users() {
    if (auto st = connect(); !st) return st.err();
    PGresult* res = PQexec(conn_, "SELECT count(*) FROM users");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return failure("counting users");
    }
    int64_t n = std::atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

}  // namespace millrace::source
