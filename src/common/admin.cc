#include "millrace/common/admin.h"

namespace millrace {

admin_endpoint::admin_endpoint(asio::io_context& io, metrics::registry& registry)
    : registry_(registry), server_(io, "admin", 64 * 1024) {
    server_.route("GET", "/healthz", [](const http::request&) { return http::response::text(200, "ok\n"); });
    server_.route("GET", "/readyz", [this](const http::request&) {
        return ready() ? http::response::text(200, "ready\n") : http::response::text(503, "not ready\n");
    });
    server_.route("GET", "/metrics", [this](const http::request&) {
        return http::response{200, "text/plain; version=0.0.4; charset=utf-8", registry_.expose()};
    });
}

result<net::endpoint> admin_endpoint::start(const std::string& host, uint16_t port, const std::string& port_key) {
    return server_.start(host, port, port_key);
}

}  // namespace millrace
