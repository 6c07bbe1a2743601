// Durable committed offsets per (group, topic, partition): a snapshot plus an
// append-only journal (format in offset_format.h).
//
// Every mutation (commit, group deletion, expiry) is encoded as a journal
// record and queued. One write job at a time appends everything queued since
// the previous job and fsyncs once, so concurrent commits from many clients
// share one fsync (group commit). The in-memory state changes only when the
// job is durable, in queue order, and just before the waiters wake: what a
// reader sees has been fsynced, and an acknowledged commit survives kill -9.
// When the journal outgrows `compact_threshold_bytes`, the next job first
// writes a snapshot of the state atomically and starts a new journal.
//
// After a failed write (the disk refused, the fsync failed) the journal's tail
// is unknown, so the next job rotates to a fresh snapshot and journal instead
// of appending after it; the failed commits' waiters get the error (the
// client retries).
//
// Threading: every method is called on the io_context thread. With
// `background_io` the appends and fsyncs run on the store's own thread and
// completions are posted back; without it they run on the io thread inside a
// posted handler (deterministic, for tests; blocks the thread for the fsync).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/thread_pool.hpp>

#include "group/waiter.h"
#include "millrace/common/file_system.h"
#include "millrace/common/log.h"
#include "millrace/common/metrics.h"
#include "millrace/common/result.h"

namespace millrace::kafka {

struct committed_offset {
    int64_t offset = -1;
    int32_t leader_epoch = -1;             // -1 when the client sent none
    std::optional<std::string> metadata;   // the client's string, null allowed
    int64_t commit_timestamp_ms = 0;       // wall clock of the broker at commit
};

struct offset_commit_entry {
    std::string topic;
    int32_t partition = 0;
    committed_offset value;
};

struct offset_store_options {
    // Journal size after which the next write rewrites the snapshot.
    uint64_t compact_threshold_bytes = 4u << 20;
    // Run appends and fsyncs on a dedicated thread (production) instead of
    // the io thread (deterministic tests).
    bool background_io = true;
};

class offset_store {
public:
    // `dir` is created by open(). `io` runs completions; `metrics` outlives the store.
    offset_store(asio::io_context& io, file_system& fs, std::string dir, offset_store_options options,
                 metrics::registry& metrics);
    // Calls close().
    ~offset_store();

    offset_store(const offset_store&) = delete;
    offset_store& operator=(const offset_store&) = delete;

    // Loads the snapshot and replays the journal, cutting off a torn tail.
    // errc::corruption: the snapshot or a record inside the journal fails a
    // check that a crash cannot explain; errc::io_error: the disk refused.
    status open();
    // Finishes the write in flight, writes what is queued (its waiters wake
    // with the outcome), and stops the I/O thread. Later mutations fail with
    // errc::unavailable. Idempotent.
    void close();

    // Records `entries` for `group` durably. Completes after the fsync with
    // ok, or with the write's error (errc::io_error: not stored or not known
    // to be; the client should retry) or errc::unavailable after close().
    asio::awaitable<status> commit(std::string group, std::vector<offset_commit_entry> entries);
    // Removes every offset of each group, durably; one outcome for all.
    asio::awaitable<status> delete_groups(std::vector<std::string> groups);
    // Queues the removal of `group`'s offsets committed at or before
    // `cutoff_ms` without waiting for it (a failed expiry is retried by the
    // next sweep). Returns how many of the group's offsets remain after it.
    size_t expire(const std::string& group, int64_t cutoff_ms);
    // Removes the offsets of `group` for these (topic, partition) pairs,
    // durably (OffsetDelete); errors as for commit().
    asio::awaitable<status> delete_offsets(std::string group, std::vector<std::pair<std::string, int32_t>> partitions);

    // Reads of the durable state (what has been acknowledged).
    const committed_offset* find(const std::string& group, const std::string& topic, int32_t partition) const;
    bool has_group(const std::string& group) const { return state_.contains(group); }
    std::vector<std::string> groups() const;
    // Visits `group`'s offsets ordered by topic, then partition.
    void for_each_in_group(const std::string& group,
                           const std::function<void(const std::string& topic, int32_t partition,
                                                    const committed_offset& value)>& fn) const;
    // Visits every offset ordered by group, topic, partition (consumer lag).
    void for_each(const std::function<void(const std::string& group, const std::string& topic, int32_t partition,
                                           const committed_offset& value)>& fn) const;
    size_t size() const;

    uint64_t journal_bytes() const { return journal_size_; }
    uint64_t journal_id() const { return journal_id_; }

private:
    using partition_key = std::pair<std::string, int32_t>;  // topic, partition
    using group_offsets = std::map<partition_key, committed_offset>;

    // One queued mutation: its journal record and how to apply it.
    struct operation {
        enum class kind { commit, delete_group, expire, delete_offsets } what;
        std::string group;
        std::vector<offset_commit_entry> entries;  // commit; delete_offsets (topic and partition only)
        int64_t cutoff_ms = 0;                     // expire
        std::shared_ptr<waiter<status>> done;      // null: nobody waits
    };
    struct write_job;

    void enqueue(operation op);
    void schedule_start();
    void start_job();
    std::shared_ptr<write_job> make_job();
    static void run_job(write_job& job);
    void finish_job(const std::shared_ptr<write_job>& job);
    void apply(const operation& op);
    std::string encode_snapshot(uint64_t journal_id) const;
    std::string journal_path(uint64_t id) const;
    status replay_snapshot();
    status replay_journal();
    void remove_stale_journals();

    asio::io_context& io_;
    file_system& fs_;
    std::string dir_;
    offset_store_options options_;
    log::logger log_{"offsets"};
    metrics::counter& commits_;
    metrics::counter& write_errors_;
    metrics::histogram& fsync_seconds_;
    metrics::gauge& journal_gauge_;
    // Lets handlers posted from the I/O thread see that the store is gone.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

    // io-thread state. Invariant: state_ holds exactly what the snapshot plus
    // the acknowledged journal records say.
    std::map<std::string, group_offsets> state_;
    std::unique_ptr<file> journal_;    // null while a job owns it or after a failed rotation
    uint64_t journal_id_ = 0;          // the journal the current snapshot names
    uint64_t next_journal_id_ = 1;     // never reused, even by failed rotations
    uint64_t journal_size_ = 0;
    bool rotate_needed_ = false;       // the journal's tail is unknown after a failed write
    std::vector<operation> queued_;
    std::string queued_bytes_;
    std::shared_ptr<write_job> in_flight_;
    bool start_scheduled_ = false;
    bool opened_ = false;
    bool closed_ = false;
    std::unique_ptr<asio::thread_pool> io_thread_;  // with background_io
};

}  // namespace millrace::kafka
