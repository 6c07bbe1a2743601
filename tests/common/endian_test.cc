#include "millrace/common/endian.h"

#include <gtest/gtest.h>

namespace millrace::endian {
namespace {

TEST(endian_test, appends_most_significant_byte_first) {
    std::string out;
    append_be<uint16_t>(out, 0x0102);
    append_be<uint32_t>(out, 0x03040506u);
    append_be<uint64_t>(out, 0x0708090A0B0C0D0Eull);
    EXPECT_EQ(out, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E", 14));
}

TEST(endian_test, loads_what_was_stored_at_offsets) {
    std::string buffer(13, '\0');
    store_be<uint32_t>(buffer, 1, 0xFEDCBA98u);
    store_be<uint64_t>(buffer, 5, 0x8000000000000001ull);
    EXPECT_EQ(static_cast<uint8_t>(buffer[1]), 0xFE);
    EXPECT_EQ(static_cast<uint8_t>(buffer[4]), 0x98);
    EXPECT_EQ(load_be<uint32_t>(buffer, 1), 0xFEDCBA98u);
    EXPECT_EQ(load_be<uint64_t>(buffer, 5), 0x8000000000000001ull);
    // Signed values go through their unsigned twin and back.
    EXPECT_EQ(static_cast<int32_t>(load_be<uint32_t>(std::string_view("\xFF\xFF\xFF\xFE", 4))), -2);
    const unsigned char raw[] = {0x12, 0x34};
    EXPECT_EQ(load_be<uint16_t>(raw), 0x1234);
}

TEST(endian_test, variable_widths_round_trip) {
    std::string out;
    append_be_width(out, 0x0A0B0C, 3);
    ASSERT_EQ(out, std::string("\x0A\x0B\x0C", 3));
    EXPECT_EQ(load_be_width(out), 0x0A0B0Cu);
    out.clear();
    append_be_width(out, 0x1122334455667788ull, 8);
    EXPECT_EQ(load_be_width(out), 0x1122334455667788ull);
    EXPECT_EQ(load_be_width(""), 0u);
    out.clear();
    append_be_width(out, 0x1FF, 1);  // only the low byte
    EXPECT_EQ(out, "\xFF");
}

}  // namespace
}  // namespace millrace::endian
