// bench/source: users/s generated, served over HTTP, parsed, and stored in
// PostgreSQL with COPY, for each way of keeping `raw`. Starts its own
// PostgreSQL (initdb into a temp dir, fsync on, as in production).
//
// Usage: source_bench [users]   (default 100000)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <sys/stat.h>

#include "api.h"
#include "millrace/common/http.h"
#include "millrace/common/http_client.h"
#include "millrace/source/fetcher.h"
#include "millrace/source/generator.h"
#include "millrace/source/pg_writer.h"
#include "millrace/source/postgres.h"

using namespace millrace;
using namespace millrace::source;
using steady = std::chrono::steady_clock;

namespace {

double seconds_since(steady::time_point start) { return std::chrono::duration<double>(steady::now() - start).count(); }

}  // namespace

int main(int argc, char** argv) {
    const int64_t users = argc > 1 ? std::atoll(argv[1]) : 100'000;
    constexpr int k_page = 5000;
    const int64_t pages = (users + k_page - 1) / k_page;
    const int64_t now_ms = 1'764'028'800'000;

    // 1. Generation, in memory.
    query q;
    q.results = k_page;
    q.seed = "bench";
    std::string out;
    auto start = steady::now();
    size_t bytes = 0;
    for (int64_t page = 1; page <= pages; ++page) {
        q.page = page;
        out.clear();
        write_response(q, now_ms, out);
        bytes += out.size();
    }
    double gen_s = seconds_since(start);
    std::printf("generate   %9.0f users/s  (%.0f users/ms, %.0f MB/s of JSON)\n", pages * k_page / gen_s,
                pages * k_page / gen_s / 1000, bytes / gen_s / 1e6);

    // 2. Served over HTTP and read with libcurl (generation included).
    asio::io_context io(1);
    auto guard = asio::make_work_guard(io);
    metrics::registry registry;
    api a(clock::system(), registry);
    http::server server(io, "source");
    a.add_routes(server);
    auto ep = server.start("127.0.0.1", 0);
    if (!ep) return std::fprintf(stderr, "%s\n", ep.err().message().c_str()), 1;
    std::thread io_thread([&] { io.run(); });
    http::client client;
    http::client_request request;
    std::vector<std::string> bodies;
    start = steady::now();
    for (int64_t page = 1; page <= pages; ++page) {
        request.url = "http://" + ep->to_string() + "/api/?results=5000&seed=bench&page=" + std::to_string(page);
        auto response = client.perform(request);
        if (!response) return std::fprintf(stderr, "%s\n", response.err().message().c_str()), 1;
        bodies.push_back(std::move(response->body));
    }
    double http_s = seconds_since(start);
    std::printf("http       %9.0f users/s  (server generation + transfer + client)\n", pages * k_page / http_s);

    // 3. Parsed into rows (the fetcher's work between HTTP and COPY).
    std::vector<std::vector<user_row>> batches;
    start = steady::now();
    int64_t errors = 0;
    for (const auto& body : bodies) batches.push_back(parse_users(body, true, errors).value());
    double parse_s = seconds_since(start);
    std::printf("parse      %9.0f users/s\n", pages * k_page / parse_s);

    // 4. COPY into PostgreSQL, one database per raw storage.
    char pattern[] = "/tmp/millrace-source-bench-XXXXXX";
    std::string dir = ::mkdtemp(pattern);
    ::chmod(dir.c_str(), 0755);
    postgres_options po;
    po.data_dir = dir + "/cluster";
    po.port = 0;
    po.database = "bench_off";
    postgres_server pg(po);
    if (auto st = pg.start(); !st) return std::fprintf(stderr, "%s\n", st.err().message().c_str()), 1;
    for (auto raw : {raw_storage::off, raw_storage::text, raw_storage::json, raw_storage::jsonb}) {
        postgres_options db = po;
        db.port = pg.port();
        db.database = "bench_" + std::string(to_string(raw));
        postgres_server attach(db);  // reuses the running server, creates the database
        if (auto st = attach.start(); !st) return std::fprintf(stderr, "%s\n", st.err().message().c_str()), 1;
        pg_writer writer(attach.dsn(), raw);
        if (auto st = writer.migrate(); !st) return std::fprintf(stderr, "%s\n", st.err().message().c_str()), 1;
        start = steady::now();
        for (const auto& batch : batches) {
            // One transaction per 1000 rows, as `source fetch` does with its default-ish batch.
            for (size_t from = 0; from < batch.size(); from += 1000) {
                std::vector<user_row> part(batch.begin() + static_cast<long>(from),
                                           batch.begin() + static_cast<long>(std::min(batch.size(), from + 1000)));
                auto res = writer.write_batch(part);
                if (!res) return std::fprintf(stderr, "%s\n", res.err().message().c_str()), 1;
            }
        }
        double copy_s = seconds_since(start);
        std::printf("copy raw=%-5s %9.0f rows/s\n", std::string(to_string(raw)).c_str(), pages * k_page / copy_s);
    }
    // 5. End to end: run_fetch (HTTP, parse, COPY) with source.fetch's defaults.
    for (auto raw : {raw_storage::off, raw_storage::json}) {
        postgres_options db = po;
        db.port = pg.port();
        db.database = "bench_fetch_" + std::string(to_string(raw));
        postgres_server attach(db);
        if (auto st = attach.start(); !st) return std::fprintf(stderr, "%s\n", st.err().message().c_str()), 1;
        pg_writer writer(attach.dsn(), raw);
        if (auto st = writer.migrate(); !st) return std::fprintf(stderr, "%s\n", st.err().message().c_str()), 1;
        fetch_options fo;
        fo.url = "http://" + ep->to_string() + "/api/";
        fo.count = users;
        fo.batch_size = 500;
        fo.raw = raw;
        auto summary = run_fetch(fo, writer);
        if (!summary) return std::fprintf(stderr, "%s\n", summary.err().message().c_str()), 1;
        std::printf("fetch raw=%-5s %8.0f users/s end to end (batch 500)\n", std::string(to_string(raw)).c_str(),
                    static_cast<double>(summary->stored) / summary->seconds);
    }
    server.stop();
    guard.reset();
    io.stop();
    io_thread.join();
    (void)pg.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return 0;
}
