// A small HTTP/1.1 server for admin endpoints, REST APIs and web UIs: routes
// by method and path, keep-alive, Content-Length bodies, bounded header and
// body sizes. Handlers run on the server's io_context thread and must not block.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "millrace/common/net.h"

namespace millrace::http {

struct request {
    std::string method;   // "GET"
    std::string target;   // "/api/?results=5"
    std::string path;     // "/api/" (percent-decoded)
    std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
    std::map<std::string, std::string> headers;              // lower-case names
    std::string body;

    // The first value of query parameter `name`, or nullptr.
    const std::string* param(std::string_view name) const;
    std::string header(std::string_view name) const;
};

struct response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers{};

    static response text(int status, std::string body);
    static response json(int status, std::string body);
};

using handler = std::function<response(const request&)>;
// Deferred responses: an async handler returns at once and calls `responder`
// exactly once, later, from any thread; the connection waits for it (bounded
// by a 5-minute limit, then 503) without blocking the io thread.
using responder = std::function<void(response)>;
using async_handler = std::function<void(const request&, responder)>;

std::string reason_phrase(int status);
std::string percent_decode(std::string_view text);

class server {
public:
    server(asio::io_context& io, std::string name, size_t max_body_bytes = 16 << 20);

    // Exact path match. A path ending in '/' also matches everything below it
    // when no exact route does.
    void route(std::string method, std::string path, handler h);
    void route_async(std::string method, std::string path, async_handler h);

    result<net::endpoint> start(const std::string& host, uint16_t port, const std::string& port_key = {});
    void stop() { tcp_.stop(); }

private:
    asio::awaitable<void> serve(asio::ip::tcp::socket& socket);
    void dispatch(const request& req, const responder& respond) const;

    size_t max_body_bytes_;
    std::map<std::pair<std::string, std::string>, async_handler> routes_;
    net::tcp_server tcp_;
};

}  // namespace millrace::http
