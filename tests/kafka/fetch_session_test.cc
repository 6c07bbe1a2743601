// The incremental fetch session cache (KIP-227): epochs, lookups and the
// bounded cache's eviction rule, with manual time.
#include "fetch_session.h"

#include <gtest/gtest.h>

namespace millrace::kafka {
namespace {

std::vector<session_partition> partitions(int count) {
    std::vector<session_partition> out;
    for (int idx = 0; idx < count; ++idx) out.push_back({"t", uuid{}, idx, 0, 1024});
    return out;
}

TEST(fetch_session_test, epochs_advance_one_by_one) {
    manual_clock clock;
    fetch_session_cache cache(clock, 10, 120'000);
    fetch_session* session = cache.create(partitions(2));
    ASSERT_NE(session, nullptr);
    const int32_t id = session->id;
    EXPECT_NE(id, 0);
    error_code error = error_code::none;
    EXPECT_EQ(cache.resume(id, 1, error), session);
    EXPECT_EQ(error, error_code::none);
    EXPECT_EQ(cache.resume(id, 1, error), nullptr);  // a replayed epoch
    EXPECT_EQ(error, error_code::invalid_fetch_session_epoch);
    EXPECT_EQ(cache.resume(id, 2, error), session);
    EXPECT_EQ(cache.resume(id + 1, 1, error), nullptr);
    EXPECT_EQ(error, error_code::fetch_session_id_not_found);
    cache.remove(id);
    EXPECT_EQ(cache.find(id), nullptr);
}

TEST(fetch_session_test, partitions_are_found_and_forgotten_by_name_or_unknown_id) {
    fetch_session session;
    uuid unknown{};
    unknown[0] = 9;
    session.partitions = {{"a", uuid{}, 0, 5, 100}, {"", unknown, 1, 7, 100}};
    EXPECT_NE(session.find("a", uuid{}, 0), nullptr);
    EXPECT_EQ(session.find("a", uuid{}, 1), nullptr);
    EXPECT_NE(session.find("", unknown, 1), nullptr);
    EXPECT_EQ(session.find("", uuid{}, 1), nullptr);
    session.forget("a", uuid{}, 0);
    EXPECT_EQ(session.partitions.size(), 1u);
}

TEST(fetch_session_test, full_cache_evicts_an_idle_session_first) {
    manual_clock clock;
    fetch_session_cache cache(clock, 2, 1'000);
    int32_t first = cache.create(partitions(5))->id;
    clock.advance(std::chrono::milliseconds(10));
    int32_t second = cache.create(partitions(5))->id;
    // Nothing idle long enough and nothing smaller than the newcomer: no session.
    EXPECT_EQ(cache.create(partitions(5)), nullptr);
    EXPECT_EQ(cache.size(), 2u);
    clock.advance(std::chrono::milliseconds(995));  // first idle 1005 ms, second 995 ms
    fetch_session* third = cache.create(partitions(1));
    ASSERT_NE(third, nullptr);
    EXPECT_EQ(cache.find(first), nullptr);
    EXPECT_NE(cache.find(second), nullptr);
    EXPECT_EQ(cache.evictions(), 1u);
}

TEST(fetch_session_test, full_cache_gives_a_small_session_way_to_a_bigger_one) {
    manual_clock clock;
    fetch_session_cache cache(clock, 2, 60'000);
    int32_t small = cache.create(partitions(1))->id;
    int32_t big = cache.create(partitions(8))->id;
    EXPECT_EQ(cache.create(partitions(1)), nullptr);  // not bigger than the smallest
    fetch_session* bigger = cache.create(partitions(3));
    ASSERT_NE(bigger, nullptr);
    EXPECT_EQ(cache.find(small), nullptr);
    EXPECT_NE(cache.find(big), nullptr);
}

TEST(fetch_session_test, zero_slots_means_no_sessions) {
    manual_clock clock;
    fetch_session_cache cache(clock, 0, 1'000);
    EXPECT_EQ(cache.create(partitions(1)), nullptr);
}

}  // namespace
}  // namespace millrace::kafka
