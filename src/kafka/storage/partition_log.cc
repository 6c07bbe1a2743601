#include "storage/partition_log.h"

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "protocol/records.h"
#include "protocol/wire.h"
#include "storage/log_format.h"
#include "storage/segment.h"

namespace millrace::kafka::storage {
namespace {

constexpr size_t k_producer_window = 5;  // batches remembered per producer for duplicate detection
constexpr const char* k_cleaned_suffix = ".log.cleaned";  // compaction output before it replaces a segment
constexpr const char* k_log_start_file = "log-start-offset";  // DeleteRecords checkpoint: a decimal offset

bool is_segment_log(const std::string& name, int64_t& base_offset) {
    if (name.size() != 20 + 4 || name.compare(20, 4, k_log_suffix) != 0) return false;
    base_offset = 0;
    for (size_t idx = 0; idx < 20; ++idx) {
        if (name[idx] < '0' || name[idx] > '9') return false;
        base_offset = base_offset * 10 + (name[idx] - '0');
    }
    return true;
}

// Control records (KIP-98): key = version (int16, 0) | type (int16: 0 ABORT,
// 1 COMMIT); value = version (int16, 0) | coordinator epoch (int32).
constexpr int16_t k_marker_abort = 0;
constexpr int16_t k_marker_commit = 1;

// Whether the control batch `batch` is a COMMIT (true) or an ABORT marker.
result<bool> control_marker_type(std::string_view batch) {
    std::optional<int16_t> type;
    auto st = for_each_record(batch, [&](const record_view& rec) {
        if (!type && rec.key && rec.key->size() >= 4) {
            type = static_cast<int16_t>((static_cast<uint8_t>((*rec.key)[2]) << 8) | static_cast<uint8_t>((*rec.key)[3]));
        }
    });
    if (!st) return st.err();
    if (!type || (*type != k_marker_abort && *type != k_marker_commit)) {
        return make_error(errc::corruption, "control batch at offset {} is neither COMMIT nor ABORT", read_header(batch).base_offset);
    }
    return *type == k_marker_commit;
}

}  // namespace

partition_log::partition_log(file_system& fs, millrace::clock& clock, std::string dir, log_config cfg)
    : fs_(fs), clock_(clock), dir_(std::move(dir)), cfg_(cfg) {}

partition_log::~partition_log() = default;

segment& partition_log::active() const { return *segments_.rbegin()->second; }

status partition_log::open(bool clean) {
    if (auto st = fs_.create_directories(dir_); !st) return st;
    auto names = fs_.list(dir_);
    if (!names) return names.err();
    std::vector<int64_t> bases;
    for (const auto& name : *names) {
        int64_t base = 0;
        if (is_segment_log(name, base)) bases.push_back(base);
        // A compaction interrupted by a crash left its output unfinished.
        if (name.ends_with(k_cleaned_suffix)) {
            if (auto st = fs_.remove(dir_ + "/" + name); !st) return st;
        }
    }
    std::sort(bases.begin(), bases.end());
    for (size_t idx = 0; idx < bases.size(); ++idx) {
        bool last = idx + 1 == bases.size();
        auto seg = segment::open(fs_, dir_, bases[idx], /*recover=*/last && !clean, cfg_.index_interval_bytes);
        if (!seg) return seg.err().with_context(fmt::format("recovering {}", dir_));
        (*seg)->set_created_ms(clock_.wall_millis());
        truncated_on_open_ += (*seg)->truncated_bytes();
        segments_.emplace(bases[idx], std::move(*seg));
    }
    if (segments_.empty()) {
        if (auto st = roll(0); !st) return st;
    }
    log_start_offset_ = segments_.begin()->first;
    next_offset_ = active().next_offset();
    // A DeleteRecords checkpoint may sit inside the first segment.
    if (fs_.exists(dir_ + "/" + k_log_start_file)) {
        auto text = read_file(fs_, dir_ + "/" + k_log_start_file);
        if (!text) return text.err();
        int64_t checkpoint = 0;
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), checkpoint);
        if (ec != std::errc()) {
            return make_error(errc::corruption, "{}/{}: not an offset: '{}'", dir_, k_log_start_file, *text);
        }
        log_start_offset_ = std::clamp(checkpoint, log_start_offset_, next_offset_);
    }
    // A closed segment that ends before the next one starts is fine (retention
    // or compaction); the next offset is the active segment's end.
    flushed_offset_ = next_offset_;  // what survived a restart is on disk
    // Rebuild idempotent producer state from the batch headers.
    for (const auto& [base, seg] : segments_) {
        status marker_error;
        auto st = seg->scan([&](const batch_header& h, uint64_t position) {
            if (h.producer_id >= 0) track_producer(h, h.base_offset);
            if (!h.transactional()) return;
            bool commit = false;
            if (h.control()) {
                std::string bytes;
                auto read = seg->log_file()->read_at(position, h.total_size(), bytes);
                auto type = read.ok() ? control_marker_type(bytes) : result<bool>(read.err());
                if (!type) {
                    if (marker_error.ok()) marker_error = type.err();
                    return;
                }
                commit = *type;
            }
            track_transaction(h, commit);
        });
        if (!st) return st.err().with_context(fmt::format("scanning {}", dir_));
        if (!marker_error) return marker_error.err().with_context(fmt::format("reading a transaction marker in {}", dir_));
    }
    return {};
}

status partition_log::close() {
    if (segments_.empty()) return {};
    return active().write_indexes();
}

status partition_log::roll(int64_t base_offset) {
    if (!segments_.empty()) {
        // The closing segment's data and indexes become durable before it is left.
        if (auto st = active().write_indexes(); !st) return st;
    }
    auto seg = segment::open(fs_, dir_, base_offset, /*recover=*/true, cfg_.index_interval_bytes);
    if (!seg) return seg.err();
    if (auto st = fs_.sync_dir(dir_); !st) return st;
    (*seg)->set_created_ms(clock_.wall_millis());
    segments_.emplace(base_offset, std::move(*seg));
    return {};
}

void partition_log::track_producer(const batch_header& h, int64_t base_offset) {
    auto& entry = producers_[h.producer_id];
    if (h.control()) {
        // A marker carries the coordinator's epoch, which may be a bump (fencing);
        // the producer's sequences go on across transactions of one epoch.
        if (h.producer_epoch > entry.epoch) {
            entry.epoch = h.producer_epoch;
            entry.recent.clear();
        }
        return;
    }
    if (h.producer_epoch != entry.epoch) {
        entry.epoch = h.producer_epoch;
        entry.recent.clear();
    }
    entry.recent.push_back({h.base_sequence, h.base_sequence + h.last_offset_delta, base_offset,
                            base_offset + h.last_offset_delta});
    if (entry.recent.size() > k_producer_window) entry.recent.pop_front();
}

append_result partition_log::append(std::string_view records) {
    append_result out;
    std::vector<std::string_view> batches;
    auto st = for_each_batch(records, [&](std::string_view batch) -> status {
        if (auto valid = validate_batch(batch); !valid) return valid;
        if (static_cast<int64_t>(batch.size()) > cfg_.max_message_bytes) {
            return make_error(errc::invalid_argument, "batch of {} bytes exceeds max.message.bytes {}", batch.size(),
                              cfg_.max_message_bytes);
        }
        if (cfg_.compact) {
            bool keyless = false;
            auto st = for_each_record(batch, [&](const record_view& rec) { keyless |= !rec.key.has_value(); });
            if (!st) return st;
            if (keyless) return make_error(errc::not_found, "a compacted topic cannot accept a record without a key");
        }
        batches.push_back(batch);
        return {};
    });
    if (!st) {
        out.error = st.err().code() == errc::invalid_argument ? error_code::message_too_large
                    : st.err().code() == errc::unsupported   ? error_code::unsupported_for_message_format
                    : st.err().code() == errc::not_found     ? error_code::invalid_record
                                                             : error_code::corrupt_message;
        out.message = st.err().message();
        return out;
    }
    if (batches.empty()) {
        out.error = error_code::invalid_record;
        out.message = "produce request carries no record batch";
        return out;
    }
    // Idempotence: every batch of one request comes from one producer.
    const auto first = read_header(batches.front());
    if (first.producer_id >= 0) {
        auto it = producers_.find(first.producer_id);
        if (it != producers_.end()) {
            auto& entry = it->second;
            if (first.producer_epoch < entry.epoch) {
                out.error = error_code::invalid_producer_epoch;
                out.message = fmt::format("producer {} epoch {} is older than {}", first.producer_id, first.producer_epoch, entry.epoch);
                return out;
            }
            if (first.producer_epoch == entry.epoch && !entry.recent.empty()) {
                for (const auto& seen : entry.recent) {
                    if (seen.first_sequence == first.base_sequence) {
                        out.duplicate = true;
                        out.base_offset = seen.base_offset;
                        out.last_offset = seen.last_offset;
                        return out;
                    }
                }
                int32_t expected = entry.recent.back().last_sequence + 1;
                if (expected < 0) expected = 0;  // sequences wrap at INT32_MAX
                if (first.base_sequence != expected) {
                    out.error = error_code::out_of_order_sequence_number;
                    out.message = fmt::format("producer {} sent sequence {}, expected {}", first.producer_id,
                                              first.base_sequence, expected);
                    return out;
                }
            } else if (first.base_sequence != 0 && first.producer_epoch == entry.epoch) {
                out.error = error_code::out_of_order_sequence_number;
                out.message = fmt::format("producer {} sent sequence {}, expected 0", first.producer_id, first.base_sequence);
                return out;
            }
        }
        // An unknown producer (new, or its batches expired) starts anew.
    }

    int64_t now = clock_.wall_millis();
    out.base_offset = next_offset_;
    std::string batch;
    for (auto view : batches) {
        batch.assign(view);
        if (auto st = write_batch(batch, now, cfg_.log_append_time, out); !st) {
            out.error = error_code::kafka_storage_error;
            out.message = st.err().message();
            return out;  // earlier batches of this request stay; the producer retries
        }
    }
    out.last_offset = next_offset_ - 1;
    return out;
}

status partition_log::write_batch(std::string& batch, int64_t now, bool stamp_append_time, append_result& out) {
    if (active().size() >= static_cast<uint64_t>(cfg_.segment_bytes) ||
        (!active().empty() && now - active().created_ms() >= cfg_.segment_ms)) {
        if (auto rolled = roll(next_offset_); !rolled) return rolled;
    }
    {
        write_int64_at(batch, batch_format::k_base_offset, next_offset_);
        write_int32_at(batch, batch_format::k_leader_epoch, 0);
        if (stamp_append_time) {
            // Timestamp type bit set and max timestamp replaced: the CRC changes.
            auto attributes = static_cast<uint16_t>(read_header(batch).attributes | 0x08);
            batch[batch_format::k_attributes] = static_cast<char>(attributes >> 8);
            batch[batch_format::k_attributes + 1] = static_cast<char>(attributes);
            write_int64_at(batch, batch_format::k_max_timestamp, now);
            uint32_t crc = crc32c(batch.data() + batch_format::k_attributes, batch.size() - batch_format::k_attributes);
            write_int32_at(batch, batch_format::k_crc, static_cast<int32_t>(crc));
            out.log_append_time = now;
        }
        auto h = read_header(batch);
        if (auto appended = active().append(batch, h); !appended) return appended;
        if (h.producer_id >= 0) track_producer(h, h.base_offset);
        if (h.transactional() && !h.control()) track_transaction(h, false);
        next_offset_ = h.last_offset() + 1;
    }
    return {};
}

void partition_log::track_transaction(const batch_header& h, bool commit) {
    if (!h.control()) {
        ongoing_txns_.try_emplace(h.producer_id, h.base_offset);
        return;
    }
    auto it = ongoing_txns_.find(h.producer_id);
    if (it == ongoing_txns_.end()) return;  // a retried marker, or one for a transaction with no data here
    if (!commit) aborted_.push_back({h.producer_id, it->second, h.base_offset});
    ongoing_txns_.erase(it);
}

int64_t partition_log::last_stable_offset() const {
    int64_t lso = next_offset_;
    for (const auto& [producer_id, first] : ongoing_txns_) lso = std::min(lso, first);
    return std::max(lso, log_start_offset_);
}

int64_t partition_log::open_txn_start(int64_t producer_id) const {
    auto it = ongoing_txns_.find(producer_id);
    return it == ongoing_txns_.end() ? -1 : it->second;
}

std::vector<aborted_txn> partition_log::aborted_between(int64_t from, int64_t upto) const {
    std::vector<aborted_txn> out;
    // Ordered by marker offset: skip those that ended before `from`.
    auto it = std::lower_bound(aborted_.begin(), aborted_.end(), from,
                               [](const aborted_txn& a, int64_t offset) { return a.last_offset < offset; });
    for (; it != aborted_.end(); ++it) {
        if (it->first_offset < upto) out.push_back(*it);
    }
    return out;
}

append_result partition_log::append_marker(int64_t producer_id, int16_t producer_epoch, bool commit,
                                           int32_t coordinator_epoch) {
    append_result out;
    const int64_t now = clock_.wall_millis();
    // A header to model the batch on: transactional control batch of this producer.
    std::string like(batch_format::k_header_size, '\0');
    write_int64_at(like, batch_format::k_producer_id, producer_id);
    like[batch_format::k_producer_epoch] = static_cast<char>(static_cast<uint16_t>(producer_epoch) >> 8);
    like[batch_format::k_producer_epoch + 1] = static_cast<char>(producer_epoch);
    write_int32_at(like, batch_format::k_base_sequence, -1);
    const uint16_t attributes = batch_format::k_transactional | batch_format::k_control;
    like[batch_format::k_attributes] = static_cast<char>(attributes >> 8);
    like[batch_format::k_attributes + 1] = static_cast<char>(attributes);
    std::string key, value;
    writer k(key);
    k.int16(0);
    k.int16(commit ? k_marker_commit : k_marker_abort);
    writer v(value);
    v.int16(0);
    v.int32(coordinator_epoch);
    record_view rec{next_offset_, now, std::string_view(key), std::string_view(value), std::string_view("\0", 1)};
    std::string batch = encode_batch({rec}, like);
    out.base_offset = next_offset_;
    if (auto st = write_batch(batch, now, false, out); !st) {
        out.error = error_code::kafka_storage_error;
        out.message = st.err().message();
        return out;
    }
    auto h = read_header(batch);
    track_transaction(h, commit);
    out.last_offset = next_offset_ - 1;
    return out;
}

produce_verdict partition_log::validate_produce(std::string_view records, int16_t produce_version,
                                                bool transactional_request) const {
    produce_policy policy;
    policy.produce_version = produce_version;
    policy.transactional_request = transactional_request;
    policy.max_message_bytes = cfg_.max_message_bytes;
    policy.log_append_time = cfg_.log_append_time;
    policy.compacted = cfg_.compact;
    policy.timestamp_before_max_ms = cfg_.timestamp_before_max_ms;
    policy.timestamp_after_max_ms = cfg_.timestamp_after_max_ms;
    policy.now_ms = clock_.wall_millis();
    return kafka::validate_produce(records, policy);
}

read_result partition_log::read(int64_t offset, int32_t max_bytes, int64_t max_offset) const {
    read_result out = read_unbounded(offset, max_bytes);
    if (out.error != error_code::none || max_offset == INT64_MAX) return out;
    // Cut before the first batch that starts at or beyond `max_offset`.
    size_t pos = 0;
    while (pos + batch_format::k_header_size <= out.records.size()) {
        auto h = read_header(std::string_view(out.records).substr(pos));
        if (h.base_offset >= max_offset) break;
        pos += h.total_size();
    }
    out.records.resize(std::min(pos, out.records.size()));
    return out;
}

read_result partition_log::read_unbounded(int64_t offset, int32_t max_bytes) const {
    read_result out;
    if (offset < log_start_offset_ || offset > next_offset_) {
        out.error = error_code::offset_out_of_range;
        return out;
    }
    if (offset == next_offset_) return out;
    auto it = segments_.upper_bound(offset);
    if (it == segments_.begin()) {
        out.error = error_code::offset_out_of_range;
        return out;
    }
    --it;
    // An offset in a gap (removed by compaction) continues in the next segment.
    for (; it != segments_.end(); ++it) {
        auto bytes = it->second->read(offset, max_bytes);
        if (!bytes) {
            out.error = error_code::kafka_storage_error;
            return out;
        }
        if (!bytes->empty()) {
            out.records = std::move(*bytes);
            return out;
        }
    }
    return out;
}

std::pair<int64_t, int64_t> partition_log::offset_for_timestamp(int64_t timestamp) const {
    for (const auto& [base, seg] : segments_) {
        if (seg->max_timestamp() < timestamp) continue;
        auto found = seg->offset_for_timestamp(timestamp);
        if (found.ok() && found->first >= 0) return *found;
    }
    return {-1, -1};
}

std::pair<int64_t, int64_t> partition_log::max_timestamp_offset() const {
    const segment* best = nullptr;
    for (const auto& [base, seg] : segments_) {
        if (seg->max_timestamp() >= 0 && (best == nullptr || seg->max_timestamp() > best->max_timestamp())) best = seg.get();
    }
    if (best == nullptr) return {-1, -1};
    auto found = best->offset_for_timestamp(best->max_timestamp());
    return found.ok() ? *found : std::pair<int64_t, int64_t>{-1, -1};
}

uint64_t partition_log::size_bytes() const {
    uint64_t total = 0;
    for (const auto& [base, seg] : segments_) total += seg->size();
    return total;
}

std::shared_ptr<file> partition_log::active_file() const { return active().log_file(); }

status partition_log::sync() {
    if (auto st = active().log_file()->sync(); !st) return st;
    flushed_offset_ = next_offset_;
    return {};
}

std::vector<partition_log::producer_snapshot> partition_log::producers() const {
    std::vector<producer_snapshot> out;
    out.reserve(producers_.size());
    for (const auto& [id, entry] : producers_) {
        bool any = !entry.recent.empty();
        out.push_back({id, entry.epoch, any ? entry.recent.back().last_sequence : -1,
                       any ? entry.recent.back().last_offset : -1});
    }
    return out;
}

status partition_log::delete_records_before(int64_t offset) {
    if (offset == -1) offset = next_offset_;
    if (offset < 0 || offset > next_offset_) {
        return make_error(errc::invalid_argument, "{}: cannot delete records before offset {}: the log ends at {}", dir_,
                          offset, next_offset_);
    }
    if (offset <= log_start_offset_) return {};
    if (auto st = write_file_atomic(fs_, dir_ + "/" + k_log_start_file, std::to_string(offset)); !st) return st;
    log_start_offset_ = offset;
    // Whole segments below the new start go; the active segment stays.
    while (segments_.size() > 1) {
        auto next = std::next(segments_.begin());
        if (next->first > offset) break;
        if (auto st = segments_.begin()->second->remove_files(); !st) return st;
        segments_.erase(segments_.begin());
    }
    return {};
}

int partition_log::enforce_retention() {
    int deleted = 0;
    if (!cfg_.delete_retention) return 0;
    int64_t now = clock_.wall_millis();
    uint64_t total = size_bytes();
    while (segments_.size() > 1) {
        auto& oldest = *segments_.begin()->second;
        bool too_old = cfg_.retention_ms >= 0 && oldest.max_timestamp() >= 0 && now - oldest.max_timestamp() > cfg_.retention_ms;
        bool too_big = cfg_.retention_bytes >= 0 && total - oldest.size() >= static_cast<uint64_t>(cfg_.retention_bytes);
        if (!too_old && !too_big) break;
        total -= oldest.size();
        if (!oldest.remove_files().ok()) break;
        segments_.erase(segments_.begin());
        ++deleted;
    }
    log_start_offset_ = std::max(log_start_offset_, segments_.begin()->first);
    while (!aborted_.empty() && aborted_.front().last_offset < log_start_offset_) aborted_.pop_front();
    return deleted;
}

result<compaction_stats> partition_log::compact() {
    compaction_stats stats;
    size_t closed = segments_.size() - 1;
    int64_t now = clock_.wall_millis();
    if (!cfg_.compact || closed == 0) return stats;
    if (closed == closed_at_last_compaction_ && now < next_tombstone_check_ms_) return stats;

    // The newest offset of every key, over the whole log.
    std::unordered_map<std::string, int64_t> newest;
    std::string bytes;
    for (const auto& [base, seg] : segments_) {
        std::string all;
        if (auto st = seg->log_file()->read_at(0, seg->size(), all); !st) return st.err();
        auto st = for_each_batch(all, [&](std::string_view batch) -> status {
            if (read_header(batch).transactional()) return {};  // markers and transactional records are kept whole
            return for_each_record(batch, [&](const record_view& rec) {
                if (rec.key) newest[std::string(*rec.key)] = rec.offset;
            });
        });
        if (!st) return st.err().with_context(dir_);
    }

    next_tombstone_check_ms_ = INT64_MAX;
    auto active_base = segments_.rbegin()->first;
    for (auto& [base, seg] : segments_) {
        if (base == active_base) break;
        std::string all;
        if (auto st = seg->log_file()->read_at(0, seg->size(), all); !st) return st.err();
        std::string cleaned;
        int64_t kept = 0, removed = 0;
        auto st = for_each_batch(all, [&](std::string_view batch) -> status {
            // Owned copies: a compressed batch's records point into a buffer
            // that lives only during for_each_record.
            struct kept_record {
                record_view view;
                std::string key, value, headers;
            };
            std::vector<kept_record> keep;
            int32_t total = 0;
            // Transactional batches and their markers stay as written, so a marker
            // never goes while records of its transaction remain.
            if (read_header(batch).transactional()) {
                cleaned.append(batch);
                kept += read_header(batch).records_count;
                return {};
            }
            bool has_keyless = false;  // written before compaction was on: the batch stays whole
            auto decoded = for_each_record(batch, [&](const record_view& rec) {
                ++total;
                if (!rec.key) {
                    has_keyless = true;
                    return;
                }
                auto it = newest.find(std::string(*rec.key));
                if (it == newest.end() || it->second != rec.offset) return;
                if (!rec.value) {
                    int64_t expires = rec.timestamp + cfg_.delete_retention_ms;
                    if (expires <= now) return;  // tombstone past delete.retention.ms
                    next_tombstone_check_ms_ = std::min(next_tombstone_check_ms_, expires);
                }
                keep.push_back({rec, std::string(*rec.key), std::string(rec.value.value_or("")), std::string(rec.headers)});
            });
            if (!decoded) return decoded;
            if (has_keyless || static_cast<int32_t>(keep.size()) == total) {
                cleaned.append(batch);
                kept += total;
            } else if (!keep.empty()) {
                std::vector<record_view> views;
                for (const auto& k : keep) {
                    record_view v = k.view;
                    v.key = k.key;
                    if (v.value) v.value = k.value;
                    v.headers = k.headers;
                    views.push_back(v);
                }
                cleaned += encode_batch(views, batch.substr(0, batch_format::k_header_size));
                kept += static_cast<int64_t>(keep.size());
                removed += total - static_cast<int64_t>(keep.size());
            } else {
                removed += total;
            }
            return {};
        });
        if (!st) return st.err().with_context(dir_);
        if (removed == 0) continue;
        if (auto rewritten = rewrite_segment(base, cleaned); !rewritten) return rewritten.err();
        stats.segments++;
        stats.records_kept += kept;
        stats.records_removed += removed;
    }
    closed_at_last_compaction_ = segments_.size() - 1;
    return stats;
}

status partition_log::rewrite_segment(int64_t base, const std::string& cleaned_bytes) {
    std::string base_path = dir_ + "/" + segment_name(base);
    std::string cleaned_path = base_path + k_cleaned_suffix;
    {
        auto out = fs_.open(cleaned_path, open_mode::read_write);
        if (!out) return out.err();
        if (auto st = (*out)->truncate(0); !st) return st;
        if (auto st = (*out)->append(cleaned_bytes); !st) return st;
        if (auto st = (*out)->sync(); !st) return st;
    }
    // Old indexes go first: if the rename never happens, the old log is
    // intact and its indexes are rebuilt by scanning it.
    for (const char* suffix : {k_index_suffix, k_time_index_suffix}) {
        if (fs_.exists(base_path + suffix)) {
            if (auto st = fs_.remove(base_path + suffix); !st) return st;
        }
    }
    if (auto st = fs_.rename(cleaned_path, base_path + k_log_suffix); !st) return st;
    if (auto st = fs_.sync_dir(dir_); !st) return st;
    int64_t created = segments_[base]->created_ms();
    auto seg = segment::open(fs_, dir_, base, /*recover=*/true, cfg_.index_interval_bytes);
    if (!seg) return seg.err();
    (*seg)->set_created_ms(created);
    if (auto st = (*seg)->write_indexes(); !st) return st;
    segments_[base] = std::move(*seg);
    return {};
}

status partition_log::destroy() {
    segments_.clear();
    return fs_.remove_all(dir_);
}

}  // namespace millrace::kafka::storage
