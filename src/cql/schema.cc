#include "schema.h"

#include <algorithm>

#include "protocol/wire.h"
#include "storage/key_format.h"

namespace millrace::cql {

const column_def_full* table_def::find(const std::string& column) const {
    for (const auto& c : columns) {
        if (c.name == column) return &c;
    }
    return nullptr;
}

std::vector<const column_def_full*> table_def::select_order() const {
    std::vector<const column_def_full*> out;
    for (auto idx : partition_key) out.push_back(&columns[idx]);
    for (auto idx : clustering) out.push_back(&columns[idx]);
    // Cassandra's select order: the static columns by name, then the regular ones by name.
    for (auto kind : {column_kind::static_, column_kind::regular}) {
        std::vector<const column_def_full*> some;
        for (const auto& c : columns) {
            if (c.kind == kind) some.push_back(&c);
        }
        std::sort(some.begin(), some.end(), [](auto* a, auto* b) { return a->name < b->name; });
        out.insert(out.end(), some.begin(), some.end());
    }
    return out;
}

bool table_def::has_static() const {
    return std::any_of(columns.begin(), columns.end(), [](const auto& c) { return c.kind == column_kind::static_; });
}

std::string keyspace_key(const std::string& name) { return std::string{key_format::k_schema_space, 'k'} + name; }
std::string table_key(const std::string& keyspace, const std::string& table) {
    return std::string{key_format::k_schema_space, 't'} + keyspace + std::string(1, '\0') + table;
}
std::string udt_key(const std::string& keyspace, const std::string& name) {
    return std::string{key_format::k_schema_space, key_format::k_udt_kind} + keyspace + std::string(1, '\0') + name;
}
std::string next_table_id_key() { return std::string{key_format::k_schema_space, 'n'}; }

// Records: version byte 1, then the fields in the protocol's notation.
std::string encode_keyspace(const keyspace_def& k) {
    std::string out;
    writer w(out);
    w.byte(1);
    w.string(k.name);
    w.byte(k.durable_writes ? 1 : 0);
    w.uint16(static_cast<uint16_t>(k.replication.size()));
    for (const auto& [key, value] : k.replication) {
        w.string(key);
        w.string(value);
    }
    return out;
}

result<keyspace_def> decode_keyspace(std::string_view bytes) {
    try {
        reader r(bytes);
        if (r.byte() != 1) return make_error(errc::corruption, "keyspace record: unknown version");
        keyspace_def k;
        k.name = r.string();
        k.durable_writes = r.byte() != 0;
        k.replication = r.string_map();
        return k;
    } catch (const protocol_error& e) {
        return make_error(errc::corruption, "keyspace record of {} bytes: {}", bytes.size(), e.what());
    }
}

std::string encode_table(const table_def& t) {
    std::string out;
    writer w(out);
    w.byte(1);
    w.string(t.keyspace);
    w.string(t.name);
    w.int64(static_cast<int64_t>(t.id));
    w.short_bytes(t.uuid);
    w.uint16(t.next_column_id);
    w.uint16(static_cast<uint16_t>(t.columns.size()));
    for (const auto& c : t.columns) {
        w.string(c.name);
        w.string(c.type_text);
        w.byte(static_cast<uint8_t>(c.kind));
        w.int16(static_cast<int16_t>(c.position));
        w.byte(c.descending ? 1 : 0);
        w.uint16(c.id);
    }
    // Options (absent from records written before they existed).
    w.long_string(t.comment);
    w.int32(t.default_time_to_live);
    w.int32(t.gc_grace_seconds);
    // Secondary indexes (absent from records written before they existed).
    w.uint16(static_cast<uint16_t>(t.indexes.size()));
    for (const auto& i : t.indexes) {
        w.string(i.name);
        w.string(i.column);
        w.string(i.target);
    }
    return out;
}

std::string encode_udt(const udt_def& u) {
    std::string out;
    writer w(out);
    w.byte(1);
    w.string(u.keyspace);
    w.string(u.name);
    w.uint16(static_cast<uint16_t>(u.field_names.size()));
    for (size_t idx = 0; idx < u.field_names.size(); ++idx) {
        w.string(u.field_names[idx]);
        w.string(u.field_types[idx]);
    }
    return out;
}

result<udt_def> decode_udt(std::string_view bytes) {
    try {
        reader r(bytes);
        if (r.byte() != 1) return make_error(errc::corruption, "type record: unknown version");
        udt_def u;
        u.keyspace = r.string();
        u.name = r.string();
        uint16_t n = r.uint16();
        for (uint16_t idx = 0; idx < n; ++idx) {
            u.field_names.push_back(r.string());
            u.field_types.push_back(r.string());
        }
        return u;
    } catch (const protocol_error& e) {
        return make_error(errc::corruption, "type record of {} bytes: {}", bytes.size(), e.what());
    }
}

result<table_def> decode_table(std::string_view bytes, const catalog* types) {
    try {
        reader r(bytes);
        if (r.byte() != 1) return make_error(errc::corruption, "table record: unknown version");
        table_def t;
        t.keyspace = r.string();
        t.name = r.string();
        t.id = static_cast<uint64_t>(r.int64());
        t.uuid = r.short_bytes();
        t.next_column_id = r.uint16();
        uint16_t n = r.uint16();
        for (uint16_t idx = 0; idx < n; ++idx) {
            column_def_full c;
            c.name = r.string();
            c.type_text = r.string();
            auto type = types ? types->resolve_type(t.keyspace, c.type_text) : parse_type(c.type_text);
            if (!type) return make_error(errc::corruption, "table {}.{}: column {}: {}", t.keyspace, t.name, c.name, type.err().message());
            c.type = *type;
            c.kind = static_cast<column_kind>(r.byte());
            c.position = r.int16();
            c.descending = r.byte() != 0;
            c.id = r.uint16();
            t.columns.push_back(c);
        }
        if (r.remaining() > 0) {
            t.comment = r.long_string();
            t.default_time_to_live = r.int32();
            t.gc_grace_seconds = r.int32();
        }
        if (r.remaining() > 0) {
            uint16_t count = r.uint16();
            for (uint16_t idx = 0; idx < count; ++idx) {
                index_def i;
                i.name = r.string();
                i.column = r.string();
                i.target = r.string();
                t.indexes.push_back(std::move(i));
            }
        }
        for (size_t pos = 0;; ++pos) {
            bool found = false;
            for (size_t idx = 0; idx < t.columns.size(); ++idx) {
                if (t.columns[idx].kind == column_kind::partition_key && t.columns[idx].position == int(pos)) {
                    t.partition_key.push_back(idx);
                    found = true;
                }
                if (t.columns[idx].kind == column_kind::clustering && t.columns[idx].position == int(pos)) {
                    t.clustering.push_back(idx);
                    found = true;
                }
            }
            if (!found) break;
        }
        return t;
    } catch (const protocol_error& e) {
        return make_error(errc::corruption, "table record of {} bytes: {}", bytes.size(), e.what());
    }
}

std::shared_ptr<table_def> catalog::find_table(const std::string& keyspace, const std::string& table) const {
    auto it = tables.find({keyspace, table});
    return it == tables.end() ? nullptr : it->second;
}

const udt_def* catalog::find_type(const std::string& keyspace, const std::string& name) const {
    auto it = types.find({keyspace, name});
    return it == types.end() ? nullptr : &it->second;
}

std::optional<cql_type> catalog::udt_type(const std::string& ks, const std::string& name) const {
    const auto* u = find_type(ks, name);
    if (u == nullptr) return std::nullopt;
    cql_type out{type_kind::udt, {}, false};
    out.keyspace = ks;
    out.udt_name = name;
    out.field_names = u->field_names;
    for (const auto& f : u->field_types) {
        auto t = resolve_type(ks, f);
        if (!t) return std::nullopt;
        out.params.push_back(*t);
    }
    return out;
}

result<cql_type> catalog::resolve_type(const std::string& ks, std::string_view text) const {
    return parse_type(text, [&](const std::string& name) -> std::optional<cql_type> {
        auto dot = name.find('.');
        if (dot != std::string::npos) return udt_type(name.substr(0, dot), name.substr(dot + 1));
        return udt_type(ks, name);
    });
}

}  // namespace millrace::cql
