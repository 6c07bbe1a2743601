#include "executor.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "protocol/wire.h"
#include "storage/murmur3.h"
#include "access.h"
#include "statements/statement_runner.h"

namespace millrace::cql {

asio::awaitable<mutation_result> executor::apply_mutation(mutation m) {
    auto* st = &store_;
    auto* io = &io_;
    auto shared_m = std::make_shared<mutation>(std::move(m));
    return asio::async_initiate<decltype(asio::use_awaitable), void(mutation_result)>(
        [st, io, shared_m](auto handler) {
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            st->submit(std::move(*shared_m), [shared, io](mutation_result r) {
                asio::post(*io, [shared, r]() mutable { (*shared)(std::move(r)); });
            });
        },
        asio::use_awaitable);
}

std::string void_result_body() { return void_result(); }
std::string rows_result_body(const std::vector<column_spec>& specs, const std::vector<std::vector<std::optional<std::string>>>& rows) {
    return rows_result(specs, rows, std::nullopt, false);
}

executor::executor(asio::io_context& io, store& db, millrace::clock& clock, size_t prepared_cache_size)
    : io_(io), store_(db), clock_(clock), prepared_cache_size_(std::max<size_t>(1, prepared_cache_size)) {}

status executor::load() {
    auto it = store_.new_iterator();
    std::string prefix(1, kf::k_schema_space);
    std::vector<std::string> table_records;  // decoded once every user-defined type is known
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        std::string key = it->key().ToString();
        std::string_view value(it->value().data(), it->value().size());
        if (key.size() < 2) continue;
        if (key[1] == 'k') {
            auto k = decode_keyspace(value);
            if (!k) return k.err();
            catalog_.keyspaces[k->name] = *k;
        } else if (key[1] == 't') {
            table_records.emplace_back(value);
        } else if (key[1] == kf::k_udt_kind) {
            auto u = decode_udt(value);
            if (!u) return u.err();
            catalog_.types[{u->keyspace, u->name}] = *u;
        } else if (key[1] == 'n' && value.size() == 8) {
            catalog_.next_table_id = kf::get_be(value, 8);
        } else if (key[1] == kf::k_role_kind) {
            auto r = decode_role(value);
            if (!r) return r.err();
            auth_.put_role(std::move(*r));
        } else if (key[1] == kf::k_permission_kind) {
            auto nul = key.find('\0', 2);
            auto set = decode_permissions(value);
            if (!set) return set.err();
            if (nul == std::string::npos) return make_error(errc::corruption, "permission record key without a NUL separator");
            auth_.set_permissions(key.substr(2, nul - 2), key.substr(nul + 1), *set);
        }
    }
    for (const auto& value : table_records) {
        auto t = decode_table(value, &catalog_);
        if (!t) return t.err();
        catalog_.tables[{t->keyspace, t->name}] = std::make_shared<table_def>(*t);
        store_.purge().set_gc_grace(t->id, t->gc_grace_seconds);
    }
    uint64_t halves[2];
    murmur3_x64_128(fmt::format("{}#{}", catalog_.tables.size(), clock_.wall_millis()), 0x73636865, halves);
    catalog_.schema_version = uuid_value_from_string(fmt::format("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", uint32_t(halves[0] >> 32),
                                                                 uint32_t(halves[0] >> 16) & 0xFFFF, uint32_t(halves[0]) & 0xFFF,
                                                                 uint32_t(halves[1] >> 48) & 0xFFF, halves[1] & 0xFFFFFFFFFFFFULL));
    log_.info("loaded {} keyspaces and {} tables", catalog_.keyspaces.size(), catalog_.tables.size());
    return {};
}

asio::awaitable<response> executor::execute(const parsed_statement& stmt, const query_params& params, session& s) {
    if (std::holds_alternative<create_role_stmt>(stmt.stmt) || std::holds_alternative<alter_role_stmt>(stmt.stmt) ||
        std::holds_alternative<drop_role_stmt>(stmt.stmt) || std::holds_alternative<list_roles_stmt>(stmt.stmt) ||
        std::holds_alternative<grant_stmt>(stmt.stmt) || std::holds_alternative<grant_role_stmt>(stmt.stmt) ||
        std::holds_alternative<list_permissions_stmt>(stmt.stmt)) {
        co_return co_await run_auth_statement(stmt, s);
    }
    if (auth_enabled_ && !s.user.empty()) {
        if (auto refused = check_access(auth_, s.user, required_access(stmt.stmt, s.keyspace))) {
            co_return request_error{error_code::unauthorized, std::move(*refused), {}, {}, {}};
        }
    }
    statement_runner runner{*this, stmt, params, s};
    response r = co_await runner.run(stmt.stmt);
    if (auth_enabled_) {
        if (const auto* body = std::get_if<std::string>(&r);
            body != nullptr && body->size() > 4 && be_int(std::string_view(*body).substr(0, 4)) == int64_t(result_kind::schema_change)) {
            co_await after_schema_change(stmt.stmt, s);
        }
    }
    if (schema_listener_) {
        if (const auto* body = std::get_if<std::string>(&r);
            body != nullptr && body->size() > 4 && be_int(std::string_view(*body).substr(0, 4)) == int64_t(result_kind::schema_change)) {
            schema_listener_(std::string_view(*body).substr(4));
        }
    }
    co_return r;
}

asio::awaitable<response> executor::execute_batch(std::vector<std::pair<const parsed_statement*, query_params>> statements,
                                                  const query_params& common, session& s) {
    if (auth_enabled_ && !s.user.empty()) {
        for (auto& [ps, params] : statements) {
            if (auto refused = check_access(auth_, s.user, required_access(ps->stmt, s.keyspace))) {
                co_return request_error{error_code::unauthorized, std::move(*refused), {}, {}, {}};
            }
        }
    }
    batch_builder batch;
    batch.m.now_seconds = static_cast<uint32_t>(clock_.wall_millis() / 1000);
    for (auto& [ps, params] : statements) {
        params.default_timestamp = common.default_timestamp;
        statement_runner runner{*this, *ps, params, s};
        if (!params.default_timestamp) params.default_timestamp = runner.next_timestamp();
        if (auto e = batch.add(runner, ps->stmt, {})) co_return *e;
    }
    if (auto e = batch.check(false)) co_return *e;
    parsed_statement none{use_stmt{}, {}};
    query_params no_params;
    statement_runner runner{*this, none, no_params, s};
    auto res = co_await runner.apply(std::move(batch.m));
    if (!res.st) co_return statement_runner::server_error(res);
    co_return batch.answer(runner, res);
}

const prepared_statement* executor::find_prepared(const std::string& id) {
    auto it = prepared_.find(id);
    if (it == prepared_.end()) return nullptr;
    prepared_lru_.splice(prepared_lru_.begin(), prepared_lru_, it->second);
    return &*it->second;
}

response executor::prepare(const std::string& query, const session& s) {
    auto parsed = parse_statement(query);
    if (!parsed) return request_error{error_code::syntax_error, parsed.err().message(), {}, {}, {}};
    prepared_statement p;
    p.query = query;
    p.keyspace = s.keyspace;
    uint64_t halves[2];
    murmur3_x64_128(s.keyspace + '\0' + query, 0x70726570, halves);
    for (int idx = 0; idx < 2; ++idx) kf::put_be(p.id, halves[idx], 8);
    // Resolve what each marker binds to.
    std::string ks, tname;
    std::visit([&](const auto& st) {
        if constexpr (requires { st.table; }) {
            ks = st.keyspace.empty() ? s.keyspace : st.keyspace;
            tname = st.table;
        }
    }, parsed->stmt);
    if (auto* b = std::get_if<batch_stmt>(&parsed->stmt); b && !b->statements.empty()) {
        std::visit([&](const auto& st) {
            if constexpr (requires { st.table; }) {
                ks = st.keyspace.empty() ? s.keyspace : st.keyspace;
                tname = st.table;
            }
        }, b->statements.front());
    }
    std::shared_ptr<table_def> t = ks.empty() ? nullptr : catalog_.find_table(ks, tname);
    bool needs_table = !parsed->markers.empty() || std::holds_alternative<select_stmt>(parsed->stmt) ||
                       std::holds_alternative<insert_stmt>(parsed->stmt) || std::holds_alternative<update_stmt>(parsed->stmt) ||
                       std::holds_alternative<delete_stmt>(parsed->stmt);
    bool system = is_system_keyspace(ks);
    if (needs_table && !t && !system) {
        if (ks.empty()) return invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename");
        if (!catalog_.keyspaces.count(ks)) return invalid(fmt::format("Keyspace {} does not exist", ks));
        return invalid(fmt::format("unconfigured table {}", tname));
    }
    for (const auto& m : parsed->markers) {
        column_spec spec{ks, tname, m.name, cql_type{type_kind::varchar, {}, false}};
        switch (m.role) {
            case marker_role::limit: case marker_role::per_partition_limit: case marker_role::ttl: spec.type = int_type(); break;
            case marker_role::timestamp: spec.type = bigint_type(); break;
            case marker_role::json: spec.type = cql_type{type_kind::varchar, {}, false}; break;
            default: {
                if (m.column == "partition key token") {
                    spec.type = bigint_type();
                    break;
                }
                const column_def_full* col = t ? t->find(m.column) : nullptr;
                if (col == nullptr && !system) return invalid(fmt::format("Undefined column name {}", m.column));
                if (col) spec.type = col->type;
                if (col && col->type.kind == type_kind::map) {
                    if (m.role == marker_role::map_key) spec.type = col->type.params[0];
                    if (m.role == marker_role::map_value) spec.type = col->type.params[1];
                    if (m.role == marker_role::collection_remove) spec.type = cql_type{type_kind::set, {col->type.params[0]}, false};
                }
                if (m.role == marker_role::in_list) spec.type = cql_type{type_kind::list, {spec.type}, false};
                if (m.role == marker_role::udt_field && col && col->type.kind == type_kind::udt) {
                    auto at = std::find(col->type.field_names.begin(), col->type.field_names.end(), m.field);
                    if (at != col->type.field_names.end()) spec.type = col->type.params[size_t(at - col->type.field_names.begin())];
                }
                if (m.role == marker_role::contains && col && col->type.is_collection()) {
                    spec.type = col->type.kind == type_kind::map ? col->type.params[1] : col->type.params[0];
                }
            }
        }
        p.bind_specs.push_back(spec);
    }
    if (t) {
        for (auto idx : t->partition_key) {
            int16_t found = -1;
            for (size_t midx = 0; midx < parsed->markers.size(); ++midx) {
                if (parsed->markers[midx].column == t->columns[idx].name && parsed->markers[midx].role == marker_role::value) {
                    found = static_cast<int16_t>(midx);
                    break;
                }
            }
            if (found < 0) {
                p.pk_indexes.clear();
                break;
            }
            p.pk_indexes.push_back(found);
        }
    }
    if (auto* sel = std::get_if<select_stmt>(&parsed->stmt)) {
        std::vector<std::pair<std::string, cql_type>> all;
        std::vector<const column_def_full*> order;
        if (t) {
            order = t->select_order();
            for (const auto* c : order) all.emplace_back(c->name, c->type);
        } else if (auto v = system_table(catalog_, ks, tname, {}, auth_enabled_ ? &auth_ : nullptr)) {
            all = v->columns;
        }
        query_params none;
        session copy = s;
        statement_runner runner{*this, *parsed, none, copy};
        auto proj = runner.project(*sel, ks, tname, all, t ? &order : nullptr);
        if (!proj) return invalid(proj.err().message());
        p.result_specs = proj->specs;
    } else {
        // A conditional write answers [applied] (and, when refused, the row: those results carry their own metadata).
        auto* ins = std::get_if<insert_stmt>(&parsed->stmt);
        auto* upd = std::get_if<update_stmt>(&parsed->stmt);
        auto* del = std::get_if<delete_stmt>(&parsed->stmt);
        if ((ins && ins->if_not_exists) || (upd && (upd->if_exists || !upd->conditions.empty())) ||
            (del && (del->if_exists || !del->conditions.empty()))) {
            p.result_specs.push_back({ks, tname, "[applied]", cql_type{type_kind::boolean, {}, false}});
        }
    }
    p.parsed = std::make_shared<const parsed_statement>(std::move(*parsed));
    std::string out;
    writer w(out);
    w.int32(static_cast<int32_t>(result_kind::prepared));
    w.short_bytes(p.id);
    // Bind metadata: flags, count, pk count and indexes, then specs.
    bool global = !p.bind_specs.empty();
    w.int32(global ? rows_flag::global_tables_spec : 0);
    w.int32(static_cast<int32_t>(p.bind_specs.size()));
    w.int32(static_cast<int32_t>(p.pk_indexes.size()));
    for (auto idx : p.pk_indexes) w.int16(idx);
    if (global) {
        w.string(p.bind_specs[0].keyspace);
        w.string(p.bind_specs[0].table);
    }
    for (const auto& spec : p.bind_specs) {
        w.string(spec.name);
        write_type_option(out, spec.type);
    }
    write_metadata(out, p.result_specs, 0, std::nullopt, p.result_specs.empty());
    if (auto it = prepared_.find(p.id); it != prepared_.end()) {
        prepared_lru_.erase(it->second);
        prepared_.erase(it);
    }
    std::string id = p.id;
    prepared_lru_.push_front(std::move(p));
    prepared_[id] = prepared_lru_.begin();
    while (prepared_.size() > prepared_cache_size_) {
        log_.debug("prepared statement cache full ({}): evicting the least recently used", prepared_cache_size_);
        prepared_.erase(prepared_lru_.back().id);
        prepared_lru_.pop_back();
        if (evictions_ != nullptr) evictions_->inc();
    }
    return out;
}

}  // namespace millrace::cql
