// `millrace registry`: a Confluent-compatible Schema Registry (REST on :8081)
// storing its state in the compacted Kafka topic `_schemas`, like Confluent's.
#pragma once

#include <memory>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace::registry {

// Declares the registry.* keys beyond host/port/admin_port/data_dir.
void add_options(config::schema& s);
std::unique_ptr<component> make_registry(component_context& ctx);

}  // namespace millrace::registry
