// Protocol v5 segments (protocol/segment.h): bytes as the Python driver
// (cassandra-driver 3.30.1, cassandra/segment.py) writes them, round trips
// with and without lz4, large envelopes split and reassembled, and every
// error branch of the decoder and the envelope assembler.
#include "protocol/segment.h"

#include <random>

#include <gtest/gtest.h>

#include "protocol/wire.h"

namespace millrace::cql {
namespace {

std::string unhex(std::string_view hex) {
    std::string out;
    for (size_t idx = 0; idx + 1 < hex.size(); idx += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(idx, 2)), nullptr, 16)));
    return out;
}

// A request envelope (v5 header + body).
std::string envelope(int16_t stream, opcode op, const std::string& body) {
    std::string out;
    writer w(out);
    w.byte(5);
    w.byte(0);
    w.int16(stream);
    w.byte(static_cast<uint8_t>(op));
    w.int32(static_cast<int32_t>(body.size()));
    out += body;
    return out;
}

struct decoded {
    segment_header header;
    std::string payload;
    size_t consumed;
};

decoded decode_one(std::string_view wire, bool compressed) {
    size_t hs = segment_header_size(compressed);
    auto h = decode_segment_header(wire.substr(0, hs), compressed);
    EXPECT_TRUE(h.ok()) << (h ? "" : h.err().message());
    size_t total = hs + h->payload_length + k_segment_crc32_size;
    auto p = decode_segment_payload(*h, wire.substr(hs, h->payload_length + k_segment_crc32_size), compressed);
    EXPECT_TRUE(p.ok()) << (p ? "" : p.err().message());
    return {*h, *p, total};
}

TEST(segment_test, checksums_match_the_python_driver) {
    EXPECT_EQ(segment_crc24(5 | (1 << 17), 3), 0x9a9919u);
    EXPECT_EQ(segment_crc32("hello"), 0xb60e8074u);
}

TEST(segment_test, decodes_a_python_driver_segment) {
    // OPTIONS (stream 1, empty body) in one self-contained segment.
    std::string wire = unhex("090002a4c8c1050000010500000000b5557486");
    auto d = decode_one(wire, false);
    EXPECT_TRUE(d.header.self_contained);
    EXPECT_EQ(d.payload, envelope(1, opcode::options, ""));
    EXPECT_EQ(d.consumed, wire.size());
    std::string ours;
    encode_segments(ours, d.payload, false);
    EXPECT_EQ(ours, wire);
}

TEST(segment_test, decodes_a_python_driver_lz4_segment) {
    std::string wire = unhex("14005200046be12aaf05000001070000002061010007506161616161df231cbc");
    auto d = decode_one(wire, true);
    EXPECT_TRUE(d.header.self_contained);
    EXPECT_EQ(d.header.uncompressed_length, 41u);
    EXPECT_EQ(d.payload, envelope(1, opcode::query, std::string(32, 'a')));
}

TEST(segment_test, incompressible_payload_is_sent_as_is_under_lz4) {
    std::mt19937 rng(301);
    std::string body(200, '\0');
    for (auto& c : body) c = static_cast<char>(rng());
    std::string wire;
    encode_segments(wire, envelope(3, opcode::query, body), true);
    auto d = decode_one(wire, true);
    EXPECT_EQ(d.header.uncompressed_length, 0u);
    EXPECT_EQ(d.payload, envelope(3, opcode::query, body));
}

TEST(segment_test, large_envelope_splits_and_reassembles) {
    for (bool compressed : {false, true}) {
        std::mt19937 rng(301);
        std::string body(300 * 1024, '\0');
        for (auto& c : body) c = static_cast<char>('a' + rng() % 4);
        std::string env = envelope(9, opcode::execute, body);
        std::string wire;
        encode_segments(wire, env, compressed);
        envelope_assembler assembler(1 << 20);
        std::vector<std::string> out;
        size_t segments = 0;
        for (std::string_view rest = wire; !rest.empty(); ++segments) {
            auto d = decode_one(rest, compressed);
            EXPECT_FALSE(d.header.self_contained);
            auto got = assembler.add(d.payload, d.header.self_contained);
            ASSERT_TRUE(got.ok()) << got.err().message();
            for (auto& e : *got) out.push_back(std::move(e));
            rest.remove_prefix(d.consumed);
        }
        EXPECT_EQ(segments, 3u);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(out[0], env);
        EXPECT_EQ(assembler.pending(), 0u);
    }
}

TEST(segment_test, self_contained_segment_holds_several_envelopes) {
    std::string payload = envelope(1, opcode::options, "") + envelope(2, opcode::query, "xyz");
    envelope_assembler assembler(1024);
    auto got = assembler.add(payload, true);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 2u);
    EXPECT_EQ((*got)[1], envelope(2, opcode::query, "xyz"));
}

TEST(segment_test, header_crc_mismatch) {
    std::string wire = unhex("090002a4c8c1050000010500000000b5557486");
    wire[3] ^= 1;
    auto h = decode_segment_header(wire.substr(0, 6), false);
    ASSERT_FALSE(h.ok());
    EXPECT_NE(h.err().message().find("CRC24 mismatch"), std::string::npos) << h.err().message();
}

TEST(segment_test, payload_crc_mismatch) {
    std::string wire = unhex("090002a4c8c1050000010500000000b5557486");
    wire[8] ^= 1;
    auto h = decode_segment_header(wire.substr(0, 6), false);
    ASSERT_TRUE(h.ok());
    auto p = decode_segment_payload(*h, wire.substr(6), false);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.err().message().find("CRC32 mismatch over 9 bytes"), std::string::npos) << p.err().message();
}

TEST(segment_test, payload_of_the_wrong_length) {
    segment_header h{10, 0, true};
    auto p = decode_segment_payload(h, "short", false);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.err().message().find("expected 10 payload bytes"), std::string::npos) << p.err().message();
}

TEST(segment_test, lz4_payload_that_does_not_decompress) {
    std::string garbage = "\xff\xff\xff\xff";
    std::string body = garbage;
    uint32_t crc = segment_crc32(garbage);
    for (int idx = 0; idx < 4; ++idx) body.push_back(static_cast<char>((crc >> (8 * idx)) & 0xFF));
    segment_header h{4, 100, true};
    auto p = decode_segment_payload(h, body, true);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.err().message().find("does not decompress to the 100 bytes"), std::string::npos) << p.err().message();
}

TEST(segment_test, truncated_header) {
    auto h = decode_segment_header("\x01\x02", false);
    ASSERT_FALSE(h.ok());
}

TEST(segment_test, self_contained_segment_ending_inside_an_envelope) {
    envelope_assembler assembler(1024);
    std::string env = envelope(1, opcode::query, "abcdef");
    auto got = assembler.add(env.substr(0, env.size() - 2), true);
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.err().message().find("holds 4 bytes of an envelope body of 6 bytes"), std::string::npos)
        << got.err().message();
    got = envelope_assembler(1024).add(env.substr(0, 5), true);
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.err().message().find("inside an envelope header"), std::string::npos);
}

TEST(segment_test, envelope_above_the_limit_is_refused_before_its_body_arrives) {
    std::string header = envelope(1, opcode::query, "").substr(0, 5);
    writer(header).int32(256 << 20);
    envelope_assembler assembler(16 << 20);
    auto got = assembler.add(header, false);
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.err().message().find("envelope body of 268435456 bytes exceeds the limit of 16777216"), std::string::npos)
        << got.err().message();
    got = envelope_assembler(16).add(envelope(1, opcode::query, std::string(17, 'x')), true);
    ASSERT_FALSE(got.ok());
}

TEST(segment_test, continuation_past_the_end_of_the_envelope) {
    envelope_assembler assembler(1024);
    std::string env = envelope(1, opcode::query, std::string(20, 'x'));
    ASSERT_TRUE(assembler.add(env.substr(0, 15), false).ok());
    auto got = assembler.add(env.substr(15) + "extra", false);
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.err().message().find("5 bytes past the end of a 29-byte envelope"), std::string::npos) << got.err().message();
}

TEST(segment_test, self_contained_segment_while_an_envelope_is_incomplete) {
    envelope_assembler assembler(1024);
    std::string env = envelope(1, opcode::query, std::string(20, 'x'));
    ASSERT_TRUE(assembler.add(env.substr(0, 4), false).ok());  // header itself split
    EXPECT_EQ(assembler.pending(), 4u);
    auto got = assembler.add(envelope(2, opcode::options, ""), true);
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.err().message().find("4 bytes of a larger envelope are incomplete"), std::string::npos);
}

}  // namespace
}  // namespace millrace::cql
