#include "storage/store.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>

#include <chrono>
#include <ctime>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "millrace/common/log.h"
#include "storage/key_format.h"

namespace millrace::cql {

namespace {

constexpr int32_t k_default_gc_grace_seconds = 864000;
// Every SST file is recompacted at least this often, so tombstones in cold
// data are purged too, not only where writes trigger compactions.
constexpr uint64_t k_periodic_compaction_seconds = 24 * 3600;

// RocksDB counts perf-context statistics per thread by default (a thread-local
// access in every key comparison of a memtable insert: ~4% of the writer's
// CPU); nothing reads them, so each thread that calls into RocksDB turns them off.
void disable_perf_counters() {
    thread_local bool disabled = false;
    if (!disabled) {
        rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
        disabled = true;
    }
}

// RocksDB's informational log goes to millrace's log (warnings and errors) rather than to a LOG file in
// the data directory: that file is written by flushes and compactions too, and once one of its writes
// fails on a full disk RocksDB's next append to it aborts the process (Debian's build keeps its
// assertions; seen in full_disk_test). Thread-safe: millrace's logger is.
class rocksdb_logger final : public rocksdb::Logger {
public:
    rocksdb_logger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
    using rocksdb::Logger::Logv;
    void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
        if (level < GetInfoLogLevel()) return;
        char text[1024];
        std::vsnprintf(text, sizeof text, format, ap);
        if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) log::logger{"cql"}.error("RocksDB: {}", text);
        else log::logger{"cql"}.warn("RocksDB: {}", text);
    }
    void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
};

class purge_filter final : public rocksdb::CompactionFilter {
public:
    explicit purge_filter(std::shared_ptr<purge_policy> policy) : policy_(std::move(policy)) {}
    bool Filter(int, const rocksdb::Slice& key, const rocksdb::Slice& value, std::string*, bool*) const override {
        return policy_->purgeable(std::string_view(key.data(), key.size()), std::string_view(value.data(), value.size()));
    }
    const char* Name() const override { return "millrace.cql.purge"; }

private:
    std::shared_ptr<purge_policy> policy_;
};

}  // namespace

void purge_policy::set_gc_grace(uint64_t table_id, int32_t seconds) {
    std::lock_guard lock(mutex_);
    gc_grace_[table_id] = seconds;
}

void purge_policy::set_clock(std::function<uint32_t()> now_seconds) {
    std::lock_guard lock(mutex_);
    now_ = std::move(now_seconds);
}

bool purge_policy::purgeable(std::string_view key, std::string_view value) const {
    if (key.size() < 19 || key[0] != key_format::k_data_space) return false;
    auto c = key_format::decode_cell(value);
    if (!c) return false;
    // When the cell died: a tombstone's local deletion time (its write
    // timestamp for tombstones written before that was recorded), an
    // expiring cell's expiry; nullopt while it lives.
    auto died_at = [](const key_format::cell& cell) -> std::optional<int64_t> {
        if (!cell.tombstone && cell.expiry == 0) return std::nullopt;
        return cell.tombstone ? (cell.expiry != 0 ? int64_t(cell.expiry) : cell.timestamp / 1000000) : int64_t(cell.expiry);
    };
    auto marker_died = died_at(*c);
    if (!marker_died) return false;
    int64_t died = *marker_died;
    if (c->packed) {
        // A packed row goes only once its marker and every column it carries are dead.
        bool all_dead = true;
        bool well_formed = key_format::for_each_packed_column(*c, [&](uint16_t, const key_format::cell& column) {
            auto d = died_at(column);
            if (!d) all_dead = false;
            else died = std::max(died, *d);
        });
        if (!well_formed || !all_dead) return false;
    }
    uint64_t table_id = key_format::get_be(key.substr(1), 8);
    int64_t grace = k_default_gc_grace_seconds;
    int64_t now = 0;
    {
        std::lock_guard lock(mutex_);
        if (auto it = gc_grace_.find(table_id); it != gc_grace_.end()) grace = it->second;
        now = now_ ? int64_t(now_())
                   : std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    }
    return died + grace <= now;
}

store::~store() { close(); }

status store::compact() {
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    auto st = db_->CompactRange(options, nullptr, nullptr);
    if (!st.ok()) return make_error(errc::io_error, "compacting the CQL store: {}", st.ToString());
    return {};
}

status store::open(const std::string& dir, store_options opts) {
    options_ = opts;
    dir_ = dir;
    rocksdb::Options options;
    options.create_if_missing = true;
    options.IncreaseParallelism(2);
    options.info_log = std::make_shared<rocksdb_logger>();
    options.compression = rocksdb::kLZ4Compression;
    filter_ = std::make_unique<purge_filter>(purge_);
    options.compaction_filter = filter_.get();
    options.periodic_compaction_seconds = k_periodic_compaction_seconds;
    // Every cell write reads the cell first (last-write-wins is resolved on
    // write), and most inserts write cells that do not exist yet: whole-key
    // Bloom filters in the SST files and the memtable answer those misses
    // without touching data blocks. Prefix seeks (IF NOT EXISTS, scans) do not
    // use them.
    rocksdb::BlockBasedTableOptions table;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    options.memtable_prefix_bloom_size_ratio = 0.02;
    options.memtable_whole_key_filtering = true;
    // No memtable_insert_with_hint_prefix_extractor: RocksDB 7.8 shares its
    // hints between the memtable and the range-deletion memtable, and a
    // DeleteRange after a hinted insert of the same prefix trips its skip-list
    // assertion (Debian's build keeps assertions).
    rocksdb::DB* raw = nullptr;
    auto st = rocksdb::DB::Open(options, dir, &raw);
    if (!st.ok()) return make_error(st.IsCorruption() ? errc::corruption : errc::io_error, "opening RocksDB in {}: {}", dir, st.ToString());
    db_.reset(raw);
    if (auto checked = check_format_version(); !checked) {
        db_.reset();
        return checked;
    }
    if (auto counted = load_row_counts(); !counted) return counted;
    writer_ = std::thread([this] { writer_loop(); });
    if (options_.sync == commit_sync::periodic) syncer_ = std::thread([this] { syncer_loop(); });
    return {};
}

status store::check_format_version() {
    namespace kf = key_format;
    std::string stored;
    uint32_t version = 1;  // stores written before the version was recorded: one entry per cell
    if (db_->Get(rocksdb::ReadOptions(), kf::format_version_key(), &stored).ok() && stored.size() == 4) {
        version = static_cast<uint32_t>(kf::get_be(stored, 4));
    }
    if (version > kf::k_format_version) {
        return make_error(errc::unsupported,
                          "the CQL store in {} has data format version {}, written by a newer millrace; this one reads "
                          "versions 1 to {} (key_format.h)",
                          dir_, version, kf::k_format_version);
    }
    if (version == kf::k_format_version) return {};
    // Version 1 data reads as it is (cells are version 2's unpacked form); from now on rows are packed.
    std::string value;
    kf::put_be(value, kf::k_format_version, 4);
    rocksdb::WriteOptions sync;
    sync.sync = true;
    if (auto st = db_->Put(sync, kf::format_version_key(), value); !st.ok()) {
        return make_error(errc::io_error, "recording data format version {} in {}: {}", kf::k_format_version, dir_, st.ToString());
    }
    return {};
}

status store::load_row_counts() {
    namespace kf = key_format;
    std::map<uint64_t, int64_t> counts;
    std::string kept;
    if (db_->Get(rocksdb::ReadOptions(), kf::row_counts_kept_key(), &kept).ok()) {
        std::string prefix{kf::k_schema_space, 'r'};
        auto it = new_iterator();
        for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
            if (it->key().size() != 10 || it->value().size() != 8) continue;
            std::string_view key(it->key().data(), it->key().size()), value(it->value().data(), 8);
            counts[kf::get_be(key.substr(2), 8)] = static_cast<int64_t>(kf::get_be(value, 8));
        }
    } else {
        // Once: count the live markers of every table (column id 0 ends the key).
        uint32_t now = static_cast<uint32_t>(std::time(nullptr));
        rocksdb::WriteBatch batch;
        auto it = new_iterator();
        std::string data(1, kf::k_data_space);
        for (it->Seek(data); it->Valid() && it->key().starts_with(data); it->Next()) {
            std::string_view key(it->key().data(), it->key().size());
            if (key.size() < 11 || key[key.size() - 1] != 0 || key[key.size() - 2] != 0) continue;
            auto c = kf::decode_cell(std::string_view(it->value().data(), it->value().size()));
            if (c && c->live(now)) ++counts[kf::get_be(key.substr(1), 8)];
        }
        for (const auto& [table_id, n] : counts) {
            std::string value;
            kf::put_be(value, static_cast<uint64_t>(n), 8);
            batch.Put(kf::row_count_key(table_id), value);
        }
        batch.Put(kf::row_counts_kept_key(), "");
        if (auto st = db_->Write(rocksdb::WriteOptions(), &batch); !st.ok()) {
            return make_error(errc::io_error, "writing the live-row counters of {} tables: {}", counts.size(), st.ToString());
        }
    }
    std::lock_guard lock(counts_mutex_);
    row_counts_ = std::move(counts);
    return {};
}

int64_t store::live_rows(uint64_t table_id) const {
    std::lock_guard lock(counts_mutex_);
    auto it = row_counts_.find(table_id);
    return it == row_counts_.end() ? 0 : it->second;
}

void store::stop_writes() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (writer_.joinable()) writer_.join();
    {
        std::lock_guard lock(sync_mutex_);
        sync_stopping_ = true;
    }
    sync_wake_.notify_all();
    if (syncer_.joinable()) syncer_.join();
    std::lock_guard wal_lock(wal_mutex_);
    if (db_ && !writes_stopped_ && unsynced_groups_.exchange(0) != 0) {
        if (db_->SyncWAL().ok()) ++wal_syncs_;
    }
}

store_stats store::stats() const {
    return {groups_.load(), mutations_.load(), wal_syncs_.load()};
}

void store::syncer_loop() {
    log::logger log{"cql"};
    std::unique_lock lock(sync_mutex_);
    for (;;) {
        sync_wake_.wait_for(lock, options_.sync_period, [&] { return sync_stopping_; });
        if (sync_stopping_) return;  // stop_writes() does the last sync after the writer stopped
        if (unsynced_groups_.exchange(0) == 0) continue;
        lock.unlock();
        rocksdb::Status st;
        {
            std::lock_guard wal_lock(wal_mutex_);
            // A failed write left the WAL unusable until recovery, which
            // flushes the memtables (what this sync would have made durable).
            if (!writes_stopped_) st = db_->SyncWAL();
        }
        lock.lock();
        if (st.ok()) {
            ++wal_syncs_;
        } else {
            log.error("periodic fsync of the CQL store's WAL failed (acknowledged writes may not survive power loss): {}",
                      st.ToString());
        }
    }
}

void store::close() {
    stop_writes();
    if (db_) {
        (void)db_->Close();
        db_.reset();
    }
}

void store::submit(mutation m, std::function<void(mutation_result)> done) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            done({make_error(errc::unavailable, "the CQL store is shutting down"), false});
            return;
        }
        queue_.push_back({std::move(m), std::move(done)});
    }
    wake_.notify_one();
}

std::unique_ptr<rocksdb::Iterator> store::new_iterator() const {
    disable_perf_counters();
    return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(rocksdb::ReadOptions()));
}

std::optional<std::string> store::get(const std::string& key) const {
    disable_perf_counters();
    std::string value;
    auto st = db_->Get(rocksdb::ReadOptions(), key, &value);
    if (!st.ok()) return std::nullopt;
    return value;
}

bool store::group_view::deleted_in_group(std::string_view key) const {
    for (const auto& [begin, end] : deleted) {
        if (key >= begin && key < end) return true;
    }
    return false;
}

std::map<uint16_t, std::string> store::live_cells_with_prefix(const std::string& prefix, const group_view& view,
                                                              uint32_t now_seconds) const {
    // Every cell of the row, dead ones too: a packed row's column and the
    // column's own cell are merged last-write-wins before liveness counts.
    key_format::row_merge row;
    std::deque<std::string> held;  // the stored values the merge views (the iterator's move on)
    auto take = [&](std::string_view key, std::string_view value) {
        if (key.size() != prefix.size() + 2) return;
        auto c = key_format::decode_cell(value);
        if (c) row.add_stored(static_cast<uint16_t>(key_format::get_be(key.substr(prefix.size()), 2)), *c);
    };
    const auto& overlay = view.overlay;
    for (auto it = overlay.lower_bound(prefix); it != overlay.end() && it->first.starts_with(prefix); ++it) take(it->first, it->second);
    auto it = new_iterator();
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        auto key = std::string_view(it->key().data(), it->key().size());
        if (overlay.find(std::string(key)) != overlay.end() || view.deleted_in_group(key)) continue;
        take(key, held.emplace_back(it->value().data(), it->value().size()));
    }
    std::map<uint16_t, std::string> out;
    for (const auto& [id, c] : row.cells) {
        if (c.live(now_seconds)) out.emplace(id, c.value);
    }
    return out;
}

bool store::has_live_row(const std::string& partition, const group_view& view, uint32_t now_seconds) const {
    auto live = [&](std::string_view key, std::string_view value) {
        if (key.size() <= partition.size() + 2) return false;  // a static cell
        auto c = key_format::decode_cell(value);
        if (!c) return false;
        if (c->live(now_seconds)) return true;
        // A packed row whose marker died may still carry a live column (one written with a longer TTL).
        bool any = false;
        if (c->packed && !c->tombstone) {
            key_format::for_each_packed_column(*c, [&](uint16_t, const key_format::cell& p) { any = any || p.live(now_seconds); });
        }
        return any;
    };
    const auto& overlay = view.overlay;
    for (auto it = overlay.lower_bound(partition); it != overlay.end() && it->first.starts_with(partition); ++it) {
        if (live(it->first, it->second)) return true;
    }
    auto it = new_iterator();
    for (it->Seek(partition); it->Valid() && it->key().starts_with(partition); it->Next()) {
        auto key = std::string_view(it->key().data(), it->key().size());
        if (overlay.find(std::string(key)) != overlay.end() || view.deleted_in_group(key)) continue;
        if (live(key, std::string_view(it->value().data(), it->value().size()))) return true;
    }
    return false;
}

std::map<uint16_t, std::string> store::condition_cells(const std::string& prefix, const std::optional<std::string>& statics,
                                                       bool partition_rows, const group_view& view, uint32_t now_seconds) const {
    auto cells = live_cells_with_prefix(prefix, view, now_seconds);
    if (statics) cells.merge(live_cells_with_prefix(*statics, view, now_seconds));
    if (partition_rows && cells.empty() && has_live_row(prefix, view, now_seconds)) cells.emplace(key_format::k_row_marker, std::string());
    return cells;
}

std::string store::describe_write_error(const rocksdb::Status& st, size_t mutations) const {
    if (st.IsNoSpace()) {
        return fmt::format("no space left on device: {} (the CQL store's data directory); {} write(s) refused, the "
                           "store refuses writes until space is freed and keeps serving reads (RocksDB: {})",
                           dir_, mutations, st.ToString());
    }
    return fmt::format("RocksDB write of {} mutations in {}: {}", mutations, dir_, st.ToString());
}

status store::check_free_space(uint64_t incoming) const {
    if (options_.min_free_bytes == 0) return {};
    struct statvfs fs {};
    if (::statvfs(dir_.c_str(), &fs) != 0) return {};  // the write itself reports a broken directory
    uint64_t free_bytes = uint64_t(fs.f_bavail) * fs.f_frsize;
    if (free_bytes >= incoming + options_.min_free_bytes) return {};
    return make_error(errc::io_error,
                      "no space left on device: {} (the CQL store's data directory) has {} bytes free, below "
                      "cql.min_free_space ({} bytes) with this write's {} bytes; writes are refused until space is "
                      "freed, reads keep working",
                      dir_, free_bytes, options_.min_free_bytes, incoming);
}

status store::resume_writes() {
    constexpr auto k_resume_interval = std::chrono::milliseconds(100);
    auto now = std::chrono::steady_clock::now();
    if (now - last_resume_ < k_resume_interval) return make_error(errc::io_error, "{}", stopped_error_);
    last_resume_ = now;
    auto st = db_->Resume();
    if (!st.ok()) {
        // Still full: the refusal names the original cause.
        if (st.IsNoSpace() || stopped_error_.empty()) stopped_error_ = describe_write_error(st, 1);
        return make_error(errc::io_error, "{}", stopped_error_);
    }
    writes_stopped_ = false;
    log::logger{"cql"}.info("the CQL store accepts writes again in {} (space was freed)", dir_);
    return {};
}

void store::writer_loop() {
    disable_perf_counters();
    for (;;) {
        std::deque<pending> group;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty() && stopping_) return;
            group.swap(queue_);
        }
        if (writes_stopped_) {
            if (auto resumed = resume_writes(); !resumed) {
                mutations_ += group.size();
                for (auto& p : group) p.done({resumed, false});
                continue;
            }
        }
        // Cells written and ranges deleted by this group, so later mutations see earlier ones.
        group_view view;
        auto& overlay = view.overlay;
        rocksdb::WriteBatch batch;
        std::vector<bool> applied(group.size(), true);
        std::vector<std::map<uint16_t, std::string>> existing(group.size());  // refused conditions: the row read
        std::vector<std::vector<std::map<uint16_t, std::string>>> existing_rows(group.size());  // the same for batch conditions
        std::map<uint64_t, int64_t> counts;  // this group's live-row counters, by table id
        auto count_of = [&](uint64_t table_id) -> int64_t& {
            auto it = counts.find(table_id);
            if (it == counts.end()) it = counts.emplace(table_id, live_rows(table_id)).first;
            return it->second;
        };
        // The stored value of every cell the group writes, read in one MultiGet
        // (the database does not change until the group's batch is written;
        // the overlay and the deleted ranges give what the group changed).
        std::vector<rocksdb::Slice> keys;
        for (const auto& p : group) {
            for (const auto& c : p.m.cells) keys.emplace_back(c.key);
        }
        std::vector<rocksdb::PinnableSlice> stored(keys.size());
        std::vector<rocksdb::Status> found(keys.size());
        if (!keys.empty()) {
            db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), keys.size(), keys.data(), stored.data(),
                          found.data());
        }
        size_t cell_idx = 0;
        for (size_t idx = 0; idx < group.size(); ++idx) {
            auto& m = group[idx].m;
            size_t first_cell = cell_idx;
            cell_idx += m.cells.size();
            if (m.condition_prefix) {
                auto cells = condition_cells(*m.condition_prefix, m.condition_statics, m.condition_partition_rows, view, m.now_seconds);
                bool ok = m.condition_check ? m.condition_check(cells) : (!cells.empty()) == m.condition_exists;
                if (!ok) {
                    applied[idx] = false;
                    existing[idx] = std::move(cells);
                    continue;
                }
            }
            if (!m.conditions.empty()) {
                std::vector<std::map<uint16_t, std::string>> rows;
                bool ok = true;
                for (const auto& c : m.conditions) {
                    auto cells = condition_cells(c.prefix, c.statics, c.partition_rows, view, m.now_seconds);
                    ok = (c.check ? c.check(cells) : (!cells.empty()) == c.exists) && ok;
                    rows.push_back(std::move(cells));
                }
                if (!ok) {
                    applied[idx] = false;
                    existing_rows[idx] = std::move(rows);
                    continue;
                }
            }
            for (const auto& [begin, end] : m.delete_ranges) {
                // A whole table's range (TRUNCATE, DROP) leaves it no rows.
                if (begin.size() == 9 && begin[0] == key_format::k_data_space && end == key_format::prefix_end(begin)) {
                    count_of(key_format::get_be(std::string_view(begin).substr(1), 8)) = 0;
                }
                batch.DeleteRange(begin, end);
                view.deleted.emplace_back(begin, end);
                for (auto it = overlay.lower_bound(begin); it != overlay.end() && it->first < end;) it = overlay.erase(it);
            }
            for (const auto& [k, v] : m.puts) batch.Put(k, v);
            for (size_t ci = 0; ci < m.cells.size(); ++ci) {
                auto& c = m.cells[ci];
                auto incoming = key_format::decode_cell(c.value);
                MILLRACE_ASSERT(incoming.has_value(), "malformed cell for key of {} bytes", c.key.size());
                // A view, not a copy: the overlay entry or the pinned value
                // stays put until this cell's own write below.
                std::string_view existing_bytes;
                bool have = false;
                auto in_overlay = overlay.find(c.key);
                if (in_overlay != overlay.end()) {
                    existing_bytes = in_overlay->second;
                    have = true;
                } else if (!view.deleted_in_group(c.key) && found[first_cell + ci].ok()) {
                    existing_bytes = std::string_view(stored[first_cell + ci].data(), stored[first_cell + ci].size());
                    have = true;
                }
                std::optional<key_format::cell> existing;
                if (have) existing = key_format::decode_cell(existing_bytes);
                if (c.merge) {
                    // The merge already folds in the existing value, so a tie in timestamp applies it.
                    if (existing && existing->timestamp > incoming->timestamp) continue;
                    std::optional<std::string> current;
                    if (existing && existing->live(m.now_seconds)) current = std::string(existing->value);
                    auto merged = c.merge(current);
                    std::string value = key_format::encode_cell(!merged, incoming->timestamp,
                                                                merged ? incoming->expiry : m.now_seconds, merged ? incoming->ttl : 0,
                                                                merged.value_or(""));
                    if (in_overlay != overlay.end()) {
                        in_overlay->second = std::move(value);
                    } else {
                        overlay.emplace(std::move(c.key), std::move(value));
                    }
                    continue;
                }
                if (c.row_marker && existing && (incoming->packed || existing->packed)) {
                    // A packed row: the merge of both sides' columns (key_format.h).
                    auto merged = key_format::merge_row_marker(*incoming, c.value, *existing);
                    if (!merged) continue;
                    auto now_marker = key_format::decode_cell(*merged);
                    bool was_live = existing->live(m.now_seconds);
                    bool is_live = now_marker && now_marker->live(m.now_seconds);
                    if (was_live != is_live) count_of(key_format::get_be(std::string_view(c.key).substr(1), 8)) += is_live ? 1 : -1;
                    if (in_overlay != overlay.end()) {
                        in_overlay->second = std::move(*merged);
                    } else {
                        overlay.emplace(std::move(c.key), std::move(*merged));
                    }
                    continue;
                }
                if (existing && !key_format::supersedes(*incoming, *existing)) continue;
                if (c.row_marker) {
                    bool was_live = existing && existing->live(m.now_seconds);
                    bool is_live = incoming->live(m.now_seconds);
                    if (was_live != is_live) count_of(key_format::get_be(std::string_view(c.key).substr(1), 8)) += is_live ? 1 : -1;
                }
                // Moved: the mutation is not read again (the MultiGet above was its last use of the keys).
                if (in_overlay != overlay.end()) {
                    in_overlay->second = std::move(c.value);
                } else {
                    overlay.emplace(std::move(c.key), std::move(c.value));
                }
            }
        }
        for (const auto& [k, v] : overlay) batch.Put(k, v);
        for (const auto& [table_id, n] : counts) {
            std::string value;
            key_format::put_be(value, static_cast<uint64_t>(std::max<int64_t>(n, 0)), 8);
            batch.Put(key_format::row_count_key(table_id), value);
        }
        // One WAL write for the whole group; in batch mode one fsync covers it
        // before anyone is acknowledged. Periodic mode: the bytes are in the
        // OS (RocksDB writes the WAL file on every Write unless
        // manual_wal_flush), the syncer fsyncs them within the period.
        rocksdb::WriteOptions options;
        options.sync = options_.sync == commit_sync::batch;
        status result;
        bool pause_background = false;
        if (batch.Count() > 0 && !(result = check_free_space(batch.GetDataSize()))) {
            // Refused before RocksDB sees it: the WAL stays healthy. Background
            // writes stop too (below, once this group has its answer: pausing
            // waits for a running flush or compaction) until space returns.
            pause_background = !background_paused_;
        } else if (batch.Count() > 0) {
            if (background_paused_ && db_->ContinueBackgroundWork().ok()) background_paused_ = false;
            std::unique_lock wal_lock(wal_mutex_);
            auto st = db_->Write(options, &batch);
            if (!st.ok() && st.IsNoSpace() && check_free_space(batch.GetDataSize())) {
                // A flush that failed while the disk was full stopped RocksDB
                // after space came back (the error surfaces on the next write):
                // resume now and write once more rather than refuse a write the
                // disk has room for.
                if (db_->Resume().ok()) st = db_->Write(options, &batch);
            }
            if (!st.ok()) {
                // RocksDB is now read-only (a background error) until resumed;
                // nothing of this group is acknowledged.
                stopped_error_ = describe_write_error(st, group.size());
                writes_stopped_ = true;
                wal_lock.unlock();
                last_resume_ = std::chrono::steady_clock::now();
                log::logger{"cql"}.error("{}", stopped_error_);
                result = make_error(errc::io_error, "{}", stopped_error_);
            } else if (options.sync) {
                ++wal_syncs_;
            } else {
                ++unsynced_groups_;
            }
            ++groups_;
        }
        if (result) {
            std::lock_guard lock(counts_mutex_);
            for (const auto& [table_id, n] : counts) row_counts_[table_id] = std::max<int64_t>(n, 0);
        }
        mutations_ += group.size();
        for (size_t idx = 0; idx < group.size(); ++idx) group[idx].done({result, applied[idx], std::move(existing[idx]), std::move(existing_rows[idx])});
        if (pause_background && db_->PauseBackgroundWork().ok()) background_paused_ = true;
    }
}

}  // namespace millrace::cql
