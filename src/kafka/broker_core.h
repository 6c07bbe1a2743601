// The broker's shared state, as the API handlers see it: configuration, the
// topic registry with its partition logs, the group coordinator, the producer
// id allocator and metrics. Single-threaded: owned and used on the broker's
// io_context thread only (the flusher thread touches files, never this).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "auth/security.h"
#include "fetch_session.h"
#include "millrace/common/clock.h"
#include "millrace/common/connection.h"
#include "millrace/common/file_system.h"
#include "millrace/common/log.h"
#include "millrace/common/metrics.h"

namespace millrace::kafka {

class topic_registry;
class group_coordinator;
class flusher;
class txn_coordinator;

enum class flush_policy {
    acks_all,  // fsync before acknowledging acks=-1 produce; otherwise every flush_interval
    always,    // fsync before acknowledging every produce with acks != 0
    interval,  // fsync every flush_interval; acknowledge after the append
    os,        // never fsync explicitly; the OS writes back dirty pages
};

struct broker_config {
    std::string host = "127.0.0.1";
    uint16_t port = 9092;
    std::string advertised_host;  // what Metadata tells clients; defaults to host
    std::string data_dir;
    int32_t node_id = 1;
    int32_t num_partitions = 1;
    bool auto_create_topics = true;
    flush_policy flush = flush_policy::acks_all;
    int64_t flush_interval_ms = 1000;
    int64_t max_request_bytes = 100 << 20;
    size_t fetch_session_cache_slots = 1000;  // max.incremental.fetch.session.cache.slots
    int64_t fetch_session_eviction_ms = 120'000;  // min.incremental.fetch.session.eviction.ms
    int64_t segment_bytes = 1LL << 30;
    int64_t segment_ms = 7LL * 24 * 3600 * 1000;
    int64_t retention_ms = 7LL * 24 * 3600 * 1000;
    int64_t retention_bytes = -1;
    int64_t retention_check_interval_ms = 30'000;
    int64_t max_message_bytes = 1048588;
    int64_t group_initial_rebalance_delay_ms = 0;
    int64_t group_min_session_timeout_ms = 6'000;
    int64_t group_max_session_timeout_ms = 1'800'000;
    int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
    int64_t transaction_max_timeout_ms = 900'000;  // transaction.max.timeout.ms
    int64_t group_consumer_session_timeout_ms = 45'000;   // group.consumer.session.timeout.ms
    int64_t group_consumer_heartbeat_interval_ms = 5'000; // group.consumer.heartbeat.interval.ms
    std::vector<std::string> group_consumer_assignors = {"uniform", "range"};  // group.consumer.assignors
    auth::security_config security;  // SASL and ACLs when security.enabled
};

// Parses `key=value` lines (the format of the broker's small metadata files);
// a later duplicate key is ignored.
std::map<std::string, std::string> parse_properties(std::string_view text);

class broker_core {
public:
    broker_core(asio::io_context& io, broker_config cfg, metrics::registry& metrics, millrace::clock& clock,
                file_system& fs);
    ~broker_core();

    asio::io_context& io() { return io_; }
    const broker_config& config() const { return cfg_; }
    millrace::clock& clock() { return clock_; }
    file_system& fs() { return fs_; }
    metrics::registry& metrics() { return metrics_; }
    const log::logger& log() const { return log_; }

    topic_registry& topics() { return *topics_; }
    group_coordinator& groups() { return *groups_; }
    flusher& flush() { return *flusher_; }
    // Transactional ids, their producers and open transactions (KIP-98).
    txn_coordinator& txns() { return *txns_; }
    fetch_session_cache& fetch_sessions() { return fetch_sessions_; }
    // Credentials, ACLs and super users; files in <data_dir>/.security.
    auth::security_manager& security() { return *security_; }

    const std::string& cluster_id() const { return cluster_id_; }
    int32_t node_id() const { return cfg_.node_id; }
    // The host and port clients must connect to (set once the listener is bound).
    const std::string& advertised_host() const { return advertised_host_; }
    int32_t advertised_port() const { return advertised_port_; }
    void set_advertised(std::string host, int32_t port) {
        advertised_host_ = std::move(host);
        advertised_port_ = port;
    }

    // Per-topic traffic counters, created on first use.
    struct topic_stats {
        metrics::counter& bytes_in;
        metrics::counter& records_in;
        metrics::counter& bytes_out;
        metrics::counter& records_out;
    };
    topic_stats& stats(const std::string& topic);

    // Fetch long-polling: a waiting Fetch parks its timer; every append wakes
    // all parked fetches so they re-check min_bytes.
    void park_fetch(asio::steady_timer& timer) { parked_fetches_.park(timer); }
    void unpark_fetch(asio::steady_timer& timer) { parked_fetches_.unpark(timer); }
    void wake_fetches() { parked_fetches_.wake_all(); }
    // The broker is stopping: parked fetches are woken and answer with what
    // they have; a fetch that would park answers at once.
    void stop_parked_requests() { parked_fetches_.stop(); }
    bool stopping() const { return parked_fetches_.stopping(); }

    // Dynamic broker configs (Incremental/AlterConfigs on the BROKER resource):
    // log.retention.ms, log.retention.bytes, log.segment.bytes and
    // message.max.bytes. `values` is the whole dynamic set: keys left out
    // return to their static values. Validated, persisted in
    // <data_dir>/dynamic.properties (read back by open()) and applied at once
    // to every topic that does not override them. errc::invalid_argument
    // names the bad key or value; I/O errors from the write.
    status set_dynamic_configs(const std::map<std::string, std::string>& values, bool validate_only);
    const std::map<std::string, std::string>& dynamic_configs() const { return dynamic_; }

    // Allocates a new idempotent producer id, durably.
    result<int64_t> next_producer_id();

    // Loads metadata, recovers logs and offsets. Call once before serving.
    status open();
    // Flushes everything and writes the clean-shutdown marker.
    void close();

private:
    asio::io_context& io_;
    broker_config cfg_;
    metrics::registry& metrics_;
    millrace::clock& clock_;
    file_system& fs_;
    log::logger log_{"broker"};
    std::string cluster_id_;
    broker_config static_cfg_;  // the configuration as started; cfg_ is it plus dynamic_
    std::map<std::string, std::string> dynamic_;
    std::string advertised_host_;
    int32_t advertised_port_ = 0;
    int64_t next_producer_id_ = 0;
    int64_t producer_id_limit_ = 0;  // ids below this are reserved durably
    std::map<std::string, std::unique_ptr<topic_stats>> stats_;
    net::park_gate parked_fetches_;
    std::unique_ptr<topic_registry> topics_;
    std::unique_ptr<group_coordinator> groups_;
    std::unique_ptr<flusher> flusher_;
    std::unique_ptr<txn_coordinator> txns_;
    std::unique_ptr<auth::security_manager> security_;
    fetch_session_cache fetch_sessions_;
};

}  // namespace millrace::kafka
