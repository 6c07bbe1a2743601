#include "millrace/cdc/json_mapping.h"

#include <gtest/gtest.h>

namespace millrace::cdc {
namespace {

std::string map(uint32_t oid, std::string_view text) {
    std::string out;
    append_json_value(out, oid, text);
    return out;
}

TEST(json_mapping_test, scalars) {
    EXPECT_EQ(map(16, "t"), "true");
    EXPECT_EQ(map(16, "f"), "false");
    EXPECT_EQ(map(21, "-7"), "-7");
    EXPECT_EQ(map(20, "9223372036854775807"), "9223372036854775807");
    EXPECT_EQ(map(701, "1.5"), "1.5");
    EXPECT_EQ(map(701, "NaN"), "\"NaN\"");
    EXPECT_EQ(map(700, "-Infinity"), "\"-Infinity\"");
    EXPECT_EQ(map(1700, "12345678901234567890.000000001"), "\"12345678901234567890.000000001\"");
    EXPECT_EQ(map(25, "a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    EXPECT_EQ(map(2950, "0b6f6a6e-1c4d-4e5a-9a8b-6f2d0a1b2c3d"), "\"0b6f6a6e-1c4d-4e5a-9a8b-6f2d0a1b2c3d\"");
    EXPECT_EQ(map(1082, "2024-02-29"), "\"2024-02-29\"");
    EXPECT_EQ(map(17, "\\x00ff10"), "\"AP8Q\"");
    EXPECT_EQ(map(17, "\\x"), "\"\"");
    EXPECT_EQ(map(17, "\\x41"), "\"QQ==\"");
}

TEST(json_mapping_test, timestamps) {
    EXPECT_EQ(map(1184, "2024-01-02 03:04:05.123456+00"), "\"2024-01-02T03:04:05.123456Z\"");
    EXPECT_EQ(map(1184, "2024-01-02 03:04:05+05:30"), "\"2024-01-02T03:04:05+05:30\"");
    EXPECT_EQ(map(1184, "2024-01-02 03:04:05-08"), "\"2024-01-02T03:04:05-08:00\"");
    EXPECT_EQ(map(1184, "infinity"), "\"infinity\"");
    EXPECT_EQ(map(1184, "0044-03-15 00:00:00+00 BC"), "\"0044-03-15 00:00:00+00 BC\"");
    EXPECT_EQ(map(1114, "2024-01-02 03:04:05.5"), "\"2024-01-02T03:04:05.5\"");
}

TEST(json_mapping_test, json_nested) {
    EXPECT_EQ(map(3802, "{\"a\": [1, 2]}"), "{\"a\": [1, 2]}");
    EXPECT_EQ(map(114, "[true]"), "[true]");
}

TEST(json_mapping_test, arrays) {
    EXPECT_EQ(map(1007, "{1,2,NULL}"), "[1,2,null]");
    EXPECT_EQ(map(1009, "{a,\"b c\",\"NULL\",\"q\\\"x\"}"), "[\"a\",\"b c\",\"NULL\",\"q\\\"x\"]");
    EXPECT_EQ(map(1007, "{{1,2},{3,4}}"), "[[1,2],[3,4]]");
    EXPECT_EQ(map(1007, "{}"), "[]");
    EXPECT_EQ(map(1007, "[0:1]={5,6}"), "[5,6]");
    EXPECT_EQ(map(1231, "{1.10,2}"), "[\"1.10\",\"2\"]");
    EXPECT_EQ(map(1000, "{t,f}"), "[true,false]");
    EXPECT_EQ(map(3807, "{\"{\\\"a\\\": 1}\"}"), "[{\"a\": 1}]");
}

TEST(json_mapping_test, malformed_array_stays_text) {
    EXPECT_EQ(map(1007, "{1,2"), "\"{1,2\"");
    EXPECT_EQ(map(1009, "{\"open}"), "\"{\\\"open}\"");
}

TEST(json_mapping_test, invalid_utf8_replaced) {
    std::string out;
    append_json_string(out, std::string("ok\xff\xc3\xa9", 5));
    EXPECT_EQ(out, "\"ok\xef\xbf\xbd\xc3\xa9\"");
    out.clear();
    append_json_string(out, std::string("\x01", 1));
    EXPECT_EQ(out, "\"\\u0001\"");
}

TEST(json_mapping_test, unknown_type_is_string) {
    EXPECT_EQ(map(99999, "happy"), "\"happy\"");
    EXPECT_EQ(array_element_type(1007), 23u);
    EXPECT_EQ(array_element_type(25), 0u);
}

}  // namespace
}  // namespace millrace::cdc
