#include "dlq.h"

#include <gtest/gtest.h>

namespace millrace::processor {
namespace {

std::string header(const header_list& h, const std::string& name) {
    for (const auto& [k, v] : h) {
        if (k == name) return v;
    }
    return "<absent>";
}

TEST(dlq_test, headers_name_the_error_the_job_and_the_origin) {
    rejection why{"wrong_type", "gender", "field gender is a number, expected a string"};
    record_origin origin{"users_created", 3, 123456789012, 1700000000123};
    auto h = dlq_headers(why, origin, "millrace-job-created_users", "created_users");
    EXPECT_EQ(header(h, "error.code"), "wrong_type");
    EXPECT_EQ(header(h, "error.field"), "gender");
    EXPECT_EQ(header(h, "error.message"), "field gender is a number, expected a string");
    EXPECT_EQ(header(h, "source.topic"), "users_created");
    EXPECT_EQ(header(h, "source.partition"), "3");
    EXPECT_EQ(header(h, "source.offset"), "123456789012");
    EXPECT_EQ(header(h, "source.timestamp"), "1700000000123");
    EXPECT_EQ(header(h, "processor.group"), "millrace-job-created_users");
    EXPECT_EQ(header(h, "processor.job"), "created_users");
    EXPECT_EQ(h.front().first, "error.code");
}

TEST(dlq_test, error_without_a_field_has_no_field_header) {
    auto h = dlq_headers(rejection{"malformed_json", "", "value is not valid JSON"}, record_origin{"t", 0, 0, -1}, "g", "j");
    EXPECT_EQ(header(h, "error.field"), "<absent>");
    EXPECT_EQ(header(h, "error.code"), "malformed_json");
    EXPECT_EQ(header(h, "source.timestamp"), "-1");
}

}  // namespace
}  // namespace millrace::processor
