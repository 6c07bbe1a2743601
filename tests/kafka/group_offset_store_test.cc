#include "group/offset_store.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>

#include "group/offset_format.h"
#include "harness/process.h"
#include "protocol/record_batch.h"

namespace millrace::kafka {
namespace {

using namespace std::chrono_literals;

constexpr const char* k_dir = "/data/offsets";

std::string journal_path(uint64_t id) {
    return fmt::format("{}/offsets-{:020}.journal", k_dir, id);
}

offset_commit_entry entry(const std::string& topic, int32_t partition, int64_t offset, int64_t timestamp_ms = 1000,
                          std::optional<std::string> metadata = std::nullopt, int32_t leader_epoch = -1) {
    offset_commit_entry e;
    e.topic = topic;
    e.partition = partition;
    e.value.offset = offset;
    e.value.leader_epoch = leader_epoch;
    e.value.metadata = std::move(metadata);
    e.value.commit_timestamp_ms = timestamp_ms;
    return e;
}

class group_offset_store_test : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(memory_.create_directories("/data").ok()); }

    std::unique_ptr<offset_store> open_store(file_system& fs, offset_store_options options = inline_options(),
                                             const std::string& dir = k_dir) {
        auto store = std::make_unique<offset_store>(io_, fs, dir, options, metrics_);
        auto st = store->open();
        EXPECT_TRUE(st.ok()) << st.err().message();
        return store;
    }

    static offset_store_options inline_options() {
        offset_store_options o;
        o.background_io = false;
        return o;
    }

    // Starts a commit; the result slot fills when the io_context runs it.
    std::shared_ptr<std::optional<status>> start_commit(offset_store& store, const std::string& group,
                                                        std::vector<offset_commit_entry> entries) {
        auto slot = std::make_shared<std::optional<status>>();
        asio::co_spawn(io_, store.commit(group, std::move(entries)), [slot](std::exception_ptr e, status st) {
            if (e) std::rethrow_exception(e);
            *slot = std::move(st);
        });
        return slot;
    }

    // Runs the io_context until `done` (the I/O thread posts completions back).
    template <typename Pred>
    void run_until(Pred done) {
        io_.restart();
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!done()) {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out waiting for the offset store";
            io_.run_one_for(10ms);
        }
    }

    status commit_now(offset_store& store, const std::string& group, std::vector<offset_commit_entry> entries) {
        auto slot = start_commit(store, group, std::move(entries));
        run_until([&] { return slot->has_value(); });
        return slot->has_value() ? **slot : make_error(errc::timed_out, "no outcome");
    }

    status delete_now(offset_store& store, std::vector<std::string> groups) {
        auto slot = std::make_shared<std::optional<status>>();
        asio::co_spawn(io_, store.delete_groups(std::move(groups)), [slot](std::exception_ptr e, status st) {
            if (e) std::rethrow_exception(e);
            *slot = std::move(st);
        });
        run_until([&] { return slot->has_value(); });
        return **slot;
    }

    void drain() {
        io_.restart();
        io_.poll();
    }

    std::string journal_bytes(uint64_t id) { return read_file(memory_, journal_path(id)).value(); }

    uint64_t fsync_count() {
        std::string text = metrics_.expose();
        std::string key = "millrace_broker_offset_fsync_seconds_count ";
        auto pos = text.find(key);
        if (pos == std::string::npos) return 0;
        return std::stoull(text.substr(pos + key.size()));
    }

    asio::io_context io_;
    memory_file_system memory_;
    metrics::registry metrics_;
};

TEST_F(group_offset_store_test, commit_and_find_round_trip) {
    auto store = open_store(memory_);
    ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 10, 1000, "meta", 3), entry("t", 1, 20)}).ok());
    const committed_offset* p0 = store->find("g", "t", 0);
    ASSERT_NE(p0, nullptr);
    EXPECT_EQ(p0->offset, 10);
    EXPECT_EQ(p0->leader_epoch, 3);
    EXPECT_EQ(p0->metadata, "meta");
    EXPECT_EQ(p0->commit_timestamp_ms, 1000);
    EXPECT_FALSE(store->find("g", "t", 1)->metadata.has_value());
    EXPECT_EQ(store->find("g", "t", 2), nullptr);
    EXPECT_EQ(store->find("other", "t", 0), nullptr);

    ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 11)}).ok());
    EXPECT_EQ(store->find("g", "t", 0)->offset, 11);
    std::vector<std::string> seen;
    store->for_each([&](const std::string& g, const std::string& t, int32_t p, const committed_offset& v) {
        seen.push_back(fmt::format("{}/{}/{}={}", g, t, p, v.offset));
    });
    EXPECT_EQ(seen, (std::vector<std::string>{"g/t/0=11", "g/t/1=20"}));
}

TEST_F(group_offset_store_test, reopen_replays_the_journal) {
    {
        auto store = open_store(memory_);
        ASSERT_TRUE(commit_now(*store, "g1", {entry("a", 0, 5)}).ok());
        ASSERT_TRUE(commit_now(*store, "g2", {entry("b", 3, 7, 1000, std::string(""))}).ok());
        ASSERT_TRUE(commit_now(*store, "g1", {entry("a", 0, 6)}).ok());
    }
    auto store = open_store(memory_);
    EXPECT_EQ(store->find("g1", "a", 0)->offset, 6);
    EXPECT_EQ(store->find("g2", "b", 3)->offset, 7);
    EXPECT_EQ(store->find("g2", "b", 3)->metadata, "");  // empty, not null
    EXPECT_EQ(store->groups(), (std::vector<std::string>{"g1", "g2"}));
    EXPECT_EQ(store->size(), 2u);
}

TEST_F(group_offset_store_test, crash_keeps_every_acknowledged_commit) {
    fault_injection_file_system faults(memory_);
    auto store = open_store(faults);
    for (int64_t idx = 0; idx < 10; ++idx) {
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", static_cast<int32_t>(idx % 3), idx)}).ok());
    }
    // One more commit is appended, but its fsync fails: never acknowledged.
    faults.fail(fault_injection_file_system::op::sync, make_error(errc::io_error, "injected fsync failure"));
    auto failed = commit_now(*store, "g", {entry("t", 0, 999)});
    EXPECT_FALSE(failed.ok());
    EXPECT_EQ(failed.err().code(), errc::io_error);
    // And one is still queued when the power goes.
    auto queued = start_commit(*store, "g", {entry("t", 1, 1000)});
    io_.restart();
    io_.poll_one();
    // The process dies: nothing it does from now on reaches the disk.
    faults.fail(fault_injection_file_system::op::open, make_error(errc::io_error, "dead"), 1000);
    faults.fail(fault_injection_file_system::op::append, make_error(errc::io_error, "dead"), 1000);
    faults.fail(fault_injection_file_system::op::sync, make_error(errc::io_error, "dead"), 1000);
    faults.fail(fault_injection_file_system::op::rename, make_error(errc::io_error, "dead"), 1000);
    store.reset();
    memory_.simulate_crash();

    auto reopened = open_store(memory_);
    EXPECT_EQ(reopened->find("g", "t", 0)->offset, 9);
    EXPECT_EQ(reopened->find("g", "t", 1)->offset, 7);
    EXPECT_EQ(reopened->find("g", "t", 2)->offset, 8);
}

TEST_F(group_offset_store_test, torn_tail_is_truncated_on_open) {
    size_t first_record = 0;
    {
        fault_injection_file_system faults(memory_);
        auto store = open_store(faults);
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 1)}).ok());
        first_record = store->journal_bytes();
        faults.tear_next_append(7);  // a crash mid-append leaves 7 bytes of the next record
        auto torn = commit_now(*store, "g", {entry("t", 0, 2)});
        EXPECT_FALSE(torn.ok());
    }
    EXPECT_EQ(journal_bytes(1).size(), first_record + 7);
    {
        auto store = open_store(memory_);
        EXPECT_EQ(store->find("g", "t", 0)->offset, 1);
        EXPECT_EQ(store->journal_bytes(), first_record);
        EXPECT_EQ(journal_bytes(1).size(), first_record);  // the tail is cut off
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 3)}).ok());
    }
    auto store = open_store(memory_);
    EXPECT_EQ(store->find("g", "t", 0)->offset, 3);
}

TEST_F(group_offset_store_test, checksum_mismatch_in_last_record_is_cut_off) {
    {
        auto store = open_store(memory_);
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 1)}).ok());
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 2)}).ok());
    }
    std::string bytes = journal_bytes(1);
    bytes[bytes.size() - 3] ^= 0x40;  // flip a bit inside the second record's payload
    {
        auto f = memory_.open(journal_path(1), open_mode::read_write);
        ASSERT_TRUE((*f)->truncate(0).ok());
        ASSERT_TRUE((*f)->append(bytes).ok());
        ASSERT_TRUE((*f)->sync().ok());
    }
    auto store = open_store(memory_);
    EXPECT_EQ(store->find("g", "t", 0)->offset, 1);
    EXPECT_EQ(journal_bytes(1).size(), bytes.size() / 2);
}

TEST_F(group_offset_store_test, failed_write_rotates_to_a_new_journal) {
    fault_injection_file_system faults(memory_);
    {
        auto store = open_store(faults);
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 1)}).ok());
        faults.tear_next_append(4);
        EXPECT_FALSE(commit_now(*store, "g", {entry("t", 1, 2)}).ok());
        // The journal's tail is unknown now: the next write starts afresh.
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 2, 3)}).ok());
        EXPECT_EQ(store->journal_id(), 2u);
        EXPECT_EQ(store->find("g", "t", 1), nullptr);
    }
    EXPECT_EQ(memory_.list(k_dir).value(),
              (std::vector<std::string>{"offsets-00000000000000000002.journal", "offsets.snapshot"}));
    auto store = open_store(memory_);
    EXPECT_EQ(store->find("g", "t", 0)->offset, 1);
    EXPECT_EQ(store->find("g", "t", 1), nullptr);
    EXPECT_EQ(store->find("g", "t", 2)->offset, 3);
}

TEST_F(group_offset_store_test, failed_snapshot_write_is_retried_with_the_next_commit) {
    fault_injection_file_system faults(memory_);
    offset_store_options options = inline_options();
    options.compact_threshold_bytes = 1;  // every write after the first rotates
    {
        auto store = open_store(faults, options);
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 1)}).ok());
        faults.fail(fault_injection_file_system::op::rename, make_error(errc::io_error, "injected rename failure"));
        EXPECT_FALSE(commit_now(*store, "g", {entry("t", 0, 2)}).ok());
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 3)}).ok());
    }
    memory_.simulate_crash();
    auto store = open_store(memory_);
    EXPECT_EQ(store->find("g", "t", 0)->offset, 3);
}

TEST_F(group_offset_store_test, snapshot_rewrite_keeps_latest_values) {
    offset_store_options options = inline_options();
    options.compact_threshold_bytes = 300;
    {
        auto store = open_store(memory_, options);
        for (int64_t round = 0; round < 40; ++round) {
            ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, round), entry("t", 1, 100 + round)}).ok());
            ASSERT_TRUE(commit_now(*store, "h", {entry("u", 0, 1000 + round)}).ok());
            EXPECT_LE(store->journal_bytes(), 300u + 200u);
        }
        EXPECT_GT(store->journal_id(), 3u);
    }
    auto names = memory_.list(k_dir).value();
    ASSERT_EQ(names.size(), 2u) << "old journals must be removed";
    EXPECT_EQ(names[1], "offsets.snapshot");
    memory_.simulate_crash();
    auto store = open_store(memory_, options);
    EXPECT_EQ(store->find("g", "t", 0)->offset, 39);
    EXPECT_EQ(store->find("g", "t", 1)->offset, 139);
    EXPECT_EQ(store->find("h", "u", 0)->offset, 1039);
    EXPECT_EQ(store->size(), 3u);
}

TEST_F(group_offset_store_test, expiry_removes_old_offsets_durably) {
    {
        auto store = open_store(memory_);
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 1, 1'000), entry("t", 1, 2, 5'000)}).ok());
        ASSERT_TRUE(commit_now(*store, "old", {entry("t", 0, 1, 500)}).ok());
        EXPECT_EQ(store->expire("g", 2'000), 1u);
        EXPECT_EQ(store->expire("old", 2'000), 0u);
        EXPECT_EQ(store->expire("missing", 2'000), 0u);
        EXPECT_NE(store->find("g", "t", 0), nullptr);  // applied once durable
        drain();
        EXPECT_EQ(store->find("g", "t", 0), nullptr);
        EXPECT_EQ(store->find("g", "t", 1)->offset, 2);
        EXPECT_FALSE(store->has_group("old"));
    }
    memory_.simulate_crash();
    auto store = open_store(memory_);
    EXPECT_EQ(store->find("g", "t", 0), nullptr);
    EXPECT_EQ(store->find("g", "t", 1)->offset, 2);
    EXPECT_FALSE(store->has_group("old"));
}

TEST_F(group_offset_store_test, expiry_does_not_remove_a_newer_commit_queued_before_it) {
    auto store = open_store(memory_);
    ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 1, 1'000)}).ok());
    auto fresh = start_commit(*store, "g", {entry("t", 0, 2, 9'000)});
    io_.restart();
    io_.poll_one();  // the commit is queued (not yet written) before the expiry
    store->expire("g", 2'000);  // decided on the old value; applied after the fresh commit
    run_until([&] { return fresh->has_value(); });
    drain();
    ASSERT_NE(store->find("g", "t", 0), nullptr);
    EXPECT_EQ(store->find("g", "t", 0)->offset, 2);
}

TEST_F(group_offset_store_test, deleted_groups_stay_deleted) {
    {
        auto store = open_store(memory_);
        ASSERT_TRUE(commit_now(*store, "a", {entry("t", 0, 1)}).ok());
        ASSERT_TRUE(commit_now(*store, "b", {entry("t", 0, 2)}).ok());
        ASSERT_TRUE(commit_now(*store, "c", {entry("t", 0, 3)}).ok());
        ASSERT_TRUE(delete_now(*store, {"a", "c"}).ok());
        EXPECT_EQ(store->groups(), std::vector<std::string>{"b"});
    }
    memory_.simulate_crash();
    auto store = open_store(memory_);
    EXPECT_EQ(store->groups(), std::vector<std::string>{"b"});
}

TEST_F(group_offset_store_test, deleted_offsets_stay_deleted_after_a_crash) {
    {
        auto store = open_store(memory_);
        ASSERT_TRUE(commit_now(*store, "a", {entry("t", 0, 1), entry("t", 1, 2), entry("u", 0, 3)}).ok());
        ASSERT_TRUE(commit_now(*store, "b", {entry("t", 0, 4)}).ok());
        auto slot = std::make_shared<std::optional<status>>();
        asio::co_spawn(io_, store->delete_offsets("a", {{"t", 0}, {"u", 0}, {"missing", 9}}),
                       [slot](std::exception_ptr e, status st) {
                           if (e) std::rethrow_exception(e);
                           *slot = std::move(st);
                       });
        run_until([&] { return slot->has_value(); });
        ASSERT_TRUE(slot->value().ok());
        EXPECT_EQ(store->find("a", "t", 0), nullptr);
        EXPECT_NE(store->find("a", "t", 1), nullptr);
    }
    memory_.simulate_crash();
    auto store = open_store(memory_);
    EXPECT_EQ(store->find("a", "t", 0), nullptr);
    EXPECT_EQ(store->find("a", "u", 0), nullptr);
    ASSERT_NE(store->find("a", "t", 1), nullptr);
    EXPECT_EQ(store->find("a", "t", 1)->offset, 2);
    ASSERT_NE(store->find("b", "t", 0), nullptr);
}

TEST_F(group_offset_store_test, concurrent_commits_share_one_fsync) {
    auto store = open_store(memory_);
    std::vector<std::shared_ptr<std::optional<status>>> slots;
    for (int32_t idx = 0; idx < 20; ++idx) slots.push_back(start_commit(*store, "g", {entry("t", idx, idx)}));
    run_until([&] { return std::all_of(slots.begin(), slots.end(), [](const auto& s) { return s->has_value(); }); });
    for (const auto& s : slots) EXPECT_TRUE((*s)->ok());
    EXPECT_EQ(fsync_count(), 1u);
    EXPECT_EQ(store->size(), 20u);
}

TEST_F(group_offset_store_test, background_io_commits_many_clients_and_reopens) {
    offset_store_options options;
    options.background_io = true;
    options.compact_threshold_bytes = 2'000;
    {
        auto store = open_store(memory_, options);
        std::vector<std::shared_ptr<std::optional<status>>> slots;
        for (int32_t round = 0; round < 10; ++round) {
            for (int32_t client = 0; client < 10; ++client) {
                slots.push_back(start_commit(*store, fmt::format("g{}", client), {entry("t", 0, round)}));
            }
            io_.restart();
            io_.poll();  // some rounds overlap an fsync in flight, some do not
        }
        run_until([&] { return std::all_of(slots.begin(), slots.end(), [](const auto& s) { return s->has_value(); }); });
        for (const auto& s : slots) EXPECT_TRUE((*s)->ok());
        EXPECT_LT(fsync_count(), 100u);
    }
    memory_.simulate_crash();
    auto store = open_store(memory_, options);
    for (int32_t client = 0; client < 10; ++client) {
        ASSERT_NE(store->find(fmt::format("g{}", client), "t", 0), nullptr);
        EXPECT_EQ(store->find(fmt::format("g{}", client), "t", 0)->offset, 9);
    }
}

TEST_F(group_offset_store_test, close_writes_queued_commits) {
    auto store = open_store(memory_);
    auto queued = start_commit(*store, "g", {entry("t", 0, 77)});
    io_.restart();
    io_.poll_one();  // queued; its write job is not started yet
    store->close();
    drain();
    ASSERT_TRUE(queued->has_value());
    EXPECT_TRUE((*queued)->ok());
    auto after = commit_now(*store, "g", {entry("t", 0, 78)});
    EXPECT_EQ(after.err().code(), errc::unavailable);
    store.reset();
    memory_.simulate_crash();
    EXPECT_EQ(open_store(memory_)->find("g", "t", 0)->offset, 77);
}

TEST_F(group_offset_store_test, corrupt_snapshot_fails_open) {
    ASSERT_TRUE(memory_.create_directories(k_dir).ok());
    ASSERT_TRUE(write_file_atomic(memory_, std::string(k_dir) + "/offsets.snapshot", "not a snapshot at all").ok());
    offset_store store(io_, memory_, k_dir, inline_options(), metrics_);
    auto st = store.open();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.err().code(), errc::corruption);
    EXPECT_NE(st.err().message().find("offsets.snapshot"), std::string::npos) << st.err().message();
}

TEST_F(group_offset_store_test, unknown_record_type_with_valid_checksum_is_corruption) {
    {
        auto store = open_store(memory_);
        ASSERT_TRUE(commit_now(*store, "g", {entry("t", 0, 1)}).ok());
    }
    std::string bytes = journal_bytes(1);
    bytes[offset_format::k_type] = 99;
    uint32_t crc = crc32c(bytes.data() + offset_format::k_length, bytes.size() - offset_format::k_length);
    for (size_t idx = 0; idx < 4; ++idx) bytes[idx] = static_cast<char>(crc >> (8 * (3 - idx)));
    {
        auto f = memory_.open(journal_path(1), open_mode::read_write);
        ASSERT_TRUE((*f)->truncate(0).ok());
        ASSERT_TRUE((*f)->append(bytes).ok());
    }
    offset_store store(io_, memory_, k_dir, inline_options(), metrics_);
    auto st = store.open();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.err().code(), errc::corruption);
}

TEST_F(group_offset_store_test, disk_store_survives_reopen) {
    testing::temp_dir dir;
    offset_store_options options;  // the production configuration: fsync on the store's thread
    options.compact_threshold_bytes = 500;
    {
        auto store = open_store(file_system::disk(), options, dir.file("offsets"));
        for (int64_t round = 0; round < 30; ++round) {
            ASSERT_TRUE(commit_now(*store, "g", {entry("topic", 0, round, 1000, "m")}).ok());
        }
    }
    auto store = open_store(file_system::disk(), options, dir.file("offsets"));
    EXPECT_EQ(store->find("g", "topic", 0)->offset, 29);
    EXPECT_EQ(store->find("g", "topic", 0)->metadata, "m");
}

}  // namespace
}  // namespace millrace::kafka
