// Acknowledged writes survive kill -9 of `millrace cql` under each
// cql.commit_sync mode: rows are written through the C++ client with many
// requests in flight (plain INSERTs, IF NOT EXISTS inserts and list appends,
// which read-modify-write on the writer thread), the server is killed with
// SIGKILL right after the last acknowledgement, restarted on the same data
// directory, and every acknowledged row must be there with its values.
// Periodic mode runs with a one-hour period, so no fsync happens before the
// kill: what survives is what was written to the OS before the ack.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <future>
#include <map>
#include <mutex>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/process.h"
#include "millrace/cql_client/client.h"

namespace millrace::cql {
namespace {

using namespace millrace::cql_client;
using testing::start_server;
using testing::temp_dir;

constexpr int k_rows = 600;
constexpr int k_in_flight = 48;

std::shared_ptr<session> connect_to(const std::string& address) {
    client_options opts;
    opts.contact_points = {address};
    opts.request_timeout = std::chrono::milliseconds(60000);
    auto s = session::connect(opts);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.err().message());
    return s.ok() ? *s : nullptr;
}

// The value of a Prometheus sample line `name value` on the admin endpoint.
double metric(const std::string& admin, const std::string& name) {
    auto r = testing::http_request(admin, "GET", "/metrics");
    auto pos = r.body.find("\n" + name + " ");
    if (pos == std::string::npos) {
        ADD_FAILURE() << name << " missing from /metrics of " << admin;
        return -1;
    }
    return std::stod(r.body.substr(pos + name.size() + 2));
}

// Runs `total` requests with k_in_flight outstanding; returns the errors.
std::vector<std::string> run_all(int total, const std::function<void(int, session::rows_callback)>& issue) {
    std::mutex mu;
    std::vector<std::string> errors;
    std::atomic<int> next{0};
    std::atomic<int> finished{0};
    std::promise<void> all_done;
    std::function<void()> start_one = [&] {
        int n = next++;
        if (n >= total) return;
        issue(n, [&](result<rows> r) {
            if (!r.ok()) {
                std::lock_guard lock(mu);
                errors.push_back(r.err().message());
            }
            if (++finished == total) all_done.set_value();
            else start_one();
        });
    };
    for (int idx = 0; idx < k_in_flight && idx < total; ++idx) start_one();
    all_done.get_future().wait();
    return errors;
}

class durability_test : public ::testing::TestWithParam<std::string> {};

// The parameter is the commit sync mode, optionally with ":N" for cql.io_threads.
TEST_P(durability_test, acknowledged_writes_survive_kill_9) {
    temp_dir dir;
    std::string mode = GetParam().substr(0, GetParam().find(':'));
    std::vector<std::string> flags = {"--set", "cql.commit_sync=" + mode, "--set", "cql.commit_sync_period=1h"};
    if (auto colon = GetParam().find(':'); colon != std::string::npos) {
        flags.insert(flags.end(), {"--set", "cql.io_threads=" + GetParam().substr(colon + 1)});
    }
    auto srv = start_server("cql", dir.file("data"), flags);
    ASSERT_TRUE(srv.proc);
    {
        auto s = connect_to(srv.address);
        ASSERT_TRUE(s);
        ASSERT_TRUE(s->query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").ok());
        ASSERT_TRUE(s->query("CREATE TABLE ks.t (id int PRIMARY KEY, name text, tags list<text>)").ok());
        auto insert = s->prepare("INSERT INTO ks.t (id, name) VALUES (?, ?)");
        auto insert_lwt = s->prepare("INSERT INTO ks.t (id, name) VALUES (?, ?) IF NOT EXISTS");
        auto append = s->prepare("UPDATE ks.t SET tags = tags + ? WHERE id = ?");
        ASSERT_TRUE(insert.ok() && insert_lwt.ok() && append.ok());
        // Every row: inserted (plain or IF NOT EXISTS), then two appends in flight together.
        auto errors = run_all(k_rows, [&](int n, session::rows_callback done) {
            auto& stmt = n % 3 == 0 ? *insert_lwt : *insert;
            s->execute_async(stmt, {value::int32(n), value::text(fmt::format("name-{}", n))}, std::move(done));
        });
        ASSERT_TRUE(errors.empty()) << errors.front();
        errors = run_all(2 * k_rows, [&](int n, session::rows_callback done) {
            s->execute_async(*append, {value::list({value::text(fmt::format("t{}", n % 2))}), value::int32(n / 2)},
                             std::move(done));
        });
        ASSERT_TRUE(errors.empty()) << errors.front();
        // A second IF NOT EXISTS on an existing row is not applied.
        auto again = s->execute(*insert_lwt, {value::int32(0), value::text("overwritten")});
        ASSERT_TRUE(again.ok());
        EXPECT_FALSE(again->at(0, "[applied]").as_bool());
        double groups = metric(srv.admin, "millrace_cql_commit_groups_total");
        double syncs = metric(srv.admin, "millrace_cql_wal_syncs_total");
        EXPECT_GT(groups, 0);
        EXPECT_LE(groups, metric(srv.admin, "millrace_cql_committed_mutations_total"));
        if (mode == "batch") {
            EXPECT_EQ(syncs, groups) << "batch mode fsyncs every group before acknowledging it";
        } else {
            EXPECT_EQ(syncs, 0) << "with a one-hour period no fsync may have happened before the kill";
        }
        ASSERT_EQ(srv.proc->stop(SIGKILL), 128 + SIGKILL);
    }
    auto restarted = start_server("cql", dir.file("data"), flags);
    ASSERT_TRUE(restarted.proc);
    auto s = connect_to(restarted.address);
    ASSERT_TRUE(s);
    auto all = s->query_all("SELECT id, name, tags FROM ks.t");
    ASSERT_TRUE(all.ok()) << all.err().message();
    std::map<int, std::pair<std::string, std::vector<std::string>>> found;
    for (size_t idx = 0; idx < all->size(); ++idx) {
        std::vector<std::string> tags;
        for (const auto& t : all->at(idx, "tags").elements()) tags.push_back(t.as_text());
        std::sort(tags.begin(), tags.end());
        found[all->at(idx, "id").as_int()] = {all->at(idx, "name").as_text(), tags};
    }
    ASSERT_EQ(found.size(), size_t(k_rows)) << "rows acknowledged before kill -9 are missing after the restart";
    for (int n = 0; n < k_rows; ++n) {
        EXPECT_EQ(found[n].first, fmt::format("name-{}", n)) << "row " << n;
        EXPECT_EQ(found[n].second, (std::vector<std::string>{"t0", "t1"})) << "row " << n;
    }
}

INSTANTIATE_TEST_SUITE_P(cql_commit_sync, durability_test, ::testing::Values("batch", "periodic"));
// The same with the connections on two io threads (requests handed to the component's thread).
INSTANTIATE_TEST_SUITE_P(cql_io_threads, durability_test, ::testing::Values("batch:2", "periodic:2"));

}  // namespace
}  // namespace millrace::cql
