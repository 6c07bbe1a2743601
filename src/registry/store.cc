#include "store.h"

namespace millrace::registry {
namespace json = avro::json;

namespace {

error corrupt(std::string_view what) { return make_error(errc::corruption, "{}", what); }

const json::value* member(const json::value& v, std::string_view name, json::kind kind) {
    const json::value* m = v.find(name);
    if (m == nullptr) return nullptr;
    if (kind == json::kind::integer ? !m->is_integer() : m->type != kind) return nullptr;
    return m;
}

json::value subject_json(const std::optional<std::string>& subject) {
    return subject ? json::value::from_string(*subject) : json::value{};
}

}  // namespace

std::string schema_content::identity() const {
    std::string out = type + "\n" + text;
    for (const auto& ref : references) out += fmt::format("\n{}\n{}\n{}", ref.name, ref.subject, ref.version);
    return out;
}

std::vector<const version_entry*> subject_state::live() const {
    std::vector<const version_entry*> out;
    for (const auto& [number, entry] : versions) {
        if (!entry.deleted) out.push_back(&entry);
    }
    return out;
}

std::string store::schema_key(const std::string& subject, int version) {
    return fmt::format(R"({{"keytype":"SCHEMA","subject":{},"version":{},"magic":1}})", json::quote(subject), version);
}

std::string store::schema_value(const std::string& subject, int version, int id, const schema_content& content, bool deleted) {
    json::value v = json::value::object();
    v.set("subject", json::value::from_string(subject));
    v.set("version", json::value::from_int(version));
    v.set("id", json::value::from_int(id));
    if (content.type != "AVRO") v.set("schemaType", json::value::from_string(content.type));
    if (!content.references.empty()) {
        json::value refs = json::value::array();
        for (const auto& ref : content.references) {
            json::value r = json::value::object();
            r.set("name", json::value::from_string(ref.name));
            r.set("subject", json::value::from_string(ref.subject));
            r.set("version", json::value::from_int(ref.version));
            refs.items.push_back(std::move(r));
        }
        v.set("references", std::move(refs));
    }
    v.set("schema", json::value::from_string(content.text));
    v.set("deleted", json::value::from_bool(deleted));
    return json::dump(v);
}

std::string store::config_key(const std::optional<std::string>& subject) {
    return fmt::format(R"({{"keytype":"CONFIG","subject":{},"magic":0}})", json::dump(subject_json(subject)));
}
std::string store::config_value(const std::string& level) { return fmt::format(R"({{"compatibilityLevel":{}}})", json::quote(level)); }
std::string store::mode_key(const std::optional<std::string>& subject) {
    return fmt::format(R"({{"keytype":"MODE","subject":{},"magic":0}})", json::dump(subject_json(subject)));
}
std::string store::mode_value(const std::string& mode) { return fmt::format(R"({{"mode":{}}})", json::quote(mode)); }
std::string store::watermark_key() { return R"({"keytype":"ID_WATERMARK","magic":0})"; }
std::string store::watermark_value(int max_id) { return fmt::format(R"({{"max_id":{}}})", max_id); }

status store::apply(std::string_view key_text, std::optional<std::string_view> value_text) {
    auto key = json::parse(key_text);
    if (!key) return corrupt(fmt::format("key is not JSON ({})", key.err().message()));
    const json::value* keytype = member(*key, "keytype", json::kind::string);
    if (keytype == nullptr) return corrupt("key has no \"keytype\"");
    std::optional<json::value> value;
    if (value_text) {
        auto parsed = json::parse(*value_text);
        if (!parsed) return corrupt(fmt::format("value is not JSON ({})", parsed.err().message()));
        if (!parsed->is_null()) value = std::move(*parsed);
    }
    if (keytype->text == "SCHEMA") return apply_schema(*key, value);
    if (keytype->text == "CONFIG" || keytype->text == "MODE") {
        bool config = keytype->text == "CONFIG";
        const json::value* subject = key->find("subject");
        if (subject != nullptr && !subject->is_null() && !subject->is_string()) return corrupt("key \"subject\" is not a string");
        std::optional<std::string> setting;
        if (value) {
            const json::value* v = member(*value, config ? "compatibilityLevel" : "mode", json::kind::string);
            if (v == nullptr) return corrupt(fmt::format("{} value has no \"{}\"", keytype->text, config ? "compatibilityLevel" : "mode"));
            setting = v->text;
        }
        if (subject == nullptr || subject->is_null()) {
            (config ? global_compatibility_ : global_mode_) = setting;
        } else {
            subject_state& s = subjects_[subject->text];
            (config ? s.compatibility : s.mode) = setting;
        }
        return {};
    }
    if (keytype->text == "ID_WATERMARK") {
        if (value) {
            const json::value* id = member(*value, "max_id", json::kind::integer);
            if (id == nullptr) return corrupt("ID_WATERMARK value has no integer \"max_id\"");
            max_id_ = std::max<int>(max_id_, static_cast<int>(id->integer));
        }
        return {};
    }
    return {};  // NOOP, DELETE_SUBJECT, CLEAR_SUBJECT and others carry nothing we need
}

status store::apply_schema(const json::value& key, const std::optional<json::value>& value) {
    const json::value* subject = member(key, "subject", json::kind::string);
    const json::value* version = member(key, "version", json::kind::integer);
    if (subject == nullptr || version == nullptr) return corrupt("SCHEMA key needs a string \"subject\" and an integer \"version\"");
    int number = static_cast<int>(version->integer);
    if (!value) {
        auto it = subjects_.find(subject->text);
        if (it == subjects_.end()) return {};
        auto vit = it->second.versions.find(number);
        if (vit == it->second.versions.end()) return {};
        int id = vit->second.id;
        it->second.versions.erase(vit);
        release(id);
        return {};
    }
    const json::value* id = member(*value, "id", json::kind::integer);
    const json::value* text = member(*value, "schema", json::kind::string);
    if (id == nullptr || text == nullptr || id->integer <= 0 || id->integer > INT32_MAX) {
        return corrupt("SCHEMA value needs a positive integer \"id\" and a string \"schema\"");
    }
    schema_content content;
    content.text = text->text;
    if (const json::value* type = value->find("schemaType"); type && type->is_string()) content.type = type->text;
    if (const json::value* refs = value->find("references"); refs && refs->is_array()) {
        for (const auto& r : refs->items) {
            const json::value* name = member(r, "name", json::kind::string);
            const json::value* rs = member(r, "subject", json::kind::string);
            const json::value* rv = member(r, "version", json::kind::integer);
            if (!name || !rs || !rv) return corrupt("a reference needs \"name\", \"subject\" and \"version\"");
            content.references.push_back({name->text, rs->text, static_cast<int>(rv->integer)});
        }
    }
    bool deleted = false;
    if (const json::value* d = value->find("deleted"); d && d->is_bool()) deleted = d->boolean;
    int schema_id = static_cast<int>(id->integer);
    subject_state& s = subjects_[subject->text];
    auto [it, inserted] = s.versions.try_emplace(number, version_entry{number, schema_id, deleted});
    if (!inserted) {
        int old_id = it->second.id;
        it->second = version_entry{number, schema_id, deleted};
        ++refcount_[schema_id];
        release(old_id);
    } else {
        ++refcount_[schema_id];
    }
    if (!schemas_.count(schema_id)) schemas_[schema_id] = content;
    id_by_identity_.try_emplace(content.identity(), schema_id);
    max_id_ = std::max(max_id_, schema_id);
    return {};
}

void store::release(int id) {
    if (--refcount_[id] > 0) return;
    refcount_.erase(id);
    auto it = schemas_.find(id);
    if (it == schemas_.end()) return;
    auto identity = id_by_identity_.find(it->second.identity());
    if (identity != id_by_identity_.end() && identity->second == id) id_by_identity_.erase(identity);
    schemas_.erase(it);
}

const subject_state* store::subject(const std::string& name) const {
    auto it = subjects_.find(name);
    return it == subjects_.end() ? nullptr : &it->second;
}

const schema_content* store::schema_by_id(int id) const {
    auto it = schemas_.find(id);
    return it == schemas_.end() ? nullptr : &it->second;
}

int store::id_of(const schema_content& content) const {
    auto it = id_by_identity_.find(content.identity());
    return it == id_by_identity_.end() ? 0 : it->second;
}

std::vector<std::string> store::subject_names(bool include_deleted) const {
    std::vector<std::string> out;
    for (const auto& [name, s] : subjects_) {
        bool any = false;
        for (const auto& [number, entry] : s.versions) any = any || include_deleted || !entry.deleted;
        if (any) out.push_back(name);
    }
    return out;
}

std::vector<std::pair<std::string, int>> store::uses_of(int id, bool include_deleted) const {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& [name, s] : subjects_) {
        for (const auto& [number, entry] : s.versions) {
            if (entry.id == id && (include_deleted || !entry.deleted)) out.emplace_back(name, number);
        }
    }
    return out;
}

std::vector<int> store::referenced_by(const std::string& subject, int version) const {
    std::vector<int> out;
    for (const auto& [id, content] : schemas_) {
        for (const auto& ref : content.references) {
            if (ref.subject == subject && ref.version == version) {
                out.push_back(id);
                break;
            }
        }
    }
    return out;
}

}  // namespace millrace::registry
