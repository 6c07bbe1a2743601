// The transaction coordinator's durable state: an append-only file of
// checksummed records, each the whole state of one transactional id (the
// last record of an id wins), fsynced before the coordinator answers. When
// it outgrows its threshold it is rewritten with one record per id
// (temporary file, fsync, rename).
//
// File <data_dir>/.transactions/txn.log, records back to back:
//   length  (4 bytes)  bytes of payload
//   crc     (4 bytes)  CRC-32C of the payload
//   payload (length)   version (1 byte, 1) | transactional id (int16 length + bytes)
//                      | producer id (8) | epoch (2) | last producer id (8)
//                      | last epoch (2) | timeout ms (4) | state (1)
//                      | start ms (8) | update ms (8)
//                      | partitions: count (4), each topic (string) | partition (4)
//                      | groups: count (4), each group (string)
//                      | pending offsets: count (4), each group | topic
//                        | partition (4) | offset (8) | leader epoch (4)
//                        | metadata (nullable string)
// Integers big-endian, strings as Kafka's classic STRING (int16 length).
// Recovery: a short or checksum-failing record at the end is a torn write
// and is cut off; anything after it is lost with it (it was never answered).
//
// Not thread-safe: the io thread's only.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "group/offset_store.h"
#include "millrace/common/file_system.h"
#include "millrace/common/result.h"

namespace millrace::kafka {

// Wire-stable state codes (persisted).
enum class txn_state : int8_t {
    empty = 0,
    ongoing = 1,
    prepare_commit = 2,
    prepare_abort = 3,
    complete_commit = 4,
    complete_abort = 5,
    dead = 6,
};

// Kafka's name of a state (DescribeTransactions, ListTransactions filters).
const char* txn_state_name(txn_state state);

struct txn_partition {
    std::string topic;
    int32_t partition = 0;
    auto operator<=>(const txn_partition&) const = default;
};

struct txn_pending_offset {
    std::string group;
    offset_commit_entry entry;
};

struct txn_state_record {
    std::string transactional_id;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    int64_t last_producer_id = -1;  // before the last epoch bump (KIP-360 retries)
    int16_t last_producer_epoch = -1;
    int32_t timeout_ms = 60'000;
    txn_state state = txn_state::empty;
    int64_t start_ms = -1;           // when the open transaction began
    int64_t update_ms = 0;
    std::set<txn_partition> partitions;
    std::set<std::string> groups;
    std::vector<txn_pending_offset> pending_offsets;
};

std::string encode_txn_record(const txn_state_record& txn);
// errc::corruption names what is wrong.
result<txn_state_record> decode_txn_record(std::string_view payload);

class txn_log {
public:
    txn_log(file_system& fs, std::string dir, uint64_t rewrite_threshold_bytes = 1u << 20);

    // Reads every record into `out` (last per id wins), cutting a torn tail.
    status open(std::map<std::string, txn_state_record>& out);
    // Appends `txn` and fsyncs. `all` is the whole state, written instead
    // when the file has outgrown its threshold.
    status append(const txn_state_record& txn, const std::map<std::string, txn_state_record>& all);
    uint64_t size() const { return size_; }

private:
    status rewrite(const std::map<std::string, txn_state_record>& all);

    file_system& fs_;
    std::string dir_;
    std::string path_;
    uint64_t rewrite_threshold_bytes_;
    std::unique_ptr<file> file_;
    uint64_t size_ = 0;
};

}  // namespace millrace::kafka
