// Records inside a batch (format v2): decompression of the batch body and
// iteration over each record's offset, timestamp, key, value and headers.
// The broker stores batches as received; it decodes records only where a
// record-level answer is needed (timestamp lookups, compaction).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::kafka {

enum class compression : int { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

// Decompresses a batch body compressed with `codec` (Kafka's framings: gzip,
// xerial-framed or raw snappy, LZ4 frame, zstd frame). Output is bounded by
// `max_output` bytes so a decompression bomb fails instead of exhausting memory.
result<std::string> decompress(compression codec, std::string_view input, size_t max_output);

struct record_view {
    int64_t offset;
    int64_t timestamp;
    std::optional<std::string_view> key;    // null key: nullopt
    std::optional<std::string_view> value;  // tombstone: nullopt
    std::string_view headers;               // header count and headers, as encoded
};

// Builds an uncompressed batch of `records` (offsets and timestamps as given,
// which must ascend), keeping the producer fields of `like` (a batch header's
// bytes). Used by compaction to rewrite a batch that lost some records.
std::string encode_batch(const std::vector<record_view>& records, std::string_view like);

// Calls `fn` for each record of a whole, validated batch. The views are valid
// during the call only. Errors name the record and the field that is wrong.
status for_each_record(std::string_view batch, const std::function<void(const record_view&)>& fn,
                       size_t max_decompressed = 64u << 20);

}  // namespace millrace::kafka
