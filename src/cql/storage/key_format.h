// The RocksDB key and value layout of the CQL store. Reader and writer share
// these helpers; nothing else knows the bytes.
//
// Keys (big-endian, memcmp order is the order rows are read in):
//   schema:  0x01 'k' keyspace                          → keyspace record
//            0x01 't' keyspace 0x00 table                → table record
//            0x01 'n'                                    → next table id (8 bytes)
//            0x01 'r' table id (8)                       → live rows (8 bytes, store.h live_rows)
//            0x01 'R'                                    → present once the 'r' counters are kept
//            0x01 'u' role                               → role record (auth.h)
//            0x01 'p' role 0x00 resource                 → permission set (auth.h)
//            0x01 'y' keyspace 0x00 type                 → user-defined type record (schema.h udt_def)
//     (each schema record's second byte is its kind: one letter per kind, never shared)
//   cells:   0x02 | table id (8) | token (8, sign bit flipped) | partition key
//            | clustering | column id (2)
//     partition key: per component, length (2) + bytes (prefix-free, fixed count)
//     clustering:    per component, the order-preserving encoding of types.h
//                    (bytes inverted for DESC columns)
//     column id 0 is the row marker written by INSERT (a row exists while any
//     of its cells is live).
//   statics: 0x02 | table id (8) | token (8) | partition key | column id (2)
//     a static column's cells have no clustering (tables with statics always
//     have clustering columns, whose encodings are never empty), so they sort
//     somewhere among the partition's rows; readers look them up by key.
// Cell values:
//   flags (1: 0x01 tombstone) | write timestamp µs (8) | expiry, seconds since
//   epoch (4, 0 = never; for a tombstone: its local deletion time, 0 in
//   records older than that) | ttl seconds (4) | value bytes
// Dead cells (tombstones, expired) are skipped by reads and dropped by
// compaction once gc_grace_seconds have passed (store.h, purge_policy).
// A cell replaces another only with a greater write timestamp (ties: the
// tombstone wins, then the greater value), so writes are last-write-wins per
// cell whatever order they arrive in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace millrace::cql::key_format {

constexpr char k_schema_space = 0x01;
constexpr char k_data_space = 0x02;
constexpr size_t k_cell_header = 17;
constexpr uint8_t k_tombstone = 0x01;
constexpr uint16_t k_row_marker = 0;
// The second byte of role and permission records (schema space).
constexpr char k_role_kind = 'u';
constexpr char k_permission_kind = 'p';
constexpr char k_udt_kind = 'y';  // user-defined types (schema.h)

inline void put_be(std::string& out, uint64_t v, int width) {
    for (int shift = 8 * (width - 1); shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}
inline uint64_t get_be(std::string_view in, int width) {
    uint64_t v = 0;
    for (int idx = 0; idx < width; ++idx) v = (v << 8) | uint8_t(in[idx]);
    return v;
}

inline std::string table_prefix(uint64_t table_id) {
    std::string out(1, k_data_space);
    put_be(out, table_id, 8);
    return out;
}

inline std::string row_count_key(uint64_t table_id) {
    std::string out{k_schema_space, 'r'};
    put_be(out, table_id, 8);
    return out;
}
inline std::string row_counts_kept_key() { return std::string{k_schema_space, 'R'}; }

inline void append_token(std::string& out, int64_t token) { put_be(out, static_cast<uint64_t>(token) ^ (uint64_t(1) << 63), 8); }
inline int64_t read_token(std::string_view key) { return static_cast<int64_t>(get_be(key.substr(9), 8) ^ (uint64_t(1) << 63)); }

struct cell {
    bool tombstone = false;
    int64_t timestamp = 0;
    uint32_t expiry = 0;
    uint32_t ttl = 0;
    std::string_view value;
    bool live(uint32_t now_seconds) const { return !tombstone && (expiry == 0 || expiry > now_seconds); }
};

inline std::string encode_cell(bool tombstone, int64_t timestamp, uint32_t expiry, uint32_t ttl, std::string_view value) {
    std::string out(1, static_cast<char>(tombstone ? k_tombstone : 0));
    put_be(out, static_cast<uint64_t>(timestamp), 8);
    put_be(out, expiry, 4);
    put_be(out, ttl, 4);
    out.append(value);
    return out;
}

inline std::optional<cell> decode_cell(std::string_view bytes) {
    if (bytes.size() < k_cell_header) return std::nullopt;
    cell c;
    c.tombstone = (uint8_t(bytes[0]) & k_tombstone) != 0;
    c.timestamp = static_cast<int64_t>(get_be(bytes.substr(1), 8));
    c.expiry = static_cast<uint32_t>(get_be(bytes.substr(9), 4));
    c.ttl = static_cast<uint32_t>(get_be(bytes.substr(13), 4));
    c.value = bytes.substr(k_cell_header);
    return c;
}

// True when `incoming` must replace `existing` under last-write-wins.
inline bool supersedes(const cell& incoming, const cell& existing) {
    if (incoming.timestamp != existing.timestamp) return incoming.timestamp > existing.timestamp;
    if (incoming.tombstone != existing.tombstone) return incoming.tombstone;
    return incoming.value > existing.value;
}

// The smallest key greater than every key that starts with `prefix`
// (empty when there is none: all bytes 0xFF).
inline std::string prefix_end(std::string prefix) {
    while (!prefix.empty()) {
        auto last = static_cast<uint8_t>(prefix.back());
        if (last != 0xFF) {
            prefix.back() = static_cast<char>(last + 1);
            return prefix;
        }
        prefix.pop_back();
    }
    return prefix;
}

}  // namespace millrace::cql::key_format
