#include "describe.h"

#include <fmt/format.h>

namespace millrace::cql {

std::string quote_identifier(std::string_view name) {
    bool plain = !name.empty() && name[0] >= 'a' && name[0] <= 'z';
    for (char c : name) plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (plain) return std::string(name);
    std::string out = "\"";
    for (char c : name) {
        out.push_back(c);
        if (c == '"') out.push_back('"');
    }
    return out + "\"";
}

std::string quote_string(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        out.push_back(c);
        if (c == '\'') out.push_back('\'');
    }
    return out + "'";
}

std::string create_keyspace_statement(const keyspace_def& k) {
    std::string replication;
    for (const auto& [key, value] : k.replication) {
        std::string v = value;
        if (key == "class" && v.find('.') == std::string::npos) v = "org.apache.cassandra.locator." + v;
        replication += fmt::format("{}{}: {}", replication.empty() ? "" : ", ", quote_string(key), quote_string(v));
    }
    return fmt::format("CREATE KEYSPACE {} WITH replication = {{{}}}  AND durable_writes = {};", quote_identifier(k.name),
                       replication, k.durable_writes ? "true" : "false");
}

std::string create_index_statement(const table_def& t, const index_def& i) {
    std::string target = i.target.empty() ? quote_identifier(i.column) : i.target + "(" + quote_identifier(i.column) + ")";
    return fmt::format("CREATE INDEX {} ON {}.{} ({});", quote_identifier(i.name), quote_identifier(t.keyspace), quote_identifier(t.name),
                       target);
}

std::string create_table_statement(const table_def& t) {
    std::string out = fmt::format("CREATE TABLE {}.{} (\n", quote_identifier(t.keyspace), quote_identifier(t.name));
    bool simple_key = t.partition_key.size() == 1 && t.clustering.empty();
    for (const auto* c : t.select_order()) {
        out += fmt::format("    {} {}{},\n", quote_identifier(c->name), c->type.name(),
                           simple_key && c->kind == column_kind::partition_key ? " PRIMARY KEY"
                           : c->kind == column_kind::static_                   ? " static"
                                                                               : "");
    }
    if (simple_key) {
        out.resize(out.size() - 2);
        out += "\n";
    } else {
        std::string pk;
        for (auto idx : t.partition_key) pk += (pk.empty() ? "" : ", ") + quote_identifier(t.columns[idx].name);
        if (t.partition_key.size() > 1) pk = "(" + pk + ")";
        for (auto idx : t.clustering) pk += ", " + quote_identifier(t.columns[idx].name);
        out += fmt::format("    PRIMARY KEY ({})\n", pk);
    }
    out += ") WITH ";
    if (!t.clustering.empty()) {
        std::string order;
        for (auto idx : t.clustering) {
            order += fmt::format("{}{} {}", order.empty() ? "" : ", ", quote_identifier(t.columns[idx].name),
                                 t.columns[idx].descending ? "DESC" : "ASC");
        }
        out += fmt::format("CLUSTERING ORDER BY ({})\n    AND ", order);
    }
    out += "additional_write_policy = '99p'\n"
           "    AND bloom_filter_fp_chance = 0.01\n"
           "    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}\n"
           "    AND cdc = false\n";
    out += fmt::format("    AND comment = {}\n", quote_string(t.comment));
    out += "    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', "
           "'max_threshold': '32', 'min_threshold': '4'}\n"
           "    AND compression = {'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}\n"
           "    AND crc_check_chance = 1.0\n";
    out += fmt::format("    AND default_time_to_live = {}\n", t.default_time_to_live);
    out += "    AND extensions = {}\n";
    out += fmt::format("    AND gc_grace_seconds = {}\n", t.gc_grace_seconds);
    out += "    AND max_index_interval = 2048\n"
           "    AND memtable_flush_period_in_ms = 0\n"
           "    AND min_index_interval = 128\n"
           "    AND read_repair = 'BLOCKING'\n"
           "    AND speculative_retry = '99p';";
    return out;
}

std::string create_type_statement(const udt_def& u) {
    std::string out = fmt::format("CREATE TYPE {}.{} (\n", quote_identifier(u.keyspace), quote_identifier(u.name));
    for (size_t idx = 0; idx < u.field_names.size(); ++idx) {
        out += fmt::format("    {} {}{}\n", quote_identifier(u.field_names[idx]), u.field_types[idx], idx + 1 < u.field_names.size() ? "," : "");
    }
    return out + ");";
}

}  // namespace millrace::cql
