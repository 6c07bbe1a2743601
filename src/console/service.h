// The console's backend: JSON endpoints under /api/, server-sent events, the
// sampler that keeps bounded metric history, and the health probes.
//
// Threads: HTTP handlers run on the shared io thread and only queue work;
// Kafka, HTTP, CQL and PostgreSQL calls run on `workers_`, the sampler thread
// or a live-tail thread. Shared state below is guarded by `mutex_`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "history.h"
#include "kafka_client.h"
#include "millrace/avro/schema.h"
#include "millrace/cql_client/client.h"
#include "millrace/common/component.h"
#include "millrace/common/http.h"
#include "millrace/common/http_client_auth.h"
#include "millrace/common/log.h"
#include "workers.h"

namespace millrace::console {

using json = nlohmann::ordered_json;

// An API error: an HTTP status and a message naming what was wrong.
struct api_error {
    int status;
    std::string message;
};
api_error to_api_error(const error& err);
http::response error_response(int status, const std::string& message);
// The response for `err`, with the status to_api_error() picks.
http::response error_response(const error& err);
http::response json_response(int status, const json& body);
// A CQL value for the browser: numbers, booleans, text and uuids as JSON
// values; timestamps, dates, blobs and collections as cqlsh prints them.
json cql_value_json(const cql_client::value& v);

// Parses a millisecond timestamp or an ISO-8601 date-time ("2026-11-25T06:00:00Z",
// "2026-11-25T06:00:00.250+01:00", "2026-11-25").
result<int64_t> parse_time(const std::string& text);
// A whole decimal number within [min, max]; the error names `name`.
result<int64_t> parse_integer(const std::string& name, const std::string& text, int64_t min, int64_t max);

struct settings {
    size_t workers = 4;
    std::chrono::milliseconds sample_interval{2000};
    std::chrono::milliseconds history_window{15 * 60 * 1000};
    std::chrono::milliseconds request_timeout{10000};
    int64_t max_scan = 100000;
    int64_t max_tails = 8;
    int64_t lag_warn = 10000;
    std::vector<std::string> admin_endpoints;  // host:port of admin endpoints to read
    std::string processor_group;
    std::string pipeline_topic;
    std::string pipeline_table;
    std::string scheduler_url;  // the scheduler UI for links; "" when unknown
    http::client_auth own_auth{};  // for millrace's own endpoints (security.enabled)
};

class service {
public:
    service(component_context& ctx, settings s);
    ~service();

    void add_routes(http::server& server);
    // Creates the Kafka client and starts the sampler (after the listener is bound).
    status start();
    // Tells the sampler and the tails to end and closes event streams; does not block.
    // ~service joins the threads after running the requests still queued.
    void stop();

private:
    using sync_job = std::function<http::response(const http::request&)>;
    // Runs `job` on a worker and replies with its response (503 when the queue is full).
    void defer(const http::request& req, http::reply reply, sync_job job);

    // Endpoints (run on workers).
    http::response get_overview(const http::request& req);
    http::response get_health(const http::request& req);
    http::response get_history(const http::request& req);
    http::response get_topics(const http::request& req);
    http::response post_topic(const http::request& req);
    http::response get_topic(const std::string& name);
    http::response delete_topic(const std::string& name);
    http::response get_messages(const std::string& name, const http::request& req);
    http::response get_groups(const http::request& req);
    http::response get_group(const std::string& id);
    http::response reset_group(const std::string& id, const http::request& req);
    http::response get_schemas(const http::request& req);
    // GET /api/schemas/subjects/{subject}[/versions/{version}]
    http::response get_subject(const http::request& req);
    http::response get_scheduler(const http::request& req);
    http::response get_jobs(const http::request& req);
    http::response get_pipeline(const http::request& req);
    http::response get_tables(const http::request& req);
    // GET /api/tables/{keyspace}/{table}[/rows]
    http::response get_table_rows(const http::request& req);
    // operate.cc: what the console changes.
    http::response post_message(const std::string& topic, const http::request& req);
    http::response post_topic_configs(const std::string& topic, const http::request& req);
    // POST /api/schemas/subjects/{subject}/versions, or /check (check: a compatibility test only)
    http::response post_schema(const http::request& req, bool check);
    http::response post_cql(const http::request& req);
    json console_info() const;

    // Live tail of a topic as server-sent events, on its own thread.
    void start_tail(const http::request& req, http::event_stream stream);
    void run_tail(std::string topic, std::optional<int32_t> partition, std::string text, std::string jsonpath,
                  http::event_stream stream);

    // The sampler: one round of Kafka statistics, admin scrapes and probes.
    void sampler_loop();
    void sample_once();
    json probe_components(const std::optional<cluster_info>& cluster, const std::string& cluster_error,
                          const std::map<std::string, json>& group_stats);
    std::optional<std::string> registry_url() const;
    // The CA and credentials for registry_url(): none for a configured console.registry_url.
    http::client_auth registry_auth() const;
    // GET url+path on the registry: its JSON, or an error naming the registry (not_found for 404).
    result<json> registry_get(const std::string& url, const std::string& path) const;
    std::optional<std::string> scheduler_api_url() const;
    // The CQL session for the table browser, connected on first use.
    result<std::shared_ptr<cql_client::session>> cql_session();
    // The health view's CQL check through that session (TLS stores); empty: answered.
    std::string cql_session_probe();
    // Decodes a Confluent-framed Avro body through the registry (schemas cached).
    result<json> decode_avro(int32_t schema_id, std::string_view body);

    component_context& ctx_;
    settings settings_;
    log::logger log_{"console"};
    std::unique_ptr<kafka_client> kafka_;
    history history_;
    worker_pool workers_;

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;                 // guarded by mutex_
    json overview_;                         // the latest sample; guarded by mutex_
    json health_;                           // guarded by mutex_
    std::map<std::string, json> topic_stats_;  // by topic: records, rates, size; guarded by mutex_
    std::map<std::string, json> group_stats_;  // by group: state, lag, rate; guarded by mutex_
    std::vector<http::event_stream> subscribers_;  // /api/events clients; guarded by mutex_
    // Registry schemas by id (nullptr: a JSON Schema, decoded as JSON); guarded by mutex_.
    std::map<int32_t, std::shared_ptr<const avro::schema>> schema_cache_;
    // Live-tail threads and whether each has finished; guarded by mutex_.
    std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> tails_;
    std::atomic<int64_t> open_tails_{0};
    std::thread sampler_;
    std::mutex cql_mutex_;
    std::shared_ptr<cql_client::session> cql_;  // guarded by cql_mutex_

    // Previous sample, for rates (sampler thread only).
    int64_t last_sample_ms_ = 0;
    std::map<topic_partition, int64_t> last_high_;
    bool last_failed_ = true;  // the previous sample could not read the offsets
    std::map<std::string, std::map<topic_partition, int64_t>> last_committed_;
    double last_bytes_in_ = -1;
    double last_bytes_out_ = -1;
};

}  // namespace millrace::console
