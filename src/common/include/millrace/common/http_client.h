// The one HTTP client of the tree, over libcurl: the source fetcher, the
// registry client, the console, the scheduler's CLI and `http` tasks, and the
// CLI's calls to millrace's own endpoints all go through it, so timeouts, TLS
// settings, proxies, error messages and logging are decided once. No module
// calls curl_easy_* itself.
//
// Library `millrace_http_client` (src/common), apart from millrace_common so
// that components without HTTP clients do not link libcurl.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "millrace/common/http_client_auth.h"
#include "millrace/common/result.h"

namespace millrace::http {

struct client_request {
    std::string method = "GET";
    std::string url;  // absolute: "http://127.0.0.1:8081/subjects"
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<std::string> body;  // sent as given when set
    // The whole exchange; connecting gets the same bound unless connect_timeout is set.
    std::chrono::milliseconds timeout{30'000};
    std::optional<std::chrono::milliseconds> connect_timeout;
    client_auth auth;             // CA and Basic credentials for millrace's own endpoints
    bool bypass_proxy = false;    // ignore http_proxy & co (loopback calls to our own servers)
    bool only_http = false;       // refuse other schemes, for the URL and any redirect (user-given URLs)
    bool decompress = false;      // send Accept-Encoding for every codec libcurl has, and inflate
    size_t max_body_bytes = 0;    // keep at most this much of the body (0: all of it); the rest is read and dropped
    std::string user_agent;       // "" = libcurl's
};

struct client_response {
    long status = 0;
    std::string body;
    std::string content_type;  // "" when the server sent none
    bool ok() const { return status >= 200 && status < 300; }
};

// A client: one libcurl handle, reused so that keep-alive connections are
// reused between requests to the same host. Not thread-safe: one per thread.
// A reply with any status is a value; the errors are transport failures,
// naming the method and URL: timed_out (no answer within the timeout) or
// unavailable (refused, DNS, TLS, reset), both retryable.
class client {
public:
    client();
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    [[nodiscard]] result<client_response> perform(const client_request& request);

private:
    struct handle;
    std::unique_ptr<handle> handle_;
};

// One request on a fresh client (no connection reuse).
[[nodiscard]] result<client_response> perform(const client_request& request);

// Percent-encodes everything but RFC 3986's unreserved characters, for a path
// segment or a query value.
std::string url_escape(std::string_view text);

// "GET http://host/path answered HTTP 503: <start of the body>", for callers
// that treat a status as an error.
std::string describe_status(const client_request& request, const client_response& response);

}  // namespace millrace::http
