// A blocking HTTP/1.1 call for the console's worker threads (the registry's and
// the scheduler's REST APIs and the admin endpoints), over the common client.
#pragma once

#include <chrono>
#include <string>

#include "millrace/common/http_client.h"
#include "millrace/common/result.h"

namespace millrace::console {

struct http_reply {
    long status = 0;
    std::string body;
    std::string content_type;
};

// `url` is absolute ("http://127.0.0.1:8081/subjects"). A reply with any
// status is a value; errors are unavailable (connection refused, DNS) or
// timed_out, naming the URL.
// `auth`: CA and credentials for millrace's own secured endpoints (none for a
// URL the user configured).
result<http_reply> http_call(const std::string& method, const std::string& url, std::chrono::milliseconds timeout,
                             const std::string& body = {}, const std::string& content_type = "application/json",
                             const http::client_auth& auth = {});

}  // namespace millrace::console
