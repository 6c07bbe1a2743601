// The jobs of a running processor as `millrace jobs list`, GET /api/v1/jobs
// and /status show them.
#pragma once

#include <string>
#include <vector>

#include "job.h"

namespace millrace::processor {

struct job_report {
    job_status status;
    std::string sql;   // the file's text
    std::string plan;  // `millrace jobs explain`'s plan; "" when the file has errors
};

// {"jobs":[{"name":..., "file":..., "state":..., "group":..., "sources":[...], "sinks":[...],
//   "records_in":n, "rows_out":n, "rejected":n, "records_in_per_second":x, "rows_out_per_second":x,
//   "lag":n, "assigned_partitions":n, "last_error":"...", "sql":"...", "plan":"..."}]}
std::string render_jobs_json(const std::vector<job_report>& jobs);
// One line per job: name, state, in/s, out/s, lag, rejected, last error.
std::string render_jobs_table(const std::vector<job_report>& jobs);

}  // namespace millrace::processor
