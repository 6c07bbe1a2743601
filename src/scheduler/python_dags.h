// Airflow DAG files (*.py in scheduler.dags_dir), parsed and run without
// apache-airflow: a Python subprocess runs the file with millrace's stand-in
// `airflow` package (src/scheduler/python/, embedded in the binary and written
// to a directory at start) and reports the DAGs it declared as JSON, which
// become dag_specs here. Task kinds: BashOperator → shell (bash, the same
// template rules as YAML shell tasks), EmptyOperator → empty, everything else
// (PythonOperator, @task, branches, short circuits, sensors) → python, run by
// executor.cc through the same runner.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/scheduler/dag.h"

namespace millrace::scheduler {

struct python_file {
    const char* path;       // relative, "airflow/_core.py"
    std::string_view text;
};
std::span<const python_file> embedded_python_files();

struct python_options {
    std::string python = "python3";    // scheduler.python
    std::string package_dir;           // where install_python_package wrote the runner
    int64_t parse_timeout_ms = 30'000; // scheduler.dag_parse_timeout
};

// Writes the embedded runner and package under `dir` (files that differ only).
status install_python_package(const std::string& dir);
// The runner script's path under `dir`.
std::string python_runner(const std::string& dir);

// Runs `path` in a subprocess and returns the DAGs it declares (possibly none).
// Errors are "file:line: message" (a syntax error, an exception, an
// unsupported import, a parse over the timeout, a crashed interpreter).
result<std::vector<dag_spec>> load_python_dag_file(const std::string& path, const python_options& options);

// The DAGs described by the runner's JSON (exposed for tests).
result<std::vector<dag_spec>> dags_from_runner_json(std::string_view json, const std::string& path);

}  // namespace millrace::scheduler
