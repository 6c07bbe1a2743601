// The store's purge of dead cells at compaction: tombstones and expired cells
// go once their gc_grace_seconds have passed, live cells and young tombstones
// stay, schema records are never touched. Manual time through the purge clock.
#include "storage/store.h"

#include <atomic>
#include <future>

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
    EXPECT_EQ(after.size(), 2u);
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

}  // namespace
}  // namespace millrace::cql
