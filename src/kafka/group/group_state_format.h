// On-disk format of group membership (both group types), beside the
// committed offsets in the coordinator's directory. Shared by the writer and
// the reader in coordinator_persist.cc.
//
// One file, `groups.state`, rewritten whole and atomically (temp file, fsync,
// rename, directory fsync) whenever the membership differs from what was
// last written: checked at every coordinator tick (~100 ms) and on close.
//
// Layout (big-endian):
//   offset size field
//   0      4    crc       CRC-32C of bytes [4, 10 + length)
//   4      4    length    payload bytes
//   8      2    version   k_version
//   10     ...  payload
// Strings are int16 length + bytes (-1 for null), byte strings int32 length +
// bytes: the Kafka classic STRING/BYTES encodings.
//
// Payload:
//   consumer_groups:int32 { id:str group_epoch:int32 assignment_epoch:int32 assignor:str
//     topics:int32 { name:str id:uuid partitions:int32 }*
//     members:int32 { id:str instance_id:nstr rack_id:nstr client_id:str client_host:str
//       rebalance_timeout_ms:int32 names:int32 { str }* regex:nstr server_assignor:nstr
//       member_epoch:int32 previous_member_epoch:int32 state:int8
//       assigned:pmap pending_revocation:pmap target:pmap }* }*
//   classic_groups:int32 { id:str generation:int32 protocol_type:nstr protocol_name:nstr leader:str
//     members:int32 { id:str instance_id:nstr client_id:str client_host:str session_timeout_ms:int32
//       rebalance_timeout_ms:int32 protocol_type:str protocols:int32 { name:str metadata:bytes }*
//       assignment:bytes }* }*
//   pmap = topics:int32 { topic_id:uuid partitions:int32 { int32 }* }*
//
// Only Stable classic groups are written (a rebalance in progress is redone
// by the members, which rejoin). Deadlines are not stored: after a restart
// every member gets a full session timeout.
//
// A file that fails the length or CRC check is corruption (it was renamed
// into place only after an fsync): open() fails rather than guess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace millrace::kafka::group_state_format {

constexpr size_t k_header_size = 10;
constexpr int16_t k_version = 1;
constexpr std::string_view k_file_name = "groups.state";

}  // namespace millrace::kafka::group_state_format
