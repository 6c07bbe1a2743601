// The `avro-confluent` format: Confluent-framed Avro decoded with the writer
// schema (by id, given by the runtime) resolved to the schema Flink derives
// from the declared columns; the derived schema; columns from a schema.
#include <map>

#include <fmt/format.h>

#include "expr.h"
#include "formats.h"
#include "time_util.h"
#include "millrace/avro/codec.h"
#include "millrace/avro/compatibility.h"
#include "millrace/avro/schema.h"
#include "millrace/avro/wire.h"
#include "millrace/sql/encoder.h"

namespace millrace::sql {

namespace {

namespace aj = avro::json;

std::string avro_type_json(const sql_type& t, const std::string& name_hint, int& record_counter) {
    std::string base;
    switch (t.id) {
        case type_id::boolean: base = "\"boolean\""; break;
        case type_id::tinyint: case type_id::smallint: case type_id::int_: base = "\"int\""; break;
        case type_id::bigint: base = "\"long\""; break;
        case type_id::float_: base = "\"float\""; break;
        case type_id::double_: base = "\"double\""; break;
        case type_id::decimal: base = fmt::format("{{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":{},\"scale\":{}}}", t.precision, t.scale); break;
        case type_id::char_: case type_id::varchar: base = "\"string\""; break;
        case type_id::binary: case type_id::varbinary: base = "\"bytes\""; break;
        case type_id::date: base = "{\"type\":\"int\",\"logicalType\":\"date\"}"; break;
        case type_id::time: base = "{\"type\":\"int\",\"logicalType\":\"time-millis\"}"; break;
        case type_id::timestamp: base = "{\"type\":\"long\",\"logicalType\":\"local-timestamp-millis\"}"; break;
        case type_id::timestamp_ltz: base = "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}"; break;
        case type_id::array: base = fmt::format("{{\"type\":\"array\",\"items\":{}}}", avro_type_json(t.children[0], name_hint, record_counter)); break;
        case type_id::map: base = fmt::format("{{\"type\":\"map\",\"values\":{}}}", avro_type_json(t.children[1], name_hint, record_counter)); break;
        case type_id::row: {
            std::string fields;
            std::string rec = fmt::format("{}_{}", name_hint, ++record_counter);
            for (size_t idx = 0; idx < t.children.size(); ++idx) {
                std::string ft = avro_type_json(t.children[idx], rec, record_counter);
                fields += fmt::format("{}{{\"name\":{},\"type\":{}{}}}", idx ? "," : "", aj::quote(t.field_names[idx]), ft,
                                      t.children[idx].nullable ? ",\"default\":null" : "");
            }
            base = fmt::format("{{\"type\":\"record\",\"name\":{},\"fields\":[{}]}}", aj::quote(rec), fields);
            break;
        }
        default: base = "\"string\""; break;
    }
    return t.nullable ? fmt::format("[\"null\",{}]", base) : base;
}

// Avro JSON datum (bare unions, as avro::decode writes them) -> value of `t`.
bool from_avro_json(const aj::value& j, const sql_type& t, value& out, const std::string& field, record_error& err) {
    if (j.is_null()) { out = value::null(); return true; }
    auto wrong = [&](const char* what) {
        err = {error_code::wrong_type, field, fmt::format("field {} is {} in Avro, expected {}", field, what, t.to_string())};
        return false;
    };
    switch (t.id) {
        case type_id::boolean: if (!j.is_bool()) return wrong("not a boolean"); out = value::from_bool(j.boolean); return true;
        case type_id::tinyint: case type_id::smallint: case type_id::int_: case type_id::bigint:
            if (!j.is_integer()) return wrong("not an integer");
            out = value::from_int(j.integer);
            return true;
        case type_id::float_: case type_id::double_:
            if (!j.is_number()) return wrong("not a number");
            out = value::from_double(j.number);
            return true;
        case type_id::decimal: {
            if (!j.is_string()) return wrong("not bytes");
            // Big-endian two's complement, one byte per code point.
            __int128 v = 0;
            std::vector<uint8_t> bytes;
            for (size_t pos = 0; pos < j.text.size();) {
                unsigned char c = static_cast<unsigned char>(j.text[pos]);
                uint32_t cp = c;
                if (c >= 0xC0 && pos + 1 < j.text.size()) {
                    cp = ((c & 0x1F) << 6) | (static_cast<unsigned char>(j.text[pos + 1]) & 0x3F);
                    pos += 2;
                } else {
                    ++pos;
                }
                bytes.push_back(static_cast<uint8_t>(cp));
            }
            if (bytes.size() > 8) return wrong("a decimal wider than 64 bits");
            for (uint8_t b : bytes) v = (v << 8) | b;
            if (!bytes.empty() && (bytes[0] & 0x80)) v -= static_cast<__int128>(1) << (8 * bytes.size());
            out = value::from_int(static_cast<int64_t>(v));
            return true;
        }
        case type_id::char_: case type_id::varchar:
            if (j.is_string()) out = value::from_string(j.text);
            else out = value::from_string(aj::dump(j));
            return true;
        case type_id::binary: case type_id::varbinary: {
            if (!j.is_string()) return wrong("not bytes");
            std::string bytes;
            for (size_t pos = 0; pos < j.text.size();) {
                unsigned char c = static_cast<unsigned char>(j.text[pos]);
                if (c >= 0xC0 && pos + 1 < j.text.size()) {
                    bytes += static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(j.text[pos + 1]) & 0x3F));
                    pos += 2;
                } else {
                    bytes += static_cast<char>(c);
                    ++pos;
                }
            }
            out = value::from_string(std::move(bytes));
            return true;
        }
        case type_id::date: case type_id::time: case type_id::timestamp: case type_id::timestamp_ltz:
            if (j.is_integer()) { out = value::from_int(j.integer); return true; }
            if (j.is_string()) {
                auto v = parse_text_as(j.text, t);
                if (!v) { err = {error_code::invalid_value, field, fmt::format("field {}: '{}' is not a valid {}", field, j.text, t.to_string())}; return false; }
                out = *v;
                return true;
            }
            return wrong("not an integer");
        case type_id::array: {
            if (!j.is_array()) return wrong("not an array");
            out = value::from_list({});
            for (size_t idx = 0; idx < j.items.size(); ++idx) {
                value item;
                if (!from_avro_json(j.items[idx], t.children[0], item, fmt::format("{}[{}]", field, idx), err)) return false;
                out.items.push_back(std::move(item));
            }
            return true;
        }
        case type_id::map: case type_id::row: {
            if (!j.is_object()) return wrong("not a record or map");
            out = value::from_list({});
            if (t.id == type_id::row) {
                out.items.resize(t.children.size());
                for (size_t idx = 0; idx < t.children.size(); ++idx) {
                    const aj::value* m = j.find(t.field_names[idx]);
                    if (m && !from_avro_json(*m, t.children[idx], out.items[idx], field + "." + t.field_names[idx], err)) return false;
                }
            } else {
                for (const auto& [k, mv] : j.members) {
                    value item;
                    if (!from_avro_json(mv, t.children[1], item, field + "." + k, err)) return false;
                    out.items.push_back(value::from_string(k));
                    out.items.push_back(std::move(item));
                }
            }
            return true;
        }
        default: return wrong("unsupported");
    }
}

std::string bytes_as_code_points(std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) {
        if (c < 0x80) out += static_cast<char>(c);
        else {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

aj::value to_avro_json(const value& v, const sql_type& t) {
    if (v.is_null()) return aj::value::null_value();
    switch (t.id) {
        case type_id::boolean: return aj::value::from_bool(v.b);
        case type_id::float_: case type_id::double_: return aj::value::from_double(v.d);
        case type_id::char_: case type_id::varchar: return aj::value::from_string(v.s);
        case type_id::binary: case type_id::varbinary: return aj::value::from_string(bytes_as_code_points(v.s));
        case type_id::decimal: {
            std::string be;
            int64_t x = v.i;
            for (int k = 7; k >= 0; --k) be += static_cast<char>((static_cast<uint64_t>(x) >> (8 * k)) & 0xFF);
            // Minimal two's complement.
            while (be.size() > 1 && ((be[0] == 0 && !(be[1] & 0x80)) || (static_cast<uint8_t>(be[0]) == 0xFF && (be[1] & 0x80)))) be.erase(0, 1);
            return aj::value::from_string(bytes_as_code_points(be));
        }
        case type_id::array: {
            auto a = aj::value::array();
            for (const auto& item : v.items) a.items.push_back(to_avro_json(item, t.children[0]));
            return a;
        }
        case type_id::map: {
            auto o = aj::value::object();
            for (size_t idx = 0; idx + 1 < v.items.size(); idx += 2) o.set(value_to_text(v.items[idx], t.children[0]), to_avro_json(v.items[idx + 1], t.children[1]));
            return o;
        }
        case type_id::row: {
            auto o = aj::value::object();
            for (size_t idx = 0; idx < t.children.size() && idx < v.items.size(); ++idx) o.set(t.field_names[idx], to_avro_json(v.items[idx], t.children[idx]));
            return o;
        }
        default: return aj::value::from_int(v.i);
    }
}

// The non-null branch of a ["null", T] union (or the node itself).
const avro::node* unwrap(const avro::node* n) {
    if (n->type != avro::type::union_) return n;
    const avro::node* other = nullptr;
    for (const auto* b : n->branches) {
        if (b->type == avro::type::null) continue;
        if (other) return n;  // several non-null branches: keep the union
        other = b;
    }
    return other ? other : n;
}

// ISO-8601 text of an Avro timestamp (UTC 'Z' unless local), fraction without trailing zeros.
std::string iso_text(int64_t amount, bool micros, bool local) {
    int64_t per_second = micros ? 1000000 : 1000;
    int64_t seconds = timeutil::floor_div(amount, per_second);
    int64_t frac = amount - seconds * per_second;
    std::string s = timeutil::format_pattern(seconds * 1000, "yyyy-MM-dd'T'HH:mm:ss");
    if (frac) {
        std::string f = micros ? fmt::format("{:06}", frac) : fmt::format("{:03}", frac);
        while (f.back() == '0') f.pop_back();
        s += "." + f;
    }
    if (!local) s += 'Z';
    return s;
}

// Whether a writer type can be read into a column type (Flink's mapping, plus
// any scalar into STRING as its text).
bool readable(const avro::node* n, const sql_type& t) {
    n = unwrap(n);
    using at = avro::type;
    switch (t.id) {
        case type_id::char_: case type_id::varchar:
            return n->type != at::array && n->type != at::map && n->type != at::record && n->type != at::union_;
        case type_id::boolean: return n->type == at::boolean;
        case type_id::tinyint: case type_id::smallint: case type_id::int_: return n->type == at::int_;
        case type_id::bigint: return n->type == at::int_ || n->type == at::long_;
        case type_id::float_: case type_id::double_: return n->type == at::int_ || n->type == at::long_ || n->type == at::float_ || n->type == at::double_;
        case type_id::decimal: return (n->type == at::bytes || n->type == at::fixed) && n->logical_type == "decimal" && n->scale == t.scale;
        case type_id::binary: case type_id::varbinary: return n->type == at::bytes || n->type == at::fixed;
        case type_id::date: return n->type == at::int_ || n->type == at::string;
        case type_id::time: return n->type == at::int_ || n->type == at::long_ || n->type == at::string;
        case type_id::timestamp: case type_id::timestamp_ltz: return n->type == at::long_ || n->type == at::string;
        case type_id::array: return n->type == at::array && readable(n->items, t.children[0]);
        case type_id::map: return n->type == at::map && readable(n->items, t.children[1]);
        case type_id::row: return n->type == at::record;
        default: return false;
    }
}

class avro_reader final : public part_reader {
public:
    explicit avro_reader(std::vector<field_target> targets) : targets_(std::move(targets)) {}

    decode_status read(std::string_view bytes, row& out, record_error& error) override {
        auto framed = avro::wire::unframe(bytes);
        if (!framed) {
            error = {error_code::malformed_avro, "", fmt::format("the value does not decode as Confluent-framed Avro: {}", framed.err().message())};
            return decode_status::rejected;
        }
        last_id_ = framed->schema_id;
        auto it = writers_.find(framed->schema_id);
        if (it == writers_.end()) return decode_status::need_schema;
        const writer_entry& w = it->second;
        if (!w.usable) {
            error = {error_code::unknown_schema, "", w.why};
            return decode_status::rejected;
        }
        auto datum = avro::decode(framed->payload, w.writer.root());
        if (!datum) {
            error = {error_code::malformed_avro, "", fmt::format("the Avro payload does not decode with schema id {}: {}", framed->schema_id, datum.err().message())};
            return decode_status::rejected;
        }
        for (size_t idx = 0; idx < targets_.size(); ++idx) {
            const field_target& t = targets_[idx];
            const avro::node* wn = w.fields[idx];
            const aj::value* f = wn ? datum->find(t.name) : nullptr;
            if (!f || f->is_null()) {
                out[t.index] = value::null();
                continue;
            }
            const avro::node* n = unwrap(wn);
            bool ts = n->logical_type.find("timestamp") != std::string::npos;
            if (ts && f->is_integer()) {
                bool micros = n->logical_type.find("micros") != std::string::npos;
                bool local = n->logical_type.rfind("local-", 0) == 0;
                if (t.type.is_string()) out[t.index] = value::from_string(iso_text(f->integer, micros, local));
                else out[t.index] = value::from_int(micros ? timeutil::floor_div(f->integer, 1000) : f->integer);
                continue;
            }
            if (n->logical_type == "date" && f->is_integer() && t.type.is_string()) {
                out[t.index] = value::from_string(timeutil::format_pattern(f->integer * timeutil::k_ms_per_day, "yyyy-MM-dd"));
                continue;
            }
            if (!from_avro_json(*f, t.type, out[t.index], t.name, error)) return decode_status::rejected;
        }
        return decode_status::ok;
    }
    int32_t schema_id() const override { return last_id_; }
    status add_writer_schema(int32_t id, std::string_view text) override {
        writer_entry e;
        auto parsed = avro::schema::parse(text);
        if (!parsed) {
            e.why = fmt::format("schema id {} is not a valid Avro schema: {}", id, parsed.err().message());
            writers_[id] = e;
            return parsed.err();
        }
        e.writer = *parsed;
        const avro::node& root = e.writer.root();
        if (root.type != avro::type::record) {
            e.why = fmt::format("schema id {} is a {}, not a record", id, avro::type_name(root.type));
        } else {
            std::string why;
            for (const auto& t : targets_) {
                const avro::field* f = root.find_field(t.name);
                e.fields.push_back(f ? f->type : nullptr);
                if (f && !readable(f->type, t.type)) {
                    why += fmt::format("{}field {} is {} in the writer schema, the column is {}", why.empty() ? "" : "; ", t.name,
                                       avro::type_name(unwrap(f->type)->type), t.type.to_string());
                }
            }
            if (!why.empty()) e.why = fmt::format("schema id {} cannot be read as the table's columns: {}", id, why);
            else e.usable = true;
        }
        writers_[id] = e;
        return {};
    }

private:
    struct writer_entry {
        avro::schema writer;
        std::vector<const avro::node*> fields;  // per target, nullptr when the writer lacks it
        bool usable = false;
        std::string why;
    };
    std::vector<field_target> targets_;
    std::map<int32_t, writer_entry> writers_;
    int32_t last_id_ = -1;
};

}  // namespace

std::string avro_schema_for(const std::vector<column_type>& columns, const std::string& record_name) {
    int counter = 0;
    std::string fields;
    for (size_t idx = 0; idx < columns.size(); ++idx) {
        fields += fmt::format("{}{{\"name\":{},\"type\":{}{}}}", idx ? "," : "", aj::quote(columns[idx].name),
                              avro_type_json(columns[idx].type, record_name, counter), columns[idx].type.nullable ? ",\"default\":null" : "");
    }
    return fmt::format("{{\"type\":\"record\",\"name\":{},\"namespace\":\"org.apache.flink.avro.generated\",\"fields\":[{}]}}", aj::quote(record_name), fields);
}

std::string avro_schema_for(const table_def& sink) {
    bool except_key = sink.option("value.fields-include", "ALL") == "EXCEPT_KEY";
    std::vector<column_type> cols;
    for (const auto& c : sink.columns) {
        if (c.kind != column_kind::physical || (c.from_key && except_key)) continue;
        cols.push_back({c.name, c.type});
    }
    return avro_schema_for(cols);
}

namespace {
result<sql_type> type_from_avro(const avro::node& n, const std::string& field) {
    sql_type t;
    switch (n.type) {
        case avro::type::boolean: t = sql_type::boolean(); break;
        case avro::type::int_:
            t = n.logical_type == "date" ? sql_type::of(type_id::date) : n.logical_type == "time-millis" ? sql_type::of(type_id::time, 3) : sql_type::int_();
            break;
        case avro::type::long_:
            if (n.logical_type == "timestamp-millis" || n.logical_type == "timestamp-micros") t = sql_type::timestamp_ltz(3);
            else if (n.logical_type == "local-timestamp-millis" || n.logical_type == "local-timestamp-micros") t = sql_type::timestamp(3);
            else t = sql_type::bigint();
            break;
        case avro::type::float_: t = sql_type::of(type_id::float_); break;
        case avro::type::double_: t = sql_type::double_(); break;
        case avro::type::string: case avro::type::enum_: t = sql_type::string(); break;
        case avro::type::bytes: case avro::type::fixed:
            if (n.logical_type == "decimal") {
                if (n.precision > 18) return make_error(errc::invalid_argument, "field {}: DECIMAL({}, {}) is wider than the 18 digits supported", field, n.precision, n.scale);
                t = sql_type::of(type_id::decimal, n.precision, n.scale);
            } else {
                t = n.type == avro::type::fixed ? sql_type::of(type_id::binary, static_cast<int>(n.size)) : sql_type::of(type_id::varbinary, k_max_varchar);
            }
            break;
        case avro::type::array: {
            auto e = type_from_avro(*n.items, field + "[]");
            if (!e) return e.err();
            t = sql_type::of(type_id::array);
            t.children.push_back(*e);
            break;
        }
        case avro::type::map: {
            auto e = type_from_avro(*n.items, field + "{}");
            if (!e) return e.err();
            t = sql_type::of(type_id::map);
            t.children = {sql_type::string(), *e};
            break;
        }
        case avro::type::record: {
            t = sql_type::of(type_id::row);
            for (const auto& f : n.fields) {
                auto e = type_from_avro(*f.type, field + "." + f.name);
                if (!e) return e.err();
                t.children.push_back(*e);
                t.field_names.push_back(f.name);
            }
            break;
        }
        case avro::type::union_: {
            const avro::node* other = nullptr;
            bool has_null = false;
            for (const auto* b : n.branches) {
                if (b->type == avro::type::null) has_null = true;
                else if (other) return make_error(errc::invalid_argument, "field {}: a union of several non-null types has no Flink type", field);
                else other = b;
            }
            if (!other) return make_error(errc::invalid_argument, "field {}: a union of only null has no Flink type", field);
            auto e = type_from_avro(*other, field);
            if (!e) return e.err();
            t = *e;
            t.nullable = has_null;
            return t;
        }
        case avro::type::null: return make_error(errc::invalid_argument, "field {}: type null has no Flink type", field);
    }
    t.nullable = false;
    return t;
}
}  // namespace

result<std::vector<column_type>> columns_from_avro(std::string_view schema_text) {
    auto parsed = avro::schema::parse(schema_text);
    if (!parsed) return parsed.err();
    const avro::node& root = parsed->root();
    if (root.type != avro::type::record) return make_error(errc::invalid_argument, "the Avro schema is a {}, not a record", avro::type_name(root.type));
    std::vector<column_type> out;
    for (const auto& f : root.fields) {
        auto t = type_from_avro(*f.type, f.name);
        if (!t) return t.err();
        out.push_back({f.name, *t});
    }
    return out;
}

std::unique_ptr<part_reader> make_avro_reader(std::vector<field_target> targets) { return std::make_unique<avro_reader>(std::move(targets)); }

// Used by the encoders.
result<std::string> encode_avro_row(const avro::schema& schema, const row& r, const std::vector<field_target>& fields) {
    auto rec = aj::value::object();
    for (const auto& f : fields) rec.set(f.name, to_avro_json(r[f.index], f.type));
    return avro::encode(schema.root(), rec);
}

}  // namespace millrace::sql
