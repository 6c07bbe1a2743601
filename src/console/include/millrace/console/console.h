// `millrace console` (:9021): a web console for the Kafka cluster and the rest
// of the pipeline, in the role of Confluent Control Center. It reads only
// through the real protocols (Kafka via librdkafka, the registry's and the
// scheduler's REST APIs, CQL, libpq, the admin endpoints' /readyz and
// /metrics), so it works against real Kafka and Cassandra as well.
#pragma once

#include <memory>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace::console {

// Declares the console.* keys beyond host, port, admin_port and data_dir.
void add_options(config::schema& s);

std::unique_ptr<component> make_console(component_context& ctx);

}  // namespace millrace::console
