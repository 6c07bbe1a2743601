#include "job_files.h"

#include <fstream>

#include <gtest/gtest.h>

#include "harness/process.h"

namespace millrace::processor {
namespace {

void write(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
}

TEST(job_files_test, lists_only_sql_files) {
    millrace::testing::temp_dir dir;
    write(dir.path() + "/a.sql", "SELECT 1;");
    write(dir.path() + "/b.SQL.bak", "x");
    write(dir.path() + "/notes.txt", "x");
    auto seen = scan_job_files(dir.path());
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen.begin()->first, dir.path() + "/a.sql");
}

TEST(job_files_test, a_missing_folder_holds_no_jobs) { EXPECT_TRUE(scan_job_files("/nonexistent/millrace/jobs").empty()); }

TEST(job_files_test, a_rewrite_changes_the_stamp) {
    millrace::testing::temp_dir dir;
    const std::string path = dir.path() + "/a.sql";
    write(path, "one");
    auto before = scan_job_files(dir.path()).at(path);
    write(path, "one two");
    EXPECT_NE(scan_job_files(dir.path()).at(path), before);
}

TEST(job_files_test, the_job_name_is_the_file_name_without_sql) {
    EXPECT_EQ(job_name_of("jobs/created_users.sql"), "created_users");
    EXPECT_EQ(job_name_of("x.sql"), "x");
    EXPECT_EQ(job_name_of("/a/b/c"), "c");
}

TEST(job_files_test, reading_a_missing_file_names_it) {
    auto r = read_job_file("/nonexistent/j.sql");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message().find("/nonexistent/j.sql"), std::string::npos);
}

TEST(job_files_test, the_builtin_job_is_the_default_pipelines_file) {
    std::ifstream in(millrace::testing::source_dir() + "/jobs/created_users.sql");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(builtin_default_job(), text);
}

}  // namespace
}  // namespace millrace::processor
