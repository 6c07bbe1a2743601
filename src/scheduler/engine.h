// The scheduler proper: reads DAG files, creates DAG runs from schedules
// (with catchup, never twice for one logical date), queues task instances
// whose upstreams succeeded onto a bounded worker pool, applies retries with
// exponential backoff, and records every transition in PostgreSQL.
//
// Threads: one engine thread owns the PostgreSQL session (and the advisory
// lock that makes it the only scheduler of the database); `workers` threads
// run tries. The in-memory state is the API's source: readers take the mutex
// briefly and never wait on I/O, so the HTTP io thread is never blocked.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "executor.h"
#include "python_dags.h"
#include "millrace/common/clock.h"
#include "millrace/common/metrics.h"
#include "millrace/coordination/coordination.h"
#include "state.h"
#include "store.h"

namespace millrace::scheduler {

struct engine_options {
    std::string dags_dir = "./dags";
    std::string logs_dir;              // per-try log files
    std::string dsn;                   // metadata database
    std::string schema = "millrace_scheduler";
    int workers = 4;
    int64_t dag_scan_interval_ms = 2000;
    int recent_runs = 100;             // finished runs per DAG kept in memory
    bool wait_for_lock = true;         // else a second scheduler gives up
    // Elects the one scheduler of `schema` (lease "scheduler.<schema>"); nullptr:
    // PostgreSQL advisory locks on `dsn`, made by the engine.
    coordination::coordinator* coordinator = nullptr;
    int64_t dag_parse_timeout_ms = 30'000;  // a *.py DAG file's parse
    executor_env env;                  // env.python, env.python_dir also serve *.py parsing
};

// What the API reads, under engine::read().
struct engine_state {
    std::map<std::string, dag_entry> dags;
    std::map<std::string, std::vector<dag_run>> runs;  // by dag_id, ascending logical_date
    std::vector<import_error> import_errors;
    bool metadb_ok = false;
    bool lock_held = false;
    std::string lock_message;          // why the scheduler is not driving yet
    int64_t heartbeat_ms = 0;
    int64_t next_import_error_id = 1;
    std::map<std::string, std::string> variables;    // Airflow Variables (key → value)
    std::map<std::string, std::string> connections;  // conn_id → URI or JSON

    const dag_run* find_run(const std::string& dag_id, const std::string& run_id) const;
};

// A task instance an operation changed (or would, in a dry run).
struct changed_ti {
    std::string dag_id, run_id, task_id;
    int64_t logical_date = 0;
    ti_state state = ti_state::none;  // the state before
    int map_index = -1;
};

// Airflow's clearTaskInstances: which task instances go back to no state.
struct clear_request {
    std::optional<std::string> run_id;   // one run; else every run in [start_date, end_date]
    std::optional<int64_t> start_date, end_date;  // logical dates, UTC seconds, inclusive
    std::vector<std::string> task_ids;   // empty: every task
    // Airflow's [task_id, map_index] entries: only those instances of a mapped task.
    std::map<std::string, std::set<int>> map_indexes;
    bool include_downstream = false;
    bool include_upstream = false;
    bool only_failed = false;            // failed and upstream_failed only
    bool dry_run = false;
};

struct backfill_request {
    int64_t from = 0, to = 0;            // logical dates, UTC seconds, inclusive
    std::string conf = "{}";
    std::string reprocess = "none";      // none | failed | completed (Airflow 3's reprocess_behavior)
    bool dry_run = false;
};

struct backfill_item {
    int64_t logical_date = 0;
    std::string run_id;
    std::string action;  // create | rerun | skip (a run exists)
};

// What a task does given its upstreams' states and its trigger rule (Airflow's
// TriggerRuleDep): wait, run, or end skipped / upstream_failed right away.
enum class trigger_decision { wait, run, skip, upstream_failed };
trigger_decision evaluate_trigger_rule(const std::string& rule, const std::vector<ti_state>& upstream);

// The states a task's trigger rule weighs: each upstream's, each instance's of a mapped upstream.
std::vector<ti_state> upstream_states(const dag_run& run, const task_spec& task);

// What pulling XCom `key` of `task_id` gives in `run`: its value; for a mapped
// task, the list of its instances' values in map_index order. nullopt: none.
std::optional<nlohmann::json> pulled_xcom(const dag_run& run, const std::string& task_id, const std::string& key);

// Dynamic task mapping: the arguments of each instance of a mapped task (one
// JSON object each, in map_index order; a cartesian product over several
// mapped arguments, the last varying fastest, as Airflow). Errors: an XCom
// mapped over is missing or not a list/dict, more than 1024 instances.
result<std::vector<nlohmann::json>> expand_mapping(const task_spec& task, const dag_run& run);

// Whether `conf_json` (a JSON object) sets only params `dag` declares, each
// with a value of its declared type. The error names the param and the types.
status check_conf(const dag_spec& dag, const std::string& conf_json);

class engine {
public:
    engine(engine_options options, millrace::clock& clock, metrics::registry& metrics);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    void start();
    // Cancels running tries (their processes are killed), joins every thread.
    void stop();

    // Calls `f` with the state under the lock; `f` must be quick.
    template <typename F>
    auto read(F&& f) const {
        std::lock_guard lock(mutex_);
        return f(static_cast<const engine_state&>(state_));
    }

    // A manual run (Airflow's POST dagRuns). Validated against memory and
    // persisted by the engine thread. Errors: not_found (no DAG),
    // already_exists (run id or logical date taken), invalid_argument.
    result<dag_run> trigger(const std::string& dag_id, std::optional<std::string> run_id,
                            std::optional<int64_t> logical_date, std::string conf_json, std::string note);
    status set_paused(const std::string& dag_id, bool paused);
    // Airflow's Variable and Connection, for Python tasks (and the API, CLI).
    status set_variable(const std::string& key, const std::string& value);
    status set_connection(const std::string& conn_id, const std::string& uri);

    // Operating runs as in Airflow (operations.cc). Each validates against
    // memory, changes it and queues the metadata writes; dry_run changes nothing.
    // Errors: not_found (DAG, run or task), invalid_argument, already_exists
    // (a conflicting state, such as a task still running).
    result<std::vector<changed_ti>> clear(const std::string& dag_id, const clear_request& req);
    // Marks one task instance success or failed (with its downstream when
    // asked); a running try is stopped and its outcome ignored.
    result<std::vector<changed_ti>> set_task_state(const std::string& dag_id, const std::string& run_id,
                                                   const std::string& task_id, ti_state state, bool include_downstream,
                                                   bool dry_run, std::optional<int> map_index = std::nullopt);
    // success / failed: the run's unfinished task instances take that state
    // (failed: those not started are skipped, as Airflow does); queued: the run is cleared.
    result<dag_run> set_run_state(const std::string& dag_id, const std::string& run_id, run_state state);
    // Runs for every schedule tick with from <= logical date <= to (UTC seconds).
    result<std::vector<backfill_item>> backfill(const std::string& dag_id, const backfill_request& req);

    // Wakes the engine thread (tests after moving a manual clock).
    void poke();

private:
    struct write_op;
    struct completion {
        std::string dag_id, run_id, task_id;
        int map_index = -1;
        int try_number = 0;
        bool started = false;  // a worker took it (else it ended)
        int pid = 0;
        try_outcome outcome;
    };
    struct job {
        try_request request;
    };

    void loop();
    bool ensure_driving();
    void recover();
    void scan_dags(int64_t now_ms);
    void create_scheduled_runs(int64_t now_ms);
    void schedule_tasks(int64_t now_ms);
    void apply_completions();
    void flush_writes();
    void worker_loop();
    std::string log_path(const dag_run& run, const std::string& task_id, int map_index, int try_number) const;
    void record(const dag_run& run, const task_instance& ti, std::string detail);
    void update_run(const dag_run& run);

    engine_options options_;
    millrace::clock& clock_;
    store store_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    engine_state state_;
    std::deque<std::function<status(store&)>> writes_;  // engine thread only
    std::deque<completion> completions_;                 // under mutex_
    std::deque<job> jobs_;                               // under mutex_
    std::condition_variable job_ready_;
    std::map<std::string, int64_t> file_mtimes_;         // engine thread only
    std::map<std::string, std::vector<std::string>> file_dag_;  // file → its dag_ids
    python_options python_;                              // for *.py DAG files
    bool wake_flag_ = false;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> cancel_{false};
    // Leadership (engine thread): the lease, and whether workers may start tries.
    void step_down(const std::string& why);
    std::unique_ptr<coordination::coordinator> own_coordinator_;
    std::unique_ptr<coordination::lease> lease_;
    std::atomic<bool> leading_{false};
    std::atomic<int> active_tries_{0};
    std::thread thread_;
    std::vector<std::thread> workers_;
    int64_t last_scan_ms_ = 0;
    metrics::counter& tries_started_;
    metrics::counter& tries_failed_;
    metrics::histogram& latency_;
    metrics::gauge& running_;
};

}  // namespace millrace::scheduler
