// HTTP authentication of http::server (docs/security.md): Basic, bearer
// tokens, the built-in /api/v1/auth/ routes, the open probes.
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/process.h"
#include "millrace/common/admin.h"
#include "millrace/common/http.h"
#include "millrace/common/security.h"

namespace millrace::http {
namespace {

using header_list = std::vector<std::pair<std::string, std::string>>;

std::string basic(const std::string& user, const std::string& password) {
    return "Basic " + security::base64_encode(user + ":" + password);
}

int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class http_auth_test : public ::testing::Test {
protected:
    void SetUp() override {
        auth_settings auth;
        auth.enabled = true;
        auth.users = {{"admin", "s3cret-pw"}, {"reader", "other"}};
        auth.token_lifetime = std::chrono::minutes(5);
        set_authentication(auth);
        server_.route("GET", "/api/thing", [](const request& req) { return response::json(200, "{\"who\":\"" + req.principal + "\"}"); });
        server_.route("POST", "/api/thing", [](const request& req) { return response::json(201, "{\"who\":\"" + req.principal + "\"}"); });
        auto ep = server_.start("127.0.0.1", 0);
        ASSERT_TRUE(ep.ok()) << ep.err().message();
        address_ = ep->to_string();
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        server_.stop();
        io_.stop();
        if (thread_.joinable()) thread_.join();
        set_authentication({});
    }
    testing::http_result get(const std::string& target, const header_list& headers = {}) {
        return testing::http_request(address_, "GET", target, {}, headers);
    }

    asio::io_context io_;
    server server_{io_, "test-http"};
    std::string address_;
    std::thread thread_;
};

TEST_F(http_auth_test, no_credentials_is_401_with_basic_challenge) {
    auto got = get("/api/thing");
    EXPECT_EQ(got.status, 401);
    EXPECT_NE(got.headers.find("WWW-Authenticate: Basic realm=\"millrace\""), std::string::npos) << got.headers;
    EXPECT_EQ(nlohmann::json::parse(got.body)["error_code"], 401);
    // Unknown routes too: nothing is learnt about the API without credentials.
    EXPECT_EQ(get("/nowhere").status, 401);
}

TEST_F(http_auth_test, wrong_password_or_user_is_401) {
    EXPECT_EQ(get("/api/thing", {{"Authorization", basic("admin", "s3cret-pX")}}).status, 401);
    EXPECT_EQ(get("/api/thing", {{"Authorization", basic("admin", "s3cret-pw ")}}).status, 401);
    EXPECT_EQ(get("/api/thing", {{"Authorization", basic("admin", "")}}).status, 401);
    EXPECT_EQ(get("/api/thing", {{"Authorization", basic("nobody", "s3cret-pw")}}).status, 401);
    // Another user's password is not this user's.
    EXPECT_EQ(get("/api/thing", {{"Authorization", basic("reader", "s3cret-pw")}}).status, 401);
    EXPECT_EQ(get("/api/thing", {{"Authorization", "Basic !!notbase64"}}).status, 401);
    EXPECT_EQ(get("/api/thing", {{"Authorization", "Basic " + security::base64_encode("no-colon")}}).status, 401);
    EXPECT_EQ(get("/api/thing", {{"Authorization", "Digest username=admin"}}).status, 401);
}

TEST_F(http_auth_test, right_credentials_reach_the_route_with_the_principal) {
    auto got = get("/api/thing", {{"Authorization", basic("admin", "s3cret-pw")}});
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, R"({"who":"admin"})");
    // The scheme's name is case-insensitive (RFC 7235).
    EXPECT_EQ(get("/api/thing", {{"Authorization", "basic " + security::base64_encode("reader:other")}}).body, R"({"who":"reader"})");
    auto posted = testing::http_request(address_, "POST", "/api/thing", "{}", {{"Authorization", basic("admin", "s3cret-pw")}});
    EXPECT_EQ(posted.status, 201);
}

TEST_F(http_auth_test, cross_site_rules_still_apply_to_authenticated_requests) {
    // A browser holding cached Basic credentials sends them cross-site too: the Origin check still refuses.
    auto got = testing::http_request(address_, "POST", "/api/thing", "{}",
                                     {{"Authorization", basic("admin", "s3cret-pw")}, {"Origin", "http://evil.example"}});
    EXPECT_EQ(got.status, 403);
    auto same = testing::http_request(address_, "POST", "/api/thing", "{}",
                                      {{"Authorization", basic("admin", "s3cret-pw")}, {"Origin", "http://" + address_}});
    EXPECT_EQ(same.status, 201);
}

TEST_F(http_auth_test, admin_endpoint_probes_stay_open_metrics_do_not) {
    metrics::registry registry;
    admin_endpoint admin(io_, registry);
    auto ep = admin.start("127.0.0.1", 0, "");
    ASSERT_TRUE(ep.ok()) << ep.err().message();
    admin.set_ready(true);
    std::string at = ep->to_string();
    EXPECT_EQ(testing::http_request(at, "GET", "/healthz").status, 200);
    EXPECT_EQ(testing::http_request(at, "GET", "/readyz").status, 200);
    EXPECT_EQ(testing::http_request(at, "GET", "/metrics").status, 401);
    EXPECT_EQ(testing::http_request(at, "GET", "/metrics", {}, {{"Authorization", basic("admin", "wrong")}}).status, 401);
    EXPECT_EQ(testing::http_request(at, "GET", "/metrics", {}, {{"Authorization", basic("admin", "s3cret-pw")}}).status, 200);
    admin.stop();
}

TEST_F(http_auth_test, token_from_basic_credentials_then_bearer) {
    auto issued = testing::http_request(address_, "POST", "/api/v1/auth/token", {}, {{"Authorization", basic("admin", "s3cret-pw")}});
    ASSERT_EQ(issued.status, 200) << issued.body;
    auto body = nlohmann::json::parse(issued.body);
    EXPECT_EQ(body["token_type"], "Bearer");
    EXPECT_EQ(body["expires_in"], 300);
    EXPECT_EQ(body["user"], "admin");
    std::string token = body["access_token"];
    EXPECT_EQ(token.find("s3cret"), std::string::npos);
    auto got = get("/api/thing", {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, R"({"who":"admin"})");
    // A token does not buy another token.
    EXPECT_EQ(testing::http_request(address_, "POST", "/api/v1/auth/token", {}, {{"Authorization", "Bearer " + token}}).status, 401);
    // Nor do wrong credentials.
    EXPECT_EQ(testing::http_request(address_, "POST", "/api/v1/auth/token", {}, {{"Authorization", basic("admin", "x")}}).status, 401);
}

TEST_F(http_auth_test, tampered_expired_or_foreign_tokens_are_401) {
    std::string token = issue_token("reader", now_seconds());
    ASSERT_EQ(verify_token(token, now_seconds()), "reader");
    EXPECT_EQ(get("/api/thing", {{"Authorization", "Bearer " + token}}).status, 200);
    // Claims rewritten to another user, signature kept.
    std::string forged_payload = security::base64_encode(R"({"exp":99999999999,"sub":"admin"})", true);
    std::string forged = "mr1." + forged_payload + token.substr(token.rfind('.'));
    EXPECT_EQ(get("/api/thing", {{"Authorization", "Bearer " + forged}}).status, 401);
    // One character of the signature changed, in the middle and at the end (whose low bits are padding).
    for (size_t from_end : {10, 1}) {
        std::string flipped = token;
        char& c = flipped[flipped.size() - from_end];
        c = c == 'A' ? 'B' : 'A';
        EXPECT_EQ(get("/api/thing", {{"Authorization", "Bearer " + flipped}}).status, 401) << flipped;
    }
    // Expired: issued longer ago than the lifetime.
    std::string old = issue_token("reader", now_seconds() - 301);
    EXPECT_FALSE(verify_token(old, now_seconds()).has_value());
    EXPECT_EQ(get("/api/thing", {{"Authorization", "Bearer " + old}}).status, 401);
    EXPECT_EQ(get("/api/thing", {{"Authorization", "Bearer garbage"}}).status, 401);
    EXPECT_EQ(issue_token("nobody", now_seconds()), "");
    // A new password revokes the user's tokens.
    set_authentication({true, {{"admin", "s3cret-pw"}, {"reader", "changed"}}, std::chrono::minutes(5)});
    EXPECT_EQ(get("/api/thing", {{"Authorization", "Bearer " + token}}).status, 401);
}

TEST_F(http_auth_test, whoami_names_the_logged_in_user) {
    auto got = get("/api/v1/auth/whoami", {{"Authorization", basic("admin", "s3cret-pw")}});
    ASSERT_EQ(got.status, 200);
    auto body = nlohmann::json::parse(got.body);
    EXPECT_EQ(body["user"], "admin");
    EXPECT_EQ(body["method"], "basic");
    EXPECT_EQ(body["security_enabled"], true);
    EXPECT_EQ(get("/api/v1/auth/whoami").status, 401);
}

TEST(http_auth_off_test, everything_open_and_whoami_says_so) {
    set_authentication({});
    asio::io_context io;
    server srv(io, "test-http");
    srv.route("GET", "/api/thing", [](const request& req) { return response::json(200, "\"" + req.principal + "\""); });
    auto ep = srv.start("127.0.0.1", 0);
    ASSERT_TRUE(ep.ok());
    std::thread runner([&] { io.run(); });
    EXPECT_EQ(testing::http_request(ep->to_string(), "GET", "/api/thing").body, "\"\"");
    auto who = nlohmann::json::parse(testing::http_request(ep->to_string(), "GET", "/api/v1/auth/whoami").body);
    EXPECT_EQ(who["security_enabled"], false);
    EXPECT_TRUE(who["user"].is_null());
    EXPECT_EQ(testing::http_request(ep->to_string(), "POST", "/api/v1/auth/token").status, 404);
    srv.stop();
    io.stop();
    runner.join();
}

}  // namespace
}  // namespace millrace::http
