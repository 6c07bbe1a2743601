// The durable store: one RocksDB database holding the schema and every cell
// (layout in key_format.h), and a writer thread that applies mutations with
// last-write-wins per cell and group commit: every mutation waiting when a
// write starts goes into one WriteBatch written with sync=true, so an
// acknowledged write survives kill -9 and one fsync covers many clients.
//
// Thread-safety: reads (get, new_iterator) from any thread; submit() from any
// thread, its callback runs on the writer thread.
#pragma once

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
};

// One atomic unit of work for the writer.
struct mutation {
    std::vector<cell_write> cells;        // merged last-write-wins
    std::vector<std::pair<std::string, std::string>> puts;  // written as they are (schema)
    std::vector<std::pair<std::string, std::string>> delete_ranges;  // [begin, end)
    // When set, the mutation applies only if no live cell starts with this
    // prefix (INSERT ... IF NOT EXISTS), or only if one does (IF EXISTS).
    std::optional<std::string> condition_prefix;
    bool condition_exists = false;
    uint32_t now_seconds = 0;
};

struct mutation_result {
    status st;             // an I/O error means the write may not be durable
    bool applied = true;   // false when the condition failed
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

class store {
public:
    store() = default;
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    // Opens (creating) the database in `dir`; starts the writer thread.
    status open(const std::string& dir);
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

private:
    struct pending {
        mutation m;
        std::function<void(mutation_result)> done;
    };
    void writer_loop();
    bool live_cell_with_prefix(const std::string& prefix, const std::map<std::string, std::string>& overlay,
                               uint32_t now_seconds) const;

    std::shared_ptr<purge_policy> purge_ = std::make_shared<purge_policy>();
    std::unique_ptr<rocksdb::CompactionFilter> filter_;  // outlives db_ (close() resets db_ first)
    std::unique_ptr<rocksdb::DB> db_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<pending> queue_;  // guarded by mutex_
    bool stopping_ = false;      // guarded by mutex_
    std::thread writer_;
};

}  // namespace millrace::cql
