// One test per produce validation rule: the error code Kafka answers, the
// per-record errors where Kafka gives them, and a message naming the numbers.
#include "protocol/batch_validator.h"

#include <gtest/gtest.h>

#include "batch_builder.h"
#include "batch_mutation.h"

namespace millrace::kafka {
namespace {

using testing::build_batch;

constexpr int64_t k_now = 1'700'000'000'000;

produce_policy policy_at_now() {
    produce_policy p;
    p.now_ms = k_now;
    return p;
}

std::string three_records() { return build_batch({{"k1", "v1"}, {"k2", "v2"}, {"k3", "v3"}}, {.base_timestamp = k_now}); }

produce_verdict check(const std::string& records, produce_policy p = policy_at_now()) { return validate_produce(records, p); }

TEST(batch_validator_test, valid_batch_passes) {
    auto v = check(three_records());
    EXPECT_TRUE(v.ok()) << v.message;
}

TEST(batch_validator_test, every_codec_with_a_good_body_passes) {
    auto batch = three_records();
    auto records = testing::records_of(batch);
    for (auto [codec, body] : {std::pair{1, testing::gzip_bytes(records)}, std::pair{3, testing::lz4_bytes(records)},
                               std::pair{4, testing::zstd_bytes(records)}}) {
        auto v = check(testing::with_body(batch, codec, body));
        EXPECT_TRUE(v.ok()) << "codec " << codec << ": " << v.message;
    }
}

TEST(batch_validator_test, crc_mismatch_is_corrupt_message) {
    auto batch = three_records();
    batch[batch.size() - 2] ^= 0x01;
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::corrupt_message);
    EXPECT_NE(v.message.find("CRC mismatch"), std::string::npos) << v.message;
}

TEST(batch_validator_test, truncated_batch_is_corrupt_message) {
    auto batch = three_records();
    auto v = check(batch.substr(0, batch.size() - 3));
    EXPECT_EQ(v.error, error_code::corrupt_message);
    EXPECT_NE(v.message.find("truncated"), std::string::npos) << v.message;
}

TEST(batch_validator_test, short_header_is_corrupt_message) {
    EXPECT_EQ(check(three_records().substr(0, 40)).error, error_code::corrupt_message);
}

TEST(batch_validator_test, magic_other_than_2_is_invalid_record) {
    auto batch = three_records();
    batch[batch_format::k_magic] = 1;
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("magic"), std::string::npos) << v.message;
}

TEST(batch_validator_test, unknown_codec_is_unsupported_compression_type) {
    for (int codec : {5, 6, 7}) {
        auto batch = three_records();
        testing::set_attributes(batch, static_cast<uint16_t>(codec));
        auto v = check(batch);
        EXPECT_EQ(v.error, error_code::unsupported_compression_type) << "codec " << codec;
        EXPECT_NE(v.message.find(std::to_string(codec)), std::string::npos) << v.message;
    }
}

TEST(batch_validator_test, zstd_before_produce_v7_is_unsupported_compression_type) {
    auto batch = three_records();
    auto zstd = testing::with_body(batch, 4, testing::zstd_bytes(testing::records_of(batch)));
    auto p = policy_at_now();
    p.produce_version = 6;
    EXPECT_EQ(check(zstd, p).error, error_code::unsupported_compression_type);
    p.produce_version = 7;
    EXPECT_TRUE(check(zstd, p).ok());
}

TEST(batch_validator_test, corrupt_gzip_body_is_corrupt_message) {
    auto batch = three_records();
    auto gz = testing::gzip_bytes(testing::records_of(batch));
    for (size_t idx = 12; idx < gz.size() - 8; ++idx) gz[idx] = static_cast<char>(gz[idx] ^ 0x5a);
    auto v = check(testing::with_body(batch, 1, gz));
    EXPECT_FALSE(v.ok());
    EXPECT_TRUE(v.error == error_code::corrupt_message || v.error == error_code::invalid_record) << v.message;
}

TEST(batch_validator_test, corrupt_lz4_body_is_corrupt_message) {
    auto batch = three_records();
    auto v = check(testing::with_body(batch, 3, std::string("\x04\x22\x4d\x18garbage-after-magic", 23)));
    EXPECT_EQ(v.error, error_code::corrupt_message) << v.message;
    EXPECT_NE(v.message.find("lz4"), std::string::npos) << v.message;
}

TEST(batch_validator_test, last_offset_delta_beyond_record_count_is_invalid_record) {
    auto batch = three_records();
    testing::set_int32_field(batch, batch_format::k_last_offset_delta, 4'150'210'000 & 0x7fffffff);
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("Inconsistent batch offset range"), std::string::npos) << v.message;
}

TEST(batch_validator_test, negative_last_offset_delta_is_invalid_record) {
    auto batch = three_records();
    testing::set_int32_field(batch, batch_format::k_last_offset_delta, -1);
    EXPECT_EQ(check(batch).error, error_code::invalid_record);
}

TEST(batch_validator_test, zero_record_count_is_invalid_record) {
    auto batch = build_batch({{"k", "v"}}, {.base_timestamp = k_now});
    batch.resize(batch_format::k_header_size);
    testing::set_int32_field(batch, batch_format::k_records_count, 0);
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("count"), std::string::npos) << v.message;
}

TEST(batch_validator_test, records_count_above_records_held_is_invalid_record) {
    auto batch = three_records();
    testing::set_int32_field(batch, batch_format::k_records_count, 4);
    testing::set_int32_field(batch, batch_format::k_last_offset_delta, 3);
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("declares 4 records but holds 3"), std::string::npos) << v.message;
}

TEST(batch_validator_test, records_count_below_records_held_is_invalid_record) {
    auto batch = three_records();
    testing::set_int32_field(batch, batch_format::k_records_count, 2);
    testing::set_int32_field(batch, batch_format::k_last_offset_delta, 1);
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("remain after the 2 declared records"), std::string::npos) << v.message;
}

TEST(batch_validator_test, count_mismatch_inside_a_compressed_body_is_invalid_record) {
    auto batch = three_records();
    auto two = build_batch({{"k1", "v1"}, {"k2", "v2"}}, {.base_timestamp = k_now});
    auto v = check(testing::with_body(batch, 1, testing::gzip_bytes(testing::records_of(two))));
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("declares 3 records but holds 2"), std::string::npos) << v.message;
}

TEST(batch_validator_test, record_length_beyond_the_batch_is_invalid_record) {
    auto batch = three_records();
    // The first record's length varint (one byte, zigzag): claim 63 bytes.
    batch[batch_format::k_header_size] = static_cast<char>(63 << 1);
    testing::reseal(batch);
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("record 0"), std::string::npos) << v.message;
}

TEST(batch_validator_test, record_offset_delta_out_of_sequence_is_a_record_error) {
    auto batch = three_records();
    // Record layout: length, attributes, timestamp delta, offset delta. Record 0's offset delta -> 2.
    batch[batch_format::k_header_size + 3] = static_cast<char>(2 << 1);
    testing::reseal(batch);
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_record);
    ASSERT_EQ(v.record_errors.size(), 1u);
    EXPECT_EQ(v.record_errors[0].batch_index, 0);
    EXPECT_NE(v.message.find("offset delta 2"), std::string::npos) << v.message;
}

TEST(batch_validator_test, control_bit_from_a_client_is_invalid_record) {
    auto batch = three_records();
    testing::set_attributes(batch, batch_format::k_control);
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("control"), std::string::npos) << v.message;
}

TEST(batch_validator_test, transactional_bit_needs_a_transactional_producer) {
    auto idempotent = build_batch({{"k", "v"}}, {.base_timestamp = k_now, .producer_id = 7, .producer_epoch = 0, .base_sequence = 0});
    testing::set_attributes(idempotent, batch_format::k_transactional);
    EXPECT_EQ(check(idempotent).error, error_code::transactional_id_authorization_failed);
    auto p = policy_at_now();
    p.transactional_request = true;
    EXPECT_TRUE(check(idempotent, p).ok());

    auto no_producer = three_records();
    testing::set_attributes(no_producer, batch_format::k_transactional);
    EXPECT_EQ(check(no_producer, p).error, error_code::invalid_record);
}

TEST(batch_validator_test, producer_id_without_sequence_is_invalid_record) {
    auto batch = build_batch({{"k", "v"}}, {.base_timestamp = k_now, .producer_id = 7, .producer_epoch = 0, .base_sequence = -1});
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("sequence"), std::string::npos) << v.message;
}

TEST(batch_validator_test, non_zero_base_offset_is_invalid_record) {
    auto batch = three_records();
    write_int64_at(batch, batch_format::k_base_offset, 5);  // outside the CRC
    EXPECT_EQ(check(batch).error, error_code::invalid_record);
}

TEST(batch_validator_test, second_batch_in_one_partition_is_invalid_record) {
    auto v = check(three_records() + three_records());
    EXPECT_EQ(v.error, error_code::invalid_record);
    EXPECT_NE(v.message.find("exactly one record batch"), std::string::npos) << v.message;
}

TEST(batch_validator_test, batch_above_max_message_bytes_is_message_too_large) {
    auto batch = three_records();
    auto p = policy_at_now();
    p.max_message_bytes = static_cast<int64_t>(batch.size()) - 1;
    auto v = check(batch, p);
    EXPECT_EQ(v.error, error_code::message_too_large);
    EXPECT_NE(v.message.find(std::to_string(batch.size())), std::string::npos) << v.message;
    p.max_message_bytes = static_cast<int64_t>(batch.size());
    EXPECT_TRUE(check(batch, p).ok());
}

TEST(batch_validator_test, create_time_too_far_in_the_future_is_invalid_timestamp_per_record) {
    auto batch = build_batch({{"k1", "v1"}, {"k2", "v2"}}, {.base_timestamp = k_now + 3'600'000});  // second record +1 ms
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_timestamp);
    ASSERT_EQ(v.record_errors.size(), 1u);
    EXPECT_EQ(v.record_errors[0].batch_index, 1);
    EXPECT_NE(v.record_errors[0].message.find("out of range"), std::string::npos) << v.record_errors[0].message;
}

TEST(batch_validator_test, create_time_older_than_before_max_is_invalid_timestamp) {
    auto batch = build_batch({{"k1", "v1"}, {"k2", "v2"}}, {.base_timestamp = k_now - 1000});
    auto p = policy_at_now();
    p.timestamp_before_max_ms = 999;
    auto v = check(batch, p);
    EXPECT_EQ(v.error, error_code::invalid_timestamp);
    ASSERT_EQ(v.record_errors.size(), 1u);  // record 1 is 999 ms old: in range
    EXPECT_EQ(v.record_errors[0].batch_index, 0);
}

TEST(batch_validator_test, extreme_timestamps_do_not_overflow) {
    auto batch = build_batch({{"k", "v"}}, {.base_timestamp = INT64_MIN + 5});
    EXPECT_EQ(check(batch).error, error_code::invalid_timestamp);  // now - ts exceeds INT64_MAX: older than any bound
}

// Fuzz finding (kafka_record_batch): base timestamp + a record's delta
// overflowed int64 (undefined behaviour, caught by UBSan).
TEST(batch_validator_test, timestamp_delta_overflowing_int64_is_invalid_timestamp) {
    auto batch = build_batch({{"k1", "v1"}, {"k2", "v2"}}, {.base_timestamp = INT64_MAX - 2});
    testing::set_int64_field(batch, batch_format::k_base_timestamp, INT64_MAX);  // record 1: INT64_MAX + 1
    auto v = check(batch);
    EXPECT_EQ(v.error, error_code::invalid_timestamp);
    EXPECT_EQ(v.record_errors.size(), 2u);
}

TEST(batch_validator_test, log_append_time_topic_ignores_create_time_range) {
    auto batch = build_batch({{"k", "v"}}, {.base_timestamp = k_now + 10 * 3'600'000});
    auto p = policy_at_now();
    p.log_append_time = true;
    EXPECT_TRUE(check(batch, p).ok());
}

TEST(batch_validator_test, log_append_time_from_a_producer_is_invalid_timestamp_on_such_topics) {
    auto batch = three_records();
    testing::set_attributes(batch, 0x08);
    auto p = policy_at_now();
    p.log_append_time = true;
    auto v = check(batch, p);
    EXPECT_EQ(v.error, error_code::invalid_timestamp);
    EXPECT_EQ(v.record_errors.size(), 3u);
}

TEST(batch_validator_test, keyless_record_on_compacted_topic_is_a_record_error) {
    auto batch = build_batch({{"k1", "v1"}, {std::nullopt, "v2"}, {"k3", "v3"}}, {.base_timestamp = k_now});
    auto p = policy_at_now();
    p.compacted = true;
    auto v = check(batch, p);
    EXPECT_EQ(v.error, error_code::invalid_record);
    ASSERT_EQ(v.record_errors.size(), 1u);
    EXPECT_EQ(v.record_errors[0].batch_index, 1);
    EXPECT_NE(v.message.find("1 record errors"), std::string::npos) << v.message;
}

TEST(batch_validator_test, decompression_bomb_is_refused) {
    auto batch = three_records();
    auto p = policy_at_now();
    p.max_decompressed_bytes = 10;
    auto v = check(testing::with_body(batch, 1, testing::gzip_bytes(testing::records_of(batch))), p);
    EXPECT_FALSE(v.ok());
}

TEST(batch_validator_test, empty_records_is_invalid_record) { EXPECT_EQ(check("").error, error_code::invalid_record); }

}  // namespace
}  // namespace millrace::kafka
