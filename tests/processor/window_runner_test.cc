// The engine's bookkeeping around a window state: which windows to restore
// from the store, and how far each partition is durable.
#include "window_runner.h"

#include <gtest/gtest.h>

namespace millrace::processor {
namespace {

// An in-memory window state that only keeps a watermark: the runner asks
// nothing else of it besides revoke().
class fake_window_state final : public sql::window_state {
public:
    std::optional<int64_t> wm;
    std::vector<int32_t> revoked;

    sql::add_status add(const sql::row&, int32_t, int64_t, sql::record_error&) override { return sql::add_status::added; }
    void advance_watermark(int32_t, int64_t watermark_ms) override { wm = std::max(wm.value_or(INT64_MIN), watermark_ms); }
    std::optional<int64_t> watermark() const override { return wm; }
    std::optional<int64_t> partition_watermark(int32_t) const override { return wm; }
    void revoke(int32_t partition) override { revoked.push_back(partition); }
    std::vector<sql::window_output> fire() override { return {}; }
    std::vector<sql::window_output> fire_early(int64_t) override { return {}; }
    std::vector<sql::partial_state> take_changed() override { return {}; }
    std::vector<sql::partial_state> partials(const sql::window_bounds&, const std::string&) const override { return {}; }
    status restore(const sql::partial_state&) override { return {}; }
    result<sql::row> merge(const std::vector<sql::partial_state>&) const override { return sql::row{}; }
    void set_clock(sql::clock_fn) override {}
};

sql::window_spec tumble(int64_t size) {
    sql::window_spec s;
    s.kind = sql::window_kind::tumble;
    s.size_ms = size;
    s.slide_ms = size;
    return s;
}

struct runner_fixture {
    fake_window_state* state;
    std::unique_ptr<window_runner> runner;
    explicit runner_fixture(sql::window_spec spec) {
        auto s = std::make_unique<fake_window_state>();
        state = s.get();
        runner = std::make_unique<window_runner>(0, std::move(s), spec, 0);
    }
};

TEST(window_runner_test, tumbling_windows_start_at_multiples_of_the_size) {
    runner_fixture f(tumble(60000));
    EXPECT_EQ(f.runner->window_starts(125000), std::vector<int64_t>{120000});
    EXPECT_EQ(f.runner->window_starts(120000), std::vector<int64_t>{120000});
    EXPECT_EQ(f.runner->window_starts(-1), std::vector<int64_t>{-60000});  // before the epoch: floor
}

TEST(window_runner_test, a_hop_falls_in_size_over_slide_windows) {
    sql::window_spec s;
    s.kind = sql::window_kind::hop;
    s.size_ms = 10000;
    s.slide_ms = 5000;
    runner_fixture f(s);
    EXPECT_EQ(f.runner->window_starts(12000), (std::vector<int64_t>{10000, 5000}));
}

TEST(window_runner_test, a_window_is_restored_once_and_never_after_it_fired) {
    runner_fixture f(tumble(60000));
    EXPECT_TRUE(f.runner->needs_restore(0, 0));
    f.runner->restored(0, 0);
    EXPECT_FALSE(f.runner->needs_restore(0, 0));
    EXPECT_TRUE(f.runner->needs_restore(1, 0));  // per partition
    f.state->wm = 59999;                          // window [0, 60000) fired
    EXPECT_FALSE(f.runner->needs_restore(1, 0));
    EXPECT_TRUE(f.runner->needs_restore(1, 60000));
}

TEST(window_runner_test, durable_position_follows_the_snapshot_of_a_completed_round) {
    runner_fixture f(tumble(60000));
    f.runner->assign(3);
    EXPECT_EQ(f.runner->durable_position(3), std::nullopt);
    f.runner->applied(3, 10);
    auto snap = f.runner->applied_snapshot();
    f.runner->applied(3, 11);  // applied after the round began: not durable with it
    f.runner->made_durable(snap);
    EXPECT_EQ(f.runner->durable_position(3), 11);
}

TEST(window_runner_test, revoking_forgets_the_partition_and_tells_the_state) {
    runner_fixture f(tumble(60000));
    f.runner->assign(2);
    f.runner->applied(2, 5);
    f.runner->restored(2, 0);
    f.runner->revoke(2);
    EXPECT_EQ(f.state->revoked, std::vector<int32_t>{2});
    EXPECT_EQ(f.runner->durable_position(2), std::nullopt);
    EXPECT_TRUE(f.runner->needs_restore(2, 0));
}

TEST(window_runner_test, partitions_are_the_assigned_ones_not_revoked) {
    runner_fixture f(tumble(60000));
    f.runner->assign(3);
    f.runner->assign(1);
    f.runner->assign(2);
    f.runner->revoke(2);
    EXPECT_EQ(f.runner->partitions(), (std::vector<int32_t>{1, 3}));
}

TEST(window_runner_test, windows_fired_before_the_run_are_known_by_their_last_millisecond) {
    runner_fixture f(tumble(10000));
    EXPECT_FALSE(f.runner->fired_before_this_run({0, 10000})) << "nothing fired before";
    f.runner->fired_before(9999);
    f.runner->fired_before(5000);  // never lowered
    EXPECT_TRUE(f.runner->fired_before_this_run({0, 10000}));
    EXPECT_FALSE(f.runner->fired_before_this_run({10000, 20000}));
    f.runner->fired_before(19999);
    EXPECT_TRUE(f.runner->fired_before_this_run({10000, 20000}));
}

}  // namespace
}  // namespace millrace::processor
