// `millrace jobs list`: the stream jobs of the running process, read from its
// admin endpoint (GET /api/v1/jobs), like `millrace status`.
#pragma once

#include <string>
#include <vector>

#include "millrace/common/config.h"

namespace millrace::app {

// Asks `millrace up` (admin.host:up.admin_port), else a standalone
// `millrace process` (processor.admin_port), for its jobs and prints them as a
// table, or as JSON with `--json` in `args`. Returns the exit code: 0, 1 when
// no process answers, 2 on a usage error.
int run_jobs_list_command(const config::config& cfg, const std::vector<std::string>& args);

}  // namespace millrace::app
