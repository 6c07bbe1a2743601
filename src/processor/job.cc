#include "job.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cql_table_sink.h"
#include "dlq.h"
#include "kafka_sink.h"
#include "millrace/common/json_text.h"
#include "millrace/common/log.h"
#include "millrace/common/security.h"
#include "millrace/registry/client.h"
#include "millrace/sql/decoder.h"
#include "millrace/sql/encoder.h"
#include "millrace/sql/pipeline.h"
#include "offset_tracker.h"
#include "sql_values.h"
#include "window_runner.h"
#include "window_store.h"

namespace millrace::processor {

namespace {

using mono = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct message_deleter {
    void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;

// Samples of one tick, for the p50/p99 gauges.
class quantile_window {
public:
    void add(double v) {
        if (samples_.size() < 20000) samples_.push_back(v);
    }
    void publish(metrics::gauge& p50, metrics::gauge& p99) {
        if (samples_.empty()) return;
        auto at = [&](double q) {
            size_t idx = std::min(samples_.size() - 1, static_cast<size_t>(q * static_cast<double>(samples_.size())));
            std::nth_element(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(idx), samples_.end());
            return samples_[idx];
        };
        p50.set(at(0.5));
        p99.set(at(0.99));
        samples_.clear();
    }

private:
    std::vector<double> samples_;
};

std::chrono::milliseconds backoff(int attempt) {
    int64_t ms = 50LL << std::min(attempt, 7);
    return std::chrono::milliseconds(std::min<int64_t>(ms, 5000));
}

// The offset tracker keys partitions by one integer: the source slot in the
// high bits, the Kafka partition in the low 20 (a topic of a job has fewer
// than a million partitions).
constexpr int k_partition_bits = 20;
int32_t partition_id(size_t slot, int32_t partition) { return static_cast<int32_t>(slot << k_partition_bits) | partition; }
size_t slot_of(int32_t id) { return static_cast<size_t>(id) >> k_partition_bits; }
int32_t partition_of(int32_t id) { return id & ((1 << k_partition_bits) - 1); }

const std::string k_sink_rejected = "sink_rejected";

}  // namespace

class job::impl {
public:
    impl(sql::job_program p, job_options o, metrics::registry& m, millrace::clock& c)
        : program_(std::move(p)),
          o_(std::move(o)),
          clock_(c),
          log_("job " + o_.name),
          registry_(registry::client_options{.url = o_.registry_url, .auth = o_.registry_auth}),
          records_in_(m.make_counter("millrace_processor_records_in_total", "Records read from the source topics.")),
          rows_out_(m.make_counter("millrace_processor_rows_written_total", "Rows the sinks acknowledged.")),
          agg_rows_out_(m.make_counter("millrace_processor_aggregate_rows_written_total",
                                       "Window rows (merged over partitions) the sinks acknowledged.")),
          agg_skipped_(m.make_counter("millrace_processor_aggregate_skipped_total",
                                      "Records not counted again because their window partial already covered them "
                                      "(redelivered after a restart or rebalance).")),
          metrics_(m),
          sink_retries_(m.make_counter("millrace_processor_sink_retries_total", "Sink requests sent again after a retryable failure.")),
          rebalances_(m.make_counter("millrace_processor_rebalances_total", "Partition assignments and revocations.")),
          pauses_(m.make_counter("millrace_processor_pauses_total", "Times the partitions were paused for backpressure.")),
          commits_(m.make_counter("millrace_processor_commits_total", "Offset commits sent.")),
          commit_errors_(m.make_counter("millrace_processor_commit_errors_total", "Offset commits that failed.")),
          batch_records_(m.make_histogram("millrace_processor_batch_records", "Records per dispatched micro-batch.",
                                          {1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000})),
          sink_seconds_(m.make_histogram("millrace_processor_sink_request_seconds",
                                         "Time from sending a sink request to its acknowledgement.", metrics::latency_buckets())),
          e2e_seconds_(m.make_histogram("millrace_processor_end_to_end_seconds",
                                        "Time from the record's Kafka timestamp to the sink's acknowledgement of its row.",
                                        metrics::latency_buckets())),
          sink_p50_(m.make_gauge("millrace_processor_sink_latency_p50_seconds", "Median sink request latency over the last second with traffic.", labels())),
          sink_p99_(m.make_gauge("millrace_processor_sink_latency_p99_seconds", "99th percentile sink request latency over the last second with traffic.", labels())),
          e2e_p50_(m.make_gauge("millrace_processor_end_to_end_p50_seconds", "Median end-to-end latency over the last second with traffic.", labels())),
          e2e_p99_(m.make_gauge("millrace_processor_end_to_end_p99_seconds", "99th percentile end-to-end latency over the last second with traffic.", labels())),
          in_rate_(m.make_gauge("millrace_processor_records_in_per_second", "Records read per second (last second).", labels())),
          out_rate_(m.make_gauge("millrace_processor_rows_written_per_second", "Rows acknowledged per second (last second).", labels())),
          in_flight_gauge_(m.make_gauge("millrace_processor_sink_in_flight", "Sink requests in flight.", labels())),
          pending_gauge_(m.make_gauge("millrace_processor_pending_records", "Records read and not yet acknowledged.", labels())),
          paused_gauge_(m.make_gauge("millrace_processor_paused", "1 while partitions are paused for backpressure.", labels())),
          assigned_gauge_(m.make_gauge("millrace_processor_assigned_partitions", "Partitions assigned to this instance.", labels())),
          lag_gauge_(m.make_gauge("millrace_processor_consumer_lag", "Records between the consumer position and the partitions' ends.", labels())),
          registry_retries_(m.make_counter("millrace_processor_registry_retries_total",
                                           "Schema fetches retried because the registry was unreachable.")) {
        efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        MILLRACE_ASSERT(efd_ >= 0, "eventfd: {}", std::strerror(errno));
        std::lock_guard lock(status_mutex_);
        status_.name = o_.name;
        status_.file = o_.file;
        status_.state = "starting";
        status_.group = o_.group;
    }

    ~impl() {
        if (efd_ >= 0) ::close(efd_);
    }

    void request_stop() {
        stop_.store(true);
        wake();
    }

    job_status status() const {
        std::lock_guard lock(status_mutex_);
        job_status s = status_;
        s.records_in = in_count_.load();
        s.rows_out = out_count_.load();
        s.rejected = rejected_count_.load();
        return s;
    }

    // Runs the job; an unexpected exception fails this job only (state
    // `failed`, its message the last error), never the process.
    void run() {
        bool thrown = true;
        try {
            run_job();
            thrown = false;
        } catch (const std::exception& e) {
            fail(fmt::format("internal error, the job stopped: {}", e.what()));
        } catch (...) {
            fail("internal error, the job stopped: unknown exception");
        }
        if (thrown) {
            // Nothing is committed: the records after the last commit are read again on restart.
            try {
                destroy_clients();
                teardown_sinks();
            } catch (...) {
            }
        }
    }

    void run_job() {
        if (auto st = setup(); !st) {
            fail(st.err().message());
            teardown_sinks();
            return;
        }
        if (!open_sinks() || !create_clients()) {
            if (!stop_.load()) fail(last_error());
            destroy_clients();
            teardown_sinks();
            if (stop_.load()) set_state("stopped");
            return;
        }
        std::string topics;
        for (const auto& s : sources_) topics += (topics.empty() ? "" : ",") + s.topic;
        std::string outs;
        for (const auto& s : sinks_) outs += (outs.empty() ? "" : "; ") + s.out->describe();
        log_.info("running {}: consuming {} as group {} from {} into {}{}", o_.file, topics, o_.group, bootstrap_, outs,
                  o_.dlq_topic.empty() ? "" : fmt::format("; rejects go to {}", o_.dlq_topic));
        set_state("running");
        auto next_tick = mono::now() + 1s;
        while (!stop_.load() && !restart_reason_) {
            if (!restore_assigned()) break;
            bool more = consume_some(2000);
            service(false);
            if (mono::now() >= next_tick) {
                tick();
                next_tick = mono::now() + 1s;
            }
            if (!more) wait_for_work(next_wait(next_tick));
        }
        if (restart_reason_ && !stop_.load()) {
            set_state("restarting");
            shutdown_dirty();
            restart_requested_.store(true);
            return;
        }
        set_state("stopping");
        shutdown();
        set_state("stopped");
    }

    // rdkafka callbacks (on the worker thread, inside consumer/producer polls).
    static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque);
    static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque);
    static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
    static void on_txn_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

private:
    struct source {
        size_t table = 0;
        std::string topic;
        std::unique_ptr<sql::source_decoder> decoder;
        std::vector<size_t> pipelines;  // indexes into pipelines_
        std::vector<std::pair<size_t, std::string>> not_null;  // NOT NULL columns: index, name
    };
    struct sink_slot {
        size_t table = 0;
        bool cql = false;
        std::vector<sql::column_type> columns;  // what it writes, in order
        std::vector<std::string> key_columns;   // cql: the primary key's columns (never NULL)
        std::unique_ptr<sink> out;
        std::unique_ptr<sql::row_encoder> encoder;  // kafka sinks
        bool exactly_once = false;  // a kafka sink writing inside the job's transactions
    };
    struct pipeline {
        const sql::pipeline_def* def = nullptr;
        size_t sink = 0;  // index into sinks_
        std::unique_ptr<sql::stateless_pipeline> stateless;
        std::unique_ptr<window_runner> window;
        std::optional<int64_t> marked;  // the last watermark queued to window_fired (Kafka sinks)
    };
    struct row_meta {
        int64_t timestamp_ms;
        rd_kafka_message_t* message;  // owned by the batch's messages
    };
    struct reject {
        rd_kafka_message_t* message;
        rejection why;
    };
    struct batch {
        uint64_t id = 0;
        std::vector<message_ptr> messages;  // every record of the batch; freed when it completes
        std::vector<std::vector<sink_row>> rows;  // per sink
        std::vector<std::vector<row_meta>> meta;  // per sink, beside rows
        std::vector<reject> rejects;
        std::vector<std::pair<int32_t, int64_t>> last_offsets;  // per partition id, in first-seen order
        std::vector<std::pair<int32_t, uint64_t>> segments;
        size_t remaining = 0;
        mono::time_point opened;
    };
    struct request {
        uint64_t batch_id;
        size_t sink;
        size_t begin, end;  // rows [begin, end) of the batch's rows of that sink
        int attempt;
    };
    enum class completion_kind { rows, partials, window_rows };
    struct completion {
        completion_kind kind;
        request req;
        sink_outcome outcome;
        mono::time_point sent;
    };
    // A DLQ record waiting for its delivery report.
    struct dlq_ticket {
        uint64_t batch_id;
        rd_kafka_message_t* message;  // the rejected record; nullptr for a window row (value below)
        header_list headers;
        int attempt = 0;
        std::string value;        // a window row's DLQ value (message == nullptr)
        uint64_t round_id = 0;    // a window row's round, which waits for the delivery
    };
    // A window row that cannot be written: its SELECT failed, or a key column of its CQL sink is NULL.
    struct window_reject {
        size_t pipeline;
        sql::window_bounds window;
        std::string group_key;
        std::vector<sql::partial_state> partials;  // the partials it merges (their partitions and offsets)
        rejection why;
        std::string row;  // the row's values as text, when they were computed
    };
    // One round of window persistence: changed partials to the store, then
    // the merged rows of their windows (and the fired ones) to the sinks.
    struct window_round {
        std::vector<stored_partial> partials;
        std::set<std::tuple<size_t, int64_t, int64_t, std::string>> keys;  // pipeline, start, end, group key
        std::vector<std::pair<size_t, sql::window_output>> fired;          // kafka sinks: appended as fired
        std::vector<window_runner::snapshot> applied;                      // per windowed pipeline, at the start
        // pipeline, its partitions, the watermark its windows fired up to (stage 2)
        std::vector<std::tuple<size_t, std::vector<int32_t>, int64_t>> fired_marks;
        int stage = 0;  // 0 write partials, 1 write rows, 2 write fired marks
        size_t outstanding = 0;
        bool failed = false;
        bool retryable = true;
        std::string failure;
        std::vector<std::vector<sink_row>> rows;  // per sink, stage 1
        int attempt = 0;
        std::optional<mono::time_point> retry_at;
        uint64_t id = 0;
        // Window rows rejected to the DLQ (once each, also across stage retries); the round finishes
        // only after the DLQ acknowledged them, so offsets never commit past an unrecorded reject.
        std::set<std::tuple<size_t, int64_t, int64_t, std::string>> rejected;
        size_t dlq_pending = 0;
        bool waiting_dlq = false;
        std::vector<window_reject> window_rejects;  // found while firing (Kafka sinks), sent at stage 1
    };

    metrics::labels labels() const { return {{"job", o_.name}}; }

    void set_state(const std::string& s) {
        std::lock_guard lock(status_mutex_);
        status_.state = s;
    }
    void note_error(const std::string& message) {
        std::lock_guard lock(status_mutex_);
        status_.last_error = message;
    }
    // Clears the last error if it is still the consumer error that records flowing again resolved.
    void clear_transient_error() {
        std::lock_guard lock(status_mutex_);
        if (status_.last_error == transient_error_) status_.last_error.clear();
        transient_error_.clear();
    }
    std::string last_error() const {
        std::lock_guard lock(status_mutex_);
        return status_.last_error;
    }
    void fail(const std::string& message) {
        log_.error("{}: {}", o_.file, message);
        std::lock_guard lock(status_mutex_);
        status_.state = "failed";
        status_.last_error = message;
    }

    // ---- setup -----------------------------------------------------------

    millrace::status setup() {
        const auto& tables = program_.tables();
        std::map<size_t, size_t> source_of_table, sink_of_table;
        for (const auto& read : program_.reads()) {
            if (source_of_table.count(read.source)) continue;
            const auto& t = tables[read.source];
            if (t.connector != "kafka") {
                return make_error(errc::invalid_argument, "source table {} has connector '{}'; a source must be 'kafka'",
                                  t.name, t.connector);
            }
            source s;
            s.table = read.source;
            s.topic = t.option("topic");
            if (s.topic.empty()) return make_error(errc::invalid_argument, "source table {} has no 'topic'", t.name);
            if (s.topic.find(';') != std::string::npos) {
                return make_error(errc::invalid_argument, "source table {}: one topic per table ('{}')", t.name, s.topic);
            }
            std::string bootstrap = t.option("properties.bootstrap.servers", o_.bootstrap);
            if (!bootstrap_.empty() && bootstrap != bootstrap_) {
                return make_error(errc::invalid_argument,
                                  "source tables of one job read one cluster: {} has {}, another {}", t.name, bootstrap, bootstrap_);
            }
            bootstrap_ = bootstrap;
            std::string mode = t.option("scan.startup.mode", "group-offsets");
            if (mode == "earliest-offset" || mode == "group-offsets") start_from_ = "earliest";
            else if (mode == "latest-offset") start_from_ = "latest";
            else {
                return make_error(errc::invalid_argument,
                                  "source table {}: scan.startup.mode '{}' is not earliest-offset, latest-offset or group-offsets",
                                  t.name, mode);
            }
            if (mode == "group-offsets") start_from_ = t.option("properties.auto.offset.reset", "earliest");
            for (const auto& [key, value] : t.options) {
                if (key.rfind("properties.", 0) != 0) continue;
                std::string name = key.substr(11);
                if (name == "bootstrap.servers" || name == "group.id" || name == "auto.offset.reset") continue;
                source_properties_.emplace_back(name, value);
            }
            auto decoder = program_.make_decoder(read.source);
            if (!decoder) return decoder.err().with_context(fmt::format("source table {}", t.name));
            s.decoder = std::move(*decoder);
            for (size_t idx = 0; idx < t.columns.size(); ++idx) {
                if (!t.columns[idx].type.nullable) s.not_null.emplace_back(idx, t.columns[idx].name);
            }
            source_of_table[read.source] = sources_.size();
            sources_.push_back(std::move(s));
        }
        for (const auto& def : program_.pipelines()) {
            if (!sink_of_table.count(def.sink)) {
                auto slot = make_sink(def.sink);
                if (!slot) return slot.err();
                sink_of_table[def.sink] = sinks_.size();
                sinks_.push_back(std::move(*slot));
            }
            pipeline p;
            p.def = &def;
            p.sink = sink_of_table[def.sink];
            if (def.windowed && sinks_[p.sink].exactly_once) {
                return make_error(errc::invalid_argument,
                                  "the INSERT INTO {} is windowed: a window's rows reach Kafka from the window store "
                                  "(appended once by the owner of partition 0), outside the job's transactions; "
                                  "'sink.delivery-guarantee' = 'exactly-once' is for non-windowed INSERTs",
                                  def.sink_table);
            }
            if (def.windowed) {
                auto state = program_.make_window_state(def.index);
                if (!state) return state.err().with_context(fmt::format("the INSERT INTO {}", def.sink_table));
                std::optional<size_t> time_index;
                const auto& cols = tables[def.source].columns;
                for (size_t idx = 0; idx < cols.size(); ++idx) {
                    if (strcasecmp(cols[idx].name.c_str(), def.window.time_column.c_str()) == 0) time_index = idx;
                }
                p.window = std::make_unique<window_runner>(def.index, std::move(*state), def.window, time_index);
                p.window->set_state_key(o_.name + "@" + window_plan_fingerprint(program_, def));
                windowed_.push_back(pipelines_.size());
            } else {
                auto stateless = program_.make_stateless(def.index);
                if (!stateless) return stateless.err().with_context(fmt::format("the INSERT INTO {}", def.sink_table));
                p.stateless = std::move(*stateless);
            }
            auto src = source_of_table.find(def.source);
            if (src == source_of_table.end()) {
                return make_error(errc::invalid_argument, "the INSERT INTO {} reads {}, which no read covers", def.sink_table,
                                  def.source_table);
            }
            sources_[src->second].pipelines.push_back(pipelines_.size());
            pipelines_.push_back(std::move(p));
        }
        if (sources_.empty()) return make_error(errc::invalid_argument, "no INSERT INTO: the job reads nothing");
        if (!windowed_.empty()) {
            store_ = std::make_unique<window_store>(window_store_options{o_.contact_points, o_.cql_login, o_.state_keyspace,
                                                                         o_.replication_factor, o_.consistency});
        }
        std::lock_guard lock(status_mutex_);
        status_.sources.clear();
        for (const auto& s : sources_) status_.sources.push_back(s.topic);
        status_.sinks.clear();
        for (const auto& s : sinks_) status_.sinks.push_back(s.out->describe());
        return {};
    }

    result<sink_slot> make_sink(size_t table) {
        const auto& t = program_.tables()[table];
        sink_slot slot;
        slot.table = table;
        slot.columns = t.persisted_columns();
        if (t.connector == "cassandra") {
            slot.cql = true;
            cql_table_options c;
            c.contact_points = t.option("cql.contact_points", o_.contact_points);
            c.login = o_.cql_login;
            c.keyspace = t.option("keyspace");
            c.table = t.option("table", t.name);
            if (c.keyspace.empty()) return make_error(errc::invalid_argument, "sink table {} has no 'keyspace'", t.name);
            for (const auto& col : slot.columns) {
                std::string type = t.option("cql.type." + col.name);
                if (type.empty()) {
                    auto mapped = sql::cql_type_for(col.type);
                    if (!mapped) return mapped.err().with_context(fmt::format("sink table {} column {}", t.name, col.name));
                    type = *mapped;
                }
                c.columns.push_back(cql_column{col.name, type});
            }
            if (t.primary_key.empty()) {
                return make_error(errc::invalid_argument, "sink table {} (cassandra) needs a PRIMARY KEY (...) NOT ENFORCED",
                                  t.name);
            }
            // PRIMARY KEY (a, b, c): the first column partitions, the others cluster;
            // 'cql.partition-key' = 'a;b' makes more columns partition the table.
            std::string partition = t.option("cql.partition-key");
            std::set<std::string> partition_cols;
            if (!partition.empty()) {
                size_t begin = 0;
                while (begin <= partition.size()) {
                    size_t end = partition.find(';', begin);
                    if (end == std::string::npos) end = partition.size();
                    partition_cols.insert(partition.substr(begin, end - begin));
                    begin = end + 1;
                }
            } else {
                partition_cols.insert(t.primary_key.front());
            }
            for (const auto& k : t.primary_key) (partition_cols.count(k) ? c.partition_key : c.clustering_key).push_back(k);
            slot.key_columns = t.primary_key;
            c.replication_factor = std::atoi(t.option("replication-factor", std::to_string(o_.replication_factor)).c_str());
            c.write_consistency = o_.consistency;
            c.connections = o_.cql_connections;
            slot.out = make_cql_table_sink(std::move(c));
            return slot;
        }
        if (t.connector == "kafka") {
            kafka_sink_options k;
            k.bootstrap = t.option("properties.bootstrap.servers", o_.bootstrap);
            k.topic = t.option("topic");
            if (k.topic.empty()) return make_error(errc::invalid_argument, "sink table {} has no 'topic'", t.name);
            for (const auto& property : properties_for(k.bootstrap)) {
                auto eq = property.find('=');
                if (eq != std::string::npos) k.properties.emplace_back(property.substr(0, eq), property.substr(eq + 1));
            }
            for (const auto& [key, value] : t.options) {
                if (key.rfind("properties.", 0) == 0 && key != "properties.bootstrap.servers" && key != "properties.group.id") {
                    k.properties.emplace_back(key.substr(11), value);
                }
            }
            k.client_id = "millrace-job-" + o_.name;
            std::string guarantee = t.option("sink.delivery-guarantee", "at-least-once");
            std::transform(guarantee.begin(), guarantee.end(), guarantee.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (guarantee == "exactly-once") {
                if (auto st = use_transactions(t, k); !st) return st.err();
                slot.exactly_once = true;
                slot.out = make_transactional_kafka_sink(
                    k.bootstrap, k.topic, [this] { return producer_; }, [this] { return ensure_txn(); });
            } else if (guarantee == "at-least-once" || guarantee == "none") {
                // 'none' (Flink: no guarantee) gets at-least-once's acknowledged writes: a stronger promise.
                slot.out = make_kafka_sink(std::move(k));
            } else {
                return make_error(errc::invalid_argument,
                                  "sink table {}: 'sink.delivery-guarantee' = '{}' is not 'at-least-once', 'exactly-once' "
                                  "or 'none'",
                                  t.name, t.option("sink.delivery-guarantee"));
            }
            if (t.format != "avro-confluent") {
                auto enc = program_.make_encoder(table);
                if (!enc) return enc.err().with_context(fmt::format("sink table {}", t.name));
                slot.encoder = std::move(*enc);
            }
            return slot;
        }
        return make_error(errc::invalid_argument, "sink table {} has connector '{}'; a sink is 'kafka' or 'cassandra'", t.name,
                          t.connector);
    }

    // An exactly-once Kafka sink: every such sink of the job, and its DLQ, write inside one transaction
    // per job instance that also carries the consumed offsets, so it must be on the sources' cluster.
    millrace::status use_transactions(const sql::table_def& t, const kafka_sink_options& k) {
        std::string prefix = t.option("sink.transactional-id-prefix");
        if (prefix.empty()) {
            return make_error(errc::invalid_argument,
                              "sink table {}: 'sink.delivery-guarantee' = 'exactly-once' needs 'sink.transactional-id-prefix'",
                              t.name);
        }
        if (k.bootstrap != bootstrap_) {
            return make_error(errc::invalid_argument,
                              "sink table {} writes exactly-once to {} but the job reads {}: the transaction commits the "
                              "consumed offsets, so it must be on the sources' cluster",
                              t.name, k.bootstrap, bootstrap_);
        }
        if (!txn_prefix_.empty() && prefix != txn_prefix_) {
            return make_error(errc::invalid_argument,
                              "sink table {}: 'sink.transactional-id-prefix' = '{}', but another exactly-once sink of the "
                              "job says '{}'; the job's sinks share one transaction, so one prefix",
                              t.name, prefix, txn_prefix_);
        }
        txn_prefix_ = prefix;
        eos_ = true;
        for (const auto& [key, value] : t.options) {
            if (key.rfind("properties.", 0) == 0 && key != "properties.bootstrap.servers" && key != "properties.group.id") {
                txn_properties_.emplace_back(key.substr(11), value);
            }
        }
        return {};
    }

    // Registers the Avro schema of an avro-confluent Kafka sink (retryable).
    millrace::status register_encoder(sink_slot& s) {
        const auto& t = program_.tables()[s.table];
        std::string subject = t.option("avro-confluent.subject", t.option("topic") + "-value");
        std::string schema = sql::avro_schema_for(t);  // the value columns: what make_encoder() encodes
        auto id = registry_.register_schema(subject, schema);
        if (!id) return id.err().with_context(fmt::format("registering the schema of {} as {}", t.name, subject));
        auto enc = program_.make_encoder(s.table, *id, schema);
        if (!enc) return enc.err();
        s.encoder = std::move(*enc);
        return {};
    }

    void teardown_sinks() {
        for (auto& s : sinks_) s.out->close();
        if (store_) store_->close();
    }

    // ---- the wait loop ------------------------------------------------------

    void wake() {
        uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(efd_, &one, sizeof one);
    }

    void wait_for_work(std::chrono::milliseconds timeout) {
        pollfd p{efd_, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
        uint64_t value;
        [[maybe_unused]] auto n = ::read(efd_, &value, sizeof value);
    }

    std::chrono::milliseconds next_wait(mono::time_point next_tick) const {
        auto now = mono::now();
        auto until = std::min(next_tick, now + 100ms);
        if (open_) until = std::min(until, open_->opened + o_.max_delay);
        if (!retries_.empty()) until = std::min(until, retries_.begin()->first);
        if (!dlq_retries_.empty()) until = std::min(until, dlq_retries_.begin()->first);
        if (dlq_outstanding_ > 0) until = std::min(until, now + 10ms);
        if (round_ && round_->retry_at) until = std::min(until, *round_->retry_at);
        if (!windowed_.empty()) until = std::min(until, now + 50ms);  // early firing and rounds
        return std::chrono::ceil<std::chrono::milliseconds>(std::max(until - now, mono::duration::zero()));
    }

    bool sleep_unless_stopped(std::chrono::milliseconds d) {
        auto until = mono::now() + d;
        while (!stop_.load() && mono::now() < until) {
            wait_for_work(std::chrono::ceil<std::chrono::milliseconds>(until - mono::now()));
        }
        return !stop_.load();
    }

    bool open_sinks() {
        auto open_one = [&](const std::string& what, auto&& open) {
            for (int attempt = 0;; ++attempt) {
                auto st = open();
                if (st) return true;
                note_error(fmt::format("{}: {}", what, st.err().message()));
                if (attempt == 0 || attempt % 10 == 0) log_.warn("{}: {}; retrying", what, st.err().message());
                if (!sleep_unless_stopped(std::min<std::chrono::milliseconds>(backoff(attempt) * 4, 5s))) return false;
            }
        };
        for (auto& s : sinks_) {
            if (!open_one(s.out->describe(), [&] { return s.out->open(); })) return false;
            if (!s.cql && !s.encoder && !open_one("schema registry " + o_.registry_url, [&] { return register_encoder(s); })) {
                return false;
            }
        }
        if (store_ && !open_one(store_->describe(), [&] { return store_->open(); })) return false;
        note_error("");
        if (store_ && !open_one("window plans in " + store_->describe(), [&] { return check_plans(); })) return false;
        return true;
    }

    // Stores each windowed pipeline's plan fingerprint; a different stored one means the job was edited
    // into an incompatible plan: its state (kept under the old "<job>@<fingerprint>" key) is not restored.
    millrace::status check_plans() {
        for (size_t pidx : windowed_) {
            const pipeline& p = pipelines_[pidx];
            const std::string& key = p.window->state_key();
            const std::string fingerprint = key.substr(key.rfind('@') + 1);
            auto before = store_->swap_plan(o_.name, p.def->index, fingerprint);
            if (!before) return before.err();
            if (*before && **before != fingerprint) {
                const std::string message = fmt::format(
                    "the window plan of INSERT INTO {} changed (fingerprint {} -> {}): its window state starts fresh, "
                    "the old plan's state is not restored",
                    p.def->sink_table, **before, fingerprint);
                log_.warn("{}", message);
                note_error(message);
            }
        }
        return {};
    }

    // The base properties of a client of `bootstrap`: the cluster's own (security)
    // only when it is the cluster millrace configures, then processor.kafka_properties.
    std::vector<std::string> properties_for(const std::string& bootstrap) const {
        std::vector<std::string> out;
        if (bootstrap == o_.bootstrap) out = o_.cluster_properties;
        out.insert(out.end(), o_.kafka_properties.begin(), o_.kafka_properties.end());
        return out;
    }

    bool create_clients() {
        char errstr[512];
        auto set = [&](rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
            if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
                note_error(fmt::format("kafka property {}={}: {}", name, security::printable_property(name, value), errstr));
                log_.error("kafka property {}={}: {}", name, security::printable_property(name, value), errstr);
                return false;
            }
            return true;
        };
        auto extra = [&](rd_kafka_conf_t* conf, bool consumer) {
            for (const auto& property : properties_for(bootstrap_)) {
                auto eq = property.find('=');
                if (eq == std::string::npos || !set(conf, property.substr(0, eq), property.substr(eq + 1))) return false;
            }
            if (consumer) {
                for (const auto& [name, value] : source_properties_) {
                    if (!set(conf, name, value)) return false;
                }
            }
            return true;
        };

        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        bool ok = set(conf, "bootstrap.servers", bootstrap_) && set(conf, "group.id", o_.group) &&
                  set(conf, "client.id", "millrace-job-" + o_.name) && set(conf, "enable.auto.commit", "false") &&
                  set(conf, "enable.auto.offset.store", "false") && set(conf, "auto.offset.reset", start_from_) &&
                  set(conf, "enable.partition.eof", "false") && set(conf, "fetch.wait.max.ms", "100") &&
                  // librdkafka prefetches up to 64 MiB by default, beyond max_pending: bounded lower
                  // (processor.kafka_properties may still raise it).
                  set(conf, "queued.max.messages.kbytes", "16384") && extra(conf, true);
        if (!ok) {
            rd_kafka_conf_destroy(conf);
            return false;
        }
        rd_kafka_conf_set_opaque(conf, this);
        rd_kafka_conf_set_rebalance_cb(conf, &impl::on_rebalance);
        rd_kafka_conf_set_offset_commit_cb(conf, &impl::on_commit);
        consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        if (consumer_ == nullptr) {
            note_error(fmt::format("cannot create the Kafka consumer for {}: {}", bootstrap_, errstr));
            return false;
        }
        rd_kafka_poll_set_consumer(consumer_);
        consumer_queue_ = rd_kafka_queue_get_consumer(consumer_);
        static const uint64_t k_one = 1;
        rd_kafka_queue_io_event_enable(consumer_queue_, efd_, &k_one, sizeof k_one);

        rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(static_cast<int>(sources_.size()));
        for (const auto& s : sources_) rd_kafka_topic_partition_list_add(topics, s.topic.c_str(), RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
            note_error(fmt::format("cannot subscribe: {}", rd_kafka_err2str(err)));
            return false;
        }

        if (eos_) {
            // The transactional producer (sinks and DLQ) is made per assignment (replace_producer).
            if (!o_.dlq_topic.empty()) ensure_dlq_topic();
        } else if (!o_.dlq_topic.empty()) {
            rd_kafka_conf_t* pconf = rd_kafka_conf_new();
            ok = set(pconf, "bootstrap.servers", bootstrap_) && set(pconf, "client.id", "millrace-job-" + o_.name + "-dlq") &&
                 set(pconf, "acks", "all") && set(pconf, "enable.idempotence", "true") && set(pconf, "linger.ms", "5") &&
                 extra(pconf, false);
            if (!ok) {
                rd_kafka_conf_destroy(pconf);
                return false;
            }
            rd_kafka_conf_set_opaque(pconf, this);
            rd_kafka_conf_set_dr_msg_cb(pconf, &impl::on_delivery);
            producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
            if (producer_ == nullptr) {
                note_error(fmt::format("cannot create the DLQ producer for {}: {}", bootstrap_, errstr));
                return false;
            }
            producer_queue_ = rd_kafka_queue_get_main(producer_);
            rd_kafka_queue_io_event_enable(producer_queue_, efd_, &k_one, sizeof k_one);
            ensure_dlq_topic();
        }
        return true;
    }

    // Creates the DLQ topic when it does not exist (CreateTopics with the broker's default partitions and
    // replication), so rejects do not wait on a broker that does not auto-create topics. Failing that, one
    // clear last_error; the job keeps running and its rejects are retried (offsets never pass them).
    void ensure_dlq_topic() {
        char errstr[512];
        rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(o_.dlq_topic.c_str(), -1, -1, errstr, sizeof errstr);
        if (topic == nullptr) {
            dlq_topic_error(errstr);
            return;
        }
        rd_kafka_t* client = producer_ ? producer_ : consumer_;
        rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
        rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(options, 10000, errstr, sizeof errstr);
        rd_kafka_CreateTopics(client, &topic, 1, options, queue);
        rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 15000);
        std::string problem;
        if (event == nullptr) {
            problem = "no answer to CreateTopics in 15 s";
        } else if (rd_kafka_event_error(event)) {
            problem = rd_kafka_event_error_string(event);
        } else if (const auto* created = rd_kafka_event_CreateTopics_result(event)) {
            size_t count = 0;
            const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(created, &count);
            for (size_t idx = 0; idx < count; ++idx) {
                rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[idx]);
                if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                    log_.info("created the DLQ topic {}", o_.dlq_topic);
                } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                    const char* message = rd_kafka_topic_result_error_string(results[idx]);
                    problem = message && *message ? message : rd_kafka_err2str(err);
                }
            }
        }
        if (event) rd_kafka_event_destroy(event);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_NewTopic_destroy(topic);
        rd_kafka_queue_destroy(queue);
        if (!problem.empty()) dlq_topic_error(problem);
    }

    void dlq_topic_error(const std::string& why) {
        std::string message = fmt::format("DLQ topic {} does not exist and cannot be created ({}): rejected records wait "
                                          "for it and offsets stop before them; create the topic or SET 'dlq.topic'",
                                          o_.dlq_topic, why);
        if (dlq_topic_problem_ != message) log_.error("{}", message);
        dlq_topic_problem_ = message;
        note_error(message);
    }

    void destroy_clients() {
        if (consumer_queue_) {
            rd_kafka_queue_io_event_enable(consumer_queue_, -1, nullptr, 0);
            rd_kafka_queue_destroy(consumer_queue_);
            consumer_queue_ = nullptr;
        }
        if (consumer_) {
            rd_kafka_destroy(consumer_);
            consumer_ = nullptr;
        }
        destroy_producer();
    }

    void destroy_producer() {
        if (producer_queue_) {
            rd_kafka_queue_io_event_enable(producer_queue_, -1, nullptr, 0);
            rd_kafka_queue_destroy(producer_queue_);
            producer_queue_ = nullptr;
        }
        if (producer_) {
            rd_kafka_destroy(producer_);
            producer_ = nullptr;
        }
        txn_open_ = false;
    }

    // ---- exactly-once: the job's transactions ------------------------------
    //
    // One transactional producer per job instance carries every exactly-once sink's rows and the DLQ's
    // records; at each commit the job drains (every write of the transaction acknowledged, nothing more
    // dispatched), sends the consumed offsets with the consumer's group metadata and commits, so the
    // outputs and the offsets of the records that made them become visible together or not at all.
    // The transactional id is `<prefix>-<job>-<hash of the assigned partitions>` (txn_id_for): a restart
    // that gets the same partitions fences its killed predecessor at once (InitProducerId aborts the
    // open transaction); across a rebalance a zombie that lost partitions is fenced by the group
    // generation its TxnOffsetCommit carries (KIP-447, as Kafka Streams' exactly_once_v2), and the new
    // owner's offset fetch waits (require_stable) until the old transaction is resolved.

    std::string txn_id_for(const std::set<std::pair<std::string, int32_t>>& parts) const {
        return transactional_id_for(txn_prefix_, o_.name, parts);
    }

    // Makes the producer for the assignment `parts` (the transaction of the previous one committed
    // first), fencing any earlier producer with the same id. Errors end the run for a restart.
    void replace_producer(const std::set<std::pair<std::string, int32_t>>& parts) {
        const std::string id = txn_id_for(parts);
        if (producer_ && id == txn_id_) return;
        if (producer_ && txn_open_) {
            bool drained = drain(mono::now() + o_.drain_timeout);
            if (!drained || !commit_txn()) {
                txn_failed(fmt::format("the transaction of {} could not commit before the assignment changed", txn_id_));
                return;
            }
        }
        destroy_producer();
        char errstr[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        std::vector<std::pair<std::string, std::string>> all{{"bootstrap.servers", bootstrap_},
                                                             {"client.id", "millrace-job-" + o_.name + "-txn"},
                                                             {"transactional.id", id},
                                                             {"acks", "all"},
                                                             {"linger.ms", "5"}};
        for (const auto& property : properties_for(bootstrap_)) {
            auto eq = property.find('=');
            if (eq != std::string::npos) all.emplace_back(property.substr(0, eq), property.substr(eq + 1));
        }
        all.insert(all.end(), txn_properties_.begin(), txn_properties_.end());
        for (const auto& [name, value] : all) {
            if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                txn_failed(fmt::format("transactional producer property {}={}: {}", name,
                                       security::printable_property(name, value), errstr));
                return;
            }
        }
        rd_kafka_conf_set_opaque(conf, this);
        rd_kafka_conf_set_dr_msg_cb(conf, &impl::on_txn_delivery);
        producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (producer_ == nullptr) {
            txn_failed(fmt::format("cannot create the transactional producer {}: {}", id, errstr));
            return;
        }
        producer_queue_ = rd_kafka_queue_get_main(producer_);
        static const uint64_t k_one = 1;
        rd_kafka_queue_io_event_enable(producer_queue_, efd_, &k_one, sizeof k_one);
        txn_id_ = id;
        const int timeout_ms = static_cast<int>(std::max<int64_t>(30000, o_.drain_timeout.count()));
        if (rd_kafka_error_t* e = rd_kafka_init_transactions(producer_, timeout_ms)) {
            txn_failed(fmt::format("init_transactions as {}: {}", id, rd_kafka_error_string(e)));
            rd_kafka_error_destroy(e);
            return;
        }
        log_.info("transactional id {} for {} partition{}", id, parts.size(), parts.size() == 1 ? "" : "s");
    }

    // Begins the transaction before the first write into it (worker thread). False: no producer, or
    // it cannot begin (the run ends for a restart).
    bool ensure_txn() {
        if (!eos_ || txn_open_) return true;
        if (producer_ == nullptr || restart_reason_) return false;
        if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer_)) {
            txn_failed(fmt::format("beginning a transaction as {}: {}", txn_id_, rd_kafka_error_string(e)));
            rd_kafka_error_destroy(e);
            return false;
        }
        txn_open_ = true;
        return true;
    }

    // Commits the transaction with the offsets of every record whose effects it holds. Call only with
    // everything drained. False on failure, which has ended the run for a restart.
    bool commit_txn() {
        if (restart_reason_) return false;
        if (producer_ == nullptr) return true;
        std::vector<std::pair<int32_t, int64_t>> moved;
        rd_kafka_topic_partition_list_t* list = positions(moved);
        if (list->cnt == 0 && !txn_open_) {
            rd_kafka_topic_partition_list_destroy(list);
            return true;
        }
        if (!ensure_txn()) {
            rd_kafka_topic_partition_list_destroy(list);
            return false;
        }
        const int timeout_ms = static_cast<int>(std::max<int64_t>(30000, o_.drain_timeout.count()));
        rd_kafka_error_t* e = nullptr;
        for (int attempt = 0; attempt < 5; ++attempt) {
            if (list->cnt > 0) {
                rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer_);
                e = rd_kafka_send_offsets_to_transaction(producer_, list, group, timeout_ms);
                rd_kafka_consumer_group_metadata_destroy(group);
            }
            if (e == nullptr) e = rd_kafka_commit_transaction(producer_, timeout_ms);
            if (e == nullptr || !rd_kafka_error_is_retriable(e)) break;
            log_.warn("committing the transaction of {}: {}; retrying", txn_id_, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            e = nullptr;
        }
        rd_kafka_topic_partition_list_destroy(list);
        commits_.inc();
        if (e != nullptr) {
            commit_errors_.inc();
            std::string message = fmt::format("committing the transaction of {}: {}", txn_id_, rd_kafka_error_string(e));
            const bool abortable = rd_kafka_error_txn_requires_abort(e);
            rd_kafka_error_destroy(e);
            if (abortable) abort_txn();
            txn_failed(message);
            return false;
        }
        txn_open_ = false;
        for (const auto& [pid, pos] : moved) committed_[pid] = pos;
        return true;
    }

    // Aborts the open transaction: its rows and DLQ records never become visible.
    void abort_txn() {
        if (producer_ == nullptr || !txn_open_) return;
        if (rd_kafka_error_t* e = rd_kafka_abort_transaction(producer_, 30000)) {
            log_.warn("aborting the transaction of {}: {}", txn_id_, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        txn_open_ = false;
    }

    // A transaction failed (or cannot be trusted): the run ends without committing and the job restarts
    // from its committed offsets, as Kafka Streams closes its tasks dirty and rejoins.
    void txn_failed(const std::string& message) {
        if (restart_reason_) return;
        restart_reason_ = message;
        log_.error("{}: {}; the job restarts from its committed offsets", o_.file, message);
        note_error(message);
    }

    // The periodic commit of an exactly-once job: drain, then commit the transaction.
    void commit_eos_periodic() {
        if (producer_ == nullptr || restart_reason_) return;
        if (!drain(mono::now() + o_.drain_timeout)) {
            if (!restart_reason_) {
                log_.warn("drain before the transaction commit did not finish within {} ms; commit postponed",
                          o_.drain_timeout.count());
            }
            return;
        }
        commit_txn();
    }

    // ---- consuming -------------------------------------------------------

    // Handles up to `max` queued records; returns whether more may be queued.
    bool consume_some(size_t max) {
        for (size_t n = 0; n < max; ++n) {
            if (stop_.load()) return false;
            rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 0);
            if (m == nullptr) return false;
            handle(message_ptr(m));
        }
        return true;
    }

    std::optional<size_t> slot_of_topic(const char* topic) const {
        for (size_t idx = 0; idx < sources_.size(); ++idx) {
            if (sources_[idx].topic == topic) return idx;
        }
        return std::nullopt;
    }

    batch& open_batch() {
        if (!open_) {
            open_ = std::make_unique<batch>();
            open_->id = next_batch_id_++;
            open_->opened = mono::now();
            open_->rows.resize(sinks_.size());
            open_->meta.resize(sinks_.size());
        }
        return *open_;
    }

    void handle(message_ptr m) {
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                std::string message = fmt::format("consumer: {}{}", rd_kafka_message_errstr(m.get()),
                                                  m->rkt ? fmt::format(" ({} [{}])", rd_kafka_topic_name(m->rkt), m->partition) : "");
                if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
                    // A source topic not created yet (the job started before its producer: CDC on a first
                    // start) is a normal wait, said once per topic, not a warning.
                    std::string topic = m->rkt ? rd_kafka_topic_name(m->rkt) : rd_kafka_message_errstr(m.get());
                    if (topics_awaited_.insert(topic).second) log_.info("{}; reading it once it is created", message);
                } else {
                    log_.warn("{}", message);
                }
                note_error(message);
                // A consumer error is a condition of the moment ("Subscribed topic not available" before the
                // topic exists, a broker away): shown until records flow again, then cleared.
                transient_error_ = message;
            }
            return;
        }
        if (!transient_error_.empty()) {
            clear_transient_error();
            topics_awaited_.clear();
        }
        auto slot = slot_of_topic(rd_kafka_topic_name(m->rkt));
        if (!slot) return;
        const int32_t partition = m->partition;
        const int32_t pid = partition_id(*slot, partition);
        const int64_t offset = m->offset;
        if (!tracker_.assigned(pid)) return;  // a straggler of a revoked partition
        rd_kafka_timestamp_type_t ts_type;
        int64_t ts = rd_kafka_message_timestamp(m.get(), &ts_type);
        if (ts < 0) ts = clock_.wall_millis();
        records_in_.inc();
        in_count_.fetch_add(1);
        ++pending_;
        last_consumed_[pid] = offset;
        source& src = sources_[*slot];

        std::vector<sql::kafka_header> headers;
        rd_kafka_headers_t* hdrs = nullptr;
        if (rd_kafka_message_headers(m.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char* name;
            const void* value;
            size_t size;
            for (size_t idx = 0; rd_kafka_header_get_all(hdrs, idx, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++idx) {
                headers.push_back(sql::kafka_header{name, value ? std::optional<std::string>(std::string(static_cast<const char*>(value), size))
                                                                : std::nullopt});
            }
        }
        sql::record_metadata meta{src.topic, partition, offset, ts, ts_type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? 1 : 0, &headers};
        std::optional<std::string_view> value, key;
        if (m->payload) value = std::string_view(static_cast<const char*>(m->payload), m->len);
        if (m->key) key = std::string_view(static_cast<const char*>(m->key), m->key_len);

        std::vector<rejection> whys;
        sql::row in;
        sql::record_error err;
        auto decoded = decode(src, value, key, meta, in, err);
        if (!decoded) {
            --pending_;  // stopping: the record stays unprocessed and uncommitted
            return;
        }
        if (*decoded == sql::decode_status::ok) {
            // A NOT NULL column without a value rejects the record as missing_field.
            for (const auto& [idx, column] : src.not_null) {
                if (idx < in.size() && in[idx].is_null()) {
                    err = sql::record_error{sql::error_code::missing_field, column,
                                            fmt::format("column {} is NOT NULL but the record has no value for it", column)};
                    decoded = sql::decode_status::rejected;
                    break;
                }
            }
        }
        if (*decoded == sql::decode_status::rejected) {
            whys.push_back(rejection{std::string(sql::to_string(err.code)), err.field, err.message});
        } else {
            // Restore the stored partials of this record's windows first: it
            // keeps servicing completions (which may dispatch the open batch),
            // so nothing of this record may be in a batch yet.
            for (size_t pidx : src.pipelines) {
                if (!pipelines_[pidx].window) continue;
                window_runner& w = *pipelines_[pidx].window;
                if (!w.time_index() || *w.time_index() >= in.size() || in[*w.time_index()].is_null()) continue;
                for (int64_t start : w.window_starts(in[*w.time_index()].i)) {
                    if (w.needs_restore(partition, start) && !restore_window(w, partition, start)) {
                        --pending_;  // stopping: the record stays unprocessed and uncommitted
                        return;
                    }
                }
            }
            for (size_t pidx : src.pipelines) {
                pipeline& p = pipelines_[pidx];
                if (p.stateless) {
                    sql::row out;
                    auto st = p.stateless->process(in, out, err);
                    if (st == sql::process_status::failed) {
                        whys.push_back(rejection{std::string(sql::to_string(err.code)), err.field, err.message});
                    } else if (st == sql::process_status::emitted) {
                        sink_row row;
                        if (auto st2 = make_row(sinks_[p.sink], p.def->output, out, row); !st2) {
                            whys.push_back(rejection{"eval_error", "", st2.err().message()});
                            continue;
                        }
                        batch& b = open_batch();
                        b.rows[p.sink].push_back(std::move(row));
                        b.meta[p.sink].push_back(row_meta{ts, m.get()});
                    }
                    continue;
                }
                auto st = p.window->state().add(in, partition, offset, err);
                if (st == sql::add_status::skipped) agg_skipped_.inc();
                if (st == sql::add_status::late || st == sql::add_status::failed) {
                    whys.push_back(rejection{std::string(sql::to_string(err.code)), err.field, err.message});
                }
            }
        }
        for (size_t pidx : src.pipelines) {
            if (pipelines_[pidx].window) pipelines_[pidx].window->applied(partition, offset);
        }
        batch& b = open_batch();
        for (auto& why : whys) b.rejects.push_back(reject{m.get(), std::move(why)});
        bool found = false;
        for (auto& [p, last] : b.last_offsets) {
            if (p == pid) {
                last = offset;
                found = true;
            }
        }
        if (!found) b.last_offsets.emplace_back(pid, offset);
        b.messages.push_back(std::move(m));
        if (b.messages.size() >= o_.batch_size) dispatch_open();
    }

    // Decodes one record; an avro-confluent writer schema is fetched from the
    // registry (an unreachable registry is waited for: the record is neither
    // rejected nor skipped). nullopt when stopping.
    std::optional<sql::decode_status> decode(source& src, std::optional<std::string_view> value,
                                             std::optional<std::string_view> key, const sql::record_metadata& meta,
                                             sql::row& out, sql::record_error& err) {
        for (int attempt = 0, installs = 0;; ++attempt) {
            auto st = src.decoder->decode(value, key, meta, out, err);
            if (st != sql::decode_status::need_schema) return st;
            const int32_t id = src.decoder->schema_id();
            auto fetched = registry_.schema_by_id(id);
            if (fetched) {
                if (installs++ > 0) {
                    err = sql::record_error{sql::error_code::unknown_schema, "", fmt::format("schema id {} cannot be used", id)};
                    return sql::decode_status::rejected;
                }
                if (auto added = src.decoder->add_writer_schema(id, (*fetched)->text); !added) {
                    err = sql::record_error{sql::error_code::unknown_schema, "",
                                            fmt::format("schema id {}: {}", id, added.err().message())};
                    return sql::decode_status::rejected;
                }
                continue;
            }
            if (!fetched.err().retryable()) {
                err = sql::record_error{sql::error_code::unknown_schema, "",
                                        fmt::format("schema id {}: {}", id, fetched.err().message())};
                return sql::decode_status::rejected;
            }
            registry_retries_.inc();
            if (attempt == 0 || attempt % 10 == 0) {
                log_.warn("fetching Avro writer schema {} from the registry at {}: {}; retrying", id, o_.registry_url,
                          fetched.err().message());
                note_error(fmt::format("schema registry {}: {}", o_.registry_url, fetched.err().message()));
            }
            auto until = mono::now() + backoff(attempt);
            while (mono::now() < until) {
                if (stop_.load()) return std::nullopt;
                service(false);
                wait_for_work(std::chrono::ceil<std::chrono::milliseconds>(until - mono::now()));
            }
        }
    }

    millrace::status make_row(sink_slot& s, const std::vector<sql::column_type>& types, const sql::row& out, sink_row& row) {
        if (s.cql) {
            row.cells.reserve(out.size());
            for (size_t idx = 0; idx < out.size() && idx < types.size(); ++idx) {
                if (out[idx].is_null()) {
                    for (const auto& k : s.key_columns) {
                        if (k.size() == types[idx].name.size() &&
                            std::equal(k.begin(), k.end(), types[idx].name.begin(),
                                       [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); })) {
                            return make_error(errc::invalid_argument, "primary key column {} is NULL", types[idx].name);
                        }
                    }
                }
                auto v = to_cql_value(out[idx], types[idx].type);
                if (!v) return v.err().with_context(fmt::format("column {}", types[idx].name));
                row.cells.push_back(std::move(*v));
            }
            return {};
        }
        if (auto st = s.encoder->encode_value(out, row.value); !st) return st;
        auto k = s.encoder->encode_key(out);
        if (!k) return k.err();
        row.key = std::move(*k);
        return {};
    }

    // Restores, for every newly assigned (windowed pipeline, partition), the
    // stored partials of every window that has not fired (window_fired says
    // up to where it fired), as Flink restores window state and its timers
    // from a checkpoint: such a window fires when the watermark passes its
    // end even if no record of it arrives again. Windows a record already
    // restored are left alone. False when stopping.
    bool restore_assigned() {
        while (!to_restore_.empty()) {
            auto [pidx, partition] = *to_restore_.begin();
            window_runner& w = *pipelines_[pidx].window;
            for (int attempt = 0;; ++attempt) {
                auto fired = store_->read_fired(w.state_key(), w.pipeline(), partition);
                result<std::vector<sql::partial_state>> open = make_error(errc::unavailable, "not read");
                if (fired) open = store_->read_open(w.state_key(), w.pipeline(), partition, *fired);
                if (fired && open) {
                    if (*fired) w.fired_before(**fired);
                    std::set<int64_t> starts;
                    for (const auto& p : *open) {
                        if (w.needs_restore(partition, p.window.start_ms)) starts.insert(p.window.start_ms);
                    }
                    for (const auto& p : *open) {
                        if (starts.count(p.window.start_ms) == 0) continue;
                        if (auto st = w.state().restore(p); !st) {
                            log_.error("window state of {} partition {} window {}: {}; counting it afresh", o_.name,
                                       partition, p.window.start_ms, st.err().message());
                        }
                    }
                    for (int64_t start : starts) w.restored(partition, start);
                    if (!starts.empty()) {
                        log_.info("restored {} open window(s) of {} partition {}", starts.size(),
                                  pipelines_[pidx].def->sink_table, partition);
                    }
                    break;
                }
                const std::string why = fired ? open.err().message() : fired.err().message();
                if (attempt == 0 || attempt % 10 == 0) {
                    log_.warn("restoring the open windows of partition {}: {}; retrying", partition, why);
                    note_error(fmt::format("window store: {}", why));
                }
                auto until = mono::now() + backoff(attempt);
                while (mono::now() < until) {
                    if (stop_.load()) return false;
                    service(false);
                    wait_for_work(std::chrono::ceil<std::chrono::milliseconds>(until - mono::now()));
                }
                if (to_restore_.count({pidx, partition}) == 0) break;  // revoked meanwhile
            }
            to_restore_.erase({pidx, partition});
        }
        return true;
    }

    // Installs the stored partials of (partition, window start). False when stopping.
    bool restore_window(window_runner& w, int32_t partition, int64_t start) {
        for (int attempt = 0;; ++attempt) {
            auto stored = store_->read(w.state_key(), w.pipeline(), start);
            if (stored) {
                for (const auto& p : *stored) {
                    if (p.partition != partition) continue;
                    if (auto st = w.state().restore(p); !st) {
                        log_.error("window state of {} partition {} window {}: {}; counting it afresh", o_.name, partition,
                                   start, st.err().message());
                    }
                }
                w.restored(partition, start);
                return true;
            }
            if (attempt == 0 || attempt % 10 == 0) {
                log_.warn("reading window {} of partition {}: {}; retrying", start, partition, stored.err().message());
                note_error(fmt::format("window store: {}", stored.err().message()));
            }
            auto until = mono::now() + backoff(attempt);
            while (mono::now() < until) {
                if (stop_.load()) return false;
                service(false);
                wait_for_work(std::chrono::ceil<std::chrono::milliseconds>(until - mono::now()));
            }
        }
    }

    // ---- dispatching -----------------------------------------------------

    void dispatch_open() {
        if (!open_) return;
        std::unique_ptr<batch> b = std::move(open_);
        batch_records_.observe(static_cast<double>(b->messages.size()));
        for (const auto& [pid, last] : b->last_offsets) b->segments.emplace_back(pid, tracker_.add_segment(pid, last));
        const size_t per = std::max<size_t>(1, o_.rows_per_request);
        size_t requests = 0;
        for (const auto& rows : b->rows) requests += (rows.size() + per - 1) / per;
        b->remaining = requests + b->rejects.size();
        const uint64_t id = b->id;
        batch& ref = *b;
        batches_.emplace(id, std::move(b));
        for (size_t sink = 0; sink < ref.rows.size(); ++sink) {
            for (size_t begin = 0; begin < ref.rows[sink].size(); begin += per) {
                send_queue_.push_back(request{id, sink, begin, std::min(ref.rows[sink].size(), begin + per), 0});
            }
        }
        for (auto& r : ref.rejects) send_to_dlq(id, r.message, r.why);
        if (ref.remaining == 0) complete_batch(id);
        pump_sends();
    }

    void pump_sends() {
        while (in_flight_ < o_.max_in_flight && !send_queue_.empty()) {
            request req = send_queue_.front();
            send_queue_.pop_front();
            auto it = batches_.find(req.batch_id);
            if (it == batches_.end()) continue;
            std::vector<const sink_row*> rows;
            rows.reserve(req.end - req.begin);
            for (size_t idx = req.begin; idx < req.end; ++idx) rows.push_back(&it->second->rows[req.sink][idx]);
            ++in_flight_;
            auto sent = mono::now();
            sinks_[req.sink].out->write(std::move(rows), [this, req, sent](sink_outcome outcome) {
                push_completion(completion{completion_kind::rows, req, std::move(outcome), sent});
            });
        }
    }

    void push_completion(completion c) {
        {
            std::lock_guard lock(completions_mutex_);
            completions_.push_back(std::move(c));
        }
        wake();
    }

    void send_to_dlq(uint64_t batch_id, rd_kafka_message_t* m, const rejection& why) {
        auto& counter = dlq_counters_[why.code];
        if (counter == nullptr) {
            counter = &metrics_.make_counter("millrace_processor_dlq_records_total", "Rejected records, by error code.",
                                             {{"code", why.code}});
        }
        counter->inc();
        rejected_count_.fetch_add(1);
        const std::string topic = rd_kafka_topic_name(m->rkt);
        record_origin origin{topic, m->partition, m->offset, rd_kafka_message_timestamp(m, nullptr)};
        if (o_.dlq_topic.empty()) {
            log_.warn("rejected {} [{}] offset {}: {} (no DLQ topic: dropped)", topic, m->partition, m->offset, why.message);
            finish_item(batch_id);
            return;
        }
        if (rejects_logged_++ < 20) {
            log_.warn("rejected {} [{}] offset {} to {}: {}: {}", topic, m->partition, m->offset, o_.dlq_topic, why.code,
                      why.message);
        }
        {
            std::lock_guard lock(status_mutex_);
            status_.last_error = fmt::format("rejected {} [{}] offset {}: {}: {}", topic, m->partition, m->offset, why.code,
                                             why.message);
        }
        auto* ticket = new dlq_ticket{batch_id, m, dlq_headers(why, origin, o_.group, o_.name)};
        ++dlq_outstanding_;
        produce_dlq(ticket);
    }

    // A DLQ record's report on the transactional producer.
    struct dlq_target final : delivery_target {
        dlq_target(impl* o, dlq_ticket* t) : owner(o), ticket(t) {}
        void delivered(const rd_kafka_message_t* m) override {
            owner->delivered(m, ticket);
            delete this;
        }
        impl* owner;
        dlq_ticket* ticket;
    };

    void produce_dlq(dlq_ticket* t) {
        if (producer_ == nullptr || !ensure_txn()) {
            // Exactly-once before its first assignment, or a transaction that cannot begin (the run ends).
            dlq_retries_.emplace(mono::now() + backoff(t->attempt++), t);
            return;
        }
        rd_kafka_headers_t* headers = rd_kafka_headers_new(t->headers.size() + 4);
        for (const auto& [name, value] : t->headers) {
            rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                                static_cast<ssize_t>(value.size()));
        }
        rd_kafka_headers_t* original = nullptr;
        if (t->message != nullptr && rd_kafka_message_headers(t->message, &original) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char* name;
            const void* value;
            size_t size;
            for (size_t idx = 0; rd_kafka_header_get_all(original, idx, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++idx) {
                rd_kafka_header_add(headers, name, -1, value, static_cast<ssize_t>(size));
            }
        }
        void* opaque = eos_ ? static_cast<void*>(static_cast<delivery_target*>(new dlq_target(this, t))) : t;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer_, RD_KAFKA_V_TOPIC(o_.dlq_topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(t->message ? t->message->payload : t->value.data(), t->message ? t->message->len : t->value.size()),
            RD_KAFKA_V_KEY(t->message ? t->message->key : nullptr, t->message ? t->message->key_len : 0),
            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err) {
            if (eos_) delete static_cast<delivery_target*>(opaque);
            rd_kafka_headers_destroy(headers);
            log_.warn("DLQ produce to {}: {}; retrying", o_.dlq_topic, rd_kafka_err2str(err));
            dlq_retries_.emplace(mono::now() + backoff(t->attempt++), t);
        }
    }

    void delivered(const rd_kafka_message_t* m, dlq_ticket* t) {
        if (m->err && eos_) {
            // A failed write dooms the transaction: it aborts and the run restarts (retrying cannot help).
            txn_failed(fmt::format("DLQ delivery to {} inside the transaction of {} failed: {}", o_.dlq_topic, txn_id_,
                                   rd_kafka_err2str(m->err)));
            --dlq_outstanding_;
            const uint64_t batch_id = t->batch_id;
            const bool record = t->message != nullptr;
            delete t;
            if (record) finish_item(batch_id);
            return;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                // The topic went away or was never there: try creating it once more, and say so once.
                if (t->attempt % 10 == 0) ensure_dlq_topic();
            } else {
                log_.warn("DLQ delivery to {} failed: {}; retrying", o_.dlq_topic, rd_kafka_err2str(m->err));
            }
            dlq_retries_.emplace(mono::now() + backoff(t->attempt++), t);
            return;
        }
        --dlq_outstanding_;
        if (t->message == nullptr) {
            const uint64_t round_id = t->round_id;
            delete t;
            if (round_ && round_->id == round_id && round_->dlq_pending > 0 && --round_->dlq_pending == 0 && round_->waiting_dlq) {
                round_->waiting_dlq = false;
                after_rows();
            }
            return;
        }
        uint64_t batch_id = t->batch_id;
        delete t;
        finish_item(batch_id);
    }

    void finish_item(uint64_t batch_id) {
        auto it = batches_.find(batch_id);
        if (it == batches_.end()) return;
        if (--it->second->remaining == 0) complete_batch(batch_id);
    }

    void complete_batch(uint64_t batch_id) {
        auto it = batches_.find(batch_id);
        if (it == batches_.end()) return;
        for (const auto& [pid, segment] : it->second->segments) tracker_.complete(pid, segment);
        pending_ -= it->second->messages.size();
        batches_.erase(it);
    }

    // ---- completions and the periodic work --------------------------------

    void service(bool draining) {
        std::vector<completion> done;
        {
            std::lock_guard lock(completions_mutex_);
            done.swap(completions_);
        }
        for (auto& c : done) on_completion(c);
        auto now = mono::now();
        while (!retries_.empty() && retries_.begin()->first <= now) {
            send_queue_.push_front(retries_.begin()->second);
            retries_.erase(retries_.begin());
        }
        if (open_ && (draining || open_->messages.size() >= o_.batch_size || now >= open_->opened + o_.max_delay)) {
            dispatch_open();
        }
        pump_sends();
        if (producer_) {
            rd_kafka_poll(producer_, 0);
            while (!dlq_retries_.empty() && dlq_retries_.begin()->first <= now) {
                dlq_ticket* t = dlq_retries_.begin()->second;
                dlq_retries_.erase(dlq_retries_.begin());
                produce_dlq(t);
            }
        }
        if (!windowed_.empty()) flush_windows(now);
        backpressure();
        if (!draining && now >= next_commit_) {
            if (eos_) commit_eos_periodic();
            else commit(false);
            next_commit_ = mono::now() + o_.commit_interval;
        }
        in_flight_gauge_.set(static_cast<double>(in_flight_));
        pending_gauge_.set(static_cast<double>(pending_));
    }

    void on_completion(completion& c) {
        auto now = mono::now();
        if (c.kind != completion_kind::rows) return on_round_completion(c, now);
        --in_flight_;
        auto it = batches_.find(c.req.batch_id);
        if (it == batches_.end()) return;
        batch& b = *it->second;
        const size_t n = c.req.end - c.req.begin;
        if (c.outcome.ok) {
            double seconds = std::chrono::duration<double>(now - c.sent).count();
            sink_seconds_.observe(seconds);
            sink_samples_.add(seconds);
            int64_t wall = clock_.wall_millis();
            for (size_t idx = c.req.begin; idx < c.req.end; ++idx) {
                double e2e = static_cast<double>(std::max<int64_t>(0, wall - b.meta[c.req.sink][idx].timestamp_ms)) / 1000.0;
                e2e_seconds_.observe(e2e);
                e2e_samples_.add(e2e);
            }
            rows_out_.inc(n);
            out_count_.fetch_add(n);
            rows_out_tick_ += n;
            finish_item(c.req.batch_id);
            return;
        }
        if (sinks_[c.req.sink].exactly_once) {
            // A write that failed inside the transaction dooms it: abort and restart from the committed
            // offsets (a row the broker refuses is met again; at-least-once would send it to the DLQ).
            txn_failed(fmt::format("{}: {}", sinks_[c.req.sink].out->describe(), c.outcome.message));
            finish_item(c.req.batch_id);
            return;
        }
        if (c.outcome.retryable) {
            sink_retries_.inc();
            note_error(fmt::format("{}: {}", sinks_[c.req.sink].out->describe(), c.outcome.message));
            if (sink_errors_logged_++ % 100 == 0) {
                log_.warn("{}: {}; retrying", sinks_[c.req.sink].out->describe(), c.outcome.message);
            }
            retries_.emplace(now + backoff(c.req.attempt),
                             request{c.req.batch_id, c.req.sink, c.req.begin, c.req.end, c.req.attempt + 1});
            return;
        }
        if (n > 1) {
            // Find the rejected row(s): send each row of the request alone.
            b.remaining += n - 1;
            for (size_t idx = c.req.begin; idx < c.req.end; ++idx) {
                send_queue_.push_front(request{c.req.batch_id, c.req.sink, idx, idx + 1, 0});
            }
            return;
        }
        send_to_dlq(c.req.batch_id, b.meta[c.req.sink][c.req.begin].message,
                    rejection{k_sink_rejected, "",
                              fmt::format("{} refused the row: {}", sinks_[c.req.sink].out->describe(), c.outcome.message)});
    }

    // ---- window rounds ----------------------------------------------------

    void flush_windows(mono::time_point now) {
        if (round_) {
            if (round_->outstanding == 0 && round_->retry_at && now >= *round_->retry_at) {
                round_->retry_at.reset();
                run_stage();
            }
            return;
        }
        auto r = std::make_unique<window_round>();
        const int64_t now_ms = clock_.wall_millis();
        for (size_t pidx : windowed_) {
            pipeline& p = pipelines_[pidx];
            auto& state = p.window->state();
            r->applied.push_back(p.window->applied_snapshot());
            for (auto& partial : state.take_changed()) {
                // A CQL sink upserts the merged row of every changed window; a Kafka
                // sink appends only what fires (below).
                if (sinks_[p.sink].cql) {
                    r->keys.emplace(pidx, partial.window.start_ms, partial.window.end_ms, partial.group_key);
                }
                const int64_t write_ts = p.window->next_write_timestamp(partial.partition);
                r->partials.push_back(stored_partial{p.def->index, std::move(partial), write_ts, p.window->state_key()});
            }
            auto fired = state.fire();
            auto early = state.fire_early(now_ms);
            const bool to_kafka = !sinks_[p.sink].cql;
            if (state.watermark() && (!fired.empty() || (to_kafka && (!p.marked || *state.watermark() > *p.marked)))) {
                // For a Kafka sink the marks are also the partitions' published watermarks (below): written
                // whenever the watermark advances, after the round's partials are durable.
                r->fired_marks.emplace_back(p.def->index, p.window->partitions(), *state.watermark());
                p.marked = *state.watermark();
            }
            // A Kafka sink's rows come from the emitter's merge of every partition's stored partials (below),
            // never from the partials one process holds.
            if (to_kafka) continue;
            for (auto* outputs : {&fired, &early}) {
                for (auto& out : *outputs) {
                    if (out.error) {
                        // One row's SELECT failed (eval_error): that row is rejected to the DLQ, the others are
                        // written. A CQL sink merges the window again below (stage 1), which rejects it there.
                        if (!sinks_[p.sink].cql) {
                            std::vector<sql::partial_state> of_row;
                            for (const auto& sp : r->partials) {
                                if (sp.pipeline == p.def->index && sp.partial.window == out.window &&
                                    sp.partial.group_key == out.group_key) {
                                    of_row.push_back(sp.partial);
                                }
                            }
                            r->window_rejects.push_back(window_reject{pidx, out.window, out.group_key, std::move(of_row),
                                                                      rejection{std::string(sql::to_string(out.error->code)), out.error->field,
                                                                                out.error->message}, ""});
                        }
                        continue;
                    }
                    if (sinks_[p.sink].cql) {
                        r->keys.emplace(pidx, out.window.start_ms, out.window.end_ms, out.group_key);
                    } else if (!p.window->fired_before_this_run(out.window)) {
                        r->fired.emplace_back(pidx, std::move(out));
                    }
                }
            }
        }
        if (now >= next_emit_check_) {
            next_emit_check_ = now + 100ms;
            if (!emit_from_store(*r)) return;
        }
        if (r->partials.empty() && r->keys.empty() && r->fired.empty() && r->fired_marks.empty() && r->window_rejects.empty()) {
            for (size_t idx = 0; idx < windowed_.size(); ++idx) pipelines_[windowed_[idx]].window->made_durable(r->applied[idx]);
            return;
        }
        r->id = ++round_ids_;
        round_ = std::move(r);
        run_stage();
    }

    // Windows into a Kafka sink are emitted once, with every partition's count, by one process of the group:
    // the owner of the source's partition 0 (the emitter). Every process records in window_fired, per
    // partition, the watermark of its state once the partials before it are durable; a window is complete
    // when every partition that has a mark or a partial of it has marked past its end (the job's watermark:
    // the minimum over its partitions, as Flink's). The emitter then merges the window's stored partials
    // and appends its rows; partition -1 of window_fired records how far it emitted (after the broker
    // acknowledged the rows), so a restart or a new emitter continues from there. False on a store error
    // (retried at the next round).
    bool emit_from_store(window_round& r) {
        for (size_t pidx : windowed_) {
            pipeline& p = pipelines_[pidx];
            if (sinks_[p.sink].cql) continue;
            std::optional<size_t> slot;
            for (size_t idx = 0; idx < sources_.size(); ++idx) {
                if (std::find(sources_[idx].pipelines.begin(), sources_[idx].pipelines.end(), pidx) != sources_[idx].pipelines.end()) slot = idx;
            }
            if (!slot || !tracker_.assigned(partition_id(*slot, 0))) continue;  // not the emitter
            const std::string& key = p.window->state_key();
            auto marks = store_->read_marks(key, p.def->index);
            if (!marks) {
                log_.warn("reading the window marks of {}: {}", p.def->sink_table, marks.err().message());
                return true;
            }
            std::optional<int64_t> emitted, job_wm;
            for (const auto& [partition, mark] : *marks) {
                if (partition < 0) emitted = mark;
                else job_wm = job_wm ? std::min(*job_wm, mark) : mark;
            }
            if (!job_wm || (emitted && *job_wm <= *emitted)) continue;
            // The window starts whose windows may end in (emitted, job watermark].
            std::vector<sql::partial_state> found;
            const int64_t step = p.def->window.kind == sql::window_kind::hop ? p.def->window.slide_ms : p.def->window.size_ms;
            const int64_t size = p.def->window.size_ms, offset = p.def->window.offset_ms;
            bool scan = !emitted || step <= 0 || (*job_wm - *emitted) / std::max<int64_t>(1, step) > 1000;
            if (scan) {
                auto all = store_->read_open(key, p.def->index, -1, emitted);
                if (!all) {
                    log_.warn("reading the windows of {}: {}", p.def->sink_table, all.err().message());
                    return true;
                }
                found = std::move(*all);
            } else {
                int64_t first = *emitted + 1 - size;
                const int64_t rel = first - offset;
                first = offset + (rel / step - (rel % step < 0 ? 1 : 0)) * step;
                for (int64_t start = first; start <= *job_wm; start += step) {
                    auto got = store_->read(key, p.def->index, start);
                    if (!got) {
                        log_.warn("reading window {} of {}: {}", start, p.def->sink_table, got.err().message());
                        return true;
                    }
                    for (auto& partial : *got) found.push_back(std::move(partial));
                }
            }
            // Complete windows: end - 1 <= the job's watermark, past what was emitted, and every partition
            // with a partial of it has a mark past its end (a partial of a partition without a mark: not yet).
            std::map<std::pair<sql::window_bounds, std::string>, std::vector<sql::partial_state>> groups;
            int64_t through = *job_wm;
            for (auto& partial : found) {
                const int64_t last = partial.window.end_ms - 1;
                if (last > *job_wm || (emitted && last <= *emitted)) continue;
                auto mark = marks->find(partial.partition);
                if (mark == marks->end() || mark->second < last) {
                    through = std::min(through, last - 1);
                    continue;
                }
                groups[{partial.window, partial.group_key}].push_back(std::move(partial));
            }
            for (auto& [window_key, partials] : groups) {
                if (window_key.first.end_ms - 1 > through) continue;
                auto merged = p.window->state().merge(partials);
                if (!merged) {
                    r.window_rejects.push_back(window_reject{pidx, window_key.first, window_key.second, std::move(partials),
                                                             rejection{"eval_error", "", merged.err().message()}, ""});
                    continue;
                }
                sql::window_output out;
                out.window = window_key.first;
                out.group_key = window_key.second;
                out.values = std::move(*merged);
                out.final = true;
                r.fired.emplace_back(pidx, std::move(out));
            }
            if (!emitted || through > *emitted) r.fired_marks.emplace_back(p.def->index, std::vector<int32_t>{-1}, through);
        }
        return true;
    }

    void run_stage() {
        window_round& r = *round_;
        r.failed = false;
        r.retryable = true;
        if (r.stage == 0) {
            if (r.partials.empty()) {
                r.stage = 1;
                return run_stage();
            }
            r.outstanding = 1;
            store_->write(o_.name, r.partials, [this](sink_outcome outcome) {
                push_completion(completion{completion_kind::partials, request{}, std::move(outcome), mono::now()});
            });
            return;
        }
        if (r.stage == 2) {
            // Stage 2: the fired windows' rows were acknowledged; record it.
            r.outstanding = r.fired_marks.size();
            for (const auto& [pipeline_index, partitions, fired_through] : r.fired_marks) {
                store_->write_fired(pipelines_[pipeline_index].window->state_key(), pipeline_index, partitions, fired_through,
                                    [this](sink_outcome outcome) {
                    push_completion(completion{completion_kind::partials, request{}, std::move(outcome), mono::now()});
                });
            }
            return;
        }
        // Stage 1: the merged rows, read at one time so the latest merge wins.
        r.rows.assign(sinks_.size(), {});
        // Microseconds, as Cassandra's write timestamps are: at milliseconds two merges of one row within
        // the same millisecond tied, and of a tie the greater value wins, not the later read.
        const int64_t read_us =
            std::chrono::duration_cast<std::chrono::microseconds>(clock_.wall_now().time_since_epoch()).count();
        std::map<std::pair<size_t, int64_t>, std::vector<sql::partial_state>> stored;
        for (const auto& [pidx, start, end, key] : r.keys) {
            pipeline& p = pipelines_[pidx];
            auto sit = stored.find({pidx, start});
            if (sit == stored.end()) {
                auto got = store_->read(p.window->state_key(), p.def->index, start);
                if (!got) return round_failed(fmt::format("reading window state: {}", got.err().message()), true);
                sit = stored.emplace(std::make_pair(pidx, start), std::move(*got)).first;
            }
            std::vector<sql::partial_state> mine;
            for (const auto& partial : sit->second) {
                if (partial.window.end_ms == end && partial.group_key == key) mine.push_back(partial);
            }
            if (mine.empty()) continue;
            auto merged = p.window->state().merge(mine);
            if (!merged) {
                // The SELECT over the merged aggregates failed (eval_error) or the state does not decode.
                reject_window_row(window_reject{pidx, sql::window_bounds{start, end}, key, mine,
                                                rejection{"eval_error", "", merged.err().message()}, ""});
                continue;
            }
            sink_row row;
            if (auto st = make_row(sinks_[p.sink], p.def->output, *merged, row); !st) {
                // This row only is rejected (a NULL key column of the CQL table); the round's other rows are written.
                reject_window_row(window_reject{pidx, sql::window_bounds{start, end}, key, mine,
                                                rejection{k_sink_rejected, "", st.err().message()}, row_text(p, *merged)});
                continue;
            }
            row.timestamp_us = read_us;
            r.rows[p.sink].push_back(std::move(row));
        }
        for (auto& reject : r.window_rejects) {
            if (reject.partials.empty()) {
                // Counted in an earlier round: its partials are in the store (stage 0 wrote this round's).
                pipeline& p = pipelines_[reject.pipeline];
                auto sit = stored.find({reject.pipeline, reject.window.start_ms});
                if (sit == stored.end()) {
                    auto got = store_->read(p.window->state_key(), p.def->index, reject.window.start_ms);
                    if (!got) return round_failed(fmt::format("reading window state: {}", got.err().message()), true);
                    sit = stored.emplace(std::make_pair(reject.pipeline, reject.window.start_ms), std::move(*got)).first;
                }
                for (const auto& partial : sit->second) {
                    if (partial.window.end_ms == reject.window.end_ms && partial.group_key == reject.group_key) {
                        reject.partials.push_back(partial);
                    }
                }
            }
            reject_window_row(reject);
        }
        for (auto& [pidx, out] : r.fired) {
            pipeline& p = pipelines_[pidx];
            sink_row row;
            if (auto st = make_row(sinks_[p.sink], p.def->output, out.values, row); !st) {
                std::vector<sql::partial_state> of_row;
                for (const auto& sp : r.partials) {
                    if (sp.pipeline == p.def->index && sp.partial.window == out.window && sp.partial.group_key == out.group_key) {
                        of_row.push_back(sp.partial);
                    }
                }
                reject_window_row(window_reject{pidx, out.window, out.group_key, std::move(of_row),
                                                rejection{k_sink_rejected, "", st.err().message()}, row_text(p, out.values)});
                continue;
            }
            r.rows[p.sink].push_back(std::move(row));
        }
        r.outstanding = 0;
        for (size_t sink = 0; sink < r.rows.size(); ++sink) {
            if (r.rows[sink].empty()) continue;
            const size_t per = std::max<size_t>(1, o_.rows_per_request);
            for (size_t begin = 0; begin < r.rows[sink].size(); begin += per) {
                std::vector<const sink_row*> rows;
                for (size_t idx = begin; idx < std::min(r.rows[sink].size(), begin + per); ++idx) rows.push_back(&r.rows[sink][idx]);
                ++r.outstanding;
                size_t count = rows.size();
                sinks_[sink].out->write(std::move(rows), [this, sink, count](sink_outcome outcome) {
                    push_completion(completion{completion_kind::window_rows, request{0, sink, 0, count, 0}, std::move(outcome),
                                               mono::now()});
                });
            }
        }
        if (r.outstanding == 0) after_rows();
    }

    // A window row that cannot be written goes to the DLQ, like a rejected record: headers name the error,
    // the job and group, the source topic, and the partition and offset of the last record counted into it
    // (the partial with the highest offset; `window.partials` lists every partition:offset it merges), plus
    // `window.start`/`window.end` (ms since the epoch). The value is the row as text. Once per round.
    void reject_window_row(const window_reject& reject) {
        if (!round_) return;
        pipeline& p = pipelines_[reject.pipeline];
        if (!round_->rejected.emplace(reject.pipeline, reject.window.start_ms, reject.window.end_ms, reject.group_key).second) {
            return;  // a retried stage: sent already
        }
        auto& counter = dlq_counters_[reject.why.code];
        if (counter == nullptr) {
            counter = &metrics_.make_counter("millrace_processor_dlq_records_total", "Rejected records, by error code.",
                                             {{"code", reject.why.code}});
        }
        counter->inc();
        rejected_count_.fetch_add(1);
        const std::string why = fmt::format("window [{}, {}) of INSERT INTO {} rejected: {}: {}", reject.window.start_ms,
                                            reject.window.end_ms, p.def->sink_table, reject.why.code, reject.why.message);
        if (rejects_logged_++ < 20) log_.error("{}{}", why, producer_ ? "" : " (no DLQ topic: dropped)");
        note_error(why);
        if (producer_ == nullptr) return;
        record_origin origin{program_.tables()[p.def->source].option("topic"), -1, -1, -1};
        std::string partials;
        for (const auto& partial : reject.partials) {
            if (origin.offset < 0 || partial.last_offset > origin.offset) {
                origin.partition = partial.partition;
                origin.offset = partial.last_offset;
            }
            partials += fmt::format("{}{}:{}", partials.empty() ? "" : ",", partial.partition, partial.last_offset);
        }
        auto* ticket = new dlq_ticket{0, nullptr, dlq_headers(reject.why, origin, o_.group, o_.name)};
        ticket->headers.emplace_back("window.start", std::to_string(reject.window.start_ms));
        ticket->headers.emplace_back("window.end", std::to_string(reject.window.end_ms));
        ticket->headers.emplace_back("window.partials", partials);
        ticket->headers.emplace_back("processor.sink", p.def->sink_table);
        ticket->value = fmt::format("{{\"sink\":{},\"window_start\":{},\"window_end\":{},\"row\":{}}}",
                                    json_text::quote(p.def->sink_table), reject.window.start_ms, reject.window.end_ms,
                                    json_text::quote(reject.row));
        ticket->round_id = round_->id;
        ++round_->dlq_pending;
        ++dlq_outstanding_;
        produce_dlq(ticket);
    }

    // The values of an output row as text, for a rejected window row.
    std::string row_text(const pipeline& p, const sql::row& values) const {
        std::string out;
        for (size_t idx = 0; idx < values.size() && idx < p.def->output.size(); ++idx) {
            out += fmt::format("{}{} = {}", idx ? ", " : "", p.def->output[idx].name, sql::format_value(values[idx], p.def->output[idx].type));
        }
        return out;
    }

    // Stage 1 done: the fired marks next, when windows fired.
    void after_rows() {
        if (round_->dlq_pending > 0) {
            round_->waiting_dlq = true;  // delivered() continues
            return;
        }
        if (round_->fired_marks.empty()) return finish_round();
        round_->stage = 2;
        round_->attempt = 0;
        run_stage();
    }

    void round_failed(const std::string& message, bool retryable) {
        window_round& r = *round_;
        note_error(message);
        if (r.attempt % 10 == 0) log_.warn("{}; retrying", message);
        // The partials (stage 0) hold the counts the offsets cover: never given
        // up, or the offsets would commit past counts the store does not hold.
        if (!retryable && r.stage != 0) {
            log_.error("{}; the window rows of this round are dropped", message);
            return finish_round();
        }
        r.retry_at = mono::now() + backoff(r.attempt++);
    }

    void on_round_completion(completion& c, mono::time_point) {
        if (!round_) return;
        window_round& r = *round_;
        if (r.outstanding > 0) --r.outstanding;
        if (!c.outcome.ok) {
            r.failed = true;
            r.retryable = r.retryable && c.outcome.retryable;
            r.failure = c.outcome.message;
        } else if (c.kind == completion_kind::window_rows) {
            agg_rows_out_.inc(c.req.end);
        }
        if (r.outstanding > 0) return;
        if (r.failed) {
            std::string what = c.kind == completion_kind::partials ? "writing window state" : "writing window rows";
            return round_failed(fmt::format("{}: {}", what, r.failure), r.retryable);
        }
        if (r.stage == 0) {
            r.stage = 1;
            r.attempt = 0;
            return run_stage();
        }
        if (r.stage == 1) return after_rows();
        finish_round();
    }

    void finish_round() {
        for (size_t idx = 0; idx < windowed_.size(); ++idx) pipelines_[windowed_[idx]].window->made_durable(round_->applied[idx]);
        round_.reset();
    }

    // ---- flow control, drain, commit, rebalance -----------------------------

    void backpressure() {
        if (consumer_ == nullptr) return;
        if (!paused_ && pending_ > o_.max_pending) {
            set_paused(true);
        } else if (paused_ && pending_ <= o_.max_pending / 2) {
            set_paused(false);
        }
    }

    void set_paused(bool pause) {
        paused_ = pause;
        if (pause) pauses_.inc();
        paused_gauge_.set(pause ? 1 : 0);
        rd_kafka_topic_partition_list_t* assignment = nullptr;
        if (rd_kafka_assignment(consumer_, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
        const int count = assignment->cnt;
        if (count > 0) {
            if (pause) rd_kafka_pause_partitions(consumer_, assignment);
            else rd_kafka_resume_partitions(consumer_, assignment);
        }
        rd_kafka_topic_partition_list_destroy(assignment);
        log_.debug("{} {} partitions ({} records unacknowledged)", pause ? "paused" : "resumed", count, pending_);
    }

    bool windows_idle() const {
        if (round_) return false;
        for (size_t pidx : windowed_) {
            auto snap = pipelines_[pidx].window->applied_snapshot();
            for (const auto& [partition, applied] : snap) {
                auto durable = pipelines_[pidx].window->durable_position(partition);
                if (applied && (!durable || *durable <= *applied)) return false;
            }
        }
        return true;
    }

    bool idle() const {
        return !open_ && batches_.empty() && in_flight_ == 0 && send_queue_.empty() && retries_.empty() &&
               dlq_outstanding_ == 0 && windows_idle();
    }

    // Dispatches what is open and waits until every write is acknowledged (or
    // the deadline passes). Returns whether everything drained.
    bool drain(mono::time_point deadline) {
        dispatch_open();
        while (!idle() && mono::now() < deadline) {
            service(true);
            if (idle()) break;
            wait_for_work(std::min<std::chrono::milliseconds>(10ms, std::chrono::ceil<std::chrono::milliseconds>(deadline - mono::now())));
        }
        service(true);
        return idle();
    }

    // Commits, per partition, the position up to which every record's effects
    // are acknowledged.
    void commit(bool sync, bool quiet = false) {
        if (consumer_ == nullptr) return;
        std::vector<std::pair<int32_t, int64_t>> moved;
        rd_kafka_topic_partition_list_t* list = positions(moved);
        for (const auto& [pid, pos] : moved) committed_[pid] = pos;
        if (list->cnt == 0) {
            rd_kafka_topic_partition_list_destroy(list);
            return;
        }
        commits_.inc();
        rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, list, sync ? 0 : 1);
        if (sync && err) {
            commit_errors_.inc();
            if (!quiet) log_.warn("committing offsets: {}", rd_kafka_err2str(err));
            for (int idx = 0; idx < list->cnt; ++idx) erase_committed(list->elems[idx]);
        }
        rd_kafka_topic_partition_list_destroy(list);
    }

    // The positions, per partition, up to which every record's effects are acknowledged, where they
    // moved past the last commit (also returned in `moved` as partition id and position).
    rd_kafka_topic_partition_list_t* positions(std::vector<std::pair<int32_t, int64_t>>& moved) {
        rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
        for (int32_t pid : tracker_.partitions()) {
            auto pos = tracker_.done_position(pid);
            const size_t slot = slot_of(pid);
            const int32_t partition = partition_of(pid);
            for (size_t pidx : sources_[slot].pipelines) {
                if (!pipelines_[pidx].window || !pos) continue;
                auto durable = pipelines_[pidx].window->durable_position(partition);
                pos = durable ? std::optional<int64_t>(std::min(*pos, *durable)) : std::nullopt;
            }
            if (!pos) continue;
            auto it = committed_.find(pid);
            if (it != committed_.end() && it->second >= *pos) continue;
            rd_kafka_topic_partition_list_add(list, sources_[slot].topic.c_str(), partition)->offset = *pos;
            moved.emplace_back(pid, *pos);
        }
        return list;
    }

    void erase_committed(const rd_kafka_topic_partition_t& tp) {
        if (auto slot = slot_of_topic(tp.topic)) committed_.erase(partition_id(*slot, tp.partition));
    }

    void committed(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets) {
        if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
        bool failed = err != RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int idx = 0; offsets && idx < offsets->cnt; ++idx) {
            if (failed || offsets->elems[idx].err) erase_committed(offsets->elems[idx]);
        }
        if (failed) {
            commit_errors_.inc();
            log_.warn("offset commit failed: {}", rd_kafka_err2str(err));
        }
    }

    void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
        rebalances_.inc();
        const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(consumer_), "COOPERATIVE") == 0;
        std::string names;
        for (int idx = 0; idx < parts->cnt; ++idx) {
            names += fmt::format("{}{}[{}]", idx ? "," : "", parts->elems[idx].topic, parts->elems[idx].partition);
        }
        auto each = [&](auto&& fn) {
            for (int idx = 0; idx < parts->cnt; ++idx) {
                auto slot = slot_of_topic(parts->elems[idx].topic);
                if (!slot) continue;
                const int32_t partition = parts->elems[idx].partition;
                fn(*slot, partition, partition_id(*slot, partition));
            }
        };
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
            log_.info("assigned {}", names);
            each([&](size_t slot, int32_t partition, int32_t pid) {
                tracker_.assign(pid);
                for (size_t pidx : sources_[slot].pipelines) {
                    if (pipelines_[pidx].window) {
                        pipelines_[pidx].window->assign(
                            partition,
                            std::chrono::duration_cast<std::chrono::microseconds>(clock_.wall_now().time_since_epoch()).count());
                        to_restore_.emplace(pidx, partition);
                    }
                }
                committed_.erase(pid);
                last_consumed_.erase(pid);
            });
            if (eos_) {
                std::set<std::pair<std::string, int32_t>> all;
                rd_kafka_topic_partition_list_t* current = nullptr;
                if (cooperative && rd_kafka_assignment(consumer_, &current) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                    for (int idx = 0; idx < current->cnt; ++idx) all.emplace(current->elems[idx].topic, current->elems[idx].partition);
                }
                if (current) rd_kafka_topic_partition_list_destroy(current);
                for (int idx = 0; idx < parts->cnt; ++idx) all.emplace(parts->elems[idx].topic, parts->elems[idx].partition);
                replace_producer(all);
            }
            if (cooperative) {
                rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer_, parts);
                if (e) {
                    log_.error("incremental assign: {}", rd_kafka_error_string(e));
                    rd_kafka_error_destroy(e);
                }
            } else {
                rd_kafka_assign(consumer_, parts);
            }
            if (paused_) rd_kafka_pause_partitions(consumer_, parts);
        } else {
            const bool lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(consumer_);
            log_.info("{} {}: draining in-flight writes", lost ? "lost" : "revoked", names);
            bool drained = skip_drain_ || drain(mono::now() + o_.drain_timeout);
            if (!drained) log_.warn("drain before revocation did not finish within {} ms", o_.drain_timeout.count());
            if (eos_) {
                if (txn_done_) {
                    // stopping: shutdown() committed or aborted already
                } else if (lost || !drained) {
                    abort_txn();
                    txn_failed(lost ? "the partitions were lost (the session expired): the transaction is aborted"
                                    : "drain before revocation did not finish: the transaction is aborted");
                } else {
                    commit_txn();
                }
            } else if (!lost) {
                commit(true);
            }
            each([&](size_t slot, int32_t partition, int32_t pid) {
                tracker_.revoke(pid);
                for (size_t pidx : sources_[slot].pipelines) {
                    if (pipelines_[pidx].window) {
                        pipelines_[pidx].window->revoke(partition);
                        to_restore_.erase({pidx, partition});
                    }
                }
                committed_.erase(pid);
                last_consumed_.erase(pid);
            });
            if (cooperative) {
                rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer_, parts);
                if (e) rd_kafka_error_destroy(e);
            } else {
                rd_kafka_assign(consumer_, nullptr);
            }
        }
        assigned_gauge_.set(static_cast<double>(tracker_.partitions().size()));
        std::lock_guard lock(status_mutex_);
        status_.assigned_partitions = tracker_.partitions().size();
    }

    void tick() {
        sink_samples_.publish(sink_p50_, sink_p99_);
        e2e_samples_.publish(e2e_p50_, e2e_p99_);
        uint64_t in = in_count_.load();
        double in_rate = static_cast<double>(in - in_last_);
        in_rate_.set(in_rate);
        in_last_ = in;
        double out_rate = static_cast<double>(rows_out_tick_);
        out_rate_.set(out_rate);
        rows_out_tick_ = 0;
        for (size_t pidx : windowed_) pipelines_[pidx].window->prune();
        int64_t lag = 0;
        for (int32_t pid : tracker_.partitions()) {
            int64_t low = 0, high = 0;
            const auto& topic = sources_[slot_of(pid)].topic;
            if (rd_kafka_get_watermark_offsets(consumer_, topic.c_str(), partition_of(pid), &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                high < 0) {
                continue;
            }
            auto it = last_consumed_.find(pid);
            int64_t position = it != last_consumed_.end() ? it->second + 1 : low;
            lag += std::max<int64_t>(0, high - position);
        }
        lag_gauge_.set(static_cast<double>(lag));
        std::lock_guard lock(status_mutex_);
        status_.records_in_per_second = in_rate;
        status_.rows_out_per_second = out_rate;
        status_.lag = lag;
    }

    // Ends a run whose transaction failed: abort it, commit nothing, leave the group, drop every
    // in-flight write (the records after the last commit are read again by the restarted job).
    void shutdown_dirty() {
        abort_txn();
        txn_done_ = true;
        skip_drain_ = true;
        if (consumer_) rd_kafka_consumer_close(consumer_);
        teardown_sinks();
        open_.reset();
        batches_.clear();
        send_queue_.clear();
        retries_.clear();
        round_.reset();
        for (auto& [at, t] : dlq_retries_) delete t;
        dlq_retries_.clear();
        destroy_clients();
        std::lock_guard lock(completions_mutex_);
        completions_.clear();
    }

    void shutdown() {
        auto deadline = mono::now() + o_.drain_timeout;
        bool drained = drain(deadline);
        if (eos_) {
            if (!drained || restart_reason_) abort_txn();
            else commit_txn();
            txn_done_ = true;
        } else {
            commit(true);
        }
        if (!drained) {
            log_.warn("stopping with writes still unacknowledged after {} ms; their records will be read again on restart",
                      o_.drain_timeout.count());
        }
        skip_drain_ = !drained;  // the revocation inside close() need not wait a second time
        if (consumer_) {
            rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_);
            if (err) log_.warn("leaving group {}: {}", o_.group, rd_kafka_err2str(err));
        }
        if (producer_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mono::now());
            rd_kafka_flush(producer_, static_cast<int>(std::max<int64_t>(100, left.count())));
            while (!dlq_retries_.empty()) {
                delete dlq_retries_.begin()->second;
                dlq_retries_.erase(dlq_retries_.begin());
            }
        }
        teardown_sinks();
        // Records hold references into the consumer: free them before destroying it.
        open_.reset();
        batches_.clear();
        send_queue_.clear();
        retries_.clear();
        round_.reset();
        destroy_clients();
        // Late completions from the closed sinks may still sit in the queue; drop them.
        std::lock_guard lock(completions_mutex_);
        completions_.clear();
        log_.info("stopped: {} records read, {} rows written", in_count_.load(), out_count_.load());
    }

    sql::job_program program_;
    job_options o_;
    millrace::clock& clock_;
    log::logger log_;
    registry::client registry_;
    offset_tracker tracker_;
    std::string bootstrap_;
    std::string start_from_ = "earliest";
    std::vector<std::pair<std::string, std::string>> source_properties_;
    std::vector<source> sources_;
    std::vector<sink_slot> sinks_;
    std::vector<pipeline> pipelines_;
    std::vector<size_t> windowed_;  // indexes into pipelines_
    std::unique_ptr<window_store> store_;
    std::unique_ptr<window_round> round_;
    std::set<std::pair<size_t, int32_t>> to_restore_;  // (windowed pipeline, partition) assigned, open windows not restored yet

    int efd_ = -1;
    std::atomic<bool> stop_{false};
    rd_kafka_t* consumer_ = nullptr;
    rd_kafka_queue_t* consumer_queue_ = nullptr;
    rd_kafka_t* producer_ = nullptr;  // the DLQ's; exactly-once: the transactional one (sinks and DLQ)
    rd_kafka_queue_t* producer_queue_ = nullptr;
    // Exactly-once (a sink with 'sink.delivery-guarantee' = 'exactly-once').
    bool eos_ = false;
    std::string txn_prefix_;  // 'sink.transactional-id-prefix'
    std::vector<std::pair<std::string, std::string>> txn_properties_;  // the exactly-once sinks' properties.*
    std::string txn_id_;     // producer_'s transactional id
    bool txn_open_ = false;  // begun and not yet committed or aborted
    bool txn_done_ = false;  // stopping: the last transaction is settled, revocations leave it alone
    std::optional<std::string> restart_reason_;  // a transaction failed: the run ends and the job restarts

public:
    std::atomic<bool> restart_requested_{false};

private:

    std::unique_ptr<batch> open_;
    std::map<uint64_t, std::unique_ptr<batch>> batches_;
    uint64_t next_batch_id_ = 1;
    std::deque<request> send_queue_;
    std::multimap<mono::time_point, request> retries_;
    std::multimap<mono::time_point, dlq_ticket*> dlq_retries_;
    size_t in_flight_ = 0;
    size_t pending_ = 0;
    size_t dlq_outstanding_ = 0;
    uint64_t round_ids_ = 0;
    mono::time_point next_emit_check_{};
    bool paused_ = false;
    bool skip_drain_ = false;
    std::map<int32_t, int64_t> committed_;
    std::map<int32_t, int64_t> last_consumed_;
    mono::time_point next_commit_ = mono::now();
    uint64_t rejects_logged_ = 0;
    std::string transient_error_;  // the consumer error shown as last_error until records flow again
    std::set<std::string> topics_awaited_;  // source topics said not to exist yet (logged once each)
    std::string dlq_topic_problem_;  // the DLQ topic could not be created (logged once per message)
    uint64_t sink_errors_logged_ = 0;

    std::mutex completions_mutex_;
    std::vector<completion> completions_;

    mutable std::mutex status_mutex_;
    job_status status_;

    metrics::counter& records_in_;
    metrics::counter& rows_out_;
    metrics::counter& agg_rows_out_;
    metrics::counter& agg_skipped_;
    metrics::registry& metrics_;
    std::map<std::string, metrics::counter*> dlq_counters_;  // by error code
    metrics::counter& sink_retries_;
    metrics::counter& rebalances_;
    metrics::counter& pauses_;
    metrics::counter& commits_;
    metrics::counter& commit_errors_;
    metrics::histogram& batch_records_;
    metrics::histogram& sink_seconds_;
    metrics::histogram& e2e_seconds_;
    metrics::gauge& sink_p50_;
    metrics::gauge& sink_p99_;
    metrics::gauge& e2e_p50_;
    metrics::gauge& e2e_p99_;
    metrics::gauge& in_rate_;
    metrics::gauge& out_rate_;
    metrics::gauge& in_flight_gauge_;
    metrics::gauge& pending_gauge_;
    metrics::gauge& paused_gauge_;
    metrics::gauge& assigned_gauge_;
    metrics::gauge& lag_gauge_;
    metrics::counter& registry_retries_;
    // This job's own counts (the counters above are the process's totals).
    std::atomic<uint64_t> in_count_{0};
    std::atomic<uint64_t> out_count_{0};
    std::atomic<uint64_t> rejected_count_{0};
    quantile_window sink_samples_;
    quantile_window e2e_samples_;
    uint64_t in_last_ = 0;
    uint64_t rows_out_tick_ = 0;
};

void job::impl::on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<impl*>(opaque)->rebalance(err, parts);
}

void job::impl::on_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    static_cast<impl*>(opaque)->committed(err, offsets);
}

void job::impl::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    static_cast<impl*>(opaque)->delivered(m, static_cast<dlq_ticket*>(m->_private));
}

void job::impl::on_txn_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    static_cast<delivery_target*>(m->_private)->delivered(m);
}

job::job(sql::job_program program, job_options options, metrics::registry& metrics, millrace::clock& clock)
    : file_(options.file), impl_(std::make_unique<impl>(std::move(program), std::move(options), metrics, clock)) {}

job::~job() {
    request_stop();
    join();
}

void job::start() {
    worker_ = std::thread([this] {
        impl_->run();
        finished_.store(true);
    });
}

void job::request_stop() { impl_->request_stop(); }

void job::join() {
    if (worker_.joinable()) worker_.join();
}

job_status job::status() const { return impl_->status(); }

bool job::restart_requested() const { return finished_.load() && impl_->restart_requested_.load(); }

}  // namespace millrace::processor
