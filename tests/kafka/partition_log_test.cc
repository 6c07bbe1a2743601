#include "storage/partition_log.h"

#include <gtest/gtest.h>

#include "batch_builder.h"
#include "protocol/records.h"
#include "storage/log_format.h"

namespace millrace::kafka::storage {
namespace {

using kafka::testing::batch_options;
using kafka::testing::build_batch;

std::vector<kafka::testing::test_record> records(int count, const std::string& prefix = "r") {
    std::vector<kafka::testing::test_record> out;
    for (int idx = 0; idx < count; ++idx) out.push_back({prefix + "-key-" + std::to_string(idx), prefix + "-value-" + std::to_string(idx)});
    return out;
}

std::vector<int64_t> base_offsets(const std::string& bytes) {
    std::vector<int64_t> out;
    EXPECT_TRUE(for_each_batch(bytes, [&](std::string_view batch) -> status {
                    EXPECT_TRUE(validate_batch(batch).ok());
                    out.push_back(read_header(batch).base_offset);
                    return {};
                }).ok());
    return out;
}

class partition_log_test : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(fs_.create_directories("/data").ok()); }
    std::unique_ptr<partition_log> open_log(bool clean, log_config cfg = {}) {
        auto log = std::make_unique<partition_log>(fs_, clock_, "/data/t-0", cfg);
        auto st = log->open(clean);
        EXPECT_TRUE(st.ok()) << st.err().message();
        return log;
    }

    memory_file_system fs_;
    manual_clock clock_;
};

TEST_F(partition_log_test, assigns_offsets_and_reads_back_from_any_offset) {
    auto log = open_log(true);
    auto first = log->append(build_batch(records(3)));
    ASSERT_EQ(first.error, error_code::none);
    EXPECT_EQ(first.base_offset, 0);
    EXPECT_EQ(first.last_offset, 2);
    auto second = log->append(build_batch(records(2)));
    EXPECT_EQ(second.base_offset, 3);
    EXPECT_EQ(log->next_offset(), 5);
    EXPECT_EQ(base_offsets(log->read(0, 1 << 20).records), (std::vector<int64_t>{0, 3}));
    EXPECT_EQ(base_offsets(log->read(4, 1 << 20).records), (std::vector<int64_t>{3}));
    EXPECT_EQ(base_offsets(log->read(1, 1 << 20).records), (std::vector<int64_t>{0, 3}));
}

TEST_F(partition_log_test, read_at_end_is_empty_and_beyond_is_out_of_range) {
    auto log = open_log(true);
    ASSERT_EQ(log->append(build_batch(records(2))).error, error_code::none);
    auto at_end = log->read(2, 1000);
    EXPECT_EQ(at_end.error, error_code::none);
    EXPECT_TRUE(at_end.records.empty());
    EXPECT_EQ(log->read(3, 1000).error, error_code::offset_out_of_range);
    EXPECT_EQ(log->read(-1, 1000).error, error_code::offset_out_of_range);
}

TEST_F(partition_log_test, small_max_bytes_still_returns_one_whole_batch) {
    auto log = open_log(true);
    auto batch = build_batch(records(10));
    ASSERT_EQ(log->append(batch).error, error_code::none);
    ASSERT_EQ(log->append(batch).error, error_code::none);
    auto got = log->read(0, 10);
    EXPECT_EQ(got.records.size(), batch.size());
    EXPECT_EQ(base_offsets(got.records), (std::vector<int64_t>{0}));
}

TEST_F(partition_log_test, rolls_segments_and_reads_across_them_after_reopen) {
    log_config cfg;
    cfg.segment_bytes = 1024;
    cfg.index_interval_bytes = 100;
    {
        auto log = open_log(true, cfg);
        for (int idx = 0; idx < 40; ++idx) ASSERT_EQ(log->append(build_batch(records(3))).error, error_code::none);
        ASSERT_TRUE(log->close().ok());
    }
    auto names = fs_.list("/data/t-0").value();
    EXPECT_GT(std::count_if(names.begin(), names.end(), [](const std::string& n) { return n.ends_with(".log"); }), 3);
    EXPECT_TRUE(fs_.exists("/data/t-0/" + segment_name(0) + ".index"));
    auto log = open_log(true, cfg);
    EXPECT_EQ(log->next_offset(), 120);
    for (int64_t offset : {0, 1, 59, 60, 61, 118, 119}) {
        auto got = log->read(offset, 1 << 20);
        ASSERT_EQ(got.error, error_code::none);
        auto bases = base_offsets(got.records);
        ASSERT_FALSE(bases.empty()) << offset;
        EXPECT_EQ(bases.front(), offset - offset % 3) << offset;
    }
}

TEST_F(partition_log_test, crash_keeps_synced_batches_and_drops_the_rest) {
    {
        auto log = open_log(true);
        ASSERT_EQ(log->append(build_batch(records(5))).error, error_code::none);
        ASSERT_TRUE(log->sync().ok());
        ASSERT_EQ(log->append(build_batch(records(5))).error, error_code::none);
    }
    fs_.simulate_crash();
    auto log = open_log(false);
    EXPECT_EQ(log->next_offset(), 5);
    EXPECT_EQ(base_offsets(log->read(0, 1 << 20).records), (std::vector<int64_t>{0}));
    EXPECT_EQ(log->append(build_batch(records(1))).base_offset, 5);
}

TEST_F(partition_log_test, torn_tail_on_disk_is_truncated_on_recovery) {
    {
        auto log = open_log(true);
        ASSERT_EQ(log->append(build_batch(records(4))).error, error_code::none);
        auto second = build_batch(records(4));
        ASSERT_EQ(log->append(second).error, error_code::none);
        ASSERT_TRUE(log->sync().ok());
    }
    // Cut the second batch in half, as a crash mid-write would.
    auto file = fs_.open("/data/t-0/" + segment_name(0) + ".log", open_mode::read_write).value();
    uint64_t full = file->size();
    ASSERT_TRUE(file->truncate(full - 20).ok());
    ASSERT_TRUE(file->sync().ok());
    auto log = open_log(false);
    EXPECT_GT(log->truncated_on_open(), 0u);
    EXPECT_EQ(log->next_offset(), 4);
    EXPECT_EQ(base_offsets(log->read(0, 1 << 20).records), (std::vector<int64_t>{0}));
}

TEST_F(partition_log_test, corrupt_batch_in_tail_is_truncated_on_recovery) {
    {
        auto log = open_log(true);
        ASSERT_EQ(log->append(build_batch(records(2))).error, error_code::none);
        ASSERT_EQ(log->append(build_batch(records(2))).error, error_code::none);
        ASSERT_TRUE(log->sync().ok());
    }
    auto path = "/data/t-0/" + segment_name(0) + ".log";
    auto bytes = read_file(fs_, path).value();
    bytes[bytes.size() - 3] ^= 0x40;  // flip a bit in the second batch's records
    ASSERT_TRUE(fs_.remove(path).ok());
    auto file = fs_.open(path, open_mode::read_write).value();
    ASSERT_TRUE(file->append(bytes).ok());
    ASSERT_TRUE(file->sync().ok());
    auto log = open_log(false);
    EXPECT_EQ(log->next_offset(), 2);
}

TEST_F(partition_log_test, failed_write_leaves_no_partial_batch) {
    fault_injection_file_system faulty(fs_);
    partition_log log(faulty, clock_, "/data/t-0", {});
    ASSERT_TRUE(log.open(true).ok());
    ASSERT_EQ(log.append(build_batch(records(2))).error, error_code::none);
    faulty.tear_next_append(10);
    auto failed = log.append(build_batch(records(2)));
    EXPECT_EQ(failed.error, error_code::kafka_storage_error);
    EXPECT_NE(failed.message.find("No space left on device"), std::string::npos);
    EXPECT_EQ(log.next_offset(), 2);
    auto ok = log.append(build_batch(records(2)));
    EXPECT_EQ(ok.base_offset, 2);
    EXPECT_EQ(base_offsets(log.read(0, 1 << 20).records), (std::vector<int64_t>{0, 2}));
}

TEST_F(partition_log_test, corrupt_produce_is_rejected_whole) {
    auto log = open_log(true);
    auto good = build_batch(records(1));
    auto bad = build_batch(records(1));
    bad.back() ^= 1;
    auto result = log->append(good + bad);
    EXPECT_EQ(result.error, error_code::corrupt_message);
    EXPECT_EQ(log->next_offset(), 0);
}

TEST_F(partition_log_test, oversized_batch_is_rejected) {
    log_config cfg;
    cfg.max_message_bytes = 100;
    auto log = open_log(true, cfg);
    auto result = log->append(build_batch(records(20)));
    EXPECT_EQ(result.error, error_code::message_too_large);
    EXPECT_NE(result.message.find("max.message.bytes 100"), std::string::npos);
}

TEST_F(partition_log_test, idempotent_retry_is_acknowledged_not_appended) {
    auto log = open_log(true);
    batch_options p{1'700'000'000'000, 42, 0, 0};
    auto first = log->append(build_batch(records(3), p));
    ASSERT_EQ(first.error, error_code::none);
    auto retry = log->append(build_batch(records(3), p));
    EXPECT_EQ(retry.error, error_code::none);
    EXPECT_TRUE(retry.duplicate);
    EXPECT_EQ(retry.base_offset, first.base_offset);
    EXPECT_EQ(log->next_offset(), 3);
    p.base_sequence = 3;
    EXPECT_EQ(log->append(build_batch(records(2), p)).base_offset, 3);
}

TEST_F(partition_log_test, out_of_order_sequence_is_rejected) {
    auto log = open_log(true);
    ASSERT_EQ(log->append(build_batch(records(3), {0, 7, 0, 0})).error, error_code::none);
    auto gap = log->append(build_batch(records(1), {0, 7, 0, 5}));
    EXPECT_EQ(gap.error, error_code::out_of_order_sequence_number);
    EXPECT_EQ(log->next_offset(), 3);
}

TEST_F(partition_log_test, new_producer_epoch_restarts_sequences_and_old_epoch_is_fenced) {
    auto log = open_log(true);
    ASSERT_EQ(log->append(build_batch(records(2), {0, 9, 3, 0})).error, error_code::none);
    EXPECT_EQ(log->append(build_batch(records(1), {0, 9, 4, 0})).error, error_code::none);
    EXPECT_EQ(log->append(build_batch(records(1), {0, 9, 3, 2})).error, error_code::invalid_producer_epoch);
}

TEST_F(partition_log_test, producer_state_survives_restart) {
    batch_options p{1'700'000'000'000, 5, 0, 0};
    {
        auto log = open_log(true);
        ASSERT_EQ(log->append(build_batch(records(2), p)).error, error_code::none);
        ASSERT_TRUE(log->sync().ok());
    }
    fs_.simulate_crash();
    auto log = open_log(false);
    auto retry = log->append(build_batch(records(2), p));
    EXPECT_TRUE(retry.duplicate);
    EXPECT_EQ(log->next_offset(), 2);
}

TEST_F(partition_log_test, timestamp_lookup_finds_first_batch_at_or_after) {
    auto log = open_log(true);
    for (int idx = 0; idx < 5; ++idx) {
        ASSERT_EQ(log->append(build_batch(records(2), {1000 + idx * 100, -1, -1, -1})).error, error_code::none);
    }
    using found = std::pair<int64_t, int64_t>;
    EXPECT_EQ(log->offset_for_timestamp(0), found(0, 1000));
    // Record-exact: the batch at offsets 4..5 holds timestamps 1200 and 1201.
    EXPECT_EQ(log->offset_for_timestamp(1201), found(5, 1201));
    EXPECT_EQ(log->offset_for_timestamp(1250), found(6, 1300));
    EXPECT_EQ(log->offset_for_timestamp(1301), found(7, 1301));
    EXPECT_EQ(log->offset_for_timestamp(99999), found(-1, -1));
    EXPECT_EQ(log->max_timestamp_offset(), found(9, 1401));
}

TEST_F(partition_log_test, retention_by_size_deletes_oldest_closed_segments) {
    log_config cfg;
    cfg.segment_bytes = 1024;
    cfg.retention_bytes = 2048;
    cfg.retention_ms = -1;
    auto log = open_log(true, cfg);
    for (int idx = 0; idx < 60; ++idx) ASSERT_EQ(log->append(build_batch(records(3))).error, error_code::none);
    EXPECT_GT(log->enforce_retention(), 0);
    EXPECT_LE(log->size_bytes(), 2048u + 1024u);
    EXPECT_GT(log->log_start_offset(), 0);
    EXPECT_EQ(log->read(0, 100).error, error_code::offset_out_of_range);
    EXPECT_EQ(log->read(log->log_start_offset(), 100).error, error_code::none);
}

TEST_F(partition_log_test, retention_by_time_uses_batch_timestamps) {
    log_config cfg;
    cfg.segment_bytes = 1024;
    cfg.retention_ms = 60'000;
    auto log = open_log(true, cfg);
    int64_t now = clock_.wall_millis();
    for (int idx = 0; idx < 30; ++idx) ASSERT_EQ(log->append(build_batch(records(3), {now - 120'000, -1, -1, -1})).error, error_code::none);
    for (int idx = 0; idx < 30; ++idx) ASSERT_EQ(log->append(build_batch(records(3), {now, -1, -1, -1})).error, error_code::none);
    int64_t before = log->log_start_offset();
    EXPECT_GT(log->enforce_retention(), 0);
    EXPECT_GT(log->log_start_offset(), before);
    EXPECT_LE(log->log_start_offset(), 90);
}

}  // namespace
}  // namespace millrace::kafka::storage

namespace millrace::kafka::storage {
namespace {

struct seen_record {
    int64_t offset;
    std::string key;
    std::optional<std::string> value;
    std::string headers;
    bool operator==(const seen_record&) const = default;
};

std::vector<seen_record> read_all(const partition_log& log) {
    std::vector<seen_record> out;
    int64_t offset = log.log_start_offset();
    while (offset < log.next_offset()) {
        auto got = log.read(offset, 1 << 20);
        EXPECT_EQ(got.error, error_code::none);
        if (got.records.empty()) break;
        EXPECT_TRUE(for_each_batch(got.records, [&](std::string_view batch) -> status {
                        EXPECT_TRUE(validate_batch(batch).ok());
                        auto st = for_each_record(batch, [&](const record_view& rec) {
                            if (rec.offset < offset) return;
                            out.push_back({rec.offset, std::string(rec.key.value_or("")),
                                           rec.value ? std::optional<std::string>(*rec.value) : std::nullopt,
                                           std::string(rec.headers)});
                        });
                        offset = read_header(batch).last_offset() + 1;
                        return st;
                    }).ok());
    }
    return out;
}

class compaction_test : public partition_log_test {
protected:
    log_config compacted() {
        log_config cfg;
        cfg.compact = true;
        cfg.delete_retention = false;
        cfg.segment_bytes = 1024;
        cfg.delete_retention_ms = 60'000;
        return cfg;
    }
};

TEST_F(compaction_test, keeps_newest_record_per_key_at_its_original_offset) {
    auto log = open_log(true, compacted());
    // 10 keys, each written 6 times over many segments.
    for (int round = 0; round < 6; ++round) {
        for (int key = 0; key < 10; ++key) {
            kafka::testing::test_record rec{"key-" + std::to_string(key), "round-" + std::to_string(round),
                                            {{"h", "r" + std::to_string(round)}}};
            ASSERT_EQ(log->append(build_batch({rec})).error, error_code::none);
        }
    }
    auto before = read_all(*log);
    ASSERT_EQ(before.size(), 60u);
    auto stats = log->compact();
    ASSERT_TRUE(stats.ok()) << stats.err().message();
    EXPECT_GT(stats->records_removed, 0);
    auto after = read_all(*log);
    // Every key still reads its newest value; no key appears twice; offsets unchanged.
    std::map<std::string, seen_record> newest;
    for (const auto& r : before) newest[r.key] = r;
    std::map<std::string, int> count;
    for (const auto& r : after) {
        count[r.key]++;
        if (r.offset == newest[r.key].offset) {
            EXPECT_EQ(r, newest[r.key]);  // value and headers intact
        }
    }
    for (const auto& [key, n] : count) EXPECT_EQ(n, 1) << key;  // older copies in closed segments are gone
    EXPECT_EQ(count.size(), 10u);
    EXPECT_LT(after.size(), before.size());
    // Reads from an offset inside a gap continue at the next kept record.
    auto from_gap = log->read(1, 1 << 20);
    EXPECT_EQ(from_gap.error, error_code::none);
    EXPECT_FALSE(from_gap.records.empty());
}

TEST_F(compaction_test, partially_kept_batch_is_rewritten_with_offsets_and_headers) {
    auto log = open_log(true, compacted());
    ASSERT_EQ(log->append(build_batch({{"a", "a1", {{"x", "1"}}}, {"b", "b1"}, {"c", "c1", {{"y", "2"}}}})).error,
              error_code::none);
    ASSERT_EQ(log->append(build_batch({{"b", "b2"}})).error, error_code::none);
    // Force a roll so the first segment is closed.
    log_config small = compacted();
    small.segment_bytes = 1;
    log->set_config(small);
    ASSERT_EQ(log->append(build_batch({{"d", "d1"}})).error, error_code::none);
    log->set_config(compacted());
    ASSERT_TRUE(log->compact().ok());
    auto after = read_all(*log);
    ASSERT_GE(after.size(), 3u);
    EXPECT_EQ(after[0].offset, 0);
    EXPECT_EQ(after[0].key, "a");
    EXPECT_EQ(after[1].offset, 2);
    EXPECT_EQ(after[1].key, "c");
    EXPECT_NE(after[1].headers.find("y"), std::string::npos);
}

TEST_F(compaction_test, tombstones_are_dropped_after_delete_retention) {
    auto log = open_log(true, compacted());
    int64_t now = clock_.wall_millis();
    ASSERT_EQ(log->append(build_batch({{"gone", "v"}}, {now})).error, error_code::none);
    ASSERT_EQ(log->append(build_batch({{"gone", std::nullopt}}, {now})).error, error_code::none);
    for (int idx = 0; idx < 40; ++idx) ASSERT_EQ(log->append(build_batch({{"other", "x"}}, {now})).error, error_code::none);
    ASSERT_TRUE(log->compact().ok());
    auto kept = read_all(*log);
    auto tombstone = std::find_if(kept.begin(), kept.end(), [](const seen_record& r) { return r.key == "gone"; });
    ASSERT_NE(tombstone, kept.end());
    EXPECT_FALSE(tombstone->value.has_value()) << "the tombstone stays within delete.retention.ms";
    clock_.advance(std::chrono::minutes(2));
    ASSERT_TRUE(log->compact().ok());
    kept = read_all(*log);
    EXPECT_EQ(std::count_if(kept.begin(), kept.end(), [](const seen_record& r) { return r.key == "gone"; }), 0);
}

TEST_F(compaction_test, compacted_log_survives_reopen_and_crash_leftovers_are_removed) {
    {
        auto log = open_log(true, compacted());
        for (int idx = 0; idx < 50; ++idx) ASSERT_EQ(log->append(build_batch({{"k" + std::to_string(idx % 3), "v"}})).error, error_code::none);
        ASSERT_TRUE(log->compact().ok());
        ASSERT_TRUE(log->close().ok());
    }
    // An unfinished compaction output, as a crash would leave it.
    auto leftover = fs_.open("/data/t-0/" + segment_name(0) + ".log.cleaned", open_mode::read_write).value();
    ASSERT_TRUE(leftover->append("garbage").ok());
    auto log = open_log(false, compacted());
    EXPECT_FALSE(fs_.exists("/data/t-0/" + segment_name(0) + ".log.cleaned"));
    EXPECT_EQ(log->next_offset(), 50);
    auto kept = read_all(*log);
    EXPECT_EQ(kept.back().offset, 49);
}

TEST_F(compaction_test, keyless_record_is_rejected_on_a_compacted_topic) {
    auto log = open_log(true, compacted());
    auto result = log->append(build_batch({{"k", "keyed"}, {std::nullopt, "no key"}}));
    EXPECT_EQ(result.error, error_code::invalid_record);
    EXPECT_NE(result.message.find("without a key"), std::string::npos);
    EXPECT_EQ(log->next_offset(), 0);
    EXPECT_EQ(log->append(build_batch({{"", "an empty key is a key"}})).error, error_code::none);
}

}  // namespace
}  // namespace millrace::kafka::storage

namespace millrace::kafka::storage {
namespace {

class partition_log_delete_records_test : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(fs_.create_directories("/data").ok()); }
    std::unique_ptr<partition_log> make(log_config cfg = {}) {
        return std::make_unique<partition_log>(fs_, clock_, "/data/t-0", cfg);
    }
    memory_file_system fs_;
    manual_clock clock_;
};

std::vector<kafka::testing::test_record> three() { return {{"k", "a"}, {"k", "b"}, {"k", "c"}}; }

TEST_F(partition_log_delete_records_test, start_moves_segments_go_and_it_survives_reopen) {
    log_config cfg;
    cfg.segment_bytes = 1024;
    {
        auto log = make(cfg);
        ASSERT_TRUE(log->open(true).ok());
        for (int idx = 0; idx < 40; ++idx) ASSERT_EQ(log->append(kafka::testing::build_batch(three())).error, error_code::none);
        size_t before = fs_.list("/data/t-0").value().size();
        ASSERT_TRUE(log->delete_records_before(61).ok());
        EXPECT_EQ(log->log_start_offset(), 61);
        EXPECT_LT(fs_.list("/data/t-0").value().size(), before);  // whole segments below 61 are gone
        EXPECT_EQ(log->read(60, 1 << 20).error, error_code::offset_out_of_range);
        EXPECT_EQ(log->read(61, 1 << 20).error, error_code::none);
        ASSERT_TRUE(log->delete_records_before(10).ok());  // below the start: nothing changes
        EXPECT_EQ(log->log_start_offset(), 61);
        ASSERT_TRUE(log->close().ok());
    }
    auto log = make(cfg);
    ASSERT_TRUE(log->open(true).ok());
    EXPECT_EQ(log->log_start_offset(), 61);
    EXPECT_EQ(log->next_offset(), 120);
}

TEST_F(partition_log_delete_records_test, minus_one_means_the_high_watermark) {
    auto log = make();
    ASSERT_TRUE(log->open(true).ok());
    ASSERT_EQ(log->append(kafka::testing::build_batch(three())).error, error_code::none);
    ASSERT_TRUE(log->delete_records_before(-1).ok());
    EXPECT_EQ(log->log_start_offset(), 3);
}

TEST_F(partition_log_delete_records_test, beyond_the_log_end_is_refused) {
    auto log = make();
    ASSERT_TRUE(log->open(true).ok());
    ASSERT_EQ(log->append(kafka::testing::build_batch(three())).error, error_code::none);
    auto st = log->delete_records_before(4);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.err().code(), errc::invalid_argument);
    EXPECT_NE(st.err().message().find("ends at 3"), std::string::npos) << st.err().message();
    EXPECT_EQ(log->log_start_offset(), 0);
}

TEST_F(partition_log_delete_records_test, unreadable_checkpoint_is_corruption) {
    {
        auto log = make();
        ASSERT_TRUE(log->open(true).ok());
        ASSERT_TRUE(log->close().ok());
    }
    ASSERT_TRUE(write_file_atomic(fs_, "/data/t-0/log-start-offset", "seven").ok());
    auto log = make();
    auto st = log->open(true);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.err().code(), errc::corruption);
    EXPECT_NE(st.err().message().find("log-start-offset"), std::string::npos) << st.err().message();
}

// Transactions (KIP-98): the last stable offset stops at the oldest open
// transaction; markers close them; aborted ones are listed for read_committed.
batch_options txn_batch(int64_t producer_id, int32_t sequence) {
    batch_options opt;
    opt.producer_id = producer_id;
    opt.producer_epoch = 0;
    opt.base_sequence = sequence;
    opt.transactional = true;
    return opt;
}

TEST_F(partition_log_test, last_stable_offset_stops_at_the_oldest_open_transaction) {
    auto log = open_log(true);
    ASSERT_EQ(log->append(build_batch(records(2))).error, error_code::none);          // 0-1
    ASSERT_EQ(log->append(build_batch(records(3), txn_batch(7, 0))).error, error_code::none);  // 2-4
    ASSERT_EQ(log->append(build_batch(records(1))).error, error_code::none);          // 5
    EXPECT_EQ(log->last_stable_offset(), 2);
    EXPECT_EQ(log->open_txn_start(7), 2);
    // read_committed reads stop before the open transaction.
    EXPECT_EQ(base_offsets(log->read(0, 1 << 20, log->last_stable_offset()).records), (std::vector<int64_t>{0}));
    EXPECT_TRUE(log->read(2, 1 << 20, log->last_stable_offset()).records.empty());
    auto marker = log->append_marker(7, 0, /*commit=*/true, 0);
    ASSERT_EQ(marker.error, error_code::none);
    EXPECT_EQ(marker.base_offset, 6);
    EXPECT_EQ(log->last_stable_offset(), 7);
    EXPECT_EQ(log->open_txn_start(7), -1);
    EXPECT_TRUE(log->aborted_between(0, 7).empty());
}

TEST_F(partition_log_test, abort_marker_lists_the_transaction_for_read_committed_readers) {
    auto log = open_log(true);
    ASSERT_EQ(log->append(build_batch(records(3), txn_batch(7, 0))).error, error_code::none);  // 0-2
    ASSERT_EQ(log->append(build_batch(records(2), txn_batch(8, 0))).error, error_code::none);  // 3-4
    ASSERT_EQ(log->append_marker(7, 0, /*commit=*/false, 0).error, error_code::none);          // 5
    EXPECT_EQ(log->last_stable_offset(), 3);  // producer 8 still open
    ASSERT_EQ(log->append_marker(8, 0, /*commit=*/true, 0).error, error_code::none);           // 6
    EXPECT_EQ(log->last_stable_offset(), 7);
    auto aborted = log->aborted_between(0, 7);
    ASSERT_EQ(aborted.size(), 1u);
    EXPECT_EQ(aborted[0].producer_id, 7);
    EXPECT_EQ(aborted[0].first_offset, 0);
    EXPECT_EQ(aborted[0].last_offset, 5);
    EXPECT_TRUE(log->aborted_between(6, 7).empty());  // ended before the fetch offset
    // The marker is a valid control batch a consumer can read.
    auto bytes = log->read(5, 1 << 20).records;
    auto h = read_header(bytes);
    EXPECT_TRUE(h.control());
    EXPECT_TRUE(h.transactional());
    EXPECT_TRUE(validate_batch(std::string_view(bytes).substr(0, h.total_size())).ok());
}

TEST_F(partition_log_test, transactions_are_rebuilt_after_a_crash) {
    {
        auto log = open_log(true);
        ASSERT_EQ(log->append(build_batch(records(3), txn_batch(7, 0))).error, error_code::none);  // 0-2
        ASSERT_EQ(log->append_marker(7, 0, /*commit=*/false, 0).error, error_code::none);          // 3
        ASSERT_EQ(log->append(build_batch(records(2), txn_batch(9, 0))).error, error_code::none);  // 4-5 open
    }
    auto log = open_log(/*clean=*/false);
    EXPECT_EQ(log->last_stable_offset(), 4);
    auto aborted = log->aborted_between(0, 6);
    ASSERT_EQ(aborted.size(), 1u);
    EXPECT_EQ(aborted[0].producer_id, 7);
    EXPECT_EQ(aborted[0].last_offset, 3);
}

TEST_F(partition_log_test, sequences_continue_across_transactions_of_one_epoch) {
    auto log = open_log(true);
    ASSERT_EQ(log->append(build_batch(records(3), txn_batch(7, 0))).error, error_code::none);
    ASSERT_EQ(log->append_marker(7, 0, /*commit=*/true, 0).error, error_code::none);
    auto next = log->append(build_batch(records(2), txn_batch(7, 3)));
    EXPECT_EQ(next.error, error_code::none) << next.message;
    // A marker with a bumped epoch (fencing) turns away the old epoch.
    ASSERT_EQ(log->append_marker(7, 1, /*commit=*/false, 0).error, error_code::none);
    EXPECT_EQ(log->append(build_batch(records(1), txn_batch(7, 5))).error, error_code::invalid_producer_epoch);
}

}  // namespace
}  // namespace millrace::kafka::storage
