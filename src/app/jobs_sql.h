// `millrace jobs validate FILE...` and `millrace jobs explain FILE`: the SQL
// compiler on job files, without a running process or a configuration.
#pragma once

#include <string>
#include <vector>

namespace millrace::app {

// Whether `args` (the words after the program name) are a `jobs validate` or
// `jobs explain` invocation, which run before configuration loading.
bool is_jobs_sql_command(const std::vector<std::string>& args);

// Runs it. validate: prints nothing and returns 0 when every file compiles,
// else prints every error as `file:line:column: message` to stderr and returns 2.
// explain: prints the plan of one file and returns 0, or its errors and 2.
int run_jobs_sql_command(const std::vector<std::string>& args);

}  // namespace millrace::app
