#include "jobs_list.h"

#include <cstdio>
#include <optional>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

namespace millrace::app {
namespace {

// The body of a 200 answer to GET `path`, or nullopt with `why` set.
std::optional<std::string> http_get(const std::string& host, uint16_t port, const std::string& path, std::string& why) {
    try {
        asio::io_context io;
        asio::ip::tcp::resolver resolver(io);
        asio::ip::tcp::socket socket(io);
        asio::connect(socket, resolver.resolve(host, std::to_string(port)));
        std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n", path, host, port);
        asio::write(socket, asio::buffer(request));
        std::string response;
        std::error_code ec;
        asio::read(socket, asio::dynamic_buffer(response), ec);
        auto body = response.find("\r\n\r\n");
        if (response.compare(0, 12, "HTTP/1.1 200") != 0 || body == std::string::npos) {
            why = fmt::format("{}:{} answered {}", host, port, response.substr(0, response.find("\r\n")));
            return std::nullopt;
        }
        return response.substr(body + 4);
    } catch (const std::exception& e) {
        why = fmt::format("{}:{}: {}", host, port, e.what());
        return std::nullopt;
    }
}

}  // namespace

int run_jobs_list_command(const config::config& cfg, const std::vector<std::string>& args) {
    bool json = false;
    for (size_t idx = 1; idx < args.size(); ++idx) {
        if (args[idx] == "--json") {
            json = true;
        } else {
            std::fprintf(stderr, "millrace jobs list: unexpected argument '%s' (usage: millrace jobs list [--json])\n",
                         args[idx].c_str());
            return 2;
        }
    }
    const std::string host = cfg.get_string("admin.host");
    const std::string path = json ? "/api/v1/jobs" : "/api/v1/jobs?format=text";
    std::string why_up, why_process;
    auto body = http_get(host, cfg.get_port("up.admin_port"), path, why_up);
    if (!body) body = http_get(host, cfg.get_port("processor.admin_port"), path, why_process);
    if (!body) {
        std::fprintf(stderr,
                     "millrace jobs list: neither `millrace up` (%s) nor `millrace process` (%s) answers; is one running? "
                     "Their admin ports are up.admin_port and processor.admin_port\n",
                     why_up.c_str(), why_process.c_str());
        return 1;
    }
    std::fputs(body->c_str(), stdout);
    if (json) std::fputs("\n", stdout);
    return 0;
}

}  // namespace millrace::app
