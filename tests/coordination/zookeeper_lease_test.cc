// Leases on a real ZooKeeper: election order, takeover when a holder goes,
// the holder's name, unreachable servers, and fencing after a pause past the
// session timeout (the holder is a child process stopped with SIGSTOP).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/process.h"
#include "millrace/coordination/coordination.h"
#include "zookeeper_fixture.h"

namespace millrace::coordination {
namespace {

using namespace std::chrono_literals;
using millrace::testing::process;
using millrace::testing::temp_dir;
using millrace::testing::zookeeper_server;

constexpr int64_t k_session_ms = 2000;

options zk_options(const std::string& connect, const std::string& instance, const std::string& chroot) {
    options o;
    o.zookeeper = connect;
    o.chroot = chroot;
    o.session_timeout_ms = k_session_ms;
    o.instance = instance;
    return o;
}

void append_line(const std::string& path, const std::string& line) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    std::string text = line + "\n";
    if (fd >= 0) {
        (void)!::write(fd, text.data(), text.size());
        ::close(fd);
    }
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// The child of fencing_after_a_pause: takes the lease, then appends
// "A work <n>" to the shared log while held() says so; on the first false it
// appends "A lost" and exits. Started as this binary with the environment set.
struct holder_child {
    holder_child() {
        const char* connect = std::getenv("COORDINATION_TEST_HOLDER");
        if (connect == nullptr) return;
        const char* log_path = std::getenv("COORDINATION_TEST_LOG");
        auto coordinator = make_coordinator(zk_options(connect, "holder-A", std::getenv("COORDINATION_TEST_CHROOT")));
        if (!coordinator) std::_Exit(3);
        auto lease = (*coordinator)->make_lease("fenced", "");
        for (;;) {
            auto got = lease->try_acquire();
            if (got && *got) break;
            std::this_thread::sleep_for(50ms);
        }
        std::printf("leader\n");
        std::fflush(stdout);
        for (int n = 1;; ++n) {
            if (!lease->held()) {
                append_line(log_path, "A lost");
                std::printf("lost\n");
                std::fflush(stdout);
                std::_Exit(0);
            }
            append_line(log_path, fmt::format("A work {}", n));
            std::this_thread::sleep_for(20ms);
        }
    }
};
const holder_child k_holder_child;

class zookeeper_lease_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server_ = new zookeeper_server(); }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        ASSERT_FALSE(server_->connect_string().empty()) << "ZooKeeper did not start: " << server_->why();
        // Each test elects under its own chroot.
        chroot_ = fmt::format("/millrace-test/{}", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    }

    std::unique_ptr<coordinator> make(const std::string& instance) {
        auto c = make_coordinator(zk_options(server_->connect_string(), instance, chroot_));
        EXPECT_TRUE(c) << (c ? "" : c.err().message());
        return c ? std::move(*c) : nullptr;
    }

    // Asks until `lease` leads, at most `timeout`.
    static bool acquire_within(lease& l, std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            auto got = l.try_acquire();
            if (got && *got) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }

    // try_acquire's first answer that is not an error, asking for at most `timeout`.
    static result<bool> answer_within(lease& l, std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto got = l.try_acquire();
            if (got || std::chrono::steady_clock::now() >= deadline) return got;
            std::this_thread::sleep_for(50ms);
        }
    }

    static zookeeper_server* server_;
    std::string chroot_;
};

zookeeper_server* zookeeper_lease_test::server_ = nullptr;

TEST_F(zookeeper_lease_test, first_candidate_leads_and_the_others_name_it) {
    auto a = make("instance-a");
    auto b = make("instance-b");
    auto la = a->make_lease("cdc.slot", "");
    auto lb = b->make_lease("cdc.slot", "");
    // A session still connecting (a loaded machine) answers with an error:
    // asked again until it answers, which is what a part does.
    ASSERT_TRUE(acquire_within(*la, 10s));
    EXPECT_TRUE(la->held());
    auto got_b = answer_within(*lb, 10s);
    ASSERT_TRUE(got_b) << got_b.err().message();
    EXPECT_FALSE(*got_b);
    EXPECT_FALSE(lb->held());
    EXPECT_EQ(lb->holder(), "instance-a");
    // What /status shows.
    auto states = b->leases();
    ASSERT_EQ(states.size(), 1u);
    EXPECT_EQ(states[0].name, "cdc.slot");
    EXPECT_FALSE(states[0].held);
    EXPECT_EQ(states[0].holder, "instance-a");
    EXPECT_EQ(a->leases().at(0).held, true);
    EXPECT_EQ(a->backend(), "zookeeper");
}

TEST_F(zookeeper_lease_test, different_names_are_different_singletons) {
    auto a = make("instance-a");
    auto b = make("instance-b");
    auto la = a->make_lease("cdc.slot", "");
    auto lb = b->make_lease("scheduler.schema", "");
    EXPECT_TRUE(acquire_within(*la, 10s));
    EXPECT_TRUE(acquire_within(*lb, 10s));
}

TEST_F(zookeeper_lease_test, release_passes_the_lease_on_in_order) {
    auto a = make("instance-a");
    auto b = make("instance-b");
    auto c = make("instance-c");
    auto la = a->make_lease("one", "");
    auto lb = b->make_lease("one", "");
    auto lc = c->make_lease("one", "");
    ASSERT_TRUE(acquire_within(*la, 10s));
    ASSERT_FALSE(*lb->try_acquire());
    ASSERT_FALSE(*lc->try_acquire());
    la->release();
    EXPECT_FALSE(la->held());
    // b queued before c: b leads next, c still waits.
    EXPECT_TRUE(acquire_within(*lb, 10s));
    EXPECT_FALSE(*lc->try_acquire());
    EXPECT_EQ(lc->holder(), "instance-b");
    // A released lease joins again at the end of the queue.
    EXPECT_FALSE(*la->try_acquire());
}

TEST_F(zookeeper_lease_test, a_lease_dropped_with_its_process_hands_over_at_once) {
    auto b = make("instance-b");
    auto lb = b->make_lease("one", "");
    {
        auto a = make("instance-a");
        auto la = a->make_lease("one", "");
        ASSERT_TRUE(acquire_within(*la, 10s));
        ASSERT_FALSE(*lb->try_acquire());
    }  // la, then a's session: an orderly stop
    EXPECT_TRUE(acquire_within(*lb, 10s));
    EXPECT_EQ(b->leases().at(0).holder, "instance-b");
}

TEST_F(zookeeper_lease_test, unreachable_server_is_a_retryable_error_naming_it) {
    std::string nowhere = fmt::format("127.0.0.1:{}", millrace::testing::unused_port());
    auto c = make_coordinator(zk_options(nowhere, "instance-a", chroot_));
    ASSERT_TRUE(c);
    auto l = (*c)->make_lease("one", "");
    auto got = l->try_acquire();
    ASSERT_FALSE(got);
    EXPECT_EQ(got.err().code(), errc::unavailable);
    EXPECT_NE(got.err().message().find(nowhere), std::string::npos) << got.err().message();
    EXPECT_FALSE(l->held());
}

TEST_F(zookeeper_lease_test, bad_chroot_is_a_config_error) {
    for (const char* chroot : {"millrace", "/millrace/", "/a//b", "/a b"}) {
        auto c = make_coordinator(zk_options(server_->connect_string(), "x", chroot));
        ASSERT_FALSE(c) << chroot;
        EXPECT_EQ(c.err().code(), errc::invalid_argument);
        EXPECT_NE(c.err().message().find("coordination.chroot"), std::string::npos) << c.err().message();
    }
}

TEST_F(zookeeper_lease_test, empty_connect_string_elects_through_postgres) {
    auto c = make_coordinator(options{});
    ASSERT_TRUE(c);
    EXPECT_EQ((*c)->backend(), "postgres");
    // No PostgreSQL at this DSN: an error naming the lease, not a crash.
    auto l = (*c)->make_lease("one", fmt::format("host=127.0.0.1 port={} connect_timeout=2", millrace::testing::unused_port()));
    auto got = l->try_acquire();
    ASSERT_FALSE(got);
    EXPECT_EQ(got.err().code(), errc::unavailable);
    EXPECT_NE(got.err().message().find("lease one"), std::string::npos) << got.err().message();
}

// The holder is paused (SIGSTOP) past its session timeout; the server expires
// its session and another candidate takes over and works. When the holder
// resumes, its first held() must say false: no "A work" after "B work".
TEST_F(zookeeper_lease_test, fencing_after_a_pause_past_the_session_timeout) {
    temp_dir dir;
    std::string log = dir.file("work.log");
    process holder({"/proc/self/exe"}, {"COORDINATION_TEST_HOLDER=" + server_->connect_string(),
                                         "COORDINATION_TEST_LOG=" + log, "COORDINATION_TEST_CHROOT=" + chroot_});
    ASSERT_TRUE(holder.wait_for_line("leader", 60s)) << holder.stderr_text();

    auto b = make("instance-b");
    auto lb = b->make_lease("fenced", "");
    auto first = lb->try_acquire();
    ASSERT_TRUE(first) << first.err().message();
    ASSERT_FALSE(*first);
    EXPECT_EQ(lb->holder(), "holder-A");

    holder.send_signal(SIGSTOP);
    // Only the server's expiry of the paused session frees the lease.
    ASSERT_TRUE(acquire_within(*lb, 60s)) << "the lease of a paused holder was never taken over";
    for (int n = 1; n <= 5; ++n) {
        ASSERT_TRUE(lb->held());
        append_line(log, fmt::format("B work {}", n));
    }
    holder.send_signal(SIGCONT);
    ASSERT_TRUE(holder.wait_for_line("lost", 60s)) << holder.stderr_text();
    auto code = holder.wait(30s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0);

    auto lines = read_lines(log);
    size_t first_b = lines.size();
    for (size_t idx = 0; idx < lines.size(); ++idx) {
        if (lines[idx].rfind("B work", 0) == 0) {
            first_b = idx;
            break;
        }
    }
    ASSERT_LT(first_b, lines.size());
    ASSERT_GT(first_b, 0u) << "the holder never worked";
    for (size_t idx = first_b; idx < lines.size(); ++idx) {
        EXPECT_EQ(lines[idx].rfind("A work", 0), std::string::npos) << "the paused holder worked after losing its lease: "
                                                                    << lines[idx];
    }
    EXPECT_EQ(lines.back(), "A lost");
    EXPECT_TRUE(lb->held());
}

}  // namespace
}  // namespace millrace::coordination
