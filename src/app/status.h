// What `millrace up` reports about itself: the status block printed at start
// and by `millrace status`, the /status endpoint, and the live one-line status.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "millrace/common/config.h"

namespace millrace::app {

struct part_status {
    std::string command;  // "broker"
    std::string address;  // "127.0.0.1:9092", or "-"
    std::string state;    // "running", "external", "disabled", "not built yet (issue #8)"
};

// The pipeline's progress, read from this process's metrics.
struct pipeline_counts {
    double users_fetched = 0;     // users the fetch tasks stored in PostgreSQL
    double records_in_kafka = 0;  // rows CDC had acknowledged by Kafka
    double rows_in_table = 0;     // rows the processor had acknowledged by the CQL store
    double processor_lag = 0;     // records in Kafka not yet processed
};

// Which singletons (leases of millrace/coordination) this instance runs.
struct leadership_status {
    std::string backend;  // "postgres" or "zookeeper"
    struct lease {
        std::string name;    // "cdc.millrace_cdc"
        bool held = false;
        std::string holder;  // the instance holding it as last seen
    };
    std::vector<lease> leases;
    bool leader() const {
        for (const auto& l : leases) {
            if (l.held) return true;
        }
        return false;
    }
};

struct status_report {
    std::string version;
    std::string admin_address;
    std::vector<part_status> parts;
    std::vector<std::pair<std::string, std::string>> urls;  // label, URL
    std::vector<std::pair<std::string, std::string>> tls;   // label, path (security.enabled)
    pipeline_counts counts;
    // Security settings worth knowing (label, value): the admin user, where its password is.
    std::vector<std::pair<std::string, std::string>> security;
    // Components' own state (component::status_json), by command: rendered
    // under "details" in the JSON form.
    std::vector<std::pair<std::string, std::string>> details;
    leadership_status leadership;
};

// The sum of every series of metric `name` in Prometheus text `exposition`.
double sum_metric(const std::string& exposition, const std::string& name);
pipeline_counts read_counts(const std::string& exposition);

// URLs worth opening for the parts of `report` (UIs, APIs, metrics).
std::vector<std::pair<std::string, std::string>> urls_for(const std::vector<part_status>& parts,
                                                          const std::string& admin_address);

std::string render_status_block(const status_report& report);
std::string render_status_json(const status_report& report);
// "users 20000 fetched · 20000 in Kafka · 19870 in table · lag 130 · 5120/s"
std::string render_live_line(const pipeline_counts& now, const pipeline_counts& before, double seconds);

// `millrace status`: prints the status block of the `up` whose admin endpoint
// is admin.host:up.admin_port. Returns the exit code (1 when none answers).
int run_status_command(const config::config& cfg);

}  // namespace millrace::app
