#include "statements/statement_runner.h"

#include <algorithm>
#include <sstream>

#include "storage/murmur3.h"

namespace millrace::cql {

asio::awaitable<response> statement_runner::create_keyspace(const create_keyspace_stmt& s) {
    if (ex.catalog_.keyspaces.count(s.keyspace) || is_system_keyspace(s.keyspace)) {
        if (s.if_not_exists) co_return void_result();
        co_return request_error{error_code::already_exists, fmt::format("Keyspace {} already exists", s.keyspace), s.keyspace, "", ""};
    }
    auto cls = s.replication.find("class");
    if (cls == s.replication.end()) co_return request_error{error_code::config_error, "Missing replication strategy class", {}, {}, {}};
    keyspace_def k{s.keyspace, s.replication, s.durable_writes};
    mutation m;
    m.puts.emplace_back(keyspace_key(k.name), encode_keyspace(k));
    auto res = co_await apply(std::move(m));
    if (!res.st) co_return server_error(res);
    if (ex.catalog_.keyspaces.count(s.keyspace)) co_return void_result();
    ex.catalog_.keyspaces[k.name] = k;
    bump_schema_version();
    co_return schema_change_result("CREATED", "KEYSPACE", k.name, "");
}

asio::awaitable<response> statement_runner::create_table(const create_table_stmt& s) {
    std::string ks = keyspace_of(s.keyspace);
    if (ks.empty()) co_return invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename");
    if (ex.catalog_.keyspaces.count(ks) == 0) co_return invalid(fmt::format("Keyspace '{}' does not exist", ks));
    if (ex.catalog_.find_table(ks, s.table)) {
        if (s.if_not_exists) co_return void_result();
        co_return request_error{error_code::already_exists, fmt::format("Table {}.{} already exists", ks, s.table), ks, s.table, ""};
    }
    auto t = std::make_shared<table_def>();
    t->keyspace = ks;
    t->name = s.table;
    if (s.partition_key.empty()) co_return invalid("No PRIMARY KEY specifed (exactly one required)");
    for (const auto& c : s.columns) {
        if (t->find(c.name)) co_return invalid(fmt::format("Multiple definition of identifier {}", c.name));
        auto type = column_type(ks, c.type);
        if (!type) co_return invalid(type.err().message());
        column_def_full col;
        col.name = c.name;
        col.type = *type;
        col.type_text = type->name();
        col.id = t->next_column_id++;
        if (c.is_static) col.kind = column_kind::static_;
        t->columns.push_back(col);
    }
    auto mark = [&](const std::vector<std::string>& names, column_kind kind, std::vector<size_t>& out) -> std::optional<request_error> {
        for (size_t pos = 0; pos < names.size(); ++pos) {
            auto it = std::find_if(t->columns.begin(), t->columns.end(), [&](auto& c) { return c.name == names[pos]; });
            if (it == t->columns.end()) return invalid(fmt::format("Unknown definition {} referenced in PRIMARY KEY", names[pos]));
            if (it->kind == column_kind::static_) return invalid(fmt::format("Static column '{}' cannot be part of the PRIMARY KEY", names[pos]));
            if (it->kind != column_kind::regular) return invalid(fmt::format("Multiple definition of identifier {} in PRIMARY KEY", names[pos]));
            if (kind != column_kind::regular && it->type.is_collection() && !it->type.frozen) {
                return invalid(fmt::format("Invalid non-frozen collection type for PRIMARY KEY component {}", names[pos]));
            }
            if (kind != column_kind::regular && it->type.kind == type_kind::udt && !it->type.frozen) {
                return invalid(fmt::format("Invalid non-frozen user-defined type for PRIMARY KEY component {}", names[pos]));
            }
            it->kind = kind;
            it->position = static_cast<int>(pos);
            it->id = 0xFFFF;  // key columns have no cells
            out.push_back(static_cast<size_t>(it - t->columns.begin()));
        }
        return std::nullopt;
    };
    if (auto e = mark(s.partition_key, column_kind::partition_key, t->partition_key)) co_return *e;
    if (auto e = mark(s.clustering, column_kind::clustering, t->clustering)) co_return *e;
    if (t->clustering.empty() && t->has_static()) {
        co_return invalid("Static columns are only useful (and thus allowed) if the table has at least one clustering column");
    }
    for (const auto& [name, desc] : s.descending) {
        auto it = std::find_if(t->columns.begin(), t->columns.end(), [&](auto& c) { return c.name == name; });
        if (it == t->columns.end() || it->kind != column_kind::clustering) {
            co_return invalid(fmt::format("Only clustering key columns can be defined in CLUSTERING ORDER directive: {}", name));
        }
        it->descending = desc;
    }
    if (auto e = apply_table_options(*t, s.comment, s.default_time_to_live, s.gc_grace_seconds)) co_return *e;
    t->id = ex.catalog_.next_table_id;
    uint64_t halves[2];
    murmur3_x64_128(fmt::format("{}.{}#{}", ks, s.table, t->id), 0x7461626c, halves);
    t->uuid = uuid_value_from_string(fmt::format("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", uint32_t(halves[0] >> 32),
                                                 uint32_t(halves[0] >> 16) & 0xFFFF, uint32_t(halves[0]) & 0xFFF,
                                                 uint32_t(halves[1] >> 48) & 0xFFF, halves[1] & 0xFFFFFFFFFFFFULL));
    mutation m;
    std::string next;
    kf::put_be(next, t->id + 1, 8);
    m.puts.emplace_back(next_table_id_key(), next);
    m.puts.emplace_back(table_key(ks, t->name), encode_table(*t));
    auto res = co_await apply(std::move(m));
    if (!res.st) co_return server_error(res);
    ex.catalog_.next_table_id = std::max(ex.catalog_.next_table_id, t->id + 1);
    ex.catalog_.tables[{ks, t->name}] = t;
    ex.store_.purge().set_gc_grace(t->id, t->gc_grace_seconds);
    bump_schema_version();
    co_return schema_change_result("CREATED", "TABLE", ks, t->name);
}

std::optional<request_error> statement_runner::apply_table_options(table_def& t, const std::optional<std::string>& comment,
                                                        const std::optional<int64_t>& default_ttl,
                                                        const std::optional<int64_t>& gc_grace) {
    if (comment) t.comment = *comment;
    if (default_ttl) {
        if (*default_ttl < 0 || *default_ttl > 630720000) {
            return invalid(fmt::format("default_time_to_live must be between 0 and 630720000, got {}", *default_ttl));
        }
        t.default_time_to_live = static_cast<int32_t>(*default_ttl);
    }
    if (gc_grace) {
        if (*gc_grace < 0 || *gc_grace > INT32_MAX) return invalid(fmt::format("gc_grace_seconds must be non-negative, got {}", *gc_grace));
        t.gc_grace_seconds = static_cast<int32_t>(*gc_grace);
    }
    return std::nullopt;
}

asio::awaitable<response> statement_runner::drop(const drop_stmt& s) {
    mutation m;
    if (s.keyspace_level) {
        if (ex.catalog_.keyspaces.count(s.keyspace) == 0) {
            if (s.if_exists) co_return void_result();
            co_return invalid(fmt::format("Keyspace '{}' doesn't exist", s.keyspace));
        }
        std::vector<std::pair<std::string, std::string>> gone;
        for (const auto& [key, t] : ex.catalog_.tables) {
            if (key.first != s.keyspace) continue;
            m.delete_ranges.emplace_back(kf::table_prefix(t->id), kf::prefix_end(kf::table_prefix(t->id)));
            m.delete_ranges.emplace_back(table_key(key.first, key.second), table_key(key.first, key.second) + std::string(1, '\0'));
            gone.push_back(key);
        }
        m.delete_ranges.emplace_back(keyspace_key(s.keyspace), keyspace_key(s.keyspace) + std::string(1, '\0'));
        m.delete_ranges.emplace_back(udt_key(s.keyspace, ""), kf::prefix_end(udt_key(s.keyspace, "")));
        auto res = co_await apply(std::move(m));
        if (!res.st) co_return server_error(res);
        for (const auto& key : gone) ex.catalog_.tables.erase(key);
        std::erase_if(ex.catalog_.types, [&](const auto& e) { return e.first.first == s.keyspace; });
        ex.catalog_.keyspaces.erase(s.keyspace);
        if (sess.keyspace == s.keyspace) sess.keyspace.clear();
        bump_schema_version();
        co_return schema_change_result("DROPPED", "KEYSPACE", s.keyspace, "");
    }
    std::string ks = keyspace_of(s.keyspace);
    auto t = ex.catalog_.find_table(ks, s.table);
    if (!t) {
        if (s.if_exists && ex.catalog_.keyspaces.count(ks)) co_return void_result();
        co_return invalid(fmt::format("Table '{}.{}' doesn't exist", ks, s.table));
    }
    m.delete_ranges.emplace_back(kf::table_prefix(t->id), kf::prefix_end(kf::table_prefix(t->id)));
    m.delete_ranges.emplace_back(table_key(ks, s.table), table_key(ks, s.table) + std::string(1, '\0'));
    auto res = co_await apply(std::move(m));
    if (!res.st) co_return server_error(res);
    ex.catalog_.tables.erase({ks, s.table});
    bump_schema_version();
    co_return schema_change_result("DROPPED", "TABLE", ks, s.table);
}

asio::awaitable<response> statement_runner::truncate(const truncate_stmt& s) {
    auto t = table(s.keyspace, s.table);
    if (!t) co_return invalid(t.err().message());
    mutation m;
    m.delete_ranges.emplace_back(kf::table_prefix((*t)->id), kf::prefix_end(kf::table_prefix((*t)->id)));
    auto res = co_await apply(std::move(m));
    if (!res.st) co_return server_error(res);
    co_return void_result();
}

asio::awaitable<response> statement_runner::alter(const alter_table_stmt& s) {
    auto t = table(s.keyspace, s.table);
    if (!t) co_return invalid(t.err().message());
    auto copy = std::make_shared<table_def>(**t);
    if (auto e = apply_table_options(*copy, s.comment, s.default_time_to_live, s.gc_grace_seconds)) co_return *e;
    for (const auto& c : s.add) {
        if (copy->find(c.name)) co_return invalid(fmt::format("Invalid column name {} because it conflicts with an existing column", c.name));
        auto type = column_type(copy->keyspace, c.type);
        if (!type) co_return invalid(type.err().message());
        column_def_full col;
        col.name = c.name;
        col.type = *type;
        col.type_text = type->name();
        col.id = copy->next_column_id++;
        if (c.is_static) {
            if (copy->clustering.empty()) {
                co_return invalid("Static columns are only useful (and thus allowed) if the table has at least one clustering column");
            }
            col.kind = column_kind::static_;
        }
        copy->columns.push_back(col);
    }
    for (const auto& name : s.drop) {
        auto it = std::find_if(copy->columns.begin(), copy->columns.end(), [&](auto& c) { return c.name == name; });
        if (it == copy->columns.end()) co_return invalid(fmt::format("Column {} was not found in table {}", name, s.table));
        if (it->kind != column_kind::regular && it->kind != column_kind::static_) co_return invalid(fmt::format("Cannot drop PRIMARY KEY part {}", name));
        std::string dependent;
        for (const auto& i : copy->indexes) {
            if (i.column == name) dependent += (dependent.empty() ? "" : ",") + i.name;
        }
        if (!dependent.empty()) {
            co_return invalid(fmt::format("Cannot drop column {} because it has dependent secondary indexes ({})", name, dependent));
        }
        copy->columns.erase(it);
    }
    // Key column indexes may have moved.
    copy->partition_key.clear();
    copy->clustering.clear();
    for (size_t pos = 0;; ++pos) {
        bool found = false;
        for (size_t idx = 0; idx < copy->columns.size(); ++idx) {
            const auto& c = copy->columns[idx];
            if (c.position != int(pos)) continue;
            if (c.kind == column_kind::partition_key) copy->partition_key.push_back(idx), found = true;
            if (c.kind == column_kind::clustering) copy->clustering.push_back(idx), found = true;
        }
        if (!found) break;
    }
    mutation m;
    m.puts.emplace_back(table_key(copy->keyspace, copy->name), encode_table(*copy));
    auto res = co_await apply(std::move(m));
    if (!res.st) co_return server_error(res);
    ex.catalog_.tables[{copy->keyspace, copy->name}] = copy;
    ex.store_.purge().set_gc_grace(copy->id, copy->gc_grace_seconds);
    bump_schema_version();
    co_return schema_change_result("UPDATED", "TABLE", copy->keyspace, copy->name);
}

namespace {
bool index_name_taken(const catalog& c, const std::string& ks, const std::string& name) {
    for (const auto& [key, t] : c.tables) {
        if (key.first != ks) continue;
        for (const auto& i : t->indexes) {
            if (i.name == name) return true;
        }
    }
    return false;
}
}  // namespace

const index_def* statement_runner::index_for(const table_def& t, const column_def_full& column, relation_op op) {
    for (const auto& i : t.indexes) {
        if (i.column != column.name) continue;
        if (op == relation_op::eq && (i.target.empty() || i.target == "full")) return &i;
        if (op == relation_op::contains && i.target == "values") return &i;
        if (op == relation_op::contains_key && i.target == "keys") return &i;
        if (op == relation_op::map_entry && i.target == "entries") return &i;
    }
    return nullptr;
}

asio::awaitable<response> statement_runner::create_index(const create_index_stmt& s) {
    std::string ks = keyspace_of(s.keyspace);
    if (ks.empty()) co_return invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename");
    if (ex.catalog_.keyspaces.count(ks) == 0) co_return invalid(fmt::format("Keyspace '{}' doesn't exist", ks));
    auto t = ex.catalog_.find_table(ks, s.table);
    if (!t) co_return invalid(fmt::format("Table '{}' doesn't exist", s.table));
    const auto* col = t->find(s.column);
    if (col == nullptr) co_return invalid(fmt::format("Undefined column name {} in table {}.{}", s.column, ks, s.table));
    if (col->kind == column_kind::partition_key && t->partition_key.size() == 1) {
        co_return invalid(fmt::format("Cannot create secondary index on the only partition key column {}", col->name));
    }
    index_def idx{s.name, col->name, s.target};
    bool collection = col->type.is_collection();
    bool is_map = col->type.kind == type_kind::map;
    if (idx.target.empty() && collection && !col->type.frozen) idx.target = "values";
    if ((idx.target == "keys" || idx.target == "entries") && !is_map) {
        co_return invalid(fmt::format("Cannot create index on {} of column {} with non-map type", idx.target, col->name));
    }
    if (idx.target == "values" && !collection) {
        co_return invalid(fmt::format("Cannot create index on values() of column {} with non-collection type", col->name));
    }
    if (collection && col->type.frozen && idx.target != "full") {
        co_return invalid(fmt::format("Cannot create {}() index on frozen column {}. Frozen collections are immutable and must be fully "
                                      "indexed by using the 'full({})' modifier", idx.target.empty() ? "values" : idx.target, col->name,
                                      col->name));
    }
    if (idx.target == "full" && !(collection && col->type.frozen)) {
        co_return invalid("full() indexes can only be created on frozen collections");
    }
    if (idx.name.empty()) {
        std::string base = fmt::format("{}_{}_idx", t->name, col->name);
        idx.name = base;
        for (int n = 1; index_name_taken(ex.catalog_, ks, idx.name); ++n) idx.name = fmt::format("{}_{}", base, n);
    } else if (index_name_taken(ex.catalog_, ks, idx.name)) {
        if (s.if_not_exists) co_return void_result();
        co_return invalid(fmt::format("Index '{}' already exists", idx.name));
    }
    for (const auto& existing : t->indexes) {
        if (existing.column == idx.column && existing.target == idx.target) {
            if (s.if_not_exists) co_return void_result();
            co_return invalid(fmt::format("Index {} is a duplicate of existing index {}", idx.name, existing.name));
        }
    }
    auto copy = std::make_shared<table_def>(*t);
    copy->indexes.push_back(std::move(idx));
    co_return co_await replace_table(std::move(copy));
}

asio::awaitable<response> statement_runner::drop_index(const drop_index_stmt& s) {
    std::string ks = keyspace_of(s.keyspace);
    for (const auto& [key, t] : ex.catalog_.tables) {
        if (key.first != ks) continue;
        auto it = std::find_if(t->indexes.begin(), t->indexes.end(), [&](const auto& i) { return i.name == s.name; });
        if (it == t->indexes.end()) continue;
        auto copy = std::make_shared<table_def>(*t);
        copy->indexes.erase(copy->indexes.begin() + (it - t->indexes.begin()));
        co_return co_await replace_table(std::move(copy));
    }
    if (s.if_exists) co_return void_result();
    // (Cassandra 5.0's message ends with a stray quote.)
    co_return invalid(fmt::format("Index '{}.{}' doesn't exist'", ks, s.name));
}

asio::awaitable<response> statement_runner::replace_table(std::shared_ptr<table_def> copy) {
    mutation m;
    m.puts.emplace_back(table_key(copy->keyspace, copy->name), encode_table(*copy));
    auto res = co_await apply(std::move(m));
    if (!res.st) co_return server_error(res);
    ex.catalog_.tables[{copy->keyspace, copy->name}] = copy;
    bump_schema_version();
    co_return schema_change_result("UPDATED", "TABLE", copy->keyspace, copy->name);
}

namespace {

// "Non-frozen UDTs are not allowed inside collections: list<addr>" for a non-frozen udt inside a collection.
std::optional<std::string> nested_udt_error(const cql_type& t) {
    if (t.is_collection()) {
        for (const auto& p : t.params) {
            if (p.kind == type_kind::udt && !p.frozen) {
                cql_type shown = t;
                shown.frozen = false;
                return fmt::format("Non-frozen UDTs are not allowed inside collections: {}", shown.name());
            }
        }
    }
    for (const auto& p : t.params) {
        if (auto e = nested_udt_error(p)) return e;
    }
    return std::nullopt;
}

}  // namespace

result<cql_type> statement_runner::column_type(const std::string& ks, const std::string& text) const {
    auto t = ex.catalog_.resolve_type(ks, text);
    if (!t) {
        // The unknown name: the innermost word that is not a type.
        std::string name = text;
        for (char c : {'<', '>', ','}) std::replace(name.begin(), name.end(), c, ' ');
        std::string unknown;
        std::istringstream words(name);
        for (std::string w; words >> w;) {
            if (w == "frozen" || w == "list" || w == "set" || w == "map" || w == "tuple" || parse_type(w).ok()) continue;
            if (ex.catalog_.resolve_type(ks, w).ok()) continue;
            unknown = w;
            break;
        }
        if (unknown.empty()) return t.err();
        return make_error(errc::invalid_argument, "Unknown type {}", unknown.find('.') == std::string::npos ? ks + "." + unknown : unknown);
    }
    if (auto e = nested_udt_error(*t)) return make_error(errc::invalid_argument, "{}", *e);
    return t;
}

asio::awaitable<response> statement_runner::type_statement(const type_stmt& s) {
    std::string ks = keyspace_of(s.keyspace);
    if (ks.empty()) co_return invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename");
    if (ex.catalog_.keyspaces.count(ks) == 0) co_return invalid(fmt::format("Keyspace '{}' does not exist", ks));
    const udt_def* have = ex.catalog_.find_type(ks, s.name);
    udt_def u;
    const char* change = "UPDATED";
    mutation m;
    switch (s.act) {
        case type_stmt::action::create: {
            if (have) {
                if (s.if_not_exists) co_return void_result();
                co_return invalid(fmt::format("A user type with name '{}' already exists", s.name));
            }
            u.keyspace = ks;
            u.name = s.name;
            for (const auto& f : s.fields) {
                if (std::find(u.field_names.begin(), u.field_names.end(), f.name) != u.field_names.end()) {
                    co_return invalid(fmt::format("Duplicate field name '{}' in type '{}'", f.name, s.name));
                }
                auto t = ex.catalog_.resolve_type(ks, f.type);
                if (!t) {
                    // A udt's fields name only frozen udts; an unknown name is read as one that is not frozen.
                    if (f.type.find('<') == std::string::npos) co_return invalid("A user type cannot contain non-frozen UDTs");
                    co_return invalid(column_type(ks, f.type).err().message());
                }
                if (t->kind == type_kind::udt && !t->frozen) co_return invalid("A user type cannot contain non-frozen UDTs");
                if (t->references(ks, s.name)) co_return invalid(fmt::format("A user type cannot reference itself ({})", s.name));
                u.field_names.push_back(f.name);
                u.field_types.push_back(t->name());
            }
            change = "CREATED";
            break;
        }
        case type_stmt::action::add: case type_stmt::action::rename: {
            if (!have) co_return invalid(fmt::format("Type {}.{} doesn't exist", ks, s.name));
            u = *have;
            if (s.act == type_stmt::action::add) {
                const auto& f = s.fields.at(0);
                if (std::find(u.field_names.begin(), u.field_names.end(), f.name) != u.field_names.end()) {
                    co_return invalid(fmt::format("Cannot add field {} to type {}.{}: a field with name {} already exists", f.name, ks,
                                                  s.name, f.name));
                }
                auto t = ex.catalog_.resolve_type(ks, f.type);
                if (!t) co_return invalid(column_type(ks, f.type).err().message());
                if (t->kind == type_kind::udt && !t->frozen) co_return invalid("A user type cannot contain non-frozen UDTs");
                // Cassandra names a udt here with its keyspace: frozen<ks.name>.
                std::string shown = t->kind != type_kind::udt ? t->name()
                                    : t->frozen ? fmt::format("frozen<{}.{}>", t->keyspace, t->udt_name)
                                                : fmt::format("{}.{}", t->keyspace, t->udt_name);
                if (t->references(ks, s.name)) {
                    co_return invalid(fmt::format("Cannot add new field {} of type {} to user type {}.{} as it would create a circular "
                                                  "reference", f.name, shown, ks, s.name));
                }
                // A new field would change the partition key's bytes, hence the token, of existing rows.
                std::string keyed;
                for (const auto& [key, table] : ex.catalog_.tables) {
                    bool in_key = std::any_of(table->partition_key.begin(), table->partition_key.end(),
                                              [&](size_t idx) { return table->columns[idx].type.references(ks, s.name); });
                    if (in_key) keyed += (keyed.empty() ? "" : ", ") + key.first + "." + key.second;
                }
                if (!keyed.empty()) {
                    co_return invalid(fmt::format("Cannot add new field {} of type {} to user type {}.{} as the type is being used in "
                                                  "partition key by the following tables: {}", f.name, shown, ks, s.name, keyed));
                }
                u.field_names.push_back(f.name);
                u.field_types.push_back(t->name());
            } else {
                for (const auto& [from, to] : s.renames) {
                    auto it = std::find(u.field_names.begin(), u.field_names.end(), from);
                    if (it == u.field_names.end()) co_return invalid(fmt::format("Unkown field {} in user type {}.{}", from, ks, s.name));
                    if (std::find(u.field_names.begin(), u.field_names.end(), to) != u.field_names.end()) {
                        co_return invalid(fmt::format("Duplicate field name {} in type {}.{}", to, ks, s.name));
                    }
                    *it = to;
                }
            }
            break;
        }
        case type_stmt::action::drop: {
            if (!have) {
                if (s.if_exists) co_return void_result();
                co_return invalid(fmt::format("Type '{}.{}' doesn't exist", ks, s.name));
            }
            std::string types, tables;
            for (const auto& [key, other] : ex.catalog_.types) {
                if (key.first != ks || key.second == s.name) continue;
                auto t = ex.catalog_.udt_type(ks, key.second);
                if (t && std::any_of(t->params.begin(), t->params.end(), [&](const cql_type& p) { return p.references(ks, s.name); })) {
                    types += (types.empty() ? "" : ", ") + key.second;
                }
            }
            if (!types.empty()) {
                co_return invalid(fmt::format("Cannot drop user type '{}.{}' as it is still used by user types {}", ks, s.name, types));
            }
            for (const auto& [key, t] : ex.catalog_.tables) {
                for (const auto& c : t->columns) {
                    if (c.type.references(ks, s.name)) {
                        tables += (tables.empty() ? "" : ", ") + key.second;
                        break;
                    }
                }
            }
            if (!tables.empty()) {
                co_return invalid(fmt::format("Cannot drop user type '{}.{}' as it is still used by tables {}", ks, s.name, tables));
            }
            m.delete_ranges.emplace_back(udt_key(ks, s.name), udt_key(ks, s.name) + std::string(1, '\0'));
            auto res = co_await apply(std::move(m));
            if (!res.st) co_return server_error(res);
            ex.catalog_.types.erase({ks, s.name});
            bump_schema_version();
            co_return schema_change_result("DROPPED", "TYPE", ks, s.name);
        }
    }
    m.puts.emplace_back(udt_key(ks, u.name), encode_udt(u));
    auto res = co_await apply(std::move(m));
    if (!res.st) co_return server_error(res);
    ex.catalog_.types[{ks, u.name}] = u;
    if (s.act != type_stmt::action::create) {
        // The columns of this type (in any of the keyspace's tables) see its new fields.
        for (auto& [key, t] : ex.catalog_.tables) {
            if (key.first != ks) continue;
            bool uses = std::any_of(t->columns.begin(), t->columns.end(), [&](const auto& c) { return c.type.references(ks, u.name); });
            if (!uses) continue;
            auto copy = std::make_shared<table_def>(*t);
            for (auto& c : copy->columns) {
                if (auto resolved = ex.catalog_.resolve_type(ks, c.type_text)) c.type = *resolved;
            }
            t = copy;
        }
    }
    bump_schema_version();
    co_return schema_change_result(change, "TYPE", ks, u.name);
}

}  // namespace millrace::cql
