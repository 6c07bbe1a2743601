// The stream job: consume users_created in a consumer group, parse and
// validate each record, upsert users into the sink in micro-batches, send
// rejects to the DLQ topic, keep the per-minute aggregate, and commit offsets
// only for records whose writes were acknowledged.
//
// Threads: the job runs on its own worker thread, which owns all of its state
// (batches, offset tracker, aggregator) and drives librdkafka (consumer poll,
// rebalance callbacks, DLQ delivery reports, commits). Sink completions arrive
// on the sink's thread; they are queued and the worker is woken through one
// eventfd, which librdkafka also signals when records arrive. No lock is held
// while the worker does work.
//
// Flow: records fill a batch until processor.batch_size or
// processor.max_delay after its first record; a dispatched batch becomes sink
// requests (processor.rows_per_request rows each), at most
// processor.max_in_flight at once. When more than processor.max_pending
// records are unacknowledged, the assigned partitions are paused; they resume
// below half of that.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "millrace/common/clock.h"
#include "millrace/common/metrics.h"
#include "sink.h"

namespace millrace::processor {

struct job_options {
    std::string bootstrap;
    std::string topic = "users_created";
    std::string group = "millrace-processor";
    std::string dlq_topic = "users_created.dlq";  // "" drops rejects after logging them
    std::string start_from = "earliest";           // auto.offset.reset
    std::vector<std::string> kafka_properties;     // extra librdkafka "name=value"
    std::string registry_url = "http://127.0.0.1:8081";  // schemas of Confluent-framed Avro records
    size_t batch_size = 1000;
    std::chrono::milliseconds max_delay{5};
    size_t max_in_flight = 64;
    size_t max_pending = 50000;
    size_t rows_per_request = 1;
    std::chrono::milliseconds commit_interval{1000};
    std::chrono::milliseconds drain_timeout{10000};
    bool aggregate = true;
    int64_t window_ms = 60000;
};

class job {
public:
    job(job_options options, std::unique_ptr<sink> out, metrics::registry& metrics, millrace::clock& clock);
    ~job();  // stops and joins the worker
    job(const job&) = delete;
    job& operator=(const job&) = delete;

    // Starts the worker thread. The sink is opened there (retried until it
    // works or the job stops), so start() never blocks on the network.
    void start();
    // Asks the worker to finish: dispatch, drain (bounded by drain_timeout),
    // commit, leave the group. Returns at once; thread-safe.
    void request_stop();
    // Whether the worker has finished (after request_stop()).
    bool stopped() const { return finished_.load(); }
    void join();

    class impl;

private:
    std::unique_ptr<impl> impl_;
    std::thread worker_;
    std::atomic<bool> finished_{false};
};

}  // namespace millrace::processor
