#include "options.h"

#include "millrace/cdc/cdc.h"

#include <cctype>

namespace millrace::cdc {

using config::key_spec;
using config::value_kind;

result<table_ref> parse_table(const std::string& text) {
    auto dot = text.find('.');
    table_ref t;
    if (dot == std::string::npos) {
        t.schema = "public";
        t.name = text;
    } else {
        t.schema = text.substr(0, dot);
        t.name = text.substr(dot + 1);
    }
    if (t.schema.empty() || t.name.empty() || t.name.find('.') != std::string::npos) {
        return make_error(errc::invalid_argument, "cdc.tables: '{}' is not a table name (schema.table)", text);
    }
    return t;
}

result<cdc_options> options_from(const config::config& cfg) {
    cdc_options o;
    o.slot = cfg.get_string("cdc.slot");
    o.publication = cfg.get_string("cdc.publication");
    for (char c : o.slot) {
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
            return make_error(errc::invalid_argument,
                              "cdc.slot: '{}' is not a replication slot name (lower-case letters, digits, _)", o.slot);
        }
    }
    if (o.slot.empty() || o.slot.size() > 63) {
        return make_error(errc::invalid_argument, "cdc.slot: '{}' must have 1..63 characters", o.slot);
    }
    if (o.publication.empty()) return make_error(errc::invalid_argument, "cdc.publication: must not be empty");
    o.state_schema = cfg.get_string("cdc.state_schema");
    if (o.state_schema.empty()) return make_error(errc::invalid_argument, "cdc.state_schema: must not be empty");
    for (const auto& text : cfg.get_list("cdc.tables")) {
        auto t = parse_table(text);
        if (!t) return t.err();
        o.tables.push_back(*t);
    }
    if (o.tables.empty()) return make_error(errc::invalid_argument, "cdc.tables: name at least one table");
    for (const auto& entry : cfg.get_list("cdc.topics")) {
        auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) {
            return make_error(errc::invalid_argument, "cdc.topics: '{}' is not schema.table=topic", entry);
        }
        auto t = parse_table(entry.substr(0, eq));
        if (!t) return t.err().with_context("cdc.topics");
        o.topics[t->qualified()] = entry.substr(eq + 1);
    }
    o.snapshot = cfg.get_string("cdc.snapshot") == "initial";
    std::string format = cfg.get_string("cdc.format");
    o.format = format == "envelope" ? message_format::envelope
               : format == "avro"   ? message_format::avro
                                    : message_format::json;
    o.registry_url = cfg.get_string("cdc.registry_url");
    o.json_keys = cfg.get_string("cdc.key_format") == "json";
    o.create_publication = cfg.get_bool("cdc.create_publication");
    o.status_interval_ms = cfg.get_int("cdc.status_interval");
    o.max_buffered_bytes = cfg.get_int("cdc.max_buffered_bytes");
    o.backoff_ms = cfg.get_int("cdc.backoff");
    o.backoff_max_ms = cfg.get_int("cdc.backoff_max");
    o.flush_timeout_ms = cfg.get_int("cdc.flush_timeout");
    o.snapshot_fetch = cfg.get_int("cdc.snapshot_fetch");
    o.linger_ms = cfg.get_int("cdc.linger");
    o.compression = cfg.get_string("cdc.compression");
    return o;
}

void add_options(config::schema& s) {
    s.add({"cdc.slot", value_kind::string, "millrace_cdc",
           "Logical replication slot the capture reads (created on first start); one cdc process owns it at a time."});
    s.add({"cdc.publication", value_kind::string, "millrace_cdc",
           "Publication naming the captured tables; created, or extended with missing tables, when allowed."});
    s.add({"cdc.state_schema", value_kind::string, "millrace_cdc",
           "PostgreSQL schema of the table snapshots, which records the slots whose initial snapshot is in Kafka "
           "(created when missing), so that any instance taking a slot over resumes it without snapshotting again."});
    s.add({"cdc.create_publication", value_kind::boolean, "true",
           "Create the publication, or add missing tables to it; false requires it to publish cdc.tables already."});
    s.add({"cdc.tables", value_kind::string_list, "public.users", "Tables to capture, as schema.table."});
    s.add({"cdc.topics", value_kind::string_list, "public.users=users_created",
           "Topic of each table as schema.table=topic; a table without an entry goes to topic schema.table."});
    s.add({"cdc.snapshot", value_kind::choice, "initial",
           "initial: on first start (new slot) emit the rows already in the tables, consistent with the stream that "
           "follows; never: stream changes only.",
           {"initial", "never"}});
    s.add({"cdc.format", value_kind::choice, "json",
           "Message value: json (the row as flat JSON, deletes as tombstones), envelope (Debezium-style before, "
           "after, source, op, ts_ms) or avro (key and row in Confluent's wire format, schemas derived from the "
           "table and registered in the schema registry as <topic>-key and <topic>-value).",
           {"json", "envelope", "avro"}});
    s.add({"cdc.registry_url", value_kind::string, "",
           "Schema registry for cdc.format avro (http://host:port); empty: the registry started in this process, "
           "else 127.0.0.1:8081."});
    s.add({"cdc.key_format", value_kind::choice, "text",
           "Message key: text (a one-column primary key as its text, composite keys as JSON) or json (always a JSON "
           "object of the key columns).",
           {"text", "json"}});
    s.add({"cdc.status_interval", value_kind::duration_ms, "1s",
           "Interval of standby status updates, which also move the slot's confirmed position.", {}, 10, 600'000});
    s.add({"cdc.max_buffered_bytes", value_kind::size, "64MiB",
           "Most bytes of messages waiting for the broker; when full, the replication stream pauses.", {}, 1024,
           int64_t{2} << 30});
    s.add({"cdc.linger", value_kind::duration_ms, "5ms", "How long the producer waits to fill a batch.", {}, 0, 10'000});
    s.add({"cdc.compression", value_kind::choice, "lz4", "Compression of produced batches.",
           {"none", "gzip", "snappy", "lz4", "zstd"}});
    s.add({"cdc.snapshot_fetch", value_kind::integer, "5000", "Rows per fetch while reading the initial snapshot.", {},
           1, 1'000'000});
    s.add({"cdc.backoff", value_kind::duration_ms, "500ms",
           "First delay before reconnecting after PostgreSQL or Kafka failed; it doubles per failure.", {}, 1, 600'000});
    s.add({"cdc.backoff_max", value_kind::duration_ms, "10s", "Largest reconnect delay.", {}, 1, 3'600'000});
    s.add({"cdc.flush_timeout", value_kind::duration_ms, "10s",
           "How long a stop waits for the broker to acknowledge what was produced.", {}, 0, 3'600'000});
}

}  // namespace millrace::cdc
