#include "protocol/wire.h"

#include <gtest/gtest.h>

namespace millrace::kafka {
namespace {

TEST(wire_test, fixed_width_round_trip_big_endian) {
    std::string buffer;
    writer w(buffer);
    w.int8(-2);
    w.int16(0x1234);
    w.int32(-7);
    w.int64(0x0102030405060708);
    EXPECT_EQ(buffer.substr(1, 2), std::string("\x12\x34", 2));
    reader r(buffer);
    EXPECT_EQ(r.int8(), -2);
    EXPECT_EQ(r.int16(), 0x1234);
    EXPECT_EQ(r.int32(), -7);
    EXPECT_EQ(r.int64(), 0x0102030405060708);
    EXPECT_EQ(r.remaining(), 0u);
}

TEST(wire_test, varints_use_zigzag) {
    for (int64_t value : std::initializer_list<int64_t>{0, -1, 1, 63, -64, 64, 300, -300, INT32_MAX * 4LL, INT64_MIN, INT64_MAX}) {
        std::string buffer;
        writer w(buffer);
        w.varlong(value);
        reader r(buffer);
        EXPECT_EQ(r.varlong(), value);
    }
    std::string buffer;
    writer w(buffer);
    w.varint(-1);
    EXPECT_EQ(buffer, std::string("\x01", 1));  // zigzag(-1) = 1
    w.uvarint(300);
    reader r(buffer);
    EXPECT_EQ(r.varint(), -1);
    EXPECT_EQ(r.uvarint(), 300u);
}

TEST(wire_test, compact_and_classic_strings_and_null) {
    for (bool flexible : {false, true}) {
        std::string buffer;
        writer w(buffer);
        w.string("topic", flexible);
        w.nullable_string(std::nullopt, flexible);
        w.bytes("ab", flexible);
        w.nullable_bytes(std::nullopt, flexible);
        w.array_length(3, flexible);
        w.array_length(-1, flexible);
        w.int32(1);
        w.int32(2);
        w.int32(3);
        reader r(buffer);
        EXPECT_EQ(r.string(flexible), "topic");
        EXPECT_FALSE(r.nullable_string(flexible).has_value());
        EXPECT_EQ(r.bytes(flexible), "ab");
        EXPECT_FALSE(r.nullable_bytes(flexible).has_value());
        EXPECT_EQ(r.array_length(flexible), 3);
        EXPECT_EQ(r.array_length(flexible), -1);
    }
}

TEST(wire_test, truncated_field_throws_with_position) {
    std::string buffer("\x00\x05to", 4);  // string of 5 bytes, 2 present
    reader r(buffer);
    try {
        r.string(false);
        FAIL() << "expected protocol_error";
    } catch (const protocol_error& e) {
        EXPECT_STREQ(e.what(), "truncated field: need 5 bytes at offset 2, 2 left");
    }
}

TEST(wire_test, absurd_array_length_is_rejected_before_allocation) {
    std::string buffer("\x7f\xff\xff\xff", 4);
    reader r(buffer);
    EXPECT_THROW(r.array_length(false), protocol_error);
}

TEST(wire_test, overlong_varint_is_rejected) {
    std::string buffer(6, '\xff');
    reader r(buffer);
    EXPECT_THROW(r.uvarint(), protocol_error);
}

TEST(wire_test, null_where_string_required_is_an_error) {
    std::string buffer("\xff\xff", 2);
    reader r(buffer);
    EXPECT_THROW(r.string(false), protocol_error);
}

TEST(wire_test, tagged_fields_are_skipped) {
    std::string buffer;
    writer w(buffer);
    w.uvarint(2);  // two tags
    w.uvarint(0);
    w.uvarint(3);
    w.raw("abc");
    w.uvarint(5);
    w.uvarint(0);
    w.int32(42);
    reader r(buffer);
    r.skip_tags(true);
    EXPECT_EQ(r.int32(), 42);
}

}  // namespace
}  // namespace millrace::kafka
