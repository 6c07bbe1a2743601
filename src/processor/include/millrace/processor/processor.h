// `millrace process`: the stream job from Kafka to the CQL store (plays Spark
// Structured Streaming in the classic pipeline).
#pragma once

#include <memory>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace::processor {

// Declares processor.* (beyond admin_port and data_dir, which the app
// declares for every component).
void add_options(config::schema& s);

// The job as a component: start() validates the configuration and starts the
// worker thread (it connects to Kafka and CQL there, retrying, so start()
// never blocks); stop() drains in-flight writes, commits and leaves the group.
std::unique_ptr<component> make_processor(component_context& ctx);

}  // namespace millrace::processor
