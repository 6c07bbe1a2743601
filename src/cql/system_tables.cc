#include "system_tables.h"

#include <algorithm>

#include "tracing.h"

namespace millrace::cql {
namespace {

cql_type t(const char* name) { return parse_type(name).value(); }

// Cassandra 4.0: drivers pick their 4.0 schema parsers and cqlsh 6 sends
// DESCRIBE to the server, which answers it.
constexpr const char* k_release_version = "4.0.11";

using row = std::vector<std::optional<std::string>>;

std::string text_map(const std::map<std::string, std::string>& m) {
    std::vector<std::pair<std::string, std::string>> entries(m.begin(), m.end());
    return map_value(entries);
}

// system_auth's tables in system_schema (Cassandra 4.0's layout), so drivers'
// metadata and cqlsh know them: (table, id, columns as name, type, kind, position).
struct auth_column {
    const char* name;
    const char* type;
    const char* kind;
    int position;
};
struct auth_table_schema {
    const char* name;
    const char* id;
    std::vector<auth_column> columns;
};

const std::vector<auth_table_schema>& auth_schema() {
    static const std::vector<auth_table_schema> tables = {
        {"network_permissions", "d46780c2-2d0e-3a57-91e1-8bba84fca2e7",
         {{"role", "text", "partition_key", 0}, {"dcs", "frozen<set<text>>", "regular", -1}}},
        {"resource_role_permissons_index", "5f2fbdad-91f1-3946-bd25-d5da3a5c35ec",
         {{"resource", "text", "partition_key", 0}, {"role", "text", "clustering", 0}}},
        {"role_members", "0ecdaa87-f8fb-3e60-88d1-74fb36fe5c0d",
         {{"role", "text", "partition_key", 0}, {"member", "text", "clustering", 0}}},
        {"role_permissions", "3afbe79f-2194-31a7-add7-f5ab90d8ec9c",
         {{"role", "text", "partition_key", 0}, {"resource", "text", "clustering", 0}, {"permissions", "set<text>", "regular", -1}}},
        {"roles", "5bc52802-de25-35ed-aeab-188eecebb090",
         {{"role", "text", "partition_key", 0}, {"can_login", "boolean", "regular", -1}, {"is_superuser", "boolean", "regular", -1},
          {"member_of", "set<text>", "regular", -1}, {"salted_hash", "text", "regular", -1}}},
    };
    return tables;
}

// Cassandra 4.0/5.0's columns. rpc_port is the native transport port (drivers read it as the broadcast RPC
// port); broadcast_port and listen_port are the storage port Cassandra would gossip on (7000).
virtual_table local(const catalog& c, uint16_t native_port) {
    virtual_table v;
    v.columns = {{"key", t("text")}, {"bootstrapped", t("text")}, {"broadcast_address", t("inet")},
                 {"broadcast_port", t("int")}, {"cluster_name", t("text")}, {"cql_version", t("text")},
                 {"data_center", t("text")}, {"gossip_generation", t("int")}, {"host_id", t("uuid")},
                 {"listen_address", t("inet")}, {"listen_port", t("int")}, {"native_protocol_version", t("text")},
                 {"partitioner", t("text")}, {"rack", t("text")}, {"release_version", t("text")},
                 {"rpc_address", t("inet")}, {"rpc_port", t("int")}, {"schema_version", t("uuid")},
                 {"tokens", t("set<text>")}, {"truncated_at", t("map<uuid, blob>")}};
    v.rows.push_back(row{text_value("local"), text_value("COMPLETED"), inet_value("127.0.0.1"), int_value(7000),
                         text_value("millrace"), text_value("3.4.5"), text_value("datacenter1"), int_value(1),
                         uuid_value_from_string("6d696c6c-7261-4365-8000-000000000001"), inet_value("127.0.0.1"),
                         int_value(7000), text_value("4"), text_value("org.apache.cassandra.dht.Murmur3Partitioner"),
                         text_value("rack1"), text_value(k_release_version), inet_value("127.0.0.1"), int_value(native_port),
                         c.schema_version, list_value({text_value("0")}), std::nullopt});
    return v;
}

// Cassandra's estimate table (refreshed there every few minutes); here the
// store's live-row counters, current with every write.
virtual_table size_estimates(const catalog& c, const live_rows_fn& live_rows) {
    virtual_table v;
    v.columns = {{"keyspace_name", t("text")}, {"table_name", t("text")}, {"range_start", t("text")},
                 {"range_end", t("text")}, {"mean_partition_size", t("bigint")}, {"partitions_count", t("bigint")}};
    for (const auto& [name, table] : c.tables) {
        int64_t rows = live_rows ? live_rows(table->id) : 0;
        v.rows.push_back(row{text_value(name.first), text_value(name.second), text_value("-9223372036854775808"),
                             text_value("9223372036854775807"), bigint_value(0), bigint_value(rows)});
    }
    return v;
}

virtual_table keyspaces(const catalog& c, const auth_model* auth) {
    virtual_table v;
    v.columns = {{"keyspace_name", t("text")}, {"durable_writes", t("boolean")}, {"replication", t("map<text, text>")}};
    auto add = [&](const std::string& name, const std::map<std::string, std::string>& replication, bool durable) {
        v.rows.push_back(row{text_value(name), bool_value(durable), text_map(replication)});
    };
    add("system", {{"class", "org.apache.cassandra.locator.LocalStrategy"}}, true);
    add("system_schema", {{"class", "org.apache.cassandra.locator.LocalStrategy"}}, true);
    if (auth != nullptr) {
        add("system_auth", {{"class", "org.apache.cassandra.locator.SimpleStrategy"}, {"replication_factor", "1"}}, true);
    }
    for (const auto& [name, k] : c.keyspaces) {
        auto replication = k.replication;
        if (auto it = replication.find("class"); it != replication.end() && it->second.find('.') == std::string::npos) {
            it->second = "org.apache.cassandra.locator." + it->second;
        }
        add(name, replication, k.durable_writes);
    }
    return v;
}

virtual_table tables(const catalog& c, const auth_model* auth) {
    virtual_table v;
    v.columns = {{"keyspace_name", t("text")}, {"table_name", t("text")}, {"bloom_filter_fp_chance", t("double")},
                 {"caching", t("map<text, text>")}, {"cdc", t("boolean")}, {"comment", t("text")},
                 {"compaction", t("map<text, text>")}, {"compression", t("map<text, text>")},
                 {"crc_check_chance", t("double")}, {"dclocal_read_repair_chance", t("double")},
                 {"default_time_to_live", t("int")}, {"extensions", t("map<text, blob>")}, {"flags", t("set<text>")},
                 {"gc_grace_seconds", t("int")}, {"id", t("uuid")}, {"max_index_interval", t("int")},
                 {"memtable_flush_period_in_ms", t("int")}, {"min_index_interval", t("int")},
                 {"read_repair_chance", t("double")}, {"speculative_retry", t("text")},
                 {"additional_write_policy", t("text")}, {"read_repair", t("text")},
                 {"allow_auto_snapshot", t("boolean")}, {"incremental_backups", t("boolean")}, {"memtable", t("text")}};
    struct listed {
        std::string keyspace, name, comment, uuid;
        int32_t ttl, gc_grace;
    };
    std::vector<listed> all;
    if (auth != nullptr) {
        for (const auto& t : auth_schema()) all.push_back({"system_auth", t.name, "", uuid_value_from_string(t.id), 0, 7776000});
    }
    for (const auto& [key, table] : c.tables) {
        all.push_back({table->keyspace, table->name, table->comment, table->uuid, table->default_time_to_live, table->gc_grace_seconds});
    }
    for (const auto& table_entry : all) {
        const auto* table = &table_entry;
        v.rows.push_back(row{text_value(table->keyspace), text_value(table->name), double_value(0.01),
                             text_map({{"keys", "ALL"}, {"rows_per_partition", "NONE"}}), bool_value(false), text_value(table->comment),
                             text_map({{"class", "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy"},
                                       {"max_threshold", "32"}, {"min_threshold", "4"}}),
                             text_map({{"chunk_length_in_kb", "16"}, {"class", "org.apache.cassandra.io.compress.LZ4Compressor"}}),
                             double_value(1.0), double_value(0.0), int_value(table->ttl), map_value({}),
                             list_value({text_value("compound")}), int_value(table->gc_grace), table->uuid, int_value(2048),
                             int_value(0), int_value(128), double_value(0.0), text_value("99p"), text_value("99p"),
                             text_value("BLOCKING"), bool_value(true), bool_value(true), text_value("default")});
    }
    return v;
}

virtual_table columns(const catalog& c, const auth_model* auth) {
    virtual_table v;
    v.columns = {{"keyspace_name", t("text")}, {"table_name", t("text")}, {"column_name", t("text")},
                 {"clustering_order", t("text")}, {"column_name_bytes", t("blob")}, {"kind", t("text")},
                 {"position", t("int")}, {"type", t("text")}};
    if (auth != nullptr) {
        for (const auto& table : auth_schema()) {
            for (const auto& col : table.columns) {
                v.rows.push_back(row{text_value("system_auth"), text_value(table.name), text_value(col.name),
                                     text_value(std::string_view(col.kind) == "clustering" ? "asc" : "none"), text_value(col.name),
                                     text_value(col.kind), int_value(col.position), text_value(col.type)});
            }
        }
    }
    for (const auto& [key, table] : c.tables) {
        for (const auto& col : table->columns) {
            const char* kind = col.kind == column_kind::partition_key ? "partition_key"
                               : col.kind == column_kind::clustering  ? "clustering"
                               : col.kind == column_kind::static_     ? "static"
                                                                      : "regular";
            const char* order = col.kind != column_kind::clustering ? "none" : (col.descending ? "desc" : "asc");
            v.rows.push_back(row{text_value(table->keyspace), text_value(table->name), text_value(col.name), text_value(order),
                                 col.name, text_value(kind), int_value(col.position), text_value(col.type.name())});
        }
    }
    return v;
}

virtual_table empty(std::vector<std::pair<std::string, const char*>> cols) {
    virtual_table v;
    for (auto& [name, type] : cols) v.columns.emplace_back(name, t(type));
    return v;
}

virtual_table peers() {
    return empty({{"peer", "inet"}, {"data_center", "text"}, {"host_id", "uuid"}, {"preferred_ip", "inet"}, {"rack", "text"},
                  {"release_version", "text"}, {"rpc_address", "inet"}, {"schema_version", "uuid"}, {"tokens", "set<text>"}});
}

virtual_table peers_v2() {
    return empty({{"peer", "inet"}, {"peer_port", "int"}, {"data_center", "text"}, {"host_id", "uuid"},
                  {"native_address", "inet"}, {"native_port", "int"}, {"preferred_ip", "inet"}, {"preferred_port", "int"},
                  {"rack", "text"}, {"release_version", "text"}, {"schema_version", "uuid"}, {"tokens", "set<text>"}});
}

// system_auth as Cassandra 4.0 lays it out (salted_hash is bcrypt, as there).
std::optional<virtual_table> auth_table(const auth_model& a, const std::string& table) {
    if (table == "roles") {
        virtual_table v;
        v.columns = {{"role", t("text")}, {"can_login", t("boolean")}, {"is_superuser", t("boolean")},
                     {"member_of", t("set<text>")}, {"salted_hash", t("text")}};
        for (const auto& [name, r] : a.roles()) {
            std::vector<std::string> members;
            for (const auto& m : r.member_of) members.push_back(text_value(m));
            v.rows.push_back(row{text_value(name), bool_value(r.can_login), bool_value(r.is_superuser),
                                 members.empty() ? std::optional<std::string>() : list_value(members),
                                 r.salted_hash.empty() ? std::optional<std::string>() : text_value(r.salted_hash)});
        }
        return v;
    }
    if (table == "role_members") {
        virtual_table v;
        v.columns = {{"role", t("text")}, {"member", t("text")}};
        for (const auto& [role, member] : a.memberships()) v.rows.push_back(row{text_value(role), text_value(member)});
        return v;
    }
    if (table == "role_permissions") {
        virtual_table v;
        v.columns = {{"role", t("text")}, {"resource", t("text")}, {"permissions", t("set<text>")}};
        for (const auto& [role, grants] : a.permissions()) {
            for (const auto& [res, set] : grants) {
                std::vector<std::string> names;
                for (const auto& n : permission_names(set)) names.push_back(text_value(n));
                v.rows.push_back(row{text_value(role), text_value(res), list_value(names)});
            }
        }
        return v;
    }
    if (table == "resource_role_permissons_index") {
        virtual_table v;
        v.columns = {{"resource", t("text")}, {"role", t("text")}};
        std::vector<std::pair<std::string, std::string>> pairs;
        for (const auto& [role, grants] : a.permissions()) {
            for (const auto& [res, set] : grants) pairs.emplace_back(res, role);
        }
        std::sort(pairs.begin(), pairs.end());
        for (const auto& [res, role] : pairs) v.rows.push_back(row{text_value(res), text_value(role)});
        return v;
    }
    if (table == "network_permissions") return empty({{"role", "text"}, {"dcs", "frozen<set<text>>"}});
    return std::nullopt;
}

}  // namespace

bool is_system_keyspace(const std::string& keyspace) {
    return keyspace == "system" || keyspace == "system_schema" || keyspace == "system_virtual_schema" || keyspace == "system_auth" ||
           keyspace == "system_traces";
}

std::vector<std::pair<std::string, std::string>> system_table_names() {
    std::vector<std::pair<std::string, std::string>> out = {{"system", "local"}, {"system", "peers"}, {"system", "peers_v2"},
                                                            {"system", "size_estimates"}};
    for (const char* t : {"aggregates", "columns", "functions", "indexes", "keyspaces", "tables", "triggers", "types", "views"}) {
        out.emplace_back("system_schema", t);
    }
    return out;
}

std::optional<virtual_table> system_table(const catalog& c, const std::string& keyspace, const std::string& table,
                                          const live_rows_fn& live_rows, const auth_model* auth, uint16_t native_port) {
    if (keyspace == "system_auth") return auth ? auth_table(*auth, table) : std::nullopt;
    if (keyspace == "system_traces") return traces().table(table);  // tracing.h
    if (keyspace == "system") {
        if (table == "local") return local(c, native_port);
        if (table == "size_estimates") return size_estimates(c, live_rows);
        if (table == "peers") return peers();
        if (table == "peers_v2") return peers_v2();
        return std::nullopt;
    }
    if (keyspace == "system_virtual_schema") {
        // No virtual tables; drivers of Cassandra 4.0 read these three.
        if (table == "keyspaces") return empty({{"keyspace_name", "text"}});
        if (table == "tables") return empty({{"keyspace_name", "text"}, {"table_name", "text"}, {"comment", "text"}});
        if (table == "columns") {
            return empty({{"keyspace_name", "text"}, {"table_name", "text"}, {"column_name", "text"}, {"clustering_order", "text"},
                          {"column_name_bytes", "blob"}, {"kind", "text"}, {"position", "int"}, {"type", "text"}});
        }
        return std::nullopt;
    }
    if (keyspace != "system_schema") return std::nullopt;
    if (table == "keyspaces") return keyspaces(c, auth);
    if (table == "tables") return tables(c, auth);
    if (table == "columns") return columns(c, auth);
    if (table == "types") {
        auto v = empty({{"keyspace_name", "text"}, {"type_name", "text"}, {"field_names", "list<text>"}, {"field_types", "list<text>"}});
        for (const auto& [key, u] : c.types) {
            std::vector<std::string> names, types;
            for (const auto& f : u.field_names) names.push_back(text_value(f));
            for (const auto& f : u.field_types) types.push_back(text_value(f));
            v.rows.push_back(row{text_value(u.keyspace), text_value(u.name), list_value(names), list_value(types)});
        }
        return v;
    }
    if (table == "functions") {
        return empty({{"keyspace_name", "text"}, {"function_name", "text"}, {"argument_types", "list<text>"}, {"argument_names", "list<text>"},
                      {"body", "text"}, {"called_on_null_input", "boolean"}, {"language", "text"}, {"return_type", "text"}});
    }
    if (table == "aggregates") {
        return empty({{"keyspace_name", "text"}, {"aggregate_name", "text"}, {"argument_types", "list<text>"}, {"final_func", "text"},
                      {"initcond", "text"}, {"return_type", "text"}, {"state_func", "text"}, {"state_type", "text"}});
    }
    if (table == "views") {
        return empty({{"keyspace_name", "text"}, {"view_name", "text"}, {"base_table_id", "uuid"}, {"base_table_name", "text"},
                      {"include_all_columns", "boolean"}, {"where_clause", "text"}, {"id", "uuid"},
                      // the table options views share with system_schema.tables
                      {"additional_write_policy", "text"}, {"allow_auto_snapshot", "boolean"}, {"bloom_filter_fp_chance", "double"},
                      {"caching", "map<text, text>"}, {"cdc", "boolean"}, {"comment", "text"}, {"compaction", "map<text, text>"},
                      {"compression", "map<text, text>"}, {"crc_check_chance", "double"}, {"dclocal_read_repair_chance", "double"},
                      {"default_time_to_live", "int"}, {"extensions", "map<text, blob>"}, {"gc_grace_seconds", "int"},
                      {"incremental_backups", "boolean"}, {"max_index_interval", "int"}, {"memtable", "text"},
                      {"memtable_flush_period_in_ms", "int"}, {"min_index_interval", "int"}, {"read_repair", "text"},
                      {"read_repair_chance", "double"}, {"speculative_retry", "text"}});
    }
    if (table == "indexes") {
        auto v = empty({{"keyspace_name", "text"}, {"table_name", "text"}, {"index_name", "text"}, {"kind", "text"}, {"options", "map<text, text>"}});
        for (const auto& [key, t] : c.tables) {
            auto indexes = t->indexes;
            std::sort(indexes.begin(), indexes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
            for (const auto& i : indexes) {
                v.rows.push_back(row{text_value(t->keyspace), text_value(t->name), text_value(i.name), text_value("COMPOSITES"),
                                     map_value({{text_value("target"), text_value(i.target_text())}})});
            }
        }
        return v;
    }
    if (table == "triggers") return empty({{"keyspace_name", "text"}, {"table_name", "text"}, {"trigger_name", "text"}, {"options", "map<text, text>"}});
    return std::nullopt;
}

}  // namespace millrace::cql
