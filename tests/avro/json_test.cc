#include "millrace/avro/json.h"

#include <gtest/gtest.h>

namespace millrace::avro::json {
namespace {

TEST(json_test, round_trips_every_kind) {
    auto v = parse(R"( {"a": [1, -2, 3.5, true, false, null], "b": "x\"\\\n\u00e9", "c": {}} )");
    ASSERT_TRUE(v.ok()) << v.err().message();
    EXPECT_EQ(dump(*v), "{\"a\":[1,-2,3.5,true,false,null],\"b\":\"x\\\"\\\\\\n\xC3\xA9\",\"c\":{}}");
}

TEST(json_test, large_integers_stay_exact) {
    auto v = parse("9223372036854775807");
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->is_integer());
    EXPECT_EQ(v->integer, INT64_MAX);
    auto big = parse("92233720368547758070");
    ASSERT_TRUE(big.ok());
    EXPECT_FALSE(big->is_integer());
}

TEST(json_test, surrogate_pairs_decode_to_utf8) {
    auto v = parse(R"("\ud83d\ude00")");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->text, "\xF0\x9F\x98\x80");
}

TEST(json_test, errors_name_the_byte_offset) {
    struct bad_case {
        const char* text;
        const char* message;
    };
    for (const auto& c : {bad_case{"{\"a\" 1}", "at byte 5: expected ':'"}, bad_case{"[1,]", "at byte 3: unexpected character ']'"},
                          bad_case{"\"abc", "unterminated string"}, bad_case{"01", "leading zero"},
                          bad_case{"{} x", "at byte 3: unexpected trailing"}, bad_case{"\"\\q\"", "bad escape"},
                          bad_case{"\"\\ud800\"", "unpaired surrogate"}, bad_case{"", "unexpected end of input"},
                          bad_case{"1.", "bad fraction"}, bad_case{"1e", "bad exponent"}, bad_case{"tru", "unexpected character"}}) {
        auto v = parse(c.text);
        ASSERT_FALSE(v.ok()) << c.text;
        EXPECT_NE(v.err().message().find(c.message), std::string::npos) << c.text << " -> " << v.err().message();
    }
}

TEST(json_test, deep_nesting_is_refused) {
    std::string deep(600, '[');
    auto v = parse(deep);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.err().message().find("nesting"), std::string::npos);
}

}  // namespace
}  // namespace millrace::avro::json
