#include "millrace/common/log.h"

#include <gtest/gtest.h>

namespace millrace::log {
namespace {

TEST(log_test, parses_levels_and_formats) {
    EXPECT_EQ(parse_level("warn").value(), level::warn);
    EXPECT_FALSE(parse_level("loud").ok());
    EXPECT_EQ(parse_format("json").value(), format::json);
    EXPECT_FALSE(parse_format("xml").ok());
}

TEST(log_test, json_lines_escape_and_name_component) {
    configure(level::info, format::json);
    ::testing::internal::CaptureStderr();
    logger("broker").info("quote \" and\nnewline");
    logger("broker").debug("hidden");
    std::string out = ::testing::internal::GetCapturedStderr();
    configure(level::info, format::text);
    EXPECT_NE(out.find(R"("level":"info","component":"broker","msg":"quote \" and\nnewline"})"), std::string::npos) << out;
    EXPECT_EQ(out.find("hidden"), std::string::npos);
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

}  // namespace
}  // namespace millrace::log
