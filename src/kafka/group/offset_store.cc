#include "group/offset_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include <asio/post.hpp>

#include "group/offset_format.h"
#include "millrace/common/endian.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace millrace::kafka {
namespace {

using offset_format::record_type;

// Appends one framed record (header + payload) to `out`.
void append_record(std::string& out, record_type type, std::string_view payload) {
    using namespace offset_format;
    size_t start = out.size();
    out.resize(start + k_header_size);
    endian::store_be<uint32_t>(out.data() + start + k_length, static_cast<uint32_t>(payload.size()));
    out[start + k_type] = static_cast<char>(type);
    out.append(payload);
    uint32_t crc = crc32c(out.data() + start + k_length, out.size() - start - k_length);
    endian::store_be<uint32_t>(out.data() + start + k_crc, crc);
}

// Strings in payloads: int32 length + bytes, -1 for null (Kafka BYTES).
void put_string(writer& w, std::string_view v) { w.bytes(v, false); }
void put_nullable(writer& w, const std::optional<std::string>& v) {
    w.nullable_bytes(v ? std::optional<std::string_view>(*v) : std::nullopt, false);
}
std::string get_string(reader& r) { return std::string(r.bytes(false)); }
std::optional<std::string> get_nullable(reader& r) {
    auto v = r.nullable_bytes(false);
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

void encode_commit(std::string& out, const std::string& group,
                   const std::vector<std::pair<std::pair<std::string, int32_t>, const committed_offset*>>& entries) {
    std::string payload;
    writer w(payload);
    put_string(w, group);
    w.int32(static_cast<int32_t>(entries.size()));
    for (const auto& [key, value] : entries) {
        put_string(w, key.first);
        w.int32(key.second);
        w.int64(value->offset);
        w.int32(value->leader_epoch);
        put_nullable(w, value->metadata);
        w.int64(value->commit_timestamp_ms);
    }
    append_record(out, record_type::commit, payload);
}

enum class frame_status { ok, incomplete, bad_crc, bad_length };

struct frame {
    frame_status st = frame_status::ok;
    record_type type{};
    std::string_view payload;
    size_t size = 0;  // header + payload
};

// Parses the record at `position` of `data`.
frame read_frame(std::string_view data, size_t position) {
    using namespace offset_format;
    frame f;
    if (data.size() - position < k_header_size) {
        f.st = frame_status::incomplete;
        return f;
    }
    uint32_t length = endian::load_be<uint32_t>(data, position + k_length);
    if (length > k_max_payload) {
        f.st = frame_status::bad_length;
        return f;
    }
    if (data.size() - position - k_header_size < length) {
        f.st = frame_status::incomplete;
        return f;
    }
    uint32_t stored = endian::load_be<uint32_t>(data, position + k_crc);
    uint32_t actual = crc32c(data.data() + position + k_length, k_header_size - k_length + length);
    if (stored != actual) {
        f.st = frame_status::bad_crc;
        return f;
    }
    f.type = static_cast<record_type>(static_cast<uint8_t>(data[position + k_type]));
    f.payload = data.substr(position + k_header_size, length);
    f.size = k_header_size + length;
    return f;
}

std::string_view describe(frame_status st) {
    switch (st) {
        case frame_status::ok: return "ok";
        case frame_status::incomplete: return "record extends past the end of the file";
        case frame_status::bad_crc: return "CRC-32C mismatch";
        case frame_status::bad_length: return "record length beyond the limit";
    }
    return "unknown";
}

std::string parent_dir(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

}  // namespace

// A batch of journal records on its way to disk. Inputs are set on the io
// thread before the job starts; outputs are written by whichever thread runs
// it and read on the io thread only after `finished` (under `mutex`).
struct offset_store::write_job {
    file_system* fs = nullptr;
    std::string dir;
    std::string bytes;                 // records to append
    std::vector<operation> ops;        // io thread only
    bool rotate = false;
    std::string snapshot_path;
    std::string snapshot;              // when rotating: state before `bytes`, naming journal_id
    uint64_t journal_id = 0;           // the journal `bytes` go to
    std::string journal_path;
    std::vector<std::string> stale_journals;  // removed after a rotation
    std::unique_ptr<file> journal;     // moved in (null when rotating) and back out

    // Outputs.
    status outcome;
    bool snapshot_written = false;
    double fsync_seconds = 0;

    // Completion.
    std::mutex mutex;
    std::condition_variable cv;
    bool finished = false;  // guarded by mutex
    bool handled = false;   // io thread: finish_job ran
};

offset_store::offset_store(asio::io_context& io, file_system& fs, std::string dir, offset_store_options options,
                           metrics::registry& metrics)
    : io_(io),
      fs_(fs),
      dir_(std::move(dir)),
      options_(options),
      commits_(metrics.make_counter("millrace_broker_offset_commits_total",
                                    "Committed offsets made durable (one per partition).")),
      write_errors_(metrics.make_counter("millrace_broker_offset_write_errors_total",
                                         "Failed writes or fsyncs of the committed-offset journal.")),
      fsync_seconds_(metrics.make_histogram("millrace_broker_offset_fsync_seconds",
                                            "Time spent appending and fsyncing one batch of offset commits.",
                                            metrics::latency_buckets())),
      journal_gauge_(metrics.make_gauge("millrace_broker_offset_journal_bytes",
                                        "Size of the committed-offset journal since the last snapshot.")) {}

offset_store::~offset_store() { close(); }

std::string offset_store::journal_path(uint64_t id) const {
    return fmt::format("{}/{}{:020}{}", dir_, offset_format::k_journal_prefix, id, offset_format::k_journal_suffix);
}

status offset_store::open() {
    MILLRACE_ASSERT(!opened_, "offset_store::open called twice for {}", dir_);
    if (auto st = fs_.create_directories(dir_); !st) return st.err().with_context("opening the offset store");
    if (auto st = replay_snapshot(); !st) return st;
    if (auto st = replay_journal(); !st) return st;
    remove_stale_journals();
    // The journal's directory entry must survive a crash before anything
    // acknowledged is written to it.
    if (auto st = fs_.sync_dir(dir_); !st) return st.err().with_context("opening the offset store");
    if (options_.background_io) io_thread_ = std::make_unique<asio::thread_pool>(1);
    opened_ = true;
    journal_gauge_.set(static_cast<double>(journal_size_));
    log_.info("loaded {} committed offsets of {} groups from {} (journal {}, {} bytes)", size(), state_.size(), dir_,
              journal_id_, journal_size_);
    return {};
}

status offset_store::replay_snapshot() {
    std::string path = dir_ + "/" + std::string(offset_format::k_snapshot_name);
    if (!fs_.exists(path)) {
        journal_id_ = 1;
        next_journal_id_ = 2;
        return {};
    }
    auto data = read_file(fs_, path);
    if (!data) return data.err().with_context("reading the offset snapshot");
    std::string_view bytes = *data;
    size_t position = 0;
    bool have_header = false;
    while (position < bytes.size()) {
        frame f = read_frame(bytes, position);
        if (f.st != frame_status::ok) {
            return make_error(errc::corruption, "offset snapshot {}: {} at byte {} of {}", path, describe(f.st),
                              position, bytes.size());
        }
        try {
            reader r(f.payload);
            if (!have_header) {
                if (f.type != record_type::snapshot_header) {
                    return make_error(errc::corruption, "offset snapshot {}: first record has type {}, expected a header",
                                      path, static_cast<int>(f.type));
                }
                int16_t version = r.int16();
                if (version != offset_format::k_snapshot_version) {
                    return make_error(errc::unsupported, "offset snapshot {}: format version {}, this build reads {}",
                                      path, version, offset_format::k_snapshot_version);
                }
                journal_id_ = static_cast<uint64_t>(r.int64());
                have_header = true;
            } else if (f.type == record_type::commit) {
                std::string group = get_string(r);
                int32_t count = r.int32();
                auto& offsets = state_[group];
                for (int32_t idx = 0; idx < count; ++idx) {
                    std::string topic = get_string(r);
                    int32_t partition = r.int32();
                    committed_offset value;
                    value.offset = r.int64();
                    value.leader_epoch = r.int32();
                    value.metadata = get_nullable(r);
                    value.commit_timestamp_ms = r.int64();
                    offsets[{std::move(topic), partition}] = std::move(value);
                }
            } else {
                return make_error(errc::corruption, "offset snapshot {}: unexpected record type {} at byte {}", path,
                                  static_cast<int>(f.type), position);
            }
        } catch (const protocol_error& e) {
            return make_error(errc::corruption, "offset snapshot {}: malformed record at byte {}: {}", path, position,
                              e.what());
        }
        position += f.size;
    }
    if (!have_header) return make_error(errc::corruption, "offset snapshot {}: no header record", path);
    next_journal_id_ = journal_id_ + 1;
    return {};
}

status offset_store::replay_journal() {
    std::string path = journal_path(journal_id_);
    auto opened = fs_.open(path, open_mode::read_write);
    if (!opened) return opened.err().with_context("opening the offset journal");
    journal_ = std::move(*opened);
    std::string bytes;
    if (auto st = journal_->read_at(0, journal_->size(), bytes); !st) return st.err().with_context("reading the offset journal");
    size_t position = 0;
    while (position < bytes.size()) {
        frame f = read_frame(bytes, position);
        if (f.st != frame_status::ok) {
            // A crash in the middle of an append: nothing from here on was
            // acknowledged. Cut it off so new records follow good ones.
            log_.warn("offset journal {}: {} at byte {} of {}; truncating the torn tail ({} bytes)", path,
                      describe(f.st), position, bytes.size(), bytes.size() - position);
            if (auto st = journal_->truncate(position); !st) return st.err().with_context("truncating the offset journal");
            if (auto st = journal_->sync(); !st) return st.err().with_context("truncating the offset journal");
            break;
        }
        try {
            reader r(f.payload);
            operation op;
            op.group = get_string(r);
            switch (f.type) {
                case record_type::commit: {
                    op.what = operation::kind::commit;
                    int32_t count = r.int32();
                    for (int32_t idx = 0; idx < count; ++idx) {
                        offset_commit_entry e;
                        e.topic = get_string(r);
                        e.partition = r.int32();
                        e.value.offset = r.int64();
                        e.value.leader_epoch = r.int32();
                        e.value.metadata = get_nullable(r);
                        e.value.commit_timestamp_ms = r.int64();
                        op.entries.push_back(std::move(e));
                    }
                    break;
                }
                case record_type::delete_group:
                    op.what = operation::kind::delete_group;
                    break;
                case record_type::expire_offsets:
                    op.what = operation::kind::expire;
                    op.cutoff_ms = r.int64();
                    break;
                case record_type::delete_offsets: {
                    op.what = operation::kind::delete_offsets;
                    int32_t count = r.int32();
                    for (int32_t idx = 0; idx < count; ++idx) {
                        offset_commit_entry e;
                        e.topic = get_string(r);
                        e.partition = r.int32();
                        op.entries.push_back(std::move(e));
                    }
                    break;
                }
                default:
                    return make_error(errc::corruption, "offset journal {}: unknown record type {} at byte {}", path,
                                      static_cast<int>(f.type), position);
            }
            apply(op);
        } catch (const protocol_error& e) {
            // The CRC matched, so these are the bytes that were written: a bug
            // or a newer format, not a crash.
            return make_error(errc::corruption, "offset journal {}: malformed record at byte {}: {}", path, position,
                              e.what());
        }
        position += f.size;
    }
    journal_size_ = std::min<uint64_t>(bytes.size(), position);
    return {};
}

void offset_store::remove_stale_journals() {
    auto names = fs_.list(dir_);
    if (!names) return;
    std::string current = journal_path(journal_id_);
    for (const auto& name : *names) {
        std::string path = dir_ + "/" + name;
        bool journal = name.rfind(offset_format::k_journal_prefix, 0) == 0 &&
                       name.size() > offset_format::k_journal_suffix.size() &&
                       name.ends_with(offset_format::k_journal_suffix);
        bool temp = name.ends_with(".tmp");
        if ((journal && path != current) || temp) {
            if (journal) {
                // Remember ids in use so a rotation never reuses one.
                std::string_view digits(name);
                digits.remove_prefix(offset_format::k_journal_prefix.size());
                digits.remove_suffix(offset_format::k_journal_suffix.size());
                uint64_t id = 0;
                std::from_chars(digits.data(), digits.data() + digits.size(), id);
                next_journal_id_ = std::max(next_journal_id_, id + 1);
            }
            if (auto st = fs_.remove(path); !st) log_.warn("removing stale {}: {}", path, st.err().message());
        }
    }
}

void offset_store::apply(const operation& op) {
    switch (op.what) {
        case operation::kind::commit: {
            auto& offsets = state_[op.group];
            for (const auto& e : op.entries) offsets[{e.topic, e.partition}] = e.value;
            break;
        }
        case operation::kind::delete_group:
            state_.erase(op.group);
            break;
        case operation::kind::expire: {
            auto it = state_.find(op.group);
            if (it == state_.end()) break;
            std::erase_if(it->second, [&](const auto& entry) { return entry.second.commit_timestamp_ms <= op.cutoff_ms; });
            if (it->second.empty()) state_.erase(it);
            break;
        }
        case operation::kind::delete_offsets: {
            auto it = state_.find(op.group);
            if (it == state_.end()) break;
            for (const auto& e : op.entries) it->second.erase({e.topic, e.partition});
            if (it->second.empty()) state_.erase(it);
            break;
        }
    }
}

asio::awaitable<status> offset_store::commit(std::string group, std::vector<offset_commit_entry> entries) {
    if (closed_ || !opened_) co_return make_error(errc::unavailable, "offset store {} is not open", dir_);
    auto done = std::make_shared<waiter<status>>(io_.get_executor());
    operation op{operation::kind::commit, std::move(group), std::move(entries), 0, done};
    enqueue(std::move(op));
    auto outcome = co_await waiter<status>::wait(done);
    if (!outcome) co_return make_error(errc::cancelled, "offset commit abandoned");
    co_return std::move(*outcome);
}

asio::awaitable<status> offset_store::delete_groups(std::vector<std::string> groups) {
    if (closed_ || !opened_) co_return make_error(errc::unavailable, "offset store {} is not open", dir_);
    if (groups.empty()) co_return status{};
    auto done = std::make_shared<waiter<status>>(io_.get_executor());
    for (size_t idx = 0; idx < groups.size(); ++idx) {
        // One waiter on the last: all of them land in the same write job,
        // because jobs only start from posted handlers.
        enqueue(operation{operation::kind::delete_group, std::move(groups[idx]), {}, 0,
                          idx + 1 == groups.size() ? done : nullptr});
    }
    auto outcome = co_await waiter<status>::wait(done);
    if (!outcome) co_return make_error(errc::cancelled, "group deletion abandoned");
    co_return std::move(*outcome);
}

asio::awaitable<status> offset_store::delete_offsets(std::string group,
                                                     std::vector<std::pair<std::string, int32_t>> partitions) {
    if (closed_ || !opened_) co_return make_error(errc::unavailable, "offset store {} is not open", dir_);
    operation op{operation::kind::delete_offsets, std::move(group), {}, 0, nullptr};
    for (auto& [topic, partition] : partitions) {
        offset_commit_entry e;
        e.topic = std::move(topic);
        e.partition = partition;
        op.entries.push_back(std::move(e));
    }
    auto done = std::make_shared<waiter<status>>(io_.get_executor());
    op.done = done;
    enqueue(std::move(op));
    auto outcome = co_await waiter<status>::wait(done);
    if (!outcome) co_return make_error(errc::cancelled, "offset deletion abandoned");
    co_return std::move(*outcome);
}

size_t offset_store::expire(const std::string& group, int64_t cutoff_ms) {
    auto it = state_.find(group);
    if (it == state_.end()) return 0;
    size_t remaining = 0;
    size_t expiring = 0;
    for (const auto& [key, value] : it->second) {
        if (value.commit_timestamp_ms <= cutoff_ms) {
            ++expiring;
        } else {
            ++remaining;
        }
    }
    if (expiring > 0 && !closed_ && opened_) {
        log_.info("expiring {} committed offsets of group {} (committed at or before {} ms)", expiring, group, cutoff_ms);
        enqueue(operation{operation::kind::expire, group, {}, cutoff_ms, nullptr});
    }
    return remaining;
}

void offset_store::enqueue(operation op) {
    switch (op.what) {
        case operation::kind::commit: {
            std::vector<std::pair<std::pair<std::string, int32_t>, const committed_offset*>> entries;
            entries.reserve(op.entries.size());
            for (const auto& e : op.entries) entries.push_back({{e.topic, e.partition}, &e.value});
            encode_commit(queued_bytes_, op.group, entries);
            break;
        }
        case operation::kind::delete_group: {
            std::string payload;
            writer w(payload);
            put_string(w, op.group);
            append_record(queued_bytes_, record_type::delete_group, payload);
            break;
        }
        case operation::kind::expire: {
            std::string payload;
            writer w(payload);
            put_string(w, op.group);
            w.int64(op.cutoff_ms);
            append_record(queued_bytes_, record_type::expire_offsets, payload);
            break;
        }
        case operation::kind::delete_offsets: {
            std::string payload;
            writer w(payload);
            put_string(w, op.group);
            w.int32(static_cast<int32_t>(op.entries.size()));
            for (const auto& e : op.entries) {
                put_string(w, e.topic);
                w.int32(e.partition);
            }
            append_record(queued_bytes_, record_type::delete_offsets, payload);
            break;
        }
    }
    queued_.push_back(std::move(op));
    schedule_start();
}

// Starts the next job from a posted handler, so that everything queued in the
// same turn of the io_context shares one fsync.
void offset_store::schedule_start() {
    if (in_flight_ || start_scheduled_ || closed_) return;
    start_scheduled_ = true;
    asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.expired()) return;
        start_scheduled_ = false;
        if (!in_flight_ && !queued_.empty() && !closed_) start_job();
    });
}

std::shared_ptr<offset_store::write_job> offset_store::make_job() {
    auto job = std::make_shared<write_job>();
    job->fs = &fs_;
    job->dir = dir_;
    job->bytes = std::move(queued_bytes_);
    job->ops = std::move(queued_);
    queued_bytes_.clear();
    queued_.clear();
    job->rotate = rotate_needed_ || !journal_ || journal_size_ >= options_.compact_threshold_bytes;
    if (job->rotate) {
        job->journal_id = next_journal_id_++;
        job->snapshot_path = dir_ + "/" + std::string(offset_format::k_snapshot_name);
        job->snapshot = encode_snapshot(job->journal_id);
        // Every journal but the new one is obsolete once the snapshot is in place.
        if (auto names = fs_.list(dir_)) {
            for (const auto& name : *names) {
                if (name.rfind(offset_format::k_journal_prefix, 0) == 0) job->stale_journals.push_back(dir_ + "/" + name);
            }
        }
        journal_.reset();
    } else {
        job->journal_id = journal_id_;
        job->journal = std::move(journal_);
    }
    job->journal_path = journal_path(job->journal_id);
    std::erase(job->stale_journals, job->journal_path);
    return job;
}

void offset_store::start_job() {
    auto job = make_job();
    in_flight_ = job;
    if (io_thread_) {
        asio::post(*io_thread_, [this, job, alive = std::weak_ptr<bool>(alive_)] {
            run_job(*job);
            // Post before signalling `finished`: close() waits for the signal,
            // and the store may be destroyed right after it.
            asio::post(io_, [this, job, alive] {
                if (!alive.expired()) finish_job(job);
            });
            {
                std::lock_guard lock(job->mutex);
                job->finished = true;
            }
            job->cv.notify_all();
        });
    } else {
        run_job(*job);
        job->finished = true;
        finish_job(job);
    }
}

// Runs on the I/O thread (or inline); touches only the job and the file system.
void offset_store::run_job(write_job& job) {
    auto start = std::chrono::steady_clock::now();
    auto fail = [&](const error& err, std::string_view what) { job.outcome = err.with_context(what); };
    if (job.rotate) {
        if (auto st = write_file_atomic(*job.fs, job.snapshot_path, job.snapshot); !st) {
            return fail(st.err(), "writing the offset snapshot");
        }
        job.snapshot_written = true;
        auto opened = job.fs->open(job.journal_path, open_mode::read_write);
        if (!opened) return fail(opened.err(), "creating the offset journal");
        job.journal = std::move(*opened);
        if (job.journal->size() != 0) {
            if (auto st = job.journal->truncate(0); !st) return fail(st.err(), "creating the offset journal");
        }
    }
    if (!job.bytes.empty()) {
        if (auto st = job.journal->append(job.bytes); !st) return fail(st.err(), "appending to the offset journal");
    }
    if (auto st = job.journal->sync(); !st) return fail(st.err(), "fsync of the offset journal");
    if (job.rotate) {
        if (auto st = job.fs->sync_dir(parent_dir(job.journal_path)); !st) {
            return fail(st.err(), "making the new offset journal durable");
        }
        for (const auto& path : job.stale_journals) {
            (void)job.fs->remove(path);  // leftovers are removed on the next open
        }
    }
    job.fsync_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void offset_store::finish_job(const std::shared_ptr<write_job>& job) {
    if (job->handled) return;
    job->handled = true;
    if (in_flight_ == job) in_flight_.reset();
    if (job->snapshot_written) {
        journal_id_ = job->journal_id;
        journal_size_ = 0;
        rotate_needed_ = false;
    }
    journal_ = std::move(job->journal);
    if (job->outcome.ok()) {
        journal_size_ += job->bytes.size();
        fsync_seconds_.observe(job->fsync_seconds);
        for (const auto& op : job->ops) {
            apply(op);
            if (op.what == operation::kind::commit) commits_.inc(op.entries.size());
        }
        for (const auto& op : job->ops) {
            if (op.done) op.done->complete(status{});
        }
    } else {
        write_errors_.inc();
        rotate_needed_ = true;
        log_.error("{} ({} queued mutations fail; the next write starts a new snapshot and journal)",
                   job->outcome.err().message(), job->ops.size());
        error err(errc::io_error, job->outcome.err().message());
        for (const auto& op : job->ops) {
            if (op.done) op.done->complete(err);
        }
    }
    journal_gauge_.set(static_cast<double>(journal_size_));
    if (!queued_.empty() && !closed_) schedule_start();
}

std::string offset_store::encode_snapshot(uint64_t journal_id) const {
    std::string out;
    {
        std::string payload;
        writer w(payload);
        w.int16(offset_format::k_snapshot_version);
        w.int64(static_cast<int64_t>(journal_id));
        append_record(out, record_type::snapshot_header, payload);
    }
    for (const auto& [group, offsets] : state_) {
        std::vector<std::pair<std::pair<std::string, int32_t>, const committed_offset*>> entries;
        entries.reserve(offsets.size());
        for (const auto& [key, value] : offsets) entries.push_back({key, &value});
        encode_commit(out, group, entries);
    }
    return out;
}

void offset_store::close() {
    if (closed_) return;
    closed_ = true;
    if (!opened_) return;
    if (in_flight_) {
        auto job = in_flight_;
        if (io_thread_) {
            std::unique_lock lock(job->mutex);
            job->cv.wait(lock, [&] { return job->finished; });
        }
        finish_job(job);
    }
    // What is still queued is written here, on the calling thread.
    while (!queued_.empty()) {
        auto job = make_job();
        in_flight_ = job;
        run_job(*job);
        job->finished = true;
        finish_job(job);
    }
    if (io_thread_) io_thread_->join();
    journal_.reset();
    log_.info("closed the offset store in {} ({} committed offsets)", dir_, size());
}

const committed_offset* offset_store::find(const std::string& group, const std::string& topic,
                                           int32_t partition) const {
    auto it = state_.find(group);
    if (it == state_.end()) return nullptr;
    auto entry = it->second.find({topic, partition});
    return entry == it->second.end() ? nullptr : &entry->second;
}

std::vector<std::string> offset_store::groups() const {
    std::vector<std::string> out;
    out.reserve(state_.size());
    for (const auto& [group, offsets] : state_) out.push_back(group);
    return out;
}

void offset_store::for_each_in_group(
    const std::string& group,
    const std::function<void(const std::string&, int32_t, const committed_offset&)>& fn) const {
    auto it = state_.find(group);
    if (it == state_.end()) return;
    for (const auto& [key, value] : it->second) fn(key.first, key.second, value);
}

void offset_store::for_each(
    const std::function<void(const std::string&, const std::string&, int32_t, const committed_offset&)>& fn) const {
    for (const auto& [group, offsets] : state_) {
        for (const auto& [key, value] : offsets) fn(group, key.first, key.second, value);
    }
}

size_t offset_store::size() const {
    size_t total = 0;
    for (const auto& [group, offsets] : state_) total += offsets.size();
    return total;
}

}  // namespace millrace::kafka
