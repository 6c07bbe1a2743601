#include "offset_tracker.h"

#include <gtest/gtest.h>

namespace millrace::processor {
namespace {

TEST(offset_tracker_test, nothing_done_means_nothing_to_commit) {
    offset_tracker t;
    t.assign(0);
    EXPECT_FALSE(t.done_position(0));
    t.add_segment(0, 9);
    EXPECT_FALSE(t.done_position(0));
    EXPECT_EQ(t.open_segments(), 1u);
}

TEST(offset_tracker_test, out_of_order_completion_commits_only_the_done_prefix) {
    offset_tracker t;
    t.assign(0);
    auto a = t.add_segment(0, 9);
    auto b = t.add_segment(0, 19);
    auto c = t.add_segment(0, 29);
    t.complete(0, c);
    EXPECT_FALSE(t.done_position(0));
    t.complete(0, a);
    EXPECT_EQ(t.done_position(0), 10);
    t.complete(0, b);
    EXPECT_EQ(t.done_position(0), 30);
    EXPECT_EQ(t.open_segments(), 0u);
}

TEST(offset_tracker_test, partitions_are_independent) {
    offset_tracker t;
    t.assign(0);
    t.assign(1);
    auto a0 = t.add_segment(0, 5);
    auto a1 = t.add_segment(1, 7);
    t.complete(1, a1);
    EXPECT_FALSE(t.done_position(0));
    EXPECT_EQ(t.done_position(1), 8);
    t.complete(0, a0);
    EXPECT_EQ(t.done_position(0), 6);
}

TEST(offset_tracker_test, completing_twice_or_unknown_is_ignored) {
    offset_tracker t;
    t.assign(0);
    auto a = t.add_segment(0, 5);
    auto b = t.add_segment(0, 6);
    t.complete(0, a);
    t.complete(0, a);
    t.complete(0, b + 100);
    t.complete(7, a);
    EXPECT_EQ(t.done_position(0), 6);
    EXPECT_EQ(t.open_segments(), 1u);
}

TEST(offset_tracker_test, segment_of_an_earlier_assignment_cannot_complete_a_new_one) {
    offset_tracker t;
    t.assign(0);
    auto stale = t.add_segment(0, 5);
    t.revoke(0);
    EXPECT_FALSE(t.assigned(0));
    t.assign(0);
    auto fresh = t.add_segment(0, 50);
    t.complete(0, stale);
    EXPECT_FALSE(t.done_position(0));
    t.complete(0, fresh);
    EXPECT_EQ(t.done_position(0), 51);
}

}  // namespace
}  // namespace millrace::processor
