// job_program::make_decoder / make_encoder: the per-table record decoder
// (value, key, metadata, computed columns) and Kafka sink encoders; the
// Flink -> CQL mapping for cassandra sinks.
#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "formats.h"
#include "millrace/avro/schema.h"
#include "millrace/avro/wire.h"
#include "millrace/sql/encoder.h"
#include "plan.h"
#include "program_state.h"

namespace millrace::sql {

result<std::string> encode_avro_row(const avro::schema& schema, const row& r, const std::vector<field_target>& fields);

namespace {

std::unique_ptr<part_reader> reader_for(const std::string& format, std::vector<field_target> targets, const table_def& t, const std::string& prefix) {
    if (format == "json") return make_json_reader(std::move(targets), json_options_of(t, prefix));
    if (format == "avro-confluent") return make_avro_reader(std::move(targets));
    if (format == "raw" && targets.size() == 1) return make_raw_reader(targets[0]);
    return nullptr;
}

class decoder_impl final : public source_decoder {
public:
    decoder_impl(std::shared_ptr<const job_program::state> st, size_t table) : st_(std::move(st)), t_(st_->tables[table]), plan_(*st_->table_plans[table]) {}

    status init() {
        std::vector<field_target> value_fields, key_fields;
        bool except_key = t_.option("value.fields-include", "ALL") == "EXCEPT_KEY";
        for (size_t idx = 0; idx < t_.columns.size(); ++idx) {
            const column_def& c = t_.columns[idx];
            if (c.kind != column_kind::physical) continue;
            if (c.from_key) key_fields.push_back({c.name, c.type, idx});
            if (!c.from_key || !except_key) value_fields.push_back({c.name, c.type, idx});
        }
        if (!value_fields.empty() || t_.format != "raw") {
            value_ = reader_for(t_.format, value_fields, t_, t_.options.count("value.format") ? "value." : "");
            if (!value_) return make_error(errc::invalid_argument, "table {}: format '{}' cannot read these columns{}", t_.name, t_.format, t_.format == "raw" ? " (raw needs exactly one physical column)" : "");
        }
        if (!key_fields.empty()) {
            key_ = reader_for(t_.key_format, key_fields, t_, "key.");
            if (!key_) return make_error(errc::invalid_argument, "table {}: key.format '{}' cannot read the key fields", t_.name, t_.key_format);
        }
        for (size_t idx = 0; idx < t_.columns.size(); ++idx) {
            if (plan_.computed[idx]) computed_.push_back(idx);
        }
        return {};
    }

    decode_status decode(std::optional<std::string_view> val, std::optional<std::string_view> key, const record_metadata& meta, row& out,
                         record_error& error) override {
        // Reset to NULL keeping each value's buffers: strings are assigned in place.
        out.resize(t_.columns.size());
        for (auto& v : out) {
            v.kind = value_kind::null;
            v.b = false;
            v.i = 0;
            v.d = 0;
            v.s.clear();
            v.items.clear();
        }
        if (value_) {
            if (!val || val->empty()) {
                error = {error_code::empty_value, "", "the record has no value (a tombstone or empty)"};
                return decode_status::rejected;
            }
            auto s = value_->read(*val, out, error);
            if (s != decode_status::ok) return s;
        }
        // Key fields come from the key when the record has one (over the value's, with 'ALL').
        if (key_ && key && !key->empty()) {
            auto s = key_->read(*key, out, error);
            if (s != decode_status::ok) {
                if (!error.message.empty()) error.message = "key: " + error.message;
                return s;
            }
        }
        for (size_t idx = 0; idx < t_.columns.size(); ++idx) {
            const column_def& c = t_.columns[idx];
            if (c.kind == column_kind::physical && !c.type.nullable && out[idx].is_null()) {
                error = {error_code::missing_field, c.name, fmt::format("field {} is missing or null (the column is NOT NULL)", c.name)};
                return decode_status::rejected;
            }
        }
        for (size_t idx = 0; idx < t_.columns.size(); ++idx) {
            const column_def& c = t_.columns[idx];
            if (c.kind != column_kind::metadata) continue;
            const std::string& k = c.metadata_key;
            if (k == "timestamp") out[idx] = value::from_int(meta.timestamp_ms);
            else if (k == "partition") out[idx] = value::from_int(meta.partition);
            else if (k == "offset") out[idx] = value::from_int(meta.offset);
            else if (k == "topic") out[idx] = value::from_string(std::string(meta.topic));
            else if (k == "timestamp-type") out[idx] = value::from_string(meta.timestamp_type == 1 ? "LogAppendTime" : meta.timestamp_type == 0 ? "CreateTime" : "NoTimestampType");
            else if (k == "headers") {
                value m = value::from_list({});
                if (meta.headers) {
                    for (const auto& h : *meta.headers) {
                        m.items.push_back(value::from_string(h.key));
                        m.items.push_back(h.value ? value::from_string(*h.value) : value::null());
                    }
                }
                out[idx] = std::move(m);
            }
        }
        for (size_t idx : computed_) {
            try {
                out[idx] = plan_.computed[idx]->eval(out, ctx_);
            } catch (const eval_failure& f) {
                error = {error_code::eval_error, t_.columns[idx].name, fmt::format("computed column {}: {}", t_.columns[idx].name, f.message)};
                return decode_status::rejected;
            }
        }
        return decode_status::ok;
    }

    int32_t schema_id() const override { return value_ ? value_->schema_id() : -1; }
    status add_writer_schema(int32_t id, std::string_view text) override {
        if (!value_) return make_error(errc::unsupported, "table {} has no value format", t_.name);
        return value_->add_writer_schema(id, text);
    }
    std::optional<size_t> rowtime_index() const override { return plan_.rowtime; }
    void set_clock(clock_fn now_ms) override { ctx_.clock = std::move(now_ms); }

private:
    std::shared_ptr<const job_program::state> st_;
    const table_def& t_;
    const table_plan& plan_;
    std::unique_ptr<part_reader> value_, key_;
    std::vector<size_t> computed_;
    eval_ctx ctx_;
};

class encoder_impl final : public row_encoder {
public:
    encoder_impl(const table_def& t) : t_(t) {}

    status init(int32_t schema_id, std::string_view schema_text) {
        // Rows are laid out as persisted_columns(); physical ones are written.
        auto cols = t_.persisted_columns();
        bool except_key = t_.option("value.fields-include", "ALL") == "EXCEPT_KEY";
        for (size_t idx = 0; idx < cols.size(); ++idx) {
            const column_def* c = t_.find_column(cols[idx].name);
            if (c->kind != column_kind::physical) continue;
            bool is_key = std::find(t_.key_fields.begin(), t_.key_fields.end(), c->name) != t_.key_fields.end();
            if (is_key) key_fields_.push_back({c->name, c->type, idx});
            if (!is_key || !except_key) value_fields_.push_back({c->name, c->type, idx});
        }
        json_ = json_options_of(t_, t_.options.count("value.format") ? "value." : "");
        key_json_ = json_options_of(t_, "key.");
        if (t_.format == "avro-confluent") {
            if (schema_id < 0) return make_error(errc::invalid_argument, "table {}: avro-confluent needs the registered schema id and text", t_.name);
            auto parsed = avro::schema::parse(schema_text);
            if (!parsed) return parsed.err().with_context(fmt::format("table {}: schema {}", t_.name, schema_id));
            schema_ = *parsed;
            schema_id_ = schema_id;
        } else if (t_.format == "raw") {
            if (value_fields_.size() != 1) return make_error(errc::invalid_argument, "table {}: format 'raw' needs exactly one physical column", t_.name);
        } else if (t_.format != "json") {
            return make_error(errc::invalid_argument, "table {}: format '{}' cannot be written", t_.name, t_.format);
        }
        return {};
    }

    status encode_value(const row& r, std::string& out) override {
        out.clear();
        if (auto s = check_not_null(r, value_fields_); !s) return s;
        if (t_.format == "json") {
            write_json(out, r, value_fields_, json_);
            return {};
        }
        if (t_.format == "raw") {
            const value& v = r[value_fields_[0].index];
            out = v.is_null() ? "" : v.kind == value_kind::text ? v.s : format_value(v, value_fields_[0].type);
            return {};
        }
        auto bytes = encode_avro_row(schema_, r, value_fields_);
        if (!bytes) return bytes.err().with_context(fmt::format("table {}", t_.name));
        avro::wire::append_header(out, schema_id_);
        out += *bytes;
        return {};
    }

    result<std::optional<std::string>> encode_key(const row& r) override {
        if (key_fields_.empty()) return std::optional<std::string>();
        if (auto s = check_not_null(r, key_fields_); !s) return s.err();
        std::string out;
        if (t_.key_format == "raw") {
            const value& v = r[key_fields_[0].index];
            out = v.is_null() ? "" : v.kind == value_kind::text ? v.s : format_value(v, key_fields_[0].type);
        } else {
            write_json(out, r, key_fields_, key_json_);
        }
        return std::optional<std::string>(std::move(out));
    }

private:
    status check_not_null(const row& r, const std::vector<field_target>& fields) {
        for (const auto& f : fields) {
            if (!f.type.nullable && r[f.index].is_null()) return make_error(errc::invalid_argument, "column {} is NOT NULL but the row has NULL", f.name);
        }
        return {};
    }
    const table_def& t_;
    std::vector<field_target> value_fields_, key_fields_;
    json_options json_, key_json_;
    avro::schema schema_;
    int32_t schema_id_ = -1;
};

}  // namespace

result<std::unique_ptr<source_decoder>> job_program::make_decoder(size_t table) const {
    if (table >= state_->tables.size()) return make_error(errc::invalid_argument, "no table {}", table);
    if (state_->tables[table].connector != "kafka") return make_error(errc::invalid_argument, "table {} is not a kafka table", state_->tables[table].name);
    auto d = std::make_unique<decoder_impl>(state_, table);
    if (auto s = d->init(); !s) return s.err();
    return std::unique_ptr<source_decoder>(std::move(d));
}

result<std::unique_ptr<row_encoder>> job_program::make_encoder(size_t table, int32_t avro_schema_id, std::string_view avro_schema_text) const {
    if (table >= state_->tables.size()) return make_error(errc::invalid_argument, "no table {}", table);
    if (state_->tables[table].connector != "kafka") return make_error(errc::invalid_argument, "table {} is not a kafka table", state_->tables[table].name);
    auto e = std::make_unique<encoder_impl>(state_->tables[table]);
    if (auto s = e->init(avro_schema_id, avro_schema_text); !s) return s.err();
    return std::unique_ptr<row_encoder>(std::move(e));
}

result<std::string> cql_type_for(const sql_type& t) {
    switch (t.id) {
        case type_id::boolean: return std::string("boolean");
        case type_id::tinyint: return std::string("tinyint");
        case type_id::smallint: return std::string("smallint");
        case type_id::int_: return std::string("int");
        case type_id::bigint: return std::string("bigint");
        case type_id::float_: return std::string("float");
        case type_id::double_: return std::string("double");
        case type_id::decimal: return std::string("decimal");
        case type_id::char_: case type_id::varchar: return std::string("text");
        case type_id::binary: case type_id::varbinary: return std::string("blob");
        case type_id::date: return std::string("date");
        case type_id::time: return std::string("time");
        case type_id::timestamp: case type_id::timestamp_ltz: return std::string("timestamp");
        case type_id::array: {
            auto e = cql_type_for(t.children[0]);
            if (!e) return e;
            return fmt::format("list<{}>", *e);
        }
        case type_id::map: {
            auto k = cql_type_for(t.children[0]);
            if (!k) return k;
            auto v = cql_type_for(t.children[1]);
            if (!v) return v;
            return fmt::format("map<{}, {}>", *k, *v);
        }
        case type_id::row: return std::string("text");
        default: return make_error(errc::invalid_argument, "type {} has no CQL type", t.to_string());
    }
}

std::string cql_identifier(std::string_view name) {
    static const std::set<std::string_view> reserved = {
        "add", "allow", "alter", "and", "apply", "asc", "authorize", "batch", "begin", "by", "columnfamily", "create",
        "delete", "desc", "describe", "drop", "entries", "execute", "from", "full", "grant", "if", "in", "index",
        "infinity", "insert", "into", "is", "keyspace", "limit", "materialized", "mbean", "mbeans", "modify", "nan",
        "norecursive", "not", "null", "of", "on", "or", "order", "primary", "rename", "replace", "revoke", "schema",
        "select", "set", "table", "to", "token", "truncate", "unlogged", "unset", "update", "use", "using", "view",
        "where", "with"};
    bool plain = !name.empty() && name[0] >= 'a' && name[0] <= 'z';
    for (char c : name) plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (plain && !reserved.count(name)) return std::string(name);
    std::string out = "\"";
    for (char c : name) {
        out += c;
        if (c == '"') out += '"';
    }
    return out + "\"";
}

namespace {
std::string cql_name(const std::string& name) { return cql_identifier(name); }

// type := native | (list|set|frozen) '<' type '>' | map '<' type ',' type '>'
//       | tuple '<' type (',' type)* '>' | vector '<' type ',' digits '>'
struct cql_type_parser {
    std::string_view s;
    size_t pos = 0;
    void skip() {
        while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
    }
    std::string word() {
        skip();
        std::string w;
        while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_')) {
            w += static_cast<char>(std::tolower(static_cast<unsigned char>(s[pos++])));
        }
        return w;
    }
    bool eat(char c) {
        skip();
        if (pos < s.size() && s[pos] == c) {
            ++pos;
            return true;
        }
        return false;
    }
    bool type(int depth = 0) {
        static const std::set<std::string> natives = {
            "ascii", "bigint", "blob", "boolean", "counter", "date", "decimal", "double", "duration", "float", "inet", "int",
            "smallint", "text", "time", "timestamp", "timeuuid", "tinyint", "uuid", "varchar", "varint"};
        if (depth > 16) return false;
        std::string w = word();
        if (natives.count(w)) return true;
        if (w == "list" || w == "set" || w == "frozen") return eat('<') && type(depth + 1) && eat('>');
        if (w == "map") return eat('<') && type(depth + 1) && eat(',') && type(depth + 1) && eat('>');
        if (w == "tuple") {
            if (!eat('<') || !type(depth + 1)) return false;
            while (eat(',')) {
                if (!type(depth + 1)) return false;
            }
            return eat('>');
        }
        if (w == "vector") {
            if (!eat('<') || !type(depth + 1) || !eat(',')) return false;
            std::string n = word();
            if (n.empty() || !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
            return eat('>');
        }
        return false;
    }
};
}  // namespace

bool valid_cql_type(std::string_view type) {
    cql_type_parser p{type};
    if (!p.type()) return false;
    p.skip();
    return p.pos == type.size();
}

result<std::string> cql_create_keyspace(const table_def& sink) {
    if (sink.connector != "cassandra") return make_error(errc::invalid_argument, "table {} is not a cassandra table", sink.name);
    return fmt::format("CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': '{}'}}",
                       cql_name(sink.option("keyspace")), sink.option("replication-factor", "1"));
}

result<std::string> cql_create_table(const table_def& sink) {
    if (sink.connector != "cassandra") return make_error(errc::invalid_argument, "table {} is not a cassandra table", sink.name);
    if (sink.primary_key.empty()) return make_error(errc::invalid_argument, "table {} has no PRIMARY KEY", sink.name);
    std::string cols;
    for (const auto& c : sink.persisted_columns()) {
        // 'cql.type.<column>' overrides the mapped type (e.g. uuid for a STRING id).
        std::string forced = sink.option("cql.type." + c.name);
        if (!forced.empty() && !valid_cql_type(forced)) {
            return make_error(errc::invalid_argument, "table {}: 'cql.type.{}' = '{}' is not a CQL type", sink.name, c.name, forced);
        }
        auto t = forced.empty() ? cql_type_for(c.type) : result<std::string>(forced);
        if (!t) return t.err().with_context(fmt::format("table {} column {}", sink.name, c.name));
        cols += fmt::format("{}{} {}", cols.empty() ? "" : ", ", cql_name(c.name), *t);
    }
    std::string key;
    for (const auto& k : sink.primary_key) key += (key.empty() ? "" : ", ") + cql_name(k);
    // The first key column is the partition key; the rest are clustering columns.
    return fmt::format("CREATE TABLE IF NOT EXISTS {}.{} ({}, PRIMARY KEY ({}))", cql_name(sink.option("keyspace")), cql_name(sink.option("table")), cols, key);
}

result<std::string> cql_upsert(const table_def& sink) {
    if (sink.connector != "cassandra") return make_error(errc::invalid_argument, "table {} is not a cassandra table", sink.name);
    std::string cols, marks;
    for (const auto& c : sink.persisted_columns()) {
        cols += (cols.empty() ? "" : ", ") + cql_name(c.name);
        marks += marks.empty() ? "?" : ", ?";
    }
    return fmt::format("INSERT INTO {}.{} ({}) VALUES ({})", cql_name(sink.option("keyspace")), cql_name(sink.option("table")), cols, marks);
}

}  // namespace millrace::sql
