// The scheduler's metadata in PostgreSQL, schema `scheduler.schema`
// (default millrace_scheduler): dag, dag_run, task_instance and task_event
// (every state transition with its time, try number and log path), xcom,
// task_instance_try (each ended try's outcome and rendered template fields),
// variable and connection.
//
// Not thread-safe: the engine thread owns it. Errors name the statement's
// purpose and the server's message; a lost connection is `unavailable` and
// the next call reconnects (which drops the advisory lock: call lock() again).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "millrace/common/result.h"
#include "state.h"

struct pg_conn;
struct pg_result;

namespace millrace::scheduler {

class store {
public:
    store(std::string dsn, std::string schema);
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    status connect();
    bool connected() const { return conn_ != nullptr; }
    status migrate();
    // pg_try_advisory_lock on a key derived from the schema: true when this
    // session now drives the database, false when another scheduler does.
    result<bool> try_lock();

    // Inserts the DAG when new (paused per `paused_if_new`); returns is_paused.
    result<bool> register_dag(const std::string& dag_id, bool paused_if_new, const std::string& fileloc);
    status set_paused(const std::string& dag_id, bool paused);
    status set_next_dagrun(const std::string& dag_id, std::optional<int64_t> next);
    // already_exists when (dag_id, run_id) or (dag_id, logical_date) is taken.
    status insert_run(const dag_run& run);
    status update_run(const dag_run& run);
    // Writes the task instance and appends a task_event for its state.
    status record_ti(const dag_run& run, const task_instance& ti, const std::string& detail);
    // The process id of a running try (no task_event: not a state change).
    status set_pid(const dag_run& run, const std::string& task_id, int map_index, int try_number, int pid);
    // Runs not finished, plus the newest `recent` per DAG, with their task instances.
    result<std::vector<dag_run>> load_runs(int recent);
    result<std::vector<std::pair<std::string, bool>>> load_paused();
    // Newest logical date of a scheduled run per DAG.
    result<std::map<std::string, int64_t>> last_scheduled();
    // Replaces a task instance's XComs (key → JSON text).
    status set_xcoms(const std::string& dag_id, const std::string& run_id, const std::string& task_id, int map_index,
                     const std::map<std::string, std::string>& xcoms);
    // Stores one ended try's outcome and rendered template fields (task_instance_try).
    status record_try(const std::string& dag_id, const std::string& run_id, const std::string& task_id, int map_index,
                      int try_number, const try_record& tr);
    // Removes a mapped task's instances (map_index >= 0), their XComs and tries: it expands again.
    status delete_instances(const std::string& dag_id, const std::string& run_id, const std::string& task_id);
    // Airflow's Variable and Connection (conn_id → URI or JSON), for Python tasks.
    status set_variable(const std::string& key, const std::string& value, const std::string& description);
    status set_connection(const std::string& conn_id, const std::string& uri);
    result<std::map<std::string, std::string>> load_variables();
    result<std::map<std::string, std::string>> load_connections();
    // SELECT 1, for /health.
    status ping();

private:
    result<::pg_result*> exec(const char* what, const std::string& sql, const std::vector<std::string>& params,
                                   bool expect_rows);
    error failure(std::string_view what, ::pg_result* res);
    result<std::map<std::string, std::string>> load_pairs(const char* what, const std::string& table, const std::string& cols);

    std::string dsn_, schema_;
    pg_conn* conn_ = nullptr;
};

}  // namespace millrace::scheduler
