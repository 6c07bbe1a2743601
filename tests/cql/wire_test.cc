// The protocol notation reader and writer, and frame headers: every error branch.
#include "protocol/wire.h"

#include <gtest/gtest.h>

namespace millrace::cql {
namespace {

TEST(wire_test, round_trips_notation) {
    std::string buf;
    writer w(buf);
    w.int16(-2);
    w.int32(70000);
    w.int64(-5);
    w.string("abc");
    w.long_string("long");
    w.bytes(std::nullopt);
    w.bytes(std::string("xy"));
    w.short_bytes("id");
    w.string_list({"a", "b"});
    reader r(buf);
    EXPECT_EQ(r.int16(), -2);
    EXPECT_EQ(r.int32(), 70000);
    EXPECT_EQ(r.int64(), -5);
    EXPECT_EQ(r.string(), "abc");
    EXPECT_EQ(r.long_string(), "long");
    EXPECT_FALSE(r.bytes().has_value());
    EXPECT_EQ(*r.bytes(), "xy");
    EXPECT_EQ(r.short_bytes(), "id");
    EXPECT_EQ(r.string_list(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(r.remaining(), 0u);
}

TEST(wire_test, truncated_body_throws) {
    std::string buf("\x00\x05" "ab", 4);  // [string] claims 5 bytes, has 2
    reader r(buf);
    try {
        r.string();
        FAIL() << "no exception";
    } catch (const protocol_error& e) {
        EXPECT_STREQ(e.what(), "truncated body: need 5 bytes at offset 2, 2 left");
    }
    reader empty("");
    EXPECT_THROW(empty.int32(), protocol_error);
}

TEST(wire_test, absurd_lengths_throw_before_allocating) {
    std::string huge("\x7f\xff\xff\xff", 4);
    reader r1(huge);
    EXPECT_THROW(r1.long_string(), protocol_error);
    reader r2(huge);
    EXPECT_THROW(r2.bytes(), protocol_error);
    std::string negative("\xff\xff\xff\xf0", 4);
    reader r3(negative);
    EXPECT_THROW(r3.long_string(), protocol_error);
    reader r4(negative);
    EXPECT_THROW(r4.bytes(), protocol_error);
}

TEST(wire_test, header_round_trip) {
    std::string buf;
    encode_header(buf, 300, opcode::result, 17);
    ASSERT_EQ(buf.size(), k_header_size);
    auto h = decode_header(buf.data());
    EXPECT_EQ(h.version, k_protocol_version);
    EXPECT_EQ(uint8_t(buf[0]), 0x84);
    EXPECT_EQ(h.stream, 300);
    EXPECT_EQ(h.op, static_cast<uint8_t>(opcode::result));
    EXPECT_EQ(h.length, 17u);
}

}  // namespace
}  // namespace millrace::cql

#include "protocol/compression.h"

namespace millrace::cql {
namespace {

TEST(compression_test, round_trips_lz4_and_snappy) {
    std::string body;
    for (int idx = 0; idx < 1000; ++idx) body += "row " + std::to_string(idx % 17) + ";";
    for (auto c : {compression::lz4, compression::snappy}) {
        auto packed = compress(c, body);
        EXPECT_LT(packed.size(), body.size());
        auto back = decompress(c, packed, 1 << 20);
        ASSERT_TRUE(back.ok()) << back.err().message();
        EXPECT_EQ(*back, body);
    }
    EXPECT_EQ(parse_compression("LZ4"), compression::lz4);
    EXPECT_FALSE(parse_compression("zstd").has_value());
}

TEST(compression_test, lz4_claiming_more_than_the_limit_is_refused) {
    auto packed = compress(compression::lz4, std::string(100, 'a'));
    auto r = decompress(compression::lz4, packed, 50);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().message(), "lz4 body claims 100 uncompressed bytes, limit is 50");
}

TEST(compression_test, corrupt_bodies_are_refused) {
    EXPECT_FALSE(decompress(compression::lz4, std::string("\x00\x00", 2), 100).ok());
    EXPECT_FALSE(decompress(compression::lz4, std::string("\x00\x00\x00\x10garbage", 11), 100).ok());
    EXPECT_FALSE(decompress(compression::snappy, std::string("\xff\xff\xff\xff\xff", 5), 100).ok());
}

}  // namespace
}  // namespace millrace::cql
