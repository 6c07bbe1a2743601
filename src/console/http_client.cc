#include "http_client.h"

namespace millrace::console {

result<http_reply> http_call(const std::string& method, const std::string& url, std::chrono::milliseconds timeout,
                             const std::string& body, const std::string& content_type, const http::client_auth& auth) {
    http::client_request request;
    request.method = method;
    request.url = url;
    request.timeout = timeout;
    request.auth = auth;
    request.bypass_proxy = true;
    if (!body.empty() || method == "POST" || method == "PUT") {
        request.headers.emplace_back("Content-Type", content_type);
        request.body = body;
    }
    auto response = http::perform(request);
    if (!response) return response.err();
    return http_reply{response->status, std::move(response->body), std::move(response->content_type)};
}

}  // namespace millrace::console
