// The shell's statement splitter and cqlsh-style cell formatting.
#include <gtest/gtest.h>

#include "millrace/cql_client/shell.h"

namespace millrace::cql_client {
namespace {

std::vector<std::string> texts(std::string_view input, std::string& rest) {
    std::vector<std::string> out;
    for (const auto& s : split_statements(input, rest)) out.push_back(s.text);
    return out;
}

TEST(shell_unit_test, splits_at_semicolons_outside_quotes_and_comments) {
    std::string rest;
    auto got = texts("SELECT 'a;b' FROM t; -- c;\nINSERT INTO \"x;y\" (k) VALUES ($$p;q$$); /* ; */ SELECT 2;", rest);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], "SELECT 'a;b' FROM t");
    EXPECT_EQ(got[1], "INSERT INTO \"x;y\" (k) VALUES ($$p;q$$)");
    EXPECT_EQ(got[2], "SELECT 2");
    EXPECT_EQ(rest, "");
}

TEST(shell_unit_test, unterminated_statement_is_kept_for_more_input) {
    std::string rest;
    EXPECT_TRUE(texts("SELECT * FROM t\n  WHERE k = 'it''s", rest).empty());
    EXPECT_EQ(rest, "SELECT * FROM t\n  WHERE k = 'it''s");
    auto got = texts(rest + "';", rest);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], "SELECT * FROM t\n  WHERE k = 'it''s'");
}

TEST(shell_unit_test, exit_and_help_need_no_semicolon_and_lines_are_counted) {
    std::string rest;
    auto got = split_statements("HELP\n\nSELECT 1\n;\nexit\n", rest);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].text, "HELP");
    EXPECT_EQ(got[0].line, 1);
    EXPECT_EQ(got[1].text, "SELECT 1");
    EXPECT_EQ(got[1].line, 3);
    EXPECT_EQ(got[2].text, "exit");
    EXPECT_EQ(got[2].line, 5);
}

TEST(shell_unit_test, shell_commands_end_at_the_line_or_a_semicolon) {
    std::string rest;
    auto got = texts("PAGING 2\nSELECT a\nFROM t;\nDESCRIBE KEYSPACES; DESC TABLES\nTRACING ON\n", rest);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0], "PAGING 2");
    EXPECT_EQ(got[1], "SELECT a\nFROM t");
    EXPECT_EQ(got[2], "DESCRIBE KEYSPACES");
    EXPECT_EQ(got[3], "DESC TABLES");
    EXPECT_EQ(got[4], "TRACING ON");
    EXPECT_EQ(rest, "");
}

TEST(shell_unit_test, cells_as_cqlsh_shows_them) {
    EXPECT_EQ(format_cell(value::null()), "null");
    EXPECT_EQ(format_cell(value::text("it's")), "it's");
    EXPECT_EQ(format_cell(value::boolean(false)), "False");
    EXPECT_EQ(format_cell(value::bigint(-42)), "-42");
    EXPECT_EQ(format_cell(value::float64(0.1)), "0.1");
    EXPECT_EQ(format_cell(value::float32(1.0f / 3)), "0.33333");
    EXPECT_EQ(format_cell(value::timestamp(1704164645678)), "2024-01-02 03:04:05.678000+0000");
    EXPECT_EQ(format_cell(value::timestamp(-1)), "1969-12-31 23:59:59.999000+0000");
    EXPECT_EQ(format_cell(value::date(19724)), "2024-01-02");
    EXPECT_EQ(format_cell(value::time(3723000000001)), "01:02:03.000000001");
    EXPECT_EQ(format_cell(value::blob(std::string("\x01\xff", 2))), "0x01ff");
    EXPECT_EQ(format_cell(value::decimal(2, -12345)), "-123.45");
    EXPECT_EQ(format_cell(value::decimal(3, 5)), "0.005");
    EXPECT_EQ(format_cell(value::varint(-1000)), "-1000");
    EXPECT_EQ(format_cell(value::list({value::text("a"), value::text("o'k")})), "['a', 'o''k']");
    EXPECT_EQ(format_cell(value::map({{value::text("k"), value::int32(1)}})), "{'k': 1}");
    EXPECT_EQ(format_cell(value::set({value::timestamp(0)})), "{'1970-01-01 00:00:00.000000+0000'}");
}

TEST(shell_unit_test, table_pads_by_code_points) {
    rows page;
    page.columns = {{"ks", "t", "name", {}}, {"ks", "t", "n", {}}};
    page.data = {{value::text("żółw"), value::int32(5)}, {value::text("ab"), value::int32(123)}};
    EXPECT_EQ(format_table(page, true),
              " name | n\n"
              "------+-----\n"
              " żółw |   5\n"
              "   ab | 123\n");
    EXPECT_EQ(format_vertical(page, 1),
              "@ Row 1\n------+------\n name | żółw\n n    | 5\n\n@ Row 2\n------+------\n name | ab\n n    | 123\n\n");
}

}  // namespace
}  // namespace millrace::cql_client
