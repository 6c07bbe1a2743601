// `millrace scheduler`: the Airflow-like orchestrator as a component (DAG
// files, scheduler, local executor, REST API and web UI on scheduler.port),
// and the `millrace dags ...` / `millrace tasks test` commands.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace::scheduler {

// Declares scheduler.* beyond host, port, admin_port and data_dir.
void add_options(config::schema& s);

std::unique_ptr<component> make_scheduler(component_context& ctx);

// `millrace dags list|trigger <id> [--conf JSON]|pause <id>|unpause <id>`,
// talking to the running scheduler's REST API at scheduler.host:scheduler.port.
// Returns the exit code: 0, 1 when the call failed, 2 on bad usage.
int run_dags_command(const config::config& cfg, const std::vector<std::string>& args);

// `millrace variables set <key> <value>|get <key>|list` and `millrace
// connections add <conn_id> <uri>|list` (Airflow's Variable and Connection for
// *.py DAGs), through the same REST API; also reachable as `millrace dags
// variables ...` / `millrace dags connections ...`.
int run_variables_command(const config::config& cfg, const std::vector<std::string>& args);
int run_connections_command(const config::config& cfg, const std::vector<std::string>& args);

// `millrace tasks test <dag_id> <task_id> <date>`: runs one task in the
// foreground with its log on stdout, recording nothing (as `airflow tasks test`).
int run_tasks_command(const config::config& cfg, const std::vector<std::string>& args);

}  // namespace millrace::scheduler
