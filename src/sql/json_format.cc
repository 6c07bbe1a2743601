// The `json` format: simdjson On-Demand straight into the declared columns
// (no DOM on the hot path), and the writer for Kafka sinks. Semantics follow
// Flink's json format; docs/sql.md lists where we chose.
#include <charconv>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>
#include <simdjson.h>

#include "millrace/common/json_text.h"

#include "expr.h"
#include "formats.h"
#include "time_util.h"

namespace millrace::sql {

namespace od = simdjson::ondemand;

json_options json_options_of(const table_def& t, const std::string& prefix) {
    json_options o;
    o.fail_on_missing_field = t.option(prefix + "json.fail-on-missing-field", "false") == "true";
    o.ignore_parse_errors = t.option(prefix + "json.ignore-parse-errors", "false") == "true";
    o.iso_timestamps = t.option(prefix + "json.timestamp-format.standard", "SQL") == "ISO-8601";
    return o;
}

static const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
    std::string out;
    size_t idx = 0;
    for (; idx + 2 < in.size(); idx += 3) {
        uint32_t n = (static_cast<uint8_t>(in[idx]) << 16) | (static_cast<uint8_t>(in[idx + 1]) << 8) | static_cast<uint8_t>(in[idx + 2]);
        out += k_b64[n >> 18]; out += k_b64[(n >> 12) & 63]; out += k_b64[(n >> 6) & 63]; out += k_b64[n & 63];
    }
    if (idx + 1 == in.size()) {
        uint32_t n = static_cast<uint8_t>(in[idx]) << 16;
        out += k_b64[n >> 18]; out += k_b64[(n >> 12) & 63]; out += "==";
    } else if (idx + 2 == in.size()) {
        uint32_t n = (static_cast<uint8_t>(in[idx]) << 16) | (static_cast<uint8_t>(in[idx + 1]) << 8);
        out += k_b64[n >> 18]; out += k_b64[(n >> 12) & 63]; out += k_b64[(n >> 6) & 63]; out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    size_t pad = 0;
    for (char c : in) {
        if (c == '=') { ++pad; continue; }
        if (pad) return std::nullopt;
        const char* p = std::strchr(k_b64, c);
        if (!p || !c) return std::nullopt;
        acc = (acc << 6) | static_cast<uint32_t>(p - k_b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    if (pad > 2 || (in.size() % 4 != 0 && pad)) return std::nullopt;
    return out;
}

namespace {

const char* json_type_name(od::json_type t) {
    switch (t) {
        case od::json_type::array: return "an array";
        case od::json_type::object: return "an object";
        case od::json_type::number: return "a number";
        case od::json_type::string: return "a string";
        case od::json_type::boolean: return "a boolean";
        case od::json_type::null: return "null";
    }
    return "a value";
}

// JSON text without insignificant whitespace (as Jackson writes a node).
std::string minify(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    bool in_string = false;
    for (size_t pos = 0; pos < raw.size(); ++pos) {
        char c = raw[pos];
        if (in_string) {
            out += c;
            if (c == '\\' && pos + 1 < raw.size()) out += raw[++pos];
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
            out += c;
        } else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
            out += c;
        }
    }
    return out;
}

struct conv {
    const json_options& o;
    record_error& err;

    bool malformed(simdjson::error_code code, const std::string& field) {
        err = {error_code::malformed_json, field, fmt::format("malformed JSON: {}", simdjson::error_message(code))};
        return false;
    }
    bool wrong(const std::string& field, od::json_type jt, const sql_type& t) {
        err = {error_code::wrong_type, field, fmt::format("field {} is {}, expected {}", field, json_type_name(jt), t.to_string())};
        return false;
    }
    bool invalid(const std::string& field, std::string_view text, const sql_type& t, const char* hint = "") {
        err = {error_code::invalid_value, field, fmt::format("field {}: '{}' is not a valid {}{}", field, text, t.to_string(), hint)};
        return false;
    }

    bool timestamp_text(std::string_view s, const sql_type& t, value& out, const std::string& field) {
        bool ltz = t.id == type_id::timestamp_ltz;
        bool has_z = !s.empty() && s.back() == 'Z';
        if (ltz != has_z) return invalid(field, s, t, ltz ? " (a TIMESTAMP_LTZ ends with 'Z')" : "");
        std::string_view body = has_z ? s.substr(0, s.size() - 1) : s;
        size_t sep = body.find(o.iso_timestamps ? 'T' : ' ');
        if (sep == std::string_view::npos || sep != 10) {
            return invalid(field, s, t, o.iso_timestamps ? " (ISO-8601: yyyy-MM-ddTHH:mm:ss[.SSS])" : " (SQL: yyyy-MM-dd HH:mm:ss[.SSS])");
        }
        auto ms = timeutil::parse_timestamp(body, o.iso_timestamps, false);
        if (!ms) return invalid(field, s, t);
        out = value::from_int(*ms);
        return true;
    }

    // Converts the JSON value `v` to `t`.
    bool to(od::value v, const sql_type& t, value& out, const std::string& field) {
        od::json_type jt;
        if (auto e = v.type().get(jt)) return malformed(e, field);
        if (jt == od::json_type::null) {
            bool is_null = false;
            if (auto e = v.is_null().get(is_null)) return malformed(e, field);
            out = value::null();
            return true;
        }
        switch (t.id) {
            case type_id::char_: case type_id::varchar: {
                if (jt == od::json_type::string) {
                    std::string_view s;
                    if (auto e = v.get_string().get(s)) return malformed(e, field);
                    out.kind = value_kind::text;
                    out.s.assign(s.data(), s.size());
                    return true;
                }
                std::string_view raw;
                if (jt == od::json_type::number || jt == od::json_type::boolean) {
                    raw = v.raw_json_token();
                    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\t' || raw.back() == '\r')) raw.remove_suffix(1);
                    if (jt == od::json_type::boolean) {
                        bool b = false;
                        if (auto e = v.get_bool().get(b)) return malformed(e, field);
                    } else {
                        double d = 0;
                        if (auto e = v.get_double().get(d)) return malformed(e, field);
                    }
                } else if (auto e = simdjson::to_json_string(v).get(raw)) {
                    return malformed(e, field);
                } else {
                    out = value::from_string(minify(raw));
                    return true;
                }
                out = value::from_string(std::string(raw));
                return true;
            }
            case type_id::boolean: {
                if (jt == od::json_type::boolean) {
                    bool b = false;
                    if (auto e = v.get_bool().get(b)) return malformed(e, field);
                    out = value::from_bool(b);
                    return true;
                }
                if (jt == od::json_type::string) {
                    std::string_view s;
                    if (auto e = v.get_string().get(s)) return malformed(e, field);
                    if (iequals(s, "true")) out = value::from_bool(true);
                    else if (iequals(s, "false")) out = value::from_bool(false);
                    else return invalid(field, s, t);
                    return true;
                }
                return wrong(field, jt, t);
            }
            case type_id::tinyint: case type_id::smallint: case type_id::int_: case type_id::bigint:
            case type_id::float_: case type_id::double_: case type_id::decimal: {
                std::string_view text;
                if (jt == od::json_type::string) {
                    if (auto e = v.get_string().get(text)) return malformed(e, field);
                } else if (jt == od::json_type::number) {
                    if (t.is_integer()) {
                        int64_t i = 0;
                        auto e = v.get_int64().get(i);
                        if (!e) {
                            auto parsed = parse_text_as(std::to_string(i), t);
                            if (!parsed) return invalid(field, std::to_string(i), t, " (out of range)");
                            out = *parsed;
                            return true;
                        }
                        if (e != simdjson::INCORRECT_TYPE && e != simdjson::NUMBER_OUT_OF_RANGE) return malformed(e, field);
                        double d = 0;
                        if (auto e2 = v.get_double().get(d)) return malformed(e2, field);
                        if (std::trunc(d) != d) return invalid(field, v.raw_json_token(), t, " (not a whole number)");
                        // A whole number beyond the column's range is a cast error (Flink fails on it), never
                        // saturated or wrapped: 3e9 into an INT is rejected as invalid_value.
                        double lo = -9.223372036854775808e18, hi = 9.223372036854775808e18;
                        if (t.id == type_id::tinyint) lo = -128.0, hi = 128.0;
                        else if (t.id == type_id::smallint) lo = -32768.0, hi = 32768.0;
                        else if (t.id == type_id::int_) lo = -2147483648.0, hi = 2147483648.0;
                        if (!(d >= lo && d < hi)) {
                            std::string_view tok = v.raw_json_token();
                            while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.back()))) tok.remove_suffix(1);
                            return invalid(field, tok, t, " (out of range)");
                        }
                        out = value::from_int(static_cast<int64_t>(d));
                        return true;
                    }
                    if (t.id != type_id::decimal) {
                        double d = 0;
                        if (auto e = v.get_double().get(d)) return malformed(e, field);
                        out = value::from_double(t.id == type_id::float_ ? static_cast<float>(d) : d);
                        return true;
                    }
                    text = v.raw_json_token();
                    double d = 0;
                    if (auto e = v.get_double().get(d)) return malformed(e, field);
                } else {
                    return wrong(field, jt, t);
                }
                std::string trimmed(text);
                while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.pop_back();
                auto parsed = parse_text_as(trimmed, t);
                if (!parsed) return invalid(field, trimmed, t);
                out = *parsed;
                return true;
            }
            case type_id::date: case type_id::time: case type_id::timestamp: case type_id::timestamp_ltz: {
                if (jt != od::json_type::string) return wrong(field, jt, t);
                std::string_view s;
                if (auto e = v.get_string().get(s)) return malformed(e, field);
                if (t.is_timestamp()) return timestamp_text(s, t, out, field);
                auto parsed = t.id == type_id::date ? timeutil::parse_date(s) : timeutil::parse_time(s);
                if (!parsed) return invalid(field, s, t);
                out = value::from_int(*parsed);
                return true;
            }
            case type_id::binary: case type_id::varbinary: {
                if (jt != od::json_type::string) return wrong(field, jt, t);
                std::string_view s;
                if (auto e = v.get_string().get(s)) return malformed(e, field);
                auto bytes = base64_decode(s);
                if (!bytes) return invalid(field, s, t, " (base64)");
                out = value::from_string(std::move(*bytes));
                return true;
            }
            case type_id::array: {
                if (jt != od::json_type::array) return wrong(field, jt, t);
                od::array arr;
                if (auto e = v.get_array().get(arr)) return malformed(e, field);
                out = value::from_list({});
                size_t idx = 0;
                for (auto element : arr) {
                    od::value ev;
                    if (auto e = element.get(ev)) return malformed(e, field);
                    value item;
                    if (!to(ev, t.children[0], item, fmt::format("{}[{}]", field, idx++))) return false;
                    out.items.push_back(std::move(item));
                }
                return true;
            }
            case type_id::map: case type_id::row: {
                if (jt != od::json_type::object) return wrong(field, jt, t);
                od::object obj;
                if (auto e = v.get_object().get(obj)) return malformed(e, field);
                out = value::from_list({});
                if (t.id == type_id::row) out.items.resize(t.children.size());
                for (auto member : obj) {
                    std::string_view key;
                    if (auto e = member.unescaped_key().get(key)) return malformed(e, field);
                    od::value mv;
                    if (auto e = member.value().get(mv)) return malformed(e, field);
                    std::string sub = fmt::format("{}.{}", field, key);
                    if (t.id == type_id::map) {
                        auto k = parse_text_as(key, t.children[0]);
                        if (!k) return invalid(sub, key, t.children[0], " (map key)");
                        value item;
                        if (!to(mv, t.children[1], item, sub)) return false;
                        out.items.push_back(std::move(*k));
                        out.items.push_back(std::move(item));
                    } else {
                        for (size_t idx = 0; idx < t.field_names.size(); ++idx) {
                            if (t.field_names[idx] == key) {
                                if (!to(mv, t.children[idx], out.items[idx], sub)) return false;
                                break;
                            }
                        }
                    }
                }
                return true;
            }
            default:
                err = {error_code::wrong_type, field, fmt::format("field {}: type {} cannot be read from JSON", field, t.to_string())};
                return false;
        }
    }
};

class json_reader final : public part_reader {
public:
    json_reader(std::vector<field_target> targets, json_options options) : targets_(std::move(targets)), o_(options) {
        for (size_t idx = 0; idx < targets_.size(); ++idx) by_name_.emplace(targets_[idx].name, idx);
        seen_.resize(targets_.size());
    }

    decode_status read(std::string_view bytes, row& out, record_error& error) override {
        buf_.assign(bytes.data(), bytes.size());
        buf_.reserve(bytes.size() + simdjson::SIMDJSON_PADDING);
        std::fill(seen_.begin(), seen_.end(), false);
        hint_ = 0;
        conv c{o_, error};
        auto fail = [&](simdjson::error_code code) {
            error = {error_code::malformed_json, "", fmt::format("malformed JSON: {}", simdjson::error_message(code))};
            return decode_status::rejected;
        };
        od::document doc;
        if (auto e = parser_.iterate(buf_.data(), buf_.size(), buf_.capacity()).get(doc)) return fail(e);
        od::json_type jt;
        if (auto e = doc.type().get(jt)) return fail(e);
        if (jt != od::json_type::object) {
            // On-Demand only looked at the first byte: validate a scalar before calling it one.
            simdjson::error_code bad = simdjson::SUCCESS;
            switch (jt) {
                case od::json_type::null: {
                    bool is_null = false;
                    bad = doc.is_null().get(is_null);
                    if (!bad && !is_null) bad = simdjson::N_ATOM_ERROR;
                    break;
                }
                case od::json_type::boolean: { bool b = false; bad = doc.get_bool().get(b); break; }
                case od::json_type::number: { double d = 0; bad = doc.get_double().get(d); break; }
                case od::json_type::string: { std::string_view sv; bad = doc.get_string().get(sv); break; }
                default: break;
            }
            if (bad) return fail(bad);
            error = {error_code::not_an_object, "", fmt::format("the JSON value is {}, expected an object", json_type_name(jt))};
            return decode_status::rejected;
        }
        od::object obj;
        if (auto e = doc.get_object().get(obj)) return fail(e);
        for (auto member : obj) {
            std::string_view key;
            if (auto e = member.unescaped_key().get(key)) return fail(e);
            size_t found = targets_.size();
            if (hint_ < targets_.size() && targets_[hint_].name == key) {
                found = hint_;
            } else if (auto hit = by_name_.find(key); hit != by_name_.end()) {
                found = hit->second;
            }
            if (found == targets_.size()) {
                od::value skipped;
                if (auto e = member.value().get(skipped)) return fail(e);
                continue;  // unknown fields are ignored
            }
            const field_target& t = targets_[found];
            od::value v;
            if (auto e = member.value().get(v)) return fail(e);
            hint_ = found + 1;
            seen_[found] = true;
            try {
                if (!c.to(v, t.type, out[t.index], t.name)) {
                    if (error.code == error_code::malformed_json || !o_.ignore_parse_errors) return decode_status::rejected;
                    out[t.index] = value::null();
                }
            } catch (const eval_failure& f) {
                if (!o_.ignore_parse_errors) {
                    error = {error_code::invalid_value, t.name, fmt::format("field {}: {}", t.name, f.message)};
                    return decode_status::rejected;
                }
                out[t.index] = value::null();
            }
        }
        for (size_t idx = 0; idx < targets_.size(); ++idx) {
            if (seen_[idx]) continue;
            const field_target& t = targets_[idx];
            if (o_.fail_on_missing_field) {
                error = {error_code::missing_field, t.name, fmt::format("field {} is missing (json.fail-on-missing-field is true)", t.name)};
                return decode_status::rejected;
            }
            out[t.index] = value::null();
        }
        for (const auto& t : targets_) {
            if (!t.type.nullable && out[t.index].is_null()) {
                error = {error_code::missing_field, t.name, fmt::format("field {} is missing or null (the column is NOT NULL)", t.name)};
                return decode_status::rejected;
            }
        }
        return decode_status::ok;
    }

private:
    std::vector<field_target> targets_;
    json_options o_;
    std::unordered_map<std::string_view, size_t> by_name_;
    std::vector<bool> seen_;
    size_t hint_ = 0;  // the target expected next
    std::string buf_;
    od::parser parser_;
};

class raw_reader final : public part_reader {
public:
    explicit raw_reader(field_target t) : t_(std::move(t)) {}
    decode_status read(std::string_view bytes, row& out, record_error&) override {
        out[t_.index] = value::from_string(std::string(bytes));
        return decode_status::ok;
    }

private:
    field_target t_;
};

}  // namespace

std::unique_ptr<part_reader> make_json_reader(std::vector<field_target> targets, json_options options) {
    return std::make_unique<json_reader>(std::move(targets), options);
}
std::unique_ptr<part_reader> make_raw_reader(field_target target) { return std::make_unique<raw_reader>(std::move(target)); }

void write_json_value(std::string& out, const value& v, const sql_type& t, const json_options& o) {
    if (v.is_null()) { out += "null"; return; }
    auto quoted = [&](std::string_view s) { json_text::append_string(out, s); };
    switch (t.id) {
        case type_id::boolean: out += v.b ? "true" : "false"; return;
        case type_id::tinyint: case type_id::smallint: case type_id::int_: case type_id::bigint: out += std::to_string(v.i); return;
        case type_id::float_: case type_id::double_:
            if (!std::isfinite(v.d)) quoted(java_double(v.d));
            else out += java_double(t.id == type_id::float_ ? static_cast<double>(static_cast<float>(v.d)) : v.d);
            return;
        case type_id::decimal: out += value_to_text(v, t); return;
        case type_id::char_: case type_id::varchar: quoted(v.s); return;
        case type_id::binary: case type_id::varbinary: quoted(base64_encode(v.s)); return;
        case type_id::date: quoted(timeutil::format_pattern(v.i * timeutil::k_ms_per_day, "yyyy-MM-dd")); return;
        case type_id::time: {
            std::string s = timeutil::format_pattern(v.i, "HH:mm:ss");
            if (v.i % 1000) s += fmt::format(".{:03}", v.i % 1000);
            quoted(s);
            return;
        }
        case type_id::timestamp: case type_id::timestamp_ltz: {
            // Flink: date, 'T' (ISO-8601) or ' ' (SQL), time, the fraction without trailing zeros, 'Z' for LTZ.
            std::string s = timeutil::format_pattern(v.i, o.iso_timestamps ? "yyyy-MM-dd'T'HH:mm:ss" : "yyyy-MM-dd HH:mm:ss");
            int64_t ms = v.i - timeutil::floor_div(v.i, 1000) * 1000;
            if (ms) {
                std::string frac = fmt::format("{:03}", ms);
                while (frac.back() == '0') frac.pop_back();
                s += "." + frac;
            }
            if (t.id == type_id::timestamp_ltz) s += 'Z';
            quoted(s);
            return;
        }
        case type_id::array:
            out += '[';
            for (size_t idx = 0; idx < v.items.size(); ++idx) {
                if (idx) out += ',';
                write_json_value(out, v.items[idx], t.children[0], o);
            }
            out += ']';
            return;
        case type_id::map:
            out += '{';
            for (size_t idx = 0; idx + 1 < v.items.size(); idx += 2) {
                if (idx) out += ',';
                quoted(v.items[idx].is_null() ? "null" : value_to_text(v.items[idx], t.children[0]));
                out += ':';
                write_json_value(out, v.items[idx + 1], t.children[1], o);
            }
            out += '}';
            return;
        case type_id::row:
            out += '{';
            for (size_t idx = 0; idx < t.children.size() && idx < v.items.size(); ++idx) {
                if (idx) out += ',';
                quoted(t.field_names[idx]);
                out += ':';
                write_json_value(out, v.items[idx], t.children[idx], o);
            }
            out += '}';
            return;
        default: out += "null"; return;
    }
}

void write_json(std::string& out, const row& r, const std::vector<field_target>& fields, const json_options& o) {
    out += '{';
    bool first = true;
    for (const auto& f : fields) {
        if (!first) out += ',';
        first = false;
        out += '"';
        out += f.name;  // column names are identifiers: no escaping needed beyond quotes
        out += "\":";
        write_json_value(out, r[f.index], f.type, o);
    }
    out += '}';
}

}  // namespace millrace::sql
