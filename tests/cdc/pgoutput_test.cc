#include "millrace/cdc/pgoutput.h"

#include <random>

#include <gtest/gtest.h>

namespace millrace::cdc {
namespace {

// Builds big-endian protocol bytes.
struct bytes {
    std::string out;
    bytes& c(char v) { out.push_back(v); return *this; }
    bytes& u8(uint8_t v) { out.push_back(static_cast<char>(v)); return *this; }
    bytes& u16(uint16_t v) { return u8(v >> 8).u8(v & 0xff); }
    bytes& u32(uint32_t v) { return u16(v >> 16).u16(v & 0xffff); }
    bytes& u64(uint64_t v) { return u32(static_cast<uint32_t>(v >> 32)).u32(static_cast<uint32_t>(v)); }
    bytes& str(const std::string& s) { out += s; out.push_back('\0'); return *this; }
    bytes& text(const std::string& s) { return c('t').u32(static_cast<uint32_t>(s.size())).raw(s); }
    bytes& raw(const std::string& s) { out += s; return *this; }
};

TEST(pgoutput_test, lsn_text_round_trip) {
    auto l = lsn::parse("16/B374D848");
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(l->value, 0x16B374D848ULL);
    EXPECT_EQ(l->to_string(), "16/B374D848");
    EXPECT_EQ(lsn{}.to_string(), "0/0");
    EXPECT_FALSE(lsn::parse("16B374D848").ok());
    EXPECT_FALSE(lsn::parse("1/").ok());
    EXPECT_FALSE(lsn::parse("x/1").ok());
}

TEST(pgoutput_test, xlog_data_and_keepalive) {
    auto w = bytes().c('w').u64(0x100).u64(0x200).u64(7).raw("B...").out;
    auto m = decode_stream_message(w);
    ASSERT_TRUE(m.ok()) << m.err().message();
    auto& d = std::get<xlog_data>(*m);
    EXPECT_EQ(d.wal_start.value, 0x100u);
    EXPECT_EQ(d.wal_end.value, 0x200u);
    EXPECT_EQ(d.payload, "B...");

    auto k = decode_stream_message(bytes().c('k').u64(0x300).u64(9).u8(1).out);
    ASSERT_TRUE(k.ok());
    EXPECT_TRUE(std::get<keepalive>(*k).reply_requested);
    EXPECT_EQ(std::get<keepalive>(*k).wal_end.value, 0x300u);
}

TEST(pgoutput_test, truncated_keepalive_names_offset) {
    auto k = decode_stream_message(bytes().c('k').u64(0x300).out);
    ASSERT_FALSE(k.ok());
    EXPECT_NE(k.err().message().find("primary keepalive: expected 8 bytes at offset 8, 0 left"), std::string::npos)
        << k.err().message();
}

TEST(pgoutput_test, unknown_stream_message) {
    auto m = decode_stream_message("z123");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.err().message().find("unknown message type 'z'"), std::string::npos);
    EXPECT_FALSE(decode_stream_message("").ok());
}

TEST(pgoutput_test, status_update_layout) {
    auto s = encode_status_update(lsn{1}, lsn{2}, lsn{3}, 4, true);
    EXPECT_EQ(s, bytes().c('r').u64(1).u64(2).u64(3).u64(4).u8(1).out);
}

TEST(pgoutput_test, begin_commit) {
    auto b = decode_pgoutput(bytes().c('B').u64(0x500).u64(1000).u32(42).out);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(std::get<begin_message>(*b).xid, 42u);
    EXPECT_EQ(std::get<begin_message>(*b).final_lsn.value, 0x500u);
    auto c = decode_pgoutput(bytes().c('C').u8(0).u64(0x500).u64(0x530).u64(1000).out);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(std::get<commit_message>(*c).end_lsn.value, 0x530u);
}

TEST(pgoutput_test, relation_columns) {
    auto r = decode_pgoutput(bytes().c('R').u32(16384).str("public").str("users").c('d').u16(2)
                                 .u8(1).str("id").u32(2950).u32(0xffffffff)
                                 .u8(0).str("name").u32(25).u32(0xffffffff).out);
    ASSERT_TRUE(r.ok()) << r.err().message();
    const auto& rel = std::get<relation_message>(*r);
    EXPECT_EQ(rel.oid, 16384u);
    EXPECT_EQ(rel.schema, "public");
    EXPECT_EQ(rel.name, "users");
    ASSERT_EQ(rel.columns.size(), 2u);
    EXPECT_TRUE(rel.columns[0].key);
    EXPECT_EQ(rel.columns[0].type_oid, 2950u);
    EXPECT_EQ(rel.columns[0].type_modifier, -1);
    EXPECT_FALSE(rel.columns[1].key);
}

TEST(pgoutput_test, insert_with_null_and_unchanged) {
    auto i = decode_pgoutput(bytes().c('I').u32(7).c('N').u16(3).text("abc").c('n').c('u').out);
    ASSERT_TRUE(i.ok()) << i.err().message();
    const auto& ins = std::get<insert_message>(*i);
    ASSERT_EQ(ins.new_tuple.size(), 3u);
    EXPECT_EQ(ins.new_tuple[0].text, "abc");
    EXPECT_EQ(ins.new_tuple[1].k, tuple_value::kind::null);
    EXPECT_EQ(ins.new_tuple[2].k, tuple_value::kind::unchanged);
}

TEST(pgoutput_test, update_with_old_row_and_without) {
    auto u = decode_pgoutput(bytes().c('U').u32(7).c('O').u16(1).text("old").c('N').u16(1).text("new").out);
    ASSERT_TRUE(u.ok()) << u.err().message();
    EXPECT_EQ(std::get<update_message>(*u).old_kind, 'O');
    EXPECT_EQ(std::get<update_message>(*u).old_tuple[0].text, "old");
    EXPECT_EQ(std::get<update_message>(*u).new_tuple[0].text, "new");
    auto plain = decode_pgoutput(bytes().c('U').u32(7).c('N').u16(1).text("new").out);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(std::get<update_message>(*plain).old_kind, 0);
}

TEST(pgoutput_test, delete_key_and_bad_marker) {
    auto d = decode_pgoutput(bytes().c('D').u32(7).c('K').u16(1).text("k").out);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(std::get<delete_message>(*d).old_tuple[0].text, "k");
    auto bad = decode_pgoutput(bytes().c('D').u32(7).c('N').u16(1).text("k").out);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message().find("expected 'K' or 'O'"), std::string::npos) << bad.err().message();
}

TEST(pgoutput_test, truncate_relations) {
    auto t = decode_pgoutput(bytes().c('T').u32(2).u8(1).u32(5).u32(6).out);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(std::get<truncate_message>(*t).relations, (std::vector<uint32_t>{5, 6}));
    auto short_list = decode_pgoutput(bytes().c('T').u32(3).u8(0).u32(5).out);
    ASSERT_FALSE(short_list.ok());
    EXPECT_NE(short_list.err().message().find("3 relations need 12 bytes, 4 left"), std::string::npos);
}

TEST(pgoutput_test, truncated_column_value) {
    auto i = decode_pgoutput(bytes().c('I').u32(7).c('N').u16(1).c('t').u32(10).raw("abc").out);
    ASSERT_FALSE(i.ok());
    EXPECT_NE(i.err().message().find("pgoutput Insert: expected 10 bytes at offset 12, 3 left"), std::string::npos)
        << i.err().message();
}

TEST(pgoutput_test, unknown_column_kind) {
    auto i = decode_pgoutput(bytes().c('I').u32(7).c('N').u16(1).c('b').out);
    ASSERT_FALSE(i.ok());
    EXPECT_NE(i.err().message().find("unknown kind 'b'"), std::string::npos) << i.err().message();
}

TEST(pgoutput_test, trailing_bytes_and_unterminated_string) {
    auto b = decode_pgoutput(bytes().c('B').u64(1).u64(2).u32(3).u8(9).out);
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.err().message().find("1 trailing bytes"), std::string::npos);
    auto r = decode_pgoutput(bytes().c('R').u32(1).raw("public").out);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message().find("unterminated string"), std::string::npos);
}

TEST(pgoutput_test, unknown_message_and_logical_message) {
    EXPECT_FALSE(decode_pgoutput("Q").ok());
    EXPECT_FALSE(decode_pgoutput("").ok());
    EXPECT_TRUE(decode_pgoutput("Mxyz").ok());
}

// Seeded random and truncated inputs: every one decodes or fails with an
// error, never reads out of bounds (run under the asan preset).
TEST(pgoutput_test, random_and_truncated_input_never_crashes) {
    std::mt19937 rng(301);
    const std::string tags = "BCORYIUDTMwkz";
    const std::string valid = bytes().c('U').u32(7).c('O').u16(2).text("old").c('n').c('N').u16(2).text("new").c('u').out;
    for (size_t len = 0; len <= valid.size(); ++len) {
        auto m = decode_pgoutput(std::string_view(valid).substr(0, len));
        EXPECT_EQ(m.ok(), len == valid.size()) << "length " << len;
    }
    for (int round = 0; round < 20000; ++round) {
        std::string input(1, tags[rng() % tags.size()]);
        size_t len = rng() % 48;
        for (size_t idx = 0; idx < len; ++idx) input.push_back(static_cast<char>(rng() % 4 == 0 ? 0 : rng() & 0xff));
        auto m = decode_pgoutput(input);
        auto s = decode_stream_message(input);
        if (!m.ok()) {
            EXPECT_FALSE(m.err().message().empty());
        }
        if (!s.ok()) {
            EXPECT_FALSE(s.err().message().empty());
        }
    }
}

}  // namespace
}  // namespace millrace::cdc
