#include "json_filter.h"

#include <gtest/gtest.h>

namespace millrace::console {
namespace {

const nlohmann::ordered_json k_user = nlohmann::ordered_json::parse(R"({
  "gender": "female", "name": {"first": "Ada", "last": "Lovelace"},
  "dob": {"age": 36}, "email": "ada@example.com", "tags": ["vip", "beta"], "active": true, "id": 42,
  "odd key": 1})");

bool matches(std::string_view expression) {
    auto filter = json_filter::parse(expression);
    EXPECT_TRUE(filter.ok()) << expression << ": " << filter.err().message();
    return filter.ok() && filter->matches(k_user);
}

TEST(json_filter_test, existence_of_a_path) {
    EXPECT_TRUE(matches("$.name.first"));
    EXPECT_TRUE(matches("$.tags[1]"));
    EXPECT_FALSE(matches("$.tags[2]"));
    EXPECT_FALSE(matches("$.name.middle"));
    EXPECT_FALSE(matches("$.gender.first"));  // through a string
    EXPECT_TRUE(matches("$['odd key']"));
    EXPECT_TRUE(matches("$"));
}

TEST(json_filter_test, equality_with_json_and_bare_literals) {
    EXPECT_TRUE(matches(R"($.gender == "female")"));
    EXPECT_TRUE(matches("$.gender == female"));
    EXPECT_TRUE(matches("$.gender = female"));
    EXPECT_FALSE(matches(R"($.gender == "male")"));
    EXPECT_TRUE(matches(R"($.gender != "male")"));
    EXPECT_TRUE(matches("$.id == 42"));
    EXPECT_TRUE(matches(R"($.id == "42")"));  // a quoted number equals the number it prints as
    EXPECT_TRUE(matches("$.active == true"));
    EXPECT_FALSE(matches("$.active == false"));
}

TEST(json_filter_test, ordering_compares_numbers_and_strings_of_one_kind) {
    EXPECT_TRUE(matches("$.dob.age >= 36"));
    EXPECT_TRUE(matches("$.dob.age > 30"));
    EXPECT_FALSE(matches("$.dob.age < 36"));
    EXPECT_TRUE(matches("$.dob.age <= 36.5"));
    EXPECT_TRUE(matches(R"($.name.last > "L")"));
    EXPECT_FALSE(matches(R"($.dob.age > "3")"));  // number against string: not ordered
}

TEST(json_filter_test, contains_is_case_insensitive_and_wildcards_match_any) {
    EXPECT_TRUE(matches(R"($.email ~= "@EXAMPLE")"));
    EXPECT_FALSE(matches(R"($.email ~= "@other")"));
    EXPECT_TRUE(matches(R"($.tags[*] == "beta")"));
    EXPECT_TRUE(matches(R"($.name.* == "Ada")"));
    EXPECT_FALSE(matches(R"($.tags[*] == "gamma")"));
}

TEST(json_filter_test, select_returns_values_in_document_order) {
    auto filter = json_filter::parse("$.tags[*]");
    ASSERT_TRUE(filter.ok());
    auto values = filter->select(k_user);
    ASSERT_EQ(values.size(), 2u);
    EXPECT_EQ(*values[0], "vip");
    EXPECT_EQ(*values[1], "beta");
}

TEST(json_filter_test, syntax_errors_name_the_position) {
    struct bad_case {
        const char* expression;
        const char* message;
    };
    for (const auto& c : {bad_case{"name", "at character 1 of 'name': a path starts with '$'"},
                          bad_case{"$.", "at character 3 of '$.': expected a member name after '.'"},
                          bad_case{"$.a[", "at character 5 of '$.a[': expected an index, '*' or a quoted name inside []"},
                          bad_case{"$.a[1", "at character 6 of '$.a[1': expected ']'"},
                          bad_case{"$['a", "at character 4 of '$['a': unterminated quoted name"},
                          bad_case{"$.a ==", "at character 7 of '$.a ==': expected a value after the operator"},
                          bad_case{"$.a ! 3", "at character 5 of '$.a ! 3': expected an operator (==, !=, <, <=, >, >=, ~=) or the end"}}) {
        auto filter = json_filter::parse(c.expression);
        ASSERT_FALSE(filter.ok()) << c.expression;
        EXPECT_EQ(filter.err().code(), errc::invalid_argument);
        EXPECT_EQ(filter.err().message(), c.message);
    }
}

}  // namespace
}  // namespace millrace::console
