// compile_job: statements -> tables, pipelines and their bound plans; explain().
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "ast.h"
#include "millrace/sql/encoder.h"
#include "plan.h"
#include "program_state.h"

namespace millrace::sql {

void assign_windows(const window_spec& w, int64_t t, std::vector<std::pair<int64_t, int64_t>>& out) {
    out.clear();
    auto floor_mod = [](int64_t a, int64_t b) { return ((a % b) + b) % b; };
    switch (w.kind) {
        case window_kind::tumble: {
            int64_t start = t - floor_mod(t - w.offset_ms, w.size_ms);
            out.emplace_back(start, start + w.size_ms);
            break;
        }
        case window_kind::hop: {
            int64_t last = t - floor_mod(t - w.offset_ms, w.slide_ms);
            for (int64_t start = last - w.size_ms + w.slide_ms; start <= last; start += w.slide_ms) {
                if (start + w.size_ms > t) out.emplace_back(start, start + w.size_ms);
            }
            break;
        }
        case window_kind::cumulate: {
            int64_t start = t - floor_mod(t - w.offset_ms, w.size_ms);
            for (int64_t end = start + w.slide_ms; end <= start + w.size_ms; end += w.slide_ms) {
                if (end > t) out.emplace_back(start, end);
            }
            break;
        }
        case window_kind::none: break;
    }
}

namespace {

const std::set<std::string> k_kafka_metadata = {"timestamp", "partition", "offset", "headers", "topic", "timestamp-type", "leader-epoch"};

struct compiler {
    std::string file;
    std::vector<diagnostic>& errors;
    const compile_options& options;
    job_program::state st;
    std::vector<std::shared_ptr<table_plan>> tplans;
    std::vector<std::shared_ptr<pipeline_plan>> pplans;
    std::map<std::string, position> set_where;

    void error(position where, std::string message) { errors.push_back({file, where.line, where.column, std::move(message)}); }

    std::optional<size_t> table_index(std::string_view name) const {
        for (size_t idx = 0; idx < st.tables.size(); ++idx) {
            if (iequals(st.tables[idx].name, name)) return idx;
        }
        return std::nullopt;
    }

    sql_type metadata_type(const std::string& key) {
        if (key == "timestamp") return sql_type::timestamp_ltz(3);
        if (key == "partition") return sql_type::int_();
        if (key == "offset") return sql_type::bigint();
        if (key == "topic") return sql_type::string();
        if (key == "timestamp-type") return sql_type::string();
        if (key == "leader-epoch") return sql_type::int_();
        sql_type m = sql_type::of(type_id::map);
        m.children = {sql_type::string(), sql_type::of(type_id::varbinary, k_max_varchar)};
        return m;
    }

    void add_table(const ast::create_table& ct) {
        if (table_index(ct.name)) {
            error(ct.where, fmt::format("table {} is declared twice", ct.name));
            return;
        }
        table_def t;
        t.name = ct.name;
        t.where = ct.where;
        for (size_t idx = 0; idx < ct.options.size(); ++idx) {
            if (t.options.count(ct.options[idx].first)) error(ct.option_where[idx], fmt::format("option '{}' of table {} is given twice", ct.options[idx].first, ct.name));
            t.options[ct.options[idx].first] = ct.options[idx].second;
        }
        t.connector = t.option("connector");
        t.format = t.option("format", t.option("value.format"));
        t.key_format = t.option("key.format");
        std::string key_fields = t.option("key.fields");
        for (size_t start = 0; !key_fields.empty();) {
            size_t semi = key_fields.find(';', start);
            std::string f = key_fields.substr(start, semi == std::string::npos ? std::string::npos : semi - start);
            if (!f.empty()) t.key_fields.push_back(f);
            if (semi == std::string::npos) break;
            start = semi + 1;
        }
        bool ok = true;
        if (t.connector.empty()) {
            error(ct.where, fmt::format("table {} has no 'connector' option ('kafka' or 'cassandra')", ct.name));
            ok = false;
        } else if (t.connector == "kafka" || t.connector == "upsert-kafka") {
            if (t.connector == "upsert-kafka") error(ct.where, fmt::format("table {}: connector 'upsert-kafka' is not supported (use 'kafka')", ct.name));
            if (t.option("topic").empty()) {
                if (!t.option("topic-pattern").empty()) error(ct.where, fmt::format("table {}: 'topic-pattern' is not supported (name one 'topic')", ct.name));
                else error(ct.where, fmt::format("table {} (kafka) needs a 'topic' option", ct.name));
            }
            if (t.format.empty()) error(ct.where, fmt::format("table {} (kafka) needs a 'format' option ('json', 'avro-confluent' or 'raw')", ct.name));
            else if (t.format != "json" && t.format != "avro-confluent" && t.format != "raw") {
                error(ct.where, fmt::format("table {}: format '{}' is not supported ('json', 'avro-confluent', 'raw')", ct.name, t.format));
            }
            if (!t.key_format.empty() && t.key_format != "json" && t.key_format != "raw") {
                error(ct.where, fmt::format("table {}: key.format '{}' is not supported ('json', 'raw')", ct.name, t.key_format));
            }
            if (!t.key_fields.empty() && t.key_format.empty()) error(ct.where, fmt::format("table {}: 'key.fields' needs 'key.format'", ct.name));
            std::string mode = t.option("scan.startup.mode", "group-offsets");
            if (mode != "earliest-offset" && mode != "latest-offset" && mode != "group-offsets" && mode != "timestamp" && mode != "specific-offsets") {
                error(ct.where, fmt::format("table {}: scan.startup.mode '{}' is not one of earliest-offset, latest-offset, group-offsets, timestamp, specific-offsets", ct.name, mode));
            }
        } else if (t.connector == "cassandra") {
            if (t.option("keyspace").empty() || t.option("table").empty()) error(ct.where, fmt::format("table {} (cassandra) needs 'keyspace' and 'table' options", ct.name));
            if (ct.primary_key.empty()) error(ct.where, fmt::format("table {} (cassandra) needs a PRIMARY KEY (...) NOT ENFORCED: the upsert key", ct.name));
            for (const auto& [key, val] : t.options) {
                if (key.rfind("cql.type.", 0) == 0 && !valid_cql_type(val)) {
                    error(ct.where, fmt::format("table {}: '{}' = '{}' is not a CQL type (a native type such as uuid, "
                                                "text, bigint, timeuuid, inet, or list<...>, set<...>, map<..., ...>, "
                                                "frozen<...>, tuple<...>)", ct.name, key, val));
                }
            }
        } else {
            error(ct.where, fmt::format("table {}: connector '{}' is not supported ('kafka', 'cassandra')", ct.name, t.connector));
            ok = false;
        }
        (void)ok;
        auto plan = std::make_shared<table_plan>();
        if (!ct.has_column_list) {
            if (t.connector != "kafka" || t.format != "avro-confluent") {
                error(ct.where, fmt::format("table {} declares no columns; only an avro-confluent kafka source may take them from the schema registry", ct.name));
            } else if (!options.latest_schema) {
                error(ct.where, fmt::format("table {} declares no columns and no schema registry is available to derive them from subject '{}-value'", ct.name, t.option("topic")));
            } else {
                auto text = options.latest_schema(t.option("topic") + "-value");
                if (!text) error(ct.where, fmt::format("table {}: the registry's schema of subject '{}-value': {}", ct.name, t.option("topic"), text.err().message()));
                else if (auto cols = columns_from_avro(*text); !cols) error(ct.where, fmt::format("table {}: {}", ct.name, cols.err().message()));
                else {
                    t.columns_from_registry = true;
                    for (const auto& c : *cols) {
                        column_def d;
                        d.name = c.name;
                        d.type = c.type;
                        d.where = ct.where;
                        t.columns.push_back(d);
                    }
                }
            }
        }
        std::set<std::string> seen;
        for (const auto& c : ct.columns) {
            std::string key = upper_ascii(c.name);
            if (!seen.insert(key).second) error(c.where, fmt::format("column {} of table {} is declared twice", c.name, ct.name));
            column_def d;
            d.name = c.name;
            d.type = c.type;
            d.kind = c.kind;
            d.metadata_key = c.metadata_key;
            d.is_virtual = c.is_virtual;
            d.where = c.where;
            if (c.computed) d.expression = c.computed->text;
            if (c.kind == column_kind::metadata) {
                if (t.connector == "cassandra") error(c.where, fmt::format("column {}: the cassandra connector has no metadata", c.name));
                else if (!k_kafka_metadata.count(c.metadata_key)) {
                    error(c.where, fmt::format("column {}: unknown kafka metadata key '{}' (timestamp, partition, offset, headers, topic, timestamp-type, leader-epoch)", c.name, c.metadata_key));
                } else {
                    sql_type mt = metadata_type(c.metadata_key);
                    bool fits = c.metadata_key == "timestamp" ? c.type.is_timestamp() : implicitly_castable(mt, c.type);
                    if (!fits) error(c.where, fmt::format("column {}: metadata '{}' is {}, cannot be declared {}", c.name, c.metadata_key, mt.to_string(), c.type.to_string()));
                }
            }
            t.columns.push_back(std::move(d));
        }
        for (const auto& k : t.key_fields) {
            bool found = false;
            for (auto& c : t.columns) {
                if (c.name == k && c.kind == column_kind::physical) c.from_key = found = true;
            }
            if (!found) error(ct.where, fmt::format("table {}: key field '{}' is not a physical column", ct.name, k));
        }
        if (t.connector == "kafka" && (t.format == "raw" || t.key_format == "raw")) {
            bool except_key = t.option("value.fields-include", "ALL") == "EXCEPT_KEY";
            size_t value_cols = 0, key_cols = 0;
            for (const auto& c : t.columns) {
                if (c.kind != column_kind::physical) continue;
                key_cols += c.from_key;
                value_cols += !c.from_key || !except_key;
            }
            if (t.format == "raw" && value_cols != 1) error(ct.where, fmt::format("table {}: format 'raw' needs exactly one physical value column, it has {}", ct.name, value_cols));
            if (t.key_format == "raw" && key_cols != 1) error(ct.where, fmt::format("table {}: key.format 'raw' needs exactly one key field, it has {}", ct.name, key_cols));
        }
        // Rows hold every column; computed columns are bound over the others.
        scope sc;
        sc.qualifiers = {t.name};
        for (size_t idx = 0; idx < t.columns.size(); ++idx) {
            plan->row.push_back({t.columns[idx].name, t.columns[idx].type});
            if (t.columns[idx].kind != column_kind::computed) sc.columns.push_back({t.columns[idx].name, t.columns[idx].type, idx});
        }
        plan->computed.resize(t.columns.size());
        size_t ci = 0;
        for (size_t idx = 0; idx < t.columns.size(); ++idx) {
            if (t.columns[idx].kind != column_kind::computed) continue;
            const ast::column* src = nullptr;
            for (; ci < ct.columns.size(); ++ci) {
                if (ct.columns[ci].kind == column_kind::computed && ct.columns[ci].name == t.columns[idx].name) { src = &ct.columns[ci++]; break; }
            }
            if (!src) continue;
            try {
                auto b = bind_expr(*src->computed, sc);
                plan->computed[idx] = b;
                t.columns[idx].type = b->type;
                plan->row[idx].type = b->type;
            } catch (const bind_error& be) {
                error(be.where, fmt::format("computed column {}: {}", src->name, be.message));
            }
        }
        if (ct.watermark_column) {
            const column_def* c = t.find_column(*ct.watermark_column);
            if (!c) {
                error(ct.watermark_where, fmt::format("WATERMARK FOR {}: table {} has no such column", *ct.watermark_column, ct.name));
            } else if (!c->type.is_timestamp() || c->type.precision > 3) {
                error(ct.watermark_where, fmt::format("WATERMARK FOR {}: the rowtime column must be TIMESTAMP(3) or TIMESTAMP_LTZ(3), it is {}", c->name, c->type.to_string()));
            } else {
                watermark_def w;
                w.column = c->name;
                w.column_index = static_cast<size_t>(c - t.columns.data());
                w.expression = ct.watermark_expr->text;
                const ast::expr& e = *ct.watermark_expr;
                bool ok_expr = false;
                if (e.kind == ast::expr_kind::column && iequals(e.name, c->name)) ok_expr = true;
                else if (e.kind == ast::expr_kind::binary && e.name == "-" && e.args[0]->kind == ast::expr_kind::column &&
                         iequals(e.args[0]->name, c->name) && e.args[1]->kind == ast::expr_kind::literal &&
                         e.args[1]->type.id == type_id::interval_day_time) {
                    w.delay_ms = e.args[1]->literal.i;
                    ok_expr = w.delay_ms >= 0;
                }
                if (!ok_expr) {
                    error(ct.watermark_expr->where, fmt::format("WATERMARK FOR {} AS {}: the strategy must be `{}` or `{} - INTERVAL 'n' unit` (bounded out-of-orderness)", c->name, w.expression, c->name, c->name));
                } else {
                    plan->rowtime = w.column_index;
                    plan->watermark_delay_ms = w.delay_ms;
                    t.watermark = w;
                }
            }
        }
        for (const auto& k : ct.primary_key) {
            const column_def* c = t.find_column(k);
            if (!c) error(ct.primary_key_where, fmt::format("PRIMARY KEY column {} is not a column of table {}", k, ct.name));
            else if (c->kind == column_kind::computed || (c->kind == column_kind::metadata && c->is_virtual)) error(ct.primary_key_where, fmt::format("PRIMARY KEY column {} must be a stored column", k));
            else t.primary_key.push_back(c->name);
        }
        st.tables.push_back(std::move(t));
        tplans.push_back(plan);
    }

    // The constant value of a window TVF interval argument.
    std::optional<int64_t> interval_arg(const ast::expr& e, const char* what) {
        try {
            scope empty;
            auto b = bind_expr(e, empty);
            if (b->type.id != type_id::interval_day_time) {
                error(e.where, fmt::format("the {} of a window must be a day-time INTERVAL, got {} ({})", what, b->text, b->type.to_string()));
                return std::nullopt;
            }
            eval_ctx ctx;
            value v = b->eval({}, ctx);
            if (v.is_null() || v.i < 0 || (v.i <= 0 && std::string_view(what) != "offset")) {
                error(e.where, fmt::format("the {} of a window must be positive", what));
                return std::nullopt;
            }
            return v.i;
        } catch (const bind_error& be) {
            error(be.where, be.message);
        } catch (const eval_failure& ef) {
            error(e.where, ef.message);
        }
        return std::nullopt;
    }

    std::optional<size_t> add_insert(const ast::insert& ins) {
        auto sink_idx = table_index(ins.sink);
        if (!sink_idx) {
            error(ins.sink_where, fmt::format("INSERT INTO {}: no such table (declare it with CREATE TABLE)", ins.sink));
            return std::nullopt;
        }
        const ast::select& q = ins.query;
        auto src_idx = table_index(q.from.name);
        if (!src_idx) {
            error(q.from.where, fmt::format("FROM {}: no such table (declare it with CREATE TABLE)", q.from.name));
            return std::nullopt;
        }
        const table_def& sink = st.tables[*sink_idx];
        const table_def& src = st.tables[*src_idx];
        const table_plan& tp = *tplans[*src_idx];
        if (src.connector != "kafka") {
            error(q.from.where, fmt::format("FROM {}: only kafka tables can be read (it is '{}')", src.name, src.connector));
            return std::nullopt;
        }
        if (*sink_idx == *src_idx) {
            error(ins.where, fmt::format("INSERT INTO {} reads the same table it writes", sink.name));
            return std::nullopt;
        }
        pipeline_def pd;
        pd.index = st.pipelines.size();
        pd.source_table = src.name;
        pd.sink_table = sink.name;
        pd.source = *src_idx;
        pd.sink = *sink_idx;
        pd.sql = ins.text;
        pd.where = ins.where;
        auto plan = std::make_shared<pipeline_plan>();

        // Target columns: the sink's stored columns, or those listed.
        std::vector<column_type> sink_cols = sink.persisted_columns();
        std::vector<int> target_of_sink(sink_cols.size(), -1);  // sink column -> select position
        std::vector<size_t> targets;
        if (!ins.columns.empty()) {
            for (const auto& name : ins.columns) {
                bool found = false;
                for (size_t idx = 0; idx < sink_cols.size(); ++idx) {
                    if (iequals(sink_cols[idx].name, name)) { targets.push_back(idx); found = true; }
                }
                if (!found) {
                    error(ins.where, fmt::format("INSERT INTO {} ({}): the sink has no stored column {}", sink.name, name, name));
                    return std::nullopt;
                }
            }
        } else {
            for (size_t idx = 0; idx < sink_cols.size(); ++idx) targets.push_back(idx);
        }

        scope sc;
        sc.qualifiers = {src.name};
        if (!q.from.alias.empty()) sc.qualifiers.push_back(q.from.alias);
        for (size_t idx = 0; idx < tp.row.size(); ++idx) sc.columns.push_back({tp.row[idx].name, tp.row[idx].type, idx});
        bool windowed = q.from.window != window_kind::none;
        static const std::set<std::string> k_window_cols = {"WINDOW_START", "WINDOW_END", "WINDOW_TIME"};
        if (windowed) {
            sc.forbid = [](const std::string&) { return std::string(); };
        }
        size_t errors_before = errors.size();
        try {
            if (q.where_clause) {
                scope wsc = sc;
                plan->filter = bind_expr(*q.where_clause, wsc);
                if (plan->filter->type.id != type_id::boolean && plan->filter->type.id != type_id::null_type) {
                    error(q.where_clause->where, fmt::format("WHERE must be a BOOLEAN condition, got {} ({})", plan->filter->text, plan->filter->type.to_string()));
                }
            }
        } catch (const bind_error& be) {
            std::string msg = be.message;
            error(be.where, "WHERE: " + msg);
        }

        // Expand `*`.
        std::vector<std::pair<ast::expr_ptr, std::string>> items;
        for (const auto& item : q.items) {
            if (item.e->kind == ast::expr_kind::star) {
                for (const auto& c : tp.row) {
                    auto e = std::make_shared<ast::expr>();
                    e->kind = ast::expr_kind::column;
                    e->name = c.name;
                    e->where = item.where;
                    items.emplace_back(e, c.name);
                }
                continue;
            }
            items.emplace_back(item.e, item.alias);
        }
        std::vector<bound_ptr> projected;
        if (!windowed) {
            if (!q.group_by.empty()) {
                error(q.group_by_where, "GROUP BY without a window table function (an updating aggregate) is not supported; read FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL ...))");
                return std::nullopt;
            }
            for (const auto& [e, alias] : items) {
                try {
                    projected.push_back(bind_expr(*e, sc));
                } catch (const bind_error& be) {
                    error(be.where, be.message);
                }
            }
        } else {
            plan->windowed = true;
            pd.windowed = true;
            window_spec w;
            w.kind = q.from.window;
            w.time_column = q.from.descriptor;
            const column_def* tc = src.find_column(q.from.descriptor);
            if (!tc) {
                error(q.from.descriptor_where, fmt::format("DESCRIPTOR({}): table {} has no such column", q.from.descriptor, src.name));
                return std::nullopt;
            }
            if (!src.watermark || !iequals(src.watermark->column, tc->name)) {
                error(q.from.descriptor_where, fmt::format("DESCRIPTOR({}): not a time attribute; declare WATERMARK FOR {} AS {} - INTERVAL '5' SECOND in table {}", tc->name, tc->name, tc->name, src.name));
                return std::nullopt;
            }
            const char* fn = w.kind == window_kind::tumble ? "TUMBLE" : w.kind == window_kind::hop ? "HOP" : "CUMULATE";
            size_t want = w.kind == window_kind::tumble ? 1 : 2;
            if (q.from.window_args.size() < want || q.from.window_args.size() > want + 1) {
                error(q.from.where, fmt::format("{} takes TABLE, DESCRIPTOR and {} interval{} (plus an optional offset), got {}", fn, want, want == 1 ? "" : "s", q.from.window_args.size()));
                return std::nullopt;
            }
            std::optional<int64_t> a0 = interval_arg(*q.from.window_args[0], w.kind == window_kind::tumble ? "size" : w.kind == window_kind::hop ? "slide" : "step");
            std::optional<int64_t> a1 = want == 2 ? interval_arg(*q.from.window_args[1], "size") : a0;
            std::optional<int64_t> off = q.from.window_args.size() > want ? interval_arg(*q.from.window_args[want], "offset") : std::optional<int64_t>(0);
            if (!a0 || !a1 || !off) return std::nullopt;
            w.size_ms = want == 2 ? *a1 : *a0;
            w.slide_ms = *a0;
            w.offset_ms = *off;
            if (w.kind != window_kind::tumble && w.size_ms % w.slide_ms != 0) {
                error(q.from.window_args[1]->where, fmt::format("{}: the size ({} ms) must be a whole multiple of the {} ({} ms)", fn, w.size_ms, w.kind == window_kind::hop ? "slide" : "step", w.slide_ms));
                return std::nullopt;
            }
            pd.window = w;
            plan->window = w;
            plan->time_index = src.watermark->column_index;
            plan->time_type = tc->type;
            plan->watermark_delay_ms = src.watermark->delay_ms;
            // GROUP BY: window_start and window_end, then keys over the source row.
            bool has_start = false, has_end = false;
            std::vector<const ast::expr*> key_exprs;
            for (const auto& g : q.group_by) {
                if (g->kind == ast::expr_kind::column && iequals(g->name, "window_start")) { has_start = true; continue; }
                if (g->kind == ast::expr_kind::column && iequals(g->name, "window_end")) { has_end = true; continue; }
                if (g->kind == ast::expr_kind::column && iequals(g->name, "window_time")) continue;
                try {
                    plan->keys.push_back(bind_expr(*g, sc));
                    key_exprs.push_back(g.get());
                } catch (const bind_error& be) {
                    error(be.where, "GROUP BY: " + be.message);
                }
            }
            if (!has_start || !has_end) {
                error(q.group_by.empty() ? q.from.where : q.group_by_where, fmt::format("a {} window needs GROUP BY window_start, window_end[, keys] (window table functions without aggregation are not supported)", fn));
                return std::nullopt;
            }
            size_t nkeys = plan->keys.size();
            sql_type ws = sql_type::timestamp(3);
            ws.nullable = false;
            sql_type wt = plan->time_type;
            wt.nullable = false;
            auto slot = [](sql_type t, size_t idx, std::string text) {
                auto b = std::make_shared<bound_expr>();
                b->type = std::move(t);
                b->text = std::move(text);
                b->eval = [idx](const row& in, eval_ctx&) { return in[idx]; };
                return b;
            };
            auto norm = [](const std::string& s) {
                std::string out;
                for (char c : s) {
                    if (!std::isspace(static_cast<unsigned char>(c))) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                }
                return out;
            };
            scope asc;
            auto* planp = plan.get();
            scope* scp = &sc;
            asc.intercept = [&, planp, scp, nkeys](const ast::expr& e) -> bound_ptr {
                if (e.kind == ast::expr_kind::column) {
                    if (iequals(e.name, "window_start")) return slot(ws, 0, "window_start");
                    if (iequals(e.name, "window_end")) return slot(ws, 1, "window_end");
                    if (iequals(e.name, "window_time")) return slot(wt, 2, "window_time");
                }
                for (size_t k = 0; k < key_exprs.size(); ++k) {
                    const ast::expr& g = *key_exprs[k];
                    bool same = (e.kind == ast::expr_kind::column && g.kind == ast::expr_kind::column && iequals(e.name, g.name)) ||
                                (!e.text.empty() && norm(e.text) == norm(g.text));
                    if (same) return slot(planp->keys[k]->type, 3 + k, planp->keys[k]->text);
                }
                if (e.kind == ast::expr_kind::call && (e.name == "COUNT" || e.name == "SUM" || e.name == "MIN" || e.name == "MAX" || e.name == "AVG")) {
                    agg_call a;
                    a.distinct = e.flag;
                    a.text = e.text.empty() ? e.name + "(...)" : e.text;
                    if (e.args.size() != 1) throw bind_error{e.where, fmt::format("{} takes one argument, got {}", e.name, e.args.size())};
                    if (e.args[0]->kind == ast::expr_kind::star) {
                        if (e.name != "COUNT") throw bind_error{e.where, fmt::format("{}(*) is not valid; only COUNT(*)", e.name)};
                        a.fn = agg_fn::count_star;
                    } else {
                        a.arg = bind_expr(*e.args[0], *scp);
                        a.arg_type = a.arg->type;
                        a.fn = e.name == "COUNT" ? agg_fn::count : e.name == "SUM" ? agg_fn::sum : e.name == "MIN" ? agg_fn::min : e.name == "MAX" ? agg_fn::max : agg_fn::avg;
                    }
                    if (a.distinct && a.fn != agg_fn::count) throw bind_error{e.where, fmt::format("{}(DISTINCT ...) is not supported; only COUNT(DISTINCT ...)", e.name)};
                    const sql_type& at = a.arg_type;
                    switch (a.fn) {
                        case agg_fn::count_star: case agg_fn::count:
                            a.result_type = sql_type::bigint();
                            a.result_type.nullable = false;
                            break;
                        case agg_fn::sum: case agg_fn::avg:
                            if (!at.is_numeric()) throw bind_error{e.where, fmt::format("{} needs a numeric argument, got {} ({})", e.name, a.arg->text, at.to_string())};
                            a.result_type = at;
                            if (at.id == type_id::decimal) a.result_type = sql_type::of(type_id::decimal, 18, a.fn == agg_fn::avg ? std::max(6, at.scale) : at.scale);
                            a.result_type.nullable = true;
                            break;
                        case agg_fn::min: case agg_fn::max:
                            if (at.id == type_id::array || at.id == type_id::map || at.id == type_id::row) throw bind_error{e.where, fmt::format("{} cannot order {} ({})", e.name, a.arg->text, at.to_string())};
                            a.result_type = at;
                            a.result_type.nullable = true;
                            break;
                    }
                    for (const auto& arg : e.args) {
                        if (arg->kind == ast::expr_kind::call && (arg->name == "COUNT" || arg->name == "SUM" || arg->name == "MIN" || arg->name == "MAX" || arg->name == "AVG")) {
                            throw bind_error{arg->where, "aggregates cannot be nested"};
                        }
                    }
                    planp->aggs.push_back(a);
                    size_t idx = 3 + nkeys + planp->aggs.size() - 1;
                    return slot(a.result_type, idx, a.text);
                }
                if (e.kind == ast::expr_kind::column) {
                    throw bind_error{e.where, fmt::format("column {} is neither in GROUP BY nor inside an aggregate function", e.name)};
                }
                return nullptr;
            };
            for (const auto& [e, alias] : items) {
                try {
                    projected.push_back(bind_expr(*e, asc));
                } catch (const bind_error& be) {
                    error(be.where, be.message);
                }
            }
        }
        if (errors.size() != errors_before) return std::nullopt;
        if (projected.size() != targets.size()) {
            std::string names;
            for (size_t t : targets) names += (names.empty() ? "" : ", ") + sink_cols[t].name;
            error(q.where, fmt::format("INSERT INTO {}: the query has {} column{}, the sink takes {} ({})", sink.name, projected.size(), projected.size() == 1 ? "" : "s", targets.size(), names));
            return std::nullopt;
        }
        for (size_t idx = 0; idx < targets.size(); ++idx) target_of_sink[targets[idx]] = static_cast<int>(idx);
        for (size_t sidx = 0; sidx < sink_cols.size(); ++sidx) {
            const column_type& col = sink_cols[sidx];
            int from = target_of_sink[sidx];
            bound_ptr b;
            if (from < 0) {
                auto nb = std::make_shared<bound_expr>();
                nb->type = sql_type::of(type_id::null_type);
                nb->text = "NULL";
                nb->eval = [](const row&, eval_ctx&) { return value::null(); };
                b = nb;
            } else {
                b = projected[static_cast<size_t>(from)];
                position where = items[static_cast<size_t>(from)].first->where;
                if (!implicitly_castable(b->type, col.type)) {
                    error(where, fmt::format("INSERT INTO {}: column {} is {}, the query gives {} ({}); CAST it", sink.name, col.name, col.type.to_string(), b->text, b->type.to_string()));
                    continue;
                }
            }
            if (!col.type.nullable && b->type.nullable && from < 0) {
                error(ins.where, fmt::format("INSERT INTO {}: column {} is NOT NULL and gets no value", sink.name, col.name));
                continue;
            }
            if (!b->type.same_as(col.type)) b = cast_expr(b, col.type, false, {});
            plan->projection.push_back(b);
            pd.output.push_back(col);
        }
        if (errors.size() != errors_before) return std::nullopt;
        st.pipelines.push_back(pd);
        st.pipeline_plans.push_back(plan);
        pplans.push_back(plan);
        return pd.index;
    }

    void add_read_groups(const std::vector<size_t>& pipelines) {
        for (size_t p : pipelines) {
            size_t src = st.pipelines[p].source;
            bool placed = false;
            for (auto& r : st.reads) {
                if (r.source == src && std::find(pipelines.begin(), pipelines.end(), r.pipelines.front()) != pipelines.end()) {
                    r.pipelines.push_back(p);
                    placed = true;
                }
            }
            if (!placed) st.reads.push_back({src, {p}});
        }
    }

    void run(const std::vector<ast::statement>& statements) {
        for (const auto& s : statements) {
            switch (s.k) {
                case ast::statement::kind::set:
                    st.settings[s.set.key] = s.set.value;
                    set_where[s.set.key] = s.set.where;
                    break;
                case ast::statement::kind::create_table: add_table(s.table); break;
                case ast::statement::kind::insert:
                case ast::statement::kind::statement_set: {
                    std::vector<size_t> added;
                    for (const auto& ins : s.inserts) {
                        if (auto p = add_insert(ins)) added.push_back(*p);
                    }
                    add_read_groups(added);
                    break;
                }
            }
        }
        // Job-wide settings (the last SET of a key wins), checked once all are known.
        bool early = upper_ascii(st.settings.count(settings::k_early_fire_enabled) ? st.settings.at(settings::k_early_fire_enabled) : "false") == "TRUE";
        int64_t delay = 0;
        if (early) {
            auto it = st.settings.find(settings::k_early_fire_delay);
            if (it == st.settings.end()) {
                error(set_where[settings::k_early_fire_enabled], fmt::format("'{}' = 'true' needs '{}' (e.g. '1 s'; '0 s' emits on every change)", settings::k_early_fire_enabled, settings::k_early_fire_delay));
            } else if (auto d = parse_duration(it->second); !d) {
                error(set_where[settings::k_early_fire_delay], fmt::format("SET '{}': {}", settings::k_early_fire_delay, d.err().message()));
            } else {
                delay = *d;
            }
        }
        int64_t idle_timeout = 0;
        if (auto it = st.settings.find(settings::k_idle_timeout); it != st.settings.end()) {
            if (auto d = parse_duration(it->second); !d) {
                error(set_where[settings::k_idle_timeout], fmt::format("SET '{}': {}", settings::k_idle_timeout, d.err().message()));
            } else {
                idle_timeout = *d;
            }
        }
        for (auto& p : pplans) {
            p->early_fire = p->windowed && early;
            p->early_fire_delay_ms = delay;
            p->idle_timeout_ms = idle_timeout;
        }
        if (errors.empty() && st.pipelines.empty()) {
            error({1, 1}, "the job has no INSERT INTO statement: nothing to run");
        }
    }
};

std::string window_text(const window_spec& w) {
    auto d = [](int64_t ms) {
        if (ms % 3600000 == 0) return fmt::format("{} h", ms / 3600000);
        if (ms % 60000 == 0) return fmt::format("{} min", ms / 60000);
        if (ms % 1000 == 0) return fmt::format("{} s", ms / 1000);
        return fmt::format("{} ms", ms);
    };
    std::string off = w.offset_ms ? fmt::format(", offset {}", d(w.offset_ms)) : "";
    switch (w.kind) {
        case window_kind::tumble: return fmt::format("TUMBLE(size {}{})", d(w.size_ms), off);
        case window_kind::hop: return fmt::format("HOP(slide {}, size {}{})", d(w.slide_ms), d(w.size_ms), off);
        case window_kind::cumulate: return fmt::format("CUMULATE(step {}, max size {}{})", d(w.slide_ms), d(w.size_ms), off);
        default: return "none";
    }
}

std::string table_text(const table_def& t) {
    if (t.connector == "cassandra") return fmt::format("cassandra {}.{}", t.option("keyspace"), t.option("table"));
    return fmt::format("kafka topic '{}', format {}{}", t.option("topic"), t.format,
                       t.key_format.empty() ? "" : fmt::format(", key {} ({})", t.key_format, t.option("key.fields")));
}

}  // namespace

std::variant<job_program, std::vector<diagnostic>> compile_job(std::string_view text, std::string file_name, const compile_options& options) {
    std::vector<diagnostic> errors;
    auto statements = ast::parse(text, file_name, errors);
    compiler c{file_name, errors, options, {}, {}};
    c.st.file_name = file_name;
    c.st.text = std::string(text);
    c.run(statements);
    if (!errors.empty()) {
        std::stable_sort(errors.begin(), errors.end(), [](const diagnostic& a, const diagnostic& b) {
            return a.line != b.line ? a.line < b.line : a.column < b.column;
        });
        return errors;
    }
    for (auto& p : c.tplans) c.st.table_plans.push_back(p);
    return job_program(std::make_shared<const job_program::state>(std::move(c.st)));
}

std::string job_program::explain() const {
    const state& st = *state_;
    std::string out;
    if (!st.settings.empty()) {
        out += "settings:\n";
        for (const auto& [k, v] : st.settings) out += fmt::format("  {} = {}\n", k, v);
    }
    for (const auto& r : st.reads) {
        const table_def& src = st.tables[r.source];
        const table_plan& tp = *st.table_plans[r.source];
        out += fmt::format("read {} ({}){}\n", src.name, table_text(src),
                           r.pipelines.size() > 1 ? fmt::format(", shared by {} pipelines", r.pipelines.size()) : "");
        std::string cols;
        for (const auto& c : src.columns) {
            if (!cols.empty()) cols += ", ";
            cols += fmt::format("{} {}", c.name, c.type.to_string());
            if (c.kind == column_kind::metadata) cols += fmt::format(" <- metadata '{}'", c.metadata_key);
            if (c.kind == column_kind::computed) cols += fmt::format(" <- {}", c.expression);
            if (c.from_key) cols += " <- key";
        }
        out += fmt::format("  decode: {}\n", cols);
        if (src.watermark) out += fmt::format("  watermark: {} - {} ms\n", src.watermark->column, tp.watermark_delay_ms);
        for (size_t p : r.pipelines) {
            const pipeline_def& pd = st.pipelines[p];
            const pipeline_plan& pp = *st.pipeline_plans[p];
            const table_def& sink = st.tables[pd.sink];
            out += fmt::format("  pipeline {}: INSERT INTO {} (line {})\n", pd.index + 1, sink.name, pd.where.line);
            if (pp.filter) out += fmt::format("    filter: {}\n", pp.filter->text);
            if (pp.windowed) {
                std::string keys, aggs;
                for (const auto& k : pp.keys) keys += (keys.empty() ? "" : ", ") + k->text;
                for (const auto& a : pp.aggs) aggs += (aggs.empty() ? "" : ", ") + a.text;
                out += fmt::format("    window-aggregate: {} on {}, group by window_start, window_end{}{}; {}\n", window_text(pp.window),
                                   pp.window.time_column, keys.empty() ? "" : ", ", keys, aggs.empty() ? "no aggregates" : aggs);
                out += fmt::format("      state per (window, key, partition) with its last offset; fires when the watermark passes the window end{}\n",
                                   pp.early_fire ? fmt::format("; early fire every {} ms", pp.early_fire_delay_ms) : "");
            }
            std::string proj;
            for (size_t idx = 0; idx < pd.output.size(); ++idx) {
                proj += fmt::format("{}{} <- {}", proj.empty() ? "" : ", ", pd.output[idx].name, pp.projection[idx]->text);
            }
            out += fmt::format("    project: {}\n", proj);
            out += fmt::format("    sink {}: {}{}\n", sink.name, table_text(sink),
                               sink.primary_key.empty() ? "" : fmt::format(", upsert on ({})", fmt::join(sink.primary_key, ", ")));
        }
    }
    return out;
}

}  // namespace millrace::sql
