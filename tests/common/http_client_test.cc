#include "millrace/common/http_client.h"

#include <thread>

#include <asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "millrace/common/http.h"

namespace millrace::http {
namespace {

// A real http::server on an ephemeral port, on its own thread.
class http_client_test : public ::testing::Test {
protected:
    void SetUp() override {
        server_.route("GET", "/hello", [](const request&) { return response::text(200, "hello"); });
        server_.route("POST", "/echo", [](const request& req) {
            response res = response::json(201, req.body);
            res.headers.emplace_back("X-Seen-Type", req.header("content-type"));
            res.headers.emplace_back("X-Seen-Custom", req.header("x-custom"));
            return res;
        });
        server_.route("GET", "/big", [](const request&) { return response::text(200, std::string(100'000, 'b')); });
        server_.route("GET", "/fail", [](const request&) { return response::json(503, R"({"message":"down"})"); });
        auto ep = server_.start("127.0.0.1", 0);
        ASSERT_TRUE(ep.ok()) << ep.err().message();
        base_ = "http://" + ep->to_string();
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        server_.stop();
        io_.stop();
        if (thread_.joinable()) thread_.join();
    }
    client_request get(const std::string& path) {
        client_request r;
        r.url = base_ + path;
        r.bypass_proxy = true;
        return r;
    }

    asio::io_context io_;
    server server_{io_, "http-client-test", 1024};
    std::string base_;
    std::thread thread_;
};

TEST_F(http_client_test, get_and_post_with_headers_and_body) {
    auto hello = perform(get("/hello"));
    ASSERT_TRUE(hello.ok()) << hello.err().message();
    EXPECT_EQ(hello->status, 200);
    EXPECT_TRUE(hello->ok());
    EXPECT_EQ(hello->body, "hello");
    EXPECT_NE(hello->content_type.find("text/plain"), std::string::npos);

    client_request post = get("/echo");
    post.method = "POST";
    post.headers = {{"Content-Type", "application/json"}, {"X-Custom", "yes"}};
    post.body = R"({"a":1})";
    auto echoed = perform(post);
    ASSERT_TRUE(echoed.ok()) << echoed.err().message();
    EXPECT_EQ(echoed->status, 201);
    EXPECT_EQ(echoed->body, R"({"a":1})");
}

TEST_F(http_client_test, one_client_serves_many_requests) {
    client c;
    for (int round = 0; round < 5; ++round) {
        auto got = c.perform(get(round % 2 ? "/hello" : "/fail"));
        ASSERT_TRUE(got.ok()) << got.err().message();
        EXPECT_EQ(got->status, round % 2 ? 200 : 503);
    }
}

TEST_F(http_client_test, any_status_is_a_value_and_describe_names_url_and_status) {
    auto request = get("/fail");
    auto got = perform(request);
    ASSERT_TRUE(got.ok()) << got.err().message();
    EXPECT_FALSE(got->ok());
    EXPECT_EQ(describe_status(request, *got), "GET " + base_ + R"(/fail answered HTTP 503: {"message":"down"})");
    auto missing = perform(get("/nowhere"));
    ASSERT_TRUE(missing.ok());
    EXPECT_EQ(missing->status, 404);
}

TEST_F(http_client_test, body_beyond_the_limit_is_dropped) {
    auto request = get("/big");
    request.max_body_bytes = 1000;
    auto got = perform(request);
    ASSERT_TRUE(got.ok()) << got.err().message();
    EXPECT_EQ(got->body, std::string(1000, 'b'));
    request.max_body_bytes = 0;
    EXPECT_EQ(perform(request)->body.size(), 100'000u);
}

TEST(http_client_errors_test, refused_connection_names_method_and_url) {
    // A socket bound but not listening: connecting to its port is refused, and
    // no other process can take the port while the socket holds it.
    asio::io_context io;
    asio::ip::tcp::socket bound(io);
    bound.open(asio::ip::tcp::v4());
    bound.bind(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const uint16_t port = bound.local_endpoint().port();
    client_request request;
    request.method = "DELETE";
    request.url = "http://127.0.0.1:" + std::to_string(port) + "/gone";
    request.bypass_proxy = true;
    auto got = perform(request);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code(), errc::unavailable);
    EXPECT_EQ(got.err().message().rfind("DELETE " + request.url + ": ", 0), 0u) << got.err().message();
}

TEST(http_client_errors_test, silent_server_times_out) {
    // Accepts (the kernel's backlog does) and never answers.
    asio::io_context io;
    asio::ip::tcp::acceptor silent(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client_request request;
    request.url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/slow";
    request.bypass_proxy = true;
    request.timeout = std::chrono::milliseconds(300);
    auto got = perform(request);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code(), errc::timed_out);
    EXPECT_EQ(got.err().message(), "GET " + request.url + ": no answer within 300 ms");
}

TEST(http_client_errors_test, only_http_refuses_other_schemes) {
    client_request request;
    request.url = "file:///etc/hostname";
    request.only_http = true;
    auto got = perform(request);
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.err().message().find("Unsupported protocol"), std::string::npos) << got.err().message();
}

TEST(http_client_errors_test, url_escape_keeps_only_unreserved_characters) {
    EXPECT_EQ(url_escape("users-value"), "users-value");
    EXPECT_EQ(url_escape("a b/c?d=e&f~_."), "a%20b%2Fc%3Fd%3De%26f~_.");
    EXPECT_EQ(url_escape("\xc3\xa9"), "%C3%A9");
    EXPECT_EQ(url_escape(""), "");
}

}  // namespace
}  // namespace millrace::http
