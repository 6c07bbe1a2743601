// net::framed_connection (connection.h) with a toy protocol on an ephemeral
// port: a 1-byte header giving the body length; a body starting with 'w' is
// answered only when the test says so, any other body at once (echoed).
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include "millrace/common/connection.h"
#include "millrace/common/net.h"

namespace millrace::net {
namespace {

struct held {
    std::shared_ptr<framed_connection> conn;
    std::shared_ptr<response_slot> slot;
    std::string body;
};

class toy_protocol final : public frame_protocol {
public:
    explicit toy_protocol(std::vector<held>& held_frames, size_t& frames_seen) : held_(held_frames), seen_(frames_seen) {}
    size_t header_size() const override { return 1; }
    asio::awaitable<std::optional<size_t>> body_length(framed_connection&, const std::string& header) override {
        if (header[0] == 0) co_return std::nullopt;  // a zero length closes
        co_return static_cast<size_t>(static_cast<uint8_t>(header[0]));
    }
    asio::awaitable<bool> on_frame(framed_connection& conn, std::shared_ptr<response_slot> slot, std::string,
                                   std::shared_ptr<std::string> body) override {
        ++seen_;
        if ((*body)[0] == 'w') {
            held_.push_back({conn.shared_from_this(), slot, body->substr(1)});
        } else {
            conn.respond(slot, *body);
        }
        co_return true;
    }

private:
    std::vector<held>& held_;
    size_t& seen_;
};

class framed_connection_test : public ::testing::Test {
protected:
    void start(framed_connection::options opts) {
        opts_ = opts;
        auto ep = server_.start("127.0.0.1", 0);
        ASSERT_TRUE(ep) << ep.err().message();
        client_.connect({asio::ip::make_address("127.0.0.1"), ep->port});
    }

    void TearDown() override {
        held_.clear();
        std::error_code ignored;
        client_.close(ignored);
        server_.stop();
        io_.restart();
        io_.run_for(std::chrono::milliseconds(50));
    }

    asio::awaitable<void> serve(stream& s) {
        auto conn = std::make_shared<framed_connection>(s, opts_, std::make_shared<toy_protocol>(held_, seen_), log_, nullptr,
                                                        "test peer");
        co_await conn->run();
    }

    void send(const std::string& body) {
        std::string frame(1, static_cast<char>(body.size()));
        frame += body;
        asio::write(client_, asio::buffer(frame));
    }

    // Runs the server until `n` bytes arrived at the client (or it closed).
    std::string receive(size_t n) {
        std::string got(n, '\0');
        size_t have = 0;
        std::error_code ec;
        while (have < n && !ec) {
            io_.run_for(std::chrono::milliseconds(20));
            io_.restart();
            client_.non_blocking(true);
            have += client_.read_some(asio::buffer(got.data() + have, n - have), ec);
            if (ec == asio::error::would_block) ec = {};
        }
        got.resize(have);
        return got;
    }

    void run_until(const std::function<bool()>& done) {
        for (int round = 0; round < 500 && !done(); ++round) {
            io_.run_for(std::chrono::milliseconds(10));
            io_.restart();
        }
    }

    log::logger log_{"test"};
    framed_connection::options opts_;
    std::vector<held> held_;
    size_t seen_ = 0;
    asio::io_context io_;
    tcp_server server_{io_, "toy", [this](stream& s) { return serve(s); }};
    asio::ip::tcp::socket client_{io_};
};

TEST_F(framed_connection_test, ordered_responses_follow_request_order) {
    start({8, true});
    send("wA");
    send("B");
    run_until([&] { return seen_ == 2; });
    ASSERT_EQ(seen_, 2u);
    ASSERT_EQ(held_.size(), 1u);
    held_[0].conn->respond(held_[0].slot, held_[0].body);
    EXPECT_EQ(receive(2), "AB") << "B completed first but is written after A";
}

TEST_F(framed_connection_test, completion_order_writes_whatever_is_answered_first) {
    start({8, false});
    send("wA");
    send("B");
    EXPECT_EQ(receive(1), "B");
    ASSERT_EQ(held_.size(), 1u);
    held_[0].conn->respond(held_[0].slot, held_[0].body);
    EXPECT_EQ(receive(1), "A");
}

TEST_F(framed_connection_test, the_in_flight_limit_parks_the_reader_until_an_answer) {
    start({1, true});
    send("wA");
    send("B");
    run_until([&] { return seen_ >= 1; });
    io_.run_for(std::chrono::milliseconds(50));
    io_.restart();
    EXPECT_EQ(seen_, 1u) << "the second request waits for the first one's permit";
    ASSERT_EQ(held_.size(), 1u);
    held_[0].conn->respond(held_[0].slot, held_[0].body);
    EXPECT_EQ(receive(2), "AB");
    EXPECT_EQ(seen_, 2u);
}

TEST_F(framed_connection_test, unsolicited_frames_hold_no_permit) {
    start({1, false});
    run_until([&] { return server_.connection_count() == 1; });
    send("wA");
    run_until([&] { return held_.size() == 1; });
    ASSERT_EQ(held_.size(), 1u);
    held_[0].conn->push("E");
    EXPECT_EQ(receive(1), "E");
    held_[0].conn->respond(held_[0].slot, held_[0].body);
    send("B");
    EXPECT_EQ(receive(2), "AB");
}

TEST_F(framed_connection_test, an_idle_connection_is_closed) {
    framed_connection::options opts;
    opts.idle_timeout = std::chrono::milliseconds(100);
    start(opts);
    std::string got = receive(1);  // returns at the close
    EXPECT_EQ(got, "");
    run_until([&] { return server_.connection_count() == 0; });
    EXPECT_EQ(server_.connection_count(), 0u);
}

TEST_F(framed_connection_test, a_body_that_does_not_arrive_in_time_closes_the_connection) {
    framed_connection::options opts;
    opts.request_timeout = std::chrono::milliseconds(100);
    start(opts);
    asio::write(client_, asio::buffer(std::string("\x05" "ab")));  // 3 of 5 bytes
    EXPECT_EQ(receive(1), "");
    run_until([&] { return server_.connection_count() == 0; });
    EXPECT_EQ(server_.connection_count(), 0u);
    EXPECT_EQ(seen_, 0u);
}

TEST_F(framed_connection_test, abort_drops_queued_answers_and_closes) {
    start({8, true});
    send("wA");
    send("B");
    run_until([&] { return seen_ == 2; });
    ASSERT_EQ(held_.size(), 1u);
    held_[0].conn->abort();
    EXPECT_EQ(receive(2), "") << "nothing written after an abort";
    // An answer after the abort goes nowhere and breaks nothing.
    held_[0].conn->respond(held_[0].slot, held_[0].body);
    run_until([&] { return server_.connection_count() == 0; });
    EXPECT_EQ(server_.connection_count(), 0u);
}

TEST_F(framed_connection_test, a_protocol_refusal_closes_after_the_queued_answers) {
    start({8, true});
    send("B");
    asio::write(client_, asio::buffer(std::string(1, '\0')));  // body_length refuses
    EXPECT_EQ(receive(2), "B");
    run_until([&] { return server_.connection_count() == 0; });
    EXPECT_EQ(server_.connection_count(), 0u);
}

}  // namespace
}  // namespace millrace::net
