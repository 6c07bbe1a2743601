#include <gtest/gtest.h>

#include "millrace/pg_client/connection.h"

namespace millrace::pg {
namespace {

TEST(quote_test, identifier_doubles_quotes) {
    EXPECT_EQ(quote_ident("users"), "\"users\"");
    EXPECT_EQ(quote_ident("my \"table\""), "\"my \"\"table\"\"\"");
    EXPECT_EQ(quote_ident(""), "\"\"");
    EXPECT_EQ(quote_qualified("public", "Users"), "\"public\".\"Users\"");
}

TEST(quote_test, literal_doubles_quotes_and_backslashes) {
    EXPECT_EQ(quote_literal("it's"), "'it''s'");
    EXPECT_EQ(quote_literal("a\\b"), "E'a\\\\b'");
    EXPECT_EQ(quote_literal(""), "''");
}

TEST(quote_test, retryable_sqlstates) {
    EXPECT_TRUE(retryable_sqlstate("08006"));   // connection failure
    EXPECT_TRUE(retryable_sqlstate("57P01"));   // admin shutdown
    EXPECT_TRUE(retryable_sqlstate("40001"));   // serialization failure
    EXPECT_TRUE(retryable_sqlstate("40P01"));   // deadlock
    EXPECT_TRUE(retryable_sqlstate("53300"));   // too many connections
    EXPECT_FALSE(retryable_sqlstate("42601"));  // syntax error
    EXPECT_FALSE(retryable_sqlstate("23505"));  // unique violation
    EXPECT_FALSE(retryable_sqlstate(""));
}

TEST(quote_test, one_line_joins_lines) {
    EXPECT_EQ(one_line("ERROR:  x\nDETAIL:  y\n"), "ERROR:  x DETAIL:  y");
    EXPECT_EQ(one_line("a\t\tb  "), "a b");
}

}  // namespace
}  // namespace millrace::pg
