#include "txn/txn_log.h"

#include <gtest/gtest.h>

#include "millrace/common/file_system.h"

namespace millrace::kafka {
namespace {

txn_state_record sample(const std::string& id, txn_state state) {
    txn_state_record txn;
    txn.transactional_id = id;
    txn.producer_id = 42;
    txn.producer_epoch = 3;
    txn.last_producer_id = 42;
    txn.last_producer_epoch = 2;
    txn.timeout_ms = 5000;
    txn.state = state;
    txn.start_ms = 1000;
    txn.update_ms = 2000;
    txn.partitions = {{"a", 0}, {"b", 2}};
    txn.groups = {"g"};
    offset_commit_entry entry;
    entry.topic = "in";
    entry.partition = 1;
    entry.value.offset = 99;
    entry.value.metadata = std::nullopt;
    txn.pending_offsets.push_back({"g", entry});
    return txn;
}

class txn_log_test : public ::testing::Test {
protected:
    std::map<std::string, txn_state_record> reopen() {
        std::map<std::string, txn_state_record> out;
        txn_log log(fs_, "/tx");
        auto st = log.open(out);
        EXPECT_TRUE(st.ok()) << st.err().message();
        return out;
    }
    std::string file_bytes() {
        auto text = read_file(fs_, "/tx/txn.log");
        EXPECT_TRUE(text.ok());
        return text.ok() ? *text : std::string();
    }
    memory_file_system fs_;
};

TEST_F(txn_log_test, record_round_trips) {
    auto txn = sample("t1", txn_state::ongoing);
    auto decoded = decode_txn_record(encode_txn_record(txn));
    ASSERT_TRUE(decoded.ok()) << decoded.err().message();
    EXPECT_EQ(decoded->transactional_id, "t1");
    EXPECT_EQ(decoded->producer_epoch, 3);
    EXPECT_EQ(decoded->state, txn_state::ongoing);
    EXPECT_EQ(decoded->partitions, txn.partitions);
    EXPECT_EQ(decoded->groups, txn.groups);
    ASSERT_EQ(decoded->pending_offsets.size(), 1u);
    EXPECT_EQ(decoded->pending_offsets[0].entry.value.offset, 99);
    EXPECT_FALSE(decoded->pending_offsets[0].entry.value.metadata.has_value());
}

TEST_F(txn_log_test, last_record_of_an_id_wins_after_reopen) {
    {
        std::map<std::string, txn_state_record> all;
        txn_log log(fs_, "/tx");
        ASSERT_TRUE(log.open(all).ok());
        all["t1"] = sample("t1", txn_state::ongoing);
        ASSERT_TRUE(log.append(all["t1"], all).ok());
        all["t1"].state = txn_state::complete_commit;
        ASSERT_TRUE(log.append(all["t1"], all).ok());
        all["t2"] = sample("t2", txn_state::prepare_abort);
        ASSERT_TRUE(log.append(all["t2"], all).ok());
    }
    auto loaded = reopen();
    ASSERT_EQ(loaded.size(), 2u);
    EXPECT_EQ(loaded["t1"].state, txn_state::complete_commit);
    EXPECT_EQ(loaded["t2"].state, txn_state::prepare_abort);
}

TEST_F(txn_log_test, torn_tail_is_cut_off) {
    size_t whole = 0;
    {
        std::map<std::string, txn_state_record> all;
        txn_log log(fs_, "/tx");
        ASSERT_TRUE(log.open(all).ok());
        all["t1"] = sample("t1", txn_state::ongoing);
        ASSERT_TRUE(log.append(all["t1"], all).ok());
        whole = log.size();
        all["t1"].state = txn_state::complete_abort;
        ASSERT_TRUE(log.append(all["t1"], all).ok());
    }
    // A crash mid-write: only part of the second record reached the disk.
    auto bytes = file_bytes();
    ASSERT_TRUE(write_file_atomic(fs_, "/tx/txn.log", bytes.substr(0, whole + 11)).ok());
    auto loaded = reopen();
    EXPECT_EQ(loaded["t1"].state, txn_state::ongoing);
    EXPECT_EQ(file_bytes().size(), whole);
}

TEST_F(txn_log_test, checksum_mismatch_at_the_tail_is_cut_off) {
    {
        std::map<std::string, txn_state_record> all;
        txn_log log(fs_, "/tx");
        ASSERT_TRUE(log.open(all).ok());
        all["t1"] = sample("t1", txn_state::ongoing);
        ASSERT_TRUE(log.append(all["t1"], all).ok());
    }
    auto bytes = file_bytes();
    bytes[bytes.size() - 3] ^= 0x40;
    ASSERT_TRUE(write_file_atomic(fs_, "/tx/txn.log", bytes).ok());
    EXPECT_TRUE(reopen().empty());
}

TEST_F(txn_log_test, rewrite_keeps_one_record_per_id) {
    std::map<std::string, txn_state_record> all;
    {
        txn_log log(fs_, "/tx", /*rewrite_threshold_bytes=*/200);
        ASSERT_TRUE(log.open(all).ok());
        for (int round = 0; round < 20; ++round) {
            all["t1"] = sample("t1", round % 2 ? txn_state::ongoing : txn_state::complete_commit);
            ASSERT_TRUE(log.append(all["t1"], all).ok());
        }
        EXPECT_LT(log.size(), 400u);
    }
    auto loaded = reopen();
    EXPECT_EQ(loaded["t1"].state, txn_state::ongoing);
}

TEST_F(txn_log_test, bad_state_is_corruption) {
    auto bytes = encode_txn_record(sample("t1", txn_state::ongoing));
    // version (1) | id (2 + 2) | pid (8) | epoch (2) | last pid (8) | last epoch (2) | timeout (4) | state
    bytes[1 + 4 + 8 + 2 + 8 + 2 + 4] = 17;
    auto decoded = decode_txn_record(bytes);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.err().code(), errc::corruption);
    EXPECT_FALSE(decode_txn_record(bytes.substr(0, 10)).ok());
}

}  // namespace
}  // namespace millrace::kafka
