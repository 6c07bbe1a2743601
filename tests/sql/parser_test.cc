// Parser and lexer errors: each names the construct and its line:column.
#include <gtest/gtest.h>

#include "ast.h"
#include "millrace/sql/program.h"

namespace millrace::sql {
namespace {

// The first diagnostic of parsing `text`, as "line:column: message".
std::string first_error(const std::string& text) {
    std::vector<diagnostic> errors;
    ast::parse(text, "f.sql", errors);
    if (errors.empty()) return "";
    return std::to_string(errors[0].line) + ":" + std::to_string(errors[0].column) + ": " + errors[0].message;
}

class parser_test : public ::testing::Test {};

TEST_F(parser_test, comments_and_statements_parse) {
    std::vector<diagnostic> errors;
    auto s = ast::parse("-- a comment\nSET 'a' = 'b'; /* block\ncomment */ SET 'c' = 'd';", "f.sql", errors);
    EXPECT_TRUE(errors.empty());
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[1].set.key, "c");
    EXPECT_EQ(s[1].where.line, 3);
    EXPECT_EQ(s[1].where.column, 12);
}

TEST_F(parser_test, byte_order_mark_and_crlf_are_whitespace) {
    std::vector<diagnostic> errors;
    auto s = ast::parse("\xEF\xBB\xBFSET 'a' = 'b';\r\nSET 'c' = 'd';\r\n", "f.sql", errors);
    EXPECT_TRUE(errors.empty());
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[1].where.line, 2);
    EXPECT_EQ(s[1].where.column, 1);
}

TEST_F(parser_test, unterminated_string) { EXPECT_EQ(first_error("SET 'a = 'b';"), "1:12: unterminated string literal"); }
TEST_F(parser_test, unterminated_comment) { EXPECT_EQ(first_error("SET 'a' = 'b'; /* open"), "1:16: unterminated comment: '/*' without '*/'"); }
TEST_F(parser_test, unterminated_quoted_identifier) { EXPECT_EQ(first_error("CREATE TABLE `t (a INT)"), "1:14: unterminated quoted identifier"); }
TEST_F(parser_test, stray_character) { EXPECT_EQ(first_error("SET 'a' = 'b' ?;"), "1:15: unexpected character '?'"); }
TEST_F(parser_test, set_without_quotes) { EXPECT_EQ(first_error("SET a = 'b';"), "1:5: expected the option key as a quoted string (SET 'key' = 'value'), found 'a'"); }
TEST_F(parser_test, missing_semicolon) { EXPECT_EQ(first_error("SET 'a' = 'b'\nSET 'c' = 'd';"), "2:1: expected ';' after the SET statement, found 'SET'"); }
TEST_F(parser_test, not_a_statement) { EXPECT_EQ(first_error("42;"), "1:1: expected a statement (SET, CREATE TABLE, INSERT INTO, EXECUTE STATEMENT SET), found '42'"); }
TEST_F(parser_test, unsupported_statement) { EXPECT_EQ(first_error("ALTER TABLE t RENAME TO u;"), "1:1: ALTER statements are not supported (only SET, CREATE TABLE, INSERT INTO, EXECUTE STATEMENT SET)"); }
TEST_F(parser_test, create_function) { EXPECT_EQ(first_error("CREATE FUNCTION f AS 'x';"), "1:8: CREATE FUNCTION is not supported (only CREATE TABLE)"); }
TEST_F(parser_test, table_without_with) { EXPECT_EQ(first_error("CREATE TABLE t (a INT);"), "1:23: expected WITH ('connector' = ...) after table t, found ';'"); }
TEST_F(parser_test, partitioned_by) { EXPECT_EQ(first_error("CREATE TABLE t (a INT) PARTITIONED BY (a) WITH ();"), "1:24: PARTITIONED BY is not supported"); }
TEST_F(parser_test, option_value_not_string) { EXPECT_EQ(first_error("CREATE TABLE t (a INT) WITH ('k' = 1);"), "1:36: expected the option value (a quoted string), found '1'"); }
TEST_F(parser_test, unique_constraint) { EXPECT_EQ(first_error("CREATE TABLE t (a INT, UNIQUE (a)) WITH ();"), "1:24: UNIQUE constraints are not supported (only PRIMARY KEY ... NOT ENFORCED)"); }
TEST_F(parser_test, decimal_too_wide) { EXPECT_EQ(first_error("CREATE TABLE t (a DECIMAL(38, 2)) WITH ();"), "1:19: DECIMAL(38, 2): precision above 18 is not supported (decimals are 64-bit)"); }
TEST_F(parser_test, timestamp_with_time_zone) { EXPECT_EQ(first_error("CREATE TABLE t (a TIMESTAMP(3) WITH TIME ZONE) WITH ();"), "1:37: TIMESTAMP WITH TIME ZONE is not supported (use TIMESTAMP_LTZ or TIMESTAMP WITH LOCAL TIME ZONE)"); }
TEST_F(parser_test, multiset_type) { EXPECT_EQ(first_error("CREATE TABLE t (a MULTISET<INT>) WITH ();"), "1:19: type MULTISET is not supported"); }
TEST_F(parser_test, insert_overwrite) { EXPECT_EQ(first_error("INSERT OVERWRITE t SELECT a FROM s;"), "1:8: INSERT OVERWRITE is not supported (use INSERT INTO)"); }
TEST_F(parser_test, insert_values) { EXPECT_EQ(first_error("INSERT INTO t VALUES (1);"), "1:15: INSERT ... VALUES is not supported (a job inserts from a SELECT over a source table)"); }
TEST_F(parser_test, select_distinct) { EXPECT_EQ(first_error("INSERT INTO t SELECT DISTINCT a FROM s;"), "1:22: SELECT DISTINCT is not supported"); }
TEST_F(parser_test, having) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM s GROUP BY a HAVING a > 1;"), "1:42: HAVING is not supported"); }
TEST_F(parser_test, union_all) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM s UNION ALL SELECT a FROM u;"), "1:31: UNION is not supported"); }
TEST_F(parser_test, limit) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM s LIMIT 1;"), "1:31: LIMIT is not supported in a streaming INSERT"); }
TEST_F(parser_test, subquery_in_from) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM (SELECT a FROM s);"), "1:29: subqueries in FROM are not supported (read a table directly)"); }
TEST_F(parser_test, in_subquery) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM s WHERE a IN (SELECT b FROM u);"), "1:43: IN (SELECT ...) subqueries are not supported"); }
TEST_F(parser_test, temporal_join) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM s FOR SYSTEM_TIME AS OF x;"), "1:31: FOR SYSTEM_TIME AS OF (temporal joins) is not supported"); }
TEST_F(parser_test, unknown_table_function) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM TABLE(FOO(TABLE s));"), "1:35: table function FOO is not supported (TUMBLE, HOP, CUMULATE are)"); }
TEST_F(parser_test, named_window_arguments) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM TABLE(TUMBLE(DATA => TABLE s));"), "1:42: named arguments (DATA =>) are not supported; pass TABLE t, DESCRIPTOR(col), intervals in order"); }
TEST_F(parser_test, missing_descriptor) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM TABLE(TUMBLE(TABLE s, ts, INTERVAL '1' MINUTE));"), "1:51: expected DESCRIPTOR as the second argument (DESCRIPTOR(time column)), found 'ts'"); }
TEST_F(parser_test, interval_unit) { EXPECT_EQ(first_error("INSERT INTO t SELECT INTERVAL '1' FORTNIGHT FROM s;"), "1:35: interval unit FORTNIGHT is not supported (MILLISECOND, SECOND, MINUTE, HOUR, DAY, MONTH, YEAR)"); }
TEST_F(parser_test, interval_amount) { EXPECT_EQ(first_error("INSERT INTO t SELECT INTERVAL 'x' SECOND FROM s;"), "1:31: interval amount 'x' is not a number"); }
TEST_F(parser_test, compound_interval) { EXPECT_EQ(first_error("INSERT INTO t SELECT INTERVAL '1' DAY TO SECOND FROM s;"), "1:39: compound intervals (DAY TO SECOND) are not supported; write one unit"); }
TEST_F(parser_test, bad_date_literal) { EXPECT_EQ(first_error("INSERT INTO t SELECT DATE '2024-02-30' FROM s;"), "1:27: '2024-02-30' is not a DATE (yyyy-MM-dd)"); }
TEST_F(parser_test, bigint_literal_overflow) { EXPECT_EQ(first_error("INSERT INTO t SELECT 99999999999999999999 FROM s;"), "1:22: integer literal 99999999999999999999 is out of the BIGINT range"); }
TEST_F(parser_test, case_without_when) { EXPECT_EQ(first_error("INSERT INTO t SELECT CASE END FROM s;"), "1:27: expected an expression, found 'END'"); }
TEST_F(parser_test, is_what) { EXPECT_EQ(first_error("INSERT INTO t SELECT a IS 1 FROM s;"), "1:27: expected NULL, TRUE, FALSE or DISTINCT FROM after IS, found '1'"); }
TEST_F(parser_test, similar_to) { EXPECT_EQ(first_error("INSERT INTO t SELECT a SIMILAR TO 'x' FROM s;"), "1:24: SIMILAR TO is not supported (use LIKE or REGEXP)"); }
TEST_F(parser_test, nested_field_access) { EXPECT_EQ(first_error("INSERT INTO t SELECT s.a.b FROM s;"), "1:25: nested field access (a.b.c) is not supported"); }
TEST_F(parser_test, element_access) { EXPECT_EQ(first_error("INSERT INTO t SELECT a[1] FROM s;"), "1:23: element access with [...] is not supported"); }
TEST_F(parser_test, json_value_on_error) { EXPECT_EQ(first_error("INSERT INTO t SELECT JSON_VALUE(a, '$.x' NULL ON ERROR) FROM s;"), "1:42: JSON_VALUE ON EMPTY / ON ERROR clauses are not supported (NULL is returned)"); }
TEST_F(parser_test, aggregate_filter) { EXPECT_EQ(first_error("INSERT INTO t SELECT COUNT(*) FILTER (WHERE a) FROM s;"), "1:31: aggregate FILTER clauses are not supported"); }
TEST_F(parser_test, array_constructor) { EXPECT_EQ(first_error("INSERT INTO t SELECT ARRAY[1] FROM s;"), "1:22: ARRAY constructors are not supported"); }
TEST_F(parser_test, empty_statement_set) { EXPECT_EQ(first_error("EXECUTE STATEMENT SET BEGIN END;"), "1:1: an empty statement set (no INSERT between BEGIN and END)"); }
TEST_F(parser_test, statement_set_without_end) { EXPECT_EQ(first_error("EXECUTE STATEMENT SET BEGIN INSERT INTO t SELECT a FROM s;"), "1:59: statement set without END"); }
TEST_F(parser_test, match_recognize) { EXPECT_EQ(first_error("INSERT INTO t SELECT a FROM s MATCH_RECOGNIZE (x);"), "1:31: MATCH_RECOGNIZE is not supported"); }
TEST_F(parser_test, execute_other) { EXPECT_EQ(first_error("EXECUTE INSERT INTO t SELECT a FROM s;"), "1:9: EXECUTE INSERT is not supported (only EXECUTE STATEMENT SET)"); }

TEST_F(parser_test, errors_in_several_statements_are_all_reported) {
    std::vector<diagnostic> errors;
    ast::parse("SET a = 'b';\nSET 'ok' = 'x';\nDROP TABLE t;\nINSERT INTO t SELECT FROM s;\n", "f.sql", errors);
    ASSERT_EQ(errors.size(), 3u);
    EXPECT_EQ(errors[0].line, 1);
    EXPECT_EQ(errors[1].line, 3);
    EXPECT_EQ(errors[2].to_string(), "f.sql:4:22: expected an expression, found 'FROM'");
}

TEST_F(parser_test, compile_job_reports_parse_and_bind_errors_sorted) {
    auto c = compile_job("CREATE TABLE t (a INT) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json');\n"
                         "INSERT INTO t SELECT b FROM t;\nSET x = 'y';\n", "job.sql");
    auto* errors = std::get_if<std::vector<diagnostic>>(&c);
    ASSERT_NE(errors, nullptr);
    ASSERT_EQ(errors->size(), 2u);
    EXPECT_EQ((*errors)[0].to_string(), "job.sql:2:1: INSERT INTO t reads the same table it writes");
    EXPECT_EQ((*errors)[1].line, 3);
}

}  // namespace
}  // namespace millrace::sql
