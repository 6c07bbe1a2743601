// One stream job: a compiled SQL file (sql::job_program) run against Kafka
// and the CQL store. Reads every source topic of the file in one consumer
// group, decodes each record with the sql library, runs every INSERT of the
// file on it (a statement set reads its source once), writes the rows to the
// sinks in micro-batches, sends rejects to the DLQ topic, keeps window state
// exactly once in the window store, and commits offsets only for records
// whose every effect was acknowledged.
//
// Threads: the job runs on its own worker thread, which owns all of its state
// (batches, offset tracker, window runners) and drives librdkafka (consumer
// poll, rebalance callbacks, DLQ delivery reports, commits). Sink and store
// completions arrive on their threads; they are queued and the worker is woken
// through one eventfd, which librdkafka also signals when records arrive. No
// lock is held while the worker does work. status() may be called from any
// thread.
//
// Flow: records fill a batch until batch_size or max_delay after its first
// record; a dispatched batch becomes sink requests (rows_per_request rows
// each), at most max_in_flight at once. When more than max_pending records are
// unacknowledged, the assigned partitions are paused; they resume below half
// of that.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "millrace/common/services.h"
#include "millrace/common/clock.h"
#include "millrace/common/http_client_auth.h"
#include "millrace/common/metrics.h"
#include "millrace/cql_client/client.h"
#include "millrace/sql/program.h"

namespace millrace::processor {

struct job_options {
    std::string name;       // the file name without .sql
    std::string file;       // where the SQL came from, for messages
    std::string bootstrap;  // the pipeline's broker; a table's properties.bootstrap.servers wins
    std::string group;      // consumer group
    std::string dlq_topic;  // "" logs and drops rejects
    // librdkafka "name=value" for clients of `bootstrap` only (security::kafka_client_properties:
    // SASL_SSL and the admin's credentials, kafka.client_properties): a table naming another
    // cluster in properties.bootstrap.servers never gets them.
    std::vector<std::string> cluster_properties;
    std::vector<std::string> kafka_properties;  // extra librdkafka "name=value" for every client (processor.kafka_properties)
    std::string registry_url = "http://127.0.0.1:8081";
    http::client_auth registry_auth{};  // millrace's own secured registry; none for a configured URL
    std::string contact_points;  // cql.contact_points, else the embedded store
    services::cql_login cql_login;  // services::cql_credentials
    std::string state_keyspace = "millrace_jobs";
    int replication_factor = 1;
    cql_client::consistency consistency = cql_client::consistency::local_quorum;
    int cql_connections = 2;
    size_t batch_size = 1000;
    std::chrono::milliseconds max_delay{5};
    size_t max_in_flight = 64;
    size_t max_pending = 50000;
    size_t rows_per_request = 1;
    std::chrono::milliseconds commit_interval{1000};
    std::chrono::milliseconds drain_timeout{10000};
};

// A job's live state, for `millrace jobs list`, /status and the console.
struct job_status {
    std::string name;
    std::string file;
    std::string state;  // starting | running | failed | stopping | stopped
    std::string group;
    std::vector<std::string> sources;  // topics
    std::vector<std::string> sinks;    // describe() of each sink
    uint64_t records_in = 0;
    uint64_t rows_out = 0;
    uint64_t rejected = 0;
    double records_in_per_second = 0;
    double rows_out_per_second = 0;
    int64_t lag = 0;
    size_t assigned_partitions = 0;
    std::string last_error;
};

class job {
public:
    job(sql::job_program program, job_options options, metrics::registry& metrics, millrace::clock& clock);
    ~job();  // stops and joins the worker
    job(const job&) = delete;
    job& operator=(const job&) = delete;

    // Starts the worker thread. Sinks are opened there (retried until they
    // work or the job stops), so start() never blocks on the network.
    void start();
    // Asks the worker to finish: dispatch, drain (bounded by drain_timeout),
    // commit, leave the group. Returns at once; thread-safe.
    void request_stop();
    // Whether the worker has finished (after request_stop(), or a fatal error).
    bool stopped() const { return finished_.load(); }
    void join();
    // Whether the worker ended so that the job runs again (an exactly-once job whose transaction
    // failed: a new run continues from the committed offsets); thread-safe.
    bool restart_requested() const;
    // A snapshot of the live state; thread-safe.
    job_status status() const;
    // The job file it runs (job_options::file); thread-safe.
    const std::string& file() const { return file_; }

    class impl;

private:
    std::string file_;
    std::unique_ptr<impl> impl_;
    std::thread worker_;
    std::atomic<bool> finished_{false};
};

}  // namespace millrace::processor
