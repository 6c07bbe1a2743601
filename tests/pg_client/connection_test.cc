// millrace_pg_client against a real PostgreSQL: parameters, typed errors with
// SQLSTATE, COPY in and out, reconnecting after the server restarted.
#include <gtest/gtest.h>

#include "millrace/pg_client/connection.h"
#include "../source/pg_fixture.h"

namespace millrace::pg {
namespace {

class connection_test : public source::pg_fixture {
protected:
    connection open() {
        connection c(connect_options{.dsn = dsn(), .application_name = "millrace-test", .connect_timeout = std::chrono::seconds(10)});
        auto st = c.connect();
        EXPECT_TRUE(st) << st.err().message();
        return c;
    }
};

TEST_F(connection_test, parameters_are_values_never_sql) {
    auto c = open();
    ASSERT_TRUE(c.run("CREATE TABLE t (id int PRIMARY KEY, name text)"));
    std::string hostile = "x'); DROP TABLE t; --";
    auto ins = c.exec("INSERT INTO t VALUES ($1, $2), ($3, $4)", {1, hostile, 2, std::nullopt});
    ASSERT_TRUE(ins) << ins.err().message();
    EXPECT_EQ(ins->affected(), 2);
    EXPECT_EQ(ins->command_status(), "INSERT 0 2");
    auto got = c.exec("SELECT id, name FROM t ORDER BY id");
    ASSERT_TRUE(got) << got.err().message();
    ASSERT_EQ(got->size(), 2);
    EXPECT_EQ(got->integer(0, 0), 1);
    EXPECT_EQ(got->text(0, 1), hostile);
    EXPECT_TRUE(got->is_null(1, 1));
    EXPECT_EQ(got->column_name(1), "name");
    EXPECT_EQ(got->column_type(0), 23u);  // int4
}

TEST_F(connection_test, quoted_identifier_names_any_table) {
    auto c = open();
    std::string name = "odd \"name\"";
    ASSERT_TRUE(c.run("CREATE TABLE " + quote_ident(name) + " (v text)"));
    auto got = c.exec("SELECT count(*) FROM " + quote_qualified("public", name));
    ASSERT_TRUE(got) << got.err().message();
    EXPECT_EQ(got->integer(0, 0), 0);
}

TEST_F(connection_test, rejected_statement_names_it_with_sqlstate_not_retryable) {
    auto c = open();
    ASSERT_TRUE(c.run("CREATE TABLE t (id int PRIMARY KEY)"));
    ASSERT_TRUE(c.run("INSERT INTO t VALUES (1)"));
    auto dup = c.run("INSERT INTO t VALUES ($1)", {1});
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.err().code(), errc::io_error);
    EXPECT_EQ(c.last_sqlstate(), "23505");
    EXPECT_NE(dup.err().message().find("INSERT INTO t VALUES ($1)"), std::string::npos) << dup.err().message();
    EXPECT_NE(dup.err().message().find("SQLSTATE 23505"), std::string::npos) << dup.err().message();
    auto syntax = c.run("SELEC 1");
    ASSERT_FALSE(syntax);
    EXPECT_EQ(c.last_sqlstate(), "42601");
    EXPECT_TRUE(c.alive());
    ASSERT_TRUE(c.run("SELECT 1"));
    EXPECT_EQ(c.last_sqlstate(), "");
}

TEST_F(connection_test, transaction_state_and_rollback) {
    auto c = open();
    ASSERT_TRUE(c.run("CREATE TABLE t (id int)"));
    ASSERT_TRUE(c.run("BEGIN"));
    EXPECT_TRUE(c.in_transaction());
    ASSERT_TRUE(c.run("INSERT INTO t VALUES (1)"));
    c.rollback();
    EXPECT_FALSE(c.in_transaction());
    auto got = c.exec("SELECT count(*) FROM t");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->integer(0, 0), 0);
}

TEST_F(connection_test, copy_in_and_out) {
    auto c = open();
    ASSERT_TRUE(c.run("CREATE TABLE t (id int, name text)"));
    auto copied = c.copy_in("COPY t (id, name) FROM STDIN", "1\tone\n2\t\\N\n3\ttab\\there\n");
    ASSERT_TRUE(copied) << copied.err().message();
    EXPECT_EQ(*copied, 3);
    auto out = c.copy_out("COPY (SELECT * FROM t ORDER BY id) TO STDOUT");
    ASSERT_TRUE(out) << out.err().message();
    EXPECT_EQ(*out, "1\tone\n2\t\\N\n3\ttab\\there\n");
    auto bad = c.copy_in("COPY t (id, name) FROM STDIN", "not-a-number\tx\n");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.err().code(), errc::io_error);
    EXPECT_EQ(c.last_sqlstate(), "22P02");
    ASSERT_TRUE(c.run("SELECT 1")) << "the session stays usable after a rejected COPY";
}

TEST_F(connection_test, lost_connection_is_retryable_and_ensure_reconnects) {
    auto c = open();
    stop_postgres();
    auto lost = c.run("SELECT 1");
    ASSERT_FALSE(lost);
    EXPECT_EQ(lost.err().code(), errc::unavailable);
    EXPECT_TRUE(lost.err().retryable());
    EXPECT_NE(lost.err().message().find("PostgreSQL unavailable"), std::string::npos) << lost.err().message();
    EXPECT_FALSE(c.alive());
    auto refused = c.ensure();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.err().code(), errc::unavailable);
    start_postgres();
    auto st = c.ensure();
    ASSERT_TRUE(st) << st.err().message();
    ASSERT_TRUE(c.run("SELECT 1"));
}

TEST_F(connection_test, connect_error_names_purpose) {
    connection c(connect_options{.dsn = dsn() + " dbname=no_such_db", .purpose = "for migrations"});
    auto st = c.connect();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.err().code(), errc::unavailable);
    EXPECT_NE(st.err().message().find("PostgreSQL unavailable for migrations: "), std::string::npos) << st.err().message();
    EXPECT_NE(st.err().message().find("no_such_db"), std::string::npos) << st.err().message();
}

TEST_F(connection_test, application_name_and_options_override_the_dsn) {
    connection c(connect_options{.dsn = dsn(), .application_name = "millrace-x", .options = "-c timezone=UTC"});
    ASSERT_TRUE(c.connect());
    auto got = c.exec("SELECT current_setting('application_name'), current_setting('TimeZone')");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->text(0, 0), "millrace-x");
    EXPECT_EQ(got->text(0, 1), "UTC");
}

TEST_F(connection_test, scram_verifier_is_computed_locally) {
    auto c = open();
    auto v = c.encrypt_password("secret", "someone");
    ASSERT_TRUE(v) << v.err().message();
    EXPECT_TRUE(v->starts_with("SCRAM-SHA-256$")) << *v;
}

}  // namespace
}  // namespace millrace::pg
