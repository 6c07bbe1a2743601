#include "millrace/source/pg_writer.h"

#include <algorithm>

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

pg_writer::pg_writer(std::string dsn, raw_storage raw)
    : dsn_(std::move(dsn)), raw_(raw), conn_(pg::connect_options{.dsn = dsn_}) {}

pg_writer::~pg_writer() = default;

status pg_writer::connect() {
    if (conn_.alive()) return {};
    if (auto st = conn_.connect(); !st) return st;
    // Before migrate() the table may not exist yet; write_batch needs it.
    if (auto st = conn_.run("SET client_min_messages = warning; "
                            "CREATE TEMP TABLE IF NOT EXISTS users_stage (LIKE users INCLUDING DEFAULTS) "
                            "ON COMMIT DELETE ROWS");
        !st) {
        conn_.close();
        return st;
    }
    return {};
}

status pg_writer::migrate() {
    pg::connection conn(pg::connect_options{.dsn = dsn_, .purpose = "for migrations"});
    if (auto st = conn.connect(); !st) return st;
    auto exec = [&](const std::string& sql, const std::vector<pg::param>& params = {}) -> status {
        if (auto st = conn.run(sql, params); !st) return st.err().with_context("migration statement failed");
        return {};
    };
    status st = exec("SET client_min_messages = warning; SELECT pg_advisory_lock(7106432906)");
    if (st) {
        st = exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, description text NOT NULL, "
                  "applied_at timestamptz NOT NULL DEFAULT now())");
    }
    for (const auto& m : k_migrations) {
        if (!st) break;
        auto applied = conn.exec("SELECT 1 FROM schema_migrations WHERE version = $1", {m.version});
        if (applied && applied->size() == 1) continue;
        st = exec("BEGIN");
        if (st) st = exec(m.sql(raw_));
        if (st) st = exec("INSERT INTO schema_migrations (version, description) VALUES ($1, $2)", {m.version, m.description});
        if (st) st = exec("COMMIT");
        if (!st) conn.rollback();
    }
    (void)exec("SELECT pg_advisory_unlock(7106432906)");
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
    // A lost connection is "PostgreSQL unavailable: ..." as it is (the next
    // call reconnects); other failures roll the batch back and say which step.
    auto fail = [&](const error& err, std::string_view what) -> result<batch_result> {
        if (!conn_.alive()) return err;
        conn_.rollback();
        return err.with_context(what);
    };
    std::string what = fmt::format("storing a batch of {} users", row_count);
    if (auto st = conn_.run("BEGIN"); !st) return fail(st.err(), what);
    auto copied = conn_.copy_in(fmt::format("COPY users_stage ({}) FROM STDIN", k_columns), data);
    if (!copied) return fail(copied.err(), fmt::format("PostgreSQL rejected a batch of {} users", row_count));
    auto inserted = conn_.exec("INSERT INTO users SELECT * FROM users_stage ON CONFLICT (id) DO NOTHING");
    if (!inserted) return fail(inserted.err(), fmt::format("inserting a batch of {} users", row_count));
    if (auto st = conn_.run("COMMIT"); !st) return fail(st.err(), what);
    return batch_result{inserted->affected(), row_count - inserted->affected()};
}

result<int64_t> pg_writer::count_users() {
    if (auto st = connect(); !st) return st.err();
    auto res = conn_.exec("SELECT count(*) FROM users");
    if (!res) return res.err().with_context("counting users");
    return res->integer(0, 0).value_or(0);
}

}  // namespace millrace::source
