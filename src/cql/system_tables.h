// The read-only system tables drivers query when they connect: system.local,
// system.peers(_v2) and system_schema.*, generated from the live catalog.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth.h"
#include "schema.h"
#include "types.h"

namespace millrace::cql {

struct virtual_table {
    std::vector<std::pair<std::string, cql_type>> columns;
    std::vector<std::vector<std::optional<std::string>>> rows;
};

// True for keyspaces whose tables are generated (and cannot be written).
bool is_system_keyspace(const std::string& keyspace);
// Every system table as (keyspace, table), for DESCRIBE TABLES.
std::vector<std::pair<std::string, std::string>> system_table_names();
// The live-row counter of a table, by table id (store::live_rows).
using live_rows_fn = std::function<int64_t(uint64_t table_id)>;
// The rows of a system table, or nullopt when there is no such table.
// system.size_estimates has one row per table, the whole token ring, whose
// partitions_count is `live_rows` (rows, for tables without clustering).
// system_auth.* (roles, role_members, role_permissions, ...) exist when `auth`
// is given (authentication on), generated from it.
// `native_port` is system.local's rpc_port (the port drivers connect to).
std::optional<virtual_table> system_table(const catalog& c, const std::string& keyspace, const std::string& table,
                                          const live_rows_fn& live_rows = {}, const auth_model* auth = nullptr,
                                          uint16_t native_port = 9042);

}  // namespace millrace::cql
