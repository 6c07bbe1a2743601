// `millrace cql shell` against a real `millrace cql`: the binary run as a user
// runs it (host and port arguments, -e, -f, -u/-p, stdin), its output compared
// with cqlsh's table format, paging, DESCRIBE, TRACING and the error paths.
// The statement splitter and the cell formatter have unit tests of their own
// (shell_unit_test.cc).
#include <csignal>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/process.h"

namespace millrace::cql_client {
namespace {

using namespace std::chrono_literals;
using testing::process;
using testing::start_server;
using testing::temp_dir;

struct shell_result {
    int code = -1;
    std::string out;
    std::string err;
};

class shell_test : public ::testing::Test {
protected:
    void SetUp() override { start({}); }
    void TearDown() override {
        if (server_.proc) {
            EXPECT_EQ(server_.proc->stop(SIGTERM), 0) << server_.proc->stderr_text();
        }
    }
    void start(std::vector<std::string> extra) {
        server_ = start_server("cql", dir_.file("data"), std::move(extra));
        ASSERT_TRUE(server_.proc);
        host_ = server_.address.substr(0, server_.address.rfind(':'));
        port_ = server_.address.substr(server_.address.rfind(':') + 1);
    }

    shell_result shell(std::vector<std::string> args, bool with_address = true) {
        std::vector<std::string> argv = {testing::millrace_binary(), "cql", "shell"};
        if (with_address) argv.insert(argv.end(), {host_, port_});
        argv.insert(argv.end(), args.begin(), args.end());
        process p(argv);
        shell_result r;
        auto code = p.wait(60s);
        EXPECT_TRUE(code) << "the shell did not exit";
        r.code = code.value_or(-1);
        r.out = p.stdout_text();
        r.err = p.stderr_text();
        return r;
    }

    void create_users(int count) {
        std::string cql =
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};"
            "CREATE TABLE ks.users (id int PRIMARY KEY, name text, tags list<text>, seen timestamp, ok boolean);";
        for (int idx = 1; idx <= count; ++idx) cql += fmt::format("INSERT INTO ks.users (id, name) VALUES ({}, 'u{}');", idx, idx);
        auto r = shell({"-e", cql});
        ASSERT_EQ(r.code, 0) << r.err;
    }

    temp_dir dir_;
    testing::server server_;
    std::string host_, port_;
};

TEST_F(shell_test, execute_prints_cqlsh_table_format) {
    create_users(0);
    auto r = shell({"-e",
                    "INSERT INTO ks.users (id, name, tags, seen, ok) VALUES (7, 'alice', ['a', 'b'], "
                    "'2024-01-02 03:04:05.678+0000', true); INSERT INTO ks.users (id, name) VALUES (12, 'bob');"
                    "SELECT id, name, tags, seen, ok FROM ks.users WHERE id IN (7, 12)"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out,
              "\n"
              " id | name  | tags       | seen                            | ok\n"
              "----+-------+------------+---------------------------------+------\n"
              "  7 | alice | ['a', 'b'] | 2024-01-02 03:04:05.678000+0000 | True\n"
              " 12 |   bob |       null |                            null | null\n"
              "\n"
              "(2 rows)\n");
    EXPECT_EQ(r.err, "");
}

TEST_F(shell_test, count_and_empty_result) {
    create_users(3);
    auto r = shell({"-e", "SELECT count(*) FROM ks.users; SELECT * FROM ks.users WHERE id = 99"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out,
              "\n count\n-------\n     3\n\n(1 rows)\n"
              "\n id | name | ok | seen | tags\n----+------+----+------+------\n\n(0 rows)\n");
}

TEST_F(shell_test, paging_reads_every_page_with_one_header) {
    create_users(7);
    auto r = shell({"-e", "PAGING 3; SELECT id FROM ks.users"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Page size: 3\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(7 rows)\n"), std::string::npos) << r.out;
    size_t headers = 0;
    for (size_t pos = r.out.find(" id\n"); pos != std::string::npos; pos = r.out.find(" id\n", pos + 1)) ++headers;
    EXPECT_EQ(headers, 1u) << r.out;
    for (int idx = 1; idx <= 7; ++idx) EXPECT_NE(r.out.find(fmt::format("  {}\n", idx)), std::string::npos) << idx;
}

TEST_F(shell_test, file_runs_statements_and_names_the_failing_line) {
    create_users(2);
    std::string path = dir_.file("script.cql");
    std::ofstream(path) << "-- a comment; not a statement\n"
                           "USE ks;\n"
                           "SELECT count(*)\n  FROM users;\n"
                           "SELECT * FROM no_such_table;\n"
                           "/* the next one still runs */ SELECT name FROM users WHERE id = 2;\n";
    auto r = shell({"-f", path});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find(" count\n-------\n     2\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" name\n------\n   u2\n"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find(path + ":5:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("no_such_table"), std::string::npos) << r.err;
}

TEST_F(shell_test, statements_from_standard_input) {
    create_users(1);
    std::string path = dir_.file("stdin.cql");
    std::ofstream(path) << "SELECT name FROM ks.users;\nEXIT\nSELECT never FROM ks.users;\n";
    process p({"/bin/sh", "-c", testing::millrace_binary() + " cql shell " + host_ + " " + port_ + " < " + path});
    ASSERT_EQ(p.wait(60s), 0) << p.stderr_text();
    EXPECT_EQ(p.stdout_text(), "\n name\n------\n   u1\n\n(1 rows)\n");
}

TEST_F(shell_test, describe_keyspaces_tables_and_table) {
    create_users(0);
    auto r = shell({"-e", "DESCRIBE KEYSPACES; DESC TABLES; DESCRIBE TABLE ks.users"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("ks  system"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Keyspace ks\n-----------\nusers\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("CREATE TABLE ks.users (\n    id int PRIMARY KEY,"), std::string::npos) << r.out;
    auto missing = shell({"-e", "DESCRIBE TABLE ks.nothing"});
    EXPECT_EQ(missing.code, 1);
    EXPECT_NE(missing.err.find("nothing"), std::string::npos) << missing.err;
}

TEST_F(shell_test, tracing_prints_each_statements_trace_as_cqlsh) {
    create_users(1);
    auto r = shell({"-e", "TRACING; TRACING ON; SELECT name FROM ks.users; TRACING OFF; SELECT name FROM ks.users"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("TRACING is OFF\nTRACING set to ON\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Tracing session: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Execute CQL3 query"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Parsing SELECT name FROM ks.users [Native-Transport-Requests-1]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Request complete"), std::string::npos) << r.out;
    // One trace: the statement after TRACING OFF is not traced.
    auto first = r.out.find("Tracing session: ");
    EXPECT_EQ(r.out.find("Tracing session: ", first + 1), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("TRACING set to OFF"), std::string::npos) << r.out;
    auto bad = shell({"-e", "TRACING MAYBE"});
    EXPECT_NE(bad.code, 0);
}

TEST_F(shell_test, keyspace_option_and_use) {
    create_users(1);
    auto r = shell({"-k", "ks", "-e", "SELECT name FROM users"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("   u1\n"), std::string::npos) << r.out;
    auto bad = shell({"-k", "nope", "-e", "SELECT 1"});
    EXPECT_EQ(bad.code, 2);
    EXPECT_NE(bad.err.find("nope"), std::string::npos) << bad.err;
}

TEST_F(shell_test, credentials_when_the_server_asks) {
    server_.proc->stop(SIGTERM);
    server_.proc.reset();
    start({"--authenticator", "password", "--username", "admin", "--password", "s3cret"});
    auto ok = shell({"-u", "admin", "-p", "s3cret", "-e",
                     "SELECT count(*) FROM system_schema.keyspaces WHERE keyspace_name IN ('system', 'system_schema')"});
    EXPECT_EQ(ok.code, 0) << ok.err;
    EXPECT_NE(ok.out.find(" count\n-------\n     2\n"), std::string::npos) << ok.out;
    auto refused = shell({"-u", "admin", "-p", "wrong", "-e", "SELECT count(*) FROM system_schema.keyspaces"});
    EXPECT_EQ(refused.code, 2);
    EXPECT_NE(refused.err.find("Connection error"), std::string::npos) << refused.err;
}

TEST_F(shell_test, no_server_and_bad_usage) {
    std::string port = port_;
    server_.proc->stop(SIGTERM);
    server_.proc.reset();
    auto down = shell({"-e", "SELECT 1"});
    EXPECT_EQ(down.code, 2);
    EXPECT_NE(down.err.find("Connection error"), std::string::npos) << down.err;
    EXPECT_NE(down.err.find(port), std::string::npos) << down.err;
    EXPECT_EQ(shell({"--bogus"}, false).code, 2);
    EXPECT_EQ(shell({"127.0.0.1", "99999", "-e", "x"}, false).code, 2);
    EXPECT_EQ(shell({"-e", "a", "-f", "b"}, false).code, 2);
}

}  // namespace
}  // namespace millrace::cql_client
