#include "storage/segment.h"

#include <algorithm>

#include "millrace/common/endian.h"
#include "protocol/records.h"
#include "storage/log_format.h"

namespace millrace::kafka::storage {
namespace {

uint32_t load_u32(const char* p) { return endian::load_be<uint32_t>(p); }
void store_u32(std::string& out, uint32_t v) { endian::append_be<uint32_t>(out, v); }
void store_u64(std::string& out, uint64_t v) { endian::append_be<uint64_t>(out, v); }

}  // namespace

result<std::unique_ptr<segment>> segment::open(file_system& fs, const std::string& dir, int64_t base_offset,
                                               bool recover, int64_t index_interval_bytes) {
    std::string base_path = dir + "/" + segment_name(base_offset);
    std::unique_ptr<segment> seg(new segment(fs, base_path, base_offset, index_interval_bytes));
    auto log = fs.open(base_path + k_log_suffix, open_mode::read_write);
    if (!log) return log.err();
    seg->log_ = std::shared_ptr<file>(std::move(*log));
    if (recover || !seg->load_indexes()) {
        if (auto st = seg->recover(); !st) return st.err();
    }
    return seg;
}

bool segment::load_indexes() {
    if (log_->size() == 0) return true;  // nothing to index
    auto index_text = read_file(fs_, base_path_ + k_index_suffix);
    auto time_text = read_file(fs_, base_path_ + k_time_index_suffix);
    if (!index_text || !time_text) return false;
    if (index_text->size() % k_index_entry_size != 0 || time_text->size() % k_time_index_entry_size != 0) return false;
    index_.clear();
    time_index_.clear();
    for (size_t pos = 0; pos < index_text->size(); pos += k_index_entry_size) {
        index_.push_back({load_u32(index_text->data() + pos), load_u32(index_text->data() + pos + 4)});
    }
    for (size_t pos = 0; pos < time_text->size(); pos += k_time_index_entry_size) {
        uint64_t ts = (uint64_t(load_u32(time_text->data() + pos)) << 32) | load_u32(time_text->data() + pos + 4);
        time_index_.push_back({static_cast<int64_t>(ts), load_u32(time_text->data() + pos + 8)});
    }
    if (index_.empty() || index_.back().position >= log_->size()) return false;
    // The last batch gives next_offset; the time index its max timestamp.
    std::string header;
    uint64_t position = index_.back().position;
    for (;;) {
        if (!log_->read_at(position, batch_format::k_header_size, header).ok() || header.size() < batch_format::k_header_size) {
            return false;
        }
        auto h = read_header(header);
        if (h.magic != 2 || h.batch_length <= 0) return false;
        next_offset_ = h.last_offset() + 1;
        position += h.total_size();
        if (position == log_->size()) break;
        if (position > log_->size()) return false;
    }
    if (!time_index_.empty()) max_timestamp_ = time_index_.back().timestamp;
    return true;
}

status segment::recover() {
    index_.clear();
    time_index_.clear();
    next_offset_ = base_offset_;
    max_timestamp_ = -1;
    bytes_since_index_ = 0;
    uint64_t position = 0;
    uint64_t size = log_->size();
    std::string batch;
    while (position < size) {
        if (size - position < batch_format::k_header_size) break;
        if (auto st = log_->read_at(position, batch_format::k_header_size, batch); !st) return st;
        auto h = read_header(batch);
        if (h.batch_length < static_cast<int32_t>(batch_format::k_header_size - batch_format::k_log_overhead) ||
            h.total_size() > size - position) {
            break;
        }
        if (auto st = log_->read_at(position, h.total_size(), batch); !st) return st;
        if (!validate_batch(batch).ok() || h.base_offset < next_offset_) break;
        index_batch(h, position);
        next_offset_ = h.last_offset() + 1;
        position += h.total_size();
    }
    if (position < size) {
        truncated_bytes_ = size - position;
        if (auto st = log_->truncate(position); !st) return st;
        if (auto st = log_->sync(); !st) return st;
    }
    return {};
}

void segment::index_batch(const batch_header& h, uint64_t position) {
    if (index_.empty() || bytes_since_index_ >= static_cast<uint64_t>(index_interval_bytes_)) {
        index_.push_back({static_cast<uint32_t>(h.base_offset - base_offset_), static_cast<uint32_t>(position)});
        bytes_since_index_ = 0;
        if (h.max_timestamp > max_timestamp_) {
            time_index_.push_back({h.max_timestamp, static_cast<uint32_t>(h.base_offset - base_offset_)});
        }
    }
    bytes_since_index_ += h.total_size();
    max_timestamp_ = std::max(max_timestamp_, h.max_timestamp);
}

status segment::append(std::string_view batch, const batch_header& h) {
    uint64_t position = log_->size();
    if (auto st = log_->append(batch); !st) {
        // Leave no torn batch behind: cut back to the last whole one.
        auto undo = log_->truncate(position);
        (void)undo;
        return st;
    }
    index_batch(h, position);
    next_offset_ = h.last_offset() + 1;
    return {};
}

uint64_t segment::lookup(int64_t offset) const {
    auto relative = static_cast<uint32_t>(offset - base_offset_);
    auto it = std::upper_bound(index_.begin(), index_.end(), relative,
                               [](uint32_t value, const index_entry& e) { return value < e.relative_offset; });
    if (it == index_.begin()) return 0;
    return std::prev(it)->position;
}

result<std::string> segment::read(int64_t offset, int32_t max_bytes) const {
    uint64_t size = log_->size();
    uint64_t position = lookup(offset);
    std::string header;
    // Find the batch that contains `offset`.
    while (position < size) {
        if (auto st = log_->read_at(position, batch_format::k_header_size, header); !st) return st.err();
        if (header.size() < batch_format::k_header_size) break;
        auto h = read_header(header);
        if (h.last_offset() >= offset) break;
        position += h.total_size();
    }
    if (position >= size) return std::string();
    // Read up to max_bytes, then trim to whole batches (at least one).
    uint64_t want = std::min<uint64_t>(size - position, static_cast<uint64_t>(std::max(max_bytes, 0)));
    want = std::max<uint64_t>(want, batch_format::k_header_size);
    std::string out;
    if (auto st = log_->read_at(position, want, out); !st) return st.err();
    size_t whole = 0;
    while (whole + batch_format::k_header_size <= out.size()) {
        auto h = read_header(std::string_view(out).substr(whole));
        if (whole + h.total_size() > out.size()) {
            if (whole == 0) {
                // The first batch alone is larger than max_bytes: serve it whole.
                if (auto st = log_->read_at(position, h.total_size(), out); !st) return st.err();
                return out;
            }
            break;
        }
        whole += h.total_size();
    }
    out.resize(whole);
    return out;
}

result<std::pair<int64_t, int64_t>> segment::offset_for_timestamp(int64_t timestamp) const {
    const std::pair<int64_t, int64_t> none{-1, -1};
    if (max_timestamp_ < timestamp) return none;
    // Start from the last time-index entry below the target, then scan.
    uint64_t position = 0;
    for (const auto& e : time_index_) {
        if (e.timestamp >= timestamp) break;
        position = lookup(base_offset_ + e.relative_offset);
    }
    std::string bytes;
    uint64_t size = log_->size();
    while (position < size) {
        if (auto st = log_->read_at(position, batch_format::k_header_size, bytes); !st) return st.err();
        auto h = read_header(bytes);
        if (h.max_timestamp >= timestamp) {
            // The batch holds it: find the record itself.
            if (auto st = log_->read_at(position, h.total_size(), bytes); !st) return st.err();
            std::pair<int64_t, int64_t> found = none;
            auto st = for_each_record(bytes, [&](const record_view& rec) {
                if (found.first < 0 && rec.timestamp >= timestamp) found = {rec.offset, rec.timestamp};
            });
            if (!st) return st.err();
            if (found.first >= 0) return found;
        }
        position += h.total_size();
    }
    return none;
}

status segment::scan(const std::function<void(const batch_header&, uint64_t)>& fn) const {
    uint64_t position = 0;
    uint64_t size = log_->size();
    std::string header;
    while (position + batch_format::k_header_size <= size) {
        if (auto st = log_->read_at(position, batch_format::k_header_size, header); !st) return st;
        auto h = read_header(header);
        fn(h, position);
        position += h.total_size();
    }
    return {};
}

status segment::write_indexes() {
    std::string index_bytes, time_bytes;
    for (const auto& e : index_) {
        store_u32(index_bytes, e.relative_offset);
        store_u32(index_bytes, e.position);
    }
    for (const auto& e : time_index_) {
        store_u64(time_bytes, static_cast<uint64_t>(e.timestamp));
        store_u32(time_bytes, e.relative_offset);
    }
    if (auto st = log_->sync(); !st) return st;
    if (auto st = write_file_atomic(fs_, base_path_ + k_index_suffix, index_bytes); !st) return st;
    return write_file_atomic(fs_, base_path_ + k_time_index_suffix, time_bytes);
}

status segment::remove_files() {
    for (const char* suffix : {k_log_suffix, k_index_suffix, k_time_index_suffix}) {
        std::string path = base_path_ + suffix;
        if (fs_.exists(path)) {
            if (auto st = fs_.remove(path); !st) return st;
        }
    }
    return {};
}

}  // namespace millrace::kafka::storage
