#include "json.h"

#include <gtest/gtest.h>

namespace millrace::source::json {
namespace {

TEST(json_test, parses_nested_document) {
    auto v = parse(R"( {"a": [1, -2.5e1, "x\"y\u00e9"], "b": {"c": null, "d": true}} )");
    ASSERT_TRUE(v.ok()) << v.err().message();
    EXPECT_EQ(v->find("a")->items.size(), 3u);
    EXPECT_EQ(v->find("a")->items[1].number, -25);
    EXPECT_EQ(v->find("a")->items[2].text, "x\"y\xc3\xa9");
    EXPECT_EQ(v->find("b")->find("c")->type, value::kind::null);
    EXPECT_TRUE(v->find("b")->find("d")->boolean);
}

void expect_error(std::string_view text, std::string_view mention) {
    auto v = parse(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_NE(v.err().message().find(mention), std::string::npos) << v.err().message();
}

TEST(json_test, missing_colon) { expect_error(R"({"a" 1})", "expected ':'"); }
TEST(json_test, unterminated_string) { expect_error(R"({"a": "b)", "unterminated string"); }
TEST(json_test, trailing_bytes) { expect_error("{} x", "trailing bytes"); }
TEST(json_test, truncated_document) { expect_error(R"({"a": [1, 2)", "expected ',' or ']'"); }
TEST(json_test, bad_escape) { expect_error(R"(["\q"])", "unknown escape"); }
TEST(json_test, bad_unicode_escape) { expect_error(R"(["\u12G4"])", "bad \\u escape"); }
TEST(json_test, control_character) { expect_error("[\"a\x01\"]", "control character"); }
TEST(json_test, malformed_number) { expect_error("[1.2.3]", "malformed number"); }
TEST(json_test, unexpected_character) { expect_error("[@]", "unexpected character"); }
TEST(json_test, too_deep) { expect_error(std::string(100, '['), "nested too deeply"); }
TEST(json_test, empty) { expect_error("", "unexpected end"); }

}  // namespace
}  // namespace millrace::source::json
