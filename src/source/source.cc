#include "millrace/source/source.h"

#include <cstdio>
#include <thread>

#include <unistd.h>

#include <asio/executor_work_guard.hpp>

#include "api.h"
#include "millrace/common/http.h"
#include "millrace/common/log.h"
#include "millrace/source/fetcher.h"
#include "millrace/source/pg_writer.h"
#include "millrace/source/postgres.h"

namespace millrace::source {
namespace {

using config::key_spec;
using config::value_kind;

class source_component final : public component {
public:
    explicit source_component(component_context& ctx)
        : ctx_(ctx), api_(ctx.clock, ctx.metrics), server_(ctx.io, "source") {
        api_.add_routes(server_);
    }
    std::string name() const override { return "source"; }
    result<std::optional<net::endpoint>> start() override {
        auto ep = server_.start(ctx_.cfg.get_string("source.host"), ctx_.cfg.get_port("source.port"), "source.port");
        if (!ep) return ep.err();
        return std::optional<net::endpoint>(*ep);
    }
    void stop() override { server_.stop(); }

private:
    component_context& ctx_;
    api api_;
    http::server server_;
};

class postgres_component final : public component {
public:
    explicit postgres_component(component_context& ctx) : cfg_(ctx.cfg), server_(postgres_options_from(ctx.cfg)) {}
    std::string name() const override { return "postgres"; }
    result<std::optional<net::endpoint>> start() override {
        if (auto st = server_.start(); !st) return st.err().with_context("postgres");
        pg_writer writer(server_.dsn(), parse_raw_storage(cfg_.get_string("source.raw")).value());
        if (auto st = writer.migrate(); !st) return st.err().with_context("postgres");
        if (!server_.managed()) return std::optional<net::endpoint>();
        return std::optional<net::endpoint>(net::endpoint{server_.options().host, server_.port()});
    }
    void stop() override {
        if (auto st = server_.stop(); !st) log::logger("postgres").error("{}", st.err().message());
    }

private:
    const config::config& cfg_;
    postgres_server server_;
};

// The API served on 127.0.0.1:<ephemeral> on its own thread, for a fetch
// without source.url: the HTTP path stays real without internet.
class local_api {
public:
    local_api() : api_(millrace::clock::system(), registry_), server_(io_, "source") { api_.add_routes(server_); }
    ~local_api() {
        server_.stop();
        guard_.reset();
        io_.stop();
        if (thread_.joinable()) thread_.join();
    }
    result<std::string> start() {
        auto ep = server_.start("127.0.0.1", 0);
        if (!ep) return ep.err();
        thread_ = std::thread([this] { io_.run(); });
        return fmt::format("http://{}/api/", ep->to_string());
    }

private:
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
    metrics::registry registry_;
    api api_;
    http::server server_;
    std::thread thread_;
};

// Progress counts the users stored (new or already there): the fetch runs up
// to two pages ahead of the store, so fetched users are not yet done.
void print_progress(const fetch_summary& s, int64_t total, bool terminal) {
    const int64_t done = s.stored + s.duplicates;
    double pct = total > 0 ? 100.0 * static_cast<double>(done + s.errors) / static_cast<double>(total) : 100.0;
    double rate = s.seconds > 0 ? static_cast<double>(done) / s.seconds : 0;
    if (terminal) {
        int filled = static_cast<int>(pct / 100.0 * 30);
        std::string bar(static_cast<size_t>(std::clamp(filled, 0, 30)), '#');
        bar.resize(30, '.');
        std::printf("\r[%s] %5.1f%%  %lld/%lld users  %.0f users/s", bar.c_str(), pct, static_cast<long long>(done),
                    static_cast<long long>(total), rate);
    } else {
        std::printf("progress %lld/%lld users (%.1f%%), %.0f users/s\n", static_cast<long long>(done),
                    static_cast<long long>(total), pct, rate);
    }
    std::fflush(stdout);
}

int run_fetch_command(const config::config& cfg) {
    log::logger log("source");
    auto raw = parse_raw_storage(cfg.get_string("source.raw"));
    postgres_server pg(postgres_options_from(cfg));
    if (auto st = pg.start(); !st) {
        std::fprintf(stderr, "millrace source fetch: %s\n", st.err().message().c_str());
        return 1;
    }
    pg_writer writer(pg.dsn(), *raw);
    if (auto st = writer.migrate(); !st) {
        std::fprintf(stderr, "millrace source fetch: %s\n", st.err().message().c_str());
        return 1;
    }
    fetch_options options;
    options.url = cfg.get_string("source.url");
    options.count = cfg.get_int("source.count");
    options.batch_size = static_cast<int>(cfg.get_int("source.batch_size"));
    options.seed = cfg.get_string("source.seed");
    options.nat = cfg.get_string("source.nat");
    options.first_page = cfg.get_int("source.first_page");
    options.timeout_ms = cfg.get_int("source.timeout");
    options.max_retries = static_cast<int>(cfg.get_int("source.retries"));
    options.backoff_ms = cfg.get_int("source.backoff");
    options.backoff_max_ms = cfg.get_int("source.backoff_max");
    options.rate_limit = static_cast<double>(cfg.get_int("source.rate_limit"));
    options.store_retry_ms = cfg.get_int("source.store_retry");
    options.raw = *raw;
    std::unique_ptr<local_api> local;
    if (options.url.empty()) {
        local = std::make_unique<local_api>();
        auto url = local->start();
        if (!url) {
            std::fprintf(stderr, "millrace source fetch: %s\n", url.err().message().c_str());
            return 1;
        }
        options.url = *url;
    }
    log.info("fetching {} users from {} (seed {}, {} per batch) into {}", options.count, options.url, options.seed,
             options.batch_size, pg.managed() ? fmt::format("local PostgreSQL on port {}", pg.port()) : "postgres.dsn");
    const bool terminal = ::isatty(STDOUT_FILENO) != 0;
    fetch_hooks hooks;
    hooks.on_progress = [&](const fetch_summary& s) { print_progress(s, options.count, terminal); };
    auto summary = run_fetch(options, writer, hooks);
    if (terminal) std::printf("\n");
    if (!summary) {
        std::fprintf(stderr, "millrace source fetch: %s\n", summary.err().message().c_str());
        return 1;
    }
    const auto& s = *summary;
    std::printf("fetched %lld, stored %lld, duplicates %lld, errors %lld, %.0f users/s (%.2f s)\n",
                static_cast<long long>(s.fetched), static_cast<long long>(s.stored), static_cast<long long>(s.duplicates),
                static_cast<long long>(s.errors), s.seconds > 0 ? static_cast<double>(s.fetched) / s.seconds : 0.0,
                s.seconds);
    std::fflush(stdout);
    return 0;
}

}  // namespace

void add_options(config::schema& s) {
    s.add({"source.url", value_kind::string, "",
           "Base URL `millrace source fetch` reads, e.g. https://randomuser.me/api/; empty serves the API in-process "
           "on an ephemeral port and reads that."});
    s.add({"source.count", value_kind::integer, "1000", "Users `millrace source fetch` fetches (--count).", {}, 1, INT64_MAX});
    s.add({"source.batch_size", value_kind::integer, "500", "Users per HTTP call and per PostgreSQL transaction.", {}, 1, 5000});
    s.add({"source.seed", value_kind::string, "millrace", "API seed of the fetch; the same seed fetches the same users."});
    s.add({"source.nat", value_kind::string, "", "Nationalities to fetch, comma-separated (AU, BR, ..., US); empty for all."});
    s.add({"source.first_page", value_kind::integer, "1", "API page of the first batch; batch k reads page first_page+k.", {}, 1, 1'000'000'000});
    s.add({"source.timeout", value_kind::duration_ms, "10s", "Timeout of one HTTP call.", {}, 1, 3'600'000});
    s.add({"source.retries", value_kind::integer, "5", "Retries of an HTTP call that failed with 5xx, 429 or a network error.", {}, 0, 1000});
    s.add({"source.backoff", value_kind::duration_ms, "200ms", "First retry delay; it doubles per retry, with jitter.", {}, 1, 3'600'000});
    s.add({"source.backoff_max", value_kind::duration_ms, "10s", "Largest retry delay.", {}, 1, 3'600'000});
    s.add({"source.rate_limit", value_kind::integer, "0", "Most HTTP calls per second; 0 for no limit.", {}, 0, 100000});
    s.add({"source.store_retry", value_kind::duration_ms, "60s",
           "How long a batch whose store failed because PostgreSQL is unavailable is retried before the fetch fails.", {}, 0, INT64_MAX});
    s.add({"source.raw", value_kind::choice, "json",
           "How the original user document is kept in users.raw: json (fast, validated), jsonb (queryable, ~4x slower "
           "ingest), text, or off. Read when the table is created.",
           {"json", "jsonb", "text", "off"}});

    s.describe_section("postgres", "PostgreSQL, the raw store: a local server millrace manages, or an external one (postgres.dsn).");
    s.add({"postgres.dsn", value_kind::string, "",
           "libpq connection string of an external PostgreSQL (wal_level must be logical); empty runs a local one."});
    s.add({"postgres.host", value_kind::string, "127.0.0.1", "Address the local PostgreSQL listens on."});
    s.add({"postgres.port", value_kind::port, "5432", "Port of the local PostgreSQL; when taken, another free port is used and logged."});
    s.add({"postgres.data_dir", value_kind::path, "", "Cluster directory of the local PostgreSQL; empty means <data_dir>/postgres."});
    s.add({"postgres.bin_dir", value_kind::path, "", "Directory of initdb and pg_ctl; empty finds /usr/lib/postgresql/<newest>/bin, else PATH."});
    s.add({"postgres.database", value_kind::string, "millrace", "Database that holds table users (created when missing)."});
    s.add({"postgres.user", value_kind::string, "postgres", "Database role millrace connects as (the local cluster's superuser)."});
    s.add({"postgres.system_user", value_kind::string, "postgres",
           "OS user that runs the local server when millrace runs as root (PostgreSQL refuses root)."});
    s.add({"postgres.admin_port", value_kind::port, "9471", "Admin endpoint port of `millrace postgres` run as its own process."});
    s.add({"postgres.max_replication_slots", value_kind::integer, "10", "max_replication_slots of the local server.", {}, 1, 1000});
    s.add({"postgres.max_wal_senders", value_kind::integer, "10", "max_wal_senders of the local server.", {}, 1, 1000});
    s.add({"postgres.start_timeout", value_kind::duration_ms, "60s", "How long the local server may take to accept connections.", {}, 1000, 3'600'000});
    s.add({"postgres.require_logical", value_kind::boolean, "true",
           "Refuse an external server whose wal_level is not logical (change capture needs it)."});
}

std::unique_ptr<component> make_source(component_context& ctx) { return std::make_unique<source_component>(ctx); }

std::unique_ptr<component> make_postgres(component_context& ctx) { return std::make_unique<postgres_component>(ctx); }

int run_source_command(const config::config& cfg, const std::vector<std::string>& args) {
    if (args.size() == 1 && args[0] == "fetch") return run_fetch_command(cfg);
    std::fprintf(stderr, "millrace source: usage: millrace source [serve] | millrace source fetch [--count N] [--url URL] [--seed S]\n");
    return 2;
}

}  // namespace millrace::source
