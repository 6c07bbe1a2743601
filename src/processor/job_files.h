// The folder of job files (processor.jobs_dir): which `*.sql` files it holds
// and when each last changed, so the processor starts, restarts and stops
// jobs as files are added, edited and removed (like the scheduler's DAG folder).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "millrace/common/result.h"

namespace millrace::processor {

// Path -> modification time (ns) of every regular `*.sql` file directly in
// `dir`; empty when the folder does not exist. Never throws.
std::map<std::string, int64_t> scan_job_files(const std::string& dir);

// The job name of a file: its name without `.sql` ("jobs/created_users.sql" -> "created_users").
std::string job_name_of(std::string_view path);

// The whole text of a file. Errors name the path.
result<std::string> read_job_file(const std::string& path);

// The default pipeline's job (jobs/created_users.sql of the source tree,
// compiled into the binary): run when processor.jobs_dir is left at its
// default and no ./jobs folder exists.
std::string_view builtin_default_job();
constexpr std::string_view k_builtin_default_job_name = "created_users.sql";

}  // namespace millrace::processor
