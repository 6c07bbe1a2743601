#include "pipeline_probe.h"

#include <chrono>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include "millrace/common/log.h"
#include "millrace/cql_client/client.h"
#include "millrace/kafka_client/offsets.h"
#include "millrace/pg_client/connection.h"

namespace millrace::app {

namespace {
constexpr int k_timeout_ms = 2000;
constexpr auto k_interval = std::chrono::seconds(1);
// `SELECT count(*)` of the users table is a sequential scan of the whole heap
// (~1.4 KiB a user with the raw document: 1.4 GB at 1M users). Run every
// second it grew into most of the machine's CPU and disk and starved the
// pipeline it measured (docs/performance.md, "the degradation at 1M users").
// The count stays exact, but the next one waits this many times as long as
// the last took: the probe's share of a core stays under 1/k.
constexpr int k_count_duty_factor = 50;
}  // namespace

// The probe's connections, opened on first use and again after a failure.
struct pipeline_probe::clients {
    std::shared_ptr<cql_client::session> cql;
    pg::connection pg;
    rd_kafka_t* kafka = nullptr;
    std::chrono::steady_clock::time_point next_users_count{};  // see k_count_duty_factor

    ~clients() { close(); }
    void close() {
        if (cql) cql->close();
        cql.reset();
        pg.close();
        if (kafka != nullptr) rd_kafka_destroy(kafka);
        kafka = nullptr;
    }
};

pipeline_probe::pipeline_probe(probe_targets targets) : targets_(std::move(targets)), clients_(std::make_unique<clients>()) {}

pipeline_probe::~pipeline_probe() { stop(); }

void pipeline_probe::start(std::function<void()> first) {
    thread_ = std::thread([this, first = std::move(first)] { loop(first); });
}

void pipeline_probe::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    clients_->close();
}

probed_counts pipeline_probe::counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
}

void pipeline_probe::loop(std::function<void()> first) {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        measure_once();
        if (first) std::exchange(first, nullptr)();
        lock.lock();
        wake_.wait_for(lock, k_interval, [&] { return stopping_; });
    }
}

namespace {

std::optional<double> users_in_postgres(pg::connection& pg, const probe_targets& t) {
    if (t.postgres_dsn.empty() || t.users_table.empty()) return std::nullopt;
    if (!pg.alive()) {
        pg = pg::connection(pg::connect_options{.dsn = t.postgres_dsn, .connect_timeout = std::chrono::seconds(2)});
        if (!pg.connect()) return std::nullopt;
        // One backend for the count, not a leader and two parallel workers.
        (void)pg.run("SET max_parallel_workers_per_gather = 0");
    }
    // cdc.tables' "schema.table" (or "table"), quoted as the capture quotes it.
    auto dot = t.users_table.find('.');
    std::string table = dot == std::string::npos
                            ? pg::quote_ident(t.users_table)
                            : pg::quote_qualified(t.users_table.substr(0, dot), t.users_table.substr(dot + 1));
    auto res = pg.exec("SELECT count(*) FROM " + table);
    std::optional<double> n;
    if (res && res->size() == 1) n = static_cast<double>(res->integer(0, 0).value_or(0));
    return n;
}

std::optional<double> rows_in_table(std::shared_ptr<cql_client::session>& cql, const probe_targets& t) {
    auto dot = t.table.find('.');
    if (t.cql_contact_points.empty() || dot == std::string::npos) return std::nullopt;
    if (!cql) {
        auto options = cql_client::options_from_contact_points(t.cql_contact_points);
        if (!options) return std::nullopt;
        options->username = t.cql_username;
        options->password = t.cql_password;
        options->tls_ca = t.cql_tls_ca;
        options->connections_per_host = 1;
        options->max_retries = 0;
        options->connect_timeout = std::chrono::milliseconds(k_timeout_ms);
        options->request_timeout = std::chrono::milliseconds(k_timeout_ms);
        options->default_consistency = cql_client::consistency::one;
        auto session = cql_client::session::connect(*options);
        if (!session) return std::nullopt;
        cql = *session;
    }
    auto result = cql->query(
        "SELECT partitions_count FROM system.size_estimates WHERE keyspace_name = ? AND table_name = ?",
        {cql_client::value::text(t.table.substr(0, dot)), cql_client::value::text(t.table.substr(dot + 1))});
    if (!result) {
        // A table not created yet is no error: nothing is in it.
        if (cql_client::server_error_code(result.err())) return 0.0;
        cql->close();
        cql.reset();
        return std::nullopt;
    }
    double sum = 0;
    for (size_t idx = 0; idx < result->size(); ++idx) {
        const auto& v = result->at(idx, "partitions_count");
        if (!v.is_null()) sum += static_cast<double>(v.as_int());
    }
    return sum;
}

void silent_log(const rd_kafka_t*, int, const char*, const char*) {}

// End offsets of the topic and the group's lag, summed over partitions.
void kafka_totals(rd_kafka_t*& kafka, const probe_targets& t, probed_counts& out) {
    if (t.kafka_bootstrap.empty() || t.topic.empty()) return;
    if (kafka == nullptr) {
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        char err[256];
        auto set = [&](const char* k, const std::string& v) {
            return rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK;
        };
        bool ok = true;
        for (const auto& [name, value] : t.kafka_properties) ok = ok && set(name.c_str(), value);
        ok = ok && set("bootstrap.servers", t.kafka_bootstrap) && set("group.id", t.group.empty() ? "millrace-status" : t.group) &&
                  set("enable.auto.commit", "false") && set("log.connection.close", "false") &&
                  set("client.id", "millrace-status");
        // The probe's own view of Kafka is not worth a log line: a broker
        // that is down shows as missing totals.
        rd_kafka_conf_set_log_cb(conf, silent_log);
        if (!ok) {
            rd_kafka_conf_destroy(conf);
            return;
        }
        kafka = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
        if (kafka == nullptr) return;
    }
    rd_kafka_topic_t* topic = rd_kafka_topic_new(kafka, t.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(kafka, 0, topic, &md, k_timeout_ms);
    rd_kafka_topic_destroy(topic);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || md == nullptr) return;
    int partitions = 0;
    bool exists = false;
    for (int idx = 0; idx < md->topic_cnt; ++idx) {
        if (t.topic == md->topics[idx].topic && md->topics[idx].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            partitions = md->topics[idx].partition_cnt;
            exists = true;
        }
    }
    rd_kafka_metadata_destroy(md);
    if (!exists) {  // nothing produced yet
        out.records_in_kafka = 0;
        out.processor_lag = 0;
        return;
    }
    double end_sum = 0, lag = 0;
    const auto timeout = std::chrono::milliseconds(k_timeout_ms);
    auto lows = kafka_client::list_offsets(kafka, t.topic, partitions, RD_KAFKA_OFFSET_BEGINNING, timeout);
    auto highs = lows ? kafka_client::list_offsets(kafka, t.topic, partitions, RD_KAFKA_OFFSET_END, timeout) : lows;
    if (!highs) return;
    for (int p = 0; p < partitions; ++p) end_sum += static_cast<double>((*highs)[p]);
    out.records_in_kafka = end_sum;
    if (t.group.empty()) return;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, t.topic.c_str(), p);
    if (rd_kafka_committed(kafka, list, k_timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int idx = 0; idx < list->cnt; ++idx) {
            int p = list->elems[idx].partition;
            // No committed offset yet: everything from the log start is to do.
            int64_t committed = list->elems[idx].offset >= 0 ? list->elems[idx].offset : (*lows)[p];
            lag += static_cast<double>(std::max<int64_t>((*highs)[p] - committed, 0));
        }
        out.processor_lag = lag;
    }
    rd_kafka_topic_partition_list_destroy(list);
}

}  // namespace

void pipeline_probe::measure_once() {
    probed_counts next;
    auto now = std::chrono::steady_clock::now();
    if (now >= clients_->next_users_count) {
        next.users_fetched = users_in_postgres(clients_->pg, targets_);
        auto took = std::chrono::steady_clock::now() - now;
        clients_->next_users_count = now + took * k_count_duty_factor;
    } else {
        std::lock_guard lock(mutex_);
        next.users_fetched = counts_.users_fetched;  // the last exact count
    }
    next.rows_in_table = rows_in_table(clients_->cql, targets_);
    kafka_totals(clients_->kafka, targets_, next);
    std::lock_guard lock(mutex_);
    counts_ = next;
}

pipeline_counts merge_counts(pipeline_counts counters, const probed_counts& probed) {
    if (probed.users_fetched) counters.users_fetched = *probed.users_fetched;
    if (probed.records_in_kafka) counters.records_in_kafka = *probed.records_in_kafka;
    if (probed.rows_in_table) counters.rows_in_table = *probed.rows_in_table;
    if (probed.processor_lag) counters.processor_lag = *probed.processor_lag;
    return counters;
}

}  // namespace millrace::app
