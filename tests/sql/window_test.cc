// Window state: partials per (window, key, partition) exported, restored and
// merged across processes; corrupt state bytes are reported, never trusted.
#include <gtest/gtest.h>

#include <random>

#include "millrace/sql/decoder.h"
#include "millrace/sql/pipeline.h"
#include "millrace/sql/program.h"

namespace millrace::sql {
namespace {

const char* const k_job =
    "CREATE TABLE ev (k STRING, n INT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', WATERMARK FOR ts AS ts)\n"
    "WITH ('connector' = 'kafka', 'topic' = 'ev', 'format' = 'json');\n"
    "CREATE TABLE agg (window_start TIMESTAMP(3), k STRING, c BIGINT, d BIGINT, s INT, lo INT, a INT)\n"
    "WITH ('connector' = 'kafka', 'topic' = 'agg', 'format' = 'json');\n"
    "INSERT INTO agg SELECT window_start, k, COUNT(*), COUNT(DISTINCT n), SUM(n), MIN(n), AVG(n)\n"
    "FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, k;\n";

constexpr int64_t k_t0 = 1704067200000;

class window_test : public ::testing::Test {
protected:
    void SetUp() override {
        auto c = compile_job(k_job, "job.sql");
        ASSERT_TRUE(std::holds_alternative<job_program>(c)) << to_string(std::get<std::vector<diagnostic>>(c));
        program_.emplace(std::get<job_program>(c));
        decoder_ = program_->make_decoder(0).value();
    }
    std::unique_ptr<window_state> state() { return program_->make_window_state(0).value(); }
    add_status add(window_state& w, int32_t partition, int64_t offset, int64_t ts, const std::string& json) {
        record_metadata m;
        m.partition = partition;
        m.offset = offset;
        m.timestamp_ms = ts;
        row r;
        record_error e;
        EXPECT_EQ(decoder_->decode(json, std::nullopt, m, r, e), decode_status::ok) << e.message;
        return w.add(r, partition, offset, e);
    }
    std::optional<job_program> program_;
    std::unique_ptr<source_decoder> decoder_;
};

TEST_F(window_test, merge_of_partials_from_two_processes_equals_fire_of_one) {
    auto one = state();
    auto p0 = state();
    auto p1 = state();
    std::mt19937 rnd(301);
    for (int64_t offset = 0; offset < 200; ++offset) {
        int32_t partition = static_cast<int32_t>(rnd() % 2);
        int64_t ts = k_t0 + static_cast<int64_t>(rnd() % 60000);
        std::string json = "{\"k\": \"x\", \"n\": " + std::to_string(rnd() % 7) + "}";
        add(*one, partition, offset, ts, json);
        add(partition == 0 ? *p0 : *p1, partition, offset, ts, json);
    }
    auto partials = p0->take_changed();
    auto more = p1->take_changed();
    partials.insert(partials.end(), more.begin(), more.end());
    ASSERT_EQ(partials.size(), 2u);
    auto merged = one->merge(partials);
    ASSERT_TRUE(merged.ok()) << merged.err().message();
    one->advance_watermark(0, k_t0 + 60000);
    one->advance_watermark(1, k_t0 + 60000);
    auto fired = one->fire();
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].values, *merged);
    EXPECT_EQ(fired[0].values[2], value::from_int(200));
    EXPECT_TRUE(fired[0].final);
}

TEST_F(window_test, merge_keeps_the_partial_with_the_highest_offset_per_partition) {
    auto w = state();
    add(*w, 0, 1, k_t0, R"({"k": "x", "n": 1})");
    auto first = w->take_changed();
    add(*w, 0, 2, k_t0, R"({"k": "x", "n": 2})");
    auto second = w->take_changed();
    std::vector<partial_state> both = {second[0], first[0]};
    auto merged = w->merge(both);
    ASSERT_TRUE(merged.ok());
    EXPECT_EQ((*merged)[2], value::from_int(2));  // not 3: one partition counted once
}

TEST_F(window_test, replay_below_the_restored_offset_is_skipped) {
    auto w = state();
    add(*w, 3, 10, k_t0, R"({"k": "x", "n": 1})");
    auto saved = w->take_changed();
    auto restarted = state();
    ASSERT_TRUE(restarted->restore(saved[0]).ok());
    EXPECT_EQ(add(*restarted, 3, 10, k_t0, R"({"k": "x", "n": 1})"), add_status::skipped);
    EXPECT_EQ(add(*restarted, 3, 11, k_t0, R"({"k": "x", "n": 1})"), add_status::added);
    EXPECT_TRUE(restarted->take_changed().size() == 1);
}

TEST_F(window_test, restore_rejects_corrupt_state) {
    auto w = state();
    add(*w, 0, 1, k_t0, R"({"k": "x", "n": 1})");
    partial_state good = w->take_changed().at(0);
    auto fresh = state();
    auto corrupt = [&](std::string bytes) {
        partial_state p = good;
        p.state = std::move(bytes);
        auto s = fresh->restore(p);
        return s.ok() ? std::string() : s.err().message();
    };
    EXPECT_NE(corrupt("").find("unknown version"), std::string::npos);
    EXPECT_NE(corrupt("\x09").find("unknown version"), std::string::npos);
    EXPECT_NE(corrupt(std::string("\x01\x05", 2)).find("group key count"), std::string::npos);
    EXPECT_NE(corrupt(good.state.substr(0, 4)).find("truncated"), std::string::npos);
    EXPECT_NE(corrupt(good.state + "x").find("trailing bytes"), std::string::npos);
    std::string wrong_aggs = good.state;
    // version, key count 1, key "x" (tag 4, len 1, 'x'), then the aggregate count.
    wrong_aggs[5] = 2;
    EXPECT_NE(corrupt(wrong_aggs).find("aggregate count"), std::string::npos);
    for (size_t cut = 6; cut < good.state.size(); ++cut) EXPECT_NE(corrupt(good.state.substr(0, cut)), "") << cut;
    EXPECT_TRUE(fresh->restore(good).ok());
    EXPECT_FALSE(fresh->merge({}).ok());
}

TEST_F(window_test, changes_of_a_fired_window_are_still_taken) {
    auto w = state();
    add(*w, 0, 5, k_t0, R"({"k": "x", "n": 1})");
    w->advance_watermark(0, k_t0 + 60000);
    ASSERT_EQ(w->fire().size(), 1u);
    auto changed = w->take_changed();
    ASSERT_EQ(changed.size(), 1u);
    EXPECT_EQ(changed[0].last_offset, 5);
    EXPECT_TRUE(w->take_changed().empty());
}

TEST_F(window_test, revoke_forgets_a_partition) {
    auto w = state();
    add(*w, 0, 1, k_t0, R"({"k": "x", "n": 1})");
    add(*w, 1, 1, k_t0, R"({"k": "x", "n": 1})");
    w->revoke(1);
    EXPECT_FALSE(w->partition_watermark(1).has_value());
    w->take_changed();
    w->advance_watermark(0, k_t0 + 60000);
    auto fired = w->fire();
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].values[2], value::from_int(1));
}

TEST_F(window_test, wrong_operator_kind_is_an_error) {
    EXPECT_FALSE(program_->make_stateless(0).ok());
    EXPECT_FALSE(program_->make_window_state(5).ok());
    EXPECT_FALSE(program_->make_decoder(7).ok());
}


// A SELECT expression over aggregates that fails for one group (integer
// division by zero, a CAST that does not parse) rejects that group's row with
// an eval_error; the other rows fire and nothing throws out of fire().
TEST(window_eval_errors, a_failing_output_row_is_rejected_and_the_others_fire) {
    const char* job =
        "CREATE TABLE ev (k STRING, a INT, b INT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', WATERMARK FOR ts AS ts)\n"
        "WITH ('connector' = 'kafka', 'topic' = 'ev', 'format' = 'json');\n"
        "CREATE TABLE agg (k STRING, r BIGINT, c INT)\n"
        "WITH ('connector' = 'kafka', 'topic' = 'agg', 'format' = 'json');\n"
        "INSERT INTO agg SELECT k, SUM(a) / SUM(b), CAST(MAX(k) AS INT)\n"
        "FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, k;\n";
    for (bool early : {false, true}) {
        std::string text = std::string(early ? "SET 'table.exec.emit.early-fire.enabled' = 'true';\n"
                                               "SET 'table.exec.emit.early-fire.delay' = '0 s';\n" : "") + job;
        auto c = compile_job(text, "job.sql");
        ASSERT_TRUE(std::holds_alternative<job_program>(c)) << to_string(std::get<std::vector<diagnostic>>(c));
        auto& program = std::get<job_program>(c);
        auto decoder = program.make_decoder(0).value();
        auto w = program.make_window_state(0).value();
        auto add = [&](int64_t offset, const std::string& json) {
            record_metadata m;
            m.partition = 0;
            m.offset = offset;
            m.timestamp_ms = k_t0 + offset;
            row r;
            record_error e;
            EXPECT_EQ(decoder->decode(json, std::nullopt, m, r, e), decode_status::ok) << e.message;
            return w->add(r, 0, offset, e);
        };
        EXPECT_EQ(add(0, R"({"k": "1", "a": 4, "b": 2})"), add_status::added);
        EXPECT_EQ(add(1, R"({"k": "2", "a": 4, "b": 0})"), add_status::added);   // SUM(b) = 0
        EXPECT_EQ(add(2, R"({"k": "x", "a": 4, "b": 1})"), add_status::added);   // CAST('x' AS INT)
        std::vector<window_output> out;
        if (early) {
            ASSERT_NO_THROW(out = w->fire_early(0));
        } else {
            w->advance_watermark(0, k_t0 + 60000);
            ASSERT_NO_THROW(out = w->fire());
        }
        ASSERT_EQ(out.size(), 3u);
        int ok = 0, failed = 0;
        for (const auto& o : out) {
            if (o.error) {
                ++failed;
                EXPECT_EQ(o.error->code, error_code::eval_error);
                EXPECT_TRUE(o.values.empty());
            } else {
                ++ok;
                EXPECT_EQ(o.values[1], value::from_int(2));
                EXPECT_EQ(o.values[2], value::from_int(1));
            }
        }
        EXPECT_EQ(ok, 1);
        EXPECT_EQ(failed, 2);
    }
}


// A record whose aggregate argument fails (CAST of text that does not parse)
// is counted in no aggregate of any of its windows, not even COUNT(*) before it.
TEST(window_eval_errors, a_record_that_fails_in_an_aggregate_counts_nowhere) {
    const char* job =
        "CREATE TABLE ev (s STRING, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', WATERMARK FOR ts AS ts)\n"
        "WITH ('connector' = 'kafka', 'topic' = 'ev', 'format' = 'json');\n"
        "CREATE TABLE agg (window_start TIMESTAMP(3), c BIGINT, s INT)\n"
        "WITH ('connector' = 'kafka', 'topic' = 'agg', 'format' = 'json');\n"
        "INSERT INTO agg SELECT window_start, COUNT(*), SUM(CAST(s AS INT))\n"
        "FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;\n";
    auto c = compile_job(job, "job.sql");
    ASSERT_TRUE(std::holds_alternative<job_program>(c)) << to_string(std::get<std::vector<diagnostic>>(c));
    auto& program = std::get<job_program>(c);
    auto decoder = program.make_decoder(0).value();
    auto w = program.make_window_state(0).value();
    auto add = [&](int64_t offset, const std::string& json, record_error& e) {
        record_metadata m;
        m.partition = 0;
        m.offset = offset;
        m.timestamp_ms = k_t0 + 40000;
        row r;
        EXPECT_EQ(decoder->decode(json, std::nullopt, m, r, e), decode_status::ok) << e.message;
        return w->add(r, 0, offset, e);
    };
    record_error e;
    EXPECT_EQ(add(0, R"({"s": "5"})", e), add_status::added);
    EXPECT_EQ(add(1, R"({"s": "x"})", e), add_status::failed);
    EXPECT_EQ(e.code, error_code::eval_error);
    w->advance_watermark(0, k_t0 + 120000);
    auto out = w->fire();
    ASSERT_EQ(out.size(), 2u);  // the two HOP windows of the record
    for (const auto& o : out) {
        ASSERT_FALSE(o.error);
        EXPECT_EQ(o.values[1], value::from_int(1));
        EXPECT_EQ(o.values[2], value::from_int(5));
    }
}


// table.exec.source.idle-timeout: a partition without records for that long is
// left out of the watermark's minimum until it sends again; the watermark
// never goes back.
TEST(window_idle_timeout, an_idle_partition_stops_holding_the_watermark_back) {
    for (bool on : {false, true}) {
        std::string text = std::string(on ? "SET 'table.exec.source.idle-timeout' = '10 s';\n" : "") + k_job;
        auto c = compile_job(text, "job.sql");
        ASSERT_TRUE(std::holds_alternative<job_program>(c)) << to_string(std::get<std::vector<diagnostic>>(c));
        auto& program = std::get<job_program>(c);
        auto decoder = program.make_decoder(0).value();
        auto w = program.make_window_state(0).value();
        int64_t now = 1000;
        w->set_clock([&] { return now; });
        int64_t offset = 0;
        auto add = [&](int32_t partition, int64_t ts) {
            record_metadata m;
            m.partition = partition;
            m.offset = offset;
            m.timestamp_ms = ts;
            row r;
            record_error e;
            EXPECT_EQ(decoder->decode(R"({"k": "x", "n": 1})", std::nullopt, m, r, e), decode_status::ok) << e.message;
            return w->add(r, partition, offset++, e);
        };
        add(0, k_t0);
        add(1, k_t0 + 1);
        now += 5000;
        add(0, k_t0 + 120000);
        EXPECT_EQ(w->watermark(), k_t0 + 1);
        EXPECT_TRUE(w->fire().empty());
        now += 9999;  // partition 1: 14999 ms without records; partition 0: 9999
        if (!on) {
            EXPECT_EQ(w->watermark(), k_t0 + 1);
            EXPECT_TRUE(w->fire().empty());
            continue;
        }
        EXPECT_EQ(w->watermark(), k_t0 + 120000);
        auto fired = w->fire();
        ASSERT_EQ(fired.size(), 1u);
        EXPECT_EQ(fired[0].values[2], value::from_int(2));
        // Partition 1 sends again: it counts in the minimum, the watermark stays.
        EXPECT_EQ(add(1, k_t0 + 2), add_status::late);
        EXPECT_EQ(w->watermark(), k_t0 + 120000);
        // Every partition idle: the watermark does not move back either.
        now += 60000;
        EXPECT_EQ(w->watermark(), k_t0 + 120000);
    }
    auto bad = compile_job(std::string("SET 'table.exec.source.idle-timeout' = 'soon';\n") + k_job, "job.sql");
    ASSERT_TRUE(std::holds_alternative<std::vector<diagnostic>>(bad));
}

}  // namespace
}  // namespace millrace::sql
