// On-disk layout of a partition, shared by the writer and the recovery reader.
//
// A partition is a directory `<data_dir>/<topic>-<partition>/` of segments,
// each named by its base offset in 20 zero-padded digits:
//   00000000000000000000.log        record batches exactly as Fetch serves them
//   00000000000000000000.index      sparse offset index, one entry per
//                                   ~index_interval_bytes of log:
//                                     relative offset (4 bytes) | position (4 bytes)
//   00000000000000000000.timeindex  time index, one entry per index entry when
//                                   the max timestamp grows:
//                                     timestamp (8 bytes) | relative offset (4 bytes)
//   log-start-offset                the log start offset set by DeleteRecords, as
//                                   decimal text (written atomically); absent
//                                   until the first DeleteRecords
// Transactions need no extra file: open transactions (the last stable offset)
// and aborted ones (Kafka's .txnindex) are rebuilt from the batch headers and
// control batches when the partition opens, and aborted entries go with the
// segments retention removes.
// All integers big-endian. Index files are written when a segment is closed
// (roll or clean shutdown); after a crash the active segment is scanned,
// every batch's CRC checked, a torn tail truncated and its indexes rebuilt.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace millrace::kafka::storage {

constexpr size_t k_index_entry_size = 8;
constexpr size_t k_time_index_entry_size = 12;
constexpr const char* k_log_suffix = ".log";
constexpr const char* k_index_suffix = ".index";
constexpr const char* k_time_index_suffix = ".timeindex";

inline std::string segment_name(int64_t base_offset) { return fmt::format("{:020}", base_offset); }

}  // namespace millrace::kafka::storage
