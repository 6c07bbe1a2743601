// Runs one try of one task: shell (process group, timeout kill), sql (libpq),
// http (libcurl), kafka_produce (librdkafka) and randomuser_fetch (the source
// module's fetcher and writer). Blocking; called on worker threads. Output
// goes to the try's log file.
#pragma once

#include "millrace/common/metrics.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "millrace/common/http_client_auth.h"
#include "state.h"

namespace millrace::scheduler {

// Where tasks find the other services.
struct executor_env {
    std::string postgres_dsn;
    std::string kafka_bootstrap;
    std::vector<std::pair<std::string, std::string>> kafka_properties;  // base librdkafka properties (security)
    std::string source_url;  // randomuser API base URL; "" serves one in-process
    http::client_auth own_auth;  // for millrace's own HTTP endpoints (the source API)
    std::string source_raw = "json";
    std::string hostname;
    // Airflow DAG files: the interpreter (scheduler.python) and where the
    // stand-in airflow package and runner are written ("" : a temp dir).
    std::string python = "python3";
    std::string python_dir;
    // Users randomuser_fetch tasks stored in PostgreSQL (`up`'s status reads it); may be null.
    metrics::counter* users_stored = nullptr;
};

struct try_request {
    std::shared_ptr<const dag_spec> dag;
    std::string task_id;
    int map_index = -1;              // an instance of a mapped task: its index
    std::string mapped_kwargs_json;  // and its own arguments, a JSON object ("" : not mapped)
    dag_run run;  // without task instances
    int try_number = 1;
    int max_tries = 1;
    std::string log_path;  // "" writes the log to stdout (tasks test)
    // Python tasks: the run's XComs so far, [{"task_id","key","value"}], and
    // the metadata database's variables and connections ({"name": "value"}).
    std::string xcoms_json = "[]";
    std::string variables_json = "{}";
    std::string connections_json = "{}";
};

struct try_outcome {
    bool success = false;
    bool timed_out = false;
    std::string note;  // one line: why it failed
    // Airflow DAG files: the try skipped itself (AirflowSkipException, exit
    // code 99), or failed for good (AirflowFailException, sensor timeout).
    bool skipped = false;
    int exit_code = -1;  // a process's exit code when it exited non-zero
    bool no_retry = false;
    std::vector<std::string> skip_tasks;                  // a branch's or short circuit's downstream to skip
    std::vector<std::pair<std::string, std::string>> xcoms;  // key → JSON value
    std::vector<std::pair<std::string, std::string>> variables;  // Variable.set(key, value)
    // The task's template fields as this try rendered them: a JSON object,
    // secrets masked (rendered.h); "" when the try ended before rendering.
    std::string rendered_fields;
    std::vector<std::string> masks;  // Airflow DAG files: the secrets the try read
};

// The variables {{ ... }} may name for this try.
std::map<std::string, std::string> template_vars(const dag_spec& dag, const dag_run& run, const std::string& task_id,
                                                 int try_number);

// A kafka_produce message (`messages` entry or `value`) rendered: one that
// starts with '{' or '[' is JSON, and its values are JSON-escaped inside
// strings (as in an http task's JSON body); anything else is plain text.
result<std::string> render_message(std::string_view text, const std::map<std::string, std::string>& vars);

// Runs the try to its end, its execution timeout, or `cancel` turning true.
// `on_start` receives the child pid of a shell task (0 for the others).
try_outcome run_try(const try_request& req, const executor_env& env, const std::atomic<bool>& cancel,
                    const std::function<void(int pid)>& on_start);

}  // namespace millrace::scheduler
