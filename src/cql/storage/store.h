// The durable store: one RocksDB database holding the schema and every cell
// (layout in key_format.h), and a writer thread that applies mutations with
// last-write-wins per cell and group commit: every mutation waiting when the
// writer takes its queue goes into one WriteBatch, written to the WAL once, and
// each mutation's callback runs only after that write (and, in batch mode, its
// fsync) completed. Commit sync modes, like Cassandra's commitlog_sync:
//   - batch: the group's WAL write is fsynced before any of it is acknowledged
//     (an acknowledged write survives kill -9 and power loss; one fsync covers
//     every client that was waiting).
//   - periodic: the group's WAL write reaches the OS before it is acknowledged
//     (survives kill -9 of the process) and a syncer thread fsyncs the WAL
//     every period (power loss can lose up to one period of acknowledged writes).
//
// Thread-safety: reads (get, new_iterator) from any thread; submit() from any
// thread, its callback runs on the writer thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>

#include "millrace/common/result.h"

namespace millrace::cql {

struct cell_write {
    std::string key;
    std::string value;  // encoded with key_format::encode_cell
    // Read-modify-write (collection + and -): called on the writer thread with
    // the cell's live value (nullopt: none) and returns the new value (nullopt:
    // a tombstone); `value` then only carries the header (timestamp, ttl).
    // Applied unless the existing cell has a newer timestamp.
    std::function<std::optional<std::string>(const std::optional<std::string>&)> merge;
    // The row marker (column 0, written by INSERT and deleted with the row):
    // its change between live and dead moves the table's live-row counter.
    bool row_marker = false;
};

// One atomic unit of work for the writer.
struct mutation {
    std::vector<cell_write> cells;        // merged last-write-wins
    std::vector<std::pair<std::string, std::string>> puts;  // written as they are (schema)
    std::vector<std::pair<std::string, std::string>> delete_ranges;  // [begin, end)
    // When set, the mutation applies only if no live cell starts with this
    // prefix (INSERT ... IF NOT EXISTS), or only if one does (IF EXISTS); with
    // condition_check, only if that returns true for the live cells under the
    // prefix (a row key: column id -> cell value; empty when there is no row).
    // A refused mutation's result carries those cells (Cassandra returns the row).
    std::optional<std::string> condition_prefix;
    bool condition_exists = false;
    std::function<bool(const std::map<uint16_t, std::string>&)> condition_check;  // called on the writer thread
    // Conditions on static columns of a row's partition: the live cells under this partition prefix join the
    // row's (column ids are unique within a table).
    std::optional<std::string> condition_statics;
    // A condition on statics alone of a statics-only statement (condition_prefix is the partition): a refusal on a
    // partition with rows but no statics still carries the (null) columns, as Cassandra's does.
    bool condition_partition_rows = false;
    // A conditional BATCH: one condition per conditional statement, each on its row (or partition) and checked
    // as condition_prefix/condition_check are; the mutation applies only when every one holds.
    struct row_condition {
        std::string prefix;
        bool exists = false;
        std::function<bool(const std::map<uint16_t, std::string>&)> check;
        std::optional<std::string> statics;  // as condition_statics
        bool partition_rows = false;         // as condition_partition_rows
    };
    std::vector<row_condition> conditions;
    uint32_t now_seconds = 0;
};

struct mutation_result {
    status st;             // an I/O error means the write may not be durable
    bool applied = true;   // false when the condition failed
    std::map<uint16_t, std::string> existing;  // refused: the live cells under condition_prefix, by column id
    std::vector<std::map<uint16_t, std::string>> existing_rows;  // refused: the same for each of `conditions`
};

// Drops dead cells when RocksDB compacts: tombstones and expired cells whose
// time of death plus the table's gc_grace_seconds has passed (RocksDB turns a
// dropped value into a deletion marker where older versions may lie below, so
// nothing older resurfaces). Reads skip dead cells until then.
class purge_policy {
public:
    // Thread-safe: compactions run on RocksDB's threads.
    void set_gc_grace(uint64_t table_id, int32_t seconds);
    void set_clock(std::function<uint32_t()> now_seconds);
    // True when the cell with this key and value may be dropped now.
    bool purgeable(std::string_view key, std::string_view value) const;

private:
    mutable std::mutex mutex_;
    std::map<uint64_t, int32_t> gc_grace_;  // guarded by mutex_; tables not listed: 10 days
    std::function<uint32_t()> now_;          // guarded by mutex_; wall clock when unset
};

enum class commit_sync { batch, periodic };

struct store_options {
    commit_sync sync = commit_sync::batch;
    std::chrono::milliseconds sync_period{10000};  // periodic mode: the WAL fsync interval
    // Writes are refused while the data directory's file system has less free
    // space than this (after the group's own bytes): RocksDB then never meets
    // ENOSPC in the WAL (after which it stops all writes until a recovery
    // that itself needs a memtable's worth of space), and flushes of the
    // memtable (up to 64 MiB) still fit. 0: no check.
    uint64_t min_free_bytes = uint64_t(64) << 20;
};

// Counters of the write path (tests and metrics).
struct store_stats {
    uint64_t groups = 0;     // WriteBatches written (one per group of queued mutations)
    uint64_t mutations = 0;  // mutations acknowledged
    uint64_t wal_syncs = 0;  // WAL fsyncs (per group in batch mode, per period in periodic mode)
};

class store {
public:
    store() = default;
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    // Opens (creating) the database in `dir`; starts the writer thread (and,
    // in periodic mode, the WAL syncer thread).
    status open(const std::string& dir, store_options options = {});
    // Stops the writer after it drained its queue and syncs the WAL; later
    // submits fail with `unavailable`. Reads keep working until close().
    void stop_writes();
    // stop_writes(), then closes the database. Called by the destructor.
    void close();

    void submit(mutation m, std::function<void(mutation_result)> done);

    // The purge rules compactions apply (set the clock before open()).
    purge_policy& purge() { return *purge_; }
    // Compacts the whole key space now, applying the purge (tests, admin).
    status compact();

    std::unique_ptr<rocksdb::Iterator> new_iterator() const;
    std::optional<std::string> get(const std::string& key) const;
    rocksdb::DB* db() const { return db_.get(); }
    // The table's rows whose INSERT marker was live when last written: exact
    // for rows written by INSERT and removed by DELETE, TRUNCATE or DROP;
    // rows made only by UPDATE are not counted, and a row whose marker expires
    // by TTL stays counted. Cheap (a map look-up), so `millrace up`'s status
    // reads it every second through system.size_estimates. Thread-safe.
    int64_t live_rows(uint64_t table_id) const;
    store_stats stats() const;
    const store_options& options() const { return options_; }
    // True while a failed write (a full disk) keeps the database read-only;
    // the writer retries (DB::Resume) before its next group.
    bool writes_stopped() const { return writes_stopped_.load(); }

private:
    struct pending {
        mutation m;
        std::function<void(mutation_result)> done;
    };
    // The cells written and the ranges deleted by the group being built, so a
    // mutation sees the effects of the mutations queued before it.
    struct group_view {
        std::map<std::string, std::string> overlay;
        std::vector<std::pair<std::string, std::string>> deleted;  // [begin, end) ranges
        bool deleted_in_group(std::string_view key) const;
    };
    void writer_loop();
    // The error of a failed write, naming the cause and the directory
    // ("no space left on device: <dir>: ..." for ENOSPC).
    std::string describe_write_error(const rocksdb::Status& st, size_t mutations) const;
    // After a failed write RocksDB refuses every write until DB::Resume()
    // succeeds (it flushes the memtables and starts a new WAL, which needs
    // space again). Returns the error to give the group when still stopped;
    // tried at most once per k_resume_interval so a full disk answers fast.
    status resume_writes();
    // The refusal when the file system has less than min_free_bytes free
    // once `incoming` bytes are written; ok otherwise.
    status check_free_space(uint64_t incoming) const;
    void syncer_loop();
    // The live cells of the row `prefix` (keys are the prefix and a 2-byte column id) as the group sees them.
    std::map<uint16_t, std::string> live_cells_with_prefix(const std::string& prefix, const group_view& view, uint32_t now_seconds) const;
    // Refuses a store whose data format (key_format.h) is newer than this
    // binary's; records the current version in an older one.
    status check_format_version();
    // Whether a partition (its prefix) holds a live cell of a row, not only statics.
    bool has_live_row(const std::string& partition, const group_view& view, uint32_t now_seconds) const;
    // The cells a condition reads: the row's, the partition's statics with `statics`, and with `partition_rows` (a
    // partition-level condition on statics) a row-marker entry when the partition has rows but no live statics.
    std::map<uint16_t, std::string> condition_cells(const std::string& prefix, const std::optional<std::string>& statics,
                                                    bool partition_rows, const group_view& view, uint32_t now_seconds) const;
    // Loads the live-row counters; the first open of a store written before
    // they existed counts every table's live markers once.
    status load_row_counts();

    std::shared_ptr<purge_policy> purge_ = std::make_shared<purge_policy>();
    std::unique_ptr<rocksdb::CompactionFilter> filter_;  // outlives db_ (close() resets db_ first)
    std::unique_ptr<rocksdb::DB> db_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<pending> queue_;  // guarded by mutex_
    bool stopping_ = false;      // guarded by mutex_
    std::thread writer_;
    store_options options_;
    std::string dir_;
    // Held around the writer's Write and every SyncWAL: after a failed WAL
    // append RocksDB's WAL file writer must not be synced (it asserts in
    // Debian's build, which keeps assertions), so the syncer checks
    // writes_stopped_ under it and the writer sets it under it.
    std::mutex wal_mutex_;
    std::atomic<bool> writes_stopped_{false};
    std::string stopped_error_;  // writer thread only: the last failed write's message
    std::chrono::steady_clock::time_point last_resume_{};  // writer thread only
    // Flushes and compactions are paused while free space is below
    // cql.min_free_space, so RocksDB itself never runs into a full disk (its
    // error paths assert in Debian's build). Writer thread only.
    bool background_paused_ = false;
    // Periodic mode: the syncer thread and what it waits on.
    std::mutex sync_mutex_;
    std::condition_variable sync_wake_;
    bool sync_stopping_ = false;  // guarded by sync_mutex_
    std::thread syncer_;
    std::atomic<uint64_t> groups_{0};
    std::atomic<uint64_t> mutations_{0};
    std::atomic<uint64_t> wal_syncs_{0};
    std::atomic<uint64_t> unsynced_groups_{0};  // periodic mode: groups written since the last fsync
    mutable std::mutex counts_mutex_;
    std::map<uint64_t, int64_t> row_counts_;  // guarded by counts_mutex_; by table id, persisted with each group
};

}  // namespace millrace::cql
