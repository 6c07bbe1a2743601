#include "executor.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "protocol/wire.h"
#include "storage/key_format.h"
#include "storage/murmur3.h"
#include "access.h"
#include "describe.h"
#include "system_tables.h"

namespace millrace::cql {
namespace kf = key_format;

namespace {

// Cartesian products of IN lists on the partition key are capped (Cassandra caps them too).
constexpr size_t k_max_partitions_per_query = 1000;

request_error invalid(std::string message) { return {error_code::invalid, std::move(message), {}, {}, {}}; }

std::string void_result() {
    std::string out;
    writer(out).int32(static_cast<int32_t>(result_kind::void_));
    return out;
}

std::string schema_change_result(const char* change, const char* target, const std::string& keyspace, const std::string& table) {
    std::string out;
    writer w(out);
    w.int32(static_cast<int32_t>(result_kind::schema_change));
    w.string(change);
    w.string(target);
    w.string(keyspace);
    if (std::string_view(target) == "TABLE") w.string(table);
    return out;
}

void write_metadata(std::string& out, const std::vector<column_spec>& specs, int32_t flags, const std::optional<std::string>& paging,
                    bool no_metadata) {
    writer w(out);
    bool global = !specs.empty();
    for (const auto& s : specs) global = global && s.keyspace == specs[0].keyspace && s.table == specs[0].table;
    if (paging) flags |= rows_flag::has_more_pages;
    if (no_metadata) flags |= rows_flag::no_metadata;
    else if (global) flags |= rows_flag::global_tables_spec;
    w.int32(flags);
    w.int32(static_cast<int32_t>(specs.size()));
    if (paging) w.bytes(*paging);
    if (no_metadata) return;
    if (global) {
        w.string(specs[0].keyspace);
        w.string(specs[0].table);
    }
    for (const auto& s : specs) {
        if (!global) {
            w.string(s.keyspace);
            w.string(s.table);
        }
        w.string(s.name);
        write_type_option(out, s.type);
    }
}

std::string rows_result(const std::vector<column_spec>& specs, const std::vector<std::vector<std::optional<std::string>>>& rows,
                        const std::optional<std::string>& paging, bool no_metadata) {
    std::string out;
    writer w(out);
    w.int32(static_cast<int32_t>(result_kind::rows));
    write_metadata(out, specs, 0, paging, no_metadata);
    w.int32(static_cast<int32_t>(rows.size()));
    for (const auto& r : rows) {
        for (const auto& v : r) w.bytes(v);
    }
    return out;
}

cql_type int_type() { return cql_type{type_kind::int_, {}, false}; }
cql_type bigint_type() { return cql_type{type_kind::bigint, {}, false}; }

int64_t be_int(std::string_view b) {
    uint64_t v = 0;
    for (char c : b) v = (v << 8) | uint8_t(c);
    if (!b.empty() && b.size() < 8 && (uint8_t(b[0]) & 0x80)) v |= ~uint64_t(0) << (8 * b.size());
    return static_cast<int64_t>(v);
}

// The serialized partition key that Murmur3 hashes: the single value, or for a
// composite key each component as length (2) + bytes + 0x00.
std::string token_input(const std::vector<std::string>& components) {
    if (components.size() == 1) return components[0];
    std::string out;
    for (const auto& c : components) {
        kf::put_be(out, c.size(), 2);
        out += c;
        out.push_back('\0');
    }
    return out;
}

}  // namespace

// Evaluates one statement with its bound values. Short-lived, on the io thread.
struct statement_runner {
    executor& ex;
    const parsed_statement& ps;
    const query_params& params;
    session& sess;

    using value = std::optional<std::string>;

    uint32_t now_seconds() const { return static_cast<uint32_t>(ex.clock_.wall_millis() / 1000); }

    int64_t next_timestamp() {
        int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(ex.clock_.wall_now().time_since_epoch()).count();
        ex.last_timestamp_ = std::max(now, ex.last_timestamp_ + 1);
        return ex.last_timestamp_;
    }

    std::string keyspace_of(const std::string& ks) const { return ks.empty() ? sess.keyspace : ks; }

    result<std::shared_ptr<table_def>> table(const std::string& ks_in, const std::string& name) const {
        std::string ks = keyspace_of(ks_in);
        if (ks.empty()) return make_error(errc::invalid_argument, "No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename");
        if (ex.catalog_.keyspaces.count(ks) == 0) return make_error(errc::invalid_argument, "Keyspace {} does not exist", ks);
        auto t = ex.catalog_.find_table(ks, name);
        if (!t) return make_error(errc::invalid_argument, "unconfigured table {}", name);
        return t;
    }

    // The value of a term for a receiver of type `type`.
    result<value> eval(const term& tm, const cql_type& type) const {
        if (tm.k == term::kind::literal) return literal_to_value(type, tm.lit);
        if (tm.k == term::kind::function) {
            if (tm.function == "now" || tm.function == "uuid") return value(generate_uuid(tm.function == "now"));
            return make_error(errc::invalid_argument, "unknown function {}", tm.function);
        }
        size_t idx = static_cast<size_t>(tm.marker_index);
        if (idx >= params.values.size()) {
            return make_error(errc::invalid_argument, "there were {} markers(?) in CQL but {} bound variables", ps.markers.size(),
                              params.values.size());
        }
        const auto& v = params.values[idx];
        if (v) {
            if (auto st = validate_value(type, *v); !st) return st.err();
            if (type.kind == type_kind::set || type.kind == type_kind::map) return value(normalize_collection(type, *v));
        }
        return v;
    }

    std::string generate_uuid(bool time_based) const {
        static uint64_t counter = 0x5eed;
        ++counter;
        std::string out(16, '\0');
        uint64_t hi, lo;
        if (time_based) {
            // 100ns intervals since 1582-10-15, version 1, with a per-process clock sequence.
            uint64_t ts = static_cast<uint64_t>(ex.clock_.wall_millis()) * 10000 + 0x01B21DD213814000ULL + (counter & 0x3FFF);
            hi = ((ts & 0xFFFFFFFFULL) << 32) | (((ts >> 32) & 0xFFFF) << 16) | (0x1000 | ((ts >> 48) & 0x0FFF));
            lo = 0x8000000000000000ULL | (counter << 16) | 0x6d72;
        } else {
            uint64_t seed[2];
            std::string in = std::to_string(counter) + std::to_string(ex.clock_.wall_millis());
            murmur3_x64_128(in, 0x6d696c6c, seed);
            hi = (seed[0] & ~0xF000ULL) | 0x4000ULL;
            lo = (seed[1] & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
        }
        for (int idx = 0; idx < 8; ++idx) {
            out[idx] = static_cast<char>(hi >> (56 - 8 * idx));
            out[8 + idx] = static_cast<char>(lo >> (56 - 8 * idx));
        }
        return out;
    }

    result<int64_t> eval_int(const term& tm, bool is_bigint) const {
        auto v = eval(tm, is_bigint ? bigint_type() : int_type());
        if (!v) return v.err();
        if (!v->has_value()) return make_error(errc::invalid_argument, "null is not a valid value here");
        return be_int(**v);
    }

    // ---- keys

    std::string partition_prefix(const table_def& t, const std::vector<std::string>& pk) const {
        std::string key = kf::table_prefix(t.id);
        kf::append_token(key, murmur3_token(token_input(pk)));
        for (const auto& c : pk) {
            kf::put_be(key, c.size(), 2);
            key += c;
        }
        return key;
    }

    std::string row_key(const table_def& t, const std::vector<std::string>& pk, const std::vector<std::string>& ck) const {
        std::string key = partition_prefix(t, pk);
        for (size_t idx = 0; idx < ck.size(); ++idx) {
            const auto& col = t.columns[t.clustering[idx]];
            append_ordered(key, col.type, ck[idx], col.descending);
        }
        return key;
    }

    // Decodes partition key and clustering values from a row key.
    bool decode_row_key(const table_def& t, std::string_view key, std::vector<std::string>& pk, std::vector<std::string>& ck) const {
        key.remove_prefix(17);
        for (size_t idx = 0; idx < t.partition_key.size(); ++idx) {
            if (key.size() < 2) return false;
            size_t n = kf::get_be(key, 2);
            if (key.size() < 2 + n) return false;
            pk.emplace_back(key.substr(2, n));
            key.remove_prefix(2 + n);
        }
        for (auto idx : t.clustering) {
            auto v = read_ordered(key, t.columns[idx].type, t.columns[idx].descending);
            if (!v) return false;
            ck.push_back(*v);
        }
        return key.empty();
    }

    // ---- WHERE analysis

    struct key_restrictions {
        std::vector<std::vector<std::string>> partitions;  // every partition key addressed (cartesian product of = / IN)
        bool partition_restricted = false;
        std::optional<int64_t> token_lo, token_hi;  // inclusive bounds
        std::vector<std::vector<std::string>> clustering_eq;  // exact clustering prefixes (when every relation is = / IN)
        struct filter {
            const column_def_full* column;
            relation_op op;
            std::vector<std::string> values;
        };
        std::vector<filter> filters;  // evaluated on each row
        bool needs_filtering = false;
    };

    result<key_restrictions> analyze(const table_def& t, const std::vector<relation>& where) const {
        key_restrictions out;
        std::vector<std::vector<std::string>> pk_values(t.partition_key.size());
        std::vector<bool> pk_set(t.partition_key.size(), false);
        for (const auto& r : where) {
            if (r.token) {
                for (const auto& v : r.values) {
                    auto tok = eval_int(v, true);
                    if (!tok) return tok.err();
                    int64_t x = *tok;
                    switch (r.op) {
                        case relation_op::gt: out.token_lo = x == INT64_MAX ? x : x + 1; break;
                        case relation_op::ge: out.token_lo = x; break;
                        case relation_op::lt: out.token_hi = x == INT64_MIN ? x : x - 1; break;
                        case relation_op::le: out.token_hi = x; break;
                        case relation_op::eq: out.token_lo = x; out.token_hi = x; break;
                        default: return make_error(errc::invalid_argument, "unsupported operator on token()");
                    }
                }
                continue;
            }
            const auto* col = t.find(r.columns[0]);
            if (col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", r.columns[0]);
            std::vector<std::string> values;
            for (const auto& v : r.values) {
                if (r.op == relation_op::in && v.k == term::kind::marker) {
                    cql_type list_type{type_kind::list, {col->type}, false};
                    auto lv = eval(v, list_type);
                    if (!lv) return lv.err();
                    if (!lv->has_value()) return make_error(errc::invalid_argument, "Invalid null value for IN restriction on {}", col->name);
                    reader rd(**lv);
                    int32_t n = rd.int32();
                    for (int32_t idx = 0; idx < n; ++idx) values.push_back(rd.bytes().value_or(""));
                    continue;
                }
                auto ev = eval(v, col->type);
                if (!ev) return ev.err();
                if (!ev->has_value()) return make_error(errc::invalid_argument, "Invalid null value in condition for column {}", col->name);
                values.push_back(**ev);
            }
            if (col->kind == column_kind::partition_key && (r.op == relation_op::eq || r.op == relation_op::in)) {
                pk_values[col->position] = values;
                pk_set[col->position] = true;
                continue;
            }
            if (col->kind == column_kind::partition_key) out.needs_filtering = true;
            if (col->kind == column_kind::regular) out.needs_filtering = true;
            out.filters.push_back({col, r.op, values});
        }
        bool all = std::all_of(pk_set.begin(), pk_set.end(), [](bool b) { return b; });
        bool any = std::any_of(pk_set.begin(), pk_set.end(), [](bool b) { return b; });
        if (all) {
            out.partition_restricted = true;
            out.partitions = {{}};
            for (const auto& vals : pk_values) {
                std::vector<std::vector<std::string>> next;
                for (const auto& prefix : out.partitions) {
                    for (const auto& v : vals) {
                        auto p = prefix;
                        p.push_back(v);
                        next.push_back(p);
                    }
                }
                out.partitions = std::move(next);
                if (out.partitions.size() > k_max_partitions_per_query) {
                    return make_error(errc::invalid_argument, "IN restrictions select more than {} partitions",
                                      k_max_partitions_per_query);
                }
            }
        } else if (any) {
            out.needs_filtering = true;
            for (size_t idx = 0; idx < pk_set.size(); ++idx) {
                if (pk_set[idx]) out.filters.push_back({&t.columns[t.partition_key[idx]], relation_op::in, pk_values[idx]});
            }
        }
        if (!out.partition_restricted) {
            for (const auto& f : out.filters) {
                if (f.column->kind == column_kind::clustering) out.needs_filtering = true;
            }
        }
        return out;
    }

    static bool matches(const key_restrictions::filter& f, const value& v) {
        if (!v) return false;
        auto cmp = [&](const std::string& x) { return compare_values(f.column->type, *v, x); };
        switch (f.op) {
            case relation_op::eq: return cmp(f.values[0]) == 0;
            case relation_op::neq: return cmp(f.values[0]) != 0;
            case relation_op::lt: return cmp(f.values[0]) < 0;
            case relation_op::le: return cmp(f.values[0]) <= 0;
            case relation_op::gt: return cmp(f.values[0]) > 0;
            case relation_op::ge: return cmp(f.values[0]) >= 0;
            case relation_op::in:
                return std::any_of(f.values.begin(), f.values.end(), [&](const auto& x) { return cmp(x) == 0; });
            case relation_op::contains: return v->find(f.values[0]) != std::string::npos;
        }
        return false;
    }

    // ---- reading rows

    struct row_data {
        std::string key;                              // row key (without the column id)
        std::map<uint16_t, std::string> cells;        // live cells
        std::map<uint16_t, kf::cell> meta;            // their write time and ttl
        std::vector<std::string> pk, ck;
    };

    // Calls `on_row` for every live row in [begin, end) (reverse order when asked)
    // until it returns false.
    void scan(const table_def& t, const std::string& begin, const std::string& end, bool reverse,
              const std::function<bool(row_data&)>& on_row) const {
        auto it = ex.store_.new_iterator();
        uint32_t now = now_seconds();
        if (reverse) {
            it->SeekForPrev(end);
            if (it->Valid() && it->key().compare(end) >= 0) it->Prev();
        } else {
            it->Seek(begin);
        }
        row_data current;
        bool have = false;
        auto flush = [&]() -> bool {
            if (!have) return true;
            have = false;
            if (current.cells.empty()) return true;
            if (!decode_row_key(t, current.key, current.pk, current.ck)) return true;
            return on_row(current);
        };
        for (; it->Valid(); reverse ? it->Prev() : it->Next()) {
            std::string_view key(it->key().data(), it->key().size());
            if (reverse ? key < std::string_view(begin) : key >= std::string_view(end)) break;
            if (key.size() < 19) continue;
            std::string_view rk = key.substr(0, key.size() - 2);
            if (!have || rk != current.key) {
                if (!flush()) return;
                current = row_data{};
                current.key = std::string(rk);
                have = true;
            }
            auto c = kf::decode_cell(std::string_view(it->value().data(), it->value().size()));
            if (!c || !c->live(now)) continue;
            auto id = static_cast<uint16_t>(kf::get_be(key.substr(key.size() - 2), 2));
            current.cells[id] = std::string(c->value);
            current.meta[id] = *c;
        }
        flush();
    }

    value column_value(const table_def& t, const row_data& r, const column_def_full& col) const {
        (void)t;
        if (col.kind == column_kind::partition_key) return r.pk[col.position];
        if (col.kind == column_kind::clustering) return r.ck[col.position];
        auto it = r.cells.find(col.id);
        if (it == r.cells.end()) return std::nullopt;
        return it->second;
    }

    // ---- statements

    // Not a coroutine itself: GCC 12 mishandles init-captures inside a co_await
    // expression, so the awaitable is returned directly.
    asio::awaitable<mutation_result> apply(mutation m) { return ex.apply_mutation(std::move(m)); }

    static request_error server_error(const mutation_result& r) {
        return {error_code::server_error, r.st.err().message(), {}, {}, {}};
    }

    void bump_schema_version() {
        ex.catalog_.schema_version = generate_uuid(false);
    }

    asio::awaitable<response> run(const statement& st) {
        if (auto* s = std::get_if<select_stmt>(&st)) co_return select(*s);
        if (auto* s = std::get_if<use_stmt>(&st)) {
            if (ex.catalog_.keyspaces.count(s->keyspace) == 0 && !is_system_keyspace(s->keyspace)) {
                co_return invalid(fmt::format("Keyspace '{}' does not exist", s->keyspace));
            }
            sess.keyspace = s->keyspace;
            std::string out;
            writer w(out);
            w.int32(static_cast<int32_t>(result_kind::set_keyspace));
            w.string(s->keyspace);
            co_return out;
        }
        if (auto* s = std::get_if<describe_stmt>(&st)) co_return describe(*s);
        if (auto* s = std::get_if<create_keyspace_stmt>(&st)) co_return co_await create_keyspace(*s);
        if (auto* s = std::get_if<create_table_stmt>(&st)) co_return co_await create_table(*s);
        if (auto* s = std::get_if<drop_stmt>(&st)) co_return co_await drop(*s);
        if (auto* s = std::get_if<truncate_stmt>(&st)) co_return co_await truncate(*s);
        if (auto* s = std::get_if<alter_table_stmt>(&st)) co_return co_await alter(*s);
        if (std::holds_alternative<batch_stmt>(st)) {
            const auto& b = std::get<batch_stmt>(st);
            mutation m;
            m.now_seconds = now_seconds();
            for (const auto& inner : b.statements) {
                auto r = build_write(inner, m, b.options);
                if (!r) co_return invalid(r.err().message());
                if (m.condition_prefix) co_return invalid("Conditional statements in batches are not supported");
            }
            auto res = co_await apply(std::move(m));
            if (!res.st) co_return server_error(res);
            co_return void_result();
        }
        // insert, update, delete
        mutation m;
        m.now_seconds = now_seconds();
        auto r = build_write(st, m, {});
        if (!r) co_return invalid(r.err().message());
        bool conditional = m.condition_prefix.has_value();
        auto res = co_await apply(std::move(m));
        if (!res.st) co_return server_error(res);
        if (!conditional) co_return void_result();
        std::vector<column_spec> specs{{*r, table_name(st), "[applied]", cql_type{type_kind::boolean, {}, false}}};
        co_return rows_result(specs, {{bool_value(res.applied)}}, std::nullopt, false);
    }

    // DESCRIBE as Cassandra 4.0 answers it: rows of (keyspace_name, type, name)
    // for lists, plus create_statement for elements.
    response describe(const describe_stmt& d) {
        using w = describe_stmt::what;
        cql_type text{type_kind::varchar, {}, false};
        const std::string ks_spec = sess.keyspace.empty() ? "system" : sess.keyspace;
        std::vector<column_spec> specs;
        for (const char* name : {"keyspace_name", "type", "name"}) specs.push_back({ks_spec, "describe", name, text});
        std::vector<std::vector<std::optional<std::string>>> rows;
        auto keyspace_rows = [&](const keyspace_def& k, bool with_tables) {
            rows.push_back({k.name, std::string("keyspace"), quote_identifier(k.name), create_keyspace_statement(k)});
            if (!with_tables) return;
            for (const auto& [key, t] : ex.catalog_.tables) {
                if (key.first == k.name) rows.push_back({k.name, std::string("table"), quote_identifier(t->name), create_table_statement(*t)});
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
            case w::types: case w::functions: case w::aggregates:
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
                rows.push_back({ks, std::string("table"), quote_identifier(t->name), create_table_statement(*t)});
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
                            rows.push_back({sess.keyspace, std::string("table"), quote_identifier(t->name), create_table_statement(*t)});
                            return element();
                        }
                    }
                    return invalid(fmt::format("'{}' not found in keyspaces", d.keyspace));
                }
                if (!find_keyspace(d.keyspace)) return invalid(fmt::format("Keyspace '{}' not found", d.keyspace));
                auto t = ex.catalog_.find_table(d.keyspace, d.name);
                if (!t) return invalid(fmt::format("'{}' not found in keyspace '{}'", d.name, d.keyspace));
                rows.push_back({d.keyspace, std::string("table"), quote_identifier(t->name), create_table_statement(*t)});
                return element();
            }
            case w::other: {
                std::string kind = d.kind;
                for (size_t idx = 1; idx < kind.size(); ++idx) kind[idx] = static_cast<char>(std::tolower(static_cast<unsigned char>(kind[idx])));
                return invalid(fmt::format("{} '{}' not found in keyspace '{}'", kind, d.name, ks.empty() ? "<none>" : ks));
            }
        }
        return invalid("unsupported DESCRIBE");
    }

    static std::string table_name(const statement& st) {
        if (auto* s = std::get_if<insert_stmt>(&st)) return s->table;
        if (auto* s = std::get_if<update_stmt>(&st)) return s->table;
        if (auto* s = std::get_if<delete_stmt>(&st)) return s->table;
        return {};
    }

    // Adds the cells of one INSERT/UPDATE/DELETE to `m`. Returns the keyspace.
    result<std::string> build_write(const statement& st, mutation& m, const write_options& batch_options) {
        if (auto* s = std::get_if<insert_stmt>(&st)) return insert(*s, m, batch_options);
        if (auto* s = std::get_if<update_stmt>(&st)) return update(*s, m, batch_options);
        if (auto* s = std::get_if<delete_stmt>(&st)) return remove(*s, m, batch_options);
        return make_error(errc::invalid_argument, "only INSERT, UPDATE and DELETE are allowed in a batch");
    }

    struct write_meta {
        int64_t timestamp;
        uint32_t ttl = 0;
    };

    result<write_meta> options_of(const write_options& o, const write_options& batch_options, int32_t default_ttl = 0) {
        write_meta w{0, static_cast<uint32_t>(default_ttl)};
        const auto& ts = o.timestamp ? o.timestamp : batch_options.timestamp;
        if (ts) {
            auto v = eval_int(*ts, true);
            if (!v) return v.err();
            w.timestamp = *v;
        } else if (params.default_timestamp) {
            w.timestamp = *params.default_timestamp;
        } else {
            w.timestamp = next_timestamp();
        }
        const auto& ttl = o.ttl ? o.ttl : batch_options.ttl;
        if (ttl) {
            auto v = eval_int(*ttl, false);
            if (!v) return v.err();
            if (*v < 0) return make_error(errc::invalid_argument, "A TTL must be greater or equal to 0, but was {}", *v);
            if (*v > 630720000) return make_error(errc::invalid_argument, "ttl is too large. requested ({}) maximum (630720000)", *v);
            w.ttl = static_cast<uint32_t>(*v);
        }
        return w;
    }

    std::string cell(const write_meta& w, uint32_t now, const value& v) const {
        uint32_t expiry = w.ttl == 0 ? 0 : now + w.ttl;
        return kf::encode_cell(!v.has_value(), w.timestamp, v ? expiry : now, v ? w.ttl : 0, v.value_or(""));
    }

    static std::string cell_key(const std::string& row, uint16_t id) {
        std::string key = row;
        kf::put_be(key, id, 2);
        return key;
    }

    result<std::string> insert(const insert_stmt& s, mutation& m, const write_options& batch_options) {
        auto t = table(s.keyspace, s.table);
        if (!t) return t.err();
        const auto& tbl = **t;
        if (s.columns.size() != s.values.size()) return make_error(errc::invalid_argument, "Unmatched column names/values");
        std::vector<std::string> pk(tbl.partition_key.size()), ck(tbl.clustering.size());
        std::vector<bool> pk_set(pk.size()), ck_set(ck.size());
        std::vector<std::pair<const column_def_full*, value>> regular;
        for (size_t idx = 0; idx < s.columns.size(); ++idx) {
            const auto* col = tbl.find(s.columns[idx]);
            if (col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", s.columns[idx]);
            if (is_unset(s.values[idx])) continue;
            auto v = eval(s.values[idx], col->type);
            if (!v) return v.err();
            if (col->kind != column_kind::regular) {
                if (!v->has_value()) return make_error(errc::invalid_argument, "Invalid null value in condition for column {}", col->name);
                if (col->kind == column_kind::partition_key) {
                    pk[col->position] = **v;
                    pk_set[col->position] = true;
                } else {
                    ck[col->position] = **v;
                    ck_set[col->position] = true;
                }
            } else {
                regular.emplace_back(col, *v);
            }
        }
        for (size_t idx = 0; idx < pk.size(); ++idx) {
            if (!pk_set[idx]) return make_error(errc::invalid_argument, "Some partition key parts are missing: {}", tbl.columns[tbl.partition_key[idx]].name);
        }
        for (size_t idx = 0; idx < ck.size(); ++idx) {
            if (!ck_set[idx]) return make_error(errc::invalid_argument, "Some clustering keys are missing: {}", tbl.columns[tbl.clustering[idx]].name);
        }
        auto w = options_of(s.options, batch_options, tbl.default_time_to_live);
        if (!w) return w.err();
        std::string row = row_key(tbl, pk, ck);
        m.cells.push_back({cell_key(row, kf::k_row_marker), cell(*w, m.now_seconds, std::string()), nullptr, true});
        for (const auto& [col, v] : regular) m.cells.push_back({cell_key(row, col->id), cell(*w, m.now_seconds, v)});
        if (s.if_not_exists) {
            m.condition_prefix = row;
            m.condition_exists = false;
        }
        return tbl.keyspace;
    }

    // Rows addressed by a full primary key (UPDATE, DELETE of a row).
    result<std::vector<std::string>> exact_rows(const table_def& tbl, const std::vector<relation>& where, bool allow_partial,
                                                key_restrictions& kr) {
        auto a = analyze(tbl, where);
        if (!a) return a.err();
        kr = std::move(*a);
        if (!kr.partition_restricted) {
            return make_error(errc::invalid_argument, "Some partition key parts are missing: {}", tbl.columns[tbl.partition_key[0]].name);
        }
        for (const auto& f : kr.filters) {
            if (f.column->kind == column_kind::regular) return make_error(errc::invalid_argument, "Non PRIMARY KEY columns found in where clause: {}", f.column->name);
        }
        // Clustering: all = / IN gives exact rows.
        std::vector<std::vector<std::string>> cks = {{}};
        bool exact = true;
        for (size_t pos = 0; pos < tbl.clustering.size(); ++pos) {
            const key_restrictions::filter* eq = nullptr;
            for (const auto& f : kr.filters) {
                if (f.column->position == int(pos) && f.column->kind == column_kind::clustering &&
                    (f.op == relation_op::eq || f.op == relation_op::in)) eq = &f;
            }
            if (eq == nullptr) {
                exact = false;
                break;
            }
            std::vector<std::vector<std::string>> next;
            for (const auto& prefix : cks) {
                for (const auto& v : eq->values) {
                    auto p = prefix;
                    p.push_back(v);
                    next.push_back(p);
                }
            }
            cks = std::move(next);
        }
        if (!exact) {
            if (!allow_partial) return make_error(errc::invalid_argument, "Some clustering keys are missing");
            return std::vector<std::string>{};
        }
        std::vector<std::string> rows;
        for (const auto& pk : kr.partitions) {
            for (const auto& ck : cks) rows.push_back(row_key(tbl, pk, ck));
        }
        return rows;
    }

    result<std::string> update(const update_stmt& s, mutation& m, const write_options& batch_options) {
        auto t = table(s.keyspace, s.table);
        if (!t) return t.err();
        const auto& tbl = **t;
        key_restrictions kr;
        auto rows = exact_rows(tbl, s.where, false, kr);
        if (!rows) return rows.err();
        auto w = options_of(s.options, batch_options, tbl.default_time_to_live);
        if (!w) return w.err();
        for (const auto& row : *rows) {
            for (const auto& a : s.assignments) {
                const auto* col = tbl.find(a.column);
                if (col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", a.column);
                if (col->kind != column_kind::regular) return make_error(errc::invalid_argument, "PRIMARY KEY part {} found in SET part", a.column);
                if (is_unset(a.value)) continue;  // an unset bound value leaves the column as it is
                if (a.op == assign_op::set) {
                    auto v = eval(a.value, col->type);
                    if (!v) return v.err();
                    m.cells.push_back({cell_key(row, col->id), cell(*w, m.now_seconds, *v)});
                    continue;
                }
                auto c = collection_update(*col, a);
                if (!c) return c.err();
                if (!c->has_value()) continue;  // adding or removing null: nothing to do
                auto [op, operand] = **c;
                cql_type type = col->type;
                cell_write cw{cell_key(row, col->id), cell(*w, m.now_seconds, std::string())};
                cw.merge = [type, op, operand](const std::optional<std::string>& current) {
                    return apply_collection_op(type, op, current, operand);
                };
                m.cells.push_back(std::move(cw));
            }
        }
        if (s.if_exists) {
            if (rows->size() != 1) return make_error(errc::invalid_argument, "IF EXISTS needs exactly one row");
            m.condition_prefix = rows->front();
            m.condition_exists = true;
        }
        return tbl.keyspace;
    }

    bool is_unset(const term& tm) const {
        return tm.k == term::kind::marker && static_cast<size_t>(tm.marker_index) < params.unset.size() &&
               params.unset[static_cast<size_t>(tm.marker_index)];
    }

    // The operation and operand of `c = c + x`, `c = x + c`, `c = c - x` or
    // `m[k] = v` on a non-frozen collection; nullopt when the operand is null.
    result<std::optional<std::pair<collection_op, std::string>>> collection_update(const column_def_full& col, const assignment& a) {
        using R = std::optional<std::pair<collection_op, std::string>>;
        const cql_type& t = col.type;
        if (!t.is_collection() || t.frozen) {
            return make_error(errc::invalid_argument, "Invalid operation on column {} of type {}: only non-frozen collections support "
                              "+, - and [key] updates", col.name, t.name());
        }
        if (a.op == assign_op::prepend && t.kind != type_kind::list) {
            return make_error(errc::invalid_argument, "Invalid operation on column {}: only lists support prepending", col.name);
        }
        if (a.op == assign_op::put) {
            if (t.kind != type_kind::map) {
                return make_error(errc::invalid_argument, "Invalid operation on column {}: setting an element by index is only "
                                  "supported for maps", col.name);
            }
            auto k = eval(*a.key, t.params[0]);
            if (!k) return k.err();
            if (!k->has_value()) return make_error(errc::invalid_argument, "Invalid null value for map key of {}", col.name);
            auto v = eval(a.value, t.params[1]);
            if (!v) return v.err();
            if (!v->has_value()) return R(std::pair(collection_op::remove, list_value({**k})));
            return R(std::pair(collection_op::append, map_value({{**k, **v}})));
        }
        cql_type operand_type = t;
        if (a.op == assign_op::remove && t.kind == type_kind::map) operand_type = cql_type{type_kind::set, {t.params[0]}, false};
        auto v = eval(a.value, operand_type);
        if (!v) return v.err();
        if (!v->has_value()) return R();
        collection_op op = a.op == assign_op::append ? collection_op::append
                           : a.op == assign_op::prepend ? collection_op::prepend
                                                        : collection_op::remove;
        return R(std::pair(op, **v));
    }

    result<std::string> remove(const delete_stmt& s, mutation& m, const write_options& batch_options) {
        auto t = table(s.keyspace, s.table);
        if (!t) return t.err();
        const auto& tbl = **t;
        if (s.options.ttl) return make_error(errc::invalid_argument, "TTL attribute is not allowed for deletes");
        key_restrictions kr;
        auto rows = exact_rows(tbl, s.where, s.columns.empty(), kr);
        if (!rows) return rows.err();
        auto w = options_of(s.options, batch_options);
        if (!w) return w.err();
        w->ttl = 0;
        std::vector<uint16_t> ids;
        if (s.columns.empty()) {
            ids.push_back(kf::k_row_marker);
            for (const auto& c : tbl.columns) {
                if (c.kind == column_kind::regular) ids.push_back(c.id);
            }
        } else {
            for (const auto& name : s.columns) {
                const auto* col = tbl.find(name);
                if (col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", name);
                if (col->kind != column_kind::regular) return make_error(errc::invalid_argument, "Invalid identifier {} for deletion (should not be a PRIMARY KEY part)", name);
                ids.push_back(col->id);
            }
        }
        std::vector<std::string> targets = *rows;
        if (targets.empty()) {
            // Partition or clustering-range delete: tombstone every live row that matches.
            for (const auto& pk : kr.partitions) {
                std::string prefix = partition_prefix(tbl, pk);
                scan(tbl, prefix, kf::prefix_end(prefix), false, [&](row_data& r) {
                    for (const auto& f : kr.filters) {
                        if (!matches(f, column_value(tbl, r, *f.column))) return true;
                    }
                    targets.push_back(r.key);
                    return true;
                });
            }
        }
        for (const auto& row : targets) {
            for (auto id : ids) {
                m.cells.push_back({cell_key(row, id), cell(*w, m.now_seconds, std::nullopt), nullptr, id == kf::k_row_marker});
            }
        }
        if (s.if_exists) {
            if (rows->size() != 1) return make_error(errc::invalid_argument, "IF EXISTS needs exactly one row");
            m.condition_prefix = rows->front();
            m.condition_exists = true;
        }
        return tbl.keyspace;
    }

    // ---- SELECT

    struct projection {
        std::vector<column_spec> specs;
        std::vector<const column_def_full*> columns;  // nullptr for count(*)
        std::vector<bool> writetime;                  // per column: WRITETIME(column) rather than its value
        bool count = false;
    };

    result<projection> project(const select_stmt& s, const std::string& ks, const std::string& tname,
                               const std::vector<std::pair<std::string, cql_type>>& all_columns,
                               const std::vector<const column_def_full*>* table_columns) const {
        projection p;
        auto lookup = [&](const std::string& name) -> std::optional<size_t> {
            for (size_t idx = 0; idx < all_columns.size(); ++idx) {
                if (all_columns[idx].first == name) return idx;
            }
            return std::nullopt;
        };
        if (s.star) {
            for (size_t idx = 0; idx < all_columns.size(); ++idx) {
                p.specs.push_back({ks, tname, all_columns[idx].first, all_columns[idx].second});
                p.columns.push_back(table_columns ? (*table_columns)[idx] : nullptr);
            }
            return p;
        }
        for (const auto& sel : s.selectors) {
            if (sel.count) {
                if (s.selectors.size() != 1) return make_error(errc::invalid_argument, "count(*) cannot be mixed with other selectors");
                p.count = true;
                p.specs.push_back({ks, tname, sel.alias.empty() ? "count" : sel.alias, bigint_type()});
                p.columns.push_back(nullptr);
                continue;
            }
            auto idx = lookup(sel.column);
            if (!idx) return make_error(errc::invalid_argument, "Undefined column name {}", sel.column);
            const column_def_full* col = table_columns ? (*table_columns)[*idx] : nullptr;
            if (sel.writetime) {
                if (col == nullptr) return make_error(errc::invalid_argument, "WRITETIME is not supported on {}", tname);
                if (col->kind == column_kind::partition_key || col->kind == column_kind::clustering) {
                    return make_error(errc::invalid_argument, "Cannot use selection function writeTime on PRIMARY KEY part {}",
                                      sel.column);
                }
                p.specs.push_back({ks, tname, sel.alias, bigint_type()});
            } else {
                p.specs.push_back({ks, tname, sel.alias.empty() ? sel.column : sel.alias, all_columns[*idx].second});
            }
            p.columns.push_back(col);
            p.writetime.resize(p.columns.size(), false);
            p.writetime.back() = sel.writetime;
        }
        return p;
    }

    response select_system(const select_stmt& s, const std::string& ks, virtual_table v) {
        std::vector<std::pair<std::string, cql_type>> cols = v.columns;
        auto p = project(s, ks, s.table, cols, nullptr);
        if (!p) return invalid(p.err().message());
        std::vector<size_t> picks;
        if (s.star) {
            for (size_t idx = 0; idx < cols.size(); ++idx) picks.push_back(idx);
        } else {
            for (const auto& sel : s.selectors) {
                for (size_t idx = 0; idx < cols.size(); ++idx) {
                    if (cols[idx].first == sel.column) picks.push_back(idx);
                }
            }
        }
        std::vector<std::vector<value>> rows;
        int64_t counted = 0;  // count(*): the rows the WHERE keeps
        for (const auto& row : v.rows) {
            bool keep = true;
            for (const auto& r : s.where) {
                size_t idx = 0;
                while (idx < cols.size() && cols[idx].first != r.columns[0]) ++idx;
                if (idx == cols.size()) return invalid(fmt::format("Undefined column name {}", r.columns[0]));
                bool any = false;
                for (const auto& tm : r.values) {
                    auto ev = eval(tm, cols[idx].second);
                    if (!ev) return invalid(ev.err().message());
                    if (*ev == row[idx]) any = true;
                }
                if (!any) keep = false;
            }
            if (!keep) continue;
            if (p->count) {
                ++counted;
                continue;
            }
            std::vector<value> out;
            for (auto idx : picks) out.push_back(row[idx]);
            rows.push_back(std::move(out));
        }
        if (p->count) rows = {{bigint_value(counted)}};
        return rows_result(p->specs, rows, std::nullopt, params.skip_metadata);
    }

    response select(const select_stmt& s) {
        std::string ks = keyspace_of(s.keyspace);
        if (is_system_keyspace(ks)) {
            auto v = system_table(ex.catalog_, ks, s.table, [&](uint64_t id) { return ex.store_.live_rows(id); },
                                  ex.auth_enabled_ ? &ex.auth_ : nullptr);
            if (!v) return invalid(fmt::format("unconfigured table {}", s.table));
            return select_system(s, ks, std::move(*v));
        }
        auto t = table(s.keyspace, s.table);
        if (!t) return invalid(t.err().message());
        const auto& tbl = **t;
        auto order = tbl.select_order();
        std::vector<std::pair<std::string, cql_type>> all;
        for (const auto* c : order) all.emplace_back(c->name, c->type);
        auto p = project(s, tbl.keyspace, tbl.name, all, &order);
        if (!p) return invalid(p.err().message());
        auto kr = analyze(tbl, s.where);
        if (!kr) return invalid(kr.err().message());
        if (kr->needs_filtering && !s.allow_filtering) {
            return invalid("Cannot execute this query as it might involve data filtering and thus may have unpredictable "
                           "performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING");
        }
        bool reverse = false;
        if (!s.order_by.empty()) {
            if (!kr->partition_restricted) return invalid("ORDER BY is only supported when the partition key is restricted by an EQ or an IN.");
            for (size_t idx = 0; idx < s.order_by.size(); ++idx) {
                const auto* col = tbl.find(s.order_by[idx].first);
                if (col == nullptr || col->kind != column_kind::clustering || col->position != int(idx)) {
                    return invalid(fmt::format("Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY"));
                }
                bool want_reverse = s.order_by[idx].second != col->descending;
                if (idx == 0) reverse = want_reverse;
                else if (want_reverse != reverse) return invalid("Unsupported order by relation");
            }
        }
        int64_t limit = INT64_MAX, per_partition = INT64_MAX;
        if (s.limit) {
            auto l = eval_int(*s.limit, false);
            if (!l) return invalid(l.err().message());
            if (*l <= 0) return invalid(fmt::format("LIMIT must be strictly positive"));
            limit = *l;
        }
        if (s.per_partition_limit) {
            auto l = eval_int(*s.per_partition_limit, false);
            if (!l) return invalid(l.err().message());
            if (*l <= 0) return invalid(fmt::format("PER PARTITION LIMIT must be strictly positive"));
            per_partition = *l;
        }
        int64_t page = p->count || params.page_size <= 0 ? INT64_MAX : params.page_size;
        // Paging state: partition index (4) | rows already returned (8) | rows in that partition (8) | last row key.
        size_t start_partition = 0;
        int64_t returned = 0, in_partition = 0;
        std::optional<std::string> resume_after;
        if (params.paging_state) {
            try {
                reader r(*params.paging_state);
                start_partition = static_cast<size_t>(r.int32());
                returned = r.int64();
                in_partition = r.int64();
                resume_after = std::string(r.take(r.remaining()));
            } catch (const protocol_error&) {
                return request_error{error_code::protocol_error, "Invalid value for the paging state", {}, {}, {}};
            }
        }
        std::vector<std::vector<value>> rows;
        int64_t counted = 0;
        std::optional<std::string> next_state;
        auto run_range = [&](size_t partition_idx, std::string begin, std::string end) -> bool {
            if (resume_after && partition_idx == start_partition) {
                if (reverse) end = *resume_after;
                else begin = *resume_after + std::string(3, '\xFF');
            } else {
                in_partition = 0;
            }
            std::string last_partition;
            bool go_on = true;
            scan(tbl, begin, end, reverse, [&](row_data& r) {
                std::string part = r.key.substr(0, 17);
                if (!kr->partition_restricted) {
                    // Full scans cross partitions: the per-partition count restarts.
                    std::string pk_prefix = partition_prefix(tbl, r.pk);
                    if (pk_prefix != last_partition) {
                        if (!last_partition.empty() || !resume_after) in_partition = 0;
                        last_partition = pk_prefix;
                    }
                    if (kr->token_lo && kf::read_token(r.key) < *kr->token_lo) return true;
                    if (kr->token_hi && kf::read_token(r.key) > *kr->token_hi) return false;
                }
                for (const auto& f : kr->filters) {
                    if (!matches(f, column_value(tbl, r, *f.column))) return true;
                }
                if (in_partition >= per_partition) return true;
                if (returned >= limit) {
                    go_on = false;
                    return false;
                }
                if (static_cast<int64_t>(rows.size()) >= page) {
                    // One more row exists: this page ends here.
                    go_on = false;
                    return false;
                }
                ++in_partition;
                ++returned;
                if (p->count) {
                    ++counted;
                    return true;
                }
                std::vector<value> out;
                for (size_t c = 0; c < p->columns.size(); ++c) {
                    if (c < p->writetime.size() && p->writetime[c]) {
                        auto m = r.meta.find(p->columns[c]->id);
                        out.push_back(m == r.meta.end() ? value(std::nullopt) : value(bigint_value(m->second.timestamp)));
                    } else {
                        out.push_back(column_value(tbl, r, *p->columns[c]));
                    }
                }
                rows.push_back(std::move(out));
                std::string state;
                writer w(state);
                w.int32(static_cast<int32_t>(partition_idx));
                w.int64(returned);
                w.int64(in_partition);
                w.raw(r.key);
                next_state = state;
                return true;
            });
            return go_on;
        };
        bool complete = true;
        if (kr->partition_restricted) {
            for (size_t idx = start_partition; idx < kr->partitions.size(); ++idx) {
                std::string prefix = partition_prefix(tbl, kr->partitions[idx]);
                if (!run_range(idx, prefix, kf::prefix_end(prefix))) {
                    complete = false;
                    break;
                }
            }
        } else {
            std::string prefix = kf::table_prefix(tbl.id);
            std::string begin = prefix;
            if (kr->token_lo) kf::append_token(begin, *kr->token_lo);
            complete = run_range(0, begin, kf::prefix_end(prefix));
        }
        if (p->count) return rows_result(p->specs, {{bigint_value(counted)}}, std::nullopt, params.skip_metadata);
        if (complete || returned >= limit) next_state.reset();
        return rows_result(p->specs, rows, next_state, params.skip_metadata);
    }

    // ---- DDL

    asio::awaitable<response> create_keyspace(const create_keyspace_stmt& s) {
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

    asio::awaitable<response> create_table(const create_table_stmt& s) {
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
            auto type = parse_type(c.type);
            if (!type) co_return invalid(type.err().message());
            column_def_full col;
            col.name = c.name;
            col.type = *type;
            col.type_text = type->name();
            col.id = t->next_column_id++;
            t->columns.push_back(col);
        }
        auto mark = [&](const std::vector<std::string>& names, column_kind kind, std::vector<size_t>& out) -> std::optional<request_error> {
            for (size_t pos = 0; pos < names.size(); ++pos) {
                auto it = std::find_if(t->columns.begin(), t->columns.end(), [&](auto& c) { return c.name == names[pos]; });
                if (it == t->columns.end()) return invalid(fmt::format("Unknown definition {} referenced in PRIMARY KEY", names[pos]));
                if (it->kind != column_kind::regular) return invalid(fmt::format("Multiple definition of identifier {} in PRIMARY KEY", names[pos]));
                if (kind != column_kind::regular && it->type.is_collection() && !it->type.frozen) {
                    return invalid(fmt::format("Invalid non-frozen collection type for PRIMARY KEY component {}", names[pos]));
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

    // Validates and sets the kept table options; an error answer when one is out of range.
    static std::optional<request_error> apply_table_options(table_def& t, const std::optional<std::string>& comment,
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

    asio::awaitable<response> drop(const drop_stmt& s) {
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
            auto res = co_await apply(std::move(m));
            if (!res.st) co_return server_error(res);
            for (const auto& key : gone) ex.catalog_.tables.erase(key);
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

    asio::awaitable<response> truncate(const truncate_stmt& s) {
        auto t = table(s.keyspace, s.table);
        if (!t) co_return invalid(t.err().message());
        mutation m;
        m.delete_ranges.emplace_back(kf::table_prefix((*t)->id), kf::prefix_end(kf::table_prefix((*t)->id)));
        auto res = co_await apply(std::move(m));
        if (!res.st) co_return server_error(res);
        co_return void_result();
    }

    asio::awaitable<response> alter(const alter_table_stmt& s) {
        auto t = table(s.keyspace, s.table);
        if (!t) co_return invalid(t.err().message());
        auto copy = std::make_shared<table_def>(**t);
        if (auto e = apply_table_options(*copy, s.comment, s.default_time_to_live, s.gc_grace_seconds)) co_return *e;
        for (const auto& c : s.add) {
            if (copy->find(c.name)) co_return invalid(fmt::format("Invalid column name {} because it conflicts with an existing column", c.name));
            auto type = parse_type(c.type);
            if (!type) co_return invalid(type.err().message());
            column_def_full col;
            col.name = c.name;
            col.type = *type;
            col.type_text = type->name();
            col.id = copy->next_column_id++;
            copy->columns.push_back(col);
        }
        for (const auto& name : s.drop) {
            auto it = std::find_if(copy->columns.begin(), copy->columns.end(), [&](auto& c) { return c.name == name; });
            if (it == copy->columns.end()) co_return invalid(fmt::format("Column {} was not found in table {}", name, s.table));
            if (it->kind != column_kind::regular) co_return invalid(fmt::format("Cannot drop PRIMARY KEY part {}", name));
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
};

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
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        std::string key = it->key().ToString();
        std::string_view value(it->value().data(), it->value().size());
        if (key.size() < 2) continue;
        if (key[1] == 'k') {
            auto k = decode_keyspace(value);
            if (!k) return k.err();
            catalog_.keyspaces[k->name] = *k;
        } else if (key[1] == 't') {
            auto t = decode_table(value);
            if (!t) return t.err();
            catalog_.tables[{t->keyspace, t->name}] = std::make_shared<table_def>(*t);
            store_.purge().set_gc_grace(t->id, t->gc_grace_seconds);
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
    mutation m;
    m.now_seconds = static_cast<uint32_t>(clock_.wall_millis() / 1000);
    for (auto& [ps, params] : statements) {
        params.default_timestamp = common.default_timestamp;
        statement_runner runner{*this, *ps, params, s};
        if (!params.default_timestamp) params.default_timestamp = runner.next_timestamp();
        auto r = runner.build_write(ps->stmt, m, {});
        if (!r) co_return invalid(r.err().message());
        if (m.condition_prefix) co_return invalid("Conditional statements in batches are not supported");
    }
    parsed_statement none{use_stmt{}, {}};
    query_params no_params;
    statement_runner runner{*this, none, no_params, s};
    auto res = co_await runner.apply(std::move(m));
    if (!res.st) co_return statement_runner::server_error(res);
    co_return void_result();
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
    } else if (auto* ins = std::get_if<insert_stmt>(&parsed->stmt); ins && ins->if_not_exists) {
        p.result_specs.push_back({ks, tname, "[applied]", cql_type{type_kind::boolean, {}, false}});
    }
    p.parsed = std::move(*parsed);
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
