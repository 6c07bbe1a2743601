#include "json_schema.h"

#include <algorithm>
#include <optional>
#include <set>

namespace millrace::registry::json_schema {
namespace json = avro::json;
namespace {

const std::set<std::string> k_types = {"null", "boolean", "object", "array", "number", "integer", "string"};

status check_structure(const json::value& v, const std::string& path, int depth) {
    if (depth > 200) return make_error(errc::invalid_argument, "{}: nested deeper than 200 levels", path);
    if (v.is_bool()) return {};
    if (!v.is_object()) return make_error(errc::invalid_argument, "{}: a schema must be an object or a boolean", path.empty() ? "/" : path);
    if (const json::value* t = v.find("type")) {
        std::vector<const json::value*> names;
        if (t->is_array()) {
            for (const auto& item : t->items) names.push_back(&item);
        } else {
            names.push_back(t);
        }
        for (const json::value* name : names) {
            if (!name->is_string() || !k_types.count(name->text)) {
                return make_error(errc::invalid_argument, "{}/type: {} is not a JSON Schema type", path, json::dump(*name));
            }
        }
    }
    if (const json::value* props = v.find("properties")) {
        if (!props->is_object()) return make_error(errc::invalid_argument, "{}/properties: must be an object", path);
        for (const auto& [name, sub] : props->members) {
            if (auto st = check_structure(sub, path + "/properties/" + name, depth + 1); !st) return st;
        }
    }
    if (const json::value* required = v.find("required")) {
        if (!required->is_array() || !std::all_of(required->items.begin(), required->items.end(), [](const auto& i) { return i.is_string(); })) {
            return make_error(errc::invalid_argument, "{}/required: must be an array of strings", path);
        }
    }
    if (const json::value* items = v.find("items"); items && !items->is_array()) {
        if (auto st = check_structure(*items, path + "/items", depth + 1); !st) return st;
    }
    if (const json::value* extra = v.find("additionalProperties")) {
        if (auto st = check_structure(*extra, path + "/additionalProperties", depth + 1); !st) return st;
    }
    if (const json::value* e = v.find("enum"); e && !e->is_array()) return make_error(errc::invalid_argument, "{}/enum: must be an array", path);
    return {};
}

std::set<std::string> types_of(const json::value& v) {
    std::set<std::string> out;
    if (!v.is_object()) return out;
    const json::value* t = v.find("type");
    if (t == nullptr) return out;  // empty: any type
    if (t->is_string()) out.insert(t->text);
    for (const auto& item : t->items) {
        if (item.is_string()) out.insert(item.text);
    }
    return out;
}

bool accepts_anything(const json::value& v) {
    return (v.is_bool() && v.boolean) || (v.is_object() && v.members.empty());
}

bool closed(const json::value& v) {
    const json::value* extra = v.find("additionalProperties");
    return extra != nullptr && extra->is_bool() && !extra->boolean;
}

std::optional<double> number(const json::value& v, const char* name) {
    const json::value* m = v.find(name);
    if (m == nullptr || !m->is_number()) return std::nullopt;
    return m->number;
}

class checker {
public:
    void check(const json::value& w, const json::value& r, const std::string& path) {
        if (accepts_anything(r)) return;
        if (r.is_bool()) {  // false accepts nothing
            if (!(w.is_bool() && !w.boolean)) add("TYPE_NARROWED", path, "the new schema is false and accepts nothing");
            return;
        }
        if (w.is_bool()) {
            if (w.boolean) add("TYPE_NARROWED", path, "the old schema accepted any value; the new one restricts it");
            return;
        }
        std::set<std::string> wt = types_of(w);
        std::set<std::string> rt = types_of(r);
        if (!rt.empty()) {
            if (wt.empty()) {
                add("TYPE_NARROWED", path + "/type", "the old schema allowed any type; the new one allows only " + join(rt));
            } else {
                for (const auto& t : wt) {
                    if (!rt.count(t) && !(t == "integer" && rt.count("number"))) {
                        add("TYPE_CHANGED", path + "/type", fmt::format("type \"{}\" is no longer allowed (now {})", t, join(rt)));
                    }
                }
            }
        }
        bounds(w, r, path);
        if (const json::value* re = r.find("enum")) {
            const json::value* we = w.find("enum");
            if (we == nullptr) {
                add("ENUM_ARRAY_NARROWED", path + "/enum", "the new schema limits the values to an enum");
            } else {
                for (const auto& item : we->items) {
                    if (std::find(re->items.begin(), re->items.end(), item) == re->items.end()) {
                        add("ENUM_ARRAY_NARROWED", path + "/enum", fmt::format("value {} was removed from the enum", json::dump(item)));
                    }
                }
            }
        }
        objects(w, r, path);
        const json::value* wi = w.find("items");
        const json::value* ri = r.find("items");
        if (ri != nullptr && !ri->is_array()) {
            if (wi == nullptr) {
                if (!accepts_anything(*ri)) add("ITEMS_NARROWED", path + "/items", "array items are now constrained");
            } else if (!wi->is_array()) {
                check(*wi, *ri, path + "/items");
            }
        }
    }

    std::vector<std::string> reasons;

private:
    static std::string join(const std::set<std::string>& s) {
        std::string out;
        for (const auto& t : s) out += (out.empty() ? "" : ", ") + t;
        return "[" + out + "]";
    }

    void bounds(const json::value& w, const json::value& r, const std::string& path) {
        for (const char* name : {"maxLength", "maximum", "maxItems", "maxProperties"}) {
            auto rv = number(r, name);
            auto wv = number(w, name);
            if (rv && (!wv || *rv < *wv)) add(fmt::format("{}_DECREASED", upper(name)), path + "/" + name, fmt::format("{} is lower than before", name));
        }
        for (const char* name : {"minLength", "minimum", "minItems", "minProperties"}) {
            auto rv = number(r, name);
            auto wv = number(w, name);
            if (rv && (!wv || *rv > *wv)) add(fmt::format("{}_INCREASED", upper(name)), path + "/" + name, fmt::format("{} is higher than before", name));
        }
    }

    static std::string upper(std::string_view name) {
        std::string out;
        for (char c : name) {
            if (std::isupper(static_cast<unsigned char>(c))) out.push_back('_');
            out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        }
        return out;
    }

    void objects(const json::value& w, const json::value& r, const std::string& path) {
        static const json::value k_empty = json::value::object();
        const json::value* wp = w.find("properties");
        const json::value* rp = r.find("properties");
        if (const json::value* rr = r.find("required")) {
            const json::value* wr = w.find("required");
            for (const auto& name : rr->items) {
                bool had = wr != nullptr && std::find(wr->items.begin(), wr->items.end(), name) != wr->items.end();
                if (!had) add("REQUIRED_PROPERTY_ADDED", path + "/required", fmt::format("property {} is now required", json::dump(name)));
            }
        }
        if (rp != nullptr) {
            for (const auto& [name, rs] : rp->members) {
                const json::value* ws = wp ? wp->find(name) : nullptr;
                std::string sub = path + "/properties/" + name;
                if (ws != nullptr) {
                    check(*ws, rs, sub);
                } else if (!closed(w) && !accepts_anything(rs)) {
                    const json::value* extra = w.find("additionalProperties");
                    if (extra != nullptr && extra->is_object()) {
                        check(*extra, rs, sub);
                    } else {
                        add("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", sub,
                            fmt::format("property \"{}\" was added with constraints where the old schema allowed any value", name));
                    }
                }
            }
        }
        if (wp != nullptr && closed(r)) {
            for (const auto& [name, ws] : wp->members) {
                if (rp == nullptr || rp->find(name) == nullptr) {
                    add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", path + "/properties/" + name,
                        fmt::format("property \"{}\" was removed and additional properties are not allowed", name));
                }
            }
        }
        const json::value* re = r.find("additionalProperties");
        if (re != nullptr && !closed(w)) {
            const json::value* we = w.find("additionalProperties");
            if (closed(r)) {
                add("ADDITIONAL_PROPERTIES_REMOVED", path + "/additionalProperties", "additional properties are no longer allowed");
            } else if (re->is_object()) {
                check(we ? *we : k_empty, *re, path + "/additionalProperties");
            }
        }
    }

    void add(std::string kind, std::string path, std::string message) {
        reasons.push_back(fmt::format("{} at {}: {}", kind, path.empty() ? "/" : path, message));
    }
};

}  // namespace

result<json::value> parse(std::string_view text) {
    auto doc = json::parse(text);
    if (!doc) return doc.err().with_context("schema is not JSON");
    if (auto st = check_structure(*doc, "", 0); !st) return st.err();
    return doc;
}

std::vector<std::string> check_can_read(const json::value& writer, const json::value& reader) {
    checker c;
    c.check(writer, reader, "");
    return std::move(c.reasons);
}

}  // namespace millrace::registry::json_schema
