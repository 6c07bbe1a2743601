// A small client of a Confluent-compatible schema registry (millrace's or
// Confluent's), for CDC, the processor and the console: register, look up,
// fetch by id (cached: ids are immutable), test compatibility.
//
// Thread-safe: calls may come from any thread; each call is one blocking HTTP
// request (libcurl) unless answered from the cache. Errors: not_found (404:
// unknown subject, version or id), invalid_argument (422 invalid schema or
// version), already_exists (409 incompatible schema; the message carries the
// registry's reasons), unavailable (connection failure, 5xx), timed_out.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "millrace/avro/schema.h"
#include "millrace/common/http_client_auth.h"
#include "millrace/common/result.h"

namespace millrace::registry {

struct client_options {
    std::string url = "http://127.0.0.1:8081";  // base URL, no trailing slash needed
    int64_t timeout_ms = 10'000;                 // per HTTP request
    http::client_auth auth{};                    // CA and credentials (millrace's own secured registry)
};

struct fetched_schema {
    int id = 0;
    std::string type = "AVRO";  // AVRO | JSON
    std::string text;           // as the registry returns it
    std::shared_ptr<const avro::schema> avro;  // parsed, for AVRO schemas without references
};

struct subject_version {
    std::string subject;
    int version = 0;
    int id = 0;
    std::string text;
};

class client {
public:
    explicit client(client_options options);

    // POST /subjects/{subject}/versions; returns the schema id (the same id
    // again for a schema already registered).
    result<int> register_schema(const std::string& subject, const std::string& schema_text, const std::string& type = "AVRO");
    // GET /schemas/ids/{id}, cached after the first success.
    result<std::shared_ptr<const fetched_schema>> schema_by_id(int id);
    // POST /subjects/{subject}: the version and id of this exact schema.
    result<subject_version> lookup(const std::string& subject, const std::string& schema_text, const std::string& type = "AVRO");
    // GET /subjects/{subject}/versions/latest.
    result<subject_version> latest(const std::string& subject);
    // POST /compatibility/subjects/{subject}/versions/latest.
    result<bool> compatible(const std::string& subject, const std::string& schema_text, const std::string& type = "AVRO");

private:
    struct http_reply {
        long status = 0;
        std::string body;
    };
    result<http_reply> call(const std::string& method, const std::string& path, const std::string& body);
    static error error_from(const std::string& what, const http_reply& reply);

    client_options options_;
    std::mutex mutex_;
    std::map<int, std::shared_ptr<const fetched_schema>> by_id_;
};

}  // namespace millrace::registry
