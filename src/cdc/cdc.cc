#include "millrace/cdc/cdc.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>

#include "millrace/avro/schema.h"
#include "millrace/avro/wire.h"
#include "millrace/cdc/ack_tracker.h"
#include "millrace/cdc/avro_mapping.h"
#include "millrace/cdc/json_mapping.h"
#include "millrace/cdc/pgoutput.h"
#include "millrace/common/log.h"
#include "millrace/common/security.h"
#include "millrace/coordination/coordination.h"
#include "millrace/kafka_client/offsets.h"
#include "millrace/registry/client.h"

namespace millrace::cdc {
namespace {

using config::key_spec;
using config::value_kind;
using steady = std::chrono::steady_clock;

const log::logger k_log("cdc");
// How often a standby asks whether it may take over the slot.
constexpr int64_t k_standby_poll_ms = 1000;
// Reading the topics' offsets when a slot is resumed.
constexpr std::chrono::milliseconds k_offsets_timeout{15000};

enum class message_format { json, envelope, avro };

struct table_ref {
    std::string schema;
    std::string name;
    std::string qualified() const { return schema + "." + name; }
};

struct cdc_options {
    std::string slot;
    std::string publication;
    std::string state_schema;  // holds <state_schema>.snapshots: which slots finished their snapshot
    std::vector<table_ref> tables;
    std::map<std::string, std::string> topics;  // schema.table → topic
    bool snapshot = true;
    message_format format = message_format::json;
    bool json_keys = false;
    bool create_publication = true;
    int64_t status_interval_ms = 1000;
    int64_t max_buffered_bytes = 64 << 20;
    int64_t backoff_ms = 500;
    int64_t backoff_max_ms = 30'000;
    int64_t flush_timeout_ms = 10'000;
    int64_t snapshot_fetch = 5000;
    int64_t linger_ms = 5;
    std::string compression = "lz4";
    std::string registry_url;  // "" = the registry of this process, else 127.0.0.1:8081
};

result<table_ref> parse_table(const std::string& text) {
    auto dot = text.find('.');
    table_ref t;
    if (dot == std::string::npos) {
        t.schema = "public";
        t.name = text;
    } else {
        t.schema = text.substr(0, dot);
        t.name = text.substr(dot + 1);
    }
    if (t.schema.empty() || t.name.empty() || t.name.find('.') != std::string::npos) {
        return make_error(errc::invalid_argument, "cdc.tables: '{}' is not a table name (schema.table)", text);
    }
    return t;
}

result<cdc_options> options_from(const config::config& cfg) {
    cdc_options o;
    o.slot = cfg.get_string("cdc.slot");
    o.publication = cfg.get_string("cdc.publication");
    for (char c : o.slot) {
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
            return make_error(errc::invalid_argument,
                              "cdc.slot: '{}' is not a replication slot name (lower-case letters, digits, _)", o.slot);
        }
    }
    if (o.slot.empty() || o.slot.size() > 63) {
        return make_error(errc::invalid_argument, "cdc.slot: '{}' must have 1..63 characters", o.slot);
    }
    if (o.publication.empty()) return make_error(errc::invalid_argument, "cdc.publication: must not be empty");
    o.state_schema = cfg.get_string("cdc.state_schema");
    if (o.state_schema.empty()) return make_error(errc::invalid_argument, "cdc.state_schema: must not be empty");
    for (const auto& text : cfg.get_list("cdc.tables")) {
        auto t = parse_table(text);
        if (!t) return t.err();
        o.tables.push_back(*t);
    }
    if (o.tables.empty()) return make_error(errc::invalid_argument, "cdc.tables: name at least one table");
    for (const auto& entry : cfg.get_list("cdc.topics")) {
        auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) {
            return make_error(errc::invalid_argument, "cdc.topics: '{}' is not schema.table=topic", entry);
        }
        auto t = parse_table(entry.substr(0, eq));
        if (!t) return t.err().with_context("cdc.topics");
        o.topics[t->qualified()] = entry.substr(eq + 1);
    }
    o.snapshot = cfg.get_string("cdc.snapshot") == "initial";
    std::string format = cfg.get_string("cdc.format");
    o.format = format == "envelope" ? message_format::envelope
               : format == "avro"   ? message_format::avro
                                    : message_format::json;
    o.registry_url = cfg.get_string("cdc.registry_url");
    o.json_keys = cfg.get_string("cdc.key_format") == "json";
    o.create_publication = cfg.get_bool("cdc.create_publication");
    o.status_interval_ms = cfg.get_int("cdc.status_interval");
    o.max_buffered_bytes = cfg.get_int("cdc.max_buffered_bytes");
    o.backoff_ms = cfg.get_int("cdc.backoff");
    o.backoff_max_ms = cfg.get_int("cdc.backoff_max");
    o.flush_timeout_ms = cfg.get_int("cdc.flush_timeout");
    o.snapshot_fetch = cfg.get_int("cdc.snapshot_fetch");
    o.linger_ms = cfg.get_int("cdc.linger");
    o.compression = cfg.get_string("cdc.compression");
    return o;
}

// libpq's messages span lines; logs and errors are one line each.
std::string one_line(const char* text) {
    std::string out;
    for (const char* p = text; p && *p; ++p) {
        if (*p == '\n' || *p == '\t') {
            if (!out.empty() && out.back() != ' ') out.push_back(' ');
        } else {
            out.push_back(*p);
        }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

int64_t unix_now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// An owned libpq connection.
struct pg_conn {
    PGconn* conn = nullptr;
    pg_conn() = default;
    pg_conn(const pg_conn&) = delete;
    pg_conn& operator=(const pg_conn&) = delete;
    ~pg_conn() { close(); }
    void close() {
        if (conn) PQfinish(conn);
        conn = nullptr;
    }
    bool alive() const { return conn != nullptr && PQstatus(conn) == CONNECTION_OK; }
};

// An owned PGresult.
struct pg_result {
    PGresult* res;
    explicit pg_result(PGresult* r) : res(r) {}
    ~pg_result() { PQclear(res); }
    pg_result(const pg_result&) = delete;
    pg_result& operator=(const pg_result&) = delete;
    ExecStatusType status() const { return PQresultStatus(res); }
    std::string sqlstate() const {
        const char* s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
        return s ? s : "";
    }
};

status connect(pg_conn& out, const std::string& dsn, bool replication, const std::string& application) {
    const char* keys[] = {"dbname", "replication", "options", "application_name", "connect_timeout", nullptr};
    const char* values[] = {dsn.c_str(), replication ? "database" : nullptr, k_session_options, application.c_str(),
                            "10", nullptr};
    if (!replication) {
        keys[1] = "options";
        values[1] = k_session_options;
        keys[2] = "application_name";
        values[2] = application.c_str();
        keys[3] = "connect_timeout";
        values[3] = "10";
        keys[4] = nullptr;
        values[4] = nullptr;
    }
    out.close();
    out.conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(out.conn) != CONNECTION_OK) {
        std::string message = one_line(PQerrorMessage(out.conn));
        out.close();
        return make_error(errc::unavailable, "PostgreSQL unavailable{}: {}", replication ? " (replication)" : "",
                          message);
    }
    return {};
}

// Runs `sql` (with text parameters); an error names the statement.
result<std::unique_ptr<pg_result>> exec(pg_conn& c, const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* raw = params.empty() ? PQexec(c.conn, sql.c_str())
                                   : PQexecParams(c.conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                                  values.data(), nullptr, nullptr, 0);
    auto res = std::make_unique<pg_result>(raw);
    auto st = res->status();
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_BOTH) return res;
    std::string state = res->sqlstate();
    bool lost = !c.alive() || state.starts_with("08") || state.starts_with("57P");
    return make_error(lost ? errc::unavailable : errc::io_error, "PostgreSQL: {}: {}{}", sql.substr(0, 120),
                      one_line(PQerrorMessage(c.conn)), state.empty() ? "" : fmt::format(" (SQLSTATE {})", state));
}

std::string quote_ident(pg_conn& c, const std::string& name) {
    char* q = PQescapeIdentifier(c.conn, name.c_str(), name.size());
    std::string out = q ? q : "\"" + name + "\"";
    PQfreemem(q);
    return out;
}

// One column of a captured table as the capture needs it.
struct column {
    std::string name;
    uint32_t type_oid = 0;
    bool key = false;
    int32_t type_modifier = -1;
};

struct relation {
    std::string schema;
    std::string name;
    std::string topic;
    std::vector<column> columns;
    metrics::counter* rows = nullptr;
    // cdc.format avro: the record schemas of the value (every column) and the
    // key (the key columns), derived from the columns, and their registry ids.
    std::vector<avro_column> avro_value, avro_key;
    std::string value_schema, key_schema;
    mutable int value_schema_id = 0, key_schema_id = 0;
};

const char* format_name(message_format f) {
    switch (f) {
        case message_format::json: return "json";
        case message_format::envelope: return "envelope";
        case message_format::avro: return "avro";
    }
    return "json";
}

// Key columns are plain types; every other column is a ["null", T] union with
// default null: PostgreSQL sends NULL for them, an unchanged TOASTed value has
// no value to send, and a column added later stays a BACKWARD-compatible change.
void derive_avro(relation& rel) {
    rel.avro_value.clear();
    rel.avro_key.clear();
    for (const auto& c : rel.columns) {
        avro_column a{c.name, c.type_oid, c.type_modifier, !c.key};
        rel.avro_value.push_back(a);
        if (c.key) rel.avro_key.push_back(a);
    }
    std::string ns = "millrace.cdc." + avro_name(rel.schema);
    rel.value_schema = avro_record_schema(rel.name, ns, rel.avro_value);
    rel.key_schema = rel.avro_key.empty() ? "" : avro_record_schema(rel.name + "_key", ns, rel.avro_key);
}

// ---------------------------------------------------------------------------

class capture final : public component {
public:
    capture(component_context& ctx, cdc_options options)
        : ctx_(ctx), options_(std::move(options)), application_("millrace-cdc:" + options_.slot) {
        auto& m = ctx_.metrics;
        acked_lsn_ = &m.make_gauge("millrace_cdc_acked_lsn", "Last WAL position acknowledged by the broker (as a number).");
        lag_bytes_ = &m.make_gauge("millrace_cdc_lag_bytes",
                                   "WAL bytes between the server's last sent position and the acknowledged one.");
        lag_ms_ = &m.make_gauge("millrace_cdc_lag_ms", "Commit to broker acknowledgement of the last acknowledged transaction.");
        commit_to_ack_ = &m.make_histogram("millrace_cdc_commit_to_ack_seconds",
                                           "Time from a transaction's commit to the broker's acknowledgement of all its rows.",
                                           metrics::latency_buckets());
        reconnects_ = &m.make_counter("millrace_cdc_sessions_total", "Replication sessions started (reconnects + 1).");
        already_produced_ = &m.make_counter("millrace_cdc_rows_already_in_topic_total",
                                            "Rows the slot sent again after a restart or takeover that were found "
                                            "in the topic already, and not produced twice.");
        in_flight_ = &m.make_gauge("millrace_cdc_in_flight_messages", "Messages produced and not yet acknowledged.");
        avro_registrations_ = &m.make_counter("millrace_cdc_schema_registrations_total",
                                              "Avro schemas registered (cdc.format avro): one per new relation shape and subject.");
        tracker_.on_acknowledged = [this](int64_t commit_us) {
            double seconds = static_cast<double>(unix_now_us() - commit_us) / 1e6;
            commit_to_ack_->observe(std::max(seconds, 0.0));
            lag_ms_->set(std::max(seconds, 0.0) * 1000);
        };
    }

    ~capture() override { stop(); }

    std::string name() const override { return "cdc"; }

    result<std::optional<net::endpoint>> start() override {
        dsn_ = services::postgres_dsn(ctx_);
        bootstrap_ = services::kafka_bootstrap(ctx_);
        // One owner per slot, elected through the process's coordinator
        // (millrace/coordination). A second standalone cdc fails here, before it
        // touches anything; inside `up`, or with ZooKeeper, it waits as a standby.
        if (ctx_.coordinator == nullptr) {
            auto own = coordination::make_coordinator(coordination::options_from(ctx_.cfg));
            if (!own) return own.err().with_context("cdc");
            own_coordinator_ = std::move(*own);
        }
        auto* coordinator = ctx_.coordinator != nullptr ? ctx_.coordinator : own_coordinator_.get();
        lease_ = coordinator->make_lease("cdc." + options_.slot, dsn_);
        instance_ = coordinator->opts().instance;
        standby_ok_ = coordinator->opts().standby;
        if (auto st = acquire_ownership(); !st) {
            if (st.err().code() == errc::already_exists && standby_ok_) {
                k_log.info("standby: {}", st.err().message());
            } else if (st.err().code() != errc::unavailable) {
                return st.err().with_context("cdc");
            } else {
                k_log.warn("{}; retrying in the background", st.err().message());
            }
        }
        if (options_.format == message_format::avro) {
            std::string url = options_.registry_url;
            http::client_auth auth;  // a configured URL carries its own credentials
            if (url.empty()) {
                auth = http::own_endpoint_auth(ctx_.cfg);
                url = http::own_url(auth, services::http_address(ctx_, "registry").value_or("127.0.0.1:8081"));
            }
            registry_ = std::make_unique<registry::client>(registry::client_options{.url = url, .auth = auth});
            registry_url_ = url;
        }
        k_log.info("capturing {} into Kafka at {} (slot {}, publication {}, format {}{})", table_list(), bootstrap_,
                   options_.slot, options_.publication, format_name(options_.format),
                   registry_ ? ", schemas registered at " + registry_url_ : "");
        running_ = true;
        thread_ = std::thread([this] { run(); });
        return std::optional<net::endpoint>();
    }

    void stop() override {
        {
            std::lock_guard lock(mutex_);
            if (!running_) return;
            running_ = false;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    std::string table_list() const {
        std::string out;
        for (const auto& t : options_.tables) {
            if (!out.empty()) out += ", ";
            out += t.qualified() + " → " + topic_for(t.schema, t.name);
        }
        return out;
    }

    std::string topic_for(const std::string& schema, const std::string& table) const {
        auto it = options_.topics.find(schema + "." + table);
        return it == options_.topics.end() ? schema + "." + table : it->second;
    }

    bool running() const { return running_.load(); }

    // Sleeps up to `ms`, returning early when stopping.
    void sleep_ms(int64_t ms) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return !running_.load(); });
    }

    // Leadership of the slot is the lease "cdc.<slot>" (a PostgreSQL advisory
    // lock by default, released when its connection ends, also on kill -9; or
    // a ZooKeeper znode). The control connection then reads the snapshot.
    status acquire_ownership() {
        auto held = lease_->try_acquire();
        if (!held) return held.err();
        if (!*held) {
            std::string holder = lease_->holder();
            return make_error(errc::already_exists,
                              "replication slot '{}' is already owned by another millrace cdc{}; stop that one, or give "
                              "this one its own slot with cdc.slot",
                              options_.slot, holder.empty() ? "" : " (" + holder + ")");
        }
        if (owner_.alive()) {
            if (exec(owner_, "SELECT 1")) return {};
            owner_.close();
        }
        return connect(owner_, dsn_, false, application_);
    }

    // Fencing: before each unit of work that has effects (producing, moving
    // the slot's position), the lease must still be held.
    status check_lease() {
        if (lease_->held()) return {};
        return make_error(errc::cancelled, "lost the lease of replication slot '{}' (cdc.{}); stopping capture",
                          options_.slot, options_.slot);
    }

    // Waits as a standby until this process leads the slot (or stops).
    status wait_for_lease() {
        bool said = false;
        while (running()) {
            auto st = acquire_ownership();
            if (st) return {};
            if (st.err().code() != errc::already_exists) return st;
            if (!said) k_log.info("standby: {}", st.err().message());
            said = true;
            sleep_ms(k_standby_poll_ms);
        }
        return {};
    }

    // ---- the capture thread ------------------------------------------------

    void run() {
        int64_t backoff = options_.backoff_ms;
        while (running()) {
            reconnects_->inc();
            auto started = steady::now();
            status st = session();
            end_session();
            if (!running()) break;
            if (steady::now() - started > std::chrono::seconds(30)) backoff = options_.backoff_ms;
            k_log.warn("{}; reconnecting in {} ms", st ? std::string("session ended") : st.err().message(), backoff);
            sleep_ms(backoff);
            backoff = std::min(backoff * 2, options_.backoff_max_ms);
        }
        k_log.info("stopped; acknowledged up to {}", tracker_.confirmed().to_string());
    }

    // One replication session, from connecting to the first failure (or stop).
    status session() {
        if (auto st = wait_for_lease(); !st) return st;
        if (!running()) return {};
        if (auto st = prepare_tables(); !st) return st;
        if (auto st = make_producer(); !st) return st;
        if (auto st = connect(repl_, dsn_, true, application_); !st) return st;
        lsn start_at = tracker_.confirmed();
        bool resumed = false;
        if (auto st = ensure_slot(start_at, resumed); !st) return st;
        if (!running()) return {};
        in_topics_.clear();
        if (resumed) {
            if (auto st = read_topic_tails(start_at); !st) return st;
        }

        std::string sql = fmt::format("START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names {})",
                                      quote_ident(repl_, options_.slot), start_at.to_string(),
                                      quote_literal(quote_ident(repl_, options_.publication)));
        auto res = exec(repl_, sql);
        if (!res) {
            if (res.err().message().find("55006") != std::string::npos) {
                return make_error(errc::unavailable, "replication slot '{}' is in use by another connection: {}",
                                  options_.slot, res.err().message());
            }
            return res.err();
        }
        repl_streaming_ = true;
        k_log.info("streaming slot {} from {}", options_.slot, start_at.to_string());
        last_status_ = steady::now();
        return stream();
    }

    std::string quote_literal(const std::string& text) {
        char* q = PQescapeLiteral(repl_.conn, text.c_str(), text.size());
        std::string out = q ? q : "'" + text + "'";
        PQfreemem(q);
        return out;
    }

    // Tables exist, the publication covers them, and their primary keys are known.
    status prepare_tables() {
        auto db = exec(owner_, "SELECT current_database()");
        if (!db) return db.err();
        database_ = PQgetvalue((*db)->res, 0, 0);
        primary_keys_.clear();
        for (const auto& t : options_.tables) {
            auto found = exec(owner_, "SELECT to_regclass($1)::oid", {quote_ident(owner_, t.schema) + "." + quote_ident(owner_, t.name)});
            if (!found) return found.err();
            if (PQgetisnull((*found)->res, 0, 0)) {
                return make_error(errc::not_found, "table {} does not exist in database {} (cdc.tables)", t.qualified(),
                                  database_);
            }
            std::string oid = PQgetvalue((*found)->res, 0, 0);
            auto keys = exec(owner_,
                             "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                             "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::oid AND i.indisprimary "
                             "ORDER BY array_position(i.indkey::int2[], a.attnum)",
                             {oid});
            if (!keys) return keys.err();
            auto& names = primary_keys_[t.qualified()];
            for (int row = 0; row < PQntuples((*keys)->res); ++row) names.emplace_back(PQgetvalue((*keys)->res, row, 0));
        }
        auto pub = exec(owner_, "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1",
                        {options_.publication});
        if (!pub) return pub.err();
        auto exists = exec(owner_, "SELECT 1 FROM pg_publication WHERE pubname = $1", {options_.publication});
        if (!exists) return exists.err();
        std::vector<std::string> missing;
        for (const auto& t : options_.tables) {
            bool covered = false;
            for (int row = 0; row < PQntuples((*pub)->res); ++row) covered |= t.qualified() == PQgetvalue((*pub)->res, row, 0);
            if (!covered) missing.push_back(quote_ident(owner_, t.schema) + "." + quote_ident(owner_, t.name));
        }
        if (missing.empty()) return {};
        if (!options_.create_publication) {
            return make_error(errc::invalid_argument,
                              "publication {} does not publish {} and cdc.create_publication is false", options_.publication,
                              missing.front());
        }
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        std::string sql = PQntuples((*exists)->res) == 0
                              ? fmt::format("CREATE PUBLICATION {} FOR TABLE {}", quote_ident(owner_, options_.publication), list)
                              : fmt::format("ALTER PUBLICATION {} ADD TABLE {}", quote_ident(owner_, options_.publication), list);
        auto done = exec(owner_, sql);
        if (!done) return done.err();
        k_log.info("publication {}: {}", options_.publication, sql);
        return {};
    }

    // Before PostgreSQL held it, the snapshot marker was a file per instance;
    // still read so that an upgraded instance does not snapshot again.
    std::string legacy_snapshot_marker() const { return ctx_.data_dir + "/snapshot-done." + options_.slot; }

    std::string state_table() {
        return quote_ident(owner_, options_.state_schema) + ".snapshots";
    }

    // The marker "the initial snapshot of this slot is in Kafka" lives in
    // PostgreSQL next to the slot, so that any instance taking the slot over
    // resumes it instead of snapshotting again (docs/ha.md).
    status ensure_state_table() {
        // Asked first: CREATE ... IF NOT EXISTS would print a NOTICE on every session.
        auto found = exec(owner_, "SELECT to_regclass($1) IS NOT NULL", {state_table()});
        if (found && std::string_view(PQgetvalue((*found)->res, 0, 0)) == "t") return {};
        auto r = exec(owner_, fmt::format("CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {} ("
                                          "slot text PRIMARY KEY, consistent_at pg_lsn NOT NULL, rows bigint NOT NULL, "
                                          "completed_at timestamptz NOT NULL DEFAULT now(), completed_by text NOT NULL)",
                                          quote_ident(owner_, options_.state_schema), state_table()));
        if (!r) return r.err().with_context(fmt::format("cdc.state_schema {}", options_.state_schema));
        return {};
    }

    result<bool> snapshot_recorded() {
        auto r = exec(owner_, fmt::format("SELECT consistent_at FROM {} WHERE slot = $1", state_table()), {options_.slot});
        if (!r) return r.err();
        return PQntuples((*r)->res) > 0;
    }

    status record_snapshot(lsn point, uint64_t rows) {
        auto r = exec(owner_,
                      fmt::format("INSERT INTO {} (slot, consistent_at, rows, completed_by) VALUES ($1, $2::pg_lsn, $3, $4) "
                                  "ON CONFLICT (slot) DO UPDATE SET consistent_at = EXCLUDED.consistent_at, "
                                  "rows = EXCLUDED.rows, completed_at = now(), completed_by = EXCLUDED.completed_by",
                                  state_table()),
                      {options_.slot, point.to_string(), std::to_string(rows), instance_});
        if (!r) return r.err();
        return {};
    }

    // Creates the slot when missing (and takes the initial snapshot); sets
    // `start_at` to where streaming begins and `resumed` when the slot existed.
    status ensure_slot(lsn& start_at, bool& resumed) {
        resumed = false;
        auto slot = exec(owner_, "SELECT plugin, confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1",
                         {options_.slot});
        if (!slot) return slot.err();
        bool exists = PQntuples((*slot)->res) > 0;
        if (auto st = ensure_state_table(); !st) return st;
        std::error_code ec;
        if (exists) {
            std::string plugin = PQgetvalue((*slot)->res, 0, 0);
            if (plugin != "pgoutput") {
                return make_error(errc::invalid_argument, "replication slot '{}' uses plugin {}, not pgoutput; drop it "
                                  "or choose another cdc.slot", options_.slot, plugin);
            }
            if (!PQgetisnull((*slot)->res, 0, 1)) {
                auto confirmed = lsn::parse(PQgetvalue((*slot)->res, 0, 1));
                if (confirmed && *confirmed > start_at) start_at = *confirmed;
            }
            auto recorded = snapshot_recorded();
            if (!recorded) return recorded.err();
            bool legacy = std::filesystem::exists(legacy_snapshot_marker(), ec);
            if (!options_.snapshot || *recorded || legacy) {
                if (options_.snapshot && !*recorded) {
                    // Upgrade: the marker file of an older version says the snapshot completed.
                    std::ifstream in(legacy_snapshot_marker());
                    std::string text;
                    in >> text;
                    auto point = lsn::parse(text);
                    if (auto st = record_snapshot(point ? *point : start_at, 0); !st) return st;
                    k_log.info("replication slot {}: snapshot marker {} recorded in {}", options_.slot,
                               legacy_snapshot_marker(), state_table());
                }
                resumed = true;
                return {};
            }
            // The slot was created but its snapshot never completed (killed
            // mid-snapshot): nothing after it was confirmed, so start over.
            k_log.warn("replication slot {} exists but its initial snapshot did not complete (no row in {}): "
                       "dropping and recreating it", options_.slot, state_table());
            auto dropped = exec(repl_, fmt::format("DROP_REPLICATION_SLOT {} WAIT", quote_ident(repl_, options_.slot)));
            if (!dropped) return dropped.err();
        }
        // A new slot: whatever was recorded belonged to an older one.
        auto cleared = exec(owner_, fmt::format("DELETE FROM {} WHERE slot = $1", state_table()), {options_.slot});
        if (!cleared) return cleared.err();
        std::filesystem::remove(legacy_snapshot_marker(), ec);
        auto created = exec(repl_, fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT '{}')",
                                               quote_ident(repl_, options_.slot), options_.snapshot ? "export" : "nothing"));
        if (!created) return created.err();
        auto point = lsn::parse(PQgetvalue((*created)->res, 0, 1));
        if (!point) return point.err();
        std::string snapshot_name = PQgetisnull((*created)->res, 0, 2) ? "" : PQgetvalue((*created)->res, 0, 2);
        k_log.info("created replication slot {} at {}", options_.slot, point->to_string());
        start_at = *point;
        if (!options_.snapshot) return {};
        auto rows = take_snapshot(snapshot_name, *point);
        if (!rows) return rows.err();
        if (!running()) return make_error(errc::cancelled, "stopped during the initial snapshot");
        return record_snapshot(*point, *rows);
    }

    // Reads every configured table in the slot's exported snapshot and waits
    // until the broker acknowledged every row.
    result<uint64_t> take_snapshot(const std::string& snapshot_name, lsn point) {
        auto started = steady::now();
        for (const char* sql : {"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"}) {
            if (auto r = exec(owner_, sql); !r) return r.err();
        }
        if (auto r = exec(owner_, fmt::format("SET TRANSACTION SNAPSHOT '{}'", snapshot_name)); !r) return r.err();
        auto txn = tracker_.begin(unix_now_us());
        uint64_t rows = 0;
        for (const auto& t : options_.tables) {
            std::string sql = fmt::format("DECLARE millrace_snapshot NO SCROLL CURSOR FOR SELECT * FROM {}.{}",
                                          quote_ident(owner_, t.schema), quote_ident(owner_, t.name));
            if (auto r = exec(owner_, sql); !r) return r.err();
            relation rel;
            rel.schema = t.schema;
            rel.name = t.name;
            rel.topic = topic_for(t.schema, t.name);
            rel.rows = &rows_counter(t.qualified());
            std::string fetch = fmt::format("FETCH {} FROM millrace_snapshot", options_.snapshot_fetch);
            bool described = false;
            while (running()) {
                if (auto st = check_lease(); !st) return st.err();
                auto batch = exec(owner_, fetch);
                if (!batch) return batch.err();
                PGresult* res = (*batch)->res;
                if (!described) {
                    for (int col = 0; col < PQnfields(res); ++col) {
                        column c{PQfname(res, col), static_cast<uint32_t>(PQftype(res, col)), false, PQfmod(res, col)};
                        for (const auto& k : primary_keys_[t.qualified()]) c.key |= k == c.name;
                        rel.columns.push_back(std::move(c));
                    }
                    derive_avro(rel);
                    described = true;
                }
                int count = PQntuples(res);
                if (count == 0) break;
                for (int row = 0; row < count && running(); ++row) {
                    tuple_data tuple(rel.columns.size());
                    for (size_t col = 0; col < rel.columns.size(); ++col) {
                        int c = static_cast<int>(col);
                        if (PQgetisnull(res, row, c)) continue;
                        tuple[col].k = tuple_value::kind::text;
                        tuple[col].text.assign(PQgetvalue(res, row, c), static_cast<size_t>(PQgetlength(res, row, c)));
                    }
                    change ch{'r', &rel, nullptr, &tuple, point, 0, unix_now_us(), true, point};
                    if (auto st = emit(txn, ch); !st) return st.err();
                    ++rows;
                }
                if (auto st = check_producer(); !st) return st.err();
            }
            if (auto r = exec(owner_, "CLOSE millrace_snapshot"); !r) return r.err();
        }
        if (auto r = exec(owner_, "COMMIT"); !r) return r.err();
        tracker_.commit(txn, point);
        while (running() && !tracker_.empty()) {
            rd_kafka_poll(producer_, 100);
            if (auto st = check_producer(); !st) return st.err();
        }
        double seconds = std::chrono::duration<double>(steady::now() - started).count();
        k_log.info("initial snapshot: {} rows acknowledged in {:.1f} s (consistent at {})", rows, seconds,
                   point.to_string());
        return rows;
    }

    // ---- resuming: what the topics already hold ----------------------------------

    // A resumed slot sends again every transaction committed after its
    // confirmed position, and the session before (this process's, or a leader
    // that died) may have produced some of them already: confirming a position
    // lags the broker's acknowledgement by up to cdc.status_interval. Reads each
    // partition of the captured topics from its end back to the first records
    // committed before `resume_at` and keeps their row positions (the "lsn"
    // header), which the stream then skips. One producer writes a partition at
    // a time (the lease), in commit order, so reading back stops there.
    status read_topic_tails(lsn resume_at) {
        char errstr[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        std::vector<std::pair<std::string, std::string>> settings = {
            {"bootstrap.servers", bootstrap_},
            {"client.id", application_ + "-resume"},
            {"group.id", "millrace-cdc-resume." + options_.slot},  // never joined nor committed: assign() only
            {"enable.auto.commit", "false"},
            {"enable.partition.eof", "true"},
            {"reconnect.backoff.max.ms", "2000"},
        };
        for (const auto& kv : security::kafka_client_properties(ctx_.cfg)) settings.push_back(kv);
        for (const auto& [key, value] : settings) {
            if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                return make_error(errc::invalid_argument, "Kafka consumer setting {}={}: {}", key,
                                  security::printable_property(key, value), errstr);
            }
        }
        rd_kafka_conf_set_log_cb(conf, &capture::on_log);
        rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        if (rk == nullptr) return make_error(errc::invalid_argument, "Kafka consumer: {}", errstr);
        std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> owned(rk, [](rd_kafka_t* k) {
            rd_kafka_consumer_close(k);
            rd_kafka_destroy(k);
        });
        const rd_kafka_metadata_t* md = nullptr;
        if (auto err = rd_kafka_metadata(rk, 1, nullptr, &md, 15000); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return make_error(errc::unavailable, "reading the topics back before resuming slot {}: metadata: {}",
                              options_.slot, rd_kafka_err2str(err));
        }
        std::map<std::string, int> partitions;
        for (int t = 0; t < md->topic_cnt; ++t) {
            if (md->topics[t].err == RD_KAFKA_RESP_ERR_NO_ERROR) partitions[md->topics[t].topic] = md->topics[t].partition_cnt;
        }
        rd_kafka_metadata_destroy(md);
        uint64_t read = 0;
        std::set<std::string> topics;
        for (const auto& t : options_.tables) topics.insert(topic_for(t.schema, t.name));
        for (const auto& topic : topics) {
            auto found = partitions.find(topic);
            if (found == partitions.end()) continue;  // nothing produced yet
            auto why = fmt::format("before resuming slot {}", options_.slot);
            auto low_offsets = kafka_client::list_offsets(rk, topic, found->second, RD_KAFKA_OFFSET_BEGINNING, k_offsets_timeout);
            if (!low_offsets) return low_offsets.err().with_context(why);
            auto high_offsets = kafka_client::list_offsets(rk, topic, found->second, RD_KAFKA_OFFSET_END, k_offsets_timeout);
            if (!high_offsets) return high_offsets.err().with_context(why);
            const auto& lows = *low_offsets;
            const auto& highs = *high_offsets;
            for (int partition = 0; partition < found->second && running(); ++partition) {
                int64_t low = lows[partition], high = highs[partition];
                int64_t window = 512;
                for (int64_t end = high; end > low && running();) {
                    int64_t begin = std::max(low, end - window);
                    bool older = false;
                    if (auto st = read_range(rk, topic, partition, begin, end, resume_at, older, read); !st) return st;
                    if (older) break;
                    end = begin;
                    window *= 2;
                }
            }
        }
        k_log.info("resuming slot {} after {}: {} rows after it are in the topics already ({} records read back)",
                   options_.slot, resume_at.to_string(), in_topics_.size(), read);
        return {};
    }

    // Reads offsets [begin, end) of one partition into in_topics_; `older`
    // when a record there was committed before `resume_at` (or predates the
    // commit_lsn header).
    status read_range(rd_kafka_t* rk, const std::string& topic, int partition, int64_t begin, int64_t end, lsn resume_at,
                      bool& older, uint64_t& read) {
        rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = begin;
        auto err = rd_kafka_assign(rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return make_error(errc::unavailable, "assigning topic {} partition {}: {}", topic, partition, rd_kafka_err2str(err));
        }
        auto header = [](rd_kafka_headers_t* headers, const char* name) -> std::optional<std::string> {
            const void* value = nullptr;
            size_t size = 0;
            if (headers == nullptr || rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                value == nullptr) {
                return std::nullopt;
            }
            return std::string(static_cast<const char*>(value), size);
        };
        auto deadline = steady::now() + std::chrono::seconds(60);
        status outcome;
        while (running()) {
            if (steady::now() > deadline) {
                outcome = make_error(errc::unavailable, "reading topic {} partition {} offsets {}..{} back: no answer in 60 s",
                                     topic, partition, begin, end);
                break;
            }
            rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 500);
            if (m == nullptr) continue;
            std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> msg(m, rd_kafka_message_destroy);
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
            if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (m->err == RD_KAFKA_RESP_ERR__TRANSPORT || m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) continue;
                outcome = make_error(errc::unavailable, "reading topic {} partition {} back: {}", topic, partition,
                                     rd_kafka_message_errstr(m));
                break;
            }
            if (m->offset >= end) break;
            ++read;
            rd_kafka_headers_t* headers = nullptr;
            rd_kafka_message_headers(m, &headers);
            auto commit_text = header(headers, "commit_lsn");
            auto position_text = header(headers, "lsn");
            auto op = header(headers, "op");
            auto commit = commit_text ? lsn::parse(*commit_text) : result<lsn>(make_error(errc::not_found, "none"));
            auto position = position_text ? lsn::parse(*position_text) : result<lsn>(make_error(errc::not_found, "none"));
            // Snapshot rows come before every streamed row of a partition and are
            // never sent again: reading back ends at them too.
            if (!commit || !position || *commit < resume_at || op == std::optional<std::string>("r")) {
                older = true;
            } else {
                in_topics_.insert(position->value);
            }
            if (m->offset + 1 >= end) break;
        }
        rd_kafka_assign(rk, nullptr);
        return outcome;
    }

    // ---- the stream ----------------------------------------------------------

    status stream() {
        std::map<uint32_t, relation> relations;
        ack_tracker::txn_id txn = 0;
        bool in_txn = false;
        uint32_t xid = 0;
        int64_t commit_us = 0;
        lsn commit_at;
        while (running()) {
            if (auto st = check_lease(); !st) return st;
            rd_kafka_poll(producer_, 0);
            if (auto st = check_producer(); !st) return st;
            if (auto st = maybe_send_status(false); !st) return st;
            char* buffer = nullptr;
            int len = PQgetCopyData(repl_.conn, &buffer, 1);
            if (len == 0) {
                pollfd fd{PQsocket(repl_.conn), POLLIN, 0};
                ::poll(&fd, 1, 50);
                if (PQconsumeInput(repl_.conn) == 0) {
                    return make_error(errc::unavailable, "PostgreSQL replication connection lost: {}",
                                      one_line(PQerrorMessage(repl_.conn)));
                }
                continue;
            }
            if (len == -1) {
                pg_result res(PQgetResult(repl_.conn));
                return make_error(errc::unavailable, "PostgreSQL ended the replication stream: {}",
                                  one_line(res.res ? PQresultErrorMessage(res.res) : PQerrorMessage(repl_.conn)));
            }
            if (len < 0) {
                return make_error(errc::unavailable, "PostgreSQL replication connection lost: {}",
                                  one_line(PQerrorMessage(repl_.conn)));
            }
            std::string_view bytes(buffer, static_cast<size_t>(len));
            auto message = decode_stream_message(bytes);
            status handled;
            if (!message) {
                handled = message.err();
            } else if (auto* k = std::get_if<keepalive>(&*message)) {
                if (k->wal_end > received_) received_ = k->wal_end;
                if (!in_txn) tracker_.idle_at(k->wal_end);
                server_end_ = k->wal_end;
                handled = maybe_send_status(k->reply_requested);
            } else {
                const auto& data = std::get<xlog_data>(*message);
                if (data.wal_end > server_end_) server_end_ = data.wal_end;
                if (data.wal_start > received_) received_ = data.wal_start;
                auto decoded = decode_pgoutput(data.payload);
                if (!decoded) {
                    handled = decoded.err().with_context(fmt::format("at {}", data.wal_start.to_string()));
                } else if (auto* b = std::get_if<begin_message>(&*decoded)) {
                    commit_us = b->commit_time_us + k_pg_epoch_offset_us;
                    xid = b->xid;
                    commit_at = b->final_lsn;
                    txn = tracker_.begin(commit_us);
                    in_txn = true;
                } else if (auto* c = std::get_if<commit_message>(&*decoded)) {
                    if (in_txn) tracker_.commit(txn, c->end_lsn);
                    in_txn = false;
                    if (c->end_lsn > received_) received_ = c->end_lsn;
                } else if (auto* r = std::get_if<relation_message>(&*decoded)) {
                    relations[r->oid] = make_relation(*r);
                } else if (auto* ins = std::get_if<insert_message>(&*decoded)) {
                    handled = on_change(relations, ins->relation, txn, in_txn,
                                        {'c', nullptr, nullptr, &ins->new_tuple, data.wal_start, xid, commit_us, false, commit_at});
                } else if (auto* up = std::get_if<update_message>(&*decoded)) {
                    handled = on_change(relations, up->relation, txn, in_txn,
                                        {'u', nullptr, up->old_kind ? &up->old_tuple : nullptr, &up->new_tuple,
                                         data.wal_start, xid, commit_us, false, commit_at});
                } else if (auto* del = std::get_if<delete_message>(&*decoded)) {
                    handled = on_change(relations, del->relation, txn, in_txn,
                                        {'d', nullptr, &del->old_tuple, nullptr, data.wal_start, xid, commit_us, false, commit_at});
                } else if (auto* tr = std::get_if<truncate_message>(&*decoded)) {
                    for (uint32_t oid : tr->relations) {
                        if (!in_txn) break;
                        handled = on_change(relations, oid, txn, in_txn,
                                            {'t', nullptr, nullptr, nullptr, data.wal_start, xid, commit_us, false, commit_at});
                        if (!handled) break;
                    }
                }
            }
            PQfreemem(buffer);
            if (!handled) return handled.err();
        }
        return {};
    }

    relation make_relation(const relation_message& r) {
        relation rel;
        rel.schema = r.schema;
        rel.name = r.name;
        rel.topic = topic_for(r.schema, r.name);
        rel.rows = &rows_counter(r.schema + "." + r.name);
        auto pk = primary_keys_.find(r.schema + "." + r.name);
        for (const auto& c : r.columns) {
            column col{c.name, c.type_oid, c.key, c.type_modifier};
            if (pk != primary_keys_.end() && !pk->second.empty()) {
                col.key = false;
                for (const auto& k : pk->second) col.key |= k == c.name;
            }
            rel.columns.push_back(std::move(col));
        }
        derive_avro(rel);
        return rel;
    }

    metrics::counter& rows_counter(const std::string& table) {
        auto it = rows_.find(table);
        if (it != rows_.end()) return *it->second;
        auto& c = ctx_.metrics.make_counter("millrace_cdc_rows_total", "Rows captured and produced, by table.",
                                            {{"table", table}});
        rows_[table] = &c;
        return c;
    }

    struct change {
        char op;  // c u d r t
        const relation* rel;
        const tuple_data* before;
        const tuple_data* after;
        lsn position;
        uint32_t xid;
        int64_t commit_us;  // unix epoch
        bool snapshot;
        lsn commit_at{};  // the transaction's commit record (Begin's final LSN); the snapshot's point
    };

    status on_change(const std::map<uint32_t, relation>& relations, uint32_t oid, ack_tracker::txn_id txn, bool in_txn,
                     change ch) {
        auto it = relations.find(oid);
        if (it == relations.end()) {
            return make_error(errc::invalid_argument, "pgoutput: change for relation {} at {} before its Relation message",
                              oid, ch.position.to_string());
        }
        if (!in_txn) {
            return make_error(errc::invalid_argument, "pgoutput: change at {} outside a transaction", ch.position.to_string());
        }
        ch.rel = &it->second;
        if (!in_topics_.empty() && in_topics_.erase(ch.position.value) > 0) {
            already_produced_->inc();
            return {};
        }
        return emit(txn, ch);
    }

    void append_row(std::string& out, const relation& rel, const tuple_data& tuple) {
        out.push_back('{');
        bool first = true;
        for (size_t col = 0; col < rel.columns.size() && col < tuple.size(); ++col) {
            const auto& v = tuple[col];
            if (v.k == tuple_value::kind::unchanged) continue;  // unchanged TOAST value: not sent by PostgreSQL
            if (!first) out.push_back(',');
            first = false;
            append_json_string(out, rel.columns[col].name);
            out.push_back(':');
            if (v.k == tuple_value::kind::null) {
                out += "null";
            } else {
                append_json_value(out, rel.columns[col].type_oid, v.text);
            }
        }
        out.push_back('}');
    }

    // The message key: the primary key's text for a one-column key (cdc.key_format
    // text), else a JSON object of the key columns; empty for no key.
    std::optional<std::string> make_key(const relation& rel, const tuple_data& tuple) {
        std::vector<size_t> keys;
        for (size_t col = 0; col < rel.columns.size() && col < tuple.size(); ++col) {
            if (rel.columns[col].key) keys.push_back(col);
        }
        if (keys.empty()) return std::nullopt;
        if (keys.size() == 1 && !options_.json_keys) {
            const auto& v = tuple[keys[0]];
            if (v.k != tuple_value::kind::text) return std::nullopt;
            return v.text;
        }
        std::string out = "{";
        for (size_t idx = 0; idx < keys.size(); ++idx) {
            if (idx) out.push_back(',');
            append_json_string(out, rel.columns[keys[idx]].name);
            out.push_back(':');
            const auto& v = tuple[keys[idx]];
            if (v.k == tuple_value::kind::text) {
                append_json_value(out, rel.columns[keys[idx]].type_oid, v.text);
            } else {
                out += "null";
            }
        }
        out.push_back('}');
        return out;
    }

    // Registers `schema_text` under `subject` unless this relation already did;
    // the registry answers the same id for a schema it knows.
    status ensure_registered(const std::string& subject, const std::string& schema_text, int& id) {
        if (id != 0) return {};
        auto cached = registered_.find(subject + '\n' + schema_text);
        if (cached != registered_.end()) {
            id = cached->second;
            return {};
        }
        auto parsed = avro::schema::parse(schema_text);
        if (!parsed) return parsed.err().with_context(fmt::format("derived Avro schema for {}", subject));
        auto got = registry_->register_schema(subject, parsed->normalized());
        if (!got) {
            if (got.err().code() != errc::already_exists) return error(errc::unavailable, got.err().message());
            // 409: name the columns behind the registry's "/fields/N" paths.
            std::string fields;
            const std::string& message = got.err().message();
            for (size_t at = message.find("/fields/"); at != std::string::npos; at = message.find("/fields/", at + 1)) {
                size_t index = std::strtoul(message.c_str() + at + 8, nullptr, 10);
                const auto& all = parsed->root().fields;
                if (index < all.size() && fields.find(all[index].name) == std::string::npos) {
                    fields += (fields.empty() ? "" : ", ") + all[index].name;
                }
            }
            return make_error(errc::invalid_argument, "{}{}; change the table back, or the subject's compatibility "
                              "(PUT /config/{})", message, fields.empty() ? "" : " (columns: " + fields + ")", subject);
        }
        id = *got;
        registered_[subject + '\n' + schema_text] = id;
        auto version = registry_->lookup(subject, parsed->normalized());
        k_log.info("schema of subject {}: id {}{}", subject, id,
                   version ? fmt::format(", version {}", version->version) : std::string());
        avro_registrations_->inc();
        return {};
    }

    // The Confluent-framed key (the key columns as a record; none without a
    // key) and value (the row; none for a delete: a tombstone).
    status encode_avro(const relation& rel, const tuple_data* key_source, const tuple_data* after,
                       std::optional<std::string>& key, std::optional<std::string>& value) {
        auto field = [](const tuple_value& v) -> std::optional<std::string_view> {
            if (v.k == tuple_value::kind::text) return std::string_view(v.text);
            return std::nullopt;  // NULL, or an unchanged TOASTed value PostgreSQL did not send
        };
        if (key_source && !rel.key_schema.empty()) {
            if (auto st = ensure_registered(rel.topic + "-key", rel.key_schema, rel.key_schema_id); !st) return st;
            std::string out;
            avro::wire::append_header(out, rel.key_schema_id);
            size_t k = 0;
            for (size_t col = 0; col < rel.columns.size() && col < key_source->size(); ++col) {
                if (!rel.columns[col].key) continue;
                if (auto st = append_avro_value(out, rel.avro_key[k++], field((*key_source)[col])); !st) return st;
            }
            key = std::move(out);
        }
        if (after) {
            if (auto st = ensure_registered(rel.topic + "-value", rel.value_schema, rel.value_schema_id); !st) return st;
            std::string out;
            avro::wire::append_header(out, rel.value_schema_id);
            for (size_t col = 0; col < rel.columns.size(); ++col) {
                std::optional<std::string_view> text = col < after->size() ? field((*after)[col]) : std::nullopt;
                if (auto st = append_avro_value(out, rel.avro_value[col], text); !st) return st;
            }
            value = std::move(out);
        }
        return {};
    }

    status emit(ack_tracker::txn_id txn, const change& ch) {
        const relation& rel = *ch.rel;
        const tuple_data* key_source = ch.after ? ch.after : ch.before;
        std::optional<std::string> key;
        std::optional<std::string> value;
        if (options_.format == message_format::avro) {
            if (ch.op == 't') {
                rel.rows->inc();
                return {};  // no row: nothing to say
            }
            if (auto st = encode_avro(rel, key_source, ch.after, key, value); !st) {
                return st.err().with_context(fmt::format("{}.{} at {}", rel.schema, rel.name, ch.position.to_string()));
            }
        } else if (options_.format == message_format::json) {
            key = key_source ? make_key(rel, *key_source) : std::nullopt;
            if (ch.op == 't') {
                rel.rows->inc();
                return {};  // a truncate has no row: nothing to say in the flat format
            }
            if (ch.after) {
                value.emplace();
                append_row(*value, rel, *ch.after);
            }
            // A delete is a tombstone: the key and no value.
        } else {
            key = key_source ? make_key(rel, *key_source) : std::nullopt;
            std::string v = "{\"before\":";
            if (ch.before) {
                append_row(v, rel, *ch.before);
            } else {
                v += "null";
            }
            v += ",\"after\":";
            if (ch.after) {
                append_row(v, rel, *ch.after);
            } else {
                v += "null";
            }
            v += ",\"source\":{\"connector\":\"millrace\",\"version\":\"" MILLRACE_CDC_VERSION "\",\"name\":";
            append_json_string(v, options_.slot);
            v += ",\"db\":";
            append_json_string(v, database_);
            v += ",\"schema\":";
            append_json_string(v, rel.schema);
            v += ",\"table\":";
            append_json_string(v, rel.name);
            v += fmt::format(",\"lsn\":{},\"txId\":{},\"ts_ms\":{},\"snapshot\":{}}}", ch.position.value, ch.xid,
                             ch.commit_us / 1000, ch.snapshot ? "true" : "false");
            v += fmt::format(",\"op\":\"{}\",\"ts_ms\":{}}}", ch.op, unix_now_us() / 1000);
            value = std::move(v);
        }
        rd_kafka_headers_t* headers = rd_kafka_headers_new(5);
        std::string position = ch.position.to_string();
        // The transaction's commit time from the WAL, in µs: what freshness is measured from.
        std::string commit_us = std::to_string(ch.commit_us);
        std::string op(1, ch.op);
        std::string table = rel.schema + "." + rel.name;
        std::string xid = std::to_string(ch.xid);
        std::string commit_at = ch.commit_at.to_string();
        rd_kafka_header_add(headers, "lsn", -1, position.data(), static_cast<ssize_t>(position.size()));
        rd_kafka_header_add(headers, "commit_lsn", -1, commit_at.data(), static_cast<ssize_t>(commit_at.size()));
        rd_kafka_header_add(headers, "op", -1, op.data(), static_cast<ssize_t>(op.size()));
        rd_kafka_header_add(headers, "table", -1, table.data(), static_cast<ssize_t>(table.size()));
        rd_kafka_header_add(headers, "txid", -1, xid.data(), static_cast<ssize_t>(xid.size()));
        if (ch.commit_us > 0) {
            rd_kafka_header_add(headers, "commit_us", -1, commit_us.data(), static_cast<ssize_t>(commit_us.size()));
        }
        void* key_data = key ? key->data() : nullptr;
        size_t key_size = key ? key->size() : 0;
        void* value_data = value ? value->data() : nullptr;
        size_t value_size = value ? value->size() : 0;
        tracker_.add_message(txn);
        while (true) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                producer_, RD_KAFKA_V_TOPIC(rel.topic.c_str()),
                RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_VALUE(value_data, value_size),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
                RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(txn))), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && tracker_.in_flight() <= 1) {
                // Nothing else is buffered: this row alone exceeds the buffer and would wait forever.
                err = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
            }
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_headers_destroy(headers);
                if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
                    return make_error(errc::invalid_argument,
                                      "a {}-byte row of {} at {} does not fit the producer: raise cdc.max_buffered_bytes "
                                      "(now {} bytes) and the topic's max.message.bytes",
                                      key_size + value_size, table, ch.position.to_string(), options_.max_buffered_bytes);
                }
                return make_error(errc::io_error, "producing to topic {}: {}", rel.topic, rd_kafka_err2str(err));
            }
            // Backpressure: the producer holds cdc.max_buffered_bytes; stop
            // reading the replication stream until the broker takes some, but
            // keep telling PostgreSQL we are alive.
            if (!backpressured_) {
                backpressured_ = true;
                k_log.warn("producer buffer full ({} messages in flight): pausing the replication stream", tracker_.in_flight());
            }
            rd_kafka_poll(producer_, 100);
            if (auto st = check_producer(); !st) {
                rd_kafka_headers_destroy(headers);
                return st;
            }
            if (repl_streaming_) {
                if (auto st = maybe_send_status(false); !st) {
                    rd_kafka_headers_destroy(headers);
                    return st;
                }
            }
            if (!running()) {
                rd_kafka_headers_destroy(headers);
                return make_error(errc::cancelled, "stopped while the producer buffer was full");
            }
        }
        if (backpressured_) {
            backpressured_ = false;
            k_log.info("producer buffer drained: resuming the replication stream");
        }
        rel.rows->inc();
        return {};
    }

    // Sends a Standby Status Update when asked, when the interval passed, or
    // when the confirmed position moved.
    status maybe_send_status(bool reply_now) {
        if (!repl_streaming_) return {};
        auto now = steady::now();
        lsn confirmed = tracker_.confirmed();
        acked_lsn_->set(static_cast<double>(confirmed.value));
        in_flight_->set(static_cast<double>(tracker_.in_flight()));
        if (server_end_ > confirmed) {
            lag_bytes_->set(static_cast<double>(server_end_.value - confirmed.value));
        } else {
            lag_bytes_->set(0);
        }
        bool due = now - last_status_ >= std::chrono::milliseconds(options_.status_interval_ms);
        if (!reply_now && !due) return {};
        return send_status(confirmed);
    }

    status send_status(lsn confirmed) {
        lsn written = std::max(received_, confirmed);
        std::string update = encode_status_update(written, confirmed, confirmed, unix_now_us() - k_pg_epoch_offset_us, false);
        if (PQputCopyData(repl_.conn, update.data(), static_cast<int>(update.size())) != 1 || PQflush(repl_.conn) != 0) {
            return make_error(errc::unavailable, "PostgreSQL replication connection lost sending a status update: {}",
                              one_line(PQerrorMessage(repl_.conn)));
        }
        last_status_ = steady::now();
        if (confirmed != last_sent_) k_log.debug("confirmed flush position {}", confirmed.to_string());
        last_sent_ = confirmed;
        return {};
    }

    // ---- the producer ----------------------------------------------------------

    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
        auto* self = static_cast<capture*>(opaque);
        auto txn = static_cast<ack_tracker::txn_id>(reinterpret_cast<uintptr_t>(message->_private));
        if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (!self->delivery_error_) {
                self->delivery_error_ = make_error(errc::unavailable, "broker did not take a message for topic {}: {}",
                                                   rd_kafka_topic_name(message->rkt), rd_kafka_err2str(message->err));
            }
            return;
        }
        self->tracker_.ack(txn);
    }

    static void on_log(const rd_kafka_t*, int level, const char* fac, const char* buf) {
        if (level <= 3) {
            k_log.warn("kafka: {}: {}", fac, buf);
        } else {
            k_log.debug("kafka: {}: {}", fac, buf);
        }
    }

    status make_producer() {
        if (producer_) return {};
        delivery_error_.reset();
        char errstr[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        auto set = [&](const char* key, const std::string& value) -> status {
            if (rd_kafka_conf_set(conf, key, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
                return make_error(errc::invalid_argument, "Kafka producer setting {}={}: {}", key,
                                  security::printable_property(key, value), errstr);
            }
            return {};
        };
        int64_t kbytes = std::max<int64_t>(options_.max_buffered_bytes / 1024, 1);
        std::pair<const char*, std::string> settings[] = {
            {"bootstrap.servers", bootstrap_},
            {"client.id", application_},
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"message.timeout.ms", "0"},  // never give up on a row: wait for the broker
            {"queue.buffering.max.kbytes", std::to_string(std::min<int64_t>(kbytes, 2'097'151))},
            {"queue.buffering.max.messages", "10000000"},
            {"linger.ms", std::to_string(options_.linger_ms)},
            {"compression.codec", options_.compression},
            {"partitioner", "murmur2_random"},
            {"reconnect.backoff.max.ms", "2000"},
        };
        for (const auto& [key, value] : settings) {
            if (auto st = set(key, value); !st) {
                rd_kafka_conf_destroy(conf);
                return st;
            }
        }
        // Every Kafka client's base properties: TLS/SASL (docs/security.md), kafka.client_properties.
        for (const auto& [key, value] : security::kafka_client_properties(ctx_.cfg)) {
            if (auto st = set(key.c_str(), value); !st) {
                rd_kafka_conf_destroy(conf);
                return st;
            }
        }
        rd_kafka_conf_set_opaque(conf, this);
        rd_kafka_conf_set_dr_msg_cb(conf, &capture::on_delivery);
        rd_kafka_conf_set_log_cb(conf, &capture::on_log);
        producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (producer_ == nullptr) return make_error(errc::invalid_argument, "Kafka producer: {}", errstr);
        return {};
    }

    status check_producer() {
        if (delivery_error_) return *delivery_error_;
        char errstr[512];
        if (rd_kafka_fatal_error(producer_, errstr, sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return make_error(errc::unavailable, "Kafka producer failed: {}", errstr);
        }
        return {};
    }

    // Flushes what can be flushed, sends the last confirmed position, and
    // closes the session's connections. The next session re-reads from the
    // confirmed position whatever was not acknowledged.
    void end_session() {
        if (producer_) {
            bool healthy = !delivery_error_;
            if (healthy) {
                auto deadline = steady::now() + std::chrono::milliseconds(running() ? 2000 : options_.flush_timeout_ms);
                while (tracker_.in_flight() > 0 && steady::now() < deadline && !delivery_error_) {
                    rd_kafka_poll(producer_, 50);
                }
            }
            if (repl_streaming_ && repl_.alive()) {
                if (auto st = send_status(tracker_.confirmed()); st) {
                    PQputCopyEnd(repl_.conn, nullptr);
                    PQflush(repl_.conn);
                }
            }
            acked_lsn_->set(static_cast<double>(tracker_.confirmed().value));
            bool drained = tracker_.in_flight() == 0 && healthy && !delivery_error_;
            if (!drained || !running()) {
                // Unacknowledged rows are re-read from the slot by the next
                // session; this producer's state is abandoned with them.
                rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(producer_, 0);
                rd_kafka_destroy(producer_);
                producer_ = nullptr;
                delivery_error_.reset();
            }
        }
        tracker_.reset();
        repl_streaming_ = false;
        repl_.close();
        if (!running()) {
            owner_.close();
            if (lease_) lease_->release();
        }
    }

    component_context& ctx_;
    cdc_options options_;
    std::string application_;
    std::string dsn_;
    std::string bootstrap_;
    std::string database_;
    std::map<std::string, std::vector<std::string>> primary_keys_;  // schema.table → key columns

    std::atomic<bool> running_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;

    // Owned by the capture thread (owner_ also by start(), before it runs).
    pg_conn owner_;  // reads the snapshot, manages the publication and slot
    std::unique_ptr<coordination::coordinator> own_coordinator_;  // when the host gave none
    std::unique_ptr<coordination::lease> lease_;                  // "cdc.<slot>"
    std::string instance_;                                        // host:pid, recorded with the snapshot marker
    // Positions (the "lsn" header) of the rows a resumed session found already
    // in the topics: the slot sends them again; they are not produced twice.
    std::unordered_set<uint64_t> in_topics_;
    bool standby_ok_ = false;  // a held lease makes this one wait, not fail
    pg_conn repl_;   // replication=database
    bool repl_streaming_ = false;
    rd_kafka_t* producer_ = nullptr;
    std::optional<error> delivery_error_;
    ack_tracker tracker_;
    lsn received_;    // highest WAL position received
    lsn server_end_;  // the server's last reported WAL end
    lsn last_sent_;
    steady::time_point last_status_;
    bool backpressured_ = false;
    std::map<std::string, metrics::counter*> rows_;
    std::unique_ptr<registry::client> registry_;  // cdc.format avro
    std::string registry_url_;
    std::map<std::string, int> registered_;  // subject + '\n' + schema text → id
    metrics::counter* avro_registrations_;

    metrics::gauge* acked_lsn_;
    metrics::gauge* lag_bytes_;
    metrics::gauge* lag_ms_;
    metrics::histogram* commit_to_ack_;
    metrics::counter* reconnects_;
    metrics::counter* already_produced_;
    metrics::gauge* in_flight_;
};

}  // namespace

void add_options(config::schema& s) {
    s.add({"cdc.slot", value_kind::string, "millrace_cdc",
           "Logical replication slot the capture reads (created on first start); one cdc process owns it at a time."});
    s.add({"cdc.publication", value_kind::string, "millrace_cdc",
           "Publication naming the captured tables; created, or extended with missing tables, when allowed."});
    s.add({"cdc.state_schema", value_kind::string, "millrace_cdc",
           "PostgreSQL schema of the table snapshots, which records the slots whose initial snapshot is in Kafka "
           "(created when missing), so that any instance taking a slot over resumes it without snapshotting again."});
    s.add({"cdc.create_publication", value_kind::boolean, "true",
           "Create the publication, or add missing tables to it; false requires it to publish cdc.tables already."});
    s.add({"cdc.tables", value_kind::string_list, "public.users", "Tables to capture, as schema.table."});
    s.add({"cdc.topics", value_kind::string_list, "public.users=users_created",
           "Topic of each table as schema.table=topic; a table without an entry goes to topic schema.table."});
    s.add({"cdc.snapshot", value_kind::choice, "initial",
           "initial: on first start (new slot) emit the rows already in the tables, consistent with the stream that "
           "follows; never: stream changes only.",
           {"initial", "never"}});
    s.add({"cdc.format", value_kind::choice, "json",
           "Message value: json (the row as flat JSON, deletes as tombstones), envelope (Debezium-style before, "
           "after, source, op, ts_ms) or avro (key and row in Confluent's wire format, schemas derived from the "
           "table and registered in the schema registry as <topic>-key and <topic>-value).",
           {"json", "envelope", "avro"}});
    s.add({"cdc.registry_url", value_kind::string, "",
           "Schema registry for cdc.format avro (http://host:port); empty: the registry started in this process, "
           "else 127.0.0.1:8081."});
    s.add({"cdc.key_format", value_kind::choice, "text",
           "Message key: text (a one-column primary key as its text, composite keys as JSON) or json (always a JSON "
           "object of the key columns).",
           {"text", "json"}});
    s.add({"cdc.status_interval", value_kind::duration_ms, "1s",
           "Interval of standby status updates, which also move the slot's confirmed position.", {}, 10, 600'000});
    s.add({"cdc.max_buffered_bytes", value_kind::size, "64MiB",
           "Most bytes of messages waiting for the broker; when full, the replication stream pauses.", {}, 1024,
           int64_t{2} << 30});
    s.add({"cdc.linger", value_kind::duration_ms, "5ms", "How long the producer waits to fill a batch.", {}, 0, 10'000});
    s.add({"cdc.compression", value_kind::choice, "lz4", "Compression of produced batches.",
           {"none", "gzip", "snappy", "lz4", "zstd"}});
    s.add({"cdc.snapshot_fetch", value_kind::integer, "5000", "Rows per fetch while reading the initial snapshot.", {},
           1, 1'000'000});
    s.add({"cdc.backoff", value_kind::duration_ms, "500ms",
           "First delay before reconnecting after PostgreSQL or Kafka failed; it doubles per failure.", {}, 1, 600'000});
    s.add({"cdc.backoff_max", value_kind::duration_ms, "10s", "Largest reconnect delay.", {}, 1, 3'600'000});
    s.add({"cdc.flush_timeout", value_kind::duration_ms, "10s",
           "How long a stop waits for the broker to acknowledge what was produced.", {}, 0, 3'600'000});
}

std::unique_ptr<component> make_cdc(component_context& ctx) {
    auto options = options_from(ctx.cfg);
    if (!options) {
        // Reported by start(): the host prints the error and exits with code 2.
        struct failed final : component {
            error err;
            explicit failed(error e) : err(std::move(e)) {}
            std::string name() const override { return "cdc"; }
            result<std::optional<net::endpoint>> start() override { return err.with_context("cdc"); }
            void stop() override {}
        };
        return std::make_unique<failed>(options.err());
    }
    return std::make_unique<capture>(ctx, std::move(*options));
}

}  // namespace millrace::cdc
