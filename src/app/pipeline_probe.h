// The pipeline's true totals for `millrace up`'s status block, live line and
// /status, read from the stores themselves (not from this process's counters,
// which start at 0 after a restart):
//   - users fetched: rows of the source's PostgreSQL table (cdc.tables' first),
//     `SELECT count(*)` through libpq, again only after 50 times as long as the
//     last count took (a scan of the whole table: at 1M users it starved the
//     pipeline when run every second);
//   - in Kafka: the end offsets of up.status_topic, summed over its partitions;
//   - in the table: up.status_table's live-row counter, through CQL from
//     system.size_estimates (our store keeps an exact per-table counter there,
//     a map look-up; Apache Cassandra answers its own estimate);
//   - lag: end offset less the committed offset of up.status_group, summed.
// A thread measures every second (the first right after start) so that no
// request blocks the io thread; `counts()` returns the latest measurement.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <thread>

#include "status.h"

namespace millrace::app {

struct probe_targets {
    std::string kafka_bootstrap;  // host:port[,...]; empty: no Kafka totals
    // librdkafka properties set first (security: SASL_SSL, credentials, CA).
    std::vector<std::pair<std::string, std::string>> kafka_properties;
    std::string topic;
    std::string group;
    std::string cql_contact_points;  // empty: no table total
    std::string cql_username, cql_password, cql_tls_ca;  // empty: no login / plaintext
    std::string table;               // keyspace.table
    std::string postgres_dsn;        // empty: no users total
    std::string users_table;         // schema.table
};

// Which totals the last measurement got; a missing one falls back to the
// process's counters in render (nullopt).
struct probed_counts {
    std::optional<double> users_fetched;
    std::optional<double> records_in_kafka;
    std::optional<double> rows_in_table;
    std::optional<double> processor_lag;
};

class pipeline_probe {
public:
    explicit pipeline_probe(probe_targets targets);
    ~pipeline_probe();  // stop()
    pipeline_probe(const pipeline_probe&) = delete;
    pipeline_probe& operator=(const pipeline_probe&) = delete;

    // Starts the measuring thread; `first` runs on it after the first
    // measurement (not at all when stopped before).
    void start(std::function<void()> first = {});
    // Stops the thread and closes every client (before the parts it reads
    // stop, so that no client logs their going away). Idempotent.
    void stop();
    probed_counts counts() const;

private:
    struct clients;
    void loop(std::function<void()> first);
    void measure_once();

    probe_targets targets_;
    std::unique_ptr<clients> clients_;  // used by one thread at a time
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  // guarded by mutex_
    probed_counts counts_;   // guarded by mutex_
    std::thread thread_;
};

// `counts` with the probed totals in place of the process's counters.
pipeline_counts merge_counts(pipeline_counts counters, const probed_counts& probed);

}  // namespace millrace::app
