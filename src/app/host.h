// Hosts one or more components in this process: creates their data
// directories, starts them in order, serves the admin endpoint, prints the
// `ready` line, and on SIGINT/SIGTERM stops them in reverse order. A second
// signal forces an immediate exit.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "millrace/common/component.h"
#include "options.h"
#include "pipeline_probe.h"
#include "status.h"

namespace millrace::app {

// Builds a component, or returns nullptr when that component is not built yet.
using component_factory = std::function<std::unique_ptr<component>(const component_info&, component_context&)>;

struct host_plan {
    std::string name;                      // "broker", or "up"
    std::vector<const component_info*> parts;
    std::string admin_port_key;            // "broker.admin_port", "up.admin_port"
    bool print_status_block = false;       // `up` prints one for people, then a live status
    std::vector<part_status> not_started;  // parts `up` leaves to an external service or turned off
    bool admin_password_generated = false; // printed once, at this first start
    // `up`: where the true totals of the status block come from, once every
    // part has started (pipeline_probe.h); unset for a single component.
    std::function<probe_targets(const service_directory&)> probe_targets_for;
};

// Runs until a signal stops it. Returns the process exit code: 0 after a clean
// stop, 2 when start-up failed (the reason already printed as one line).
int run_host(const config::config& cfg, const host_plan& plan, const component_factory& make);

// The data directory of a component section: <section>.data_dir, or
// <data_dir>/<section> when that is empty.
std::string component_data_dir(const config::config& cfg, const std::string& section);

}  // namespace millrace::app
