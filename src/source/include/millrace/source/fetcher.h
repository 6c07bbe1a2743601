// Reads users from a randomuser-compatible API over HTTP (libcurl) and stores
// them with a pg_writer, batch by batch: a second thread fetches, parses and
// encodes the next pages (at most two ahead) while the caller's thread stores.
//
// Each call asks for `batch_size` users of page (first_page + batch index) with
// the configured seed, so a run with the same seed and batch size fetches the
// same users again (and stores none twice). HTTP 5xx, 429 and network errors
// are retried with exponential backoff and jitter; a store that fails because
// PostgreSQL is unavailable is retried for up to `store_retry_ms`, whole batch
// at a time. Users that lack a required field are logged and skipped.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/http_client_auth.h"
#include "millrace/common/result.h"
#include "millrace/source/pg_writer.h"

namespace millrace::source {

struct fetch_options {
    std::string url = "http://127.0.0.1:8090/api/";  // the API's base URL
    int64_t count = 1000;
    int batch_size = 500;        // users per HTTP call and per transaction
    std::string seed = "millrace";
    std::string nat;             // passed through as nat= when not empty
    int64_t first_page = 1;
    int64_t timeout_ms = 10'000;  // per HTTP call
    int max_retries = 5;          // per HTTP call, after the first attempt
    int64_t backoff_ms = 200;     // first retry delay; doubles, with jitter
    int64_t backoff_max_ms = 10'000;
    double rate_limit = 0;        // HTTP calls per second; 0: unlimited
    int64_t store_retry_ms = 60'000;
    raw_storage raw = raw_storage::json;
    uint64_t jitter_seed = 42;
    http::client_auth auth{};     // CA and credentials for millrace's own secured source API
};

struct fetch_summary {
    int64_t fetched = 0;     // users received and well-formed
    int64_t stored = 0;      // new rows
    int64_t duplicates = 0;  // already stored
    int64_t errors = 0;      // malformed users or responses skipped
    int64_t http_retries = 0;
    int64_t store_retries = 0;
    double seconds = 0;
};

// Observers, called on the thread that called run_fetch (the storing one).
struct fetch_hooks {
    std::function<void(const fetch_summary&)> on_progress;  // after each stored batch
    std::function<void(const error&)> on_store_error;       // before a retryable store failure is retried
    // Asked before each batch; returning a reason ends the fetch with errc::cancelled
    // (an execution timeout, a scheduler stopping). Batches stored so far stay stored.
    std::function<std::optional<std::string>()> should_stop;
};

// A whole response body to rows. Malformed users are skipped, counted in
// `errors` and logged with the offending field; a body that is not a JSON
// document with `results` is an error.
result<std::vector<user_row>> parse_users(std::string_view body, bool keep_raw, int64_t& errors);

// Runs a fetch to completion. Blocking. An error says what failed and how
// many users were stored before it (batches are all-or-nothing).
result<fetch_summary> run_fetch(const fetch_options& options, pg_writer& writer, const fetch_hooks& hooks = {});

}  // namespace millrace::source
