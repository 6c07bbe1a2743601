// Produce-time validation against a running broker, one test per rule: a good
// batch, the bad one (refused with Kafka's error code, record errors and
// message in Produce v8), another good batch; then every record is read back
// and the offsets are contiguous.
#include <functional>
#include <memory>
#include <optional>
#include <tuple>

#include <gtest/gtest.h>

#include "batch_builder.h"
#include "batch_mutation.h"
#include "harness/process.h"
#include "protocol/errors.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"
#include "protocol/wire.h"
#include "raw_client.h"

namespace millrace::kafka {
namespace {

using testing::build_batch;
using testing::raw_client;

struct produce_answer {
    int16_t error = -100;
    int64_t base_offset = -1;
    std::vector<std::pair<int32_t, std::string>> record_errors;
    std::optional<std::string> message;
};

// Produce v8 (record errors, error message), acks=-1, one partition.
produce_answer produce_v8(raw_client& c, const std::string& topic, const std::string& records,
                          std::optional<std::string> transactional_id = std::nullopt) {
    std::string body;
    writer w(body);
    w.nullable_string(transactional_id, false);
    w.int16(-1);
    w.int32(10'000);
    w.array_length(1, false);
    w.string(topic, false);
    w.array_length(1, false);
    w.int32(0);
    w.bytes(records, false);
    c.send(0, 8, 11, body);
    std::string response = c.receive();
    produce_answer out;
    if (response.empty()) {
        ADD_FAILURE() << "no produce response from the broker";
        return out;
    }
    reader r(response);
    EXPECT_EQ(r.int32(), 11);
    EXPECT_EQ(r.array_length(false), 1);
    EXPECT_EQ(r.string(false), topic);
    EXPECT_EQ(r.array_length(false), 1);
    EXPECT_EQ(r.int32(), 0);
    out.error = r.int16();
    out.base_offset = r.int64();
    r.int64();  // log append time
    r.int64();  // log start offset
    int32_t count = r.array_length(false);
    for (int32_t idx = 0; idx < count; ++idx) {
        int32_t batch_index = r.int32();
        out.record_errors.emplace_back(batch_index, r.nullable_string(false).value_or(""));
    }
    out.message = r.nullable_string(false);
    return out;
}

void create_topic(raw_client& c, const std::string& topic, const std::vector<std::pair<std::string, std::string>>& configs) {
    std::string body;
    writer w(body);
    w.array_length(1, false);
    w.string(topic, false);
    w.int32(1);
    w.int16(1);
    w.array_length(0, false);
    w.array_length(static_cast<int32_t>(configs.size()), false);
    for (const auto& [name, value] : configs) {
        w.string(name, false);
        w.string(value, false);
    }
    w.int32(10'000);
    w.boolean(false);
    c.send(19, 4, 1, body);
    std::string response = c.receive();
    reader r(response);
    r.int32();
    r.int32();
    ASSERT_EQ(r.array_length(false), 1);
    EXPECT_EQ(r.string(false), topic);
    ASSERT_EQ(r.int16(), 0) << "CreateTopics " << topic;
}

// Every (offset, value) of partition 0, with Fetch v4 from offset 0.
std::vector<std::pair<int64_t, std::string>> read_all(raw_client& c, const std::string& topic) {
    std::vector<std::pair<int64_t, std::string>> out;
    int64_t offset = 0;
    for (int round = 0; round < 100; ++round) {
        std::string body;
        writer w(body);
        w.int32(-1);
        w.int32(100);
        w.int32(1);
        w.int32(1 << 20);
        w.int8(0);
        w.array_length(1, false);
        w.string(topic, false);
        w.array_length(1, false);
        w.int32(0);
        w.int64(offset);
        w.int32(1 << 20);
        c.send(1, 4, 8, body);
        std::string response = c.receive();
        reader r(response);
        r.int32();
        r.int32();
        r.array_length(false);
        r.string(false);
        r.array_length(false);
        r.int32();
        EXPECT_EQ(r.int16(), 0);
        int64_t high_watermark = r.int64();
        r.int64();
        r.array_length(false);
        auto records = r.nullable_bytes(false);
        if (!records || records->empty()) break;
        auto st = for_each_batch(*records, [&](std::string_view batch) -> status {
            auto read = for_each_record(batch, [&](const record_view& rec) {
                out.emplace_back(rec.offset, std::string(rec.value.value_or("")));
            });
            offset = read_header(batch).last_offset() + 1;
            return read;
        });
        EXPECT_TRUE(st.ok()) << st.err().message();
        if (offset >= high_watermark) break;
    }
    return out;
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string good(const std::string& tag) {
    return build_batch({{"k", tag + "-0"}, {"k", tag + "-1"}}, {.base_timestamp = now_ms()});
}

class produce_validation_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<millrace::testing::temp_dir>();
        server_ = std::make_unique<millrace::testing::server>(millrace::testing::start_server("broker", dir_->file("data")));
    }
    static void TearDownTestSuite() {
        server_.reset();
        dir_.reset();
    }

    // good batch, `bad` (expecting `error` and `record_errors` per-record
    // errors), good batch; then reads back exactly the four good records at
    // offsets 0-3.
    void expect_refused(const std::string& bad, error_code error, size_t record_errors = 0,
                        const std::vector<std::pair<std::string, std::string>>& configs = {},
                        std::optional<std::string> transactional_id = std::nullopt) {
        ASSERT_TRUE(server_ && server_->proc);
        const std::string topic = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        raw_client c(server_->address);
        create_topic(c, topic, configs);
        auto before = produce_v8(c, topic, good("before"));
        ASSERT_EQ(before.error, 0) << before.message.value_or("");
        auto refused = produce_v8(c, topic, bad, transactional_id);
        EXPECT_EQ(refused.error, wire(error)) << refused.message.value_or("(no message)");
        EXPECT_EQ(refused.base_offset, -1);
        EXPECT_EQ(refused.record_errors.size(), record_errors);
        ASSERT_TRUE(refused.message.has_value()) << "Produce v8 carries an error message";
        EXPECT_FALSE(refused.message->empty());
        auto after = produce_v8(c, topic, good("after"));
        ASSERT_EQ(after.error, 0) << after.message.value_or("");
        EXPECT_EQ(after.base_offset, 2) << "the refused batch must not take offsets";
        auto records = read_all(c, topic);
        std::vector<std::pair<int64_t, std::string>> expected = {
            {0, "before-0"}, {1, "before-1"}, {2, "after-0"}, {3, "after-1"}};
        EXPECT_EQ(records, expected);
        // The connection stays usable and the broker still answers a fresh one.
        raw_client fresh(server_->address);
        EXPECT_EQ(produce_v8(fresh, topic, good("later")).base_offset, 4);
    }

    static std::unique_ptr<millrace::testing::temp_dir> dir_;
    static std::unique_ptr<millrace::testing::server> server_;
};

std::unique_ptr<millrace::testing::temp_dir> produce_validation_test::dir_;
std::unique_ptr<millrace::testing::server> produce_validation_test::server_;

std::string three() { return build_batch({{"a", "1"}, {"b", "2"}, {"c", "3"}}, {.base_timestamp = now_ms()}); }

TEST_F(produce_validation_test, crc_mismatch) {
    auto bad = three();
    bad[bad.size() - 1] ^= 0x10;
    expect_refused(bad, error_code::corrupt_message);
}

TEST_F(produce_validation_test, magic_1) {
    auto bad = three();
    bad[batch_format::k_magic] = 1;
    expect_refused(bad, error_code::invalid_record);
}

TEST_F(produce_validation_test, unknown_codec_5) {
    auto bad = three();
    testing::set_attributes(bad, 5);
    expect_refused(bad, error_code::unsupported_compression_type);
}

TEST_F(produce_validation_test, corrupt_gzip_body) {
    auto batch = three();
    auto gz = testing::gzip_bytes(testing::records_of(batch));
    for (size_t idx = 10; idx < gz.size(); ++idx) gz[idx] = static_cast<char>(~gz[idx]);
    expect_refused(testing::with_body(batch, 1, gz), error_code::corrupt_message);
}

TEST_F(produce_validation_test, corrupt_lz4_body) {
    auto batch = three();
    auto lz = testing::lz4_bytes(testing::records_of(batch));
    for (size_t idx = 7; idx < lz.size(); ++idx) lz[idx] = static_cast<char>(lz[idx] ^ 0x33);
    expect_refused(testing::with_body(batch, 3, lz), error_code::corrupt_message);
}

TEST_F(produce_validation_test, control_bit_from_client) {
    auto bad = three();
    testing::set_attributes(bad, batch_format::k_control);
    expect_refused(bad, error_code::invalid_record);
}

TEST_F(produce_validation_test, transactional_bit_without_transactional_id) {
    auto bad = build_batch({{"a", "1"}}, {.base_timestamp = now_ms(), .producer_id = 4242, .producer_epoch = 0, .base_sequence = 0});
    testing::set_attributes(bad, batch_format::k_transactional);
    expect_refused(bad, error_code::transactional_id_authorization_failed);
}

TEST_F(produce_validation_test, last_offset_delta_beyond_records) {
    auto bad = three();
    testing::set_int32_field(bad, batch_format::k_last_offset_delta, 2'000'000'000);
    expect_refused(bad, error_code::invalid_record);
}

TEST_F(produce_validation_test, record_count_beyond_records) {
    auto bad = three();
    testing::set_int32_field(bad, batch_format::k_records_count, 9);
    testing::set_int32_field(bad, batch_format::k_last_offset_delta, 8);
    expect_refused(bad, error_code::invalid_record);
}

TEST_F(produce_validation_test, record_count_mismatch_inside_zstd_body) {
    auto batch = three();
    auto one = build_batch({{"a", "1"}}, {.base_timestamp = now_ms()});
    expect_refused(testing::with_body(batch, 4, testing::zstd_bytes(testing::records_of(one))), error_code::invalid_record);
}

TEST_F(produce_validation_test, record_offset_delta_out_of_sequence) {
    auto bad = three();
    bad[batch_format::k_header_size + 3] = static_cast<char>(5 << 1);
    testing::reseal(bad);
    expect_refused(bad, error_code::invalid_record, 1);
}

TEST_F(produce_validation_test, timestamp_after_max) {
    auto bad = build_batch({{"a", "1"}, {"b", "2"}}, {.base_timestamp = now_ms() + 10 * 60'000});
    expect_refused(bad, error_code::invalid_timestamp, 2, {{"message.timestamp.after.max.ms", "60000"}});
}

TEST_F(produce_validation_test, timestamp_before_max) {
    auto bad = build_batch({{"a", "1"}}, {.base_timestamp = now_ms() - 10 * 60'000});
    expect_refused(bad, error_code::invalid_timestamp, 1, {{"message.timestamp.before.max.ms", "60000"}});
}

TEST_F(produce_validation_test, batch_above_max_message_bytes) {
    auto bad = build_batch({{"a", std::string(600, 'x')}}, {.base_timestamp = now_ms()});
    expect_refused(bad, error_code::message_too_large, 0, {{"max.message.bytes", "500"}});
}

TEST_F(produce_validation_test, keyless_record_on_compacted_topic) {
    auto bad = build_batch({{"a", "1"}, {std::nullopt, "2"}}, {.base_timestamp = now_ms()});
    expect_refused(bad, error_code::invalid_record, 1, {{"cleanup.policy", "compact"}});
}

TEST_F(produce_validation_test, two_batches_in_one_partition) {
    expect_refused(three() + three(), error_code::invalid_record);
}

}  // namespace
}  // namespace millrace::kafka
