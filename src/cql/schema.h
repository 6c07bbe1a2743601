// Keyspaces and tables: the in-memory catalog and its records in the store
// (key_format.h). Owned by the io thread; changed only after the store has
// made the change durable.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/result.h"
#include "types.h"

namespace millrace::cql {

// static_: one value per partition (`v int static`), its cells keyed by the partition (key_format.h).
enum class column_kind { partition_key, clustering, regular, static_ };

struct column_def_full {
    std::string name;
    cql_type type;
    std::string type_text;
    column_kind kind = column_kind::regular;
    int position = -1;       // index within the partition key or clustering, else -1
    bool descending = false; // clustering order
    uint16_t id = 0;         // cell column id; never reused within a table (0 is the row marker)
};

// A secondary index (CREATE INDEX): queries restricting its column by = (CONTAINS / CONTAINS KEY for
// values() / keys() of a collection) need no ALLOW FILTERING. It keeps no entries of its own: such a query
// reads the partitions it names, or the table, and filters (statements/select_statement.cc), so the
// index is consistent with every write, delete and expiry by construction, and built when created.
struct index_def {
    std::string name;
    std::string column;
    std::string target;  // "" (the value), "keys", "values", "entries" or "full"
    // The target as system_schema.indexes and DESCRIBE spell it: `v`, `values(l)`.
    std::string target_text() const { return target.empty() ? column : target + "(" + column + ")"; }
};

struct table_def {
    std::string keyspace, name;
    uint64_t id = 0;
    std::string uuid;  // 16 bytes, the table id drivers see
    std::vector<column_def_full> columns;  // declaration order
    std::vector<size_t> partition_key;     // indexes into columns
    std::vector<size_t> clustering;
    uint16_t next_column_id = 1;
    std::string comment;
    int32_t default_time_to_live = 0;  // seconds; writes without USING TTL get it
    int32_t gc_grace_seconds = 864000;  // how long tombstones are kept before the purge drops them
    std::vector<index_def> indexes;

    const column_def_full* find(const std::string& column) const;
    bool has_static() const;
    // Columns in the order `SELECT *` returns them: partition key, clustering, then static and then regular by name.
    std::vector<const column_def_full*> select_order() const;
};

// A user-defined type (CREATE TYPE): its fields in order, their types as written (resolved when used, so
// ALTER TYPE reaches every column of the type).
struct udt_def {
    std::string keyspace, name;
    std::vector<std::string> field_names;
    std::vector<std::string> field_types;  // CQL spelling, as system_schema.types shows them
};

struct keyspace_def {
    std::string name;
    std::map<std::string, std::string> replication;
    bool durable_writes = true;
};

std::string encode_keyspace(const keyspace_def& k);
result<keyspace_def> decode_keyspace(std::string_view bytes);
std::string encode_table(const table_def& t);
struct catalog;
// `types` resolves the user-defined types of the table's columns (none: built-in types only).
result<table_def> decode_table(std::string_view bytes, const catalog* types = nullptr);
std::string encode_udt(const udt_def& u);
result<udt_def> decode_udt(std::string_view bytes);
std::string udt_key(const std::string& keyspace, const std::string& name);
std::string keyspace_key(const std::string& name);
std::string table_key(const std::string& keyspace, const std::string& table);
std::string next_table_id_key();

struct catalog {
    std::map<std::string, keyspace_def> keyspaces;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<table_def>> tables;
    uint64_t next_table_id = 1;
    // Changes whenever the schema does; system.local.schema_version.
    std::string schema_version;

    std::map<std::pair<std::string, std::string>, udt_def> types;  // keyspace, type name

    std::shared_ptr<table_def> find_table(const std::string& keyspace, const std::string& table) const;
    const udt_def* find_type(const std::string& keyspace, const std::string& name) const;
    // Parses a type as written in keyspace `ks` (a bare udt name is one of ks's; `other.name` another's).
    result<cql_type> resolve_type(const std::string& ks, std::string_view text) const;
    // The type of udt `name` of `ks` with its fields resolved; nullopt when there is none.
    std::optional<cql_type> udt_type(const std::string& ks, const std::string& name) const;
};

}  // namespace millrace::cql
