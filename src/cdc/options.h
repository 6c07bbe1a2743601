// cdc.* options: the schema (add_options, in cdc.h) and their parsed form.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "millrace/cdc/encoder.h"
#include "millrace/common/config.h"

namespace millrace::cdc {

struct table_ref {
    std::string schema;
    std::string name;
    std::string qualified() const { return schema + "." + name; }
};

struct cdc_options {
    std::string slot;
    std::string publication;
    std::string state_schema;  // holds <state_schema>.snapshots: which slots finished their snapshot
    std::vector<table_ref> tables;
    std::map<std::string, std::string> topics;  // schema.table → topic
    bool snapshot = true;
    message_format format = message_format::json;
    bool json_keys = false;
    bool create_publication = true;
    int64_t status_interval_ms = 1000;
    int64_t max_buffered_bytes = 64 << 20;
    int64_t backoff_ms = 500;
    int64_t backoff_max_ms = 30'000;
    int64_t flush_timeout_ms = 10'000;
    int64_t snapshot_fetch = 5000;
    int64_t linger_ms = 5;
    std::string compression = "lz4";
    std::string registry_url;  // "" = the registry of this process, else 127.0.0.1:8081

    // The topic of a table: its cdc.topics entry, else "schema.table".
    std::string topic_for(const std::string& schema, const std::string& table) const {
        auto it = topics.find(schema + "." + table);
        return it == topics.end() ? schema + "." + table : it->second;
    }
};

// "schema.table" or "table" (schema public).
result<table_ref> parse_table(const std::string& text);
result<cdc_options> options_from(const config::config& cfg);

}  // namespace millrace::cdc
