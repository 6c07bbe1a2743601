// The store's purge of dead cells at compaction: tombstones and expired cells
// go once their gc_grace_seconds have passed, live cells and young tombstones
// stay, schema records are never touched. Manual time through the purge clock.
#include "storage/store.h"

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "harness/process.h"
#include "storage/key_format.h"

namespace millrace::cql {
namespace {

namespace kf = key_format;

std::string cell_key(uint64_t table_id, const std::string& row, uint16_t column) {
    std::string key = kf::table_prefix(table_id);
    kf::append_token(key, 42);
    kf::put_be(key, row.size(), 2);
    key += row;
    kf::put_be(key, column, 2);
    return key;
}

class store_test : public ::testing::Test {
protected:
    void SetUp() override {
        db_.purge().set_clock([this] { return now_.load(); });
        ASSERT_TRUE(db_.open(dir_.path()).ok());
    }

    void write(mutation m) {
        std::promise<mutation_result> done;
        db_.submit(std::move(m), [&](mutation_result r) { done.set_value(std::move(r)); });
        auto r = done.get_future().get();
        ASSERT_TRUE(r.st.ok()) << r.st.err().message();
    }

    std::vector<std::string> keys() {
        std::vector<std::string> out;
        auto it = db_.new_iterator();
        for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->key().ToString());
        return out;
    }

    testing::temp_dir dir_;
    std::atomic<uint32_t> now_{1'000'000};
    store db_;
};

TEST_F(store_test, compaction_purges_dead_cells_after_gc_grace) {
    db_.purge().set_gc_grace(1, 100);
    db_.purge().set_gc_grace(2, 0);
    mutation m;
    m.now_seconds = now_;
    int64_t ts = int64_t(now_) * 1000000;
    std::string live = cell_key(1, "live", 1), old_tombstone = cell_key(1, "old_tomb", 1),
                young_tombstone = cell_key(1, "young_tomb", 1), expired = cell_key(1, "expired", 1),
                expiring = cell_key(1, "expiring", 1), no_grace = cell_key(2, "gone", 1),
                legacy_tombstone = cell_key(1, "legacy", 1);
    m.cells.push_back({live, kf::encode_cell(false, ts, 0, 0, "v")});
    m.cells.push_back({old_tombstone, kf::encode_cell(true, ts, now_ - 150, 0, "")});
    m.cells.push_back({young_tombstone, kf::encode_cell(true, ts, now_ - 50, 0, "")});
    m.cells.push_back({expired, kf::encode_cell(false, ts, now_ - 101, 10, "v")});
    m.cells.push_back({expiring, kf::encode_cell(false, ts, now_ + 10, 20, "v")});
    m.cells.push_back({no_grace, kf::encode_cell(true, ts, now_, 0, "")});
    m.cells.push_back({legacy_tombstone, kf::encode_cell(true, (int64_t(now_) - 500) * 1000000, 0, 0, "")});
    m.puts.emplace_back(std::string{kf::k_schema_space, 'k'} + "ks", "record");
    write(std::move(m));
    ASSERT_TRUE(db_.compact().ok());
    auto after = keys();
    auto has = [&](const std::string& k) { return std::find(after.begin(), after.end(), k) != after.end(); };
    EXPECT_TRUE(has(live));
    EXPECT_TRUE(has(young_tombstone));
    EXPECT_TRUE(has(expiring));
    EXPECT_TRUE(has(std::string{kf::k_schema_space, 'k'} + "ks"));
    EXPECT_FALSE(has(old_tombstone));
    EXPECT_FALSE(has(expired));
    EXPECT_FALSE(has(no_grace));
    EXPECT_FALSE(has(legacy_tombstone));
    // Time passes: the young tombstone and the expiring cell go too.
    now_ += 200;
    ASSERT_TRUE(db_.compact().ok());
    after = keys();
    EXPECT_TRUE(has(live));
    EXPECT_FALSE(has(young_tombstone));
    EXPECT_FALSE(has(expiring));
    // The live cell, the keyspace record, the flag that row counters are kept and the data format version.
    EXPECT_EQ(after.size(), 4u);
    EXPECT_TRUE(has(kf::row_counts_kept_key()));
    EXPECT_TRUE(has(kf::format_version_key()));
}

// The live-row counter (store::live_rows) on a store of its own, reopened.
class row_count_test : public ::testing::Test {
protected:
    static void write(store& db, mutation m) {
        std::promise<mutation_result> done;
        db.submit(std::move(m), [&](mutation_result r) { done.set_value(std::move(r)); });
        auto r = done.get_future().get();
        ASSERT_TRUE(r.st.ok()) << r.st.err().message();
    }
    static void marker(store& db, const std::string& row, int64_t ts, bool tombstone, uint32_t expiry = 0) {
        mutation m;
        m.now_seconds = 1'000'000;
        m.cells.push_back({cell_key(7, row, kf::k_row_marker), kf::encode_cell(tombstone, ts, expiry, 0, ""), nullptr, true});
        m.cells.push_back({cell_key(7, row, 3), kf::encode_cell(tombstone, ts, expiry, 0, "v")});
        write(db, std::move(m));
    }
    testing::temp_dir dir_;
};

TEST_F(row_count_test, follows_markers_deletes_truncate_and_survives_reopen) {
    {
        store db;
        ASSERT_TRUE(db.open(dir_.path()).ok());
        EXPECT_EQ(db.live_rows(7), 0);
        marker(db, "a", 10, false);
        marker(db, "b", 10, false);
        EXPECT_EQ(db.live_rows(7), 2);
        marker(db, "a", 20, false);  // an upsert of a row that exists
        EXPECT_EQ(db.live_rows(7), 2);
        marker(db, "b", 20, true);  // DELETE
        EXPECT_EQ(db.live_rows(7), 1);
        marker(db, "b", 15, false);  // older than the delete: loses, counts nothing
        EXPECT_EQ(db.live_rows(7), 1);
        marker(db, "c", 10, false, 999'999);  // already expired when written
        EXPECT_EQ(db.live_rows(7), 1);
        mutation truncate;
        truncate.delete_ranges.emplace_back(kf::table_prefix(7), kf::prefix_end(kf::table_prefix(7)));
        write(db, std::move(truncate));
        EXPECT_EQ(db.live_rows(7), 0);
        marker(db, "d", 30, false);
        marker(db, "e", 30, false);
        EXPECT_EQ(db.live_rows(7), 2);
        EXPECT_EQ(db.live_rows(8), 0);
    }
    store again;
    ASSERT_TRUE(again.open(dir_.path()).ok());
    EXPECT_EQ(again.live_rows(7), 2);
}

TEST_F(row_count_test, a_store_from_before_the_counters_is_counted_once_on_open) {
    {
        store db;
        ASSERT_TRUE(db.open(dir_.path()).ok());
        marker(db, "a", 10, false);
        marker(db, "b", 10, false);
        marker(db, "c", 10, true);
        // As a store written before the counters existed: no counters, no flag.
        db.stop_writes();
        ASSERT_TRUE(db.db()->Delete(rocksdb::WriteOptions(), kf::row_counts_kept_key()).ok());
        ASSERT_TRUE(db.db()->Delete(rocksdb::WriteOptions(), kf::row_count_key(7)).ok());
    }
    store again;
    ASSERT_TRUE(again.open(dir_.path()).ok());
    EXPECT_EQ(again.live_rows(7), 2);
}

TEST_F(store_test, purged_tombstone_does_not_resurrect_older_value) {
    db_.purge().set_gc_grace(1, 0);
    std::string key = cell_key(1, "row", 1);
    int64_t ts = int64_t(now_) * 1000000;
    mutation first;
    first.now_seconds = now_;
    first.cells.push_back({key, kf::encode_cell(false, ts, 0, 0, "old")});
    write(std::move(first));
    ASSERT_TRUE(db_.compact().ok());  // the old value now sits in the bottom level
    mutation second;
    second.now_seconds = now_;
    second.cells.push_back({key, kf::encode_cell(true, ts + 1, now_, 0, "")});
    write(std::move(second));
    ASSERT_TRUE(db_.db()->Flush(rocksdb::FlushOptions()).ok());
    ASSERT_TRUE(db_.compact().ok());
    EXPECT_FALSE(db_.get(key).has_value());
}

TEST_F(store_test, merge_sees_the_live_value_and_writes_a_tombstone_when_empty) {
    std::string key = cell_key(1, "row", 1);
    int64_t ts = int64_t(now_) * 1000000;
    mutation first;
    first.now_seconds = now_;
    first.cells.push_back({key, kf::encode_cell(false, ts, 0, 0, "ab")});
    write(std::move(first));
    std::optional<std::string> seen;
    mutation second;
    second.now_seconds = now_;
    cell_write cw{key, kf::encode_cell(false, ts + 1, 0, 0, "")};
    cw.merge = [&](const std::optional<std::string>& current) -> std::optional<std::string> {
        seen = current;
        return std::nullopt;
    };
    second.cells.push_back(std::move(cw));
    write(std::move(second));
    EXPECT_EQ(seen, std::optional<std::string>("ab"));
    auto c = kf::decode_cell(*db_.get(key));
    ASSERT_TRUE(c.has_value());
    EXPECT_TRUE(c->tombstone);
    EXPECT_EQ(c->timestamp, ts + 1);
    EXPECT_EQ(c->expiry, now_.load());  // local deletion time
}

// Submits `ms` so that they form one group: from the callback of an empty
// gate mutation, which runs on the writer thread before it takes its queue
// again. Returns the results in order.
std::vector<mutation_result> write_group(store& db, std::vector<mutation> ms) {
    std::vector<std::promise<mutation_result>> done(ms.size());
    std::promise<void> gate_done;
    db.submit(mutation{}, [&](mutation_result) {
        for (size_t idx = 0; idx < ms.size(); ++idx) {
            db.submit(std::move(ms[idx]), [&, idx](mutation_result r) { done[idx].set_value(std::move(r)); });
        }
        gate_done.set_value();
    });
    gate_done.get_future().wait();
    std::vector<mutation_result> out;
    for (auto& d : done) out.push_back(d.get_future().get());
    return out;
}

// The value of the cell stored at `key` ("<none>" when absent or malformed).
std::string cell_value(store& db, const std::string& key) {
    auto stored = db.get(key);
    if (!stored) return "<none>";
    auto c = kf::decode_cell(*stored);
    return c ? std::string(c->value) : "<none>";
}

mutation one_cell(const std::string& key, int64_t ts, const std::string& value, uint32_t now) {
    mutation m;
    m.now_seconds = now;
    m.cells.push_back({key, kf::encode_cell(false, ts, 0, 0, value)});
    return m;
}

TEST_F(store_test, group_commit_writes_every_queued_mutation_with_one_synced_write) {
    auto before = db_.stats();
    std::vector<mutation> ms;
    int64_t ts = int64_t(now_) * 1000000;
    for (int idx = 0; idx < 50; ++idx) ms.push_back(one_cell(cell_key(1, "r" + std::to_string(idx), 1), ts, "v", now_));
    auto results = write_group(db_, std::move(ms));
    for (const auto& r : results) {
        ASSERT_TRUE(r.st.ok()) << r.st.err().message();
        EXPECT_TRUE(r.applied);
    }
    auto after = db_.stats();
    EXPECT_EQ(after.groups - before.groups, 1u);
    EXPECT_EQ(after.wal_syncs - before.wal_syncs, 1u);
    EXPECT_EQ(after.mutations - before.mutations, 51u);  // with the gate
    for (int idx = 0; idx < 50; ++idx) EXPECT_TRUE(db_.get(cell_key(1, "r" + std::to_string(idx), 1)).has_value());
}

TEST_F(store_test, acknowledgement_comes_after_the_write_is_visible) {
    std::string key = cell_key(1, "acked", 1);
    std::promise<bool> seen;
    db_.submit(one_cell(key, 1, "v", now_), [&](mutation_result) { seen.set_value(db_.get(key).has_value()); });
    EXPECT_TRUE(seen.get_future().get());
}

TEST_F(store_test, mutations_in_one_group_see_each_other_in_queue_order) {
    int64_t ts = int64_t(now_) * 1000000;
    std::string lww = cell_key(1, "lww", 1), lwt = cell_key(1, "lwt", 1), merged = cell_key(1, "merged", 1);
    std::vector<mutation> ms;
    // Last-write-wins: the newer timestamp stays whatever the queue order.
    ms.push_back(one_cell(lww, ts + 10, "newer", now_));
    ms.push_back(one_cell(lww, ts + 5, "older", now_));
    // IF NOT EXISTS twice on one row: only the first applies.
    for (const char* v : {"first", "second"}) {
        auto m = one_cell(lwt, ts, v, now_);
        m.condition_prefix = lwt.substr(0, lwt.size() - 2);
        m.condition_exists = false;
        ms.push_back(std::move(m));
    }
    // A read-modify-write sees the value written earlier in the group.
    ms.push_back(one_cell(merged, ts, "a", now_));
    std::optional<std::string> seen;
    mutation rmw;
    rmw.now_seconds = now_;
    cell_write cw{merged, kf::encode_cell(false, ts + 1, 0, 0, "")};
    cw.merge = [&](const std::optional<std::string>& current) -> std::optional<std::string> {
        seen = current;
        return current.value_or("") + "b";
    };
    rmw.cells.push_back(std::move(cw));
    ms.push_back(std::move(rmw));
    auto results = write_group(db_, std::move(ms));
    ASSERT_EQ(results.size(), 6u);
    EXPECT_TRUE(results[2].applied);
    EXPECT_FALSE(results[3].applied);
    EXPECT_EQ(cell_value(db_, lww), "newer");
    EXPECT_EQ(cell_value(db_, lwt), "first");
    EXPECT_EQ(seen, std::optional<std::string>("a"));
    EXPECT_EQ(cell_value(db_, merged), "ab");
}

TEST_F(store_test, a_range_deleted_earlier_in_the_group_hides_the_old_cells) {
    int64_t ts = int64_t(now_) * 1000000;
    std::string key = cell_key(3, "row", 1);
    write(one_cell(key, ts + 100, "old", now_));  // a newer timestamp than what follows
    std::vector<mutation> ms;
    mutation truncate;
    truncate.delete_ranges.emplace_back(kf::table_prefix(3), kf::prefix_end(kf::table_prefix(3)));
    ms.push_back(std::move(truncate));
    auto cond = one_cell(key, ts, "after", now_);
    cond.condition_prefix = key.substr(0, key.size() - 2);
    cond.condition_exists = false;
    ms.push_back(std::move(cond));
    auto results = write_group(db_, std::move(ms));
    EXPECT_TRUE(results[1].applied) << "the row was truncated earlier in the group";
    auto stored = db_.get(key);
    ASSERT_TRUE(stored.has_value());
    auto c = kf::decode_cell(*stored);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->value, "after");
}

std::string packed_row(int64_t ts, std::vector<kf::packed_column> columns, uint32_t expiry = 0) {
    return kf::encode_packed_row(kf::cell{false, true, ts, expiry, 0, {}}, columns);
}

TEST_F(store_test, packed_rows_merge_in_the_writer_and_answer_conditions) {
    int64_t ts = int64_t(now_) * 1000000;
    std::string marker = cell_key(4, "row", kf::k_row_marker);
    std::string row = marker.substr(0, marker.size() - 2);
    auto insert = [&](int64_t at, std::vector<kf::packed_column> columns) {
        mutation m;
        m.now_seconds = now_;
        m.cells.push_back({marker, packed_row(at, std::move(columns)), nullptr, true});
        return m;
    };
    write(insert(ts + 20, {{2, kf::cell{false, false, ts + 20, 0, 0, "new"}}}));
    write(insert(ts + 10, {{2, kf::cell{false, false, ts + 10, 0, 0, "old"}}, {3, kf::cell{false, false, ts + 10, 0, 0, "b"}}}));
    EXPECT_EQ(db_.live_rows(4), 1);
    // One entry for the row, holding both inserts' newest columns.
    auto stored = db_.get(marker);
    ASSERT_TRUE(stored.has_value());
    auto c = kf::decode_cell(*stored);
    ASSERT_TRUE(c && c->packed);
    std::map<uint16_t, std::string> columns;
    ASSERT_TRUE(kf::for_each_packed_column(*c, [&](uint16_t id, const kf::cell& p) { columns[id] = std::string(p.value); }));
    EXPECT_EQ(columns, (std::map<uint16_t, std::string>{{2, "new"}, {3, "b"}}));
    // A column's own tombstone (DELETE b) newer than the packed column: IF NOT EXISTS still sees the row, without b;
    // the refusal carries the merged cells.
    mutation delete_b;
    delete_b.now_seconds = now_;
    delete_b.cells.push_back({cell_key(4, "row", 3), kf::encode_cell(true, ts + 30, now_, 0, "")});
    write(std::move(delete_b));
    auto cond = insert(ts + 40, {{2, kf::cell{false, false, ts + 40, 0, 0, "refused"}}});
    cond.condition_prefix = row;
    cond.condition_exists = false;
    std::promise<mutation_result> done;
    db_.submit(std::move(cond), [&](mutation_result r) { done.set_value(std::move(r)); });
    auto r = done.get_future().get();
    ASSERT_TRUE(r.st.ok());
    EXPECT_FALSE(r.applied);
    EXPECT_EQ(r.existing.count(3), 0u) << "the column's newer tombstone hides the packed value";
    ASSERT_EQ(r.existing.count(2), 1u);
    EXPECT_EQ(r.existing[2], "new");
    // A row delete newer than everything leaves a plain tombstone and no live row.
    mutation del;
    del.now_seconds = now_;
    del.cells.push_back({marker, kf::encode_cell(true, ts + 50, now_, 0, ""), nullptr, true});
    write(std::move(del));
    EXPECT_EQ(db_.live_rows(4), 0);
    auto gone = kf::decode_cell(*db_.get(marker));
    ASSERT_TRUE(gone.has_value());
    EXPECT_TRUE(gone->tombstone);
    EXPECT_FALSE(gone->packed);
}

TEST_F(store_test, a_packed_row_is_purged_only_when_every_column_is_dead) {
    db_.purge().set_gc_grace(5, 0);
    int64_t ts = int64_t(now_) * 1000000;
    std::string expired_marker = cell_key(5, "a", kf::k_row_marker), all_dead = cell_key(5, "b", kf::k_row_marker);
    mutation m;
    m.now_seconds = now_;
    // a: the marker expired, a column without TTL lives on (an older INSERT's); b: marker and column expired.
    m.puts.emplace_back(expired_marker, packed_row(ts, {{2, kf::cell{false, false, ts - 1, 0, 0, "lives"}}}, now_ - 10));
    m.puts.emplace_back(all_dead, packed_row(ts, {{2, kf::cell{false, false, ts, now_ - 10, 5, "gone"}}}, now_ - 10));
    write(std::move(m));
    ASSERT_TRUE(db_.compact().ok());
    auto after = keys();
    EXPECT_NE(std::find(after.begin(), after.end(), expired_marker), after.end());
    EXPECT_EQ(std::find(after.begin(), after.end(), all_dead), after.end());
}

TEST(store_format_test, a_store_of_a_newer_data_format_is_refused) {
    testing::temp_dir dir;
    {
        store db;
        ASSERT_TRUE(db.open(dir.path()).ok());
        auto version = db.get(kf::format_version_key());
        ASSERT_TRUE(version.has_value());
        EXPECT_EQ(kf::get_be(*version, 4), kf::k_format_version);
        db.stop_writes();
        std::string newer;
        kf::put_be(newer, kf::k_format_version + 1, 4);
        ASSERT_TRUE(db.db()->Put(rocksdb::WriteOptions(), kf::format_version_key(), newer).ok());
    }
    store again;
    auto opened = again.open(dir.path());
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.err().message().find("data format version 3"), std::string::npos) << opened.err().message();
    EXPECT_NE(opened.err().message().find(dir.path()), std::string::npos) << opened.err().message();
}

TEST(store_periodic_test, periodic_mode_acknowledges_before_the_fsync_and_syncs_every_period) {
    testing::temp_dir dir;
    {
        store db;
        ASSERT_TRUE(db.open(dir.file("slow"), {commit_sync::periodic, std::chrono::hours(1)}).ok());
        std::promise<mutation_result> done;
        db.submit(one_cell(cell_key(1, "a", 1), 1, "v", 1), [&](mutation_result r) { done.set_value(r); });
        ASSERT_TRUE(done.get_future().get().st.ok());
        EXPECT_EQ(db.stats().groups, 1u);
        EXPECT_EQ(db.stats().wal_syncs, 0u);
        db.stop_writes();  // the last sync on shutdown
        EXPECT_EQ(db.stats().wal_syncs, 1u);
    }
    store db;
    ASSERT_TRUE(db.open(dir.file("fast"), {commit_sync::periodic, std::chrono::milliseconds(20)}).ok());
    std::promise<mutation_result> done;
    db.submit(one_cell(cell_key(1, "a", 1), 1, "v", 1), [&](mutation_result r) { done.set_value(r); });
    ASSERT_TRUE(done.get_future().get().st.ok());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (db.stats().wal_syncs == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(db.stats().wal_syncs, 1u) << "one group written, one periodic fsync";
    EXPECT_TRUE(db.get(cell_key(1, "a", 1)).has_value());
}

}  // namespace
}  // namespace millrace::cql
