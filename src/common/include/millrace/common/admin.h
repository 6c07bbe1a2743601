// The admin HTTP endpoint every millrace process serves:
//   GET /healthz  200 while the process runs (liveness)
//   GET /readyz   200 once every component is ready, 503 before and while stopping
//   GET /metrics  Prometheus text exposition of the process's registry
// Components may add routes (for example /status) before start().
#pragma once

#include <atomic>

#include "millrace/common/http.h"
#include "millrace/common/metrics.h"

namespace millrace {

class admin_endpoint {
public:
    admin_endpoint(asio::io_context& io, metrics::registry& registry);

    void set_ready(bool ready) { ready_.store(ready); }
    bool ready() const { return ready_.load(); }
    http::server& http() { return server_; }

    result<net::endpoint> start(const std::string& host, uint16_t port, const std::string& port_key);
    void stop() { server_.stop(); }

private:
    metrics::registry& registry_;
    std::atomic<bool> ready_{false};
    http::server server_;
};

}  // namespace millrace
