#include "protocol/record_batch.h"

#include <gtest/gtest.h>

#include "batch_builder.h"

namespace millrace::kafka {
namespace {

TEST(record_batch_test, crc32c_matches_known_vector) {
    // CRC-32C of "123456789" is 0xe3069283.
    EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
    std::string long_input(1000, 'x');
    EXPECT_EQ(crc32c(long_input.data(), 1000), crc32c(long_input.data() + 0, 1000));
}

TEST(record_batch_test, built_batch_validates_and_parses) {
    auto batch = testing::build_batch({{"k1", "v1"}, {"k2", "v2"}, {"k3", "v3"}});
    ASSERT_TRUE(validate_batch(batch).ok()) << validate_batch(batch).err().message();
    auto h = read_header(batch);
    EXPECT_EQ(h.magic, 2);
    EXPECT_EQ(h.records_count, 3);
    EXPECT_EQ(h.last_offset_delta, 2);
    EXPECT_EQ(h.total_size(), batch.size());
}

TEST(record_batch_test, flipped_bit_fails_crc) {
    auto batch = testing::build_batch({{"k", "v"}});
    batch[batch.size() - 2] ^= 0x01;
    auto st = validate_batch(batch);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message().find("CRC mismatch"), std::string::npos);
}

TEST(record_batch_test, base_offset_is_outside_the_crc) {
    auto batch = testing::build_batch({{"k", "v"}});
    write_int64_at(batch, batch_format::k_base_offset, 12345);
    write_int32_at(batch, batch_format::k_leader_epoch, 7);
    EXPECT_TRUE(validate_batch(batch).ok());
}

TEST(record_batch_test, wrong_magic_is_unsupported) {
    auto batch = testing::build_batch({{"k", "v"}});
    batch[batch_format::k_magic] = 1;
    auto st = validate_batch(batch);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.err().code(), errc::unsupported);
}

TEST(record_batch_test, length_field_disagreeing_with_size_is_corrupt) {
    auto batch = testing::build_batch({{"k", "v"}});
    auto st = validate_batch(std::string_view(batch).substr(0, batch.size() - 1));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message().find("length field says"), std::string::npos);
    EXPECT_FALSE(validate_batch(std::string_view(batch).substr(0, 30)).ok());
}

TEST(record_batch_test, for_each_batch_rejects_partial_trailer) {
    auto a = testing::build_batch({{"a", "1"}});
    auto b = testing::build_batch({{"b", "2"}, {"c", "3"}});
    std::string both = a + b;
    int seen = 0;
    EXPECT_TRUE(for_each_batch(both, [&](std::string_view) -> status { ++seen; return {}; }).ok());
    EXPECT_EQ(seen, 2);
    auto st = for_each_batch(std::string_view(both).substr(0, both.size() - 3), [](std::string_view) -> status { return {}; });
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message().find("truncated batch"), std::string::npos);
}

}  // namespace
}  // namespace millrace::kafka
