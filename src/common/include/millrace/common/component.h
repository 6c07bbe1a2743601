// The contract between a component (broker, CQL store, ...) and the process
// that hosts it, alone (`millrace broker`) or with the others (`millrace up`).
//
// Rationale: one lifecycle for every part means one place that handles start
// order, readiness, the `ready` line, signals and orderly shutdown, and the
// same component code runs standalone and inside `up`.
#pragma once

#include <optional>
#include <string>

#include <asio/io_context.hpp>

#include "millrace/common/clock.h"
#include "millrace/common/config.h"
#include "millrace/common/file_system.h"
#include "millrace/common/metrics.h"
#include "millrace/common/net.h"
#include "millrace/common/services.h"

namespace millrace {

namespace http {
class server;
}
namespace coordination {
class coordinator;
}

// What the host gives a component. Everything outlives the component.
struct component_context {
    asio::io_context& io;
    const config::config& cfg;
    metrics::registry& metrics;
    millrace::clock& clock;
    file_system& fs;
    std::string data_dir;  // this component's own directory, created by the host
    // The addresses of the parts started in this process; nullptr when hosted
    // alone. Read it through services::kafka_bootstrap() and friends.
    service_directory* services = nullptr;
    // Leases for the singletons (CDC, scheduler): which of several processes
    // runs them (millrace/coordination). nullptr: the part runs them itself.
    coordination::coordinator* coordinator = nullptr;
};

class component {
public:
    virtual ~component() = default;
    virtual std::string name() const = 0;
    // Binds listeners and starts serving. Returns the address clients use, or
    // nullopt for a worker without a listener. An error names the address or
    // path and what to do; the host prints it and exits with code 2.
    virtual result<std::optional<net::endpoint>> start() = 0;
    // Stops accepting work, drains what is in flight and flushes durable state.
    // Called once, on the io_context's thread.
    virtual void stop() = 0;
    // Routes the component adds to the process's admin endpoint; called once,
    // before start(). Handlers run on the io_context's thread.
    virtual void add_admin_routes(http::server& /*server*/) {}
    // A JSON value with the component's own state, shown in /status under its
    // command name ("" for none). Called on the io_context's thread.
    virtual std::string status_json() const { return {}; }
};

}  // namespace millrace
