// The CQL-wire-compatible serving store as a millrace component (`millrace
// cql`, and part of `millrace up`): native protocol v4 on RocksDB, single node.
#pragma once

#include <memory>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace::cql {

// Declares the cql.* keys beyond host, port, admin_port and data_dir (which
// the app declares for every server component).
void add_options(config::schema& s);

// Builds the server from its configuration; start() opens the store, binds and serves.
std::unique_ptr<component> make_cql(component_context& ctx);

}  // namespace millrace::cql
