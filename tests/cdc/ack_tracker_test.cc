#include "millrace/cdc/ack_tracker.h"

#include <gtest/gtest.h>

namespace millrace::cdc {
namespace {

TEST(ack_tracker_test, confirms_only_fully_acknowledged_prefix) {
    ack_tracker t;
    auto a = t.begin(0);
    t.add_message(a);
    t.add_message(a);
    t.commit(a, lsn{100});
    auto b = t.begin(0);
    t.add_message(b);
    t.commit(b, lsn{200});
    EXPECT_EQ(t.confirmed().value, 0u);
    t.ack(b);  // later transaction acknowledged first
    EXPECT_EQ(t.confirmed().value, 0u);
    t.ack(a);
    EXPECT_EQ(t.confirmed().value, 0u);
    t.ack(a);
    EXPECT_EQ(t.confirmed().value, 200u);
    EXPECT_TRUE(t.empty());
    EXPECT_EQ(t.in_flight(), 0u);
}

TEST(ack_tracker_test, open_transaction_holds_position) {
    ack_tracker t;
    auto a = t.begin(0);
    t.add_message(a);
    t.ack(a);
    EXPECT_EQ(t.confirmed().value, 0u);  // not committed yet
    t.commit(a, lsn{50});
    EXPECT_EQ(t.confirmed().value, 50u);
}

TEST(ack_tracker_test, empty_transaction_confirms_at_commit) {
    ack_tracker t;
    auto a = t.begin(0);
    t.commit(a, lsn{70});
    EXPECT_EQ(t.confirmed().value, 70u);
}

TEST(ack_tracker_test, idle_position_only_when_nothing_pending) {
    ack_tracker t;
    auto a = t.begin(0);
    t.add_message(a);
    t.commit(a, lsn{10});
    t.idle_at(lsn{500});
    EXPECT_EQ(t.confirmed().value, 0u);
    t.ack(a);
    t.idle_at(lsn{500});
    EXPECT_EQ(t.confirmed().value, 500u);
    t.idle_at(lsn{400});  // never moves back
    EXPECT_EQ(t.confirmed().value, 500u);
}

TEST(ack_tracker_test, reset_forgets_pending_and_ignores_late_acks) {
    ack_tracker t;
    auto a = t.begin(0);
    t.add_message(a);
    t.commit(a, lsn{10});
    t.reset();
    t.ack(a);  // from the abandoned session
    EXPECT_EQ(t.confirmed().value, 0u);
    auto b = t.begin(0);
    EXPECT_GT(b, a);
    t.add_message(b);
    t.commit(b, lsn{20});
    t.ack(b);
    EXPECT_EQ(t.confirmed().value, 20u);
}

TEST(ack_tracker_test, reports_acknowledged_commit_times_in_order) {
    ack_tracker t;
    std::vector<int64_t> seen;
    t.on_acknowledged = [&](int64_t us) { seen.push_back(us); };
    auto a = t.begin(1);
    t.add_message(a);
    t.commit(a, lsn{1});
    auto b = t.begin(2);
    t.commit(b, lsn{2});
    EXPECT_TRUE(seen.empty());
    t.ack(a);
    EXPECT_EQ(seen, (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace millrace::cdc
