// Decoder of PostgreSQL's streaming-replication CopyData payloads and of the
// `pgoutput` logical-replication messages (protocol version 1) they carry.
//
// Byte layouts (all integers big-endian), from PostgreSQL's "Streaming
// Replication Protocol" and "Logical Replication Message Formats":
//   XLogData          'w' i64 wal_start, i64 wal_end, i64 send_time, bytes message
//   Primary keepalive 'k' i64 wal_end, i64 send_time, i8 reply_requested
//   Begin    'B' i64 final_lsn, i64 commit_time, i32 xid
//   Commit   'C' i8 flags, i64 commit_lsn, i64 end_lsn, i64 commit_time
//   Origin   'O' i64 lsn, string name
//   Relation 'R' i32 oid, string namespace, string name, i8 replica_identity,
//                i16 ncols, ncols * (i8 flags (1 = key), string name, i32 type oid, i32 typmod)
//   Type     'Y' i32 oid, string namespace, string name
//   Insert   'I' i32 oid, 'N' tuple
//   Update   'U' i32 oid, ['K' | 'O' tuple], 'N' tuple
//   Delete   'D' i32 oid, 'K' | 'O' tuple
//   Truncate 'T' i32 nrels, i8 options, nrels * i32 oid
//   Message  'M' i8 flags, i64 lsn, string prefix, i32 len, bytes
//   tuple    i16 ncols, ncols * ('n' null | 'u' unchanged toast | 't' i32 len, bytes text)
// Strings are NUL-terminated. Times are microseconds since 2000-01-01 UTC.
//
// The decoder is pure (no I/O); every malformed input is an `invalid_argument`
// error naming the message kind, the offset and the byte counts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::cdc {

// A position in PostgreSQL's write-ahead log. Distinct type so it cannot be
// swapped with a transaction id or a time.
struct lsn {
    uint64_t value = 0;
    auto operator<=>(const lsn&) const = default;
    // "16/B374D848", PostgreSQL's text form.
    std::string to_string() const;
    static result<lsn> parse(std::string_view text);
};

// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
constexpr int64_t k_pg_epoch_offset_us = 946'684'800'000'000LL;

struct xlog_data {
    lsn wal_start;
    lsn wal_end;
    int64_t send_time_us = 0;  // PostgreSQL epoch
    std::string_view payload;  // points into the decoded buffer
};

struct keepalive {
    lsn wal_end;
    int64_t send_time_us = 0;
    bool reply_requested = false;
};

// One CopyData payload of a START_REPLICATION stream.
using stream_message = std::variant<xlog_data, keepalive>;
result<stream_message> decode_stream_message(std::string_view bytes);

// The Standby Status Update ('r') a client sends: written, flushed and applied
// positions and the client's clock (microseconds since 2000-01-01).
std::string encode_status_update(lsn written, lsn flushed, lsn applied, int64_t now_pg_us, bool reply_requested);

struct column_info {
    bool key = false;  // part of the replica identity
    std::string name;
    uint32_t type_oid = 0;
    int32_t type_modifier = -1;
};

struct begin_message {
    lsn final_lsn;
    int64_t commit_time_us = 0;  // PostgreSQL epoch
    uint32_t xid = 0;
};
struct commit_message {
    lsn commit_lsn;
    lsn end_lsn;
    int64_t commit_time_us = 0;
};
struct origin_message {
    lsn origin_lsn;
    std::string name;
};
struct relation_message {
    uint32_t oid = 0;
    std::string schema;
    std::string name;
    char replica_identity = 'd';  // d default, n nothing, f full, i index
    std::vector<column_info> columns;
};
struct type_message {
    uint32_t oid = 0;
    std::string schema;
    std::string name;
};

struct tuple_value {
    enum class kind : char { null = 'n', unchanged = 'u', text = 't' };
    kind k = kind::null;
    std::string text;
};
using tuple_data = std::vector<tuple_value>;

struct insert_message {
    uint32_t relation = 0;
    tuple_data new_tuple;
};
struct update_message {
    uint32_t relation = 0;
    char old_kind = 0;  // 0: no old tuple, 'K': key columns only, 'O': whole old row
    tuple_data old_tuple;
    tuple_data new_tuple;
};
struct delete_message {
    uint32_t relation = 0;
    char old_kind = 'K';
    tuple_data old_tuple;
};
struct truncate_message {
    uint8_t options = 0;  // 1 CASCADE, 2 RESTART IDENTITY
    std::vector<uint32_t> relations;
};
// A logical decoding message ('M') or anything else we pass over.
struct ignored_message {
    char tag = 0;
};

using pgoutput_message = std::variant<begin_message, commit_message, origin_message, relation_message, type_message,
                                      insert_message, update_message, delete_message, truncate_message, ignored_message>;

// Decodes one pgoutput message (the payload of an XLogData).
result<pgoutput_message> decode_pgoutput(std::string_view bytes);

}  // namespace millrace::cdc
