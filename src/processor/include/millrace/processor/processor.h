// `millrace process`: the stream-job engine. Runs every `*.sql` file of
// processor.jobs_dir as one job (see docs/processor.md), reloading files as
// they change; plays Spark Structured Streaming in the classic pipeline.
#pragma once

#include <memory>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace::processor {

// Declares processor.* (beyond admin_port and data_dir, which the app
// declares for every component).
void add_options(config::schema& s);

// The engine as a component: start() checks the configuration, loads the job
// files and starts one worker thread per job (each connects to Kafka and the
// CQL store there, retrying, so start() never blocks); the job folder is
// rescanned every processor.scan_interval on the io thread. stop() drains
// every job's in-flight writes, commits and leaves the groups.
// The component serves GET /api/v1/jobs on the admin endpoint and reports
// its jobs in /status.
std::unique_ptr<component> make_processor(component_context& ctx);

}  // namespace millrace::processor
