// The RocksDB key and value layout of the CQL store. Reader and writer share
// these helpers; nothing else knows the bytes.
//
// Keys (big-endian, memcmp order is the order rows are read in):
//   schema:  0x01 'k' keyspace                          → keyspace record
//            0x01 't' keyspace 0x00 table                → table record
//            0x01 'n'                                    → next table id (8 bytes)
//            0x01 'r' table id (8)                       → live rows (8 bytes, store.h live_rows)
//            0x01 'R'                                    → present once the 'r' counters are kept
//            0x01 'V'                                    → data format version (4 bytes; absent: 1)
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
// Packed rows (format version 2): an INSERT writes its row as one entry, the
// row marker's key, with flags 0x02 and the marker's header followed by the
// row's regular columns (non-frozen collections and UDTs excepted: their + and -
// and field updates merge into their own cells):
//   count (2) | per column, in column id order: column id (2) | flags (1:
//   0x01 tombstone, 0x04 same timestamp, expiry and ttl as the marker) |
//   [timestamp (8) | expiry (4) | ttl (4), unless 0x04] | length (4) | bytes
// Each packed column is a cell as above; readers merge it last-write-wins with
// the column's own cell (UPDATE and DELETE of a column write those) whatever
// order they read them in. The marker's timestamp is the newest of its packed
// columns' (merges keep it so), so a row tombstone that supersedes the marker
// supersedes the whole entry. One memtable entry per inserted row instead of
// one per cell: the writer's CPU per row was mostly skip-list inserts.
// Dead cells (tombstones, expired) are skipped by reads and dropped by
// compaction once gc_grace_seconds have passed (store.h, purge_policy); a
// packed row only when its marker and every packed column are.
// A cell replaces another only with a greater write timestamp (ties: the
// tombstone wins, then the greater value), so writes are last-write-wins per
// cell whatever order they arrive in.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace millrace::cql::key_format {

constexpr char k_schema_space = 0x01;
constexpr char k_data_space = 0x02;
constexpr size_t k_cell_header = 17;
constexpr uint8_t k_tombstone = 0x01;
constexpr uint8_t k_packed_row = 0x02;   // a row marker carrying its row's columns
constexpr uint8_t k_same_as_marker = 0x04;  // a packed column with the marker's timestamp, expiry and ttl
// 1: one entry per cell; 2: packed rows. A store written by a newer format is
// refused when opened (store.cc).
constexpr uint32_t k_format_version = 2;
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
inline std::string format_version_key() { return std::string{k_schema_space, 'V'}; }

inline void append_token(std::string& out, int64_t token) { put_be(out, static_cast<uint64_t>(token) ^ (uint64_t(1) << 63), 8); }
inline int64_t read_token(std::string_view key) { return static_cast<int64_t>(get_be(key.substr(9), 8) ^ (uint64_t(1) << 63)); }

struct cell {
    bool tombstone = false;
    bool packed = false;  // a packed row's marker: `value` holds the packed columns
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
    c.packed = (uint8_t(bytes[0]) & k_packed_row) != 0;
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

// ---- packed rows

struct packed_column {
    uint16_t id = 0;
    cell c;
};

// Appends one column to a packed row's columns (`out` starts with the count
// slot written by encode_packed_row; columns in ascending id order).
inline void append_packed_column(std::string& out, const cell& marker, uint16_t id, const cell& c) {
    bool same = c.timestamp == marker.timestamp && c.expiry == marker.expiry && c.ttl == marker.ttl;
    put_be(out, id, 2);
    out.push_back(static_cast<char>((c.tombstone ? k_tombstone : 0) | (same ? k_same_as_marker : 0)));
    if (!same) {
        put_be(out, static_cast<uint64_t>(c.timestamp), 8);
        put_be(out, c.expiry, 4);
        put_be(out, c.ttl, 4);
    }
    put_be(out, c.value.size(), 4);
    out.append(c.value);
}

// A packed row: the marker (live, its value empty) and `columns` sorted by id.
inline std::string encode_packed_row(const cell& marker, const std::vector<packed_column>& columns) {
    std::string out(1, static_cast<char>(k_packed_row));
    put_be(out, static_cast<uint64_t>(marker.timestamp), 8);
    put_be(out, marker.expiry, 4);
    put_be(out, marker.ttl, 4);
    put_be(out, columns.size(), 2);
    for (const auto& p : columns) append_packed_column(out, marker, p.id, p.c);
    return out;
}

// Calls fn(id, cell) for each packed column of `marker` (decoded from a packed
// row; the cells' values view `marker.value`). False when the bytes are
// malformed (the columns before the damage were visited).
template <typename Fn>
bool for_each_packed_column(const cell& marker, Fn&& fn) {
    std::string_view in = marker.value;
    if (in.size() < 2) return false;
    size_t count = get_be(in, 2);
    in.remove_prefix(2);
    for (size_t idx = 0; idx < count; ++idx) {
        if (in.size() < 3) return false;
        cell c;
        auto id = static_cast<uint16_t>(get_be(in, 2));
        auto flags = uint8_t(in[2]);
        in.remove_prefix(3);
        c.tombstone = (flags & k_tombstone) != 0;
        if (flags & k_same_as_marker) {
            c.timestamp = marker.timestamp;
            c.expiry = marker.expiry;
            c.ttl = marker.ttl;
        } else {
            if (in.size() < 16) return false;
            c.timestamp = static_cast<int64_t>(get_be(in, 8));
            c.expiry = static_cast<uint32_t>(get_be(in.substr(8), 4));
            c.ttl = static_cast<uint32_t>(get_be(in.substr(12), 4));
            in.remove_prefix(16);
        }
        if (in.size() < 4) return false;
        size_t n = get_be(in, 4);
        if (in.size() < 4 + n) return false;
        c.value = in.substr(4, n);
        in.remove_prefix(4 + n);
        fn(id, c);
    }
    return in.empty();
}

// The cells of one row, merged last-write-wins whatever order they are added
// in (a packed row's columns and the columns' own cells). Values are views:
// the caller keeps the bytes alive while the merge is used.
struct row_merge {
    std::vector<packed_column> cells;  // by id, unsorted (rows have few columns)
    void add(uint16_t id, const cell& c) {
        for (auto& e : cells) {
            if (e.id != id) continue;
            if (supersedes(c, e.c)) e.c = c;
            return;
        }
        cells.push_back({id, c});
    }
    // Adds a stored cell of column `id`: a packed marker adds itself (as a
    // plain marker) and its columns. False when a packed row is malformed.
    bool add_stored(uint16_t id, const cell& c) {
        if (!c.packed) {
            add(id, c);
            return true;
        }
        cell marker = c;
        marker.packed = false;
        marker.value = {};
        add(id, marker);
        return for_each_packed_column(c, [&](uint16_t column, const cell& p) { add(column, p); });
    }
};

// The stored value of a row marker after `incoming` (an INSERT's packed row or
// plain marker, or a DELETE's marker tombstone) meets `existing` (nullopt: the
// existing value stays). Both are row-marker cells, packed or not.
inline std::optional<std::string> merge_row_marker(const cell& incoming, std::string_view incoming_bytes, const cell& existing) {
    if (!incoming.packed && !existing.packed) {
        if (!supersedes(incoming, existing)) return std::nullopt;
        return std::string(incoming_bytes);
    }
    // A row tombstone that wins removes everything the other side carried (its
    // columns are never newer than its marker), and one that loses shadows them.
    if (existing.tombstone) {
        if (!supersedes(incoming, existing)) return std::nullopt;
        return std::string(incoming_bytes);
    }
    if (incoming.tombstone || !incoming.packed) {
        // A plain marker (an INSERT of the key alone) only refreshes the marker.
        if (!supersedes(incoming, existing)) return std::nullopt;
        if (incoming.tombstone) return std::string(incoming_bytes);
    }
    cell marker = supersedes(incoming, existing) ? incoming : existing;
    marker.packed = false;
    marker.value = {};
    row_merge columns;
    auto add_columns = [&](const cell& c) {
        if (c.packed) for_each_packed_column(c, [&](uint16_t id, const cell& p) { columns.add(id, p); });
    };
    add_columns(existing);
    add_columns(incoming);
    std::sort(columns.cells.begin(), columns.cells.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return encode_packed_row(marker, columns.cells);
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
