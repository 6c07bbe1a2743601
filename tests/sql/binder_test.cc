// Binder errors: each names the column or expression and both types.
#include <gtest/gtest.h>

#include "millrace/sql/program.h"

namespace millrace::sql {
namespace {

const char* const k_tables =
    "CREATE TABLE src (id STRING, n INT, d DOUBLE, ts TIMESTAMP(3), ok BOOLEAN, WATERMARK FOR ts AS ts)\n"
    "WITH ('connector' = 'kafka', 'topic' = 'src', 'format' = 'json');\n"
    "CREATE TABLE dst (a STRING, b INT) WITH ('connector' = 'kafka', 'topic' = 'dst', 'format' = 'json');\n";

// The errors of compiling the tables plus `insert` (line 4), as "line:column: message".
std::vector<std::string> errors_of(const std::string& insert) {
    auto c = compile_job(std::string(k_tables) + insert, "job.sql");
    std::vector<std::string> out;
    if (auto* errors = std::get_if<std::vector<diagnostic>>(&c)) {
        for (const auto& d : *errors) out.push_back(std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message);
    }
    return out;
}

class binder_test : public ::testing::Test {};

TEST_F(binder_test, valid_insert_binds) { EXPECT_TRUE(errors_of("INSERT INTO dst SELECT id, n + 1 FROM src;").empty()); }

TEST_F(binder_test, comparison_of_incompatible_types_names_both) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT id, n FROM src WHERE ok = ts;"),
              std::vector<std::string>{"4:48: WHERE: cannot compare ok (BOOLEAN) with ts (TIMESTAMP(3))"});
}

TEST_F(binder_test, arithmetic_on_a_string_names_the_column) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT id, id * 2 FROM src;"),
              std::vector<std::string>{"4:31: cannot multiply id (STRING) and 2 (INT)"});
}

TEST_F(binder_test, sink_column_type_mismatch_names_column_and_both_types) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT n, n FROM src;"),
              std::vector<std::string>{"4:24: INSERT INTO dst: column a is STRING, the query gives n (INT); CAST it"});
}

TEST_F(binder_test, narrowing_into_the_sink_needs_a_cast) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT id, d FROM src;"),
              std::vector<std::string>{"4:28: INSERT INTO dst: column b is INT, the query gives d (DOUBLE); CAST it"});
    EXPECT_TRUE(errors_of("INSERT INTO dst SELECT id, CAST(d AS INT) FROM src;").empty());
}

TEST_F(binder_test, not_of_a_number) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT id, n FROM src WHERE NOT n;"), std::vector<std::string>{"4:45: WHERE: NOT needs a BOOLEAN, got n (INT)"});
}

TEST_F(binder_test, and_of_a_string) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT id, n FROM src WHERE ok AND id;"),
              std::vector<std::string>{"4:48: WHERE: AND needs BOOLEAN operands, got id (STRING)"});
}

TEST_F(binder_test, cast_that_cannot_be) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT id, CAST(ts AS INT) FROM src;"),
              std::vector<std::string>{"4:28: cannot cast ts (TIMESTAMP(3)) to INT"});
}

TEST_F(binder_test, unknown_qualifier) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT x.id, n FROM src AS s;"),
              std::vector<std::string>{"4:24: unknown table or alias x in x.id"});
}

TEST_F(binder_test, function_arity) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT SPLIT_INDEX(id, ','), n FROM src;"),
              std::vector<std::string>{"4:24: SPLIT_INDEX takes 3 arguments, got 2"});
}

TEST_F(binder_test, date_format_of_a_number) {
    EXPECT_EQ(errors_of("INSERT INTO dst SELECT DATE_FORMAT(n, 'yyyy'), n FROM src;"),
              std::vector<std::string>{"4:24: argument 1 of DATE_FORMAT must be a timestamp or a string, got n (INT)"});
}

TEST_F(binder_test, every_error_of_a_statement_is_reported) {
    auto e = errors_of("INSERT INTO dst SELECT nope, id + 1 FROM src WHERE n;");
    ASSERT_EQ(e.size(), 3u);
    EXPECT_EQ(e[0], "4:24: unknown column nope (columns: id, n, d, ts, ok)");
    EXPECT_EQ(e[1], "4:33: cannot add id (STRING) and 1 (INT)");
    EXPECT_EQ(e[2], "4:52: WHERE must be a BOOLEAN condition, got n (INT)");
}

TEST_F(binder_test, program_describes_tables_and_pipelines) {
    auto c = compile_job(std::string(k_tables) + "INSERT INTO dst SELECT id, n FROM src;\nINSERT INTO dst SELECT id, 2 FROM src;\n", "job.sql");
    ASSERT_TRUE(std::holds_alternative<job_program>(c));
    const auto& p = std::get<job_program>(c);
    EXPECT_EQ(p.sources(), std::vector<size_t>{0});
    EXPECT_EQ(p.sinks(), std::vector<size_t>{1});
    ASSERT_EQ(p.pipelines().size(), 2u);
    EXPECT_EQ(p.reads().size(), 2u);  // two lone INSERTs: two reads
    EXPECT_EQ(p.tables()[0].watermark->column, "ts");
    EXPECT_EQ(p.tables()[0].option("topic"), "src");
    EXPECT_EQ(p.pipelines()[0].output[1].type.to_string(), "INT");
}

}  // namespace
}  // namespace millrace::sql
