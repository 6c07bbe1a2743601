#include "statements/statement_runner.h"

#include <algorithm>

#include "protocol/wire.h"
#include "storage/murmur3.h"

namespace millrace::cql {

result<statement_runner::key_restrictions> statement_runner::analyze(const table_def& t, const std::vector<relation>& where) const {
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
        if (r.op == relation_op::contains_key || r.op == relation_op::map_entry) {
            // CONTAINS KEY k, m[k] = v: filters (an index on keys() / entries() lifts ALLOW FILTERING).
            const auto& ct = col->type;
            if (r.op == relation_op::contains_key && ct.kind != type_kind::map) {
                return make_error(errc::invalid_argument, "Cannot use CONTAINS KEY on non-map column {}", col->name);
            }
            if (r.op == relation_op::map_entry) {
                if (r.entry_not_eq) return make_error(errc::invalid_argument, "Only EQ relations are supported on map entries");
                if (ct.kind == type_kind::list) {
                    return make_error(errc::invalid_argument, "Indexes on list entries ({}[index] = value) are not currently supported.", col->name);
                }
                if (ct.kind != type_kind::map) return make_error(errc::invalid_argument, "Column {} cannot be used as a map", col->name);
                if (ct.frozen) {
                    return make_error(errc::invalid_argument, "Map-entry equality predicates on frozen map column {} are not supported", col->name);
                }
            }
            std::vector<std::string> values;
            for (size_t idx = 0; idx < r.values.size(); ++idx) {
                auto ev = eval(r.values[idx], ct.params[idx], col->name);
                if (!ev) return ev.err();
                if (!ev->has_value()) {
                    if (r.op == relation_op::contains_key) {
                        return make_error(errc::invalid_argument, "Invalid null value in condition for column {}", col->name);
                    }
                    return make_error(errc::invalid_argument, "Unsupported null map {} for column {}", idx == 0 ? "key" : "value", col->name);
                }
                values.push_back(**ev);
            }
            out.needs_filtering = true;
            out.filters.push_back({col, r.op, values});
            continue;
        }
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
            // CONTAINS compares with an element (a list's or set's, a map's value).
            cql_type receiver = col->type;
            if (r.op == relation_op::contains && col->type.is_collection()) {
                receiver = col->type.kind == type_kind::map ? col->type.params[1] : col->type.params[0];
            }
            auto ev = eval(v, receiver, col->name);
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
        if (col->kind == column_kind::regular || col->kind == column_kind::static_) out.needs_filtering = true;
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

bool statement_runner::served_by_index(const table_def& t, const key_restrictions& kr) {
    // One restriction answered by an index; every other one must be one a query may make without filtering.
    bool indexed = false;
    for (const auto& f : kr.filters) {
        if (!indexed && index_for(t, *f.column, f.op) != nullptr) {
            indexed = true;
            continue;
        }
        if (f.column->kind != column_kind::clustering || !kr.partition_restricted) return false;
    }
    return indexed;
}

bool statement_runner::matches(const key_restrictions::filter& f, const value& v) {
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
        case relation_op::contains: {
            // An element of a list or set, a value of a map (CONTAINS on values).
            const auto& t = f.column->type;
            if (!t.is_collection()) return false;
            try {
                reader r(*v);
                int32_t n = r.int32();
                for (int32_t idx = 0; idx < n; ++idx) {
                    if (t.kind == type_kind::map) r.bytes();
                    auto e = r.bytes();
                    const auto& et = t.kind == type_kind::map ? t.params[1] : t.params[0];
                    if (e && compare_values(et, *e, f.values[0]) == 0) return true;
                }
            } catch (const protocol_error&) {
                return false;
            }
            return false;
        }
        case relation_op::contains_key: case relation_op::map_entry: {
            const auto& t = f.column->type;
            if (t.kind != type_kind::map) return false;
            try {
                reader r(*v);
                int32_t n = r.int32();
                for (int32_t idx = 0; idx < n; ++idx) {
                    auto k = r.bytes();
                    auto e = r.bytes();
                    if (!k || compare_values(t.params[0], *k, f.values[0]) != 0) continue;
                    if (f.op == relation_op::contains_key) return true;
                    return e && compare_values(t.params[1], *e, f.values[1]) == 0;
                }
            } catch (const protocol_error&) {
                return false;
            }
            return false;
        }
    }
    return false;
}

size_t statement_runner::partition_prefix_size(const table_def& t, std::string_view key) {
    size_t pos = 17;
    for (size_t idx = 0; idx < t.partition_key.size(); ++idx) {
        if (key.size() < pos + 2) return 0;
        pos += 2 + kf::get_be(key.substr(pos), 2);
    }
    return pos <= key.size() ? pos : 0;
}

void statement_runner::read_statics(const table_def& t, const std::string& partition, row_data& out) const {
    uint32_t now = now_seconds();
    for (const auto& col : t.columns) {
        if (col.kind != column_kind::static_) continue;
        auto bytes = ex.store_.get(cell_key(partition, col.id));
        if (!bytes) continue;
        auto c = kf::decode_cell(*bytes);
        if (!c || !c->live(now)) continue;
        out.cells[col.id] = std::string(c->value);
        c->value = {};  // only the write time and ttl are kept (the bytes do not outlive this call)
        out.meta[col.id] = *c;
    }
}

void statement_runner::merge_cell(row_data& r, uint16_t id, const kf::cell& c, uint32_t now) {
    if (auto m = r.meta.find(id); m != r.meta.end()) {
        kf::cell held = m->second;
        held.value = r.cells[id];
        if (!kf::supersedes(c, held)) return;
    } else if (auto d = r.dead.find(id); d != r.dead.end()) {
        if (!kf::supersedes(c, d->second)) return;
    }
    kf::cell kept = c;
    kept.value = {};
    if (c.live(now)) {
        r.cells[id] = std::string(c.value);
        r.meta[id] = kept;
        r.dead.erase(id);
    } else {
        r.cells.erase(id);
        r.meta.erase(id);
        r.dead[id] = kept;
    }
}

void statement_runner::scan(const table_def& t, const std::string& begin, const std::string& end, bool reverse,
          const std::function<bool(row_data&)>& on_row) const {
    auto it = ex.store_.new_iterator();
    uint32_t now = now_seconds();
    if (reverse) {
        it->SeekForPrev(end);
        if (it->Valid() && it->key().compare(end) >= 0) it->Prev();
    } else {
        it->Seek(begin);
    }
    // Static columns: their cells are keyed by the partition (key_format.h) and may sort anywhere among
    // the partition's rows, so each partition's statics are read once by point look-ups and added to each
    // of its rows; a partition without live rows answers one row of its statics (nulls for the rest) when
    // the range covers the whole partition.
    const bool statics = t.has_static();
    std::string partition;      // the partition of the keys being read (statics only)
    row_data partition_statics;  // its live static cells
    bool partition_rows = false;  // a row of it was answered
    auto finish_partition = [&]() -> bool {
        if (partition.empty()) return true;
        std::string p = std::move(partition);
        partition.clear();
        if (partition_rows || partition_statics.cells.empty()) return true;
        if (std::string_view(begin) > std::string_view(p) || std::string_view(kf::prefix_end(p)) > std::string_view(end)) return true;
        row_data r = std::move(partition_statics);
        r.key = p;
        r.pk.clear();
        r.ck.clear();
        if (!decode_row_key(t, r.key, r.pk, r.ck)) return true;
        return on_row(r);
    };
    row_data current;
    bool have = false;
    auto flush = [&]() -> bool {
        if (!have) return true;
        have = false;
        if (current.cells.empty()) return true;
        if (statics && current.key.size() == partition.size()) return true;  // the static cells: read with the partition
        if (!decode_row_key(t, current.key, current.pk, current.ck)) return true;
        if (current.ck.size() != t.clustering.size()) return true;  // static cells (of a column since dropped)
        if (statics) {
            partition_rows = true;
            for (const auto& [id, v] : partition_statics.cells) current.cells.emplace(id, v);
            for (const auto& [id, m] : partition_statics.meta) current.meta.emplace(id, m);
        }
        return on_row(current);
    };
    for (; it->Valid(); reverse ? it->Prev() : it->Next()) {
        std::string_view key(it->key().data(), it->key().size());
        if (reverse ? key < std::string_view(begin) : key >= std::string_view(end)) break;
        if (key.size() < 19) continue;
        std::string_view rk = key.substr(0, key.size() - 2);
        if (!have || rk != current.key) {
            if (!flush()) return;
            if (statics) {
                size_t n = partition_prefix_size(t, rk);
                if (n == 0) continue;
                if (partition.empty() || rk.substr(0, n) != partition) {
                    if (!finish_partition()) return;
                    partition = std::string(rk.substr(0, n));
                    partition_statics = row_data{};
                    read_statics(t, partition, partition_statics);
                    partition_rows = false;
                }
            }
            current = row_data{};
            current.key = std::string(rk);
            have = true;
        }
        auto c = kf::decode_cell(std::string_view(it->value().data(), it->value().size()));
        if (!c) continue;
        auto id = static_cast<uint16_t>(kf::get_be(key.substr(key.size() - 2), 2));
        if (!c->packed) {
            merge_cell(current, id, *c, now);
            continue;
        }
        // A packed row (key_format.h): its marker and the columns it carries, each merged with the
        // column's own cell (read before or after it) last-write-wins.
        kf::cell marker = *c;
        marker.packed = false;
        marker.value = {};
        merge_cell(current, id, marker, now);
        kf::for_each_packed_column(*c, [&](uint16_t column, const kf::cell& p) { merge_cell(current, column, p, now); });
    }
    if (!flush()) return;
    finish_partition();
}

statement_runner::value statement_runner::column_value(const table_def& t, const row_data& r, const column_def_full& col) const {
    (void)t;
    if (col.kind == column_kind::partition_key) return r.pk[col.position];
    if (col.kind == column_kind::clustering) {
        if (r.ck.empty()) return std::nullopt;  // a partition's statics without rows
        return r.ck[col.position];
    }
    auto it = r.cells.find(col.id);
    if (it == r.cells.end()) return std::nullopt;
    return it->second;
}

namespace {
// SELECT JSON answers one text column named [json]; the selected columns are kept for the conversion.
statement_runner::projection finish_json(const select_stmt& s, statement_runner::projection p) {
    if (!s.json || p.specs.empty()) return p;
    p.json_specs = p.specs;
    p.specs = {{p.specs[0].keyspace, p.specs[0].table, "[json]", cql_type{type_kind::varchar, {}, false}}};
    return p;
}
}  // namespace

void statement_runner::to_json_rows(const projection& p, std::vector<std::vector<value>>& rows) {
    if (p.json_specs.empty()) return;
    for (auto& row : rows) {
        std::string out = "{";
        for (size_t idx = 0; idx < row.size() && idx < p.json_specs.size(); ++idx) {
            const auto& name = p.json_specs[idx].name;
            bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
            });
            out += (idx ? ", " : "") + json_value(cql_type{type_kind::varchar, {}, false}, plain ? name : "\"" + name + "\"") + ": " +
                   json_value(p.json_specs[idx].type, row[idx]);
        }
        row = {value(out + "}")};
    }
}

result<statement_runner::projection> statement_runner::project(const select_stmt& s, const std::string& ks, const std::string& tname,
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
        p.exprs.resize(p.columns.size(), nullptr);
        return finish_json(s, std::move(p));
    }
    for (const auto& sel : s.selectors) {
        if (sel.count) {
            if (s.selectors.size() != 1) return make_error(errc::invalid_argument, "count(*) cannot be mixed with other selectors");
            p.count = true;
            p.specs.push_back({ks, tname, sel.alias.empty() ? "count" : sel.alias, bigint_type()});
            p.columns.push_back(nullptr);
            continue;
        }
        if (sel.expr) {
            const table_def* tbl = nullptr;
            if (table_columns) tbl = ex.catalog_.find_table(ks, tname).get();
            auto type = selector_type(*sel.expr, all_columns, tbl);
            if (!type) return type.err();
            p.specs.push_back({ks, tname, sel.alias.empty() ? sel.expr->display() : sel.alias, *type});
            p.columns.push_back(nullptr);
            p.writetime.resize(p.columns.size(), false);
            p.exprs.resize(p.columns.size(), nullptr);
            p.exprs.back() = &*sel.expr;
            continue;
        }
        auto idx = lookup(sel.column);
        if (!idx) return make_error(errc::invalid_argument, "Undefined column name {}", sel.column);
        const column_def_full* col = table_columns ? (*table_columns)[*idx] : nullptr;
        if (sel.writetime) {
            if (col == nullptr) return make_error(errc::invalid_argument, "WRITETIME is not supported on {}", tname);
            if (col->kind == column_kind::partition_key || col->kind == column_kind::clustering) {
                return make_error(errc::invalid_argument, "Cannot use selection function writetime on PRIMARY KEY part {}",
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
    p.exprs.resize(p.columns.size(), nullptr);
    return finish_json(s, std::move(p));
}

response statement_runner::select_system(const select_stmt& s, const std::string& ks, virtual_table v) {
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
        if (s.star || std::none_of(p->exprs.begin(), p->exprs.end(), [](auto* e) { return e != nullptr; })) {
            for (auto idx : picks) out.push_back(row[idx]);
        } else {
            selector_row sr{&cols, nullptr, nullptr, nullptr, nullptr};
            sr.column = [&](const std::string& name) -> value {
                for (size_t idx = 0; idx < cols.size(); ++idx) {
                    if (cols[idx].first == name) return row[idx];
                }
                return value();
            };
            sr.meta = [](const std::string&) -> const kf::cell* { return nullptr; };
            for (size_t c = 0; c < p->specs.size(); ++c) {
                if (p->exprs[c] == nullptr) {
                    out.push_back(sr.column(s.selectors[c].column));
                    continue;
                }
                auto v = eval_selector(*p->exprs[c], sr);
                if (!v) return invalid(v.err().message());
                out.push_back(std::move(*v));
            }
        }
        if (s.distinct && std::find(rows.begin(), rows.end(), out) != rows.end()) continue;
        rows.push_back(std::move(out));
    }
    if (p->count) rows = {{bigint_value(counted)}};
    to_json_rows(*p, rows);
    return rows_result(p->specs, rows, std::nullopt, params.skip_metadata);
}

// Cassandra's rules for SELECT DISTINCT (SelectStatement.validateDistinctSelection): only partition key
// (and static) columns, all of the partition key unless it is restricted, no clustering or regular restrictions.
std::optional<request_error> statement_runner::check_distinct(const table_def& tbl, const select_stmt& s, const projection& p,
                                                              const key_restrictions& kr) const {
    for (const auto& f : kr.filters) {
        if (f.column->kind != column_kind::partition_key && f.column->kind != column_kind::static_) {
            return invalid("SELECT DISTINCT with WHERE clause only supports restriction by partition key and/or static columns.");
        }
    }
    if (p.count) return std::nullopt;
    for (size_t idx = 0; idx < p.columns.size(); ++idx) {
        const auto* col = p.columns[idx];
        if (col != nullptr && col->kind != column_kind::partition_key && col->kind != column_kind::static_) {
            return invalid(fmt::format("SELECT DISTINCT queries must only request partition key columns and/or static columns (not {})",
                                       col->name));
        }
    }
    if (kr.partition_restricted) return std::nullopt;
    for (auto pk_idx : tbl.partition_key) {
        const auto& col = tbl.columns[pk_idx];
        if (std::find(p.columns.begin(), p.columns.end(), &col) == p.columns.end()) {
            return invalid(fmt::format("SELECT DISTINCT queries must request all the partition key columns (missing {})", col.name));
        }
    }
    (void)s;
    return std::nullopt;
}

response statement_runner::select(const select_stmt& s) {
    std::string ks = keyspace_of(s.keyspace);
    if (is_system_keyspace(ks)) {
        auto v = system_table(ex.catalog_, ks, s.table, [&](uint64_t id) { return ex.store_.live_rows(id); },
                              ex.auth_enabled_ ? &ex.auth_ : nullptr, ex.native_port_);
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
    if (s.distinct) {
        if (auto e = check_distinct(tbl, s, *p, *kr)) return *e;
    }
    if (!s.star && tbl.has_static()) {
        bool any_static = false, only_static = true;
        for (const auto* col : p->columns) {
            if (col == nullptr) continue;
            if (col->kind == column_kind::static_) any_static = true;
            else if (col->kind != column_kind::partition_key) only_static = false;
        }
        bool clustering_restricted = std::any_of(kr->filters.begin(), kr->filters.end(), [](const auto& f) {
            return f.column->kind == column_kind::clustering;
        });
        if (any_static && only_static && clustering_restricted) {
            return invalid("Cannot restrict clustering columns when selecting only static columns");
        }
    }
    if (kr->needs_filtering && !s.allow_filtering && !served_by_index(tbl, *kr)) {
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
    std::string eval_error;  // a selector failed on a row: the Invalid answer
    // DISTINCT: the partition of the last row returned (also of the paging state's row); its other rows are skipped.
    std::string distinct_partition;
    if (s.distinct && resume_after) {
        std::vector<std::string> pk, ck;
        if (decode_row_key(tbl, *resume_after, pk, ck)) distinct_partition = partition_prefix(tbl, pk);
    }
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
            if (s.distinct) {
                std::string part_key = partition_prefix(tbl, r.pk);
                if (part_key == distinct_partition) return true;
                if (returned < limit && static_cast<int64_t>(rows.size()) < page) distinct_partition = std::move(part_key);
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
                if (p->exprs[c] != nullptr) {
                    selector_row sr{&all, &tbl, nullptr, nullptr, &r.pk};
                    sr.column = [&](const std::string& name) -> value {
                        const auto* col = tbl.find(name);
                        return col ? column_value(tbl, r, *col) : value();
                    };
                    sr.meta = [&](const std::string& name) -> const kf::cell* {
                        const auto* col = tbl.find(name);
                        if (col == nullptr) return nullptr;
                        auto m = r.meta.find(col->id);
                        return m == r.meta.end() ? nullptr : &m->second;
                    };
                    auto v = eval_selector(*p->exprs[c], sr);
                    if (!v) {
                        eval_error = v.err().message();
                        go_on = false;
                        return false;
                    }
                    out.push_back(std::move(*v));
                } else if (c < p->writetime.size() && p->writetime[c]) {
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
    if (!eval_error.empty()) return invalid(eval_error);
    if (p->count) return rows_result(p->specs, {{bigint_value(counted)}}, std::nullopt, params.skip_metadata);
    if (complete || returned >= limit) next_state.reset();
    to_json_rows(*p, rows);
    return rows_result(p->specs, rows, next_state, params.skip_metadata);
}

}  // namespace millrace::cql
