// One partition's log: a sequence of segments holding record batches, with
// offset assignment, idempotent-producer sequence checks, reads by offset and
// by timestamp, crash recovery, segment rolling and retention.
//
// Invariants: log_start_offset <= flushed_offset <= next_offset; every byte
// below a segment's size is a whole, CRC-valid batch.
// Not thread-safe: used on the broker's io_context thread only. `active_file()`
// may be synced from another thread (fdatasync is safe beside appends).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "millrace/common/clock.h"
#include "millrace/common/file_system.h"
#include "protocol/batch_validator.h"
#include "protocol/errors.h"
#include "protocol/record_batch.h"

namespace millrace::kafka::storage {

struct log_config {
    int64_t segment_bytes = 1LL << 30;
    int64_t segment_ms = 7LL * 24 * 3600 * 1000;
    int64_t retention_ms = 7LL * 24 * 3600 * 1000;  // -1: keep forever
    int64_t retention_bytes = -1;                    // -1: no size limit
    int64_t max_message_bytes = 1048588;
    int64_t index_interval_bytes = 4096;
    bool log_append_time = false;                    // message.timestamp.type=LogAppendTime
    int64_t timestamp_before_max_ms = INT64_MAX;     // message.timestamp.before.max.ms (CreateTime)
    int64_t timestamp_after_max_ms = 3'600'000;      // message.timestamp.after.max.ms (CreateTime)
    bool compact = false;                            // cleanup.policy includes compact
    bool delete_retention = true;                    // cleanup.policy includes delete
    int64_t delete_retention_ms = 86'400'000;        // how long tombstones outlive compaction
};

struct compaction_stats {
    int segments = 0;          // closed segments rewritten
    int64_t records_kept = 0;
    int64_t records_removed = 0;
};

struct append_result {
    error_code error = error_code::none;
    std::string message;         // detail for the error, for logs and Produce v8 error_message
    int64_t base_offset = -1;    // offset of the first record appended (or of the duplicate)
    int64_t last_offset = -1;
    int64_t log_append_time = -1;
    bool duplicate = false;      // an idempotent retry: acknowledged, not appended again
};

struct read_result {
    error_code error = error_code::none;
    std::string records;         // whole batches, as stored
};

// A transaction that ended with an ABORT marker: consumers reading committed
// data skip its producer's batches from `first_offset` until the marker at
// `last_offset` (Kafka's .txnindex entry).
struct aborted_txn {
    int64_t producer_id;
    int64_t first_offset;
    int64_t last_offset;  // the ABORT marker's offset
};

class segment;

class partition_log {
public:
    partition_log(file_system& fs, millrace::clock& clock, std::string dir, log_config cfg);
    ~partition_log();

    // Opens (creating the directory when missing) and recovers. `clean` means
    // the broker shut down cleanly and index files can be trusted.
    status open(bool clean);
    // Writes the active segment's indexes (clean shutdown).
    status close();

    // Validates every batch of a Produce RECORDS field, checks idempotent
    // sequences, assigns offsets and appends. All or nothing: a bad batch
    // rejects the whole set. The data is in the OS page cache, not yet durable.
    append_result append(std::string_view records);
    // The produce-time checks of `records` under this partition's configs
    // (max.message.bytes, timestamps, compaction) and the clock's now; call
    // before append() with the request's version and transactional id.
    produce_verdict validate_produce(std::string_view records, int16_t produce_version, bool transactional_request) const;

    // Whole batches starting with the one that contains `offset`, up to
    // `max_bytes` (at least one batch, however large). With `max_offset`
    // (read_committed: the last stable offset) no batch starting at or beyond
    // it is returned.
    read_result read(int64_t offset, int32_t max_bytes, int64_t max_offset = INT64_MAX) const;

    // Transactions (KIP-98). The last stable offset: the first offset of the
    // oldest open transaction, else the log end. Invariant:
    // log_start_offset <= last_stable_offset <= next_offset.
    int64_t last_stable_offset() const;
    // Appends a COMMIT or ABORT control batch for `producer_id` (the
    // transaction coordinator's marker), closing its open transaction here.
    // Appended even when no transaction is open (a retried marker is harmless).
    append_result append_marker(int64_t producer_id, int16_t producer_epoch, bool commit, int32_t coordinator_epoch);
    // Aborted transactions a read_committed Fetch from `from` up to (not
    // including) `upto` must know about, oldest first.
    std::vector<aborted_txn> aborted_between(int64_t from, int64_t upto) const;
    // The first offset of `producer_id`'s open transaction, or -1.
    int64_t open_txn_start(int64_t producer_id) const;

    // Offset and timestamp of the first record whose timestamp >= `timestamp`,
    // or {-1, -1}.
    std::pair<int64_t, int64_t> offset_for_timestamp(int64_t timestamp) const;
    // Offset and timestamp of the first record with the largest timestamp
    // (ListOffsets -3), or {-1, -1} for an empty log.
    std::pair<int64_t, int64_t> max_timestamp_offset() const;

    // Bytes of torn or corrupt tail cut off by the last open(), for the log.
    uint64_t truncated_on_open() const { return truncated_on_open_; }
    int64_t log_start_offset() const { return log_start_offset_; }
    // DeleteRecords: moves the log start offset up to `offset` (-1: the high
    // watermark), removes the segments wholly below it and records it durably
    // in `log-start-offset` (read back by open()). errc::invalid_argument when
    // `offset` is beyond the log end; I/O errors otherwise.
    status delete_records_before(int64_t offset);
    int64_t next_offset() const { return next_offset_; }
    int64_t flushed_offset() const { return flushed_offset_; }
    uint64_t size_bytes() const;
    const std::string& dir() const { return dir_; }
    void set_config(const log_config& cfg) { cfg_ = cfg; }

    // The file that holds unsynced data, and the offset it will be durable to.
    std::shared_ptr<file> active_file() const;
    // Records that everything below `offset` is durable.
    void mark_flushed(int64_t offset) { flushed_offset_ = std::max(flushed_offset_, offset); }
    // fsync now, on this thread.
    status sync();

    // Deletes closed segments beyond retention.ms / retention.bytes. Returns
    // how many segments were deleted. No-op unless cleanup.policy has delete.
    int enforce_retention();
    // Log compaction (cleanup.policy=compact): rewrites the closed segments to
    // keep only the newest record of each key, and drops tombstones older
    // than delete.retention.ms. Offsets never change; reads skip the gaps.
    // Runs only when a segment was closed since the last pass or tombstones
    // are waiting to expire. A crash mid-way leaves the old segment intact.
    result<compaction_stats> compact();
    // Removes every file of the partition.
    status destroy();

    // The idempotent producers this partition remembers (DescribeProducers).
    struct producer_snapshot {
        int64_t producer_id;
        int16_t epoch;
        int32_t last_sequence;   // -1 when no batch is remembered
        int64_t last_offset;     // -1 when no batch is remembered
    };
    std::vector<producer_snapshot> producers() const;

private:
    struct producer_batch {
        int32_t first_sequence;
        int32_t last_sequence;
        int64_t base_offset;
        int64_t last_offset;
    };
    struct producer_entry {
        int16_t epoch = -1;
        std::deque<producer_batch> recent;  // the last 5 batches, oldest first
    };

    read_result read_unbounded(int64_t offset, int32_t max_bytes) const;
    status roll(int64_t base_offset);
    // Assigns the next offset to `batch`, appends it to the active segment
    // (rolling first when due) and tracks its producer and transaction.
    status write_batch(std::string& batch, int64_t now, bool stamp_append_time, append_result& out);
    // Transaction bookkeeping for one stored batch: a transactional data batch
    // opens its producer's transaction, a control batch closes it (`commit`
    // is the marker's type, read from its record).
    void track_transaction(const batch_header& h, bool commit);
    status rewrite_segment(int64_t base, const std::string& cleaned_bytes);
    void track_producer(const batch_header& h, int64_t base_offset);
    segment& active() const;

    file_system& fs_;
    millrace::clock& clock_;
    std::string dir_;
    log_config cfg_;
    std::map<int64_t, std::unique_ptr<segment>> segments_;  // by base offset
    int64_t log_start_offset_ = 0;
    int64_t next_offset_ = 0;
    int64_t flushed_offset_ = 0;
    std::map<int64_t, producer_entry> producers_;  // by producer id
    // Open transactions: producer id -> first offset (drives the LSO).
    std::map<int64_t, int64_t> ongoing_txns_;
    // Aborted transactions ordered by marker offset, rebuilt from the batches
    // at open() (the in-memory counterpart of Kafka's per-segment .txnindex);
    // entries below the log start are dropped with their segments.
    std::deque<aborted_txn> aborted_;
    size_t closed_at_last_compaction_ = 0;
    uint64_t truncated_on_open_ = 0;
    int64_t next_tombstone_check_ms_ = INT64_MAX;  // earliest expiry of a kept tombstone
};

}  // namespace millrace::kafka::storage
