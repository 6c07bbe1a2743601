#include "millrace/processor/processor.h"

#include <cctype>
#include <thread>

#include <asio/executor_work_guard.hpp>

#include "cql_sink.h"
#include "job.h"
#include "millrace/common/log.h"

namespace millrace::processor {
namespace {

using config::key_spec;
using config::value_kind;

bool is_identifier(const std::string& s) {
    if (s.empty() || s.size() > 48) return false;
    if (!(std::isalpha(static_cast<unsigned char>(s[0])) != 0)) return false;
    for (char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') return false;
    }
    return true;
}

cql_client::consistency parse_consistency(const std::string& s) {
    if (s == "one") return cql_client::consistency::one;
    if (s == "quorum") return cql_client::consistency::quorum;
    if (s == "all") return cql_client::consistency::all;
    if (s == "local_one") return cql_client::consistency::local_one;
    return cql_client::consistency::local_quorum;
}

class processor_component final : public component {
public:
    explicit processor_component(component_context& ctx) : ctx_(ctx), log_("processor") {}
    ~processor_component() override {
        if (job_) {
            job_->request_stop();
            job_->join();
        }
    }

    std::string name() const override { return "process"; }

    result<std::optional<net::endpoint>> start() override {
        const auto& cfg = ctx_.cfg;
        for (const char* key : {"processor.keyspace", "processor.table", "processor.aggregate_table"}) {
            if (!is_identifier(cfg.get_string(key))) {
                return make_error(errc::invalid_argument,
                                  "process: {} = \"{}\" (from {}) is not a CQL identifier (a letter, then letters, "
                                  "digits or _, at most 48)",
                                  key, cfg.get_string(key), cfg.origin(key));
            }
        }
        if (cfg.get_string("processor.topic").empty()) {
            return make_error(errc::invalid_argument, "process: processor.topic is empty");
        }
        if (cfg.get_string("processor.dlq_topic") == cfg.get_string("processor.topic")) {
            return make_error(errc::invalid_argument,
                              "process: processor.dlq_topic is the input topic {}; rejects would be read again",
                              cfg.get_string("processor.topic"));
        }
        job_options o;
        o.bootstrap = services::kafka_bootstrap(ctx_);
        o.topic = cfg.get_string("processor.topic");
        o.group = cfg.get_string("processor.group");
        o.dlq_topic = cfg.get_string("processor.dlq_topic");
        o.start_from = cfg.get_string("processor.start_from");
        o.kafka_properties = cfg.get_list("processor.kafka_properties");
        o.registry_url = cfg.get_string("processor.registry_url");
        if (o.registry_url.empty()) o.registry_url = services::http_address(ctx_, "registry").value_or("127.0.0.1:8081");
        if (o.registry_url.find("://") == std::string::npos) o.registry_url = "http://" + o.registry_url;
        for (const auto& property : o.kafka_properties) {
            if (property.find('=') == std::string::npos || property.front() == '=') {
                return make_error(errc::invalid_argument,
                                  "process: processor.kafka_properties entry \"{}\" is not name=value", property);
            }
        }
        o.batch_size = static_cast<size_t>(cfg.get_int("processor.batch_size"));
        o.max_delay = std::chrono::milliseconds(cfg.get_int("processor.max_delay"));
        o.max_in_flight = static_cast<size_t>(cfg.get_int("processor.max_in_flight"));
        o.max_pending = static_cast<size_t>(cfg.get_int("processor.max_pending"));
        o.rows_per_request = static_cast<size_t>(cfg.get_int("processor.rows_per_request"));
        o.commit_interval = std::chrono::milliseconds(cfg.get_int("processor.commit_interval"));
        o.drain_timeout = std::chrono::milliseconds(cfg.get_int("processor.drain_timeout"));
        o.aggregate = cfg.get_bool("processor.aggregate");
        o.window_ms = cfg.get_int("processor.window");

        cql_sink_options s;
        s.contact_points = services::cql_contact_points(ctx_);
        s.keyspace = cfg.get_string("processor.keyspace");
        s.table = cfg.get_string("processor.table");
        s.aggregate_table = o.aggregate ? cfg.get_string("processor.aggregate_table") : "";
        s.replication_factor = static_cast<int>(cfg.get_int("processor.replication_factor"));
        s.write_consistency = parse_consistency(cfg.get_string("processor.consistency"));
        s.connections = static_cast<int>(cfg.get_int("processor.cql_connections"));
        drain_timeout_ = o.drain_timeout;

        log_.info("starting: {} ({}) -> CQL {} {}.{}", o.topic, o.bootstrap, s.contact_points, s.keyspace, s.table);
        job_ = std::make_unique<job>(std::move(o), make_cql_sink(std::move(s)), ctx_.metrics, ctx_.clock);
        job_->start();
        return std::optional<net::endpoint>();
    }

    // Called on the io thread, which in `millrace up` also serves the embedded
    // broker and CQL store that the drain needs: keep running their handlers
    // (asio supports nested poll()) until the worker is done.
    void stop() override {
        if (!job_) return;
        job_->request_stop();
        auto guard = asio::make_work_guard(ctx_.io);
        auto deadline = std::chrono::steady_clock::now() + drain_timeout_ + std::chrono::seconds(10);
        while (!job_->stopped() && std::chrono::steady_clock::now() < deadline) {
            ctx_.io.poll();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (job_->stopped()) {
            job_->join();
        } else {
            log_.warn("the job did not finish within {} ms; leaving it to finish in the background",
                      (drain_timeout_ + std::chrono::seconds(10)).count());
        }
    }

private:
    component_context& ctx_;
    log::logger log_;
    std::unique_ptr<job> job_;
    std::chrono::milliseconds drain_timeout_{10000};
};

}  // namespace

void add_options(config::schema& s) {
    s.add({"processor.topic", value_kind::string, "users_created", "Topic the job reads."});
    s.add({"processor.group", value_kind::string, "millrace-processor",
           "Consumer group; instances in one group share the topic's partitions."});
    s.add({"processor.start_from", value_kind::choice, "earliest",
           "Where a group without committed offsets starts (auto.offset.reset).", {"earliest", "latest"}});
    s.add({"processor.dlq_topic", value_kind::string, "users_created.dlq",
           "Topic that receives records that fail to parse or validate, with headers naming the error and origin; "
           "empty logs and drops them."});
    s.add({"processor.kafka_properties", value_kind::string_list, "",
           "Extra librdkafka properties name=value for the consumer and DLQ producer (security.protocol=SASL_SSL, ...)."});
    s.add({"processor.registry_url", value_kind::string, "",
           "Schema registry that resolves the schema ids of Confluent-framed Avro records (http://host:port); empty: "
           "the registry started in this process, else 127.0.0.1:8081."});
    s.add({"processor.keyspace", value_kind::string, "spark_streams", "Keyspace of the tables (created when missing)."});
    s.add({"processor.table", value_kind::string, "created_users", "Table of users, upserted by id (created when missing)."});
    s.add({"processor.replication_factor", value_kind::integer, "1",
           "replication_factor of the keyspace when the job creates it (SimpleStrategy).", {}, 1, 100});
    s.add({"processor.consistency", value_kind::choice, "local_quorum", "Consistency level of the writes.",
           {"one", "local_one", "quorum", "local_quorum", "all"}});
    s.add({"processor.cql_connections", value_kind::integer, "2", "CQL connections per contact point.", {}, 1, 64});
    s.add({"processor.batch_size", value_kind::integer, "1000", "Most records per micro-batch.", {}, 1, 100000});
    s.add({"processor.max_delay", value_kind::duration_ms, "5ms",
           "Longest a micro-batch waits for more records before it is written.", {}, 0, 60000});
    s.add({"processor.rows_per_request", value_kind::integer, "1",
           "Rows per CQL request: 1 sends one prepared INSERT per row; more groups rows into unlogged batches "
           "(Cassandra warns above ~5 KiB per batch).", {}, 1, 1000});
    s.add({"processor.max_in_flight", value_kind::integer, "128", "Most CQL write requests in flight.", {}, 1, 32768});
    s.add({"processor.max_pending", value_kind::integer, "50000",
           "Unacknowledged records above which the partitions are paused (resumed below half).", {}, 1, 10'000'000});
    s.add({"processor.commit_interval", value_kind::duration_ms, "1s",
           "How often acknowledged offsets are committed (also on revocation and stop).", {}, 10, 3'600'000});
    s.add({"processor.drain_timeout", value_kind::duration_ms, "10s",
           "How long a stop or a revocation waits for in-flight writes before committing what was acknowledged.",
           {}, 0, 3'600'000});
    s.add({"processor.aggregate", value_kind::boolean, "true",
           "Maintain the live aggregate table: users per nat and gender per window of the record timestamp."});
    s.add({"processor.aggregate_table", value_kind::string, "users_by_nat_minute", "Table of the live aggregate."});
    s.add({"processor.window", value_kind::duration_ms, "1m", "Length of the aggregate's tumbling windows.", {}, 1000,
           86'400'000});
}

std::unique_ptr<component> make_processor(component_context& ctx) { return std::make_unique<processor_component>(ctx); }

}  // namespace millrace::processor
