// `millrace jobs validate` and `millrace jobs explain` on the real binary.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "harness/process.h"

namespace millrace::testing {
namespace {

struct run_result {
    int exit_code;
    std::string out;
    std::string err;
};

run_result run(std::vector<std::string> args) {
    args.insert(args.begin(), millrace_binary());
    process p(args, {});
    auto code = p.wait(30s);
    EXPECT_TRUE(code.has_value()) << "millrace did not exit";
    return {code.value_or(-1), p.stdout_text(), p.stderr_text()};
}

class jobs_sql_test : public ::testing::Test {
protected:
    std::string write(const std::string& name, const std::string& text) {
        std::filesystem::create_directories(dir_);
        std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }
    std::string dir_ = std::filesystem::temp_directory_path().string() + "/millrace-jobs-sql-test-" + std::to_string(::getpid());
    void TearDown() override { std::filesystem::remove_all(dir_); }
};

const char* const k_good = R"(CREATE TABLE src (id STRING, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
WITH ('connector' = 'kafka', 'topic' = 'src', 'format' = 'json');
CREATE TABLE dst (id STRING, PRIMARY KEY (id) NOT ENFORCED)
WITH ('connector' = 'cassandra', 'keyspace' = 'ks', 'table' = 'dst');
INSERT INTO dst SELECT UPPER(id) FROM src WHERE id IS NOT NULL;
)";

TEST_F(jobs_sql_test, validate_good_files_exits_0_silently) {
    auto r = run({"jobs", "validate", write("a.sql", k_good), write("b.sql", k_good)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "");
}

TEST_F(jobs_sql_test, validate_prints_every_error_with_file_line_column_and_exits_2) {
    std::string bad = write("bad.sql", "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', 'format' = 'json');\n"
                                       "INSERT INTO t SELECT nope FROM t2;\n");
    std::string good = write("good.sql", k_good);
    auto r = run({"jobs", "validate", good, bad, dir_ + "/missing.sql"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(bad + ":1:14: table t (kafka) needs a 'topic' option"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(bad + ":2:32: FROM t2: no such table"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(dir_ + "/missing.sql:1:1: cannot read the file"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("good.sql"), std::string::npos) << r.err;
}

TEST_F(jobs_sql_test, explain_prints_the_plan) {
    auto r = run({"jobs", "explain", write("a.sql", k_good)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("read src (kafka topic 'src', format json)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("filter: id IS NOT NULL"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("project: id <- UPPER(id)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("sink dst: cassandra ks.dst, upsert on (id)"), std::string::npos) << r.out;
}

TEST_F(jobs_sql_test, explain_of_a_broken_file_exits_2) {
    auto r = run({"jobs", "explain", write("bad.sql", "SELECT 1;\n")});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("bad.sql:1:1: a bare SELECT is not supported"), std::string::npos) << r.err;
}

TEST_F(jobs_sql_test, usage_errors_exit_2) {
    EXPECT_EQ(run({"jobs", "validate"}).exit_code, 2);
    EXPECT_EQ(run({"jobs", "explain"}).exit_code, 2);
}

}  // namespace
}  // namespace millrace::testing
