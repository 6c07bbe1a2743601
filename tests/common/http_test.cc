#include "millrace/common/http.h"

#include <thread>

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
