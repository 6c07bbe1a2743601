// The Kafka and CQL listeners under hostile or unlucky conditions, against the
// real binary: peers announcing huge frames and sending nothing, a process out
// of file descriptors, a stop while long-poll fetches of vanished clients are
// parked, and the connection semaphores (unit tests of connection.h).
#include "millrace/common/connection.h"

#include <csignal>
#include <fstream>
#include <sstream>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>
#include <poll.h>

#include "harness/process.h"

namespace millrace::net {
namespace {

using millrace::testing::start_server;
using millrace::testing::temp_dir;

// ---- connection.h building blocks ----

TEST(async_semaphore_test, parks_at_zero_and_wakes_in_order) {
    asio::io_context io;
    async_semaphore sem(io.get_executor(), 1);
    std::vector<int> order;
    for (int idx = 0; idx < 3; ++idx) {
        asio::co_spawn(io, [&, idx]() -> asio::awaitable<void> {
            if (co_await sem.acquire()) order.push_back(idx);
        }, asio::detached);
    }
    io.run_for(std::chrono::milliseconds(50));
    io.restart();
    EXPECT_EQ(order, std::vector<int>({0}));
    EXPECT_EQ(sem.waiting(), 2u);
    sem.release();
    io.run_for(std::chrono::milliseconds(50));
    io.restart();
    EXPECT_EQ(order, std::vector<int>({0, 1}));
    sem.close();
    io.run_for(std::chrono::milliseconds(50));
    EXPECT_EQ(order, std::vector<int>({0, 1})) << "a closed semaphore grants nothing";
    EXPECT_EQ(sem.waiting(), 0u);
}

TEST(park_gate_test, stop_wakes_parked_timers_and_refuses_new_ones) {
    asio::io_context io;
    park_gate gate;
    asio::steady_timer parked(io, std::chrono::hours(1));
    bool woke = false;
    parked.async_wait([&](const std::error_code& ec) { woke = ec == asio::error::operation_aborted; });
    gate.park(parked);
    gate.stop();
    io.run_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(woke);
    EXPECT_TRUE(gate.stopping());
}

// ---- the listeners, on the real binary ----

size_t rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
    }
    return 0;
}

asio::ip::tcp::endpoint parse(const std::string& address) {
    auto colon = address.rfind(':');
    return {asio::ip::make_address(address.substr(0, colon)), static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))};
}

// Kafka ApiVersions v0 round trip on `socket`; true when an answer came.
bool kafka_round_trip(asio::ip::tcp::socket& socket, int32_t correlation_id) {
    std::string frame = {0, 0, 0, 0, 0, 18, 0, 0};  // size (patched), api key 18, version 0
    for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(correlation_id >> shift));
    frame += std::string("\x00\x04test", 6);  // client id
    frame[3] = static_cast<char>(frame.size() - 4);
    std::error_code ec;
    asio::write(socket, asio::buffer(frame), ec);
    if (ec) return false;
    pollfd pfd{socket.native_handle(), POLLIN, 0};
    if (::poll(&pfd, 1, 20'000) <= 0) return false;
    char size[4];
    asio::read(socket, asio::buffer(size, 4), ec);
    if (ec) return false;
    uint32_t length = (uint32_t(uint8_t(size[0])) << 24) | (uint32_t(uint8_t(size[1])) << 16) |
                      (uint32_t(uint8_t(size[2])) << 8) | uint32_t(uint8_t(size[3]));
    std::string body(length, '\0');
    asio::read(socket, asio::buffer(body), ec);
    return !ec && body.size() >= 4;
}

TEST(listener_limits_test, kafka_connections_announcing_huge_requests_do_not_grow_memory) {
    temp_dir dir;
    auto server = start_server("broker", dir.file("data"));
    ASSERT_TRUE(server.proc);
    asio::io_context io;
    asio::ip::tcp::socket probe(io);
    probe.connect(parse(server.address));
    ASSERT_TRUE(kafka_round_trip(probe, 1));
    size_t before = rss_kib(server.proc->pid());
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> peers;
    for (int idx = 0; idx < 8; ++idx) {
        auto s = std::make_unique<asio::ip::tcp::socket>(io);
        s->connect(parse(server.address));
        // 100 MiB - 1 announced (the default broker.max_request_size allows it), 8 bytes sent.
        std::string frame = {0x06, 0x3f, char(0xff), char(0xff), 0, 3, 0, 4, 0, 0, 0, 1};
        asio::write(*s, asio::buffer(frame));
        peers.push_back(std::move(s));
    }
    // The broker reads in order on one thread: once the probe is answered, it
    // has read what the 8 peers sent.
    ASSERT_TRUE(kafka_round_trip(probe, 2));
    size_t after = rss_kib(server.proc->pid());
    EXPECT_LT(after, before + 64 * 1024) << "RSS went from " << before << " KiB to " << after
                                         << " KiB with 8 connections announcing 100 MiB requests";
}

TEST(listener_limits_test, cql_connections_announcing_huge_frames_do_not_grow_memory) {
    temp_dir dir;
    // A limit above the 200 MiB announced (the default is 16 MiB), so the bodies are awaited.
    auto server = start_server("cql", dir.file("data"), {"--set", "cql.max_frame_size=256MiB"});
    ASSERT_TRUE(server.proc);
    asio::io_context io;
    auto options = [&](asio::ip::tcp::socket& s, int16_t stream) {
        std::string frame = {0x04, 0, static_cast<char>(stream >> 8), static_cast<char>(stream), 0x05, 0, 0, 0, 0};
        asio::write(s, asio::buffer(frame));
        char header[9];
        std::error_code ec;
        asio::read(s, asio::buffer(header, 9), ec);
        if (ec) return false;
        uint32_t length = (uint32_t(uint8_t(header[5])) << 24) | (uint32_t(uint8_t(header[6])) << 16) |
                          (uint32_t(uint8_t(header[7])) << 8) | uint32_t(uint8_t(header[8]));
        std::string body(length, '\0');
        asio::read(s, asio::buffer(body), ec);
        return !ec && header[4] == 0x06;  // SUPPORTED
    };
    asio::ip::tcp::socket probe(io);
    probe.connect(parse(server.address));
    ASSERT_TRUE(options(probe, 1));
    size_t before = rss_kib(server.proc->pid());
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> peers;
    for (int idx = 0; idx < 8; ++idx) {
        auto s = std::make_unique<asio::ip::tcp::socket>(io);
        s->connect(parse(server.address));
        // OPTIONS announcing a 200 MiB body (under cql.max_frame_size), 4 bytes sent.
        std::string frame = {0x04, 0, 0, 1, 0x05, 0x0c, 0, 0, 0, 'a', 'b', 'c', 'd'};
        asio::write(*s, asio::buffer(frame));
        peers.push_back(std::move(s));
    }
    ASSERT_TRUE(options(probe, 2));
    size_t after = rss_kib(server.proc->pid());
    EXPECT_LT(after, before + 64 * 1024) << "RSS went from " << before << " KiB to " << after
                                         << " KiB with 8 connections announcing 200 MiB frames";
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
}

TEST(listener_limits_test, out_of_file_descriptors_logs_once_and_serves_again_when_they_free_up) {
    temp_dir dir;
    millrace::testing::process proc({"/bin/sh", "-c",
                                     "ulimit -n 96 && exec " + millrace::testing::millrace_binary() +
                                         " broker --port 0 --admin-port 0 --data-dir " + dir.file("data")});
    auto ready = proc.wait_for_line("ready ");
    ASSERT_TRUE(ready) << proc.stderr_text();
    std::istringstream words(*ready);
    std::string word, address;
    words >> word >> word >> address;
    asio::io_context io;
    asio::ip::tcp::socket first(io);
    first.connect(parse(address));
    ASSERT_TRUE(kafka_round_trip(first, 1));
    // More connections than descriptors: the kernel completes them into the
    // listen backlog; the broker's accepts fail with EMFILE.
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> flood;
    for (int idx = 0; idx < 150; ++idx) {
        auto s = std::make_unique<asio::ip::tcp::socket>(io);
        std::error_code ec;
        s->connect(parse(address), ec);
        if (!ec) flood.push_back(std::move(s));
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (count(proc.stderr_text(), "accept failed") == 0 && std::chrono::steady_clock::now() < deadline) {
        ASSERT_TRUE(kafka_round_trip(first, 2));
    }
    ASSERT_GT(count(proc.stderr_text(), "accept failed"), 0u) << "the broker never ran out of descriptors";
    // The broker keeps serving its open connections meanwhile, and does not spin.
    for (int round = 0; round < 50; ++round) ASSERT_TRUE(kafka_round_trip(first, 3 + round));
    EXPECT_LE(count(proc.stderr_text(), "accept failed"), 2u) << proc.stderr_text().substr(0, 2000);
    flood.clear();  // descriptors free up
    asio::ip::tcp::socket later(io);
    later.connect(parse(address));
    EXPECT_TRUE(kafka_round_trip(later, 99)) << "a new connection is served once descriptors are free";
    // Draining the backlog touches the limit again and again: still one line per 10 s.
    EXPECT_LE(count(proc.stderr_text(), "accept failed"), 2u) << proc.stderr_text().substr(0, 2000);
    proc.stop(SIGTERM);
}

TEST(listener_limits_test, sigterm_with_parked_fetches_of_vanished_clients_exits_promptly) {
    temp_dir dir;
    auto server = start_server("broker", dir.file("data"));
    ASSERT_TRUE(server.proc);
    asio::io_context io;
    asio::ip::tcp::socket probe(io);
    probe.connect(parse(server.address));
    ASSERT_TRUE(kafka_round_trip(probe, 1));
    // Fetch v4 of an auto-created topic at its end, max wait 10 minutes: parked.
    auto fetch = [](const std::string& topic) {
        std::string body;
        auto i32 = [&](int32_t v) { for (int shift = 24; shift >= 0; shift -= 8) body.push_back(static_cast<char>(v >> shift)); };
        auto i16 = [&](int16_t v) { body.push_back(static_cast<char>(v >> 8)); body.push_back(static_cast<char>(v)); };
        i16(1); i16(4); i32(7); i16(4); body += "test";  // header: fetch v4, client id
        i32(-1); i32(600'000); i32(1); i32(1 << 20); body.push_back(0);
        i32(1); i16(static_cast<int16_t>(topic.size())); body += topic;
        i32(1); i32(0); for (int idx = 0; idx < 8; ++idx) body.push_back(0); i32(1 << 20);
        std::string frame;
        uint32_t size = static_cast<uint32_t>(body.size());
        for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(size >> shift));
        return frame + body;
    };
    {
        // Metadata v4 with auto-creation, so the fetches find the topic.
        std::string body = {0, 3, 0, 4, 0, 0, 0, 9, 0, 4, 't', 'e', 's', 't', 0, 0, 0, 1, 0, 6, 'p', 'a', 'r', 'k', 'e', 'd', 1};
        std::string frame = {0, 0, 0, static_cast<char>(body.size())};
        asio::write(probe, asio::buffer(frame + body));
        char size[4];
        asio::read(probe, asio::buffer(size, 4));
        std::string reply((uint32_t(uint8_t(size[2])) << 8) | uint8_t(size[3]), '\0');
        asio::read(probe, asio::buffer(reply));
    }
    {
        std::vector<std::unique_ptr<asio::ip::tcp::socket>> clients;
        for (int idx = 0; idx < 50; ++idx) {
            auto s = std::make_unique<asio::ip::tcp::socket>(io);
            s->connect(parse(server.address));
            asio::write(*s, asio::buffer(fetch("parked")));
            clients.push_back(std::move(s));
        }
        ASSERT_TRUE(kafka_round_trip(probe, 2));  // the 50 fetches were read before this
        // The clients vanish without a word.
    }
    auto start = std::chrono::steady_clock::now();
    auto code = server.proc->stop(SIGTERM, std::chrono::seconds(60));
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << server.proc->stderr_text();
    EXPECT_LT(took.count(), 5000) << "SIGTERM with 50 parked fetches took " << took.count() << " ms";
}

}  // namespace
}  // namespace millrace::net
