// The runtime model of DAG runs and task instances, shared by the store, the
// engine and the API. States and field names follow Airflow's.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/scheduler/dag.h"

namespace millrace::scheduler {

enum class ti_state { none, scheduled, queued, running, success, failed, up_for_retry, upstream_failed, skipped };
enum class run_state { queued, running, success, failed };

std::string_view to_string(ti_state state);
std::string_view to_string(run_state state);
std::optional<ti_state> parse_ti_state(std::string_view text);
std::optional<run_state> parse_run_state(std::string_view text);
inline bool finished(ti_state s) {
    return s == ti_state::success || s == ti_state::failed || s == ti_state::upstream_failed || s == ti_state::skipped;
}

// One try of a task instance that ended: its outcome and its rendered
// template fields (table task_instance_try). The API's /tries lists them.
struct try_record {
    ti_state state = ti_state::failed;   // success, failed, skipped (a try retried ended failed)
    std::optional<int64_t> start_ms, end_ms;
    std::string hostname;
    std::string rendered_fields = "{}";  // a JSON object, secrets masked (rendered.h)
};

struct task_instance {
    std::string task_id;
    int map_index = -1;                  // Airflow's: -1 unless one instance of a mapped task
    ti_state state = ti_state::none;
    int try_number = 0;                  // tries started so far (the running try's number)
    int max_tries = 1;                   // retries + 1
    std::optional<int64_t> start_ms, end_ms;
    std::optional<int64_t> next_retry_ms;  // when up_for_retry
    std::string log_path;                // the latest try's log file
    std::string hostname;
    int pid = 0;
    std::string note;                    // why it failed, in one line
    std::map<std::string, std::string> xcoms;  // key → JSON value (the latest try's)
    std::map<int, try_record> tries;     // by try number: the tries that ended (kept across clears)
    // A mapped task once expanded: its instances, map_index 0..n-1, each
    // scheduled, retried, cleared and marked on its own; `state` above is
    // then their summary (mapped_summary). Empty before the expansion, and
    // after an expansion over nothing (the task is then skipped).
    std::vector<task_instance> instances;
};

// The state a mapped task shows as a whole (and its downstream's trigger rules
// see through each instance): unfinished while one instance is; then failed,
// upstream_failed, success or skipped, in that order of precedence.
ti_state mapped_summary(const std::vector<task_instance>& instances);

// The instance `map_index` of `task_id` (-1: the task itself), or null.
task_instance* find_ti(std::map<std::string, task_instance>& tasks, const std::string& task_id, int map_index);
const task_instance* find_ti(const std::map<std::string, task_instance>& tasks, const std::string& task_id, int map_index);

struct dag_run {
    std::string dag_id, run_id;
    std::string run_type = "manual";     // scheduled, manual, backfill
    int64_t logical_date = 0;            // UTC seconds
    int64_t data_interval_start = 0, data_interval_end = 0;
    run_state state = run_state::queued;
    std::string conf = "{}";             // JSON object text
    int64_t queued_ms = 0;
    std::optional<int64_t> start_ms, end_ms;
    std::string note;
    std::map<std::string, task_instance> tasks;  // by task_id
};

// One row of `dag` plus what was parsed from its file.
struct dag_entry {
    std::shared_ptr<const dag_spec> spec;  // null when the file no longer parses or exists
    bool is_paused = false;
    bool is_active = true;                 // the file exists and parses
    std::string fileloc;
    int64_t last_parsed_ms = 0;
    std::optional<int64_t> next_dagrun;    // logical date of the next scheduled run
};

struct import_error {
    int64_t id = 0;
    std::string filename;
    std::string message;  // "file:line:col: ..."
    int64_t timestamp_ms = 0;
};

// Milliseconds → "2026-11-25T06:00:00.123+00:00".
std::string format_ms(int64_t ms);

}  // namespace millrace::scheduler
