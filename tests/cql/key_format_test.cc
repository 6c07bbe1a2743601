// Cell encoding, last-write-wins and Murmur3 tokens.
#include "storage/key_format.h"
#include "storage/murmur3.h"

#include <map>
#include <tuple>

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

// The columns of a packed row as a map id -> (tombstone, timestamp, value).
std::map<uint16_t, std::tuple<bool, int64_t, std::string>> columns_of(const std::string& bytes) {
    std::map<uint16_t, std::tuple<bool, int64_t, std::string>> out;
    auto marker = kf::decode_cell(bytes);
    EXPECT_TRUE(marker.has_value());
    if (!marker) return out;
    EXPECT_TRUE(marker->packed);
    EXPECT_TRUE(kf::for_each_packed_column(*marker, [&](uint16_t id, const kf::cell& c) {
        out[id] = {c.tombstone, c.timestamp, std::string(c.value)};
    }));
    return out;
}

std::string packed(int64_t ts, std::vector<kf::packed_column> columns, uint32_t expiry = 0, uint32_t ttl = 0) {
    return kf::encode_packed_row(kf::cell{false, true, ts, expiry, ttl, {}}, columns);
}

TEST(key_format_test, packed_row_round_trip) {
    // Column 2 shares the marker's timestamp, expiry and ttl; 3 has its own; 4 is a null (tombstone).
    auto bytes = packed(100, {{2, kf::cell{false, false, 100, 50, 5, "two"}}, {3, kf::cell{false, false, 90, 0, 0, "three"}},
                              {4, kf::cell{true, false, 100, 7, 0, {}}}},
                        50, 5);
    auto marker = kf::decode_cell(bytes);
    ASSERT_TRUE(marker.has_value());
    EXPECT_TRUE(marker->packed);
    EXPECT_FALSE(marker->tombstone);
    EXPECT_EQ(marker->timestamp, 100);
    EXPECT_EQ(marker->expiry, 50u);
    std::vector<std::pair<uint16_t, kf::cell>> seen;
    ASSERT_TRUE(kf::for_each_packed_column(*marker, [&](uint16_t id, const kf::cell& c) { seen.emplace_back(id, c); }));
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].first, 2);
    EXPECT_EQ(seen[0].second.value, "two");
    EXPECT_EQ(seen[0].second.expiry, 50u);
    EXPECT_EQ(seen[0].second.ttl, 5u);
    EXPECT_EQ(seen[1].second.timestamp, 90);
    EXPECT_EQ(seen[1].second.expiry, 0u);
    EXPECT_EQ(seen[1].second.value, "three");
    EXPECT_TRUE(seen[2].second.tombstone);
    EXPECT_EQ(seen[2].second.expiry, 7u);
    // The shared header is not repeated: 17 (marker) + 2 (count) + 3 * (3 + 4) + 16 for each of columns 3 and 4
    // (their own timestamp, expiry and ttl) + the values.
    EXPECT_EQ(bytes.size(), 17u + 2 + 3 * 7 + 2 * 16 + 3 + 5);
}

TEST(key_format_test, truncated_packed_row_is_rejected) {
    auto bytes = packed(1, {{2, kf::cell{false, false, 1, 0, 0, "value"}}, {3, kf::cell{false, false, 1, 0, 0, "x"}}});
    for (size_t cut = kf::k_cell_header; cut < bytes.size(); ++cut) {
        auto marker = kf::decode_cell(std::string_view(bytes).substr(0, cut));
        ASSERT_TRUE(marker.has_value());
        EXPECT_FALSE(kf::for_each_packed_column(*marker, [](uint16_t, const kf::cell&) {})) << "cut at " << cut;
    }
    // Trailing bytes after the counted columns are damage too.
    auto longer = bytes + "x";
    EXPECT_FALSE(kf::for_each_packed_column(*kf::decode_cell(longer), [](uint16_t, const kf::cell&) {}));
}

TEST(key_format_test, packed_rows_merge_column_by_column) {
    auto older = packed(10, {{2, kf::cell{false, false, 10, 0, 0, "a"}}, {3, kf::cell{false, false, 10, 0, 0, "b"}}});
    auto newer = packed(20, {{2, kf::cell{false, false, 20, 0, 0, "A"}}, {4, kf::cell{false, false, 20, 0, 0, "C"}}});
    // Either order of arrival gives the same row: 2 from the newer, 3 from the older, 4 from the newer.
    for (auto [incoming, existing] : {std::pair{newer, older}, std::pair{older, newer}}) {
        auto merged = kf::merge_row_marker(*kf::decode_cell(incoming), incoming, *kf::decode_cell(existing));
        std::string result = merged ? *merged : existing;
        EXPECT_EQ(kf::decode_cell(result)->timestamp, 20) << "the marker is the newest of the columns";
        auto cols = columns_of(result);
        ASSERT_EQ(cols.size(), 3u);
        EXPECT_EQ(std::get<2>(cols[2]), "A");
        EXPECT_EQ(std::get<2>(cols[3]), "b");
        EXPECT_EQ(std::get<2>(cols[4]), "C");
    }
}

TEST(key_format_test, row_tombstones_against_packed_rows) {
    auto row = packed(20, {{2, kf::cell{false, false, 20, 0, 0, "a"}}});
    auto newer_delete = kf::encode_cell(true, 30, 5, 0, "");
    auto older_delete = kf::encode_cell(true, 10, 5, 0, "");
    // A newer row delete replaces the whole packed row; an older one changes nothing.
    auto replaced = kf::merge_row_marker(*kf::decode_cell(newer_delete), newer_delete, *kf::decode_cell(row));
    ASSERT_TRUE(replaced.has_value());
    EXPECT_EQ(*replaced, newer_delete);
    EXPECT_FALSE(kf::merge_row_marker(*kf::decode_cell(older_delete), older_delete, *kf::decode_cell(row)).has_value());
    // An INSERT older than a row delete is shadowed by it; a newer one replaces it.
    EXPECT_FALSE(kf::merge_row_marker(*kf::decode_cell(row), row, *kf::decode_cell(kf::encode_cell(true, 25, 5, 0, ""))).has_value());
    auto revived = kf::merge_row_marker(*kf::decode_cell(row), row, *kf::decode_cell(older_delete));
    ASSERT_TRUE(revived.has_value());
    EXPECT_EQ(*revived, row);
    // A plain marker (an INSERT of the key alone) newer than the packed row keeps the columns.
    auto plain = kf::encode_cell(false, 40, 0, 0, "");
    auto refreshed = kf::merge_row_marker(*kf::decode_cell(plain), plain, *kf::decode_cell(row));
    ASSERT_TRUE(refreshed.has_value());
    EXPECT_EQ(kf::decode_cell(*refreshed)->timestamp, 40);
    EXPECT_EQ(std::get<2>(columns_of(*refreshed)[2]), "a");
}

TEST(key_format_test, row_merge_is_last_write_wins_in_any_order) {
    // A packed column and the column's own cell (UPDATE, DELETE of the column) read in either order.
    auto row_bytes = packed(20, {{2, kf::cell{false, false, 20, 0, 0, "inserted"}}, {3, kf::cell{false, false, 20, 0, 0, "kept"}}});
    auto row = *kf::decode_cell(row_bytes);
    auto update_bytes = kf::encode_cell(false, 30, 0, 0, "updated");
    auto delete_bytes = kf::encode_cell(true, 25, 9, 0, "");
    for (bool row_first : {true, false}) {
        kf::row_merge m;
        if (row_first) {
            ASSERT_TRUE(m.add_stored(0, row));
        }
        m.add_stored(2, *kf::decode_cell(update_bytes));
        m.add_stored(3, *kf::decode_cell(delete_bytes));
        if (!row_first) {
            ASSERT_TRUE(m.add_stored(0, row));
        }
        std::map<uint16_t, kf::cell> got;
        for (const auto& c : m.cells) got[c.id] = c.c;
        ASSERT_EQ(got.size(), 3u);
        EXPECT_FALSE(got[0].packed);
        EXPECT_EQ(got[0].value, "");
        EXPECT_EQ(got[2].value, "updated");
        EXPECT_TRUE(got[3].tombstone) << "the column's delete is newer than the insert";
    }
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
