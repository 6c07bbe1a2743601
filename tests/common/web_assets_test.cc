#include "millrace/common/web_assets.h"

#include <thread>

#include <gtest/gtest.h>

#include "harness/process.h"
#include "millrace/web/example_assets.h"

namespace millrace::web {
namespace {

class web_assets_test : public ::testing::Test {
protected:
    void SetUp() override {
        server_.route("GET", "/api/", [](const http::request&) { return http::response::json(200, "{\"api\":true}"); });
        serve_assets(server_, example_assets());
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
    const asset* script() const {
        for (const auto& a : example_assets()) {
            if (a.path.starts_with("/assets/") && a.path.ends_with(".js")) return &a;
        }
        return nullptr;
    }

    asio::io_context io_;
    http::server server_{io_, "test-web"};
    std::string address_;
    std::thread thread_;
};

TEST_F(web_assets_test, build_embedded_the_page_and_its_hashed_script) {
    const asset* js = script();
    ASSERT_NE(js, nullptr);
    EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
    // The page was compiled with Preact, not left as TSX.
    EXPECT_NE(js->body.find("clicked"), std::string_view::npos);
    EXPECT_EQ(js->body.find("<Shell"), std::string_view::npos);
}

TEST_F(web_assets_test, root_serves_index_that_references_the_script) {
    auto got = testing::http_request(address_, "GET", "/");
    EXPECT_EQ(got.status, 200);
    EXPECT_NE(got.headers.find("text/html"), std::string::npos);
    EXPECT_NE(got.headers.find("no-cache"), std::string::npos);
    EXPECT_NE(got.body.find(std::string(script()->path)), std::string::npos);
}

TEST_F(web_assets_test, hashed_assets_are_immutable) {
    auto got = testing::http_request(address_, "GET", std::string(script()->path));
    EXPECT_EQ(got.status, 200);
    EXPECT_NE(got.headers.find("immutable"), std::string::npos);
    EXPECT_EQ(got.body, std::string(script()->body));
}

TEST_F(web_assets_test, page_paths_get_index_and_missing_files_404) {
    auto page = testing::http_request(address_, "GET", "/topics/users_created");
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("<div id=\"app\">"), std::string::npos);
    EXPECT_EQ(testing::http_request(address_, "GET", "/assets/missing.js").status, 404);
}

TEST_F(web_assets_test, api_routes_win_over_the_app) {
    auto got = testing::http_request(address_, "GET", "/api/anything");
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, "{\"api\":true}");
}

}  // namespace
}  // namespace millrace::web
