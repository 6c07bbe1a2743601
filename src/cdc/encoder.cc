#include "millrace/cdc/encoder.h"

#include <fmt/format.h>

#include "millrace/avro/wire.h"
#include "millrace/cdc/json_mapping.h"

namespace millrace::cdc {
namespace {

// The Confluent-framed key (the key columns as a record; none without a
// key) and value (the row; none for a delete: a tombstone).
status encode_avro(const relation& rel, const tuple_data* key_source, const tuple_data* after, message& out) {
    auto field = [](const tuple_value& v) -> std::optional<std::string_view> {
        if (v.k == tuple_value::kind::text) return std::string_view(v.text);
        return std::nullopt;  // NULL, or an unchanged TOASTed value PostgreSQL did not send
    };
    if (key_source && !rel.key_schema.empty()) {
        MILLRACE_ASSERT(rel.key_schema_id != 0, "key schema of {}.{} not registered before encoding", rel.schema, rel.name);
        std::string key;
        avro::wire::append_header(key, rel.key_schema_id);
        size_t k = 0;
        for (size_t col = 0; col < rel.columns.size() && col < key_source->size(); ++col) {
            if (!rel.columns[col].key) continue;
            if (auto st = append_avro_value(key, rel.avro_key[k++], field((*key_source)[col])); !st) return st;
        }
        out.key = std::move(key);
    }
    if (after) {
        MILLRACE_ASSERT(rel.value_schema_id != 0, "value schema of {}.{} not registered before encoding", rel.schema, rel.name);
        std::string value;
        avro::wire::append_header(value, rel.value_schema_id);
        for (size_t col = 0; col < rel.columns.size(); ++col) {
            std::optional<std::string_view> text = col < after->size() ? field((*after)[col]) : std::nullopt;
            if (auto st = append_avro_value(value, rel.avro_value[col], text); !st) return st;
        }
        out.value = std::move(value);
    }
    return {};
}

std::string envelope(const encoder_options& options, const change& ch, int64_t now_us) {
    const relation& rel = *ch.rel;
    std::string v = "{\"before\":";
    if (ch.before) {
        append_row(v, rel, *ch.before);
    } else {
        v += "null";
    }
    v += ",\"after\":";
    if (ch.after) {
        append_row(v, rel, *ch.after);
    } else {
        v += "null";
    }
    v += ",\"source\":{\"connector\":\"millrace\",\"version\":";
    append_json_string(v, options.version);
    v += ",\"name\":";
    append_json_string(v, options.slot);
    v += ",\"db\":";
    append_json_string(v, options.database);
    v += ",\"schema\":";
    append_json_string(v, rel.schema);
    v += ",\"table\":";
    append_json_string(v, rel.name);
    v += fmt::format(",\"lsn\":{},\"txId\":{},\"ts_ms\":{},\"snapshot\":{}}}", ch.position.value, ch.xid,
                     ch.commit_us / 1000, ch.snapshot ? "true" : "false");
    v += fmt::format(",\"op\":\"{}\",\"ts_ms\":{}}}", ch.op, now_us / 1000);
    return v;
}

}  // namespace

const char* format_name(message_format format) {
    switch (format) {
        case message_format::json: return "json";
        case message_format::envelope: return "envelope";
        case message_format::avro: return "avro";
    }
    return "json";
}

void derive_avro(relation& rel) {
    rel.avro_value.clear();
    rel.avro_key.clear();
    for (const auto& c : rel.columns) {
        avro_column a{c.name, c.type_oid, c.type_modifier, !c.key};
        rel.avro_value.push_back(a);
        if (c.key) rel.avro_key.push_back(a);
    }
    std::string ns = "millrace.cdc." + avro_name(rel.schema);
    rel.value_schema = avro_record_schema(rel.name, ns, rel.avro_value);
    rel.key_schema = rel.avro_key.empty() ? "" : avro_record_schema(rel.name + "_key", ns, rel.avro_key);
}

void append_row(std::string& out, const relation& rel, const tuple_data& tuple) {
    out.push_back('{');
    bool first = true;
    for (size_t col = 0; col < rel.columns.size() && col < tuple.size(); ++col) {
        const auto& v = tuple[col];
        if (v.k == tuple_value::kind::unchanged) continue;  // unchanged TOAST value: not sent by PostgreSQL
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, rel.columns[col].name);
        out.push_back(':');
        if (v.k == tuple_value::kind::null) {
            out += "null";
        } else {
            append_json_value(out, rel.columns[col].type_oid, v.text);
        }
    }
    out.push_back('}');
}

std::optional<std::string> encode_key(const relation& rel, const tuple_data& tuple, bool json_keys) {
    std::vector<size_t> keys;
    for (size_t col = 0; col < rel.columns.size() && col < tuple.size(); ++col) {
        if (rel.columns[col].key) keys.push_back(col);
    }
    if (keys.empty()) return std::nullopt;
    if (keys.size() == 1 && !json_keys) {
        const auto& v = tuple[keys[0]];
        if (v.k != tuple_value::kind::text) return std::nullopt;
        return v.text;
    }
    std::string out = "{";
    for (size_t idx = 0; idx < keys.size(); ++idx) {
        if (idx) out.push_back(',');
        append_json_string(out, rel.columns[keys[idx]].name);
        out.push_back(':');
        const auto& v = tuple[keys[idx]];
        if (v.k == tuple_value::kind::text) {
            append_json_value(out, rel.columns[keys[idx]].type_oid, v.text);
        } else {
            out += "null";
        }
    }
    out.push_back('}');
    return out;
}

result<std::optional<message>> encode(const encoder_options& options, const change& ch, int64_t now_us) {
    const relation& rel = *ch.rel;
    const tuple_data* key_source = ch.after ? ch.after : ch.before;
    message out;
    if (options.format == message_format::avro) {
        if (ch.op == 't') return std::optional<message>();  // no row: nothing to say
        if (auto st = encode_avro(rel, key_source, ch.after, out); !st) {
            return st.err().with_context(fmt::format("{}.{} at {}", rel.schema, rel.name, ch.position.to_string()));
        }
    } else if (options.format == message_format::json) {
        if (ch.op == 't') return std::optional<message>();  // a truncate has no row: nothing to say in the flat format
        out.key = key_source ? encode_key(rel, *key_source, options.json_keys) : std::nullopt;
        if (ch.after) {
            out.value.emplace();
            append_row(*out.value, rel, *ch.after);
        }
        // A delete is a tombstone: the key and no value.
    } else {
        out.key = key_source ? encode_key(rel, *key_source, options.json_keys) : std::nullopt;
        out.value = envelope(options, ch, now_us);
    }
    out.headers.reserve(6);
    out.headers.emplace_back("lsn", ch.position.to_string());
    out.headers.emplace_back("commit_lsn", ch.commit_at.to_string());
    out.headers.emplace_back("op", std::string(1, ch.op));
    out.headers.emplace_back("table", rel.schema + "." + rel.name);
    out.headers.emplace_back("txid", std::to_string(ch.xid));
    // The transaction's commit time from the WAL, in µs: what freshness is measured from.
    if (ch.commit_us > 0) out.headers.emplace_back("commit_us", std::to_string(ch.commit_us));
    return std::optional<message>(std::move(out));
}

}  // namespace millrace::cdc
