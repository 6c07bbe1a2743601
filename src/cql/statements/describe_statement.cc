#include "statements/statement_runner.h"

#include <algorithm>

#include "describe.h"

namespace millrace::cql {

response statement_runner::describe(const describe_stmt& d) {
    using w = describe_stmt::what;
    cql_type text{type_kind::varchar, {}, false};
    const std::string ks_spec = sess.keyspace.empty() ? "system" : sess.keyspace;
    std::vector<column_spec> specs;
    for (const char* name : {"keyspace_name", "type", "name"}) specs.push_back({ks_spec, "describe", name, text});
    std::vector<std::vector<std::optional<std::string>>> rows;
    // A table, then its indexes by name (Cassandra's order).
    auto table_rows = [&](const std::string& ks, const table_def& t) {
        rows.push_back({ks, std::string("table"), quote_identifier(t.name), create_table_statement(t)});
        auto indexes = t.indexes;
        std::sort(indexes.begin(), indexes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        for (const auto& i : indexes) rows.push_back({ks, std::string("index"), quote_identifier(i.name), create_index_statement(t, i)});
    };
    // A keyspace's types, each after the types its fields use (Cassandra's order: by name otherwise).
    auto types_in_order = [&](const std::string& ks) {
        std::vector<const udt_def*> out;
        std::vector<const udt_def*> left;
        for (const auto& [key, u] : ex.catalog_.types) {
            if (key.first == ks) left.push_back(&u);
        }
        while (!left.empty()) {
            size_t before = left.size();
            for (auto it = left.begin(); it != left.end(); ++it) {
                auto t = ex.catalog_.udt_type(ks, (*it)->name);
                bool ready = !t || std::none_of(left.begin(), left.end(), [&](const udt_def* o) {
                    return o != *it && std::any_of(t->params.begin(), t->params.end(), [&](const cql_type& p) { return p.references(ks, o->name); });
                });
                if (ready) {
                    out.push_back(*it);
                    left.erase(it);
                    break;
                }
            }
            if (left.size() == before) {  // no order exists (cannot happen: ALTER TYPE refuses circular references)
                out.insert(out.end(), left.begin(), left.end());
                break;
            }
        }
        return out;
    };
    auto keyspace_rows = [&](const keyspace_def& k, bool with_tables) {
        rows.push_back({k.name, std::string("keyspace"), quote_identifier(k.name), create_keyspace_statement(k)});
        if (!with_tables) return;
        for (const auto& u : types_in_order(k.name)) rows.push_back({k.name, std::string("type"), quote_identifier(u->name), create_type_statement(*u)});
        for (const auto& [key, t] : ex.catalog_.tables) {
            if (key.first == k.name) table_rows(k.name, *t);
        }
    };
    auto element = [&]() {
        specs.push_back({ks_spec, "describe", "create_statement", text});
        return rows_result(specs, rows, std::nullopt, false);
    };
    auto find_keyspace = [&](const std::string& name) -> const keyspace_def* {
        auto it = ex.catalog_.keyspaces.find(name);
        return it == ex.catalog_.keyspaces.end() ? nullptr : &it->second;
    };
    std::string ks = keyspace_of(d.keyspace);
    switch (d.target) {
        case w::keyspaces: {
            std::vector<std::string> names{"system", "system_schema", "system_virtual_schema"};
            for (const auto& [name, k] : ex.catalog_.keyspaces) names.push_back(name);
            std::sort(names.begin(), names.end());
            for (const auto& name : names) rows.push_back({name, std::string("keyspace"), quote_identifier(name)});
            return rows_result(specs, rows, std::nullopt, false);
        }
        case w::tables: {
            std::vector<std::pair<std::string, std::string>> names;
            for (const auto& [key, t] : ex.catalog_.tables) names.push_back(key);
            for (const auto& key : system_table_names()) names.push_back(key);
            std::sort(names.begin(), names.end());
            for (const auto& [k, t] : names) {
                if (sess.keyspace.empty() || k == sess.keyspace) rows.push_back({k, std::string("table"), quote_identifier(t)});
            }
            return rows_result(specs, rows, std::nullopt, false);
        }
        case w::types:
            for (const auto& [key, u] : ex.catalog_.types) {
                if (sess.keyspace.empty() || key.first == sess.keyspace) rows.push_back({key.first, std::string("type"), quote_identifier(u.name)});
            }
            return rows_result(specs, rows, std::nullopt, false);
        case w::functions: case w::aggregates:
            return rows_result(specs, rows, std::nullopt, false);
        case w::cluster: {
            std::vector<column_spec> cluster_specs;
            for (const char* name : {"cluster", "partitioner", "snitch"}) cluster_specs.push_back({ks_spec, "describe", name, text});
            rows.push_back({std::string("millrace"), std::string("org.apache.cassandra.dht.Murmur3Partitioner"),
                            std::string("org.apache.cassandra.locator.SimpleSnitch")});
            return rows_result(cluster_specs, rows, std::nullopt, false);
        }
        case w::schema:
            for (const auto& [name, k] : ex.catalog_.keyspaces) keyspace_rows(k, true);
            return element();
        case w::keyspace: {
            if (ks.empty()) return invalid("No keyspace specified and no current keyspace");
            const auto* k = find_keyspace(ks);
            if (k == nullptr) return invalid(fmt::format("Keyspace '{}' not found", ks));
            keyspace_rows(*k, !d.only);
            return element();
        }
        case w::table: {
            if (ks.empty()) return invalid("No keyspace specified and no current keyspace");
            if (!find_keyspace(ks)) return invalid(fmt::format("Keyspace '{}' not found", ks));
            auto t = ex.catalog_.find_table(ks, d.name);
            if (!t) return invalid(fmt::format("Table '{}' not found in keyspace '{}'", d.name, ks));
            table_rows(ks, *t);
            return element();
        }
        case w::name: {
            if (d.name.empty()) {
                // One name: a keyspace, else a table of the session keyspace.
                if (const auto* k = find_keyspace(d.keyspace)) {
                    keyspace_rows(*k, true);
                    return element();
                }
                if (!sess.keyspace.empty()) {
                    if (auto t = ex.catalog_.find_table(sess.keyspace, d.keyspace)) {
                        table_rows(sess.keyspace, *t);
                        return element();
                    }
                }
                return invalid(fmt::format("'{}' not found in keyspaces", d.keyspace));
            }
            if (!find_keyspace(d.keyspace)) return invalid(fmt::format("Keyspace '{}' not found", d.keyspace));
            auto t = ex.catalog_.find_table(d.keyspace, d.name);
            if (!t) return invalid(fmt::format("'{}' not found in keyspace '{}'", d.name, d.keyspace));
            table_rows(d.keyspace, *t);
            return element();
        }
        case w::other: {
            if (d.kind == "TYPE") {
                if (ks.empty()) return invalid("No keyspace specified and no current keyspace");
                if (!find_keyspace(ks)) return invalid(fmt::format("Keyspace '{}' not found", ks));
                const auto* u = ex.catalog_.find_type(ks, d.name);
                if (u == nullptr) return invalid(fmt::format("User defined type '{}' not found in '{}'", d.name, ks));
                rows.push_back({ks, std::string("type"), quote_identifier(u->name), create_type_statement(*u)});
                return element();
            }
            std::string kind = d.kind;
            for (size_t idx = 1; idx < kind.size(); ++idx) kind[idx] = static_cast<char>(std::tolower(static_cast<unsigned char>(kind[idx])));
            return invalid(fmt::format("{} '{}' not found in keyspace '{}'", kind, d.name, ks.empty() ? "<none>" : ks));
        }
    }
    return invalid("unsupported DESCRIBE");
}

}  // namespace millrace::cql
