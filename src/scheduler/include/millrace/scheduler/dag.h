// The DAG model and its YAML form (dags/*.yaml).
//
// A file holds one DAG:
//
//   dag_id: user_automation
//   schedule: "@daily"            # cron, preset, @once, or absent for manual only
//   timezone: Europe/Berlin       # default UTC
//   start_date: 2024-01-01
//   catchup: false
//   default_args: {retries: 1, retry_delay: 5s}
//   tasks:
//     extract: {kind: shell, command: "echo {{ ds }}"}
//     load: {kind: sql, sql: "...", depends_on: [extract]}
//   edges: ["extract >> load"]    # optional, Airflow's >> style
//
// Every error names the file, line and column: "dags/x.yaml:12:5: task 'load'
// depends on unknown task 'extrct'".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/scheduler/schedule.h"
#include "millrace/scheduler/time_zone.h"

namespace millrace::scheduler {

// python and empty come from Airflow DAG files (*.py, python_dags.h) only.
enum class task_kind { shell, sql, http, kafka_produce, randomuser_fetch, python, empty };
std::string_view to_string(task_kind kind);

// Airflow's dynamic task mapping (.expand / .expand_kwargs, *.py DAGs only):
// one source per mapped argument; a literal list (JSON array text) or an
// upstream task's XCom (a list, or a dict mapped as [key, value] pairs).
struct map_source {
    std::string name;          // the argument ("" for expand_kwargs: each element is a dict of arguments)
    std::string literal_json;  // a JSON array, or "" when mapped over an XCom
    std::string task_id, key;  // the upstream's XCom
};

struct task_mapping {
    bool kwargs = false;       // expand_kwargs: one source of dicts; else the cartesian product of `sources`
    bool taskflow = false;     // the values are a @task function's arguments
    std::vector<map_source> sources;
};

struct task_spec {
    std::string task_id;
    task_kind kind = task_kind::shell;
    // Kind-specific scalar parameters (templated when run), e.g. "command".
    std::map<std::string, std::string> params;
    std::map<std::string, std::map<std::string, std::string>> maps;  // env, headers
    std::map<std::string, std::vector<std::string>> lists;           // messages, expected_status
    std::vector<std::string> upstream;  // task ids, sorted, unique
    int retries = 0;
    int64_t retry_delay_ms = 300'000;
    bool retry_exponential_backoff = false;
    int64_t max_retry_delay_ms = 3'600'000;
    int64_t execution_timeout_ms = 0;  // 0: none
    int line = 0;                      // where the task is declared (1-based)
    // Airflow's trigger rules: all_success (the YAML DAGs' only one), all_failed,
    // all_done, all_skipped, one_success, one_failed, one_done, none_failed,
    // none_failed_min_one_success, none_skipped, always.
    std::string trigger_rule = "all_success";
    std::string operator_name;         // Airflow's class name for a *.py task, else the kind
    // Airflow's depends_on_past: runs only once this task succeeded or was
    // skipped in the previous run (by logical date); wait_for_downstream also
    // waits for that instance's direct downstreams, and implies depends_on_past.
    bool depends_on_past = false;
    bool wait_for_downstream = false;
    std::optional<task_mapping> mapping;  // a mapped task: one instance per element
    int max_active_tis_per_dag = 0;       // Airflow's: instances running at once across runs (0: no bound)
};

struct dag_spec {
    std::string dag_id;
    std::string description;
    std::string doc_md;
    std::string fileloc;
    bool python = false;               // declared by an Airflow DAG file (*.py)
    schedule sched;
    time_zone zone;
    std::optional<int64_t> start_date;  // UTC seconds
    std::optional<int64_t> end_date;
    bool catchup = true;
    int max_active_runs = 16;
    bool is_paused_upon_creation = false;
    std::vector<std::string> tags;
    std::vector<std::string> owners;
    std::map<std::string, std::string> params;  // defaults of {{ params.x }}
    // The declared type of each param, from its default's YAML form: "integer",
    // "number", "boolean" or "string" (a quoted default is a string). A run's
    // conf may set declared params only, each with a value of its type.
    std::map<std::string, std::string> param_types;
    std::vector<task_spec> tasks;               // in topological order

    const task_spec* find_task(std::string_view task_id) const;
    // Ids of the tasks that depend on `task_id`.
    std::vector<std::string> downstream(std::string_view task_id) const;
};

// Parses one DAG file's text. `file` is used in messages only.
result<dag_spec> parse_dag(std::string_view text, const std::string& file);
// Reads and parses a file.
result<dag_spec> load_dag_file(const std::string& path);

// Durations in DAG files: a number of seconds, or "250ms", "5s", "10m", "2h", "1d".
result<int64_t> parse_duration_ms(std::string_view text);

// Renders "{{ name }}" placeholders from `vars` (dotted names like "params.count").
// An unknown name is an error naming it; "{{" without "}}" too.
result<std::string> render_template(std::string_view text, const std::map<std::string, std::string>& vars);

}  // namespace millrace::scheduler
