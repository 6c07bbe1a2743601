// The Kafka-wire-compatible broker as a millrace component (`millrace broker`,
// and part of `millrace up`). Single node: node 1 is controller and leader of
// every partition.
#pragma once

#include <memory>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace::kafka {

// Declares the broker.* configuration keys (beyond host, port, admin_port and
// data_dir, which the app declares for every server component).
void add_options(config::schema& s);

// Builds the broker from its configuration; start() binds and serves.
std::unique_ptr<component> make_broker(component_context& ctx);

}  // namespace millrace::kafka
