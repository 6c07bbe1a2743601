#include "api.h"

#include <gtest/gtest.h>

#include "harness/process.h"
#include "json.h"
#include "pg_fixture.h"

namespace millrace::source {
namespace {

class api_test : public ::testing::Test {
protected:
    void SetUp() override {
        api_.add_routes(http_.server());
        address_ = http_.start();
    }
    millrace::manual_clock clock_;
    metrics::registry registry_;
    api api_{clock_, registry_};
    http_thread http_;
    std::string address_;
};

TEST_F(api_test, serves_users_at_api) {
    auto res = testing::http_request(address_, "GET", "/api/?results=25&seed=abc&nat=gb,us");
    ASSERT_EQ(res.status, 200);
    EXPECT_NE(res.headers.find("application/json"), std::string::npos);
    auto doc = json::parse(res.body);
    ASSERT_TRUE(doc.ok()) << doc.err().message();
    EXPECT_EQ(doc->find("results")->items.size(), 25u);
    EXPECT_EQ(doc->find("info")->find("seed")->text, "abc");
    // Same seed, same page: same bytes over HTTP too.
    EXPECT_EQ(testing::http_request(address_, "GET", "/api/?results=25&seed=abc&nat=gb,us").body, res.body);
}

TEST_F(api_test, without_slash_and_without_seed) {
    auto res = testing::http_request(address_, "GET", "/api?results=2");
    ASSERT_EQ(res.status, 200);
    auto doc = json::parse(res.body);
    ASSERT_TRUE(doc.ok());
    EXPECT_EQ(doc->find("info")->find("seed")->text.size(), 16u);
}

void expect_400(const std::string& address, const std::string& target, std::string_view mention) {
    auto res = testing::http_request(address, "GET", target);
    EXPECT_EQ(res.status, 400) << target;
    auto doc = json::parse(res.body);
    ASSERT_TRUE(doc.ok()) << res.body;
    ASSERT_NE(doc->find("error"), nullptr);
    EXPECT_NE(doc->find("error")->text.find(mention), std::string::npos) << res.body;
}

TEST_F(api_test, results_zero_is_400) { expect_400(address_, "/api/?results=0", "results=0"); }
TEST_F(api_test, results_99999_is_400) { expect_400(address_, "/api/?results=99999", "results=99999"); }
TEST_F(api_test, unknown_nat_is_400) { expect_400(address_, "/api/?nat=ZZ", "unknown nationality 'ZZ'"); }
TEST_F(api_test, xml_format_is_400) { expect_400(address_, "/api/?format=xml", "only json"); }

}  // namespace
}  // namespace millrace::source
