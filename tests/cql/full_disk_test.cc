// A full disk under `millrace cql` (issue 20): the data directory lives on a
// small tmpfs, partly taken by a ballast file; rows are written with many
// requests in flight until the store refuses them (cql.min_free_space, 64 MiB
// by default), then a filler file takes every byte left, so the file system is
// full. Required: the refused writes get an error naming the cause and the
// directory, the server stays up and keeps answering reads (a full scan too),
// writes are accepted again once the files are removed, and after kill -9 and
// a restart every acknowledged row is there. Per cql.commit_sync mode;
// periodic runs with a short period so WAL fsyncs happen while the disk is full. Needs root for mount(2) (the test image and CI run
// as root); elsewhere it is skipped.
#include <sys/mount.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/process.h"
#include "millrace/cql_client/client.h"

namespace millrace::cql {
namespace {

using namespace millrace::cql_client;
using testing::start_server;
using testing::temp_dir;

constexpr int k_in_flight = 32;
// RocksDB preallocates its WAL (~70 MiB, fallocate takes tmpfs pages too);
// what is left above the 64 MiB reserve is ~45 MiB of rows.
constexpr size_t k_tmpfs_mib = 300;
constexpr size_t k_ballast_mib = 120;
constexpr int k_max_rows = 200000;    // ~2 KiB each: far more than fits, so the loop ends by the disk

// A tmpfs mounted for the test's lifetime.
struct tmpfs_mount {
    std::string path;
    int error = 0;
    tmpfs_mount(std::string where, size_t mib) : path(std::move(where)) {
        std::filesystem::create_directories(path);
        std::string opts = fmt::format("size={}m", mib);
        if (::mount("tmpfs", path.c_str(), "tmpfs", 0, opts.c_str()) != 0) error = errno;
    }
    ~tmpfs_mount() {
        if (error == 0) ::umount2(path.c_str(), MNT_DETACH);
    }
};

std::shared_ptr<session> connect_to(const std::string& address) {
    client_options opts;
    opts.contact_points = {address};
    opts.request_timeout = std::chrono::milliseconds(60000);
    auto s = session::connect(opts);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.err().message());
    return s.ok() ? *s : nullptr;
}

std::string row_value(int id) { return fmt::format("{}-{}", id, std::string(2000, char('a' + id % 26))); }

struct write_outcome {
    std::vector<int> acknowledged;
    std::vector<std::string> errors;
};

// Writes ids [first, first + count) with k_in_flight outstanding, stopping
// new requests after the first error.
write_outcome write_rows(session& s, const prepared_ptr& insert, int first, int count) {
    write_outcome out;
    std::mutex mu;
    std::atomic<int> next{first};
    std::atomic<int> outstanding{0};
    std::atomic<bool> failed{false};
    std::promise<void> done;
    std::atomic<bool> done_set{false};
    std::function<void()> start_one = [&] {
        int id = next++;
        if (id >= first + count || failed) {
            if (outstanding == 0 && !done_set.exchange(true)) done.set_value();
            return;
        }
        ++outstanding;
        s.execute_async(insert, {value::int32(id), value::text(row_value(id))}, [&, id](result<rows> r) {
            {
                std::lock_guard lock(mu);
                if (r.ok()) {
                    out.acknowledged.push_back(id);
                } else {
                    out.errors.push_back(r.err().message());
                    failed = true;
                }
            }
            --outstanding;
            start_one();
        });
    };
    for (int idx = 0; idx < k_in_flight; ++idx) start_one();
    done.get_future().wait();
    return out;
}

class full_disk_test : public ::testing::TestWithParam<std::string> {};

// On a failure, the server's own account (its log, and whether it still runs)
// is printed: a lost connection alone does not say why.
struct log_on_failure {
    const testing::server& srv;
    ~log_on_failure() {
        if (!::testing::Test::HasFailure() || !srv.proc) return;
        std::string log = srv.proc->stderr_text();
        if (log.size() > 8000) log = "...\n" + log.substr(log.size() - 8000);
        bool alive = ::kill(srv.proc->pid(), 0) == 0;
        std::fprintf(stderr, "server pid %d %s; its log:\n%s\n", int(srv.proc->pid()),
                     alive ? "still runs" : "is gone", log.c_str());
    }
};

TEST_P(full_disk_test, refuses_writes_with_the_cause_serves_reads_resumes_and_loses_nothing) {
    temp_dir dir;
    tmpfs_mount fs(dir.file("fs"), k_tmpfs_mib);
    if (fs.error != 0) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(fs.error);
    std::string ballast = fs.path + "/ballast";
    {
        std::ofstream out(ballast, std::ios::binary);
        std::string chunk(1 << 20, '\0');
        for (size_t n = 0; n < k_ballast_mib; ++n) out.write(chunk.data(), std::streamsize(chunk.size()));
        ASSERT_TRUE(out.good()) << "writing the ballast file " << ballast;
    }
    std::string data = fs.path + "/data";
    std::vector<std::string> flags = {"--set", "cql.commit_sync=" + GetParam(), "--set", "cql.commit_sync_period=20ms"};
    auto srv = start_server("cql", data, flags);
    ASSERT_TRUE(srv.proc);
    log_on_failure srv_log{srv};
    std::map<int, bool> acknowledged;
    int next_id = 0;
    {
        auto s = connect_to(srv.address);
        ASSERT_TRUE(s);
        auto created = s->query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
        ASSERT_TRUE(created.ok()) << created.err().message();
        ASSERT_TRUE(s->query("CREATE TABLE ks.t (id int PRIMARY KEY, v text)").ok());
        auto insert = s->prepare("INSERT INTO ks.t (id, v) VALUES (?, ?)");
        ASSERT_TRUE(insert.ok());

        auto filled = write_rows(*s, *insert, 0, k_max_rows);
        for (int id : filled.acknowledged) acknowledged[id] = true;
        next_id = k_max_rows;
        ASSERT_FALSE(filled.errors.empty()) << "the file system never filled up";
        ASSERT_GT(filled.acknowledged.size(), 1000u) << "the disk filled before the test's writes: " << filled.errors.front();
        std::string expected = "no space left on device: " + data;
        for (const auto& e : filled.errors) EXPECT_NE(e.find(expected), std::string::npos) << e;

        // Then the file system fills up to its last byte.
        std::string filler = fs.path + "/filler";
        {
            std::FILE* f = std::fopen(filler.c_str(), "wb");
            ASSERT_NE(f, nullptr);
            std::string chunk(1 << 16, 'f');
            while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
            }
            std::fclose(f);
        }

        // Full: the server is up, reads answer, a write is refused with the cause.
        auto read = s->query(fmt::format("SELECT v FROM ks.t WHERE id = {}", filled.acknowledged.front()));
        ASSERT_TRUE(read.ok()) << read.err().message();
        ASSERT_EQ(read->size(), 1u);
        EXPECT_EQ(read->at(0, "v").as_text(), row_value(filled.acknowledged.front()));
        auto refused = s->execute(*insert, {value::int32(next_id), value::text(row_value(next_id))});
        ASSERT_FALSE(refused.ok()) << "a write on the full disk was acknowledged";
        EXPECT_NE(refused.err().message().find(expected), std::string::npos) << refused.err().message();
        auto all = s->query_all("SELECT id FROM ks.t");
        ASSERT_TRUE(all.ok()) << "a full scan on the full disk: " << all.err().message();
        EXPECT_GE(all->size(), acknowledged.size());

        // Space returns: writes are accepted again, and a batch of rows goes through.
        ASSERT_TRUE(std::filesystem::remove(ballast));
        ASSERT_TRUE(std::filesystem::remove(filler));
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
        bool resumed = false;
        std::string last_error;
        while (!resumed && std::chrono::steady_clock::now() < deadline) {
            auto r = s->execute(*insert, {value::int32(next_id), value::text(row_value(next_id))});
            if (r.ok()) {
                acknowledged[next_id++] = true;
                resumed = true;
            } else {
                last_error = r.err().message();
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
        }
        ASSERT_TRUE(resumed) << "writes did not resume within 90 s of freeing " << k_ballast_mib << " MiB: " << last_error;
        auto after = write_rows(*s, *insert, next_id, 500);
        ASSERT_TRUE(after.errors.empty()) << after.errors.front();
        for (int id : after.acknowledged) acknowledged[id] = true;
        ASSERT_EQ(srv.proc->stop(SIGKILL), 128 + SIGKILL);
    }
    auto restarted = start_server("cql", data, flags);
    ASSERT_TRUE(restarted.proc);
    log_on_failure restarted_log{restarted};
    auto s = connect_to(restarted.address);
    ASSERT_TRUE(s);
    auto all = s->query_all("SELECT id, v FROM ks.t");
    ASSERT_TRUE(all.ok()) << all.err().message();
    std::map<int, std::string> found;
    for (size_t idx = 0; idx < all->size(); ++idx) found[all->at(idx, "id").as_int()] = all->at(idx, "v").as_text();
    size_t missing = 0, wrong = 0;
    for (const auto& [id, ok] : acknowledged) {
        auto it = found.find(id);
        if (it == found.end()) ++missing;
        else if (it->second != row_value(id)) ++wrong;
    }
    EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged rows, " << missing << " are gone after kill -9";
    EXPECT_EQ(wrong, 0u) << wrong << " rows have other values after the restart";
}

INSTANTIATE_TEST_SUITE_P(cql_commit_sync, full_disk_test, ::testing::Values("batch", "periodic"));

}  // namespace
}  // namespace millrace::cql
