// The engine's bookkeeping around a window state: which windows to restore
// from the store, and how far each partition is durable.
#include "window_runner.h"
#include "window_store.h"

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

// Fencing: a later owner of a partition writes its partials with greater timestamps than any write of the
// previous owner, which keeps writing (it has not noticed the rebalance) after the new owner started.
TEST(window_runner_fence, a_later_assignment_outranks_the_stale_owner) {
    window_runner stale(0, std::make_unique<fake_window_state>(), sql::window_spec{}, std::nullopt);
    window_runner fresh(0, std::make_unique<fake_window_state>(), sql::window_spec{}, std::nullopt);
    stale.assign(3, 1'000'000);
    int64_t last_stale = 0, first_fresh = 0;
    for (int idx = 0; idx < 1000; ++idx) {
        int64_t ts = stale.next_write_timestamp(3);
        EXPECT_GT(ts, last_stale) << "an owner's own writes must be ordered";
        last_stale = ts;
    }
    fresh.assign(3, 1'002'000);  // 2 ms later: the rebalance
    first_fresh = fresh.next_write_timestamp(3);
    for (int idx = 0; idx < 500; ++idx) last_stale = stale.next_write_timestamp(3);
    EXPECT_GT(first_fresh, last_stale);
}

// The plan fingerprint: the same windowed plan, reformatted or beside another INSERT, keeps its state; a
// changed aggregate, window or source column does not.
TEST(window_plan_fingerprint_test, changes_with_the_plan_only) {
    auto fp = [](const std::string& text, size_t pipeline) {
        auto c = sql::compile_job(text, "job.sql");
        auto* p = std::get_if<sql::job_program>(&c);
        EXPECT_NE(p, nullptr) << (p ? "" : sql::to_string(std::get<std::vector<sql::diagnostic>>(c)));
        return p ? window_plan_fingerprint(*p, p->pipelines()[pipeline]) : std::string();
    };
    const std::string tables =
        "CREATE TABLE s (nat STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json');\n"
        "CREATE TABLE o (w TIMESTAMP(3), nat STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'o', 'format' = 'json');\n"
        "CREATE TABLE p (nat STRING) WITH ('connector' = 'kafka', 'topic' = 'p', 'format' = 'json');\n";
    const std::string insert =
        "INSERT INTO o SELECT window_start, nat, COUNT(*) FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) "
        "GROUP BY window_start, window_end, nat;\n";
    const std::string base = fp(tables + insert, 0);
    EXPECT_EQ(base.size(), 16u);
    EXPECT_EQ(fp(tables + "-- a comment\n" + "INSERT INTO o\n  SELECT window_start, nat, COUNT(*)\n"
                 "FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE))\nGROUP BY window_start, window_end, nat;\n", 0),
              base);
    EXPECT_EQ(fp(tables + "EXECUTE STATEMENT SET BEGIN INSERT INTO p SELECT nat FROM s;\n" + insert + "END;\n", 1), base);
    std::string other = insert;
    other.replace(other.find("COUNT(*)"), 8, "COUNT(DISTINCT nat)");
    EXPECT_NE(fp(tables + other, 0), base);
    other = insert;
    other.replace(other.find("'1' MINUTE"), 10, "'2' MINUTE");
    EXPECT_NE(fp(tables + other, 0), base);
    std::string wider = tables;
    wider.insert(wider.find("ts TIMESTAMP(3), WATERMARK"), "extra STRING, ");
    EXPECT_NE(fp(wider + insert, 0), base);
}

}  // namespace
}  // namespace millrace::processor
