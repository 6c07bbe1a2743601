// RESULT bodies built by the statements: Void, Rows (metadata, paging state,
// rows of [bytes]) and Schema_change.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "executor.h"

namespace millrace::cql {

std::string void_result();
// `target` KEYSPACE or TABLE; the table name is written for TABLE only.
std::string schema_change_result(const char* change, const char* target, const std::string& keyspace, const std::string& table);
// Rows metadata: flags (has_more_pages with `paging`, no_metadata, global_tables_spec when every
// column is of one table), column count, paging state, then the column specs.
void write_metadata(std::string& out, const std::vector<column_spec>& specs, int32_t flags, const std::optional<std::string>& paging,
                    bool no_metadata);
std::string rows_result(const std::vector<column_spec>& specs, const std::vector<std::vector<std::optional<std::string>>>& rows,
                        const std::optional<std::string>& paging, bool no_metadata);

}  // namespace millrace::cql
