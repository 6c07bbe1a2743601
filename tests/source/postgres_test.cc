// The managed PostgreSQL is safe by default (issue 19): SCRAM passwords over
// TCP, nothing passwordless, the password file 0600, `--print-dsn`, logical
// replication with the password, and clusters made with trust migrated.
#include "millrace/source/postgres.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>

#include "harness/process.h"
#include "pg_fixture.h"

namespace millrace::source {
namespace {

class postgres_test : public pg_fixture {
protected:
    // host/port/user/dbname without any password source (~/.pgpass, PGPASSWORD).
    std::string bare_dsn() const {
        return fmt::format("host=127.0.0.1 port={} user=postgres dbname=millrace_test connect_timeout=5 "
                           "passfile=/nonexistent",
                           server_->port());
    }
    std::string read(const std::string& path) {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    bool can_connect(const std::string& conninfo) {
        PGconn* conn = PQconnectdb(conninfo.c_str());
        bool ok = PQstatus(conn) == CONNECTION_OK;
        last_error_ = ok ? "" : PQerrorMessage(conn);
        PQfinish(conn);
        return ok;
    }
    std::string last_error_;
};

TEST_F(postgres_test, passwordless_tcp_connection_is_refused) {
    ::unsetenv("PGPASSWORD");
    EXPECT_FALSE(can_connect(bare_dsn()));
    EXPECT_NE(last_error_.find("password"), std::string::npos) << last_error_;
    EXPECT_FALSE(can_connect(bare_dsn() + " password=wrong"));
    EXPECT_NE(last_error_.find("password authentication failed"), std::string::npos) << last_error_;
    EXPECT_TRUE(can_connect(dsn())) << last_error_;
}

TEST_F(postgres_test, password_file_is_0600_pgpass_and_hba_has_no_trust) {
    struct stat st {};
    ASSERT_EQ(::stat(server_->passfile().c_str(), &st), 0) << server_->passfile();
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::string line = read(server_->passfile());
    EXPECT_EQ(line.rfind("*:*:*:postgres:", 0), 0u) << line;
    EXPECT_GE(line.size(), std::string("*:*:*:postgres:").size() + 32);
    std::string hba = read(options_.data_dir + "/pg_hba.conf");
    EXPECT_NE(hba.find("scram-sha-256"), std::string::npos) << hba;
    for (std::istringstream lines(hba); std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        EXPECT_EQ(line.find("trust"), std::string::npos) << line;
        EXPECT_EQ(line.find(" password"), std::string::npos) << line;
    }
    EXPECT_EQ(server_->dsn().find(read(server_->passfile()).substr(15, 32)), std::string::npos)
        << "the DSN names the password file, never the password";
}

TEST_F(postgres_test, logical_replication_connection_works_with_the_password) {
    PGconn* conn = PQconnectdb((dsn() + " replication=database").c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PGresult* res = PQexec(conn, "IDENTIFY_SYSTEM");
    EXPECT_EQ(PQresultStatus(res), PGRES_TUPLES_OK) << PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn);
    EXPECT_FALSE(can_connect(bare_dsn() + " replication=database"));
}

TEST_F(postgres_test, print_dsn_prints_a_working_dsn_with_the_password) {
    millrace::testing::process p({millrace::testing::millrace_binary(), "postgres", "--print-dsn", "--set",
                                  "postgres.data_dir=" + options_.data_dir, "--set",
                                  "postgres.port=" + std::to_string(server_->port())});
    ASSERT_EQ(p.wait(), 0) << p.stderr_text();
    std::string printed = p.stdout_text();
    while (!printed.empty() && printed.back() == '\n') printed.pop_back();
    EXPECT_NE(printed.find("password="), std::string::npos) << printed;
    EXPECT_NE(printed.find(fmt::format("port={}", server_->port())), std::string::npos) << printed;
    EXPECT_TRUE(can_connect(printed + " dbname=millrace_test passfile=/nonexistent")) << printed << ": " << last_error_;

    millrace::testing::process none({millrace::testing::millrace_binary(), "postgres", "--print-dsn", "--set",
                                     "postgres.data_dir=" + dir_ + "/nowhere"});
    EXPECT_EQ(none.wait(), 1);
    EXPECT_NE(none.stderr_text().find("no password file"), std::string::npos) << none.stderr_text();
}

TEST_F(postgres_test, a_trust_cluster_is_migrated_on_start) {
    // Make the cluster look like one initialised with --auth=trust by an older millrace.
    PGconn* conn = PQconnectdb(dsn().c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PQclear(PQexec(conn, "ALTER ROLE postgres PASSWORD NULL"));
    PQfinish(conn);
    stop_postgres();
    std::string hba = options_.data_dir + "/pg_hba.conf";
    std::ofstream(hba, std::ios::trunc) << "local all all trust\nhost all all 127.0.0.1/32 trust\n"
                                        << "host replication all 127.0.0.1/32 trust\n";
    std::filesystem::remove(server_->passfile());

    server_ = std::make_unique<postgres_server>(options_);
    auto st = server_->start();
    ASSERT_TRUE(st.ok()) << st.err().message();
    struct stat file {};
    ASSERT_EQ(::stat(server_->passfile().c_str(), &file), 0);
    EXPECT_EQ(file.st_mode & 0777, 0600u);
    EXPECT_EQ(read(hba).find(" trust"), std::string::npos) << read(hba);
    EXPECT_TRUE(can_connect(dsn())) << last_error_;
    // The reload is asynchronous in the postmaster: a passwordless connection is refused once it has applied.
    bool refused = false;
    for (int attempt = 0; attempt < 200 && !refused; ++attempt) {
        refused = !can_connect(bare_dsn());
        if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    EXPECT_TRUE(refused) << "passwordless TCP still accepted after the migration";
}

}  // namespace
}  // namespace millrace::source
