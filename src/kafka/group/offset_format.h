// On-disk format of committed consumer offsets, shared by the writer and the
// reader in offset_store.cc.
//
// Files, in the store's directory:
//   offsets.snapshot          the whole state when journal <id> was started,
//                             written atomically (temp file, fsync, rename)
//   offsets-<id>.journal      records appended since that snapshot, each batch
//                             fsynced before the commits in it are acknowledged
// `<id>` is 20 decimal digits. Opening replays the snapshot, then the journal
// it names; other journals are leftovers of an interrupted rotation and are
// removed.
//
// Every record, in both files (big-endian):
//   offset size field
//   0      4    crc       CRC-32C of bytes [4, 9 + length)
//   4      4    length    payload bytes
//   8      1    type      record_type below
//   9      ...  payload
// Strings in payloads are int32 length + bytes (-1 for null), integers are
// fixed-width big-endian: the Kafka classic BYTES/INT encodings.
//
// Payloads:
//   snapshot_header  version:int16 journal_id:int64
//                    (first record of a snapshot, never in a journal)
//   commit           group:str count:int32 { topic:str partition:int32 offset:int64
//                    leader_epoch:int32 metadata:nullable_str commit_ms:int64 }*
//   delete_group     group:str
//   expire_offsets   group:str cutoff_ms:int64
//                    removes the group's offsets committed at or before cutoff_ms
//   delete_offsets   group:str count:int32 { topic:str partition:int32 }*
//                    removes these offsets of the group (OffsetDelete)
//
// A journal whose tail fails the length or CRC check was torn by a crash in
// the middle of an append; the tail is cut off on open (it was never
// acknowledged). A snapshot that fails a check is corruption: it was renamed
// into place only after an fsync.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace millrace::kafka::offset_format {

constexpr size_t k_crc = 0;
constexpr size_t k_length = 4;
constexpr size_t k_type = 8;
constexpr size_t k_header_size = 9;

// No single record may claim more than this; a larger length is a torn or
// corrupt header, not a record.
constexpr uint32_t k_max_payload = 256u << 20;

constexpr int16_t k_snapshot_version = 1;

constexpr std::string_view k_snapshot_name = "offsets.snapshot";
constexpr std::string_view k_journal_prefix = "offsets-";
constexpr std::string_view k_journal_suffix = ".journal";

enum class record_type : uint8_t {
    snapshot_header = 1,
    commit = 2,
    delete_group = 3,
    expire_offsets = 4,
    delete_offsets = 5,
};

}  // namespace millrace::kafka::offset_format
