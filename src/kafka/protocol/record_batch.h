// Record batch format v2 (magic 2), the unit the broker stores and serves.
//
// Byte layout of the batch header (big-endian), 61 bytes:
//   offset size field
//   0      8    base_offset              assigned by the broker on append
//   8      4    batch_length             bytes after this field
//   12     4    partition_leader_epoch   set by the broker
//   16     1    magic                    2
//   17     4    crc                      CRC-32C of bytes [21, end)
//   21     2    attributes               bits 0-2 compression, 3 timestamp type,
//                                        4 transactional, 5 control
//   23     4    last_offset_delta
//   27     8    base_timestamp
//   35     8    max_timestamp
//   43     8    producer_id              -1 when not idempotent
//   51     2    producer_epoch
//   53     4    base_sequence
//   57     4    records_count
//   61     ...  records
// base_offset and partition_leader_epoch lie outside the CRC, so the broker
// can assign offsets without recomputing it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "millrace/common/result.h"

namespace millrace::kafka {

namespace batch_format {
constexpr size_t k_base_offset = 0;
constexpr size_t k_batch_length = 8;
constexpr size_t k_leader_epoch = 12;
constexpr size_t k_magic = 16;
constexpr size_t k_crc = 17;
constexpr size_t k_attributes = 21;
constexpr size_t k_last_offset_delta = 23;
constexpr size_t k_base_timestamp = 27;
constexpr size_t k_max_timestamp = 35;
constexpr size_t k_producer_id = 43;
constexpr size_t k_producer_epoch = 51;
constexpr size_t k_base_sequence = 53;
constexpr size_t k_records_count = 57;
constexpr size_t k_header_size = 61;
// Bytes before batch_length's coverage starts: base_offset + batch_length.
constexpr size_t k_log_overhead = 12;
constexpr uint16_t k_compression_mask = 0x07;
constexpr uint16_t k_transactional = 0x10;
constexpr uint16_t k_control = 0x20;
}  // namespace batch_format

uint32_t crc32c(const void* data, size_t length, uint32_t crc = 0);

// The parsed header of one stored or received batch.
struct batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;

    int64_t last_offset() const { return base_offset + last_offset_delta; }
    size_t total_size() const { return batch_format::k_log_overhead + static_cast<size_t>(batch_length); }
    int compression() const { return attributes & batch_format::k_compression_mask; }
    bool transactional() const { return attributes & batch_format::k_transactional; }
    bool control() const { return attributes & batch_format::k_control; }
};

// Reads the header at the start of `bytes` (at least k_header_size bytes).
batch_header read_header(std::string_view bytes);

// Validates one whole batch as received from a producer or read back from
// disk: length, magic, CRC, record count. The error says which check failed.
status validate_batch(std::string_view bytes);

// Splits a RECORDS field into batches; fails on a partial trailing batch.
// Calls `on_batch(std::string_view)` for each.
template <typename F>
status for_each_batch(std::string_view records, F&& on_batch) {
    size_t pos = 0;
    while (pos < records.size()) {
        if (records.size() - pos < batch_format::k_header_size) {
            return make_error(errc::corruption, "truncated batch header: {} bytes left at position {}", records.size() - pos, pos);
        }
        auto header = read_header(records.substr(pos));
        if (header.batch_length < static_cast<int32_t>(batch_format::k_header_size - batch_format::k_log_overhead)) {
            return make_error(errc::corruption, "batch length {} at position {} is smaller than a header", header.batch_length, pos);
        }
        if (header.total_size() > records.size() - pos) {
            return make_error(errc::corruption, "truncated batch: length {} at position {}, {} bytes left", header.total_size(), pos, records.size() - pos);
        }
        auto st = on_batch(records.substr(pos, header.total_size()));
        if (!st) return st;
        pos += header.total_size();
    }
    return {};
}

void write_int64_at(std::string& buffer, size_t position, int64_t value);
void write_int32_at(std::string& buffer, size_t position, int32_t value);

}  // namespace millrace::kafka
