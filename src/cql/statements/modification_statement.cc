#include "statements/statement_runner.h"

#include <algorithm>

#include "protocol/wire.h"

namespace millrace::cql {

result<std::string> statement_runner::build_write(const statement& st, mutation& m, const write_options& batch_options) {
    if (auto* s = std::get_if<insert_stmt>(&st)) return insert(*s, m, batch_options);
    if (auto* s = std::get_if<update_stmt>(&st)) return update(*s, m, batch_options);
    if (auto* s = std::get_if<delete_stmt>(&st)) return remove(*s, m, batch_options);
    return make_error(errc::invalid_argument, "only INSERT, UPDATE and DELETE are allowed in a batch");
}

result<statement_runner::write_meta> statement_runner::options_of(const write_options& o, const write_options& batch_options, int32_t default_ttl) {
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

std::string statement_runner::cell(const write_meta& w, uint32_t now, const value& v) const {
    uint32_t expiry = w.ttl == 0 ? 0 : now + w.ttl;
    return kf::encode_cell(!v.has_value(), w.timestamp, v ? expiry : now, v ? w.ttl : 0, v.value_or(""));
}

std::string statement_runner::cell_key(const std::string& row, uint16_t id) {
    std::string key = row;
    kf::put_be(key, id, 2);
    return key;
}

result<std::string> statement_runner::insert(const insert_stmt& s, mutation& m, const write_options& batch_options) {
    auto t = table(s.keyspace, s.table);
    if (!t) return t.err();
    const auto& tbl = **t;
    if (s.columns.size() != s.values.size()) return make_error(errc::invalid_argument, "Unmatched column names/values");
    std::vector<std::pair<const column_def_full*, value>> given;  // the columns written, with their values
    if (s.json) {
        auto text = eval(*s.json, cql_type{type_kind::varchar, {}, false});
        if (!text) return text.err();
        if (!text->has_value()) return make_error(errc::invalid_argument, "Got null for INSERT JSON values");
        auto row = row_from_json(tbl, **text);
        if (!row) return row.err();
        given = std::move(*row);
        // Columns the object leaves out: null (DEFAULT NULL, the default), untouched with DEFAULT UNSET; key columns
        // are null either way, which is refused below.
        for (const auto& c : tbl.columns) {
            bool key = c.kind == column_kind::partition_key || c.kind == column_kind::clustering;
            if (s.json_default_unset && !key) continue;
            if (std::none_of(given.begin(), given.end(), [&](const auto& g) { return g.first == &c; })) given.emplace_back(&c, std::nullopt);
        }
    }
    for (size_t idx = 0; idx < s.columns.size(); ++idx) {
        const auto* col = tbl.find(s.columns[idx]);
        if (col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", s.columns[idx]);
        if (is_unset(s.values[idx])) continue;
        auto v = eval(s.values[idx], col->type, col->name);
        if (!v) return v.err();
        given.emplace_back(col, std::move(*v));
    }
    std::vector<std::string> pk(tbl.partition_key.size()), ck(tbl.clustering.size());
    std::vector<bool> pk_set(pk.size()), ck_set(ck.size());
    std::vector<std::pair<const column_def_full*, value>> regular, statics;
    for (auto& [col, given_value] : given) {
        auto* v = &given_value;
        if (col->kind == column_kind::static_) {
            statics.emplace_back(col, *v);
        } else if (col->kind != column_kind::regular) {
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
    // Only static columns (and the partition key): the partition's statics, no row.
    bool statics_only = !statics.empty() && regular.empty() && std::none_of(ck_set.begin(), ck_set.end(), [](bool b) { return b; });
    for (size_t idx = 0; idx < ck.size() && !statics_only; ++idx) {
        if (!ck_set[idx]) return make_error(errc::invalid_argument, "Some clustering keys are missing: {}", tbl.columns[tbl.clustering[idx]].name);
    }
    auto w = options_of(s.options, batch_options, tbl.default_time_to_live);
    if (!w) return w.err();
    std::string partition = partition_prefix(tbl, pk);
    for (const auto& [col, v] : statics) m.cells.push_back({cell_key(partition, col->id), cell(*w, m.now_seconds, v)});
    if (statics_only) {
        if (s.if_not_exists) return make_error(errc::invalid_argument, "IF NOT EXISTS on the static columns of a partition is not supported");
        return tbl.keyspace;
    }
    std::string row = row_key(tbl, pk, ck);
    // One packed entry for the row (key_format.h): the marker and every regular column but the non-frozen
    // collections and user-defined types, whose + and - and field updates merge into their own cells.
    const uint32_t expiry = w->ttl == 0 ? 0 : m.now_seconds + w->ttl;
    const kf::cell marker{false, true, w->timestamp, expiry, w->ttl, {}};
    std::vector<kf::packed_column> packed;
    for (const auto& [col, v] : regular) {
        if (!col->type.frozen && (col->type.is_collection() || col->type.kind == type_kind::udt)) {
            m.cells.push_back({cell_key(row, col->id), cell(*w, m.now_seconds, v)});
            continue;
        }
        // A null is the column's tombstone, its local deletion time in the expiry (as cell() writes it).
        packed.push_back({col->id, v ? kf::cell{false, false, w->timestamp, expiry, w->ttl, *v}
                                     : kf::cell{true, false, w->timestamp, m.now_seconds, 0, {}}});
    }
    std::stable_sort(packed.begin(), packed.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    m.cells.push_back({cell_key(row, kf::k_row_marker),
                       packed.empty() ? cell(*w, m.now_seconds, std::string()) : kf::encode_packed_row(marker, packed), nullptr,
                       true});
    if (s.if_not_exists) {
        m.condition_prefix = row;
        m.condition_exists = false;
        cas_table = *t;
        cas_row = row;
        cas_all = true;
    }
    return tbl.keyspace;
}

result<std::vector<std::string>> statement_runner::exact_rows(const table_def& tbl, const std::vector<relation>& where, bool allow_partial,
                                            key_restrictions& kr) {
    auto a = analyze(tbl, where);
    if (!a) return a.err();
    kr = std::move(*a);
    if (!kr.partition_restricted) {
        return make_error(errc::invalid_argument, "Some partition key parts are missing: {}", tbl.columns[tbl.partition_key[0]].name);
    }
    for (const auto& f : kr.filters) {
        if (f.column->kind == column_kind::regular || f.column->kind == column_kind::static_) {
            return make_error(errc::invalid_argument, "Non PRIMARY KEY columns found in where clause: {}", f.column->name);
        }
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

result<std::string> statement_runner::update(const update_stmt& s, mutation& m, const write_options& batch_options) {
    auto t = table(s.keyspace, s.table);
    if (!t) return t.err();
    const auto& tbl = **t;
    key_restrictions kr;
    // An UPDATE of static columns alone addresses partitions; any other needs whole primary keys.
    bool statics_only = std::all_of(s.assignments.begin(), s.assignments.end(), [&](const assignment& a) {
        const auto* col = tbl.find(a.column);
        return col != nullptr && col->kind == column_kind::static_;
    });
    auto rows = exact_rows(tbl, s.where, statics_only, kr);
    if (!rows) return rows.err();
    auto w = options_of(s.options, batch_options, tbl.default_time_to_live);
    if (!w) return w.err();
    std::vector<std::string> partitions;
    if (tbl.has_static()) {
        for (const auto& pk : kr.partitions) partitions.push_back(partition_prefix(tbl, pk));
    }
    if (statics_only && std::any_of(kr.filters.begin(), kr.filters.end(), [](const auto& f) { return f.column->kind == column_kind::clustering; })) {
        return make_error(errc::invalid_argument, "Invalid restrictions on clustering columns since the UPDATE statement modifies only static columns");
    }
    // Static cells are written once per partition, whatever rows the statement names.
    std::vector<std::string> targets = *rows;
    if (statics_only) targets = partitions;
    else targets.insert(targets.begin(), partitions.begin(), partitions.end());
    for (const auto& target : targets) {
        bool partition_target = std::find(partitions.begin(), partitions.end(), target) != partitions.end();
        const std::string& row = target;
        for (const auto& a : s.assignments) {
            const auto* col = tbl.find(a.column);
            if (col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", a.column);
            if ((col->kind == column_kind::static_) != partition_target) continue;
            if (col->kind != column_kind::regular && col->kind != column_kind::static_) {
                return make_error(errc::invalid_argument, "PRIMARY KEY part {} found in SET part", a.column);
            }
            if (is_unset(a.value)) continue;  // an unset bound value leaves the column as it is
            if (a.op == assign_op::set) {
                auto v = eval(a.value, col->type, col->name);
                if (!v) return v.err();
                m.cells.push_back({cell_key(row, col->id), cell(*w, m.now_seconds, *v)});
                continue;
            }
            if (a.op == assign_op::field) {
                auto f = field_update(*col, a.field, &a.value);
                if (!f) return f.err();
                cell_write cw{cell_key(row, col->id), cell(*w, m.now_seconds, std::string())};
                cw.merge = std::move(*f);
                m.cells.push_back(std::move(cw));
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
    // An update of static columns alone is conditioned on its partition.
    if (auto st = add_if_clauses(*t, s.if_exists, s.conditions, statics_only ? partitions : *rows, m); !st) return st.err();
    return tbl.keyspace;
}

bool statement_runner::is_unset(const term& tm) const {
    return tm.k == term::kind::marker && static_cast<size_t>(tm.marker_index) < params.unset.size() &&
           params.unset[static_cast<size_t>(tm.marker_index)];
}

namespace {

// A term as Cassandra prints it in messages: `(1, 'a')`, `?`.
std::string term_text(const literal& l) {
    auto join = [&](const char* open, const char* close, bool pairs) {
        std::string out = open;
        for (size_t idx = 0; idx < l.elements.size(); ++idx) {
            if (idx) out += pairs && idx % 2 == 1 ? ": " : ", ";
            out += term_text(l.elements[idx]);
        }
        return out + close;
    };
    switch (l.kind) {
        case literal_kind::string: return "'" + l.text + "'";
        case literal_kind::null: return "null";
        case literal_kind::tuple: return join("(", ")", false);
        case literal_kind::list: return join("[", "]", false);
        case literal_kind::set: return join("{", "}", false);
        case literal_kind::map: case literal_kind::udt: return join("{", "}", true);
        default: return l.text;
    }
}

std::string term_text(const term& t) {
    if (t.k == term::kind::marker) return "?";
    if (t.k == term::kind::function) return t.function + "(...)";
    return term_text(t.lit);
}

}  // namespace

result<std::function<std::optional<std::string>(const std::optional<std::string>&)>> statement_runner::field_update(
    const column_def_full& col, const std::string& field, const term* value_term) {
    const cql_type& t = col.type;
    auto shown = [&] { return value_term == nullptr ? std::string("null") : term_text(*value_term); };
    if (t.kind != type_kind::udt) {
        return make_error(errc::invalid_argument, "Invalid operation ({}.{} = {}) for non-UDT column {}", col.name, field, shown(), col.name);
    }
    if (t.frozen) {
        return make_error(errc::invalid_argument, "Invalid operation ({}.{} = {}) for frozen UDT column {}", col.name, field, shown(), col.name);
    }
    auto at = std::find(t.field_names.begin(), t.field_names.end(), field);
    if (at == t.field_names.end()) {
        return make_error(errc::invalid_argument, "UDT column {} does not have a field named {}", col.name, field);
    }
    size_t idx = static_cast<size_t>(at - t.field_names.begin());
    value v;
    if (value_term) {
        auto ev = eval(*value_term, t.params[idx], col.name);
        if (!ev) return ev.err();
        v = std::move(*ev);
    }
    // Read-modify-write on the writer thread, as collection updates are: the other fields keep their values.
    size_t n = t.params.size();
    return std::function<std::optional<std::string>(const std::optional<std::string>&)>(
        [idx, n, v](const std::optional<std::string>& current) -> std::optional<std::string> {
            std::vector<std::optional<std::string>> parts;
            if (current) split_components(*current, parts);
            parts.resize(std::max(n, parts.size()));
            parts[idx] = v;
            return join_components(parts);
        });
}

result<std::optional<std::pair<collection_op, std::string>>> statement_runner::collection_update(const column_def_full& col, const assignment& a) {
    using R = std::optional<std::pair<collection_op, std::string>>;
    const cql_type& t = col.type;
    if (t.kind == type_kind::tuple || t.kind == type_kind::udt) {
        std::string op = a.op == assign_op::append ? fmt::format("{} = {} + {}", col.name, col.name, term_text(a.value))
                         : a.op == assign_op::remove ? fmt::format("{} = {} - {}", col.name, col.name, term_text(a.value))
                         : a.op == assign_op::prepend ? fmt::format("{} = {} + {}", col.name, term_text(a.value), col.name)
                                                      : fmt::format("{}[{}] = {}", col.name, a.key ? term_text(*a.key) : "", term_text(a.value));
        return make_error(errc::invalid_argument, "Invalid operation ({}) for {} column {}", op,
                          t.kind == type_kind::tuple ? "tuple" : t.frozen ? "frozen UDT" : "UDT", col.name);
    }
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

result<std::string> statement_runner::remove(const delete_stmt& s, mutation& m, const write_options& batch_options) {
    auto t = table(s.keyspace, s.table);
    if (!t) return t.err();
    const auto& tbl = **t;
    if (s.options.ttl) return make_error(errc::invalid_argument, "TTL attribute is not allowed for deletes");
    std::vector<uint16_t> ids, static_ids;
    if (s.columns.empty()) {
        ids.push_back(kf::k_row_marker);
        for (const auto& c : tbl.columns) {
            if (c.kind == column_kind::regular) ids.push_back(c.id);
        }
    } else {
        for (const auto& name : s.columns) {
            if (name.find('.') != std::string::npos) continue;  // a udt's field: below
            const auto* col = tbl.find(name);
            if (col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", name);
            if (col->kind == column_kind::static_) {
                static_ids.push_back(col->id);
                continue;
            }
            if (col->kind != column_kind::regular) return make_error(errc::invalid_argument, "Invalid identifier {} for deletion (should not be a PRIMARY KEY part)", name);
            ids.push_back(col->id);
        }
    }
    // DELETE of static columns alone addresses partitions.
    bool statics_only = ids.empty() && !static_ids.empty();
    key_restrictions kr;
    auto rows = exact_rows(tbl, s.where, s.columns.empty() || statics_only, kr);
    if (!rows) return rows.err();
    auto w = options_of(s.options, batch_options);
    if (!w) return w.err();
    w->ttl = 0;
    bool clustering_restricted = std::any_of(kr.filters.begin(), kr.filters.end(), [](const auto& f) {
        return f.column->kind == column_kind::clustering;
    });
    // A whole-partition delete removes the partition's statics too.
    if (s.columns.empty() && !clustering_restricted) {
        for (const auto& c : tbl.columns) {
            if (c.kind == column_kind::static_) static_ids.push_back(c.id);
        }
    }
    if (statics_only && clustering_restricted && rows->empty()) {
        return make_error(errc::invalid_argument, "Invalid restrictions on clustering columns since the DELETE statement modifies only static columns");
    }
    for (const auto& pk : kr.partitions) {
        std::string partition = partition_prefix(tbl, pk);
        for (auto id : static_ids) m.cells.push_back({cell_key(partition, id), cell(*w, m.now_seconds, std::nullopt)});
    }
    std::vector<std::string> targets = statics_only ? std::vector<std::string>{} : *rows;
    if (targets.empty() && !statics_only) {
        // Partition or clustering-range delete: tombstone every live row that matches.
        for (const auto& pk : kr.partitions) {
            std::string prefix = partition_prefix(tbl, pk);
            scan(tbl, prefix, kf::prefix_end(prefix), false, [&](row_data& r) {
                if (r.ck.size() != tbl.clustering.size()) return true;  // the statics of a partition without rows
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
    // DELETE u.f: the field set to null, the udt's other fields kept.
    for (const auto& name : s.columns) {
        auto dot = name.find('.');
        if (dot == std::string::npos) continue;
        const auto* col = tbl.find(name.substr(0, dot));
        if (col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", name.substr(0, dot));
        auto f = field_update(*col, name.substr(dot + 1), nullptr);
        if (!f) return f.err();
        for (const auto& row : *rows) {
            cell_write cw{cell_key(row, col->id), cell(*w, m.now_seconds, std::string())};
            cw.merge = *f;
            m.cells.push_back(std::move(cw));
        }
    }
    std::vector<std::string> condition_rows = *rows;
    if (statics_only) {
        condition_rows.clear();
        for (const auto& pk : kr.partitions) condition_rows.push_back(partition_prefix(tbl, pk));
    }
    if (auto st = add_if_clauses(*t, s.if_exists, s.conditions, condition_rows, m); !st) return st.err();
    return tbl.keyspace;
}

status statement_runner::add_if_clauses(const std::shared_ptr<table_def>& tbl, bool if_exists,
                                        const std::vector<relation>& conditions, const std::vector<std::string>& rows,
                                        mutation& m) {
    if (if_exists) {
        if (rows.size() != 1) return make_error(errc::invalid_argument, "IF EXISTS needs exactly one row");
        m.condition_prefix = rows.front();
        m.condition_exists = true;
        cas_table = tbl;
        cas_row = rows.front();
        cas_all = true;
    }
    if (conditions.empty()) return {};
    if (m.condition_prefix) return make_error(errc::invalid_argument, "Cannot mix IF EXISTS and IF conditions");
    if (rows.size() != 1) {
        return make_error(errc::invalid_argument, "IN on the clustering key columns is not supported with conditional {}",
                          std::holds_alternative<delete_stmt>(ps.stmt) ? "deletions" : "updates");
    }
    struct condition {
        uint16_t id;
        relation_op op;
        cql_type type;
        std::vector<value> values;
    };
    std::vector<condition> checks;
    cas_columns.clear();
    for (const auto& r : conditions) {
        const auto* col = r.token ? nullptr : tbl->find(r.columns[0]);
        if (col == nullptr) return make_error(errc::invalid_argument, "Undefined column name {}", r.columns[0]);
        if (col->kind != column_kind::regular && col->kind != column_kind::static_) {
            return make_error(errc::invalid_argument, "PRIMARY KEY column '{}' cannot have IF conditions", col->name);
        }
        if (r.op == relation_op::contains) return make_error(errc::invalid_argument, "Unsupported operator CONTAINS in IF condition");
        if (r.op == relation_op::contains_key || r.op == relation_op::map_entry) {
            return make_error(errc::invalid_argument, "Unsupported {} in IF condition", r.op == relation_op::contains_key ? "operator CONTAINS KEY" : "map entry");
        }
        condition c{col->id, r.op, col->type, {}};
        for (const auto& tm : r.values) {
            if (r.op == relation_op::in && tm.k == term::kind::marker) {
                auto lv = eval(tm, cql_type{type_kind::list, {col->type}, false});
                if (!lv) return lv.err();
                if (!lv->has_value()) continue;
                reader rd(**lv);
                int32_t n = rd.int32();
                for (int32_t idx = 0; idx < n; ++idx) c.values.push_back(rd.bytes());
                continue;
            }
            auto v = eval(tm, col->type);
            if (!v) return v.err();
            if (!v->has_value() && r.op != relation_op::eq && r.op != relation_op::neq && r.op != relation_op::in) {
                return make_error(errc::invalid_argument, "Invalid comparison with null for operator \"{}\"",
                                  r.op == relation_op::lt ? "<" : r.op == relation_op::le ? "<=" : r.op == relation_op::gt ? ">" : ">=");
            }
            c.values.push_back(*v);
        }
        checks.push_back(std::move(c));
        if (std::find(cas_columns.begin(), cas_columns.end(), col) == cas_columns.end()) cas_columns.push_back(col);
    }
    // A refused answer lists the condition columns in the order of SELECT *, the static ones after the regular
    // ones (Cassandra's column order).
    auto order = tbl->select_order();
    auto rank = [&](const column_def_full* c) {
        return std::pair(c->kind == column_kind::static_, std::find(order.begin(), order.end(), c) - order.begin());
    };
    std::sort(cas_columns.begin(), cas_columns.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
    // Conditions on static columns read the partition's statics (the row key of a statics-only statement is the
    // partition's own prefix, which already holds them). With only those, a partition without any is one whose
    // statics are null (Cassandra applies `IF s = null` there).
    bool statics_only = std::all_of(cas_columns.begin(), cas_columns.end(), [](auto* c) { return c->kind == column_kind::static_; });
    size_t partition_size = partition_prefix_size(*tbl, rows.front());
    if (!statics_only && !tbl->clustering.empty() && partition_size == rows.front().size()) {
        std::string missing;
        for (auto idx : tbl->clustering) missing += (missing.empty() ? "" : ", ") + tbl->columns[idx].name;
        return make_error(errc::invalid_argument, "Some clustering keys are missing: {}", missing);
    }
    m.condition_prefix = rows.front();
    m.condition_partition_rows = statics_only && !tbl->clustering.empty() && partition_size == rows.front().size();
    if (std::any_of(cas_columns.begin(), cas_columns.end(), [](auto* c) { return c->kind == column_kind::static_; }) &&
        partition_size != 0 && partition_size < rows.front().size()) {
        m.condition_statics = rows.front().substr(0, partition_size);
    }
    m.condition_check = [checks = std::move(checks), statics_only](const std::map<uint16_t, std::string>& cells) {
        if (cells.empty() && !statics_only) return false;  // no row: no condition holds
        for (const auto& c : checks) {
            auto it = cells.find(c.id);
            auto equal = [&](const value& v) {
                if (it == cells.end() || !v) return it == cells.end() && !v;
                return compare_values(c.type, it->second, *v) == 0;
            };
            bool ok = false;
            switch (c.op) {
                case relation_op::eq: ok = equal(c.values[0]); break;
                case relation_op::neq: ok = !equal(c.values[0]); break;
                case relation_op::in: ok = std::any_of(c.values.begin(), c.values.end(), equal); break;
                default: {
                    if (it == cells.end()) break;
                    int cmp = compare_values(c.type, it->second, *c.values[0]);
                    ok = c.op == relation_op::lt ? cmp < 0 : c.op == relation_op::le ? cmp <= 0 : c.op == relation_op::gt ? cmp > 0 : cmp >= 0;
                }
            }
            if (!ok) return false;
        }
        return true;
    };
    cas_table = tbl;
    cas_row = rows.front();
    cas_all = false;
    return {};
}

std::string statement_runner::cas_result(const std::string& keyspace, const std::string& table, const mutation_result& res) const {
    std::vector<column_spec> specs{{keyspace, table, "[applied]", cql_type{type_kind::boolean, {}, false}}};
    std::vector<value> row{bool_value(res.applied)};
    if (!res.applied && !res.existing.empty() && cas_table) {
        std::vector<std::string> pk, ck;
        bool decoded = decode_row_key(*cas_table, cas_row, pk, ck);
        MILLRACE_ASSERT(decoded, "conditional write on an undecodable row key of {} bytes", cas_row.size());
        auto columns = cas_all ? cas_table->select_order() : cas_columns;
        for (const auto* col : columns) {
            specs.push_back({keyspace, table, col->name, col->type});
            if (col->kind == column_kind::partition_key) row.push_back(pk[col->position]);
            else if (col->kind == column_kind::clustering) row.push_back(ck[col->position]);
            else {
                auto it = res.existing.find(col->id);
                row.push_back(it == res.existing.end() ? value() : value(it->second));
            }
        }
    }
    return rows_result(specs, {row}, std::nullopt, false);
}

std::string statement_runner::batch_cas_result(const std::string& keyspace, const std::string& table,
                                               const std::vector<cas_row_spec>& rows, const mutation_result& res) const {
    std::vector<column_spec> specs{{keyspace, table, "[applied]", cql_type{type_kind::boolean, {}, false}}};
    if (res.applied || rows.empty() || !rows.front().table) return rows_result(specs, {{bool_value(res.applied)}}, std::nullopt, false);
    const auto& tbl = *rows.front().table;
    auto order = tbl.select_order();
    std::vector<const column_def_full*> columns;
    bool all = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return r.all; });
    auto is_static = [](const column_def_full* c) { return c->kind == column_kind::static_; };
    bool any_static = std::any_of(rows.begin(), rows.end(), [&](const auto& r) { return std::any_of(r.columns.begin(), r.columns.end(), is_static); });
    if (any_static && !all) return batch_cas_result_with_statics(keyspace, table, rows, res);
    for (const auto* col : order) {
        bool key = col->kind == column_kind::partition_key || col->kind == column_kind::clustering;
        bool conditioned = std::any_of(rows.begin(), rows.end(), [&](const auto& r) {
            return std::find(r.columns.begin(), r.columns.end(), col) != r.columns.end();
        });
        if (all || key || conditioned) columns.push_back(col);
    }
    // The rows that exist, once each, in key (clustering) order.
    std::map<std::string, const std::map<uint16_t, std::string>*> existing;
    for (size_t idx = 0; idx < rows.size() && idx < res.existing_rows.size(); ++idx) {
        if (!res.existing_rows[idx].empty()) existing.emplace(rows[idx].row, &res.existing_rows[idx]);
    }
    if (existing.empty()) return rows_result(specs, {{bool_value(false)}}, std::nullopt, false);
    return refused_rows(tbl, keyspace, table, columns, existing, nullptr);
}

std::string statement_runner::batch_cas_result_with_statics(const std::string& keyspace, const std::string& table,
                                                           const std::vector<cas_row_spec>& rows, const mutation_result& res) const {
    // Cassandra's answer when conditions name static columns: the key columns, then the conditioned columns in the
    // order of the statements (each its regular ones, then its static ones); one row per conditioned row that exists
    // among the statements with a regular column in their conditions, else the partition's first row (its
    // clustering null when it has none), each carrying the partition's statics.
    const auto& tbl = *rows.front().table;
    std::vector<column_spec> specs{{keyspace, table, "[applied]", cql_type{type_kind::boolean, {}, false}}};
    std::vector<const column_def_full*> columns;
    for (auto idx : tbl.partition_key) columns.push_back(&tbl.columns[idx]);
    for (auto idx : tbl.clustering) columns.push_back(&tbl.columns[idx]);
    for (const auto& r : rows) {
        for (const auto* c : r.columns) {
            if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);
        }
    }
    std::map<uint16_t, std::string> statics;
    std::map<std::string, const std::map<uint16_t, std::string>*> existing;
    bool partition_seen = false;
    for (size_t idx = 0; idx < rows.size() && idx < res.existing_rows.size(); ++idx) {
        const auto& cells = res.existing_rows[idx];
        for (const auto& [id, v] : cells) {
            for (const auto& c : tbl.columns) {
                if (c.id == id && c.kind == column_kind::static_) statics.emplace(id, v);
            }
        }
        if (!cells.empty()) partition_seen = true;
        bool regular = std::any_of(rows[idx].columns.begin(), rows[idx].columns.end(),
                                   [](const column_def_full* c) { return c->kind != column_kind::static_; });
        if (regular && !cells.empty()) existing.emplace(rows[idx].row, &cells);
    }
    std::map<uint16_t, std::string> none;
    if (existing.empty() && partition_seen) {
        // The partition's first live row, or the partition itself.
        std::string partition = rows.front().row.substr(0, partition_prefix_size(tbl, rows.front().row));
        std::string first = partition;
        scan(tbl, partition, kf::prefix_end(partition), false, [&](row_data& r) {
            if (r.ck.size() != tbl.clustering.size()) return true;
            first = r.key;
            return false;
        });
        existing.emplace(first, &none);
    }
    if (existing.empty()) return rows_result(specs, {{bool_value(false)}}, std::nullopt, false);
    return refused_rows(tbl, keyspace, table, columns, existing, &statics);
}

std::string statement_runner::refused_rows(const table_def& tbl, const std::string& keyspace, const std::string& table,
                                           const std::vector<const column_def_full*>& columns,
                                           const std::map<std::string, const std::map<uint16_t, std::string>*>& existing,
                                           const std::map<uint16_t, std::string>* statics) const {
    std::vector<column_spec> specs{{keyspace, table, "[applied]", cql_type{type_kind::boolean, {}, false}}};
    for (const auto* col : columns) specs.push_back({keyspace, table, col->name, col->type});
    std::vector<std::vector<value>> out;
    for (const auto& [row_key, cells] : existing) {
        std::vector<std::string> pk, ck;
        if (!decode_row_key(tbl, row_key, pk, ck)) continue;
        std::vector<value> row{bool_value(false)};
        for (const auto* col : columns) {
            if (col->kind == column_kind::partition_key) row.push_back(pk[col->position]);
            else if (col->kind == column_kind::clustering) row.push_back(ck.empty() ? value() : value(ck[col->position]));
            else {
                const auto& from = statics != nullptr && col->kind == column_kind::static_ ? *statics : *cells;
                auto it = from.find(col->id);
                row.push_back(it == from.end() ? value() : value(it->second));
            }
        }
        out.push_back(std::move(row));
    }
    return rows_result(specs, out, std::nullopt, false);
}

}  // namespace millrace::cql
