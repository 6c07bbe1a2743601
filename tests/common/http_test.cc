#include "millrace/common/http.h"

#include <atomic>
#include <chrono>
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
    void start(const std::string& host = "127.0.0.1") {
        auto ep = server_.start(host, 0);
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
    auto posted = testing::http_request(address_, "POST", "/echo", R"({"a":1})");
    EXPECT_EQ(posted.status, 201);
    EXPECT_EQ(posted.body, R"({"a":1})");
    EXPECT_EQ(testing::http_request(address_, "GET", "/nowhere").status, 404);
    EXPECT_EQ(testing::http_request(address_, "DELETE", "/echo").status, 405);
}

TEST_F(http_test, path_templates_bind_parameters_each_decoded_on_its_own) {
    auto show = [](const request& req) {
        std::string out;
        for (const auto& [name, value] : req.path_params) out += name + "=" + value + ";";
        return response::text(200, out);
    };
    server_.route("GET", "/subjects/{subject}/versions/{version}", show);
    server_.route("DELETE", "/subjects/{subject}/versions/{version}", [](const request&) { return response::text(204, ""); });
    server_.route("GET", "/schemas/{id}", show);
    server_.route("GET", "/schemas/types", [](const request&) { return response::text(200, "types"); });
    server_.route("GET", "/files/", [](const request& req) { return response::text(200, "prefix " + req.path); });
    server_.route("GET", "/files/{name}/meta", show);
    start();
    // An encoded '/' stays inside its parameter; '+' is not a space in a path.
    EXPECT_EQ(testing::http_request(address_, "GET", "/subjects/a%2Fb+c/versions/latest").body, "subject=a/b+c;version=latest;");
    // The literal route beats the template with a parameter in its place.
    EXPECT_EQ(testing::http_request(address_, "GET", "/schemas/types").body, "types");
    EXPECT_EQ(testing::http_request(address_, "GET", "/schemas/7?x=1").body, "id=7;");
    // A template beats a prefix route; other paths below the prefix still reach it.
    EXPECT_EQ(testing::http_request(address_, "GET", "/files/x/meta").body, "name=x;");
    EXPECT_EQ(testing::http_request(address_, "GET", "/files/x/data").body, "prefix /files/x/data");
    // Parameters are never empty, and the segment count must match.
    EXPECT_EQ(testing::http_request(address_, "GET", "/subjects//versions/1").status, 404);
    EXPECT_EQ(testing::http_request(address_, "GET", "/subjects/s/versions/1/x").status, 404);
    EXPECT_EQ(testing::http_request(address_, "GET", "/schemas/").status, 404);
    // Known path, other method: 405.
    EXPECT_EQ(testing::http_request(address_, "DELETE", "/subjects/s/versions/1").status, 204);
    EXPECT_EQ(testing::http_request(address_, "POST", "/subjects/s/versions/1").status, 405);
}

TEST_F(http_test, misses_are_answered_by_the_miss_handler) {
    server_.route("GET", "/items/{id}", [](const request&) { return response::text(200, "item"); });
    server_.on_miss([](const request& req, int status) {
        return response::json(status, fmt::format("{{\"error_code\":{},\"path\":\"{}\"}}", status, req.path));
    });
    start();
    auto missing = testing::http_request(address_, "GET", "/nothing");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.body, R"({"error_code":404,"path":"/nothing"})");
    auto wrong = testing::http_request(address_, "PUT", "/items/3");
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.body, R"({"error_code":405,"path":"/items/3"})");
}

TEST_F(http_test, a_catch_all_root_serves_get_below_it_but_makes_no_path_known_to_other_methods) {
    server_.route("GET", "/", [](const request& req) { return response::text(200, "ui " + req.path); });
    server_.route("POST", "/api/items", [](const request&) { return response::text(201, "made"); });
    start();
    EXPECT_EQ(testing::http_request(address_, "GET", "/some/page").body, "ui /some/page");
    EXPECT_EQ(testing::http_request(address_, "POST", "/some/page").status, 404);
    EXPECT_EQ(testing::http_request(address_, "POST", "/").status, 405);
    EXPECT_EQ(testing::http_request(address_, "DELETE", "/api/items").status, 405);
}

TEST_F(http_test, async_handler_answers_later_from_another_thread) {
    std::vector<std::thread> workers;
    server_.route_async("POST", "/later", [&workers](const request& req, responder respond) {
        workers.emplace_back([body = req.body, respond = std::move(respond)] { respond(response::text(202, "done " + body)); });
    });
    server_.route("GET", "/now", [](const request&) { return response::text(200, "now"); });
    start();
    auto later = testing::http_request(address_, "POST", "/later", "\"x\"");
    EXPECT_EQ(later.status, 202);
    EXPECT_EQ(later.body, "done \"x\"");
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


// ---- the request policy (docs/security.md) ----------------------------------

class http_policy_test : public http_test {
protected:
    void SetUp() override {
        server_.route("POST", "/change", [this](const request&) {
            ++changes_;
            return response::json(200, "{}");
        });
        server_.route("GET", "/read", [](const request&) { return response::json(200, "{}"); });
    }
    void TearDown() override {
        set_allowed_origins({});
        http_test::TearDown();
    }
    testing::http_result post(const std::string& body, std::vector<std::pair<std::string, std::string>> headers = {}) {
        return testing::http_request(address_, "POST", "/change", body, headers);
    }
    std::atomic<int> changes_{0};
};

TEST_F(http_policy_test, same_origin_json_post_is_served) {
    start();
    std::string port = address_.substr(address_.rfind(':') + 1);
    EXPECT_EQ(post("{}").status, 200);
    EXPECT_EQ(post("{}", {{"Origin", "http://" + address_}}).status, 200);
    EXPECT_EQ(post("{}", {{"Host", "localhost:" + port}, {"Origin", "http://localhost:" + port}}).status, 200);
    EXPECT_EQ(post("{}", {{"Host", "[::1]:" + port}}).status, 200);
    EXPECT_EQ(post("{}", {{"Content-Type", "application/json; charset=utf-8"}}).status, 200);
    EXPECT_EQ(changes_.load(), 5);
}

TEST_F(http_policy_test, foreign_origin_is_refused_with_403) {
    start();
    auto got = post("{}", {{"Origin", "http://evil.example"}});
    EXPECT_EQ(got.status, 403);
    EXPECT_NE(got.body.find("evil.example"), std::string::npos) << got.body;
    EXPECT_NE(got.headers.find("application/json"), std::string::npos) << got.headers;
    // Same host, other port: another site on this machine.
    EXPECT_EQ(post("{}", {{"Origin", "http://127.0.0.1:1"}}).status, 403);
    EXPECT_EQ(post("{}", {{"Origin", "null"}}).status, 403);
    EXPECT_EQ(changes_.load(), 0);
}

TEST_F(http_policy_test, dns_rebinding_host_is_refused_with_403) {
    start();
    std::string port = address_.substr(address_.rfind(':') + 1);
    auto got = post("{}", {{"Host", "rebind.evil.example:" + port}});
    EXPECT_EQ(got.status, 403);
    EXPECT_NE(got.body.find("rebind.evil.example"), std::string::npos) << got.body;
    // Bound to loopback: another address literal is not this server either.
    EXPECT_EQ(post("{}", {{"Host", "10.1.2.3:" + port}}).status, 403);
    EXPECT_EQ(changes_.load(), 0);
    // A GET changes nothing and is served (the browser cannot read the answer cross-site).
    EXPECT_EQ(testing::http_request(address_, "GET", "/read", "", {{"Host", "rebind.evil.example"}}).status, 200);
}

TEST_F(http_policy_test, bound_everywhere_an_ip_host_is_trusted_but_not_an_ip_origin) {
    start("0.0.0.0");
    std::string port = address_.substr(address_.rfind(':') + 1);
    // Reached by any of the machine's addresses: an IP literal Host cannot be rebound.
    EXPECT_EQ(post("{}", {{"Host", "203.0.113.9:" + port}}).status, 200);
    // A page served from that same address is same-origin.
    EXPECT_EQ(post("{}", {{"Host", "203.0.113.9:" + port}, {"Origin", "http://203.0.113.9:" + port}}).status, 200);
    // A page on another address (the attacker's own server, same port) is cross-site.
    EXPECT_EQ(post("{}", {{"Host", "127.0.0.1:" + port}, {"Origin", "http://203.0.113.9:" + port}}).status, 403);
    EXPECT_EQ(changes_.load(), 2);
}

TEST_F(http_policy_test, allowed_origins_extend_the_trusted_hosts) {
    set_allowed_origins({"https://ui.example.com"});
    start();
    EXPECT_EQ(post("{}", {{"Host", "ui.example.com"}, {"Origin", "https://ui.example.com"}}).status, 200);
    EXPECT_EQ(post("{}", {{"Origin", "https://other.example.com"}}).status, 403);
}

TEST_F(http_policy_test, non_json_bodies_are_refused_with_415) {
    start();
    for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                             "application/yaml", ""}) {
        auto got = post("{}", {{"Content-Type", type}});
        EXPECT_EQ(got.status, 415) << type;
        EXPECT_NE(got.body.find("application/json"), std::string::npos) << got.body;
    }
    EXPECT_EQ(changes_.load(), 0);
}

TEST_F(http_policy_test, extra_content_types_are_per_server) {
    server_.accept_content_type("application/vnd.schemaregistry.v1+json");
    start();
    EXPECT_EQ(post("{}", {{"Content-Type", "application/vnd.schemaregistry.v1+json"}}).status, 200);
    EXPECT_EQ(post("{}", {{"Content-Type", "application/vnd.other+json"}}).status, 415);
}

TEST_F(http_policy_test, yaml_alias_bomb_is_refused_fast) {
    start();
    // The billion-laughs shape: ~380 bytes, exponential when a YAML parser expands aliases.
    std::string bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
    const char* names = "abcdefghi";
    for (int level = 1; level < 9; ++level) {
        bomb += fmt::format("{}: &{} [", names[level], names[level]);
        for (int ref = 0; ref < 9; ++ref) bomb += fmt::format("{}*{}", ref ? "," : "", names[level - 1]);
        bomb += "]\n";
    }
    ASSERT_LT(bomb.size(), 600u);
    auto begin = std::chrono::steady_clock::now();
    auto got = post(bomb);
    auto took = std::chrono::steady_clock::now() - begin;
    EXPECT_EQ(got.status, 400);
    EXPECT_NE(got.body.find("not valid JSON"), std::string::npos) << got.body;
    EXPECT_LT(took, std::chrono::seconds(1));
    // As YAML it is not even accepted as a media type.
    EXPECT_EQ(post(bomb, {{"Content-Type", "application/x-yaml"}}).status, 415);
    EXPECT_EQ(changes_.load(), 0);
}

TEST_F(http_policy_test, deep_nesting_is_refused_with_400) {
    start();
    std::string deep = std::string(500, '[') + std::string(500, ']');
    auto got = post(deep);
    EXPECT_EQ(got.status, 400);
    EXPECT_NE(got.body.find("deeper than 64"), std::string::npos) << got.body;
    std::string ok = std::string(64, '[') + std::string(64, ']');
    EXPECT_EQ(post(ok).status, 200);
}

TEST(http_check_json, errors_name_the_problem) {
    EXPECT_TRUE(check_json(R"({"a":[1,2,{"b":null}]})").ok());
    auto bad = check_json(R"({"a":)");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message().find("byte"), std::string::npos) << bad.err().message();
    EXPECT_FALSE(check_json("{\"a\":1} trailing").ok());
    EXPECT_FALSE(check_json(std::string(65, '[') + std::string(65, ']')).ok());
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
    // Cross-site shapes are refused before routing here too; no CORS headers anywhere.
    EXPECT_EQ(testing::http_request(address, "POST", "/healthz", "{}", {{"Origin", "http://evil.example"}}).status, 403);
    std::string port = address.substr(address.rfind(':') + 1);
    EXPECT_EQ(testing::http_request(address, "POST", "/healthz", "{}", {{"Host", "evil.example:" + port}}).status, 403);
    EXPECT_EQ(testing::http_request(address, "POST", "/healthz", "x", {{"Content-Type", "text/plain"}}).status, 415);
    EXPECT_EQ(metrics.headers.find("Access-Control-Allow-Origin"), std::string::npos);
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
