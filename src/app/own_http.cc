#include "own_http.h"

#include <fmt/format.h>

#include "millrace/common/http_client.h"

namespace millrace::app {

std::optional<std::string> own_http_get(const config::config& cfg, const std::string& host, uint16_t port,
                                        const std::string& path, std::string& why) {
    http::client_request request;
    request.auth = http::own_endpoint_auth(cfg);
    request.url = http::own_url(request.auth, fmt::format("{}:{}", host, port)) + path;
    request.bypass_proxy = true;
    request.timeout = std::chrono::milliseconds(30'000);
    auto response = http::perform(request);
    if (!response) {
        // The client's message starts "GET <url>: "; ours names host and port.
        std::string reason = response.err().message();
        if (const std::string prefix = "GET " + request.url + ": "; reason.starts_with(prefix)) reason.erase(0, prefix.size());
        why = fmt::format("{}:{}: {}", host, port, reason);
        return std::nullopt;
    }
    if (response->status != 200) {
        why = fmt::format("{}:{} answered {}{}", host, port, response->status,
                          response->status == 401 ? " (credentials: run with the server's data_dir, whose admin-password file holds "
                                                    "them, or set security.admin_password)"
                                                  : "");
        return std::nullopt;
    }
    return std::move(response->body);
}

}  // namespace millrace::app
