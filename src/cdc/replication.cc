#include "replication.h"

#include "millrace/cdc/json_mapping.h"
#include "millrace/common/log.h"

namespace millrace::cdc {
namespace {

const log::logger k_log("cdc");
using steady = std::chrono::steady_clock;

pg::connect_options session_options(const std::string& dsn, const std::string& application, bool replication) {
    return pg::connect_options{.dsn = dsn,
                               .application_name = application,
                               .connect_timeout = std::chrono::seconds(10),
                               .options = k_session_options,
                               .replication = replication,
                               .purpose = replication ? "(replication)" : ""};
}

std::string trimmed(std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    size_t start = 0;
    while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
    return text.substr(start);
}

}  // namespace

replication::replication(const cdc_options& options, std::string dsn, std::string application, std::string instance,
                         file_system& fs, std::string data_dir)
    : options_(options), instance_(std::move(instance)), fs_(fs), data_dir_(std::move(data_dir)),
      owner_(session_options(dsn, application, false)), repl_(session_options(dsn, application, true)) {}

status replication::open_control() {
    if (owner_.alive()) {
        if (owner_.run("SELECT 1")) return {};
        owner_.close();
    }
    return owner_.connect();
}

const std::vector<std::string>& replication::primary_key(const std::string& qualified) const {
    static const std::vector<std::string> none;
    auto it = primary_keys_.find(qualified);
    return it == primary_keys_.end() ? none : it->second;
}

status replication::prepare_tables() {
    auto db = owner_.exec("SELECT current_database()");
    if (!db) return db.err();
    database_ = db->str(0, 0);
    primary_keys_.clear();
    for (const auto& t : options_.tables) {
        auto found = owner_.exec("SELECT to_regclass($1)::oid", {pg::quote_qualified(t.schema, t.name)});
        if (!found) return found.err();
        if (found->is_null(0, 0)) {
            return make_error(errc::not_found, "table {} does not exist in database {} (cdc.tables)", t.qualified(),
                              database_);
        }
        auto keys = owner_.exec("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::oid AND i.indisprimary "
                                "ORDER BY array_position(i.indkey::int2[], a.attnum)",
                                {found->str(0, 0)});
        if (!keys) return keys.err();
        auto& names = primary_keys_[t.qualified()];
        for (int row = 0; row < keys->size(); ++row) names.push_back(keys->str(row, 0));
    }
    auto pub = owner_.exec("SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1",
                           {options_.publication});
    if (!pub) return pub.err();
    auto exists = owner_.exec("SELECT 1 FROM pg_publication WHERE pubname = $1", {options_.publication});
    if (!exists) return exists.err();
    std::vector<std::string> missing;
    for (const auto& t : options_.tables) {
        bool covered = false;
        for (int row = 0; row < pub->size(); ++row) covered |= t.qualified() == pub->text(row, 0);
        if (!covered) missing.push_back(pg::quote_qualified(t.schema, t.name));
    }
    if (missing.empty()) return {};
    if (!options_.create_publication) {
        return make_error(errc::invalid_argument, "publication {} does not publish {} and cdc.create_publication is false",
                          options_.publication, missing.front());
    }
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    std::string sql = exists->empty()
                          ? fmt::format("CREATE PUBLICATION {} FOR TABLE {}", pg::quote_ident(options_.publication), list)
                          : fmt::format("ALTER PUBLICATION {} ADD TABLE {}", pg::quote_ident(options_.publication), list);
    if (auto done = owner_.run(sql); !done) return done;
    k_log.info("publication {}: {}", options_.publication, sql);
    return {};
}

// ---- the snapshot marker ------------------------------------------------------

// Before PostgreSQL held it, the snapshot marker was a file per instance;
// still read so that an upgraded instance does not snapshot again.
std::string replication::legacy_snapshot_marker() const { return data_dir_ + "/snapshot-done." + options_.slot; }

std::string replication::state_table() const { return pg::quote_ident(options_.state_schema) + ".snapshots"; }

// The marker "the initial snapshot of this slot is in Kafka" lives in
// PostgreSQL next to the slot, so that any instance taking the slot over
// resumes it instead of snapshotting again (docs/ha.md).
status replication::ensure_state_table() {
    // Asked first: CREATE ... IF NOT EXISTS would print a NOTICE on every session.
    auto found = owner_.exec("SELECT to_regclass($1) IS NOT NULL", {state_table()});
    if (found && found->boolean(0, 0)) return {};
    auto r = owner_.run(fmt::format("CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {} ("
                                    "slot text PRIMARY KEY, consistent_at pg_lsn NOT NULL, rows bigint NOT NULL, "
                                    "completed_at timestamptz NOT NULL DEFAULT now(), completed_by text NOT NULL)",
                                    pg::quote_ident(options_.state_schema), state_table()));
    if (!r) return r.err().with_context(fmt::format("cdc.state_schema {}", options_.state_schema));
    return {};
}

result<bool> replication::snapshot_recorded() {
    auto r = owner_.exec(fmt::format("SELECT consistent_at FROM {} WHERE slot = $1", state_table()), {options_.slot});
    if (!r) return r.err();
    return !r->empty();
}

status replication::record_snapshot(lsn point, uint64_t rows) {
    return owner_.run(fmt::format("INSERT INTO {} (slot, consistent_at, rows, completed_by) VALUES ($1, $2::pg_lsn, $3, $4) "
                                  "ON CONFLICT (slot) DO UPDATE SET consistent_at = EXCLUDED.consistent_at, "
                                  "rows = EXCLUDED.rows, completed_at = now(), completed_by = EXCLUDED.completed_by",
                                  state_table()),
                      {options_.slot, point.to_string(), std::to_string(rows), instance_});
}

// Upgrade: the marker file of an older version says the snapshot completed.
// Recorded in PostgreSQL, then removed (durably: the directory is synced), so
// that the table is the one place that says it.
status replication::migrate_legacy_marker(lsn fallback) {
    auto text = read_file(fs_, legacy_snapshot_marker());
    if (!text) return text.err().with_context("reading the snapshot marker of an older version");
    auto point = lsn::parse(trimmed(*text));
    if (auto st = record_snapshot(point ? *point : fallback, 0); !st) return st;
    k_log.info("replication slot {}: snapshot marker {} recorded in {}", options_.slot, legacy_snapshot_marker(),
               state_table());
    return remove_legacy_marker();
}

status replication::remove_legacy_marker() {
    if (!fs_.exists(legacy_snapshot_marker())) return {};
    if (auto st = fs_.remove(legacy_snapshot_marker()); !st) return st;
    return fs_.sync_dir(data_dir_);
}

// ---- the slot and the initial snapshot --------------------------------------------

status replication::connect_stream() {
    streaming_ = false;
    return repl_.connect();
}

status replication::ensure_slot(lsn& start_at, bool& resumed,
                                const std::function<result<uint64_t>(const std::string&, lsn)>& take_snapshot) {
    resumed = false;
    auto slot = owner_.exec("SELECT plugin, confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1",
                            {options_.slot});
    if (!slot) return slot.err();
    bool exists = !slot->empty();
    if (auto st = ensure_state_table(); !st) return st;
    if (exists) {
        std::string plugin = slot->str(0, 0);
        if (plugin != "pgoutput") {
            return make_error(errc::invalid_argument, "replication slot '{}' uses plugin {}, not pgoutput; drop it "
                              "or choose another cdc.slot", options_.slot, plugin);
        }
        if (!slot->is_null(0, 1)) {
            auto confirmed = lsn::parse(slot->text(0, 1));
            if (confirmed && *confirmed > start_at) start_at = *confirmed;
        }
        auto recorded = snapshot_recorded();
        if (!recorded) return recorded.err();
        bool legacy = fs_.exists(legacy_snapshot_marker());
        if (!options_.snapshot || *recorded || legacy) {
            if (options_.snapshot && !*recorded) {
                if (auto st = migrate_legacy_marker(start_at); !st) return st;
            }
            resumed = true;
            return {};
        }
        // The slot was created but its snapshot never completed (killed
        // mid-snapshot): nothing after it was confirmed, so start over.
        k_log.warn("replication slot {} exists but its initial snapshot did not complete (no row in {}): "
                   "dropping and recreating it", options_.slot, state_table());
        if (auto dropped = repl_.run(fmt::format("DROP_REPLICATION_SLOT {} WAIT", pg::quote_ident(options_.slot))); !dropped) {
            return dropped;
        }
    }
    // A new slot: whatever was recorded belonged to an older one.
    if (auto cleared = owner_.run(fmt::format("DELETE FROM {} WHERE slot = $1", state_table()), {options_.slot}); !cleared) {
        return cleared;
    }
    if (auto st = remove_legacy_marker(); !st) k_log.warn("{}", st.err().message());
    auto created = repl_.exec(fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT '{}')",
                                          pg::quote_ident(options_.slot), options_.snapshot ? "export" : "nothing"));
    if (!created) return created.err();
    auto point = lsn::parse(created->text(0, 1));
    if (!point) return point.err();
    std::string snapshot_name = created->is_null(0, 2) ? "" : created->str(0, 2);
    k_log.info("created replication slot {} at {}", options_.slot, point->to_string());
    start_at = *point;
    if (!options_.snapshot) return {};
    auto rows = take_snapshot(snapshot_name, *point);
    if (!rows) return rows.err();
    return record_snapshot(*point, *rows);
}

result<uint64_t> replication::read_snapshot(const std::string& snapshot_name, snapshot_sink& sink) {
    if (auto r = owner_.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) return r.err();
    if (auto r = owner_.run("SET TRANSACTION SNAPSHOT " + pg::quote_literal(snapshot_name)); !r) return r.err();
    uint64_t rows = 0;
    for (const auto& t : options_.tables) {
        if (auto r = owner_.run("DECLARE millrace_snapshot NO SCROLL CURSOR FOR SELECT * FROM " +
                                pg::quote_qualified(t.schema, t.name));
            !r) {
            return r.err();
        }
        relation rel;
        std::string fetch = fmt::format("FETCH {} FROM millrace_snapshot", options_.snapshot_fetch);
        bool described = false;
        while (sink.running()) {
            if (auto st = sink.before_fetch(); !st) return st.err();
            auto batch = owner_.exec(fetch);
            if (!batch) return batch.err();
            if (!described) {
                for (int col = 0; col < batch->columns(); ++col) {
                    column c{std::string(batch->column_name(col)), batch->column_type(col), false,
                             batch->column_modifier(col)};
                    for (const auto& k : primary_key(t.qualified())) c.key |= k == c.name;
                    rel.columns.push_back(std::move(c));
                }
                sink.described(t, rel);
                described = true;
            }
            int count = batch->size();
            if (count == 0) break;
            for (int row = 0; row < count && sink.running(); ++row) {
                tuple_data tuple(rel.columns.size());
                for (size_t col = 0; col < rel.columns.size(); ++col) {
                    int c = static_cast<int>(col);
                    if (batch->is_null(row, c)) continue;
                    tuple[col].k = tuple_value::kind::text;
                    tuple[col].text.assign(batch->text(row, c));
                }
                if (auto st = sink.row(rel, tuple); !st) return st.err();
                ++rows;
            }
            if (auto st = sink.after_fetch(); !st) return st.err();
        }
        if (auto r = owner_.run("CLOSE millrace_snapshot"); !r) return r.err();
    }
    if (auto r = owner_.run("COMMIT"); !r) return r.err();
    return rows;
}

// ---- the stream ---------------------------------------------------------------------

status replication::start_streaming(lsn start_at) {
    std::string sql = fmt::format("START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names {})",
                                  pg::quote_ident(options_.slot), start_at.to_string(),
                                  pg::quote_literal(pg::quote_ident(options_.publication)));
    if (auto res = repl_.run(sql); !res) {
        if (repl_.last_sqlstate() == "55006") {
            return make_error(errc::unavailable, "replication slot '{}' is in use by another connection: {}", options_.slot,
                              res.err().message());
        }
        return res;
    }
    streaming_ = true;
    return {};
}

result<std::optional<pg::copy_chunk>> replication::read(std::chrono::milliseconds wait) { return repl_.read_copy(wait); }

status replication::send_status(lsn written, lsn flushed, int64_t now_unix_us) {
    std::string update = encode_status_update(written, flushed, flushed, now_unix_us - k_pg_epoch_offset_us, false);
    if (auto st = repl_.write_copy(update); !st) return st.err().with_context("sending a standby status update");
    return {};
}

void replication::end_stream(bool say_goodbye) {
    if (say_goodbye && streaming_ && repl_.alive()) repl_.end_copy();
    streaming_ = false;
    repl_.close();
}

}  // namespace millrace::cdc
