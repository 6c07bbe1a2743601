// The randomuser-compatible HTTP API: GET /api/ (and /api) with the real
// API's query parameters. Answers 200 with the document, or 400 with
// {"error": "..."} naming the bad parameter.
#pragma once

#include <atomic>

#include "millrace/common/clock.h"
#include "millrace/common/http.h"
#include "millrace/common/metrics.h"

namespace millrace::source {

class api {
public:
    // `clock` gives the ages' reference time and the entropy of seedless
    // requests. Both must outlive the api. Thread-safe.
    api(millrace::clock& clock, metrics::registry& registry);

    void add_routes(http::server& server);
    http::response handle(const http::request& req);

private:
    millrace::clock& clock_;
    std::atomic<uint64_t> requests_{0};
    metrics::counter& users_;
    metrics::counter& bad_requests_;
};

}  // namespace millrace::source
