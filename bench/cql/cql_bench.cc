// CQL benchmark: prepared inserts and point reads of created_users-shaped rows
// (id uuid PRIMARY KEY + 12 text columns) through millrace's C++ CQL client, at
// a fixed number of requests in flight. Prints one JSON line per workload:
//   {"workload":"insert","concurrency":64,"ops":...,"seconds":...,"ops_per_s":...,"p50_us":...,"p99_us":...}
//
//   cql_bench --contact host:port [--ops-1 N] [--ops-64 N] [--concurrency 1,64]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "millrace/cql_client/client.h"

using namespace millrace::cql_client;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr const char* k_columns[] = {"first_name", "last_name", "gender", "address", "post_code", "email",
                                     "username", "registered_date", "phone", "picture", "dob", "nationality"};

uuid_bytes make_id(uint64_t n) {
    uuid_bytes b{};
    uint64_t hi = 0x9e3779b97f4a7c15ULL * (n + 1);
    for (int idx = 0; idx < 8; ++idx) b[idx] = static_cast<uint8_t>(hi >> (idx * 8));
    for (int idx = 0; idx < 8; ++idx) b[8 + idx] = static_cast<uint8_t>(n >> (idx * 8));
    b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);
    b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);
    return b;
}

std::vector<value> make_row(uint64_t n) {
    std::vector<value> v;
    v.push_back(value::uuid(make_id(n)));
    v.push_back(value::text(fmt::format("First{}", n % 1000)));
    v.push_back(value::text(fmt::format("Last{}", n % 7919)));
    v.push_back(value::text(n % 2 ? "female" : "male"));
    v.push_back(value::text(fmt::format("{} Main Street, Springfield, Oregon, United States", n % 9999)));
    v.push_back(value::text(fmt::format("{:05}", n % 99999)));
    v.push_back(value::text(fmt::format("user{}@example.com", n)));
    v.push_back(value::text(fmt::format("user{}", n)));
    v.push_back(value::text("2015-03-11T10:12:33.123Z"));
    v.push_back(value::text(fmt::format("(555) {:03}-{:04}", n % 1000, n % 10000)));
    v.push_back(value::text(fmt::format("https://randomuser.me/api/portraits/med/men/{}.jpg", n % 100)));
    v.push_back(value::text("1985-07-22T04:05:06.789Z"));
    v.push_back(value::text("US"));
    return v;
}

struct outcome {
    uint64_t ops = 0;
    double seconds = 0;
    std::vector<int64_t> latencies_us;
    uint64_t errors = 0;
    std::string first_error;
};

// Runs `total` operations with `concurrency` in flight; `issue(n, done)` starts op n.
outcome run(int concurrency, uint64_t total,
            const std::function<void(uint64_t, std::function<void(bool, std::string)>)>& issue) {
    outcome out;
    out.latencies_us.resize(total);
    std::atomic<uint64_t> next{0};
    std::atomic<uint64_t> finished{0};
    std::atomic<uint64_t> errors{0};
    std::mutex mu;
    std::promise<void> all_done;
    std::function<void()> start_one;
    start_one = [&]() {
        uint64_t n = next++;
        if (n >= total) return;
        auto started = clock_type::now();
        issue(n, [&, n, started](bool ok, std::string why) {
            out.latencies_us[n] = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - started).count();
            if (!ok) {
                std::lock_guard lock(mu);
                if (errors++ == 0) out.first_error = std::move(why);
            }
            if (++finished == total) {
                all_done.set_value();
                return;
            }
            start_one();
        });
    };
    auto begin = clock_type::now();
    for (int idx = 0; idx < concurrency; ++idx) start_one();
    all_done.get_future().wait();
    out.seconds = std::chrono::duration<double>(clock_type::now() - begin).count();
    out.ops = total;
    out.errors = errors;
    return out;
}

void report(const char* workload, int concurrency, outcome& o) {
    std::sort(o.latencies_us.begin(), o.latencies_us.end());
    auto pct = [&](double p) { return o.latencies_us[std::min(o.latencies_us.size() - 1, size_t(p * o.latencies_us.size()))]; };
    std::printf("{\"workload\":\"%s\",\"concurrency\":%d,\"ops\":%llu,\"seconds\":%.3f,\"ops_per_s\":%.0f,"
                "\"p50_us\":%lld,\"p99_us\":%lld,\"errors\":%llu}\n",
                workload, concurrency, static_cast<unsigned long long>(o.ops), o.seconds, o.ops / o.seconds,
                static_cast<long long>(pct(0.50)), static_cast<long long>(pct(0.99)),
                static_cast<unsigned long long>(o.errors));
    std::fflush(stdout);
    if (o.errors) std::fprintf(stderr, "cql_bench: %s: %llu errors, first: %s\n", workload,
                               static_cast<unsigned long long>(o.errors), o.first_error.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    std::string contact;
    uint64_t ops_1 = 5000, ops_64 = 100000;
    std::vector<int> concurrencies = {1, 64};
    for (int idx = 1; idx < argc; ++idx) {
        std::string arg = argv[idx];
        auto next = [&]() -> std::string {
            if (idx + 1 >= argc) {
                std::fprintf(stderr, "cql_bench: %s needs a value\n", arg.c_str());
                std::exit(2);
            }
            return argv[++idx];
        };
        if (arg == "--contact") contact = next();
        else if (arg == "--ops-1") ops_1 = std::stoull(next());
        else if (arg == "--ops-64") ops_64 = std::stoull(next());
        else if (arg == "--concurrency") {
            concurrencies.clear();
            std::string list = next();
            size_t start = 0;
            while (start < list.size()) {
                size_t comma = list.find(',', start);
                if (comma == std::string::npos) comma = list.size();
                concurrencies.push_back(std::stoi(list.substr(start, comma - start)));
                start = comma + 1;
            }
        } else {
            std::fprintf(stderr, "usage: cql_bench --contact host:port [--ops-1 N] [--ops-64 N] [--concurrency 1,64]\n");
            return 2;
        }
    }
    if (contact.empty()) {
        std::fprintf(stderr, "cql_bench: --contact host:port is required\n");
        return 2;
    }
    client_options opts;
    opts.contact_points = {contact};
    opts.connections_per_host = 2;
    opts.request_timeout = std::chrono::milliseconds(60000);
    auto s = session::connect(opts);
    if (!s.ok()) {
        std::fprintf(stderr, "cql_bench: %s\n", s.err().message().c_str());
        return 1;
    }
    auto& sess = **s;
    std::string columns = "id uuid PRIMARY KEY";
    std::string names = "id";
    std::string markers = "?";
    for (const char* c : k_columns) {
        columns += fmt::format(", {} text", c);
        names += fmt::format(", {}", c);
        markers += ", ?";
    }
    for (const std::string& stmt :
         {std::string("DROP KEYSPACE IF EXISTS cql_bench"),
          std::string("CREATE KEYSPACE cql_bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}"),
          fmt::format("CREATE TABLE cql_bench.created_users ({})", columns)}) {
        auto r = sess.query(stmt);
        if (!r.ok()) {
            std::fprintf(stderr, "cql_bench: %s: %s\n", stmt.c_str(), r.err().message().c_str());
            return 1;
        }
    }
    auto insert = sess.prepare(fmt::format("INSERT INTO cql_bench.created_users ({}) VALUES ({})", names, markers));
    auto select = sess.prepare(fmt::format("SELECT {} FROM cql_bench.created_users WHERE id = ?", names));
    if (!insert.ok() || !select.ok()) {
        std::fprintf(stderr, "cql_bench: prepare: %s\n", (!insert.ok() ? insert.err() : select.err()).message().c_str());
        return 1;
    }
    uint64_t base = 0;
    uint64_t inserted = 0;
    for (int c : concurrencies) {
        uint64_t total = c == 1 ? ops_1 : ops_64;
        auto o = run(c, total, [&](uint64_t n, std::function<void(bool, std::string)> done) {
            sess.execute_async(*insert, make_row(base + n), [done = std::move(done)](millrace::result<rows> r) {
                done(r.ok(), r.ok() ? std::string() : r.err().message());
            });
        });
        report("insert", c, o);
        base += total;
        inserted = base;
    }
    std::mt19937_64 rng(42);
    for (int c : concurrencies) {
        uint64_t total = c == 1 ? ops_1 : ops_64;
        std::vector<uint64_t> keys(total);
        for (auto& k : keys) k = rng() % inserted;
        auto o = run(c, total, [&](uint64_t n, std::function<void(bool, std::string)> done) {
            sess.execute_async(*select, {value::uuid(make_id(keys[n]))},
                               [done = std::move(done)](millrace::result<rows> r) {
                                   if (!r.ok()) done(false, r.err().message());
                                   else if (r->size() != 1) done(false, fmt::format("{} rows for one id", r->size()));
                                   else done(true, {});
                               });
        });
        report("read", c, o);
    }
    sess.close();
    return 0;
}
