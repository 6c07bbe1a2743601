#include "millrace/console/console.h"

#include <algorithm>

#include "millrace/common/http.h"
#include "millrace/common/http_client_auth.h"
#include "millrace/common/security.h"
#include "millrace/common/web_assets.h"
#include "millrace/web/console_assets.h"
#include "service.h"

namespace millrace::console {
namespace {

using config::key_spec;
using config::value_kind;

// The admin endpoints to read /readyz, /metrics and jobs from: the
// configured list, else the one of this process (`millrace up` publishes it,
// its port may be ephemeral) and the standalone admin port on admin.host of
// every part this process does not run. (A part run here reports on the own
// endpoint; its default standalone port may belong to another millrace on
// this host, whose jobs and health the console would then show.)
std::vector<std::string> admin_endpoints(const component_context& ctx) {
    const auto& cfg = ctx.cfg;
    const auto& configured = cfg.get_list("console.admin_endpoints");
    if (!configured.empty()) return configured;
    std::vector<std::string> out;
    if (ctx.services != nullptr) {
        if (auto own = ctx.services->find("admin")) out.push_back(*own);
    }
    const std::string& host = cfg.get_string("admin.host");
    for (const char* section : {"up", "broker", "cql", "source", "postgres", "cdc", "processor", "scheduler", "registry"}) {
        const std::string key = fmt::format("{}.admin_port", section);
        if (!cfg.has(key) || cfg.get_port(key) == 0) continue;
        if (ctx.services != nullptr && ctx.services->local(section)) continue;
        std::string address = fmt::format("{}:{}", host, cfg.get_port(key));
        if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
    }
    return out;
}

std::string processor_group(const config::config& cfg) {
    const std::string& own = cfg.get_string("console.processor_group");
    if (!own.empty()) return own;
    // The default pipeline's job, jobs/created_users.sql, in its default group.
    return "millrace-job-created_users";
}

class console_component final : public component {
public:
    explicit console_component(component_context& ctx) : ctx_(ctx), server_(ctx.io, "console") {}
    std::string name() const override { return "console"; }

    result<std::optional<net::endpoint>> start() override {
        const auto& cfg = ctx_.cfg;
        settings s;
        s.workers = static_cast<size_t>(cfg.get_int("console.workers"));
        s.sample_interval = std::chrono::milliseconds(cfg.get_int("console.sample_interval"));
        s.history_window = std::chrono::milliseconds(cfg.get_int("console.history"));
        s.request_timeout = std::chrono::milliseconds(cfg.get_int("console.request_timeout"));
        s.max_scan = cfg.get_int("console.max_scan");
        s.max_tails = cfg.get_int("console.max_tails");
        s.lag_warn = cfg.get_int("console.lag_warn");
        s.admin_endpoints = admin_endpoints(ctx_);
        s.processor_group = processor_group(cfg);
        s.pipeline_topic = cfg.get_string("console.pipeline_topic");
        s.pipeline_table = cfg.get_string("console.pipeline_table");
        s.own_auth = http::own_endpoint_auth(cfg);
        s.scheduler_url = cfg.get_string("console.scheduler_url");
        if (s.scheduler_url.empty()) {
            if (auto address = services::http_address(ctx_, "scheduler")) s.scheduler_url = http::own_url(s.own_auth, *address);
        }
        service_ = std::make_unique<service>(ctx_, std::move(s));
        service_->add_routes(server_);
        web::serve_assets(server_, web::console_assets());
        auto ep = server_.start(cfg.get_string("console.host"), cfg.get_port("console.port"), "console.port");
        if (!ep) return ep.err();
        if (auto st = service_->start(); !st) {
            server_.stop();
            return st.err().with_context("console");
        }
        log::logger("console").info("web console on http://{} reading Kafka at {}", ep->to_string(), services::kafka_bootstrap(ctx_));
        return std::optional<net::endpoint>(*ep);
    }

    void stop() override {
        server_.stop();
        if (service_) service_->stop();
    }

private:
    component_context& ctx_;
    http::server server_;
    std::unique_ptr<service> service_;
};

}  // namespace

status service::start() {
    auto client = kafka_client::create(services::kafka_bootstrap(ctx_), settings_.request_timeout,
                                         security::kafka_client_properties(ctx_.cfg));
    if (!client) return client.err();
    kafka_ = std::move(*client);
    sampler_ = std::thread([this] { sampler_loop(); });
    return {};
}

void service::stop() {
    // Only signals: the io thread must not wait here for a browse or a probe
    // in flight. Their replies still arrive while the host drains the
    // io_context; the threads are joined in ~service.
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        for (auto& s : subscribers_) s.close();
        subscribers_.clear();
    }
    wake_.notify_all();
    // The CQL session goes now, before the store stops, so that it does not
    // log the store going away (a clean stop logs no warning). Skipped while a
    // worker is still connecting it; ~service closes that one.
    std::shared_ptr<cql_client::session> cql;
    if (std::unique_lock lock(cql_mutex_, std::try_to_lock); lock.owns_lock()) cql = std::move(cql_);
    if (cql) cql->close();
}

service::~service() {
    stop();
    if (sampler_.joinable()) sampler_.join();
    std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> tails;
    {
        std::lock_guard lock(mutex_);
        tails.swap(tails_);
    }
    for (auto& [thread, done] : tails) {
        if (thread.joinable()) thread.join();
    }
    workers_.stop();
    std::lock_guard lock(cql_mutex_);
    if (cql_) cql_->close();
    cql_.reset();
}

void add_options(config::schema& s) {
    s.add({"console.workers", value_kind::integer, "4",
           "Threads that run the console's Kafka, HTTP and CQL calls (the shared io thread never waits on them).", {}, 1, 64});
    s.add({"console.sample_interval", value_kind::duration_ms, "2s",
           "How often offsets, group lag, admin metrics and component health are sampled.", {}, 200, 3'600'000});
    s.add({"console.history", value_kind::duration_ms, "15m",
           "How much metric history (rates, lag) is kept in memory for the charts.", {}, 1000, 7 * 24 * 3'600'000LL});
    s.add({"console.request_timeout", value_kind::duration_ms, "10s",
           "Timeout of one call to Kafka, the registry, the scheduler or the CQL store.", {}, 100, 600'000});
    s.add({"console.max_scan", value_kind::integer, "100000",
           "Most records one message-browser request may read while filtering.", {}, 1, 10'000'000});
    s.add({"console.max_tails", value_kind::integer, "8", "Most live tails (server-sent-event streams of records) open at once.", {}, 0, 1000});
    s.add({"console.lag_warn", value_kind::integer, "10000",
           "Consumer lag in records above which the processor's state turns amber.", {}, 0, INT64_MAX});
    s.add({"console.admin_endpoints", value_kind::string_list, "",
           "host:port of admin endpoints whose /readyz and /metrics the console reads; empty reads `up`'s and each "
           "component's admin port on admin.host."});
    s.add({"console.processor_group", value_kind::string, "",
           "Consumer group of the stream job whose lag the console shows; empty: the default job's, millrace-job-created_users."});
    s.add({"console.pipeline_topic", value_kind::string, "users_created", "The topic the pipeline view follows."});
    s.add({"console.pipeline_table", value_kind::string, "spark_streams.created_users", "The CQL table the pipeline view and table browser start at."});
    s.add({"console.registry_url", value_kind::string, "",
           "Base URL of a Confluent-compatible schema registry; empty uses `millrace registry`'s address."});
    s.add({"console.scheduler_url", value_kind::string, "",
           "Base URL of the scheduler: its web UI for links and its REST API the console reads; empty uses `millrace scheduler`'s address."});
}

std::unique_ptr<component> make_console(component_context& ctx) { return std::make_unique<console_component>(ctx); }

}  // namespace millrace::console
