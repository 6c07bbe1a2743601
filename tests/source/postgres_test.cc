// The managed PostgreSQL is safe by default (issue 19): SCRAM passwords over
// TCP, nothing passwordless, the password file 0600, `--print-dsn`, logical
// replication with the password, and clusters made with trust migrated.
#include "millrace/source/postgres.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/process.h"
#include "millrace/common/services.h"
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
    // Only the managed server's host and port get the password (issue 19).
    const std::string prefix = fmt::format("127.0.0.1:{}:*:postgres:", server_->port());
    EXPECT_EQ(line.rfind(prefix, 0), 0u) << line;
    EXPECT_EQ(line.size(), prefix.size() + 32 + 1) << line;
    const std::string password = line.substr(prefix.size(), 32);
    std::string hba = read(options_.data_dir + "/pg_hba.conf");
    EXPECT_NE(hba.find("scram-sha-256"), std::string::npos) << hba;
    for (std::istringstream lines(hba); std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        EXPECT_EQ(line.find("trust"), std::string::npos) << line;
        EXPECT_EQ(line.find(" password"), std::string::npos) << line;
    }
    EXPECT_EQ(server_->dsn().find(password), std::string::npos)
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

    // Nothing may get in without a password while the server starts: the
    // migration happens before it listens (single-user mode).
    std::atomic<bool> starting{true};
    std::atomic<int> passwordless_ok{0};
    const std::string probe = bare_dsn() + " connect_timeout=1";
    std::thread prober([&] {
        while (starting) {
            PGconn* c = PQconnectdb(probe.c_str());
            if (PQstatus(c) == CONNECTION_OK) ++passwordless_ok;
            PQfinish(c);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    });
    server_ = std::make_unique<postgres_server>(options_);
    auto st = server_->start();
    starting = false;
    prober.join();
    ASSERT_TRUE(st.ok()) << st.err().message();
    EXPECT_EQ(passwordless_ok.load(), 0) << "a passwordless connection got in during the migration";
    struct stat file {};
    ASSERT_EQ(::stat(server_->passfile().c_str(), &file), 0);
    EXPECT_EQ(file.st_mode & 0777, 0600u);
    EXPECT_EQ(read(hba).find(" trust"), std::string::npos) << read(hba);
    EXPECT_TRUE(can_connect(dsn())) << last_error_;
    EXPECT_FALSE(can_connect(bare_dsn())) << "passwordless TCP accepted after the migration";
}

TEST_F(postgres_test, a_symlink_at_the_password_file_is_replaced_not_followed) {
    stop_postgres();
    const std::string outside = dir_ + "/outside";
    std::ofstream(outside) << "precious\n";
    ::chmod(outside.c_str(), 0644);
    std::filesystem::remove(server_->passfile());
    std::filesystem::create_symlink(outside, server_->passfile());
    // The symlink's target has no password: the start has to write one and set it, never touching `outside`.
    server_ = std::make_unique<postgres_server>(options_);
    auto st = server_->start();
    ASSERT_TRUE(st.ok()) << st.err().message();
    EXPECT_EQ(read(outside), "precious\n");
    struct stat file {};
    ASSERT_EQ(::lstat(server_->passfile().c_str(), &file), 0);
    EXPECT_TRUE(S_ISREG(file.st_mode));
    EXPECT_EQ(file.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(outside.c_str(), &file), 0);
    EXPECT_EQ(file.st_mode & 0777, 0644u);
    EXPECT_EQ(file.st_uid, ::geteuid());
    EXPECT_TRUE(can_connect(dsn())) << last_error_;
}

TEST_F(postgres_test, a_password_file_written_before_initdb_is_the_clusters_password) {
    // As left by a crash after the password file was written, before initdb finished.
    postgres_options fresh = options_;
    fresh.data_dir = dir_ + "/fresh dir";  // a space: the DSN quotes passfile
    fresh.port = 0;
    std::filesystem::create_directories(fresh.data_dir);
    ::chmod(fresh.data_dir.c_str(), 0700);
    const std::string known = "Known0Password0For0The0Test00000";
    {
        std::ofstream pass(fresh.data_dir + "/millrace.pgpass");
        pass << "127.0.0.1:0:*:postgres:" << known << "\n";
    }
    ::chmod((fresh.data_dir + "/millrace.pgpass").c_str(), 0600);
    std::filesystem::create_directories(fresh.data_dir + "/.initdb/leftover");
    postgres_server other(fresh);
    auto st = other.start();
    ASSERT_TRUE(st.ok()) << st.err().message();
    EXPECT_FALSE(std::filesystem::exists(fresh.data_dir + "/.initdb"));
    EXPECT_TRUE(can_connect(fmt::format("host=127.0.0.1 port={} user=postgres dbname=postgres passfile=/nonexistent "
                                        "password={}", other.port(), known)))
        << last_error_;
    EXPECT_EQ(read(fresh.data_dir + "/millrace.pgpass"),
              fmt::format("127.0.0.1:{}:*:postgres:{}\n", other.port(), known));
    // The password goes to that port only: a DSN naming another port does not get it.
    EXPECT_TRUE(can_connect(other.dsn())) << last_error_;
    EXPECT_FALSE(can_connect(fmt::format("host=localhost port={} user=postgres dbname=postgres passfile='{}'",
                                         other.port(), fresh.data_dir + "/millrace.pgpass")));
    EXPECT_TRUE(other.stop().ok());
}

TEST_F(postgres_test, a_server_left_by_a_dead_owner_is_taken_over_and_stopped_but_a_live_owners_is_left_alone) {
    // A live owner (the fixture's server_): another object uses the server and
    // leaves it running when it goes.
    {
        postgres_server user(options_);
        auto st = user.start();
        ASSERT_TRUE(st.ok()) << st.err().message();
        EXPECT_EQ(user.port(), server_->port());
    }
    EXPECT_TRUE(can_connect(dsn())) << "a non-owner stopped the owner's server: " << last_error_;

    // A dead owner: a child process starts a server and dies without stopping
    // it (as `kill -9` of millrace leaves it).
    postgres_options left = options_;
    left.data_dir = dir_ + "/left";
    left.port = 0;
    std::filesystem::create_directories(left.data_dir);
    ::chmod(left.data_dir.c_str(), 0700);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        postgres_server dying(left);
        ::_exit(dying.start().ok() ? 0 : 1);  // no destructor: the server stays up
    }
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "the child could not start PostgreSQL";
    postgres_server taker(left);
    auto st = taker.start();
    ASSERT_TRUE(st.ok()) << st.err().message();
    const std::string taken_dsn = taker.dsn();
    EXPECT_TRUE(can_connect(taken_dsn)) << last_error_;
    ASSERT_TRUE(taker.stop().ok());
    EXPECT_FALSE(can_connect(taken_dsn + " connect_timeout=2")) << "the server left running was not stopped";
}

TEST(postgres_conninfo, quoting_keeps_spaces_quotes_and_backslashes) {
    EXPECT_EQ(services::conninfo_quote("/a dir/it's\\x"), "'/a dir/it\\'s\\\\x'");
}

}  // namespace
}  // namespace millrace::source
