#include "cql_sink.h"

#include <atomic>
#include <mutex>

#include <fmt/format.h>

namespace millrace::processor {

namespace cc = millrace::cql_client;

bool retryable_cql_error(const error& e) {
    if (auto code = cc::server_error_code(e)) {
        switch (*code) {
            case 0x0000:  // server error
            case 0x1000:  // unavailable
            case 0x1001:  // overloaded
            case 0x1002:  // is bootstrapping
            case 0x1100:  // write timeout
            case 0x1200:  // read timeout
            case 0x1300:  // read failure
            case 0x1500:  // write failure
            case 0x2500:  // unprepared
                return true;
            default:
                return false;  // syntax, invalid, unauthorized, config, already exists: sending it again fails again
        }
    }
    return e.code() != errc::invalid_argument && e.code() != errc::unsupported;
}

namespace {

sink_outcome outcome_of(const result<cc::rows>& r) {
    if (r.ok()) return {};
    return sink_outcome{false, retryable_cql_error(r.err()), r.err().message()};
}

class cql_sink final : public sink {
public:
    explicit cql_sink(cql_sink_options o) : o_(std::move(o)) {}
    ~cql_sink() override { close(); }

    status open() override {
        std::shared_ptr<cc::session> s;
        {
            std::lock_guard lock(mutex_);
            s = session_;
        }
        if (!s) {
            auto options = cc::options_from_contact_points(o_.contact_points);
            if (!options) return options.err();
            options->connections_per_host = o_.connections;
            options->default_consistency = o_.write_consistency;
            auto connected = cc::session::connect(*options);
            if (!connected) return connected.err();
            s = *connected;
        }
        const std::string users = o_.keyspace + "." + o_.table;
        const std::string ddl[] = {
            fmt::format("CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{'class': 'SimpleStrategy', "
                        "'replication_factor': '{}'}}",
                        o_.keyspace, o_.replication_factor),
            fmt::format("CREATE TABLE IF NOT EXISTS {} (id UUID PRIMARY KEY, first_name TEXT, last_name TEXT, "
                        "gender TEXT, address TEXT, post_code TEXT, email TEXT, username TEXT, registered_date TEXT, "
                        "phone TEXT, picture TEXT, dob TEXT, nat TEXT)",
                        users),
        };
        for (const auto& statement : ddl) {
            if (auto r = s->query(statement); !r) return r.err().with_context("creating the schema");
        }
        // A table the classic job created lacks dob and nat: add them.
        auto columns = s->query("SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
                                {cc::value::text(o_.keyspace), cc::value::text(o_.table)});
        if (!columns) return columns.err().with_context(fmt::format("reading the columns of {}", users));
        for (const char* column : {"dob", "nat"}) {
            bool present = false;
            for (size_t idx = 0; idx < columns->size(); ++idx) present = present || columns->data[idx][0].as_text() == column;
            if (present) continue;
            if (auto r = s->query(fmt::format("ALTER TABLE {} ADD {} TEXT", users, column)); !r) {
                return r.err().with_context(fmt::format("adding column {} to {}", column, users));
            }
        }
        // One statement per combination of the optional columns, so that an
        // absent dob or nat is left unset rather than written as a tombstone.
        static const char* const k_base =
            "id, first_name, last_name, gender, address, post_code, email, username, registered_date, phone, picture";
        for (int mask = 0; mask < 4; ++mask) {
            std::string cols = k_base;
            std::string marks = "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?";
            if (mask & 1) cols += ", dob", marks += ", ?";
            if (mask & 2) cols += ", nat", marks += ", ?";
            auto p = s->prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", users, cols, marks));
            if (!p) return p.err().with_context(fmt::format("preparing the insert into {}", users));
            insert_users_[mask] = *p;
        }
        if (!o_.aggregate_table.empty()) {
            const std::string agg = o_.keyspace + "." + o_.aggregate_table;
            auto r = s->query(fmt::format(
                "CREATE TABLE IF NOT EXISTS {} (window_start TIMESTAMP, nat TEXT, gender TEXT, kafka_partition INT, "
                "users BIGINT, last_offset BIGINT, updated_at TIMESTAMP, "
                "PRIMARY KEY ((window_start), nat, gender, kafka_partition))",
                agg));
            if (!r) return r.err().with_context("creating the schema");
            auto ins = s->prepare(fmt::format("INSERT INTO {} (window_start, nat, gender, kafka_partition, users, "
                                              "last_offset, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                              agg));
            if (!ins) return ins.err().with_context(fmt::format("preparing the insert into {}", agg));
            insert_count_ = *ins;
            auto sel = s->prepare(fmt::format(
                "SELECT nat, gender, kafka_partition, users, last_offset FROM {} WHERE window_start = ?", agg));
            if (!sel) return sel.err().with_context(fmt::format("preparing the read of {}", agg));
            select_window_ = *sel;
        }
        std::lock_guard lock(mutex_);
        session_ = s;
        return {};
    }

    void write_users(std::vector<const user_row*> rows, done_fn done) override {
        auto s = session();
        if (!s) return done(sink_outcome{false, true, "CQL session closed"});
        cc::query_options opts;
        opts.consistency_level = o_.write_consistency;
        auto callback = [done = std::move(done)](result<cc::rows> r) { done(outcome_of(r)); };
        if (rows.size() == 1) {
            const user_row& row = *rows.front();
            s->execute_async(insert_users_[mask_of(row)], params_of(row), std::move(callback), opts);
            return;
        }
        std::vector<cc::batch_statement> statements;
        statements.reserve(rows.size());
        for (const user_row* row : rows) statements.emplace_back(insert_users_[mask_of(*row)], params_of(*row));
        s->batch_async(cc::batch_kind::unlogged, std::move(statements), std::move(callback), opts);
    }

    void write_counts(std::vector<window_count> counts, done_fn done) override {
        auto s = session();
        if (!s) return done(sink_outcome{false, true, "CQL session closed"});
        if (counts.empty()) return done({});
        struct shared_state {
            std::atomic<size_t> remaining;
            std::mutex mutex;
            sink_outcome first_failure;
            done_fn done;
        };
        auto state = std::make_shared<shared_state>();
        state->remaining = counts.size();
        state->done = std::move(done);
        cc::query_options opts;
        opts.consistency_level = o_.write_consistency;
        const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        for (auto& c : counts) {
            std::vector<cc::value> params{cc::value::timestamp(c.window_start_ms), cc::value::text(std::move(c.nat)),
                                          cc::value::text(std::move(c.gender)), cc::value::int32(c.partition),
                                          cc::value::bigint(c.users), cc::value::bigint(c.last_offset),
                                          cc::value::timestamp(now_ms)};
            s->execute_async(
                insert_count_, std::move(params),
                [state](result<cc::rows> r) {
                    if (!r) {
                        std::lock_guard lock(state->mutex);
                        if (state->first_failure.ok) state->first_failure = outcome_of(r);
                    }
                    if (state->remaining.fetch_sub(1) == 1) state->done(state->first_failure);
                },
                opts);
        }
    }

    result<std::vector<window_count>> read_window(int64_t window_start_ms) override {
        auto s = session();
        if (!s) return make_error(errc::unavailable, "CQL session closed");
        cc::query_options opts;
        opts.page_size = 0;
        auto r = s->execute(select_window_, {cc::value::timestamp(window_start_ms)}, opts);
        if (!r) return r.err();
        std::vector<window_count> out;
        out.reserve(r->size());
        for (const auto& row : r->data) {
            if (row.size() < 5 || row[2].is_null() || row[3].is_null() || row[4].is_null()) continue;
            out.push_back(window_count{window_start_ms, row[0].is_null() ? "" : row[0].as_text(),
                                       row[1].is_null() ? "" : row[1].as_text(), static_cast<int32_t>(row[2].as_int()),
                                       row[3].as_int(), row[4].as_int()});
        }
        return out;
    }

    std::string describe() const override {
        return fmt::format("CQL {} {}.{}", o_.contact_points, o_.keyspace, o_.table);
    }

    void close() override {
        std::shared_ptr<cc::session> s;
        {
            std::lock_guard lock(mutex_);
            s = std::move(session_);
        }
        if (s) s->close();
    }

private:
    std::shared_ptr<cc::session> session() {
        std::lock_guard lock(mutex_);
        return session_;
    }
    static int mask_of(const user_row& row) { return (row.has_dob ? 1 : 0) | (row.has_nat ? 2 : 0); }
    static std::vector<cc::value> params_of(const user_row& row) {
        std::vector<cc::value> p;
        p.reserve(13);
        p.push_back(cc::value::uuid(row.id));
        for (const std::string* field : {&row.first_name, &row.last_name, &row.gender, &row.address, &row.post_code,
                                         &row.email, &row.username, &row.registered_date, &row.phone, &row.picture}) {
            p.push_back(cc::value::text(*field));
        }
        if (row.has_dob) p.push_back(cc::value::text(row.dob));
        if (row.has_nat) p.push_back(cc::value::text(row.nat));
        return p;
    }

    cql_sink_options o_;
    std::mutex mutex_;
    std::shared_ptr<cc::session> session_;
    cc::prepared_ptr insert_users_[4];
    cc::prepared_ptr insert_count_;
    cc::prepared_ptr select_window_;
};

}  // namespace

std::unique_ptr<sink> make_cql_sink(cql_sink_options options) { return std::make_unique<cql_sink>(std::move(options)); }

}  // namespace millrace::processor
