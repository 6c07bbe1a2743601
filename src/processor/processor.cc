#include "millrace/processor/processor.h"

#include <filesystem>
#include <map>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/steady_timer.hpp>

#include "job.h"
#include "job_files.h"
#include "jobs_report.h"
#include "millrace/common/http.h"
#include "millrace/common/http_client_auth.h"
#include "millrace/common/security.h"
#include "millrace/common/log.h"
#include "millrace/sql/program.h"

namespace millrace::processor {
namespace {

using config::key_spec;
using config::value_kind;

cql_client::consistency parse_consistency(const std::string& s) {
    if (s == "one") return cql_client::consistency::one;
    if (s == "quorum") return cql_client::consistency::quorum;
    if (s == "all") return cql_client::consistency::all;
    if (s == "local_one") return cql_client::consistency::local_one;
    return cql_client::consistency::local_quorum;
}

// One job file and what runs from it.
struct job_entry {
    std::string path;
    std::string name;
    int64_t stamp = 0;  // scan_job_files' mtime+size
    std::string text;
    std::string plan;
    std::string error;  // compile errors, one per line; "" when it compiled
    std::unique_ptr<job> running;
    // Changed while its previous run still drains: the new run starts only once the old one has
    // committed its offsets and left the group (else both would read and write at once).
    bool waiting = false;
};

class processor_component final : public component {
public:
    explicit processor_component(component_context& ctx) : ctx_(ctx), log_("processor"), timer_(ctx.io) {}
    ~processor_component() override {
        for (auto& [path, e] : entries_) {
            if (e.running) e.running->request_stop();
        }
        for (auto& j : retiring_) j->request_stop();
    }

    std::string name() const override { return "process"; }

    void add_admin_routes(http::server& server) override {
        server.route("GET", "/api/v1/jobs", [this](const http::request& req) {
            const std::string* format = req.param("format");
            if (format != nullptr && *format == "text") return http::response::text(200, render_jobs_table(snapshot()));
            return http::response::json(200, render_jobs_json(snapshot()));
        });
    }

    std::string status_json() const override { return render_jobs_json(snapshot()); }

    result<std::optional<net::endpoint>> start() override {
        const auto& cfg = ctx_.cfg;
        base_.bootstrap = services::kafka_bootstrap(ctx_);
        // Every Kafka client's base properties (security), then the processor's own.
        base_.cluster_properties.clear();
        base_.kafka_properties.clear();
        for (const auto& [name, value] : security::kafka_client_properties(cfg)) base_.cluster_properties.push_back(name + "=" + value);
        for (const auto& property : cfg.get_list("processor.kafka_properties")) {
            if (property.find('=') == std::string::npos || property.front() == '=') {
                return make_error(errc::invalid_argument, "process: processor.kafka_properties entry \"{}\" (from {}) is not name=value",
                                  property, cfg.origin("processor.kafka_properties"));
            }
            base_.kafka_properties.push_back(property);
        }
        base_.registry_url = cfg.get_string("processor.registry_url");
        if (base_.registry_url.empty()) {
            // millrace's own registry: https and the admin user when security is on.
            base_.registry_auth = http::own_endpoint_auth(cfg);
            base_.registry_url = http::own_url(base_.registry_auth,
                                               services::http_address(ctx_, "registry").value_or("127.0.0.1:8081"));
        }
        if (base_.registry_url.find("://") == std::string::npos) base_.registry_url = "http://" + base_.registry_url;
        base_.contact_points = services::cql_contact_points(ctx_);
        base_.cql_login = services::cql_credentials(ctx_);
        base_.state_keyspace = cfg.get_string("processor.state_keyspace");
        base_.replication_factor = static_cast<int>(cfg.get_int("processor.replication_factor"));
        base_.consistency = parse_consistency(cfg.get_string("processor.consistency"));
        base_.cql_connections = static_cast<int>(cfg.get_int("processor.cql_connections"));
        base_.batch_size = static_cast<size_t>(cfg.get_int("processor.batch_size"));
        base_.max_delay = std::chrono::milliseconds(cfg.get_int("processor.max_delay"));
        base_.max_in_flight = static_cast<size_t>(cfg.get_int("processor.max_in_flight"));
        base_.max_pending = static_cast<size_t>(cfg.get_int("processor.max_pending"));
        base_.rows_per_request = static_cast<size_t>(cfg.get_int("processor.rows_per_request"));
        base_.commit_interval = std::chrono::milliseconds(cfg.get_int("processor.commit_interval"));
        base_.drain_timeout = std::chrono::milliseconds(cfg.get_int("processor.drain_timeout"));
        scan_interval_ = std::chrono::milliseconds(cfg.get_int("processor.scan_interval"));

        jobs_dir_ = cfg.get_string("processor.jobs_dir");
        std::error_code ec;
        if (!std::filesystem::is_directory(jobs_dir_, ec)) {
            if (cfg.origin("processor.jobs_dir") == "default") {
                log_.info("no job folder {} here (processor.jobs_dir); running the built-in default job {}", jobs_dir_,
                          k_builtin_default_job_name);
                builtin_ = true;
            } else {
                log_.warn("job folder {} (processor.jobs_dir, from {}) does not exist; no jobs until it does", jobs_dir_,
                          cfg.origin("processor.jobs_dir"));
            }
        }
        log_.info("jobs from {} -> Kafka {}, CQL {}", builtin_ ? "the built-in default" : jobs_dir_, base_.bootstrap,
                  base_.contact_points);
        scan();
        schedule_scan();
        return std::optional<net::endpoint>();
    }

    // Called on the io thread, which in `millrace up` also serves the embedded
    // broker and CQL store that the drain needs: keep running their handlers
    // (asio supports nested poll()) until every worker is done.
    void stop() override {
        stopping_ = true;
        timer_.cancel();
        std::vector<job*> all;
        for (auto& [path, e] : entries_) {
            if (e.running) all.push_back(e.running.get());
        }
        for (auto& j : retiring_) all.push_back(j.get());
        for (job* j : all) j->request_stop();
        auto guard = asio::make_work_guard(ctx_.io);
        auto deadline = std::chrono::steady_clock::now() + base_.drain_timeout + std::chrono::seconds(10);
        auto all_stopped = [&] {
            for (job* j : all) {
                if (!j->stopped()) return false;
            }
            return true;
        };
        while (!all_stopped() && std::chrono::steady_clock::now() < deadline) {
            ctx_.io.poll();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (!all_stopped()) {
            log_.warn("jobs did not finish within {} ms; leaving them to finish in the background",
                      (base_.drain_timeout + std::chrono::seconds(10)).count());
            for (auto& [path, e] : entries_) {
                if (e.running && !e.running->stopped()) (void)e.running.release();
            }
            for (auto& j : retiring_) {
                if (!j->stopped()) (void)j.release();
            }
        }
        std::lock_guard lock(mutex_);
        entries_.clear();
        retiring_.clear();
    }

private:
    void schedule_scan() {
        timer_.expires_after(scan_interval_);
        timer_.async_wait([this](const std::error_code& ec) {
            if (ec || stopping_) return;
            scan();
            schedule_scan();
        });
    }

    // Compares the folder with what runs: starts added files, restarts
    // changed ones (after the old run drained), stops removed ones.
    void scan() {
        std::lock_guard lock(mutex_);
        std::erase_if(retiring_, [](const std::unique_ptr<job>& j) { return j->stopped(); });
        for (auto& [path, e] : entries_) {
            if (e.waiting && !draining(path)) {
                e.waiting = false;
                log_.info("the previous run of job {} drained", e.name);
                load(e, true);
            }
        }
        std::map<std::string, int64_t> seen;
        if (builtin_) {
            seen[std::string("<built-in>/") + std::string(k_builtin_default_job_name)] = 1;
        } else {
            seen = scan_job_files(jobs_dir_);
        }
        for (auto it = entries_.begin(); it != entries_.end();) {
            if (seen.count(it->first)) {
                ++it;
                continue;
            }
            log_.info("job file {} was removed; stopping job {}", it->first, it->second.name);
            retire(it->second);
            it = entries_.erase(it);
        }
        for (const auto& [path, stamp] : seen) {
            auto it = entries_.find(path);
            // An exactly-once job whose transaction failed asked to run again (from its committed offsets).
            const bool restart = it != entries_.end() && it->second.running && it->second.running->restart_requested();
            if (restart) log_.info("restarting job {} after its transaction failed", it->second.name);
            if (it != entries_.end() && it->second.stamp == stamp && !restart) {
                // A job whose worker ended on its own (a fatal error) stays reported, not restarted,
                // until its file changes.
                continue;
            }
            std::string text;
            if (builtin_) {
                text = std::string(builtin_default_job());
            } else {
                auto read = read_job_file(path);
                if (!read) {
                    log_.warn("{}", read.err().message());
                    continue;  // retried at the next scan
                }
                text = std::move(*read);
            }
            bool existed = it != entries_.end();
            if (existed && !restart && it->second.text == text && it->second.error.empty()) {
                it->second.stamp = stamp;  // touched, not changed
                continue;
            }
            if (existed) retire(it->second);
            job_entry& e = entries_[path];
            e.path = path;
            e.name = job_name_of(path);
            e.stamp = stamp;
            e.text = std::move(text);
            e.plan.clear();
            e.error.clear();
            e.running.reset();
            e.waiting = false;
            if (draining(path)) {
                log_.info("job {} changed; starting it once its previous run has drained", e.name);
                e.waiting = true;
                continue;
            }
            load(e, existed);
        }
    }

    // Whether a stopped run of the file `path` is still draining (writes in flight, offsets not committed).
    bool draining(const std::string& path) const {
        for (const auto& j : retiring_) {
            if (!j->stopped() && j->file() == path) return true;
        }
        return false;
    }

    void retire(job_entry& e) {
        if (!e.running) return;
        e.running->request_stop();
        retiring_.push_back(std::move(e.running));
    }

    void load(job_entry& e, bool reload) {
        auto compiled = sql::compile_job(e.text, e.path);
        if (auto* errors = std::get_if<std::vector<sql::diagnostic>>(&compiled)) {
            e.error = sql::to_string(*errors);
            while (!e.error.empty() && e.error.back() == '\n') e.error.pop_back();
            log_.error("job file {} has {} error{}; job {} does not run until it is fixed:\n{}", e.path, errors->size(),
                       errors->size() == 1 ? "" : "s", e.name, e.error);
            return;
        }
        auto& program = std::get<sql::job_program>(compiled);
        e.plan = program.explain();
        job_options o = base_;
        o.name = e.name;
        o.file = e.path;
        o.group = program.setting(sql::settings::k_group_id, "millrace-job-" + e.name);
        std::string first_topic;
        for (size_t table : program.sources()) {
            first_topic = program.tables()[table].option("topic");
            if (!first_topic.empty()) break;
        }
        o.dlq_topic = program.setting(sql::settings::k_dlq_topic, first_topic.empty() ? "" : first_topic + ".dlq");
        if (auto batch = program.setting(sql::settings::k_batch_size); !batch.empty()) {
            char* end = nullptr;
            long n = std::strtol(batch.c_str(), &end, 10);
            if (end == batch.c_str() || *end != '\0' || n < 1 || n > 100000) {
                e.error = fmt::format("{}: SET '{}' = '{}' is not a number of records from 1 to 100000", e.path,
                                      sql::settings::k_batch_size, batch);
                log_.error("{}", e.error);
                return;
            }
            o.batch_size = static_cast<size_t>(n);
        }
        for (size_t table : program.sources()) {
            if (!o.dlq_topic.empty() && program.tables()[table].option("topic") == o.dlq_topic) {
                e.error = fmt::format("{}: the DLQ topic {} is a source of the job; rejects would be read again", e.path,
                                      o.dlq_topic);
                log_.error("{}", e.error);
                return;
            }
        }
        log_.info("{} job {} from {} (group {})", reload ? "reloading" : "starting", e.name, e.path, o.group);
        e.running = std::make_unique<job>(std::move(program), std::move(o), ctx_.metrics, ctx_.clock);
        e.running->start();
    }

    std::vector<job_report> snapshot() const {
        std::lock_guard lock(mutex_);
        std::vector<job_report> out;
        for (const auto& [path, e] : entries_) {
            job_report r;
            if (e.running) {
                r.status = e.running->status();
            } else if (e.waiting) {
                r.status.name = e.name;
                r.status.file = e.path;
                r.status.state = "starting";
                r.status.last_error = "waiting for the previous run to drain and commit";
            } else {
                r.status.name = e.name;
                r.status.file = e.path;
                r.status.state = "error";
                r.status.last_error = e.error;
            }
            r.sql = e.text;
            r.plan = e.plan;
            out.push_back(std::move(r));
        }
        return out;
    }

    component_context& ctx_;
    log::logger log_;
    asio::steady_timer timer_;
    job_options base_;
    std::string jobs_dir_;
    bool builtin_ = false;
    bool stopping_ = false;
    std::chrono::milliseconds scan_interval_{2000};
    mutable std::mutex mutex_;  // entries_ and retiring_: changed on the io thread, read by /status
    std::map<std::string, job_entry> entries_;
    std::vector<std::unique_ptr<job>> retiring_;  // stopping after a reload or removal
};

}  // namespace

void add_options(config::schema& s) {
    s.add({"processor.jobs_dir", value_kind::path, "./jobs",
           "Folder of stream jobs (*.sql, one job each; see docs/sql.md); reread when files change. A file with an error is "
           "reported and the others keep running. Left at ./jobs where no such folder exists: the built-in default job "
           "(jobs/created_users.sql)."});
    s.add({"processor.scan_interval", value_kind::duration_ms, "2s", "How often the job folder is checked for changes.", {},
           100, 3'600'000});
    s.add({"processor.kafka_properties", value_kind::string_list, "",
           "Extra librdkafka properties name=value for every job's consumer and producers (security.protocol=SASL_SSL, ...); "
           "a table's 'properties.*' options add to them."});
    s.add({"processor.registry_url", value_kind::string, "",
           "Schema registry of avro-confluent tables (http://host:port); empty: the registry started in this process, else "
           "127.0.0.1:8081."});
    s.add({"processor.state_keyspace", value_kind::string, "millrace_jobs",
           "Keyspace of the window state table (window_state) in the CQL store, created when missing."});
    s.add({"processor.replication_factor", value_kind::integer, "1",
           "replication_factor of keyspaces the jobs create (SimpleStrategy).", {}, 1, 100});
    s.add({"processor.consistency", value_kind::choice, "local_quorum", "Consistency level of the writes.",
           {"one", "local_one", "quorum", "local_quorum", "all"}});
    s.add({"processor.cql_connections", value_kind::integer, "2", "CQL connections per contact point and sink.", {}, 1, 64});
    s.add({"processor.batch_size", value_kind::integer, "1000",
           "Most records per micro-batch (a job may SET 'batch.size').", {}, 1, 100000});
    s.add({"processor.max_delay", value_kind::duration_ms, "5ms",
           "Longest a micro-batch waits for more records before it is written.", {}, 0, 60000});
    // 64: against the CQL store a batch costs about half the CPU per row of single INSERTs on both sides
    // (docs/performance.md, issue 16); Cassandra logs a warning for batches above 5 KiB but takes them.
    s.add({"processor.rows_per_request", value_kind::integer, "64",
           "Rows per sink request: 1 sends one prepared INSERT per row; more groups rows into unlogged batches of "
           "at most 32 KiB of values each (Cassandra refuses batches above 50 KiB and warns above 5 KiB).", {}, 1, 1000});
    s.add({"processor.max_in_flight", value_kind::integer, "128", "Most sink write requests in flight per job.", {}, 1, 32768});
    // 10,000 records are ~0.4 s of work at the pipeline's rate: enough to keep
    // max_in_flight requests busy; more only held memory (each record is kept
    // with its SQL and CQL values until acknowledged).
    s.add({"processor.max_pending", value_kind::integer, "10000",
           "Unacknowledged records above which a job's partitions are paused (resumed below half).", {}, 1, 10'000'000});
    s.add({"processor.commit_interval", value_kind::duration_ms, "1s",
           "How often acknowledged offsets are committed (also on revocation and stop).", {}, 10, 3'600'000});
    s.add({"processor.drain_timeout", value_kind::duration_ms, "10s",
           "How long a stop, reload or revocation waits for in-flight writes before committing what was acknowledged.",
           {}, 0, 3'600'000});
}

std::unique_ptr<component> make_processor(component_context& ctx) { return std::make_unique<processor_component>(ctx); }

}  // namespace millrace::processor
