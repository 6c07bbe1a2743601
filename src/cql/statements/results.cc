#include "statements/results.h"

#include "protocol/wire.h"

namespace millrace::cql {

std::string void_result() {
    std::string out;
    writer(out).int32(static_cast<int32_t>(result_kind::void_));
    return out;
}

std::string schema_change_result(const char* change, const char* target, const std::string& keyspace, const std::string& table) {
    std::string out;
    writer w(out);
    w.int32(static_cast<int32_t>(result_kind::schema_change));
    w.string(change);
    w.string(target);
    w.string(keyspace);
    if (std::string_view(target) == "TABLE" || std::string_view(target) == "TYPE") w.string(table);  // [string keyspace][string name]
    return out;
}

void write_metadata(std::string& out, const std::vector<column_spec>& specs, int32_t flags, const std::optional<std::string>& paging,
                    bool no_metadata) {
    writer w(out);
    bool global = !specs.empty();
    for (const auto& s : specs) global = global && s.keyspace == specs[0].keyspace && s.table == specs[0].table;
    if (paging) flags |= rows_flag::has_more_pages;
    if (no_metadata) flags |= rows_flag::no_metadata;
    else if (global) flags |= rows_flag::global_tables_spec;
    w.int32(flags);
    w.int32(static_cast<int32_t>(specs.size()));
    if (paging) w.bytes(*paging);
    if (no_metadata) return;
    if (global) {
        w.string(specs[0].keyspace);
        w.string(specs[0].table);
    }
    for (const auto& s : specs) {
        if (!global) {
            w.string(s.keyspace);
            w.string(s.table);
        }
        w.string(s.name);
        write_type_option(out, s.type);
    }
}

std::string rows_result(const std::vector<column_spec>& specs, const std::vector<std::vector<std::optional<std::string>>>& rows,
                        const std::optional<std::string>& paging, bool no_metadata) {
    std::string out;
    writer w(out);
    w.int32(static_cast<int32_t>(result_kind::rows));
    write_metadata(out, specs, 0, paging, no_metadata);
    w.int32(static_cast<int32_t>(rows.size()));
    for (const auto& r : rows) {
        for (const auto& v : r) w.bytes(v);
    }
    return out;
}

}  // namespace millrace::cql
