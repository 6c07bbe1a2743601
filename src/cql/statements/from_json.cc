// INSERT ... JSON and fromJson(): a JSON value converted to a column's serialization the way Cassandra's
// types read JSON (AbstractType.fromJSONObject): text from strings only, numbers from numbers or numeric
// strings, uuids, timestamps, dates, inets from strings, blobs from "0x..." strings, collections from
// arrays and objects (map keys are strings, parsed as JSON for non-text key types). Errors carry
// Cassandra's messages, which name the Java class Jackson would have produced (Integer, Long, Double, ...).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "protocol/wire.h"
#include "statements/statement_runner.h"

namespace millrace::cql {
namespace {

using json = nlohmann::json;

// The simple name of the Java class Jackson maps this JSON value to.
std::string java_class(const json& j) {
    if (j.is_boolean()) return "Boolean";
    if (j.is_number_unsigned()) return j.get<uint64_t>() <= INT32_MAX ? "Integer" : j.get<uint64_t>() <= INT64_MAX ? "Long" : "BigInteger";
    if (j.is_number_integer()) {
        auto v = j.get<int64_t>();
        return v >= INT32_MIN && v <= INT32_MAX ? "Integer" : "Long";
    }
    if (j.is_number_float()) return "Double";
    if (j.is_string()) return "String";
    if (j.is_array()) return "ArrayList";
    return "LinkedHashMap";
}

std::string java_text(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

const char* int_name(type_kind k) {
    switch (k) {
        case type_kind::tinyint: return "byte";
        case type_kind::smallint: return "short";
        case type_kind::int_: return "int";
        default: return "long";
    }
}

bool integer_text(const std::string& s) {
    size_t start = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    return s.size() > start && std::all_of(s.begin() + static_cast<std::ptrdiff_t>(start), s.end(), [](char c) { return std::isdigit(uint8_t(c)); });
}

bool uuid_text(const std::string& s) {
    if (s.size() != 36) return false;
    for (size_t idx = 0; idx < s.size(); ++idx) {
        bool dash = idx == 8 || idx == 13 || idx == 18 || idx == 23;
        if (dash ? s[idx] != '-' : !std::isxdigit(uint8_t(s[idx]))) return false;
    }
    return true;
}

using R = result<std::optional<std::string>>;

R from_json(const cql_type& t, const json& j);

R mismatch(const char* expected, const json& j) {
    return make_error(errc::invalid_argument, "Expected {}, but got a {}: {}", expected, java_class(j), java_text(j));
}

// A scalar converted through the CQL literal of the same text (types.h literal_to_value).
R via_literal(const cql_type& t, literal_kind kind, const std::string& text) {
    literal lit;
    lit.kind = kind;
    lit.text = text;
    return literal_to_value(t, lit);
}

R collection(const cql_type& t, const json& j) {
    if (t.kind == type_kind::map) {
        if (!j.is_object()) return mismatch("a map", j);
        std::vector<std::pair<std::string, std::string>> entries;
        bool text_keys = t.params[0].kind == type_kind::varchar || t.params[0].kind == type_kind::ascii;
        for (const auto& [key, value] : j.items()) {
            json parsed_key = key;
            if (!text_keys) {
                // Non-text keys are JSON inside the key string ("1" → 1); a bare word stays a string.
                auto p = json::parse(key, nullptr, false);
                if (!p.is_discarded()) parsed_key = p;
            }
            auto k = from_json(t.params[0], parsed_key);
            if (!k) return k.err();
            auto v = from_json(t.params[1], value);
            if (!v) return v.err();
            if (!k->has_value() || !v->has_value()) return make_error(errc::invalid_argument, "Invalid null value in map");
            entries.emplace_back(**k, **v);
        }
        return R(normalize_collection(t, map_value(entries)));
    }
    if (!j.is_array()) return mismatch(t.kind == type_kind::set ? "a list (representing a set)" : "a list", j);
    std::vector<std::string> elements;
    for (const auto& e : j) {
        auto v = from_json(t.params[0], e);
        if (!v) return v.err();
        if (!v->has_value()) return make_error(errc::invalid_argument, "Invalid null element in {}", t.kind == type_kind::set ? "set" : "list");
        elements.push_back(**v);
    }
    std::string out = list_value(elements);
    return R(t.kind == type_kind::set ? normalize_collection(t, out) : out);
}

R from_json(const cql_type& t, const json& j) {
    if (j.is_null()) return R(std::nullopt);
    switch (t.kind) {
        case type_kind::ascii: case type_kind::varchar:
            if (!j.is_string()) return mismatch(t.kind == type_kind::ascii ? "an ascii string" : "a UTF-8 string", j);
            return R(j.get<std::string>());
        case type_kind::tinyint: case type_kind::smallint: case type_kind::int_: case type_kind::bigint:
        case type_kind::counter: {
            const char* name = int_name(t.kind);
            if (j.is_string()) {
                auto s = j.get<std::string>();
                if (!integer_text(s)) return make_error(errc::invalid_argument, "Unable to make {} from '{}'", name, s);
                auto v = via_literal(t, literal_kind::integer, s);
                if (!v) return make_error(errc::invalid_argument, "Unable to make {} from '{}'", name, s);
                return v;
            }
            std::string expected = t.kind == type_kind::bigint || t.kind == type_kind::counter ? "a bigint value"
                                   : t.kind == type_kind::int_                                 ? "an int value"
                                   : t.kind == type_kind::smallint                             ? "a smallint value"
                                                                                               : "a tinyint value";
            bool fits = j.is_number_integer() &&
                        (t.kind == type_kind::bigint || t.kind == type_kind::counter ? java_class(j) != "BigInteger"
                                                                                     : java_class(j) == "Integer");
            if (!fits) return mismatch(expected.c_str(), j);
            auto v = via_literal(t, literal_kind::integer, j.dump());
            if (!v) return make_error(errc::invalid_argument, "Unable to make {} from '{}'", name, j.dump());
            return v;
        }
        case type_kind::varint:
            if (j.is_string() && integer_text(j.get<std::string>())) return via_literal(t, literal_kind::integer, j.get<std::string>());
            if (j.is_string()) return make_error(errc::invalid_argument, "Unable to make int from '{}'", j.get<std::string>());
            if (!j.is_number_integer()) return mismatch("an integer", j);
            return via_literal(t, literal_kind::integer, j.dump());
        case type_kind::float_: case type_kind::double_: case type_kind::decimal: {
            const char* name = t.kind == type_kind::float_ ? "float" : t.kind == type_kind::double_ ? "double" : "decimal";
            if (j.is_string()) {
                auto s = j.get<std::string>();
                char* end = nullptr;
                std::strtod(s.c_str(), &end);
                if (s.empty() || end != s.c_str() + s.size()) return make_error(errc::invalid_argument, "Unable to make {} from '{}'", name, s);
                return via_literal(t, literal_kind::floating, s);
            }
            if (!j.is_number() && t.kind == type_kind::decimal) {
                return make_error(errc::invalid_argument, "Value '{}' is not a valid representation of a decimal value", java_text(j));
            }
            if (!j.is_number()) return mismatch(t.kind == type_kind::float_ ? "a float value" : "a double value", j);
            return via_literal(t, j.is_number_float() ? literal_kind::floating : literal_kind::integer, j.dump());
        }
        case type_kind::boolean:
            if (j.is_boolean()) return R(bool_value(j.get<bool>()));
            if (j.is_string()) {
                std::string s = j.get<std::string>();
                std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
                if (s == "true" || s == "false") return R(bool_value(s == "true"));
                return make_error(errc::invalid_argument, "Unable to make boolean from '{}'", j.get<std::string>());
            }
            return mismatch("a boolean value", j);
        case type_kind::uuid: case type_kind::timeuuid: {
            if (!j.is_string()) return mismatch("a string representation of a uuid", j);
            auto s = j.get<std::string>();
            if (!uuid_text(s)) return make_error(errc::invalid_argument, "Unable to make {} from '{}'", t.kind == type_kind::uuid ? "UUID" : "timeuuid", s);
            return via_literal(t, literal_kind::uuid, s);
        }
        case type_kind::timestamp: case type_kind::date: case type_kind::time:
            if (j.is_number_integer()) return via_literal(t, literal_kind::integer, j.dump());
            if (!j.is_string()) {
                return mismatch(t.kind == type_kind::timestamp ? "a long or a datestring representation of a timestamp value"
                                : t.kind == type_kind::date    ? "a string representation of a date value"
                                                               : "a string representation of a time value",
                                j);
            }
            return via_literal(t, literal_kind::string, j.get<std::string>());
        case type_kind::inet:
            if (!j.is_string()) return mismatch("a string representation of an inet value", j);
            return via_literal(t, literal_kind::string, j.get<std::string>());
        case type_kind::blob: {
            if (!j.is_string()) return mismatch("a string representation of a blob", j);
            auto s = j.get<std::string>();
            if (!s.starts_with("0x")) {
                return make_error(errc::invalid_argument, "Value '{}' is not a valid blob representation: String representation of "
                                  "blob is missing 0x prefix: {}", s, s);
            }
            bool hex = std::all_of(s.begin() + 2, s.end(), [](char c) { return std::isxdigit(uint8_t(c)); }) && s.size() % 2 == 0;
            if (!hex) return make_error(errc::invalid_argument, "Value '{}' is not a valid blob representation", s);
            return via_literal(t, literal_kind::hex, s);
        }
        case type_kind::list: case type_kind::set: case type_kind::map:
            return collection(t, j);
        case type_kind::tuple: {
            if (!j.is_array()) return mismatch("a list representation of a tuple", j);
            // Java's List.toString of the parsed items: "[5, x, 3]".
            auto java_list = [&] {
                std::string out = "[";
                for (size_t idx = 0; idx < j.size(); ++idx) out += (idx ? ", " : "") + (j[idx].is_string() ? j[idx].get<std::string>() : j[idx].dump());
                return out + "]";
            };
            if (j.size() > t.params.size()) {
                return make_error(errc::invalid_argument, "Tuple contains extra items (expected {}): {}", t.params.size(), java_list());
            }
            if (j.size() < t.params.size()) {
                return make_error(errc::invalid_argument, "Tuple is missing items (expected {}): {}", t.params.size(), java_list());
            }
            std::string out;
            writer w(out);
            for (size_t idx = 0; idx < t.params.size(); ++idx) {
                R v = idx < j.size() ? from_json(t.params[idx], j[idx]) : R(std::nullopt);
                if (!v) return v.err();
                w.bytes(*v);
            }
            return R(out);
        }
        case type_kind::udt: {
            if (!j.is_object()) return mismatch("a map", j);
            std::vector<std::optional<std::string>> parts(t.params.size());
            for (const auto& [key, value] : j.items()) {
                auto at = std::find(t.field_names.begin(), t.field_names.end(), key);
                if (at == t.field_names.end()) {
                    return make_error(errc::invalid_argument, "Unknown field '{}' in value of user defined type {}", key, t.udt_name);
                }
                auto v = from_json(t.params[size_t(at - t.field_names.begin())], value);
                if (!v) return v.err();
                parts[size_t(at - t.field_names.begin())] = *v;
            }
            return R(join_components(parts));
        }
        default:
            return make_error(errc::invalid_argument, "JSON values of type {} are not supported", t.name());
    }
}

}  // namespace

result<std::optional<std::string>> value_from_json(const cql_type& t, std::string_view text) {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return make_error(errc::invalid_argument, "Could not decode JSON string '{}'", text);
    return from_json(t, j);
}

result<std::vector<std::pair<const column_def_full*, std::optional<std::string>>>> row_from_json(const table_def& t, std::string_view text) {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return make_error(errc::invalid_argument, "Could not decode JSON string as a map: {}. (String was: {})",
                          j.is_discarded() ? "malformed JSON" : "not a JSON object", text);
    }
    std::vector<std::pair<const column_def_full*, std::optional<std::string>>> out;
    for (const auto& [key, value] : j.items()) {
        // Keys name columns as CQL identifiers do: lower-cased unless double-quoted.
        std::string name = key;
        if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
            name = name.substr(1, name.size() - 2);
        } else {
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        }
        const auto* col = t.find(name);
        if (col == nullptr) return make_error(errc::invalid_argument, "JSON values map contains unrecognized column: {}", name);
        auto v = from_json(col->type, value);
        if (!v) return make_error(errc::invalid_argument, "Error decoding JSON value for {}: {}", col->name, v.err().message());
        auto it = std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == col; });
        if (it != out.end()) it->second = *v;  // a repeated key: the last one wins
        else out.emplace_back(col, *v);
    }
    return out;
}

}  // namespace millrace::cql
