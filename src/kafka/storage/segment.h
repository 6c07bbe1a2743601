// One segment of a partition log: its log file and in-memory copies of its
// sparse offset and time indexes (persisted when the segment closes).
// Not thread-safe; owned by its partition_log.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "millrace/common/file_system.h"
#include "protocol/record_batch.h"

namespace millrace::kafka::storage {

class segment {
public:
    // Opens or creates the segment with `base_offset` in `dir`. With `recover`,
    // scans the log, truncates a torn or corrupt tail and rebuilds the indexes;
    // otherwise loads the index files (rebuilding them when missing or bad).
    static result<std::unique_ptr<segment>> open(file_system& fs, const std::string& dir, int64_t base_offset,
                                                 bool recover, int64_t index_interval_bytes);

    // Appends one batch whose offsets are already assigned.
    status append(std::string_view batch, const batch_header& h);
    // Reads whole batches from the one containing `offset`, up to `max_bytes`
    // (at least one batch). Empty when `offset` is past the end.
    result<std::string> read(int64_t offset, int32_t max_bytes) const;
    // The first record whose timestamp >= `timestamp`: its offset and
    // timestamp, or {-1, -1}.
    result<std::pair<int64_t, int64_t>> offset_for_timestamp(int64_t timestamp) const;
    // Calls `fn(header, position)` for every batch (headers only).
    status scan(const std::function<void(const batch_header&, uint64_t)>& fn) const;

    status write_indexes();
    status remove_files();

    int64_t base_offset() const { return base_offset_; }
    int64_t next_offset() const { return next_offset_; }
    int64_t max_timestamp() const { return max_timestamp_; }
    int64_t created_ms() const { return created_ms_; }
    void set_created_ms(int64_t ms) { created_ms_ = ms; }
    uint64_t size() const { return log_->size(); }
    bool empty() const { return log_->size() == 0; }
    const std::shared_ptr<file>& log_file() const { return log_; }
    // Bytes of torn or corrupt tail that recovery cut off when opening.
    uint64_t truncated_bytes() const { return truncated_bytes_; }

private:
    segment(file_system& fs, std::string base_path, int64_t base_offset, int64_t index_interval_bytes)
        : fs_(fs), base_path_(std::move(base_path)), base_offset_(base_offset), next_offset_(base_offset),
          index_interval_bytes_(index_interval_bytes) {}

    status recover();
    bool load_indexes();
    void index_batch(const batch_header& h, uint64_t position);
    // The file position to start scanning for `offset`.
    uint64_t lookup(int64_t offset) const;

    struct index_entry {
        uint32_t relative_offset;
        uint32_t position;
    };
    struct time_entry {
        int64_t timestamp;
        uint32_t relative_offset;
    };

    file_system& fs_;
    std::string base_path_;  // dir/<20 digits>, without suffix
    int64_t base_offset_;
    int64_t next_offset_;
    int64_t index_interval_bytes_;
    int64_t max_timestamp_ = -1;
    int64_t created_ms_ = 0;
    uint64_t bytes_since_index_ = 0;
    uint64_t truncated_bytes_ = 0;
    std::shared_ptr<file> log_;
    std::vector<index_entry> index_;
    std::vector<time_entry> time_index_;
};

}  // namespace millrace::kafka::storage
