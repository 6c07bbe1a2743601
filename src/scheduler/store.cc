#include "store.h"

#include <cstring>
#include <functional>

#include <libpq-fe.h>

#include "millrace/scheduler/time_zone.h"

namespace millrace::scheduler {
namespace {

std::string opt_ms(const std::optional<int64_t>& ms) { return ms ? std::to_string(*ms) : std::string(); }

std::optional<int64_t> get_ms(PGresult* res, int row, int col) {
    if (PQgetisnull(res, row, col)) return std::nullopt;
    return std::stoll(PQgetvalue(res, row, col));
}

// Timestamps cross the wire as epoch milliseconds, so no text parsing either way.
constexpr const char* k_ms_in = "to_timestamp(${}::bigint / 1000.0)";
std::string ms_param(int idx) { return fmt::format(fmt::runtime(k_ms_in), idx); }
std::string ms_out(const char* column) {
    return fmt::format("(extract(epoch from {}) * 1000)::bigint", column);
}

}  // namespace

std::string_view to_string(ti_state state) {
    switch (state) {
        case ti_state::none: return "none";
        case ti_state::scheduled: return "scheduled";
        case ti_state::queued: return "queued";
        case ti_state::running: return "running";
        case ti_state::success: return "success";
        case ti_state::failed: return "failed";
        case ti_state::up_for_retry: return "up_for_retry";
        case ti_state::upstream_failed: return "upstream_failed";
        case ti_state::skipped: return "skipped";
    }
    return "none";
}

std::string_view to_string(run_state state) {
    switch (state) {
        case run_state::queued: return "queued";
        case run_state::running: return "running";
        case run_state::success: return "success";
        case run_state::failed: return "failed";
    }
    return "queued";
}

std::optional<ti_state> parse_ti_state(std::string_view text) {
    for (int v = 0; v <= static_cast<int>(ti_state::skipped); ++v) {
        if (to_string(static_cast<ti_state>(v)) == text) return static_cast<ti_state>(v);
    }
    return std::nullopt;
}

std::optional<run_state> parse_run_state(std::string_view text) {
    for (int v = 0; v <= static_cast<int>(run_state::failed); ++v) {
        if (to_string(static_cast<run_state>(v)) == text) return static_cast<run_state>(v);
    }
    return std::nullopt;
}

ti_state mapped_summary(const std::vector<task_instance>& instances) {
    bool all_done = true, failed = false, up_failed = false, success = false, running = false, queued = false, retry = false;
    for (const auto& ti : instances) {
        all_done = all_done && finished(ti.state);
        failed = failed || ti.state == ti_state::failed;
        up_failed = up_failed || ti.state == ti_state::upstream_failed;
        success = success || ti.state == ti_state::success;
        running = running || ti.state == ti_state::running;
        queued = queued || ti.state == ti_state::queued;
        retry = retry || ti.state == ti_state::up_for_retry;
    }
    if (!all_done) {
        return running ? ti_state::running : queued ? ti_state::queued : retry ? ti_state::up_for_retry : ti_state::none;
    }
    return failed ? ti_state::failed : up_failed ? ti_state::upstream_failed : success ? ti_state::success : ti_state::skipped;
}

task_instance* find_ti(std::map<std::string, task_instance>& tasks, const std::string& task_id, int map_index) {
    auto it = tasks.find(task_id);
    if (it == tasks.end()) return nullptr;
    if (map_index < -1) return nullptr;
    if (map_index < 0) return &it->second;
    auto& instances = it->second.instances;
    return static_cast<size_t>(map_index) < instances.size() ? &instances[map_index] : nullptr;
}

const task_instance* find_ti(const std::map<std::string, task_instance>& tasks, const std::string& task_id, int map_index) {
    return find_ti(const_cast<std::map<std::string, task_instance>&>(tasks), task_id, map_index);
}

std::string format_ms(int64_t ms) {
    int64_t seconds = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    std::string iso = format_iso(seconds);
    return fmt::format("{}.{:03}{}", iso.substr(0, 19), ms - seconds * 1000, iso.substr(19));
}

store::store(std::string dsn, std::string schema) : dsn_(std::move(dsn)), schema_(std::move(schema)) {}

store::~store() {
    if (conn_ != nullptr) PQfinish(conn_);
}

error store::failure(std::string_view what, PGresult* res) {
    std::string message = res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    const char* sqlstate = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    errc code = errc::io_error;
    if (PQstatus(conn_) != CONNECTION_OK) {
        code = errc::unavailable;
        PQfinish(conn_);
        conn_ = nullptr;
    } else if (sqlstate != nullptr && std::strcmp(sqlstate, "23505") == 0) {
        code = errc::already_exists;
    }
    return make_error(code, "scheduler metadata: {}: {}", what, message);
}

status store::connect() {
    if (conn_ != nullptr) return {};
    conn_ = PQconnectdb(dsn_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
        std::string message = PQerrorMessage(conn_);
        while (!message.empty() && message.back() == '\n') message.pop_back();
        PQfinish(conn_);
        conn_ = nullptr;
        return make_error(errc::unavailable, "scheduler metadata: cannot connect to PostgreSQL: {}", message);
    }
    // State transitions are many small transactions; losing the last few
    // milliseconds of them in a crash of PostgreSQL itself is recovered like a
    // scheduler crash (running tries are retried or failed), so skip the fsync wait.
    PGresult* res = PQexec(conn_, "SET synchronous_commit = off; SET client_min_messages = warning");
    PQclear(res);
    return {};
}

result<PGresult*> store::exec(const char* what, const std::string& sql, const std::vector<std::string>& params,
                              bool expect_rows) {
    if (auto st = connect(); !st) return st.err();
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.empty() ? nullptr : p.c_str());
    PGresult* res = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                                 nullptr, 0);
    auto code = PQresultStatus(res);
    if (code != (expect_rows ? PGRES_TUPLES_OK : PGRES_COMMAND_OK)) {
        error err = failure(what, res);
        PQclear(res);
        return err;
    }
    return res;
}

status store::migrate() {
    const std::string s = schema_;
    std::string sql = fmt::format(R"sql(
CREATE SCHEMA IF NOT EXISTS {0};
CREATE TABLE IF NOT EXISTS {0}.dag (
  dag_id text PRIMARY KEY, is_paused boolean NOT NULL, fileloc text, last_parsed_time timestamptz,
  next_dagrun timestamptz);
CREATE TABLE IF NOT EXISTS {0}.dag_run (
  dag_id text NOT NULL, run_id text NOT NULL, run_type text NOT NULL, logical_date timestamptz NOT NULL,
  data_interval_start timestamptz, data_interval_end timestamptz, state text NOT NULL, conf text NOT NULL,
  queued_at timestamptz, start_date timestamptz, end_date timestamptz, note text,
  PRIMARY KEY (dag_id, run_id), UNIQUE (dag_id, logical_date));
CREATE TABLE IF NOT EXISTS {0}.task_instance (
  dag_id text NOT NULL, run_id text NOT NULL, task_id text NOT NULL, state text NOT NULL,
  try_number int NOT NULL, max_tries int NOT NULL, start_date timestamptz, end_date timestamptz,
  next_retry_at timestamptz, hostname text, pid int, log_path text, note text,
  PRIMARY KEY (dag_id, run_id, task_id));
CREATE TABLE IF NOT EXISTS {0}.task_event (
  id bigserial PRIMARY KEY, dag_id text NOT NULL, run_id text NOT NULL, task_id text NOT NULL,
  try_number int NOT NULL, state text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp(),
  log_path text, detail text);
CREATE TABLE IF NOT EXISTS {0}.xcom (
  dag_id text NOT NULL, run_id text NOT NULL, task_id text NOT NULL, key text NOT NULL, value jsonb NOT NULL,
  timestamp timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (dag_id, run_id, task_id, key));
CREATE TABLE IF NOT EXISTS {0}.variable (key text PRIMARY KEY, val text NOT NULL, description text);
CREATE TABLE IF NOT EXISTS {0}.connection (conn_id text PRIMARY KEY, uri text NOT NULL);
-- Dynamic task mapping: map_index (-1: not a mapped instance) in the keys of task
-- instances and XComs. Applied to new and existing databases alike.
ALTER TABLE {0}.task_instance ADD COLUMN IF NOT EXISTS map_index int NOT NULL DEFAULT -1;
ALTER TABLE {0}.task_event ADD COLUMN IF NOT EXISTS map_index int NOT NULL DEFAULT -1;
ALTER TABLE {0}.xcom ADD COLUMN IF NOT EXISTS map_index int NOT NULL DEFAULT -1;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                 WHERE c.conrelid = '{0}.task_instance'::regclass AND c.contype = 'p' AND a.attname = 'map_index') THEN
    ALTER TABLE {0}.task_instance DROP CONSTRAINT task_instance_pkey, ADD PRIMARY KEY (dag_id, run_id, task_id, map_index);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                 WHERE c.conrelid = '{0}.xcom'::regclass AND c.contype = 'p' AND a.attname = 'map_index') THEN
    ALTER TABLE {0}.xcom DROP CONSTRAINT xcom_pkey, ADD PRIMARY KEY (dag_id, run_id, task_id, map_index, key);
  END IF;
END $$;
-- Each ended try of a task instance: its outcome and its rendered template fields
-- (Airflow keeps only the latest rendering, in rendered_task_instance_fields; we keep
-- every try's). Created in new and existing databases alike.
CREATE TABLE IF NOT EXISTS {0}.task_instance_try (
  dag_id text NOT NULL, run_id text NOT NULL, task_id text NOT NULL, map_index int NOT NULL DEFAULT -1,
  try_number int NOT NULL, state text NOT NULL, start_date timestamptz, end_date timestamptz, hostname text,
  rendered_fields jsonb NOT NULL DEFAULT '{{}}',
  PRIMARY KEY (dag_id, run_id, task_id, map_index, try_number));
)sql", s);
    // Two schedulers starting together must not race on CREATE: serialize with a transaction-level lock.
    if (auto st = connect(); !st) return st;
    std::string script = "BEGIN; SELECT pg_advisory_xact_lock(hashtext('millrace_scheduler_ddl')); " + sql + " COMMIT;";
    PGresult* res = PQexec(conn_, script.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        error err = failure("creating the schema", res);
        PQclear(res);
        if (conn_ != nullptr) PQclear(PQexec(conn_, "ROLLBACK"));
        return err;
    }
    PQclear(res);
    return {};
}

result<bool> store::try_lock() {
    auto res = exec("taking the scheduler lock", "SELECT pg_try_advisory_lock(hashtext($1))", {"millrace_scheduler:" + schema_},
                    true);
    if (!res) return res.err();
    bool locked = std::strcmp(PQgetvalue(*res, 0, 0), "t") == 0;
    PQclear(*res);
    return locked;
}

status store::ping() {
    auto res = exec("ping", "SELECT 1", {}, true);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

result<bool> store::register_dag(const std::string& dag_id, bool paused_if_new, const std::string& fileloc) {
    auto res = exec("registering a DAG",
                    fmt::format("INSERT INTO {}.dag (dag_id, is_paused, fileloc, last_parsed_time) VALUES ($1, $2, $3, now()) "
                                "ON CONFLICT (dag_id) DO UPDATE SET fileloc = $3, last_parsed_time = now() RETURNING is_paused",
                                schema_),
                    {dag_id, paused_if_new ? "true" : "false", fileloc}, true);
    if (!res) return res.err();
    bool paused = std::strcmp(PQgetvalue(*res, 0, 0), "t") == 0;
    PQclear(*res);
    return paused;
}

status store::set_paused(const std::string& dag_id, bool paused) {
    auto res = exec("pausing a DAG", fmt::format("UPDATE {}.dag SET is_paused = $2 WHERE dag_id = $1", schema_),
                    {dag_id, paused ? "true" : "false"}, false);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

status store::set_next_dagrun(const std::string& dag_id, std::optional<int64_t> next) {
    auto res = exec("storing next_dagrun",
                    fmt::format("UPDATE {}.dag SET next_dagrun = {} WHERE dag_id = $1", schema_, ms_param(2)),
                    {dag_id, next ? std::to_string(*next * 1000) : std::string()}, false);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

status store::insert_run(const dag_run& run) {
    auto res = exec("creating a DAG run",
                    fmt::format("INSERT INTO {}.dag_run (dag_id, run_id, run_type, logical_date, data_interval_start, "
                                "data_interval_end, state, conf, queued_at, note) VALUES ($1, $2, $3, {}, {}, {}, $7, $8, {}, $10)",
                                schema_, ms_param(4), ms_param(5), ms_param(6), ms_param(9)),
                    {run.dag_id, run.run_id, run.run_type, std::to_string(run.logical_date * 1000),
                     std::to_string(run.data_interval_start * 1000), std::to_string(run.data_interval_end * 1000),
                     std::string(to_string(run.state)), run.conf, std::to_string(run.queued_ms), run.note},
                    false);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

status store::update_run(const dag_run& run) {
    auto res = exec("updating a DAG run",
                    fmt::format("UPDATE {}.dag_run SET state = $3, start_date = {}, end_date = {} WHERE dag_id = $1 AND "
                                "run_id = $2", schema_, ms_param(4), ms_param(5)),
                    {run.dag_id, run.run_id, std::string(to_string(run.state)), opt_ms(run.start_ms), opt_ms(run.end_ms)},
                    false);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

status store::record_ti(const dag_run& run, const task_instance& ti, const std::string& detail) {
    std::string sql = fmt::format(
        "WITH upsert AS (INSERT INTO {0}.task_instance (dag_id, run_id, task_id, map_index, state, try_number, max_tries, "
        "start_date, end_date, next_retry_at, hostname, pid, log_path, note) VALUES ($1, $2, $3, $15, $4, $5, $6, {1}, {2}, {3}, "
        "$10, $11, $12, $13) ON CONFLICT (dag_id, run_id, task_id, map_index) DO UPDATE SET state = $4, try_number = $5, "
        "max_tries = $6, start_date = {1}, end_date = {2}, next_retry_at = {3}, hostname = $10, pid = $11, log_path = $12, "
        "note = $13) "
        "INSERT INTO {0}.task_event (dag_id, run_id, task_id, map_index, try_number, state, log_path, detail) "
        "VALUES ($1, $2, $3, $15, $5, $4, $12, $14)",
        schema_, ms_param(7), ms_param(8), ms_param(9));
    auto res = exec("recording a task state", sql,
                    {run.dag_id, run.run_id, ti.task_id, std::string(to_string(ti.state)), std::to_string(ti.try_number),
                     std::to_string(ti.max_tries), opt_ms(ti.start_ms), opt_ms(ti.end_ms), opt_ms(ti.next_retry_ms),
                     ti.hostname, ti.pid != 0 ? std::to_string(ti.pid) : std::string(), ti.log_path, ti.note, detail,
                     std::to_string(ti.map_index)},
                    false);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

status store::set_pid(const dag_run& run, const std::string& task_id, int map_index, int try_number, int pid) {
    auto res = exec("recording a task's pid",
                    fmt::format("UPDATE {}.task_instance SET pid = $4 WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 "
                                "AND try_number = $5 AND map_index = $6", schema_),
                    {run.dag_id, run.run_id, task_id, std::to_string(pid), std::to_string(try_number),
                     std::to_string(map_index)}, false);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

result<std::vector<std::pair<std::string, bool>>> store::load_paused() {
    auto res = exec("reading DAGs", fmt::format("SELECT dag_id, is_paused FROM {}.dag", schema_), {}, true);
    if (!res) return res.err();
    std::vector<std::pair<std::string, bool>> out;
    for (int row = 0; row < PQntuples(*res); ++row) {
        out.emplace_back(PQgetvalue(*res, row, 0), std::strcmp(PQgetvalue(*res, row, 1), "t") == 0);
    }
    PQclear(*res);
    return out;
}

result<std::map<std::string, int64_t>> store::last_scheduled() {
    auto res = exec("reading the last scheduled runs",
                    fmt::format("SELECT dag_id, {} FROM {}.dag_run WHERE run_type = 'scheduled' GROUP BY dag_id",
                                ms_out("max(logical_date)"), schema_),
                    {}, true);
    if (!res) return res.err();
    std::map<std::string, int64_t> out;
    for (int row = 0; row < PQntuples(*res); ++row) out[PQgetvalue(*res, row, 0)] = std::stoll(PQgetvalue(*res, row, 1)) / 1000;
    PQclear(*res);
    return out;
}

result<std::vector<dag_run>> store::load_runs(int recent) {
    std::string runs_sql = fmt::format(
        "SELECT dag_id, run_id, run_type, {}, {}, {}, state, conf, {}, {}, {}, coalesce(note, '') FROM ("
        "SELECT *, row_number() OVER (PARTITION BY dag_id ORDER BY logical_date DESC) AS rn FROM {}.dag_run) r "
        "WHERE rn <= $1 OR state IN ('queued', 'running') ORDER BY dag_id, logical_date",
        ms_out("logical_date"), ms_out("data_interval_start"), ms_out("data_interval_end"), ms_out("queued_at"),
        ms_out("start_date"), ms_out("end_date"), schema_);
    auto res = exec("reading DAG runs", runs_sql, {std::to_string(recent)}, true);
    if (!res) return res.err();
    std::vector<dag_run> runs;
    std::map<std::pair<std::string, std::string>, size_t> index;
    for (int row = 0; row < PQntuples(*res); ++row) {
        dag_run run;
        run.dag_id = PQgetvalue(*res, row, 0);
        run.run_id = PQgetvalue(*res, row, 1);
        run.run_type = PQgetvalue(*res, row, 2);
        run.logical_date = get_ms(*res, row, 3).value_or(0) / 1000;
        run.data_interval_start = get_ms(*res, row, 4).value_or(0) / 1000;
        run.data_interval_end = get_ms(*res, row, 5).value_or(0) / 1000;
        run.state = parse_run_state(PQgetvalue(*res, row, 6)).value_or(run_state::failed);
        run.conf = PQgetvalue(*res, row, 7);
        run.queued_ms = get_ms(*res, row, 8).value_or(0);
        run.start_ms = get_ms(*res, row, 9);
        run.end_ms = get_ms(*res, row, 10);
        run.note = PQgetvalue(*res, row, 11);
        index[{run.dag_id, run.run_id}] = runs.size();
        runs.push_back(std::move(run));
    }
    PQclear(*res);
    auto tis = exec("reading task instances",
                    fmt::format("SELECT dag_id, run_id, task_id, state, try_number, max_tries, {}, {}, {}, "
                                "coalesce(hostname, ''), coalesce(pid, 0), coalesce(log_path, ''), coalesce(note, ''), map_index "
                                "FROM {}.task_instance ORDER BY map_index",
                                ms_out("start_date"), ms_out("end_date"), ms_out("next_retry_at"), schema_),
                    {}, true);
    if (!tis) return tis.err();
    for (int row = 0; row < PQntuples(*tis); ++row) {
        auto it = index.find({PQgetvalue(*tis, row, 0), PQgetvalue(*tis, row, 1)});
        if (it == index.end()) continue;
        task_instance ti;
        ti.task_id = PQgetvalue(*tis, row, 2);
        ti.state = parse_ti_state(PQgetvalue(*tis, row, 3)).value_or(ti_state::none);
        ti.try_number = std::atoi(PQgetvalue(*tis, row, 4));
        ti.max_tries = std::atoi(PQgetvalue(*tis, row, 5));
        ti.start_ms = get_ms(*tis, row, 6);
        ti.end_ms = get_ms(*tis, row, 7);
        ti.next_retry_ms = get_ms(*tis, row, 8);
        ti.hostname = PQgetvalue(*tis, row, 9);
        ti.pid = std::atoi(PQgetvalue(*tis, row, 10));
        ti.log_path = PQgetvalue(*tis, row, 11);
        ti.note = PQgetvalue(*tis, row, 12);
        ti.map_index = std::atoi(PQgetvalue(*tis, row, 13));
        auto& tasks = runs[it->second].tasks;
        if (ti.map_index < 0) {
            auto instances = std::move(tasks[ti.task_id].instances);  // rows come map_index -1 first
            tasks[ti.task_id] = ti;
            tasks[ti.task_id].instances = std::move(instances);
        } else {
            // A mapped instance; indexes 0..n-1 are all written at the expansion.
            auto& parent = tasks[ti.task_id];
            parent.task_id = ti.task_id;
            if (parent.instances.size() <= static_cast<size_t>(ti.map_index)) parent.instances.resize(ti.map_index + 1);
            parent.instances[ti.map_index] = ti;
        }
    }
    PQclear(*tis);
    for (auto& run : runs) {
        for (auto& [task_id, ti] : run.tasks) {
            // An index whose row was never written (a crash during the expansion) is scheduled anew.
            for (size_t index = 0; index < ti.instances.size(); ++index) {
                ti.instances[index].task_id = task_id;
                ti.instances[index].map_index = static_cast<int>(index);
            }
            if (!ti.instances.empty()) ti.state = mapped_summary(ti.instances);
        }
    }
    auto xcoms = exec("reading XComs",
                      fmt::format("SELECT dag_id, run_id, task_id, key, value::text, map_index FROM {}.xcom", schema_), {}, true);
    if (!xcoms) return xcoms.err();
    for (int row = 0; row < PQntuples(*xcoms); ++row) {
        auto it = index.find({PQgetvalue(*xcoms, row, 0), PQgetvalue(*xcoms, row, 1)});
        if (it == index.end()) continue;
        task_instance* ti = find_ti(runs[it->second].tasks, PQgetvalue(*xcoms, row, 2), std::atoi(PQgetvalue(*xcoms, row, 5)));
        if (ti != nullptr) ti->xcoms[PQgetvalue(*xcoms, row, 3)] = PQgetvalue(*xcoms, row, 4);
    }
    PQclear(*xcoms);
    // Only the loaded runs' tries: the table grows by one row per try of every run ever.
    auto tries = exec("reading tries",
                      fmt::format("SELECT t.dag_id, t.run_id, t.task_id, t.map_index, t.try_number, t.state, {0}, {1}, "
                                  "coalesce(t.hostname, ''), t.rendered_fields::text FROM {2}.task_instance_try t JOIN ("
                                  "SELECT dag_id, run_id FROM (SELECT dag_id, run_id, state, row_number() OVER (PARTITION BY "
                                  "dag_id ORDER BY logical_date DESC) AS rn FROM {2}.dag_run) r WHERE rn <= $1 OR state IN "
                                  "('queued', 'running')) loaded USING (dag_id, run_id)",
                                  ms_out("t.start_date"), ms_out("t.end_date"), schema_),
                      {std::to_string(recent)}, true);
    if (!tries) return tries.err();
    for (int row = 0; row < PQntuples(*tries); ++row) {
        auto it = index.find({PQgetvalue(*tries, row, 0), PQgetvalue(*tries, row, 1)});
        if (it == index.end()) continue;
        task_instance* ti = find_ti(runs[it->second].tasks, PQgetvalue(*tries, row, 2), std::atoi(PQgetvalue(*tries, row, 3)));
        if (ti == nullptr) continue;
        try_record tr;
        tr.state = parse_ti_state(PQgetvalue(*tries, row, 5)).value_or(ti_state::failed);
        tr.start_ms = get_ms(*tries, row, 6);
        tr.end_ms = get_ms(*tries, row, 7);
        tr.hostname = PQgetvalue(*tries, row, 8);
        tr.rendered_fields = PQgetvalue(*tries, row, 9);
        ti->tries[std::atoi(PQgetvalue(*tries, row, 4))] = std::move(tr);
    }
    PQclear(*tries);
    return runs;
}

status store::set_xcoms(const std::string& dag_id, const std::string& run_id, const std::string& task_id, int map_index,
                        const std::map<std::string, std::string>& xcoms) {
    auto res = exec("clearing XComs",
                    fmt::format("DELETE FROM {}.xcom WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 AND map_index = $4", schema_),
                    {dag_id, run_id, task_id, std::to_string(map_index)}, false);
    if (!res) return res.err();
    PQclear(*res);
    for (const auto& [key, value] : xcoms) {
        auto ins = exec("storing an XCom",
                        fmt::format("INSERT INTO {}.xcom (dag_id, run_id, task_id, key, value, map_index) VALUES ($1, $2, $3, $4, "
                                    "$5::jsonb, $6) ON CONFLICT (dag_id, run_id, task_id, map_index, key) DO UPDATE SET "
                                    "value = $5::jsonb, timestamp = now()",
                                    schema_),
                        {dag_id, run_id, task_id, key, value, std::to_string(map_index)}, false);
        if (!ins) return ins.err();
        PQclear(*ins);
    }
    return {};
}

status store::record_try(const std::string& dag_id, const std::string& run_id, const std::string& task_id, int map_index,
                         int try_number, const try_record& tr) {
    auto res = exec("storing a try's rendered fields",
                    fmt::format("INSERT INTO {0}.task_instance_try (dag_id, run_id, task_id, map_index, try_number, state, "
                                "start_date, end_date, hostname, rendered_fields) VALUES ($1, $2, $3, $4, $5, $6, {1}, {2}, $9, "
                                "$10::jsonb) ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO UPDATE SET "
                                "state = $6, start_date = {1}, end_date = {2}, hostname = $9, rendered_fields = $10::jsonb",
                                schema_, ms_param(7), ms_param(8)),
                    {dag_id, run_id, task_id, std::to_string(map_index), std::to_string(try_number),
                     std::string(to_string(tr.state)), opt_ms(tr.start_ms), opt_ms(tr.end_ms), tr.hostname,
                     tr.rendered_fields.empty() ? std::string("{}") : tr.rendered_fields},
                    false);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

status store::delete_instances(const std::string& dag_id, const std::string& run_id, const std::string& task_id) {
    for (const char* table : {"task_instance", "xcom", "task_instance_try"}) {
        auto res = exec("deleting mapped instances",
                        fmt::format("DELETE FROM {}.{} WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 AND map_index >= 0",
                                    schema_, table),
                        {dag_id, run_id, task_id}, false);
        if (!res) return res.err();
        PQclear(*res);
    }
    return {};
}

status store::set_variable(const std::string& key, const std::string& value, const std::string& description) {
    auto res = exec("storing a variable",
                    fmt::format("INSERT INTO {}.variable (key, val, description) VALUES ($1, $2, nullif($3, '')) "
                                "ON CONFLICT (key) DO UPDATE SET val = $2", schema_),
                    {key, value, description}, false);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

status store::set_connection(const std::string& conn_id, const std::string& uri) {
    auto res = exec("storing a connection",
                    fmt::format("INSERT INTO {}.connection (conn_id, uri) VALUES ($1, $2) ON CONFLICT (conn_id) DO UPDATE SET uri = $2",
                                schema_),
                    {conn_id, uri}, false);
    if (!res) return res.err();
    PQclear(*res);
    return {};
}

result<std::map<std::string, std::string>> store::load_pairs(const char* what, const std::string& table, const std::string& cols) {
    auto res = exec(what, fmt::format("SELECT {} FROM {}.{}", cols, schema_, table), {}, true);
    if (!res) return res.err();
    std::map<std::string, std::string> out;
    for (int row = 0; row < PQntuples(*res); ++row) out[PQgetvalue(*res, row, 0)] = PQgetvalue(*res, row, 1);
    PQclear(*res);
    return out;
}

result<std::map<std::string, std::string>> store::load_variables() { return load_pairs("reading variables", "variable", "key, val"); }
result<std::map<std::string, std::string>> store::load_connections() {
    return load_pairs("reading connections", "connection", "conn_id, uri");
}

}  // namespace millrace::scheduler
