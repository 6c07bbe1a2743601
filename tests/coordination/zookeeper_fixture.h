// A real ZooKeeper server for tests: Debian's `zookeeper` package run as
// `java ... ZooKeeperServerMain <cfg>` on an ephemeral port, in a temp dir.
#pragma once

#include <memory>
#include <string>

#include "harness/process.h"

namespace millrace::testing {

class zookeeper_server {
public:
    // tick_ms bounds the session timeouts the server grants (2..20 ticks).
    explicit zookeeper_server(int tick_ms = 250);
    ~zookeeper_server();
    // "" when the server did not come up (the reason is in why()).
    const std::string& connect_string() const { return connect_; }
    const std::string& why() const { return why_; }

private:
    temp_dir dir_;
    std::unique_ptr<process> proc_;
    std::string connect_;
    std::string why_;
};

// A port nobody listens on (bound, then closed).
int unused_port();

}  // namespace millrace::testing
