// Cell encoding, last-write-wins and Murmur3 tokens.
#include "storage/key_format.h"
#include "storage/murmur3.h"

#include <gtest/gtest.h>

namespace millrace::cql {
namespace {

namespace kf = key_format;

TEST(key_format_test, cell_round_trip) {
    auto bytes = kf::encode_cell(false, 1234, 99, 10, "value");
    auto c = kf::decode_cell(bytes);
    ASSERT_TRUE(c.has_value());
    EXPECT_FALSE(c->tombstone);
    EXPECT_EQ(c->timestamp, 1234);
    EXPECT_EQ(c->expiry, 99u);
    EXPECT_EQ(c->ttl, 10u);
    EXPECT_EQ(c->value, "value");
    EXPECT_TRUE(c->live(98));
    EXPECT_FALSE(c->live(99));
}

TEST(key_format_test, truncated_cell_is_rejected) {
    auto bytes = kf::encode_cell(false, 1, 0, 0, "");
    EXPECT_FALSE(kf::decode_cell(std::string_view(bytes).substr(0, kf::k_cell_header - 1)).has_value());
}

TEST(key_format_test, last_write_wins) {
    auto older = *kf::decode_cell(kf::encode_cell(false, 10, 0, 0, "b"));
    auto newer_bytes = kf::encode_cell(false, 11, 0, 0, "a");
    auto newer = *kf::decode_cell(newer_bytes);
    EXPECT_TRUE(kf::supersedes(newer, older));
    EXPECT_FALSE(kf::supersedes(older, newer));
    auto tomb_bytes = kf::encode_cell(true, 10, 0, 0, "");
    auto tomb = *kf::decode_cell(tomb_bytes);
    EXPECT_TRUE(kf::supersedes(tomb, older));  // tie: the tombstone wins
    EXPECT_FALSE(kf::supersedes(older, tomb));
}

TEST(key_format_test, tokens_order_keys_like_signed_integers) {
    std::string a, b, c;
    kf::append_token(a, INT64_MIN);
    kf::append_token(b, -1);
    kf::append_token(c, 5);
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    std::string key = kf::table_prefix(7) + c;
    EXPECT_EQ(kf::read_token(key), 5);
}

TEST(key_format_test, prefix_end_bounds_the_prefix) {
    EXPECT_EQ(kf::prefix_end("ab"), "ac");
    EXPECT_EQ(kf::prefix_end(std::string("a\xff", 2)), "b");
    EXPECT_EQ(kf::prefix_end(std::string("\xff", 1)), "");
}

// Known Murmur3Partitioner tokens (Cassandra's `token()` of these int/text keys).
TEST(key_format_test, murmur3_tokens_match_cassandra) {
    EXPECT_EQ(murmur3_token(std::string("\x00\x00\x00\x01", 4)), -4069959284402364209LL);
    EXPECT_EQ(murmur3_token(std::string("\x00\x00\x00\x02", 4)), -3248873570005575792LL);
    EXPECT_EQ(murmur3_token(""), 0);
}

}  // namespace
}  // namespace millrace::cql
