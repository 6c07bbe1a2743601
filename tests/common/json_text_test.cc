#include "millrace/common/json_text.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace millrace::json_text {
namespace {

TEST(json_text_test, escapes_quotes_backslashes_and_control_characters) {
    EXPECT_EQ(quote("a\"b\\c"), R"("a\"b\\c")");
    EXPECT_EQ(quote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
    EXPECT_EQ(quote(std::string("\x01\x1f\x00", 3)), R"("\u0001\u001f\u0000")");
    EXPECT_EQ(quote("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");  // UTF-8 as it is
    EXPECT_EQ(quote(""), "\"\"");
}

TEST(json_text_test, invalid_utf8_is_copied_or_replaced_as_asked) {
    const std::string bad("ok\xff\xc3\xa9\xe2\x82", 7);  // a stray byte, a good é, a truncated €
    std::string copied;
    append_string(copied, bad);
    EXPECT_EQ(copied, "\"" + bad + "\"");
    std::string replaced;
    append_string(replaced, bad, invalid_utf8::replace);
    EXPECT_EQ(replaced, "\"ok\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\"");
    std::string overlong;  // an overlong '/', a lead byte past U+10FFFF, three stray continuations
    append_string(overlong, std::string("\xc0\xaf\xf5\x80\x80\x80", 6), invalid_utf8::replace);
    std::string six_replacements;
    for (int idx = 0; idx < 6; ++idx) six_replacements += "\xef\xbf\xbd";
    EXPECT_EQ(overlong, "\"" + six_replacements + "\"");
}

TEST(json_text_test, writer_places_commas_and_nests) {
    writer w;
    w.begin_object().key("name").string("x\"y").key("n").number(int64_t{-3}).key("u").number(uint64_t{18446744073709551615ull});
    w.key("list").begin_array().number(1).boolean(true).null().begin_object().end_object().begin_array().end_array().end_array();
    w.key("inner").begin_object().key("k").string_or_null(std::nullopt).key("v").string_or_null(std::string("s")).end_object();
    w.key("raw").raw("[1,2]").end_object();
    ASSERT_TRUE(w.complete());
    EXPECT_EQ(std::move(w).take(),
              R"({"name":"x\"y","n":-3,"u":18446744073709551615,"list":[1,true,null,{},[]],"inner":{"k":null,"v":"s"},"raw":[1,2]})");
}

TEST(json_text_test, numbers_round_trip_and_non_finite_is_null) {
    writer w;
    w.begin_array().number(0.1).number(1e300).number(-2.5).number(std::nan("")).number(std::numeric_limits<double>::infinity());
    w.end_array();
    EXPECT_EQ(w.text(), "[0.1,1e+300,-2.5,null,null]");
}

TEST(json_text_test, top_level_scalars_and_incomplete_text) {
    writer scalar;
    scalar.string("only");
    EXPECT_TRUE(scalar.complete());
    EXPECT_EQ(std::move(scalar).take(), "\"only\"");
    writer open;
    open.begin_array().number(1);
    EXPECT_FALSE(open.complete());
    EXPECT_EQ(open.text(), "[1");
}

TEST(json_text_test, object_builder_and_array) {
    object o;
    o.str("a", "x").num("b", 2).boolean("c", false).str_or_null("d", std::nullopt).raw("e", array({"1", "\"two\""}));
    EXPECT_EQ(o.done(), R"({"a":"x","b":2,"c":false,"d":null,"e":[1,"two"]})");
    // done() leaves the builder usable.
    EXPECT_EQ(o.num("f", 6).done(), R"({"a":"x","b":2,"c":false,"d":null,"e":[1,"two"],"f":6})");
    EXPECT_EQ(object().done(), "{}");
    EXPECT_EQ(array({}), "[]");
}

TEST(json_text_death_test, misuse_is_a_bug) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            writer w;
            w.begin_object().string("no key");
        },
        "without a key");
    EXPECT_DEATH(
        {
            writer w;
            w.begin_array().end_object();
        },
        "does not close");
    EXPECT_DEATH(
        {
            writer w;
            w.key("outside");
        },
        "outside an object");
    EXPECT_DEATH(
        {
            writer w;
            w.begin_array();
            (void)std::move(w).take();
        },
        "containers open");
}

}  // namespace
}  // namespace millrace::json_text
