// The registry service: Confluent Schema Registry's REST API over a `store`
// persisted in the `_schemas` topic.
//
// Threads: HTTP handlers run on the io thread and answer reads at once from
// the in-memory store (under `mutex_`). Writes, and every request that comes
// before the topic has been read at start, go to one writer thread, which
// decides, appends to the topic (acks=all), applies the record to the store
// and then answers through the deferred-response hook of http::server. One
// writer means ids and versions are assigned without races.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <utility>
#include <vector>

#include "millrace/common/http.h"
#include "millrace/common/log.h"
#include "millrace/common/metrics.h"
#include "schemas_log.h"
#include "store.h"

namespace millrace::registry {

struct service_options {
    std::string bootstrap;                    // Kafka
    std::vector<std::pair<std::string, std::string>> kafka_properties;  // base librdkafka properties (security)
    std::string topic = "_schemas";
    int replication_factor = 1;
    std::string default_compatibility = "BACKWARD";
    int64_t kafka_timeout_ms = 30'000;        // per append, per start-up read
};

class service {
public:
    service(service_options options, metrics::registry& metrics);
    ~service();

    // Routes every path of the API on `server`.
    void add_routes(http::server& server);
    // Starts the writer thread, which reads the topic (retrying while Kafka is
    // unavailable) and then serves queued requests.
    void start();
    // Answers queued requests with 50003 and joins the writer thread.
    void stop();

    // Whether the topic has been read since start.
    bool loaded() const;

private:
    struct request_info;
    void handle(request_info info, const http::request& req, http::responder respond);
    http::response execute(const request_info& info, const http::request& req);
    void enqueue(std::function<void()> task);
    void run_writer();
    bool load();
    // Appends a record and applies it; an error response on failure.
    std::optional<http::response> write(std::unique_lock<std::mutex>& lock, const std::string& key,
                                        const std::optional<std::string>& value);

    // Reads (callers hold mutex_).
    http::response get_subjects(const http::request& req);
    http::response get_versions(const std::string& subject, const http::request& req);
    http::response get_version(const std::string& subject, const std::string& version, const http::request& req, bool raw);
    http::response get_referenced_by(const std::string& subject, const std::string& version);
    http::response get_schema(const std::string& id, bool raw);
    http::response get_schema_uses(const std::string& id, bool subjects_only, const http::request& req);
    http::response get_all_schemas(const http::request& req);
    http::response lookup(const std::string& subject, const http::request& req);
    http::response test_compatibility(const std::string& subject, const std::string* version, const http::request& req);
    http::response get_config(const std::string* subject, const http::request& req);
    http::response get_mode(const std::string* subject);
    // Writes (writer thread).
    http::response register_schema(const std::string& subject, const http::request& req);
    http::response delete_version(const std::string& subject, const std::string& version, const http::request& req);
    http::response delete_subject(const std::string& subject, const http::request& req);
    http::response put_config(const std::string* subject, const http::request& req);
    http::response delete_config(const std::string* subject);
    http::response put_mode(const std::string* subject, const http::request& req);
    http::response delete_mode(const std::string& subject);

    std::string level_of(const std::string& subject) const;
    std::string mode_of(const std::string& subject) const;

    service_options options_;
    log::logger log_{"registry"};
    std::atomic<bool> stop_requested_{false};
    schemas_log log_topic_;
    metrics::counter& requests_;
    metrics::counter& registrations_;
    metrics::counter& corrupt_records_;

    mutable std::mutex mutex_;  // guards store_ and loaded_
    store store_;
    bool loaded_ = false;

    std::mutex queue_mutex_;
    std::condition_variable queue_cv_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::thread writer_;
};

}  // namespace millrace::registry
