#include "millrace/avro/schema.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>

namespace millrace::avro {

struct schema::state {
    std::vector<std::unique_ptr<node>> nodes;
    std::map<std::string, const node*, std::less<>> named;
    const node* root = nullptr;
    std::string canonical;
    std::string normalized;
    uint64_t fingerprint = 0;
};

namespace {

constexpr std::array<std::pair<std::string_view, type>, 8> k_primitives = {{
    {"null", type::null}, {"boolean", type::boolean}, {"int", type::int_}, {"long", type::long_},
    {"float", type::float_}, {"double", type::double_}, {"bytes", type::bytes}, {"string", type::string},
}};

std::optional<type> primitive(std::string_view name) {
    for (const auto& [text, t] : k_primitives) {
        if (text == name) return t;
    }
    return std::nullopt;
}

bool valid_name(std::string_view name) {
    if (name.empty()) return false;
    if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
    return std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool valid_namespace(std::string_view ns) {
    if (ns.empty()) return true;
    size_t start = 0;
    for (;;) {
        size_t dot = ns.find('.', start);
        if (!valid_name(ns.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

std::string describe(const json::value& v) {
    std::string text = json::dump(v);
    return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

// Reserved attribute names per kind; everything else is a custom property.
bool reserved_attribute(std::string_view key) {
    static const std::array<std::string_view, 16> keys = {"type", "name", "namespace", "doc", "aliases", "fields",
                                                          "symbols", "items", "values", "size", "default",
                                                          "logicalType", "precision", "scale", "order", "default"};
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

bool matches_impl(const node& t, const json::value& v, bool as_default, std::string& path, std::string* why);

bool mismatch(const node& t, const json::value& v, const std::string& path, std::string* why) {
    if (why) {
        *why = fmt::format("{}{} is not a valid {}", path.empty() ? "" : path + ": ", describe(v),
                           is_named(t.type) ? fmt::format("{} '{}'", type_name(t.type), t.name) : std::string(type_name(t.type)));
    }
    return false;
}

bool matches_impl(const node& t, const json::value& v, bool as_default, std::string& path, std::string* why) {
    switch (t.type) {
        case type::null: return v.is_null() || mismatch(t, v, path, why);
        case type::boolean: return v.is_bool() || mismatch(t, v, path, why);
        case type::int_:
            return (v.is_integer() && v.integer >= INT32_MIN && v.integer <= INT32_MAX) || mismatch(t, v, path, why);
        case type::long_: return v.is_integer() || mismatch(t, v, path, why);
        case type::float_:
        case type::double_: return v.is_number() || mismatch(t, v, path, why);
        case type::bytes:
        case type::string: return v.is_string() || mismatch(t, v, path, why);
        case type::fixed:
            // Avro's JSON encoding of fixed is a string of `size` code points 0..255; we hold them as UTF-8 bytes
            // for code points above 127, so count code points rather than bytes.
            if (!v.is_string()) return mismatch(t, v, path, why);
            {
                int64_t points = 0;
                for (unsigned char c : v.text) points += (c & 0xC0) != 0x80;
                return points == t.size || (static_cast<int64_t>(v.text.size()) == t.size) || mismatch(t, v, path, why);
            }
        case type::enum_:
            return (v.is_string() && std::find(t.symbols.begin(), t.symbols.end(), v.text) != t.symbols.end()) ||
                   mismatch(t, v, path, why);
        case type::array: {
            if (!v.is_array()) return mismatch(t, v, path, why);
            for (size_t idx = 0; idx < v.items.size(); ++idx) {
                size_t mark = path.size();
                path += fmt::format("[{}]", idx);
                if (!matches_impl(*t.items, v.items[idx], as_default, path, why)) return false;
                path.resize(mark);
            }
            return true;
        }
        case type::map: {
            if (!v.is_object()) return mismatch(t, v, path, why);
            for (const auto& [key, item] : v.members) {
                size_t mark = path.size();
                path += fmt::format("[{}]", json::quote(key));
                if (!matches_impl(*t.items, item, as_default, path, why)) return false;
                path.resize(mark);
            }
            return true;
        }
        case type::record: {
            if (!v.is_object()) return mismatch(t, v, path, why);
            for (const auto& f : t.fields) {
                const json::value* member = v.find(f.name);
                size_t mark = path.size();
                path += (path.empty() ? "" : ".") + f.name;
                if (member == nullptr) {
                    if (!f.default_value) {
                        if (why) *why = fmt::format("{}: missing, and the field has no default", path);
                        return false;
                    }
                } else if (!matches_impl(*f.type, *member, as_default, path, why)) {
                    return false;
                }
                path.resize(mark);
            }
            return true;
        }
        case type::union_: {
            if (as_default) {
                // A union's default matches its first branch (spec 1.11).
                return matches_impl(*t.branches.front(), v, true, path, why);
            }
            if (v.is_object() && v.members.size() == 1) {
                // Avro's JSON encoding: {"type name": value}
                for (const node* branch : t.branches) {
                    std::string_view label = is_named(branch->type) ? std::string_view(branch->name) : type_name(branch->type);
                    if (label == v.members[0].first || (is_named(branch->type) && branch->short_name() == v.members[0].first)) {
                        return matches_impl(*branch, v.members[0].second, false, path, why);
                    }
                }
            }
            for (const node* branch : t.branches) {
                if (matches_impl(*branch, v, false, path, nullptr)) return true;
            }
            return mismatch(t, v, path, why);
        }
    }
    return false;
}

// ---- parsing --------------------------------------------------------------

class schema_parser {
public:
    explicit schema_parser(schema::state& st) : st_(st) {}

    result<const node*> parse(const json::value& v, const std::string& ns, const std::string& where) {
        if (v.is_string()) {
            if (auto p = primitive(v.text)) return make_primitive(*p);
            std::string full = v.text.find('.') == std::string::npos && !ns.empty() ? ns + "." + v.text : v.text;
            if (auto it = st_.named.find(full); it != st_.named.end()) return it->second;
            if (auto it = st_.named.find(v.text); it != st_.named.end()) return it->second;
            return make_error(errc::invalid_argument, "{}: unknown type name \"{}\"", where, v.text);
        }
        if (v.is_array()) return parse_union(v, ns, where);
        if (!v.is_object()) return make_error(errc::invalid_argument, "{}: a type must be a string, an object or an array, not {}", where, describe(v));
        const json::value* type_attr = v.find("type");
        if (type_attr == nullptr) return make_error(errc::invalid_argument, "{}: missing \"type\" attribute", where);
        if (!type_attr->is_string()) {
            // {"type": {...}} or {"type": [...]}: a wrapped type.
            return parse(*type_attr, ns, where);
        }
        const std::string& tname = type_attr->text;
        if (auto p = primitive(tname)) {
            auto n = std::make_unique<node>();
            n->type = *p;
            if (auto st = logical(*n, v, where); !st) return st.err();
            collect_props(*n, v);
            return keep(std::move(n));
        }
        if (tname == "record" || tname == "error") return parse_record(v, ns, where);
        if (tname == "enum") return parse_enum(v, ns, where);
        if (tname == "fixed") return parse_fixed(v, ns, where);
        if (tname == "array" || tname == "map") {
            auto n = std::make_unique<node>();
            n->type = tname == "array" ? type::array : type::map;
            const char* attr = tname == "array" ? "items" : "values";
            const json::value* inner = v.find(attr);
            if (inner == nullptr) return make_error(errc::invalid_argument, "{}: {} without \"{}\"", where, tname, attr);
            auto items = parse(*inner, ns, where + "." + attr);
            if (!items) return items.err();
            n->items = *items;
            collect_props(*n, v);
            return keep(std::move(n));
        }
        // A named type referenced as {"type": "Name"}.
        return parse(*type_attr, ns, where);
    }

private:
    const node* keep(std::unique_ptr<node> n) {
        st_.nodes.push_back(std::move(n));
        return st_.nodes.back().get();
    }
    const node* make_primitive(type t) {
        auto n = std::make_unique<node>();
        n->type = t;
        return keep(std::move(n));
    }

    static void collect_props(node& n, const json::value& v) {
        for (const auto& [key, value] : v.members) {
            if (!reserved_attribute(key)) n.props.emplace_back(key, value);
        }
        // logicalType that was not valid for this type is kept as a property, as the spec asks to ignore it.
        if (n.logical_type.empty()) {
            for (const char* key : {"logicalType", "precision", "scale"}) {
                if (const json::value* p = v.find(key)) n.props.emplace_back(key, *p);
            }
        }
        std::sort(n.props.begin(), n.props.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    }

    // Sets n.logical_type when the annotation is valid for the type; invalid ones are ignored (spec).
    status logical(node& n, const json::value& v, const std::string& where) {
        const json::value* lt = v.find("logicalType");
        if (lt == nullptr) return {};
        if (!lt->is_string()) return make_error(errc::invalid_argument, "{}: logicalType must be a string", where);
        const std::string& name = lt->text;
        if (name == "decimal") {
            if (n.type != type::bytes && n.type != type::fixed) return {};
            const json::value* precision = v.find("precision");
            const json::value* scale = v.find("scale");
            if (precision == nullptr || !precision->is_integer() || precision->integer <= 0) return {};
            if (scale != nullptr && (!scale->is_integer() || scale->integer < 0 || scale->integer > precision->integer)) return {};
            if (n.type == type::fixed) {
                // precision must fit in `size` bytes: floor(log10(2^(8*size-1) - 1))
                double max_digits = std::floor(std::log10(std::pow(2.0, 8.0 * static_cast<double>(n.size) - 1) - 1));
                if (static_cast<double>(precision->integer) > max_digits) return {};
            }
            n.logical_type = name;
            n.precision = static_cast<int>(precision->integer);
            n.scale = scale ? static_cast<int>(scale->integer) : 0;
            return {};
        }
        bool ok = (name == "uuid" && n.type == type::string) || (name == "date" && n.type == type::int_) ||
                  (name == "time-millis" && n.type == type::int_) || (name == "time-micros" && n.type == type::long_) ||
                  (name == "timestamp-millis" && n.type == type::long_) ||
                  (name == "timestamp-micros" && n.type == type::long_) ||
                  (name == "local-timestamp-millis" && n.type == type::long_) ||
                  (name == "local-timestamp-micros" && n.type == type::long_) ||
                  (name == "duration" && n.type == type::fixed && n.size == 12);
        if (ok) n.logical_type = name;
        return {};
    }

    result<std::string> full_name(const json::value& v, const std::string& ns, const std::string& where, std::string& new_ns) {
        const json::value* name = v.find("name");
        if (name == nullptr || !name->is_string()) return make_error(errc::invalid_argument, "{}: a named type needs a string \"name\"", where);
        std::string space = ns;
        if (const json::value* given = v.find("namespace")) {
            if (!given->is_string() && !given->is_null()) return make_error(errc::invalid_argument, "{}: namespace must be a string", where);
            space = given->is_string() ? given->text : std::string();
        }
        std::string full = name->text;
        size_t dot = full.rfind('.');
        if (dot != std::string::npos) {
            space = full.substr(0, dot);
            if (!valid_name(full.substr(dot + 1)) || !valid_namespace(space)) {
                return make_error(errc::invalid_argument, "{}: \"{}\" is not a valid name", where, full);
            }
        } else {
            if (!valid_name(full)) return make_error(errc::invalid_argument, "{}: \"{}\" is not a valid name ([A-Za-z_][A-Za-z0-9_]*)", where, full);
            if (!valid_namespace(space)) return make_error(errc::invalid_argument, "{}: \"{}\" is not a valid namespace", where, space);
            if (!space.empty()) full = space + "." + full;
        }
        if (primitive(full)) return make_error(errc::invalid_argument, "{}: \"{}\" redefines a primitive type", where, full);
        if (st_.named.count(full)) return make_error(errc::invalid_argument, "{}: type \"{}\" is defined twice", where, full);
        new_ns = space;
        return full;
    }

    status named_common(node& n, const json::value& v, const std::string& ns, const std::string& where) {
        if (const json::value* doc = v.find("doc"); doc && doc->is_string()) n.doc = doc->text;
        if (const json::value* aliases = v.find("aliases")) {
            if (!aliases->is_array()) return make_error(errc::invalid_argument, "{}: aliases must be an array of names", where);
            for (const auto& alias : aliases->items) {
                if (!alias.is_string() || !valid_namespace(alias.text)) {
                    return make_error(errc::invalid_argument, "{}: alias {} is not a valid name", where, describe(alias));
                }
                n.aliases.push_back(alias.text.find('.') == std::string::npos && !ns.empty() ? ns + "." + alias.text : alias.text);
            }
        }
        return {};
    }

    result<const node*> parse_record(const json::value& v, const std::string& ns, const std::string& where) {
        std::string inner_ns;
        auto full = full_name(v, ns, where, inner_ns);
        if (!full) return full.err();
        auto owned = std::make_unique<node>();
        node* n = owned.get();
        n->type = type::record;
        n->name = *full;
        keep(std::move(owned));
        st_.named[n->name] = n;  // before the fields: records may refer to themselves
        std::string here = fmt::format("record \"{}\"", n->name);
        if (auto st = named_common(*n, v, inner_ns, here); !st) return st.err();
        const json::value* fields = v.find("fields");
        if (fields == nullptr || !fields->is_array()) return make_error(errc::invalid_argument, "{}: \"fields\" must be an array", here);
        for (size_t idx = 0; idx < fields->items.size(); ++idx) {
            const json::value& fv = fields->items[idx];
            if (!fv.is_object()) return make_error(errc::invalid_argument, "{}: field {} is not an object", here, idx);
            const json::value* fname = fv.find("name");
            if (fname == nullptr || !fname->is_string() || !valid_name(fname->text)) {
                return make_error(errc::invalid_argument, "{}: field {} needs a valid \"name\"", here, idx);
            }
            std::string fwhere = fmt::format("{} field \"{}\"", here, fname->text);
            if (n->find_field(fname->text)) return make_error(errc::invalid_argument, "{}: duplicate field name", fwhere);
            const json::value* ftype = fv.find("type");
            if (ftype == nullptr) return make_error(errc::invalid_argument, "{}: missing \"type\"", fwhere);
            auto t = parse(*ftype, inner_ns, fwhere);
            if (!t) return t.err();
            field f;
            f.name = fname->text;
            f.type = *t;
            f.position = idx;
            if (const json::value* doc = fv.find("doc"); doc && doc->is_string()) f.doc = doc->text;
            if (const json::value* order = fv.find("order")) {
                if (!order->is_string() || (order->text != "ascending" && order->text != "descending" && order->text != "ignore")) {
                    return make_error(errc::invalid_argument, "{}: order must be ascending, descending or ignore", fwhere);
                }
                f.order = order->text;
            }
            if (const json::value* aliases = fv.find("aliases")) {
                if (!aliases->is_array()) return make_error(errc::invalid_argument, "{}: aliases must be an array", fwhere);
                for (const auto& alias : aliases->items) {
                    if (!alias.is_string() || !valid_name(alias.text)) {
                        return make_error(errc::invalid_argument, "{}: alias {} is not a valid name", fwhere, describe(alias));
                    }
                    f.aliases.push_back(alias.text);
                }
            }
            n->fields.push_back(std::move(f));
        }
        // Defaults are checked once every field's type is known (a default may use the record itself).
        for (size_t idx = 0; idx < fields->items.size(); ++idx) {
            const json::value* def = fields->items[idx].find("default");
            if (def == nullptr) continue;
            field& f = n->fields[idx];
            std::string path;
            std::string why;
            if (!matches_impl(*f.type, *def, true, path, &why)) {
                return make_error(errc::invalid_argument, "{} field \"{}\": invalid default {}: {}", here, f.name, describe(*def), why);
            }
            f.default_value = *def;
        }
        collect_props(*n, v);
        return n;
    }

    result<const node*> parse_enum(const json::value& v, const std::string& ns, const std::string& where) {
        std::string inner_ns;
        auto full = full_name(v, ns, where, inner_ns);
        if (!full) return full.err();
        auto n = std::make_unique<node>();
        n->type = type::enum_;
        n->name = *full;
        std::string here = fmt::format("enum \"{}\"", n->name);
        if (auto st = named_common(*n, v, inner_ns, here); !st) return st.err();
        const json::value* symbols = v.find("symbols");
        if (symbols == nullptr || !symbols->is_array()) return make_error(errc::invalid_argument, "{}: \"symbols\" must be an array", here);
        for (const auto& s : symbols->items) {
            if (!s.is_string() || !valid_name(s.text)) return make_error(errc::invalid_argument, "{}: symbol {} is not a valid name", here, describe(s));
            if (std::find(n->symbols.begin(), n->symbols.end(), s.text) != n->symbols.end()) {
                return make_error(errc::invalid_argument, "{}: symbol \"{}\" appears twice", here, s.text);
            }
            n->symbols.push_back(s.text);
        }
        if (const json::value* def = v.find("default")) {
            if (!def->is_string() || std::find(n->symbols.begin(), n->symbols.end(), def->text) == n->symbols.end()) {
                return make_error(errc::invalid_argument, "{}: default {} is not one of its symbols", here, describe(*def));
            }
            n->enum_default = def->text;
        }
        collect_props(*n, v);
        const node* out = keep(std::move(n));
        st_.named[out->name] = out;
        return out;
    }

    result<const node*> parse_fixed(const json::value& v, const std::string& ns, const std::string& where) {
        std::string inner_ns;
        auto full = full_name(v, ns, where, inner_ns);
        if (!full) return full.err();
        auto n = std::make_unique<node>();
        n->type = type::fixed;
        n->name = *full;
        std::string here = fmt::format("fixed \"{}\"", n->name);
        if (auto st = named_common(*n, v, inner_ns, here); !st) return st.err();
        const json::value* size = v.find("size");
        if (size == nullptr || !size->is_integer() || size->integer < 0 || size->integer > INT32_MAX) {
            return make_error(errc::invalid_argument, "{}: \"size\" must be a non-negative integer", here);
        }
        n->size = size->integer;
        if (auto st = logical(*n, v, here); !st) return st.err();
        collect_props(*n, v);
        const node* out = keep(std::move(n));
        st_.named[out->name] = out;
        return out;
    }

    result<const node*> parse_union(const json::value& v, const std::string& ns, const std::string& where) {
        auto n = std::make_unique<node>();
        n->type = type::union_;
        if (v.items.empty()) return make_error(errc::invalid_argument, "{}: a union needs at least one branch", where);
        std::vector<std::string> seen;
        for (size_t idx = 0; idx < v.items.size(); ++idx) {
            auto branch = parse(v.items[idx], ns, fmt::format("{} union branch {}", where, idx));
            if (!branch) return branch.err();
            const node* b = *branch;
            if (b->type == type::union_) return make_error(errc::invalid_argument, "{}: a union may not directly contain a union (branch {})", where, idx);
            std::string key = is_named(b->type) ? b->name : std::string(type_name(b->type));
            if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
                return make_error(errc::invalid_argument, "{}: union has two branches of type {}", where, key);
            }
            seen.push_back(key);
            n->branches.push_back(b);
        }
        return keep(std::move(n));
    }

    schema::state& st_;
};

// ---- writing --------------------------------------------------------------

class writer {
public:
    explicit writer(bool canonical) : canonical_(canonical) {}

    void write(std::string& out, const node& n, const std::string& ns) {
        if (is_named(n.type) && (written_.count(n.name) || n.external)) {
            json::append_quoted(out, n.name);
            return;
        }
        switch (n.type) {
            case type::union_:
                out.push_back('[');
                for (size_t idx = 0; idx < n.branches.size(); ++idx) {
                    if (idx > 0) out.push_back(',');
                    write(out, *n.branches[idx], ns);
                }
                out.push_back(']');
                return;
            case type::array:
            case type::map:
                out += n.type == type::array ? "{\"type\":\"array\",\"items\":" : "{\"type\":\"map\",\"values\":";
                write(out, *n.items, ns);
                extras(out, n);
                out.push_back('}');
                return;
            case type::record:
            case type::enum_:
            case type::fixed: {
                written_.insert(n.name);
                out += "{\"name\":";
                json::append_quoted(out, n.name);
                std::string own_ns = n.name.rfind('.') == std::string::npos ? "" : n.name.substr(0, n.name.rfind('.'));
                if (!canonical_ && own_ns.empty() && !ns.empty()) out += ",\"namespace\":\"\"";
                out += ",\"type\":";
                json::append_quoted(out, type_name(n.type));
                if (n.type == type::record) {
                    out += ",\"fields\":[";
                    for (size_t idx = 0; idx < n.fields.size(); ++idx) {
                        const field& f = n.fields[idx];
                        if (idx > 0) out.push_back(',');
                        out += "{\"name\":";
                        json::append_quoted(out, f.name);
                        out += ",\"type\":";
                        write(out, *f.type, own_ns);
                        if (!canonical_) {
                            if (f.default_value) out += ",\"default\":" + json::dump(*f.default_value);
                            if (!f.aliases.empty()) out += ",\"aliases\":" + string_array(f.aliases);
                            if (f.order != "ascending") out += ",\"order\":" + json::quote(f.order);
                            if (!f.doc.empty()) out += ",\"doc\":" + json::quote(f.doc);
                        }
                        out.push_back('}');
                    }
                    out.push_back(']');
                } else if (n.type == type::enum_) {
                    out += ",\"symbols\":" + string_array(n.symbols);
                    if (!canonical_ && n.enum_default) out += ",\"default\":" + json::quote(*n.enum_default);
                } else {
                    out += fmt::format(",\"size\":{}", n.size);
                }
                if (!canonical_) {
                    if (!n.aliases.empty()) out += ",\"aliases\":" + string_array(n.aliases);
                    if (!n.doc.empty()) out += ",\"doc\":" + json::quote(n.doc);
                }
                extras(out, n);
                out.push_back('}');
                return;
            }
            default:
                if (canonical_ || (n.logical_type.empty() && n.props.empty())) {
                    json::append_quoted(out, type_name(n.type));
                    return;
                }
                out += "{\"type\":";
                json::append_quoted(out, type_name(n.type));
                extras(out, n);
                out.push_back('}');
        }
    }

private:
    void extras(std::string& out, const node& n) {
        if (canonical_) return;
        if (!n.logical_type.empty()) {
            out += ",\"logicalType\":" + json::quote(n.logical_type);
            if (n.logical_type == "decimal") out += fmt::format(",\"precision\":{},\"scale\":{}", n.precision, n.scale);
        }
        for (const auto& [key, value] : n.props) {
            out.push_back(',');
            json::append_quoted(out, key);
            out.push_back(':');
            out += json::dump(value);
        }
    }
    static std::string string_array(const std::vector<std::string>& items) {
        std::string out = "[";
        for (size_t idx = 0; idx < items.size(); ++idx) {
            if (idx > 0) out.push_back(',');
            json::append_quoted(out, items[idx]);
        }
        return out + "]";
    }

    bool canonical_;
    std::set<std::string> written_;
};

}  // namespace

std::string_view type_name(type t) {
    switch (t) {
        case type::null: return "null";
        case type::boolean: return "boolean";
        case type::int_: return "int";
        case type::long_: return "long";
        case type::float_: return "float";
        case type::double_: return "double";
        case type::bytes: return "bytes";
        case type::string: return "string";
        case type::record: return "record";
        case type::enum_: return "enum";
        case type::array: return "array";
        case type::map: return "map";
        case type::union_: return "union";
        case type::fixed: return "fixed";
    }
    return "?";
}

bool is_named(type t) { return t == type::record || t == type::enum_ || t == type::fixed; }

const field* node::find_field(std::string_view field_name) const {
    for (const auto& f : fields) {
        if (f.name == field_name) return &f;
    }
    return nullptr;
}

std::string_view node::short_name() const {
    size_t dot = name.rfind('.');
    return dot == std::string::npos ? std::string_view(name) : std::string_view(name).substr(dot + 1);
}

uint64_t fingerprint64(std::string_view bytes) {
    static const std::array<uint64_t, 256> table = [] {
        constexpr uint64_t k_empty = 0xc15d213aa4d7a795ULL;
        std::array<uint64_t, 256> t{};
        for (uint64_t idx = 0; idx < 256; ++idx) {
            uint64_t fp = idx;
            for (int bit = 0; bit < 8; ++bit) fp = (fp >> 1) ^ (k_empty & (0 - (fp & 1)));
            t[idx] = fp;
        }
        return t;
    }();
    uint64_t fp = 0xc15d213aa4d7a795ULL;
    for (unsigned char c : bytes) fp = (fp >> 8) ^ table[(fp ^ c) & 0xff];
    return fp;
}

result<schema> schema::parse(std::string_view text, const std::vector<std::string>& references) {
    auto st = std::make_shared<state>();
    schema_parser parser(*st);
    for (size_t idx = 0; idx < references.size(); ++idx) {
        auto doc = json::parse(references[idx]);
        if (!doc) return doc.err().with_context(fmt::format("reference {}: not JSON", idx));
        auto ref = parser.parse(*doc, "", fmt::format("reference {}", idx));
        if (!ref) return ref.err();
        for (auto& n : st->nodes) n->external = true;
    }
    result<json::value> doc = json::value{};
    std::string_view trimmed = text;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) trimmed.remove_prefix(1);
    if (!trimmed.empty() && (std::isalpha(static_cast<unsigned char>(trimmed.front())) || trimmed.front() == '_') &&
        trimmed != "null" && trimmed != "true" && trimmed != "false") {
        // A bare primitive or type name, as Confluent accepts ("string").
        std::string_view bare = trimmed;
        while (!bare.empty() && std::isspace(static_cast<unsigned char>(bare.back()))) bare.remove_suffix(1);
        doc = json::value::from_string(std::string(bare));
    } else {
        doc = json::parse(text);
        if (!doc) return doc.err().with_context("schema is not JSON");
    }
    auto root = parser.parse(*doc, "", "schema");
    if (!root) return root.err();
    st->root = *root;
    writer(true).write(st->canonical, *st->root, "");
    writer(false).write(st->normalized, *st->root, "");
    st->fingerprint = fingerprint64(st->canonical);
    schema out;
    out.state_ = std::move(st);
    return out;
}

const node& schema::root() const { return *state_->root; }
const std::string& schema::canonical_form() const { return state_->canonical; }
uint64_t schema::fingerprint() const { return state_->fingerprint; }
const std::string& schema::normalized() const { return state_->normalized; }

const node* schema::find_named(std::string_view full_name) const {
    auto it = state_->named.find(full_name);
    return it == state_->named.end() ? nullptr : it->second;
}

bool json_matches(const node& t, const json::value& datum, std::string* why) {
    std::string path;
    return matches_impl(t, datum, false, path, why);
}

}  // namespace millrace::avro
