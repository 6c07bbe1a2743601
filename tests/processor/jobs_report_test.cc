#include "jobs_report.h"

#include <gtest/gtest.h>

namespace millrace::processor {
namespace {

job_report sample() {
    job_report r;
    r.status.name = "created_users";
    r.status.file = "jobs/created_users.sql";
    r.status.state = "running";
    r.status.group = "millrace-job-created_users";
    r.status.sources = {"users_created"};
    r.status.records_in_per_second = 1234;
    r.status.lag = 7;
    r.sql = "SELECT \"x\";\n";
    return r;
}

TEST(jobs_report_test, json_escapes_the_sql_and_lists_every_field) {
    auto json = render_jobs_json({sample()});
    EXPECT_NE(json.find("\"name\":\"created_users\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"sql\":\"SELECT \\\"x\\\";\\n\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"lag\":7"), std::string::npos) << json;
    EXPECT_NE(json.find("\"sources\":[\"users_created\"]"), std::string::npos) << json;
    EXPECT_EQ(json.front(), '{');
    EXPECT_EQ(json.back(), '}');
}

TEST(jobs_report_test, the_table_shows_the_first_line_of_the_last_error) {
    auto broken = sample();
    broken.status.name = "broken";
    broken.status.state = "error";
    broken.status.last_error = "jobs/broken.sql:3:7: unknown column naem\njobs/broken.sql:5:1: second";
    auto table = render_jobs_table({sample(), broken});
    EXPECT_NE(table.find("created_users"), std::string::npos);
    EXPECT_NE(table.find("jobs/broken.sql:3:7: unknown column naem"), std::string::npos) << table;
    EXPECT_EQ(table.find("second"), std::string::npos) << table;
}

TEST(jobs_report_test, no_jobs_says_so) { EXPECT_NE(render_jobs_table({}).find("no jobs"), std::string::npos); }

}  // namespace
}  // namespace millrace::processor
