#include "window_aggregator.h"

#include <gtest/gtest.h>

namespace millrace::processor {
namespace {

constexpr int64_t k_minute = 60000;
constexpr int64_t k_t0 = 1'700'000'040'000;  // a minute boundary (1700000040000 % 60000 == 0)

int64_t total(const std::vector<window_count>& rows) {
    int64_t n = 0;
    for (const auto& r : rows) n += r.users;
    return n;
}

// Plays the table: rows keyed like the CQL primary key, last write wins.
struct table {
    std::map<std::tuple<int64_t, std::string, std::string, int32_t>, window_count> rows;
    void write(const std::vector<window_count>& round) {
        for (const auto& r : round) rows[{r.window_start_ms, r.nat, r.gender, r.partition}] = r;
    }
    std::vector<window_count> window(int64_t start) const {
        std::vector<window_count> out;
        for (const auto& [key, r] : rows) {
            if (r.window_start_ms == start) out.push_back(r);
        }
        return out;
    }
    int64_t users() const {
        int64_t n = 0;
        for (const auto& [key, r] : rows) n += r.users;
        return n;
    }
};

TEST(window_aggregator_test, windows_are_tumbling_and_floor_negative_times) {
    window_aggregator a(k_minute);
    EXPECT_EQ(a.window_of(k_t0), k_t0);
    EXPECT_EQ(a.window_of(k_t0 + 59999), k_t0);
    EXPECT_EQ(a.window_of(k_t0 + 60000), k_t0 + k_minute);
    EXPECT_EQ(a.window_of(-1), -k_minute);
}

TEST(window_aggregator_test, counts_per_nat_gender_and_partition) {
    window_aggregator a(k_minute);
    a.assign(0);
    a.load(0, k_t0, {});
    EXPECT_TRUE(a.add(0, 0, k_t0 + 1, "BR", "female"));
    EXPECT_TRUE(a.add(0, 1, k_t0 + 2, "BR", "female"));
    EXPECT_TRUE(a.add(0, 2, k_t0 + 3, "", "male"));
    a.applied(0, 2);
    auto round = a.begin_flush();
    ASSERT_TRUE(round);
    ASSERT_EQ(round->size(), 2u);
    EXPECT_EQ(total(*round), 3);
    for (const auto& r : *round) {
        if (r.nat == "BR") {
            EXPECT_EQ(r.users, 2);
            EXPECT_EQ(r.last_offset, 1);
        } else {
            EXPECT_EQ(r.nat, "unknown");
            EXPECT_EQ(r.gender, "male");
        }
    }
}

TEST(window_aggregator_test, durable_position_follows_completed_rounds_only) {
    window_aggregator a(k_minute);
    a.assign(0);
    a.load(0, k_t0, {});
    EXPECT_FALSE(a.durable_position(0));
    a.add(0, 10, k_t0, "US", "male");
    a.applied(0, 10);
    auto round = a.begin_flush();
    ASSERT_TRUE(round && round->size() == 1);
    EXPECT_FALSE(a.begin_flush()) << "one round at a time";
    a.add(0, 11, k_t0, "US", "male");
    a.applied(0, 11);
    a.end_flush(true);
    EXPECT_EQ(a.durable_position(0), 11) << "offset 11 was applied after the round began";
    EXPECT_TRUE(a.dirty());
    round = a.begin_flush();
    ASSERT_TRUE(round && round->size() == 1);
    EXPECT_EQ(round->front().users, 2);
    a.end_flush(true);
    EXPECT_EQ(a.durable_position(0), 12);
    EXPECT_FALSE(a.dirty());
}

TEST(window_aggregator_test, failed_round_is_written_again) {
    window_aggregator a(k_minute);
    a.assign(0);
    a.load(0, k_t0, {});
    a.add(0, 0, k_t0, "FR", "female");
    a.applied(0, 0);
    ASSERT_TRUE(a.begin_flush());
    a.end_flush(false);
    EXPECT_FALSE(a.durable_position(0));
    EXPECT_TRUE(a.dirty());
    auto round = a.begin_flush();
    ASSERT_TRUE(round && round->size() == 1);
    a.end_flush(true);
    EXPECT_EQ(a.durable_position(0), 1);
}

TEST(window_aggregator_test, empty_round_marks_rejected_records_durable) {
    window_aggregator a(k_minute);
    a.assign(2);
    a.applied(2, 41);  // a record that went to the DLQ
    auto round = a.begin_flush();
    ASSERT_TRUE(round);
    EXPECT_TRUE(round->empty());
    EXPECT_EQ(a.durable_position(2), 42);
}

// The restart scenario: a run counts and writes some rows, crashes before
// committing, and a new run redelivers from an older offset. Every record must
// be counted exactly once.
TEST(window_aggregator_test, redelivery_after_restart_counts_each_record_once) {
    table t;
    struct rec {
        int64_t offset;
        int64_t ts;
        const char* nat;
        const char* gender;
    };
    std::vector<rec> records;
    const char* nats[] = {"BR", "US", "FR"};
    for (int64_t off = 0; off < 300; ++off) {
        records.push_back(rec{off, k_t0 + off * 700, nats[off % 3], off % 2 ? "male" : "female"});
    }
    auto run = [&](int64_t from, int64_t crash_at, bool flush_midway) {
        window_aggregator a(k_minute);
        a.assign(0);
        for (const auto& r : records) {
            if (r.offset < from) continue;
            if (r.offset == crash_at) return;
            int64_t w = a.window_of(r.ts);
            if (!a.loaded(0, w)) a.load(0, w, t.window(w));
            a.add(0, r.offset, r.ts, r.nat, r.gender);
            a.applied(0, r.offset);
            if (flush_midway && r.offset % 37 == 0) {
                auto round = a.begin_flush();
                t.write(*round);
                a.end_flush(true);
            }
        }
        auto round = a.begin_flush();
        t.write(*round);
        a.end_flush(true);
    };
    run(0, 200, true);   // crashed at 200; rows written up to some offset <= 199
    run(50, -1, true);   // restarted from an older committed offset
    EXPECT_EQ(t.users(), 300);
    run(0, -1, false);   // a full replay changes nothing
    EXPECT_EQ(t.users(), 300);
}

TEST(window_aggregator_test, load_ignores_other_partitions_rows) {
    window_aggregator a(k_minute);
    a.assign(1);
    a.load(1, k_t0, {window_count{k_t0, "BR", "male", 0, 50, 500}, window_count{k_t0, "BR", "male", 1, 5, 9}});
    EXPECT_FALSE(a.add(1, 9, k_t0, "BR", "male"));
    EXPECT_TRUE(a.add(1, 10, k_t0, "BR", "male"));
    auto round = a.begin_flush();
    ASSERT_TRUE(round && round->size() == 1);
    EXPECT_EQ(round->front().users, 6);
    EXPECT_EQ(round->front().partition, 1);
}

TEST(window_aggregator_test, revoke_forgets_the_partition_and_its_round) {
    window_aggregator a(k_minute);
    a.assign(0);
    a.load(0, k_t0, {});
    a.add(0, 0, k_t0, "BR", "male");
    a.applied(0, 0);
    ASSERT_TRUE(a.begin_flush());
    a.revoke(0);
    EXPECT_FALSE(a.loaded(0, k_t0));
    a.assign(0);
    a.end_flush(true);  // the stale round must not mark the new assignment durable
    EXPECT_FALSE(a.durable_position(0));
    EXPECT_FALSE(a.dirty());
}

TEST(window_aggregator_test, evict_keeps_recent_and_unwritten_windows) {
    window_aggregator a(k_minute);
    a.assign(0);
    for (int64_t w = 0; w < 20; ++w) {
        a.load(0, k_t0 + w * k_minute, {});
        a.add(0, w, k_t0 + w * k_minute, "BR", "male");
        a.applied(0, w);
    }
    a.evict(5);
    EXPECT_EQ(a.window_count_loaded(), 20u) << "unwritten windows stay";
    auto round = a.begin_flush();
    a.end_flush(true);
    a.evict(5);
    EXPECT_EQ(a.window_count_loaded(), 6u);
    EXPECT_FALSE(a.loaded(0, k_t0));
    EXPECT_TRUE(a.loaded(0, k_t0 + 19 * k_minute));
}

}  // namespace
}  // namespace millrace::processor
