#include "millrace/common/http.h"

#include <mutex>
#include <thread>
#include <vector>

#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include "harness/process.h"
#include "millrace/common/admin.h"

namespace millrace::http {
namespace {

// Runs an http::server on its own thread for the length of a test.
class http_test : public ::testing::Test {
protected:
    void start() {
        auto ep = server_.start("127.0.0.1", 0);
        ASSERT_TRUE(ep.ok()) << ep.err().message();
        address_ = ep->to_string();
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        server_.stop();
        io_.stop();
        if (thread_.joinable()) thread_.join();
    }

    asio::io_context io_;
    server server_{io_, "test-http", 1024};
    std::string address_;
    std::thread thread_;
};

TEST_F(http_test, routes_by_method_and_path_with_query) {
    server_.route("GET", "/api/", [](const request& req) {
        const std::string* results = req.param("results");
        return response::json(200, fmt::format("{{\"path\":\"{}\",\"results\":\"{}\"}}", req.path, results ? *results : ""));
    });
    server_.route("POST", "/echo", [](const request& req) { return response::text(201, req.body); });
    start();
    auto got = testing::http_request(address_, "GET", "/api/?results=5&nat=us%2Cgb");
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, R"({"path":"/api/","results":"5"})");
    auto posted = testing::http_request(address_, "POST", "/echo", "payload");
    EXPECT_EQ(posted.status, 201);
    EXPECT_EQ(posted.body, "payload");
    EXPECT_EQ(testing::http_request(address_, "GET", "/nowhere").status, 404);
    EXPECT_EQ(testing::http_request(address_, "DELETE", "/echo").status, 405);
}

TEST_F(http_test, async_handler_answers_later_from_another_thread) {
    std::vector<std::thread> workers;
    server_.route_async("POST", "/later", [&workers](const request& req, responder respond) {
        workers.emplace_back([body = req.body, respond = std::move(respond)] { respond(response::text(202, "done " + body)); });
    });
    server_.route("GET", "/now", [](const request&) { return response::text(200, "now"); });
    start();
    auto later = testing::http_request(address_, "POST", "/later", "x");
    EXPECT_EQ(later.status, 202);
    EXPECT_EQ(later.body, "done x");
    // The io thread was not blocked meanwhile, and plain routes still answer.
    EXPECT_EQ(testing::http_request(address_, "GET", "/now").body, "now");
    for (auto& w : workers) w.join();
}

TEST_F(http_test, plus_is_a_space_only_in_the_query) {
    server_.route("GET", "/runs/", [](const http::request& req) {
        const std::string* q = req.param("q");
        return response::text(200, req.path + "|" + (q ? *q : ""));
    });
    start();
    auto got = testing::http_request(address_, "GET", "/runs/manual__2026-01-01T00:00:00+00:00?q=a+b%2Bc");
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, "/runs/manual__2026-01-01T00:00:00+00:00|a b+c");
}

TEST_F(http_test, oversized_body_is_rejected_with_413) {
    server_.route("POST", "/echo", [](const request& req) { return response::text(200, req.body); });
    start();
    auto got = testing::http_request(address_, "POST", "/echo", std::string(2048, 'x'));
    EXPECT_EQ(got.status, 413);
}

TEST_F(http_test, malformed_request_gets_400_and_server_keeps_serving) {
    server_.route("GET", "/ok", [](const request&) { return response::text(200, "fine"); });
    start();
    // Garbage request line, through a raw socket.
    auto colon = address_.rfind(':');
    asio::io_context client;
    asio::ip::tcp::socket socket(client);
    socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                           static_cast<uint16_t>(std::stoi(address_.substr(colon + 1)))));
    std::string garbage = "NONSENSE\r\n\r\n";
    asio::write(socket, asio::buffer(garbage));
    std::string reply(256, '\0');
    std::error_code ec;
    size_t n = socket.read_some(asio::buffer(reply), ec);
    reply.resize(n);
    EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
    EXPECT_EQ(testing::http_request(address_, "GET", "/ok").body, "fine");
}

TEST_F(http_test, async_route_answers_from_another_thread) {
    std::vector<std::thread> workers;
    std::mutex workers_mutex;
    server_.route_async("GET", "/slow", [&](const request& req, reply r) {
        std::lock_guard lock(workers_mutex);
        workers.emplace_back([r, who = req.param("who") ? *req.param("who") : std::string()] {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            r.send(response::json(202, fmt::format("{{\"who\":\"{}\"}}", who)));
            r.send(response::text(500, "ignored: the first send wins"));
        });
    });
    server_.route_async("GET", "/now", [](const request&, reply r) { r.send(response::text(200, "inline")); });
    server_.route("GET", "/sync", [](const request&) { return response::text(200, "sync"); });
    start();
    auto got = testing::http_request(address_, "GET", "/slow?who=ada");
    EXPECT_EQ(got.status, 202);
    EXPECT_EQ(got.body, R"({"who":"ada"})");
    EXPECT_EQ(testing::http_request(address_, "GET", "/now").body, "inline");
    EXPECT_EQ(testing::http_request(address_, "GET", "/sync").body, "sync");
    EXPECT_EQ(testing::http_request(address_, "POST", "/slow").status, 405);
    std::lock_guard lock(workers_mutex);
    for (auto& worker : workers) worker.join();
}

TEST_F(http_test, async_route_whose_reply_is_dropped_gets_500) {
    server_.route_async("GET", "/drop", [](const request&, reply) {});
    server_.route("GET", "/ok", [](const request&) { return response::text(200, "fine"); });
    start();
    auto got = testing::http_request(address_, "GET", "/drop");
    EXPECT_EQ(got.status, 500);
    EXPECT_NE(got.body.find("dropped"), std::string::npos);
    EXPECT_EQ(testing::http_request(address_, "GET", "/ok").body, "fine");
}

// Reads from a raw socket until `needle` appears or the peer closes.
std::string read_until(asio::ip::tcp::socket& socket, const std::string& needle) {
    std::string got;
    char chunk[512];
    while (got.find(needle) == std::string::npos) {
        std::error_code ec;
        size_t n = socket.read_some(asio::buffer(chunk), ec);
        if (ec) break;
        got.append(chunk, n);
    }
    return got;
}

asio::ip::tcp::socket connect_to(asio::io_context& io, const std::string& address) {
    auto colon = address.rfind(':');
    asio::ip::tcp::socket socket(io);
    socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                           static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))));
    return socket;
}

TEST_F(http_test, event_stream_delivers_events_heartbeats_and_notices_a_closed_client) {
    std::mutex mutex;
    std::vector<event_stream> streams;
    server_.route_events("/events", [&](const request& req, event_stream stream) {
        stream.send("hello", req.param("n") ? *req.param("n") : "none");
        std::lock_guard lock(mutex);
        streams.push_back(stream);
    });
    server_.set_event_heartbeat(std::chrono::milliseconds(50));
    start();
    asio::io_context client;
    auto socket = connect_to(client, address_);
    std::string request_text = "GET /events?n=7 HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(socket, asio::buffer(request_text));
    std::string got = read_until(socket, "data: 7\n\n");
    EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
    EXPECT_NE(got.find("Content-Type: text/event-stream\r\n"), std::string::npos) << got;
    EXPECT_NE(got.find("event: hello\ndata: 7\n\n"), std::string::npos) << got;
    event_stream stream = [&] {
        std::lock_guard lock(mutex);
        return streams.at(0);
    }();
    EXPECT_TRUE(stream.send("", "line one\nline two"));
    got = read_until(socket, "data: line two\n\n");
    EXPECT_NE(got.find("data: line one\ndata: line two\n\n"), std::string::npos) << got;
    got = read_until(socket, ": keep-alive\n\n");
    EXPECT_NE(got.find(": keep-alive"), std::string::npos);
    socket.close();
    // The server notices the closed client (its probe read ends) and says so.
    bool closed = false;
    for (int attempt = 0; attempt < 2000 && !closed; ++attempt) {
        closed = !stream.open();
        if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(closed);
    EXPECT_FALSE(stream.send("late", "nobody listens"));
}

TEST_F(http_test, event_stream_close_ends_the_response_after_queued_events) {
    server_.route_events("/once", [](const request&, event_stream stream) {
        stream.send("a", "1");
        stream.send("b", "2");
        stream.close();
    });
    start();
    asio::io_context client;
    auto socket = connect_to(client, address_);
    std::string request_text = "GET /once HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(socket, asio::buffer(request_text));
    std::string got = read_until(socket, "never appears");  // ends when the server closes
    EXPECT_NE(got.find("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n"), std::string::npos) << got;
}

TEST_F(http_test, stopping_the_server_ends_open_event_streams) {
    std::mutex mutex;
    std::vector<event_stream> streams;
    server_.route_events("/events", [&](const request&, event_stream stream) {
        std::lock_guard lock(mutex);
        streams.push_back(stream);
    });
    start();
    asio::io_context client;
    auto socket = connect_to(client, address_);
    std::string request_text = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(socket, asio::buffer(request_text));
    read_until(socket, ": stream open\n\n");
    server_.stop();
    std::string rest = read_until(socket, "never appears");
    EXPECT_EQ(rest.find("data:"), std::string::npos);
    std::lock_guard lock(mutex);
    ASSERT_EQ(streams.size(), 1u);
    bool closed = false;
    for (int attempt = 0; attempt < 2000 && !closed; ++attempt) {
        closed = !streams[0].open();
        if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(closed);
}

TEST(admin_test, healthz_readyz_and_metrics) {
    asio::io_context io;
    metrics::registry registry;
    registry.make_counter("millrace_test_total", "A test counter.").inc(7);
    admin_endpoint admin(io, registry);
    auto ep = admin.start("127.0.0.1", 0, "test.admin_port");
    ASSERT_TRUE(ep.ok());
    std::thread runner([&] { io.run(); });
    std::string address = ep->to_string();
    EXPECT_EQ(testing::http_request(address, "GET", "/healthz").status, 200);
    EXPECT_EQ(testing::http_request(address, "GET", "/readyz").status, 503);
    admin.set_ready(true);
    EXPECT_EQ(testing::http_request(address, "GET", "/readyz").status, 200);
    auto metrics = testing::http_request(address, "GET", "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.headers.find("text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(metrics.body.find("millrace_test_total 7\n"), std::string::npos);
    admin.stop();
    io.stop();
    runner.join();
}

TEST(net_test, port_in_use_error_names_component_address_and_key) {
    asio::io_context io;
    server first(io, "broker");
    auto ep = first.start("127.0.0.1", 0);
    ASSERT_TRUE(ep.ok());
    server second(io, "broker");
    auto clash = second.start("127.0.0.1", ep->port, "broker.port");
    ASSERT_FALSE(clash.ok());
    EXPECT_EQ(clash.err().message(), fmt::format("broker: cannot listen on 127.0.0.1:{}: Address already in use; "
                                                 "is another instance running? set broker.port to a free port",
                                                 ep->port));
}

}  // namespace
}  // namespace millrace::http
