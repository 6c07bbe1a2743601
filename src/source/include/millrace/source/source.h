// `millrace source`: the randomuser-compatible API as a component, the
// PostgreSQL part, and the `millrace source fetch` command.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace::source {

// Declares source.* (beyond host, port, admin_port and data_dir, which the
// app declares for every server component) and the postgres.* section.
void add_options(config::schema& s);

// The API server: start() binds source.host:source.port and serves /api/.
std::unique_ptr<component> make_source(component_context& ctx);

// The PostgreSQL part: start() runs the managed server (or checks the
// external one, postgres.dsn) and returns its address; stop() stops a server
// it started. For `millrace up`, hosted before the parts that use it.
std::unique_ptr<component> make_postgres(component_context& ctx);

// `millrace source <args...>`: "fetch" fetches source.count users from
// source.url (empty: an API served in-process on an ephemeral port) into
// PostgreSQL and prints progress and a summary. Returns the exit code: 0,
// 1 when the fetch failed, 2 on bad usage.
int run_source_command(const config::config& cfg, const std::vector<std::string>& args);

}  // namespace millrace::source
