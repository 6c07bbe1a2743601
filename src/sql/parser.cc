// Recursive-descent parser of the supported Flink SQL subset. Errors are
// thrown as parse_failure inside one statement, recorded as a diagnostic, and
// parsing resumes after that statement's ';'.
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "ast.h"
#include "time_util.h"

namespace millrace::sql::ast {

namespace {

struct parse_failure {
    position where;
    std::string message;
};

const std::set<std::string> k_reserved = {
    "FROM", "WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "UNION", "JOIN", "LEFT", "RIGHT", "INNER", "FULL",
    "CROSS", "ON", "AS", "SELECT", "AND", "OR", "NOT", "WINDOW", "EXCEPT", "INTERSECT", "OFFSET", "FETCH",
    "WHEN", "THEN", "ELSE", "END", "IS", "IN", "LIKE", "BETWEEN", "BY", "INSERT", "INTO", "VALUES", "NATURAL",
    "LATERAL", "MATCH_RECOGNIZE", "TABLE", "FOR",
};

class parser {
public:
    parser(std::string_view text, const std::string& file, std::vector<token> tokens, std::vector<diagnostic>& errors)
        : text_(text), file_(file), t_(std::move(tokens)), errors_(errors) {}

    std::vector<statement> parse_all() {
        std::vector<statement> out;
        while (peek().kind != token_kind::end) {
            if (is_symbol(";")) { ++p_; continue; }
            size_t start = p_;
            try {
                out.push_back(parse_statement());
            } catch (const parse_failure& f) {
                errors_.push_back({file_, f.where.line, f.where.column, f.message});
                recover(start);
            }
        }
        return out;
    }

private:
    // Skips to after the ';' that ends the failed statement (for a statement
    // set: after its END;).
    void recover(size_t start) {
        bool in_set = t_[start].upper == "EXECUTE" || t_[start].upper == "BEGIN";
        if (p_ <= start) p_ = start + 1;
        while (peek().kind != token_kind::end) {
            if (in_set && peek().upper == "END" && peek().kind == token_kind::identifier) {
                ++p_;
                if (is_symbol(";")) ++p_;
                return;
            }
            if (!in_set && is_symbol(";")) { ++p_; return; }
            ++p_;
        }
    }

    const token& peek(size_t ahead = 0) const { return t_[std::min(p_ + ahead, t_.size() - 1)]; }
    const token& next() { const token& t = peek(); if (p_ < t_.size() - 1) ++p_; return t; }
    bool is_symbol(std::string_view s, size_t ahead = 0) const {
        return peek(ahead).kind == token_kind::symbol && peek(ahead).text == s;
    }
    bool is_keyword(std::string_view k, size_t ahead = 0) const {
        return peek(ahead).kind == token_kind::identifier && peek(ahead).upper == k;
    }
    bool accept_keyword(std::string_view k) {
        if (!is_keyword(k)) return false;
        ++p_;
        return true;
    }
    bool accept_symbol(std::string_view s) {
        if (!is_symbol(s)) return false;
        ++p_;
        return true;
    }
    [[noreturn]] void fail(const token& at, std::string message) { throw parse_failure{at.where, std::move(message)}; }
    std::string describe(const token& t) const {
        switch (t.kind) {
            case token_kind::end: return "the end of the file";
            case token_kind::string: return fmt::format("string '{}'", t.text);
            case token_kind::symbol: return fmt::format("'{}'", t.text);
            default: return fmt::format("'{}'", t.text);
        }
    }
    void expect_symbol(std::string_view s, std::string_view context) {
        if (!accept_symbol(s)) fail(peek(), fmt::format("expected '{}' {}, found {}", s, context, describe(peek())));
    }
    void expect_keyword(std::string_view k, std::string_view context) {
        if (!accept_keyword(k)) fail(peek(), fmt::format("expected {} {}, found {}", k, context, describe(peek())));
    }
    std::string identifier(std::string_view what) {
        const token& t = peek();
        if (t.kind == token_kind::quoted_identifier) { ++p_; return t.text; }
        if (t.kind == token_kind::identifier && !k_reserved.count(t.upper)) { ++p_; return t.text; }
        fail(t, fmt::format("expected {}, found {}", what, describe(t)));
    }
    // A possibly qualified table name (catalog.db.table): only the last part is kept.
    std::string table_name(std::string_view what) {
        std::string name = identifier(what);
        while (is_symbol(".")) {
            ++p_;
            name = identifier(what);
        }
        return name;
    }
    std::string string_literal(std::string_view what) {
        const token& t = peek();
        if (t.kind != token_kind::string) fail(t, fmt::format("expected {} (a quoted string), found {}", what, describe(t)));
        ++p_;
        return t.text;
    }
    void end_statement(std::string_view what) {
        if (!accept_symbol(";")) fail(peek(), fmt::format("expected ';' after the {}, found {}", what, describe(peek())));
    }

    statement parse_statement() {
        const token& first = peek();
        statement s;
        s.where = first.where;
        if (first.kind != token_kind::identifier) fail(first, fmt::format("expected a statement (SET, CREATE TABLE, INSERT INTO, EXECUTE STATEMENT SET), found {}", describe(first)));
        if (first.upper == "SET") {
            ++p_;
            s.k = statement::kind::set;
            s.set.where = peek().where;
            if (peek().kind == token_kind::string) s.set.key = string_literal("the option key");
            else fail(peek(), fmt::format("expected the option key as a quoted string (SET 'key' = 'value'), found {}", describe(peek())));
            expect_symbol("=", "after the option key");
            s.set.value = string_literal("the option value");
            end_statement("SET statement");
            return s;
        }
        if (first.upper == "CREATE") {
            ++p_;
            accept_keyword("TEMPORARY");
            if (!is_keyword("TABLE")) {
                fail(peek(), fmt::format("CREATE {} is not supported (only CREATE TABLE)", peek().kind == token_kind::end ? "" : peek().upper));
            }
            ++p_;
            s.k = statement::kind::create_table;
            s.table = parse_create_table();
            return s;
        }
        if (first.upper == "INSERT") {
            s.k = statement::kind::insert;
            s.inserts.push_back(parse_insert());
            end_statement("INSERT statement");
            return s;
        }
        if (first.upper == "EXECUTE") {
            ++p_;
            if (!accept_keyword("STATEMENT")) fail(peek(), fmt::format("EXECUTE {} is not supported (only EXECUTE STATEMENT SET)", peek().upper));
            expect_keyword("SET", "after EXECUTE STATEMENT");
            expect_keyword("BEGIN", "after EXECUTE STATEMENT SET");
            s.k = statement::kind::statement_set;
            while (!is_keyword("END")) {
                if (peek().kind == token_kind::end) fail(peek(), "statement set without END");
                if (!is_keyword("INSERT")) fail(peek(), fmt::format("a statement set holds only INSERT statements, found {}", describe(peek())));
                s.inserts.push_back(parse_insert());
                end_statement("INSERT statement");
            }
            ++p_;
            end_statement("statement set's END");
            if (s.inserts.empty()) fail(first, "an empty statement set (no INSERT between BEGIN and END)");
            return s;
        }
        if (first.upper == "SELECT") fail(first, "a bare SELECT is not supported: a job writes with INSERT INTO sink SELECT ...");
        fail(first, fmt::format("{} statements are not supported (only SET, CREATE TABLE, INSERT INTO, EXECUTE STATEMENT SET)", first.upper));
    }

    create_table parse_create_table() {
        create_table ct;
        if (accept_keyword("IF")) {
            expect_keyword("NOT", "in IF NOT EXISTS");
            expect_keyword("EXISTS", "in IF NOT EXISTS");
        }
        ct.where = peek().where;
        ct.name = table_name("a table name");
        if (accept_symbol("(")) {
            do {
                parse_table_element(ct);
            } while (accept_symbol(","));
            expect_symbol(")", "after the columns");
        } else {
            ct.has_column_list = false;
        }
        if (accept_keyword("COMMENT")) string_literal("the comment");
        if (is_keyword("PARTITIONED")) fail(peek(), "PARTITIONED BY is not supported");
        if (is_keyword("LIKE")) fail(peek(), "CREATE TABLE ... LIKE is not supported");
        if (!is_keyword("WITH")) fail(peek(), fmt::format("expected WITH ('connector' = ...) after table {}, found {}", ct.name, describe(peek())));
        ++p_;
        expect_symbol("(", "after WITH");
        if (!is_symbol(")")) {
            do {
                position where = peek().where;
                std::string key = string_literal("an option key");
                expect_symbol("=", "after the option key");
                std::string value = string_literal("the option value");
                ct.options.emplace_back(std::move(key), std::move(value));
                ct.option_where.push_back(where);
            } while (accept_symbol(","));
        }
        expect_symbol(")", "after the options");
        end_statement("CREATE TABLE statement");
        return ct;
    }

    void parse_table_element(create_table& ct) {
        const token& first = peek();
        if (is_keyword("WATERMARK")) {
            ++p_;
            expect_keyword("FOR", "after WATERMARK");
            ct.watermark_where = peek().where;
            ct.watermark_column = identifier("the rowtime column");
            expect_keyword("AS", "after WATERMARK FOR column");
            ct.watermark_expr = parse_expr();
            return;
        }
        if (is_keyword("CONSTRAINT")) {
            ++p_;
            identifier("a constraint name");
        }
        if (is_keyword("PRIMARY")) {
            ct.primary_key_where = peek().where;
            ++p_;
            expect_keyword("KEY", "after PRIMARY");
            expect_symbol("(", "after PRIMARY KEY");
            do {
                ct.primary_key.push_back(identifier("a key column"));
            } while (accept_symbol(","));
            expect_symbol(")", "after the key columns");
            expect_not_enforced();
            return;
        }
        if (is_keyword("UNIQUE") || is_keyword("FOREIGN") || is_keyword("CHECK")) fail(first, fmt::format("{} constraints are not supported (only PRIMARY KEY ... NOT ENFORCED)", first.upper));
        column c;
        c.where = peek().where;
        c.name = identifier("a column name");
        if (accept_keyword("AS")) {
            c.kind = column_kind::computed;
            c.computed = parse_expr();
        } else {
            c.type = parse_type();
            if (accept_keyword("METADATA")) {
                c.kind = column_kind::metadata;
                if (accept_keyword("FROM")) c.metadata_key = string_literal("the metadata key");
                else c.metadata_key = c.name;
                if (accept_keyword("VIRTUAL")) c.is_virtual = true;
            }
            if (is_keyword("PRIMARY")) {
                ct.primary_key_where = peek().where;
                ++p_;
                expect_keyword("KEY", "after PRIMARY");
                expect_not_enforced();
                ct.primary_key.push_back(c.name);
            }
        }
        if (accept_keyword("COMMENT")) string_literal("the comment");
        ct.columns.push_back(std::move(c));
    }

    void expect_not_enforced() {
        if (!is_keyword("NOT") || !is_keyword("ENFORCED", 1)) fail(peek(), "a primary key must be declared NOT ENFORCED (as in Flink)");
        p_ += 2;
    }

    int type_parameter(std::string_view what) {
        const token& t = peek();
        int v = 0;
        if (t.kind != token_kind::number || std::from_chars(t.text.data(), t.text.data() + t.text.size(), v).ec != std::errc()) {
            fail(t, fmt::format("expected {} (an integer), found {}", what, describe(t)));
        }
        ++p_;
        return v;
    }

    sql_type parse_type() {
        const token& t = peek();
        if (t.kind != token_kind::identifier) fail(t, fmt::format("expected a type, found {}", describe(t)));
        ++p_;
        sql_type out;
        const std::string& k = t.upper;
        auto optional_length = [&](int fallback) {
            if (accept_symbol("(")) {
                int v = type_parameter("a length");
                expect_symbol(")", "after the length");
                return v;
            }
            return fallback;
        };
        if (k == "BOOLEAN") out = sql_type::of(type_id::boolean);
        else if (k == "TINYINT") out = sql_type::of(type_id::tinyint);
        else if (k == "SMALLINT") out = sql_type::of(type_id::smallint);
        else if (k == "INT" || k == "INTEGER") out = sql_type::of(type_id::int_);
        else if (k == "BIGINT") out = sql_type::of(type_id::bigint);
        else if (k == "FLOAT" || k == "REAL") out = sql_type::of(type_id::float_);
        else if (k == "DOUBLE") { accept_keyword("PRECISION"); out = sql_type::of(type_id::double_); }
        else if (k == "DECIMAL" || k == "DEC" || k == "NUMERIC") {
            int p = 10, s = 0;
            if (accept_symbol("(")) {
                p = type_parameter("the precision");
                if (accept_symbol(",")) s = type_parameter("the scale");
                expect_symbol(")", "after the precision and scale");
            }
            if (p < 1 || p > 18) fail(t, fmt::format("DECIMAL({}, {}): precision above 18 is not supported (decimals are 64-bit)", p, s));
            if (s < 0 || s > p) fail(t, fmt::format("DECIMAL({}, {}): the scale must be between 0 and the precision", p, s));
            out = sql_type::of(type_id::decimal, p, s);
        } else if (k == "CHAR") out = sql_type::of(type_id::char_, optional_length(1));
        else if (k == "VARCHAR") out = sql_type::of(type_id::varchar, optional_length(1));
        else if (k == "STRING") out = sql_type::string();
        else if (k == "BINARY") out = sql_type::of(type_id::binary, optional_length(1));
        else if (k == "VARBINARY") out = sql_type::of(type_id::varbinary, optional_length(1));
        else if (k == "BYTES") out = sql_type::of(type_id::varbinary, k_max_varchar);
        else if (k == "DATE") out = sql_type::of(type_id::date);
        else if (k == "TIME") {
            out = sql_type::of(type_id::time, optional_length(0));
            if (accept_keyword("WITHOUT")) { expect_keyword("TIME", "in WITHOUT TIME ZONE"); expect_keyword("ZONE", "in WITHOUT TIME ZONE"); }
        } else if (k == "TIMESTAMP") {
            out = sql_type::of(type_id::timestamp, optional_length(6));
            if (accept_keyword("WITHOUT")) {
                expect_keyword("TIME", "in WITHOUT TIME ZONE");
                expect_keyword("ZONE", "in WITHOUT TIME ZONE");
            } else if (accept_keyword("WITH")) {
                if (!accept_keyword("LOCAL")) fail(peek(), "TIMESTAMP WITH TIME ZONE is not supported (use TIMESTAMP_LTZ or TIMESTAMP WITH LOCAL TIME ZONE)");
                expect_keyword("TIME", "in WITH LOCAL TIME ZONE");
                expect_keyword("ZONE", "in WITH LOCAL TIME ZONE");
                out.id = type_id::timestamp_ltz;
            }
        } else if (k == "TIMESTAMP_LTZ") out = sql_type::of(type_id::timestamp_ltz, optional_length(6));
        else if (k == "ARRAY") {
            expect_symbol("<", "after ARRAY");
            out = sql_type::of(type_id::array);
            out.children.push_back(parse_type());
            expect_symbol(">", "after the element type");
        } else if (k == "MAP") {
            expect_symbol("<", "after MAP");
            out = sql_type::of(type_id::map);
            out.children.push_back(parse_type());
            expect_symbol(",", "between the key and value types");
            out.children.push_back(parse_type());
            expect_symbol(">", "after the value type");
        } else if (k == "ROW") {
            bool angle = accept_symbol("<");
            if (!angle) expect_symbol("(", "after ROW");
            out = sql_type::of(type_id::row);
            do {
                out.field_names.push_back(identifier("a field name"));
                out.children.push_back(parse_type());
            } while (accept_symbol(","));
            expect_symbol(angle ? ">" : ")", "after the fields");
        } else if (k == "MULTISET" || k == "RAW" || k == "INTERVAL" || k == "STRUCTURED") {
            fail(t, fmt::format("type {} is not supported", k));
        } else {
            fail(t, fmt::format("unknown type {}", t.text));
        }
        if (is_keyword("NOT") && is_keyword("NULL", 1)) {
            p_ += 2;
            out.nullable = false;
        } else if (is_keyword("NULL")) {
            ++p_;
        }
        return out;
    }

    insert parse_insert() {
        insert ins;
        const token& first = next();  // INSERT
        ins.where = first.where;
        size_t start = first.offset;
        if (is_keyword("OVERWRITE")) fail(peek(), "INSERT OVERWRITE is not supported (use INSERT INTO)");
        expect_keyword("INTO", "after INSERT");
        ins.sink_where = peek().where;
        ins.sink = table_name("the sink table's name");
        if (is_keyword("PARTITION")) fail(peek(), "INSERT ... PARTITION is not supported");
        if (accept_symbol("(")) {
            do {
                ins.columns.push_back(identifier("a column name"));
            } while (accept_symbol(","));
            expect_symbol(")", "after the column list");
        }
        if (is_keyword("VALUES")) fail(peek(), "INSERT ... VALUES is not supported (a job inserts from a SELECT over a source table)");
        if (!is_keyword("SELECT")) fail(peek(), fmt::format("expected SELECT after INSERT INTO {}, found {}", ins.sink, describe(peek())));
        ins.query = parse_select();
        ins.text = std::string(text_.substr(start, peek().offset - start));
        return ins;
    }

    select parse_select() {
        select s;
        s.where = next().where;  // SELECT
        if (is_keyword("DISTINCT")) fail(peek(), "SELECT DISTINCT is not supported");
        accept_keyword("ALL");
        do {
            select_item item;
            item.where = peek().where;
            if (is_symbol("*")) {
                auto e = std::make_shared<expr>();
                e->kind = expr_kind::star;
                e->where = next().where;
                item.e = e;
            } else {
                item.e = parse_expr();
                if (accept_keyword("AS")) item.alias = identifier("an alias");
                else if ((peek().kind == token_kind::identifier && !k_reserved.count(peek().upper)) || peek().kind == token_kind::quoted_identifier) item.alias = identifier("an alias");
            }
            s.items.push_back(std::move(item));
        } while (accept_symbol(","));
        expect_keyword("FROM", "after the SELECT list");
        s.from = parse_table_ref();
        if (is_keyword("MATCH_RECOGNIZE")) fail(peek(), "MATCH_RECOGNIZE is not supported");
        if (is_symbol(",") || is_keyword("JOIN") || is_keyword("LEFT") || is_keyword("RIGHT") || is_keyword("INNER") ||
            is_keyword("FULL") || is_keyword("CROSS") || is_keyword("NATURAL")) {
            fail(peek(), "joins are not supported (one source table per INSERT)");
        }
        if (accept_keyword("WHERE")) s.where_clause = parse_expr();
        if (is_keyword("GROUP")) {
            s.group_by_where = peek().where;
            ++p_;
            expect_keyword("BY", "after GROUP");
            do {
                s.group_by.push_back(parse_expr());
            } while (accept_symbol(","));
        }
        if (is_keyword("HAVING")) fail(peek(), "HAVING is not supported");
        if (is_keyword("ORDER")) fail(peek(), "ORDER BY is not supported in a streaming INSERT");
        if (is_keyword("LIMIT") || is_keyword("FETCH") || is_keyword("OFFSET")) fail(peek(), fmt::format("{} is not supported in a streaming INSERT", peek().upper));
        if (is_keyword("UNION") || is_keyword("EXCEPT") || is_keyword("INTERSECT")) fail(peek(), fmt::format("{} is not supported", peek().upper));
        if (is_keyword("WINDOW")) fail(peek(), "named WINDOW clauses are not supported");
        return s;
    }

    table_ref parse_table_ref() {
        table_ref r;
        r.where = peek().where;
        if (is_symbol("(")) fail(peek(), "subqueries in FROM are not supported (read a table directly)");
        if (is_keyword("LATERAL") || is_keyword("UNNEST")) fail(peek(), fmt::format("{} is not supported", peek().upper));
        if (is_keyword("TABLE")) {
            ++p_;
            expect_symbol("(", "after TABLE");
            const token& fn = peek();
            if (fn.upper == "TUMBLE") r.window = window_kind::tumble;
            else if (fn.upper == "HOP") r.window = window_kind::hop;
            else if (fn.upper == "CUMULATE") r.window = window_kind::cumulate;
            else if (fn.upper == "SESSION") fail(fn, "the SESSION window function is not supported (TUMBLE, HOP, CUMULATE are)");
            else fail(fn, fmt::format("table function {} is not supported (TUMBLE, HOP, CUMULATE are)", fn.text));
            ++p_;
            expect_symbol("(", fmt::format("after {}", fn.upper));
            if (is_keyword("DATA")) fail(peek(), "named arguments (DATA =>) are not supported; pass TABLE t, DESCRIPTOR(col), intervals in order");
            expect_keyword("TABLE", fmt::format("as the first argument of {} (TABLE source)", fn.upper));
            r.where = peek().where;
            r.name = table_name("the source table's name");
            expect_symbol(",", "after the table argument");
            expect_keyword("DESCRIPTOR", "as the second argument (DESCRIPTOR(time column))");
            expect_symbol("(", "after DESCRIPTOR");
            r.descriptor_where = peek().where;
            r.descriptor = identifier("the time column");
            expect_symbol(")", "after the time column");
            while (accept_symbol(",")) r.window_args.push_back(parse_expr());
            expect_symbol(")", fmt::format("after the arguments of {}", fn.upper));
            expect_symbol(")", "closing TABLE(");
        } else {
            r.name = table_name("a source table's name");
        }
        if (accept_keyword("AS")) r.alias = identifier("an alias");
        else if ((peek().kind == token_kind::identifier && !k_reserved.count(peek().upper)) || peek().kind == token_kind::quoted_identifier) r.alias = identifier("an alias");
        if (is_keyword("FOR")) fail(peek(), "FOR SYSTEM_TIME AS OF (temporal joins) is not supported");
        return r;
    }

    // ---- expressions ----
    expr_ptr make(expr_kind k, position where) {
        auto e = std::make_shared<expr>();
        e->kind = k;
        e->where = where;
        return e;
    }
    expr_ptr binary(std::string op, expr_ptr l, expr_ptr r, position where) {
        auto e = make(expr_kind::binary, where);
        e->name = std::move(op);
        e->args = {std::move(l), std::move(r)};
        return e;
    }

    expr_ptr parse_expr() {
        size_t start = peek().offset;
        auto e = parse_or();
        e->text = std::string(text_.substr(start, peek().offset - start));
        while (!e->text.empty() && std::isspace(static_cast<unsigned char>(e->text.back()))) e->text.pop_back();
        return e;
    }
    expr_ptr parse_or() {
        auto l = parse_and();
        while (is_keyword("OR")) {
            position w = next().where;
            l = binary("OR", l, parse_and(), w);
        }
        return l;
    }
    expr_ptr parse_and() {
        auto l = parse_not();
        while (is_keyword("AND")) {
            position w = next().where;
            l = binary("AND", l, parse_not(), w);
        }
        return l;
    }
    expr_ptr parse_not() {
        if (is_keyword("NOT")) {
            position w = next().where;
            auto e = make(expr_kind::unary, w);
            e->name = "NOT";
            e->args = {parse_not()};
            return e;
        }
        return parse_predicate();
    }
    expr_ptr parse_predicate() {
        auto l = parse_additive();
        for (;;) {
            const token& t = peek();
            if (t.kind == token_kind::symbol && (t.text == "=" || t.text == "<>" || t.text == "!=" || t.text == "<" ||
                                                 t.text == "<=" || t.text == ">" || t.text == ">=")) {
                ++p_;
                l = binary(t.text == "!=" ? "<>" : t.text, l, parse_additive(), t.where);
                continue;
            }
            if (is_keyword("IS")) {
                position w = next().where;
                auto e = make(expr_kind::is, w);
                e->flag = accept_keyword("NOT");
                if (accept_keyword("NULL")) e->name = "NULL";
                else if (accept_keyword("TRUE")) e->name = "TRUE";
                else if (accept_keyword("FALSE")) e->name = "FALSE";
                else if (accept_keyword("UNKNOWN")) e->name = "NULL";
                else if (is_keyword("DISTINCT")) {
                    ++p_;
                    expect_keyword("FROM", "in IS DISTINCT FROM");
                    e->name = "DISTINCT";
                    e->args = {l, parse_additive()};
                    l = e;
                    continue;
                } else fail(peek(), fmt::format("expected NULL, TRUE, FALSE or DISTINCT FROM after IS, found {}", describe(peek())));
                e->args = {l};
                l = e;
                continue;
            }
            bool negated = false;
            if (is_keyword("NOT") && (is_keyword("LIKE", 1) || is_keyword("IN", 1) || is_keyword("BETWEEN", 1) || is_keyword("SIMILAR", 1))) {
                ++p_;
                negated = true;
            }
            if (is_keyword("SIMILAR")) fail(peek(), "SIMILAR TO is not supported (use LIKE or REGEXP)");
            if (is_keyword("LIKE")) {
                position w = next().where;
                auto e = make(expr_kind::like, w);
                e->flag = negated;
                e->args = {l, parse_additive()};
                if (accept_keyword("ESCAPE")) e->args.push_back(parse_additive());
                l = e;
                continue;
            }
            if (is_keyword("IN")) {
                position w = next().where;
                auto e = make(expr_kind::in_list, w);
                e->flag = negated;
                expect_symbol("(", "after IN");
                if (is_keyword("SELECT")) fail(peek(), "IN (SELECT ...) subqueries are not supported");
                e->args.push_back(l);
                do {
                    e->args.push_back(parse_expr());
                } while (accept_symbol(","));
                expect_symbol(")", "after the IN list");
                l = e;
                continue;
            }
            if (is_keyword("BETWEEN")) {
                position w = next().where;
                auto e = make(expr_kind::between, w);
                e->flag = negated;
                if (is_keyword("SYMMETRIC")) fail(peek(), "BETWEEN SYMMETRIC is not supported");
                accept_keyword("ASYMMETRIC");
                auto lo = parse_additive();
                expect_keyword("AND", "in BETWEEN ... AND ...");
                auto hi = parse_additive();
                e->args = {l, lo, hi};
                l = e;
                continue;
            }
            if (negated) fail(peek(), "expected LIKE, IN or BETWEEN after NOT");
            return l;
        }
    }
    expr_ptr parse_additive() {
        auto l = parse_multiplicative();
        while (is_symbol("+") || is_symbol("-")) {
            const token& t = next();
            l = binary(t.text, l, parse_multiplicative(), t.where);
        }
        return l;
    }
    expr_ptr parse_multiplicative() {
        auto l = parse_unary();
        while (is_symbol("*") || is_symbol("/") || is_symbol("%") || is_symbol("||")) {
            const token& t = next();
            l = binary(t.text, l, parse_unary(), t.where);
        }
        return l;
    }
    expr_ptr parse_unary() {
        if (is_symbol("-") || is_symbol("+")) {
            const token& t = next();
            auto operand = parse_unary();
            if (t.text == "+") return operand;
            // Fold negative numeric literals so -2147483648 stays an INT.
            if (operand->kind == expr_kind::literal && operand->literal.kind == value_kind::integer && !operand->type.is_interval() &&
                operand->type.id != type_id::decimal) {
                operand->literal.i = -operand->literal.i;
                if (operand->type.id == type_id::bigint && operand->literal.i >= INT32_MIN && operand->literal.i <= INT32_MAX) operand->type = sql_type::of(type_id::int_, 0, 0), operand->type.nullable = false;
                operand->where = t.where;
                return operand;
            }
            auto e = make(expr_kind::unary, t.where);
            e->name = "-";
            e->args = {operand};
            return e;
        }
        return parse_primary();
    }

    expr_ptr literal(position where, value v, sql_type t) {
        auto e = make(expr_kind::literal, where);
        e->literal = std::move(v);
        t.nullable = e->literal.is_null();
        e->type = std::move(t);
        return e;
    }

    expr_ptr number_literal(const token& t) {
        const std::string& s = t.text;
        if (s.find_first_of("eE") != std::string::npos) {
            return literal(t.where, value::from_double(std::strtod(s.c_str(), nullptr)), sql_type::double_());
        }
        size_t dot = s.find('.');
        if (dot != std::string::npos) {
            std::string digits = s.substr(0, dot) + s.substr(dot + 1);
            int scale = static_cast<int>(s.size() - dot - 1);
            size_t first = digits.find_first_not_of('0');
            int precision = first == std::string::npos ? 1 : static_cast<int>(digits.size() - first);
            if (precision < scale) precision = scale;
            if (precision > 18) return literal(t.where, value::from_double(std::strtod(s.c_str(), nullptr)), sql_type::double_());
            int64_t unscaled = 0;
            std::from_chars(digits.data(), digits.data() + digits.size(), unscaled);
            return literal(t.where, value::from_int(unscaled), sql_type::of(type_id::decimal, precision == 0 ? 1 : precision, scale));
        }
        int64_t v = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc()) {
            // Beyond BIGINT: a DECIMAL in Flink; we have 64-bit decimals only.
            fail(t, fmt::format("integer literal {} is out of the BIGINT range", s));
        }
        return literal(t.where, value::from_int(v), sql_type::of(v >= INT32_MIN && v <= INT32_MAX ? type_id::int_ : type_id::bigint));
    }

    expr_ptr interval_literal(const token& start) {
        const token& q = peek();
        if (q.kind != token_kind::string) fail(q, fmt::format("expected the interval's quoted amount (INTERVAL '5' SECOND), found {}", describe(q)));
        ++p_;
        const token& u = peek();
        if (u.kind != token_kind::identifier) fail(u, fmt::format("expected the interval's unit (SECOND, MINUTE, HOUR, DAY, MONTH, YEAR), found {}", describe(u)));
        ++p_;
        std::string unit = u.upper;
        if (unit.size() > 1 && unit.back() == 'S') unit.pop_back();
        if (is_symbol("(")) {  // SECOND(3) precision
            ++p_;
            type_parameter("a precision");
            expect_symbol(")", "after the precision");
        }
        if (is_keyword("TO")) fail(peek(), "compound intervals (DAY TO SECOND) are not supported; write one unit");
        std::string amount = q.text;
        bool negative = false;
        size_t pos = 0;
        while (pos < amount.size() && amount[pos] == ' ') ++pos;
        if (pos < amount.size() && (amount[pos] == '-' || amount[pos] == '+')) negative = amount[pos++] == '-';
        double number = 0;
        auto [ptr, ec] = std::from_chars(amount.data() + pos, amount.data() + amount.size(), number);
        if (ec != std::errc() || ptr != amount.data() + amount.size()) fail(q, fmt::format("interval amount '{}' is not a number", q.text));
        if (negative) number = -number;
        int64_t scale = 0;
        bool months = false;
        if (unit == "MILLISECOND") scale = 1;
        else if (unit == "SECOND") scale = 1000;
        else if (unit == "MINUTE") scale = 60000;
        else if (unit == "HOUR") scale = 3600000;
        else if (unit == "DAY") scale = 86400000;
        else if (unit == "MONTH") scale = 1, months = true;
        else if (unit == "YEAR") scale = 12, months = true;
        else fail(u, fmt::format("interval unit {} is not supported (MILLISECOND, SECOND, MINUTE, HOUR, DAY, MONTH, YEAR)", u.text));
        double scaled = number * static_cast<double>(scale);
        if (scaled != std::floor(scaled)) fail(q, fmt::format("interval '{}' {} is not a whole number of {}", q.text, u.text, months ? "months" : "milliseconds"));
        return literal(start.where, value::from_int(static_cast<int64_t>(scaled)),
                       sql_type::of(months ? type_id::interval_year_month : type_id::interval_day_time));
    }

    std::vector<expr_ptr> call_args() {
        std::vector<expr_ptr> args;
        if (!is_symbol(")")) {
            do {
                args.push_back(parse_expr());
            } while (accept_symbol(","));
        }
        expect_symbol(")", "after the arguments");
        return args;
    }

    expr_ptr parse_primary() {
        const token& t = peek();
        if (t.kind == token_kind::number) { ++p_; return number_literal(t); }
        if (t.kind == token_kind::string) {
            ++p_;
            std::string s = t.text;
            while (peek().kind == token_kind::string) s += next().text;  // adjacent literals concatenate
            return literal(t.where, value::from_string(s), sql_type::of(type_id::char_, static_cast<int>(s.size() == 0 ? 0 : s.size())));
        }
        if (t.kind == token_kind::symbol) {
            if (t.text == "(") {
                ++p_;
                if (is_keyword("SELECT")) fail(peek(), "subqueries are not supported");
                auto e = parse_expr();
                expect_symbol(")", "closing the parenthesis");
                return e;
            }
            fail(t, fmt::format("expected an expression, found {}", describe(t)));
        }
        if (t.kind == token_kind::end) fail(t, "expected an expression, found the end of the file");
        if (t.kind == token_kind::quoted_identifier) return column_ref();
        const std::string& k = t.upper;
        if (k == "NULL") { ++p_; return literal(t.where, value::null(), sql_type::of(type_id::null_type)); }
        if (k == "TRUE" || k == "FALSE") { ++p_; return literal(t.where, value::from_bool(k == "TRUE"), sql_type::boolean()); }
        if (k == "INTERVAL") { ++p_; return interval_literal(t); }
        if ((k == "DATE" || k == "TIME" || k == "TIMESTAMP" || k == "TIMESTAMP_LTZ") && peek(1).kind == token_kind::string) {
            ++p_;
            const token& s = next();
            if (k == "DATE") {
                auto d = timeutil::parse_date(s.text);
                if (!d) fail(s, fmt::format("'{}' is not a DATE (yyyy-MM-dd)", s.text));
                return literal(t.where, value::from_int(*d), sql_type::of(type_id::date));
            }
            if (k == "TIME") {
                auto d = timeutil::parse_time(s.text);
                if (!d) fail(s, fmt::format("'{}' is not a TIME (HH:mm:ss[.SSS])", s.text));
                return literal(t.where, value::from_int(*d), sql_type::of(type_id::time, 3));
            }
            auto d = timeutil::parse_timestamp(s.text, false, false);
            if (!d) fail(s, fmt::format("'{}' is not a TIMESTAMP (yyyy-MM-dd HH:mm:ss[.SSS])", s.text));
            return literal(t.where, value::from_int(*d), sql_type::of(k == "TIMESTAMP" ? type_id::timestamp : type_id::timestamp_ltz, 3));
        }
        if (k == "CASE") return parse_case();
        if (k == "CAST" || k == "TRY_CAST") {
            ++p_;
            auto e = make(expr_kind::cast, t.where);
            e->flag = k == "TRY_CAST";
            expect_symbol("(", fmt::format("after {}", k));
            e->args = {parse_expr()};
            expect_keyword("AS", fmt::format("in {}(value AS type)", k));
            e->type = parse_type();
            expect_symbol(")", fmt::format("closing {}", k));
            return e;
        }
        if (k == "EXTRACT") {
            ++p_;
            auto e = make(expr_kind::call, t.where);
            e->name = "EXTRACT";
            expect_symbol("(", "after EXTRACT");
            const token& unit = peek();
            if (unit.kind != token_kind::identifier) fail(unit, fmt::format("expected a time unit in EXTRACT, found {}", describe(unit)));
            ++p_;
            e->qualifier = unit.upper;
            expect_keyword("FROM", "in EXTRACT(unit FROM value)");
            e->args = {parse_expr()};
            expect_symbol(")", "closing EXTRACT");
            return e;
        }
        if (k == "TIMESTAMPDIFF" || k == "TIMESTAMPADD") {
            ++p_;
            auto e = make(expr_kind::call, t.where);
            e->name = k;
            expect_symbol("(", fmt::format("after {}", k));
            const token& unit = peek();
            if (unit.kind != token_kind::identifier) fail(unit, fmt::format("expected a time unit in {}, found {}", k, describe(unit)));
            ++p_;
            e->qualifier = unit.upper;
            expect_symbol(",", "after the unit");
            e->args.push_back(parse_expr());
            expect_symbol(",", "between the arguments");
            e->args.push_back(parse_expr());
            expect_symbol(")", fmt::format("closing {}", k));
            return e;
        }
        if (k == "TRIM") {
            ++p_;
            auto e = make(expr_kind::call, t.where);
            e->name = "TRIM";
            e->qualifier = "BOTH";
            expect_symbol("(", "after TRIM");
            if (is_keyword("BOTH") || is_keyword("LEADING") || is_keyword("TRAILING")) e->qualifier = next().upper;
            expr_ptr chars;
            expr_ptr target;
            if (accept_keyword("FROM")) {
                target = parse_expr();
            } else {
                auto first = parse_expr();
                if (accept_keyword("FROM")) {
                    chars = first;
                    target = parse_expr();
                } else {
                    target = first;
                }
            }
            expect_symbol(")", "closing TRIM");
            e->args = {target};
            if (chars) e->args.push_back(chars);
            return e;
        }
        if (k == "SUBSTRING" || k == "SUBSTR") {
            ++p_;
            auto e = make(expr_kind::call, t.where);
            e->name = "SUBSTRING";
            expect_symbol("(", "after SUBSTRING");
            e->args.push_back(parse_expr());
            if (accept_keyword("FROM")) {
                e->args.push_back(parse_expr());
                if (accept_keyword("FOR")) e->args.push_back(parse_expr());
            } else {
                while (accept_symbol(",")) e->args.push_back(parse_expr());
            }
            expect_symbol(")", "closing SUBSTRING");
            return e;
        }
        if (k == "POSITION" && is_symbol("(", 1)) {
            p_ += 2;
            auto e = make(expr_kind::call, t.where);
            e->name = "POSITION";
            e->args.push_back(parse_additive());
            expect_keyword("IN", "in POSITION(needle IN haystack)");
            e->args.push_back(parse_expr());
            expect_symbol(")", "closing POSITION");
            return e;
        }
        if (k == "JSON_VALUE") {
            ++p_;
            auto e = make(expr_kind::call, t.where);
            e->name = "JSON_VALUE";
            expect_symbol("(", "after JSON_VALUE");
            e->args.push_back(parse_expr());
            expect_symbol(",", "after the JSON document");
            e->args.push_back(parse_expr());
            if (accept_keyword("RETURNING")) {
                e->type = parse_type();
                e->has_type = true;
            }
            if (is_keyword("NULL") || is_keyword("ERROR") || is_keyword("DEFAULT")) fail(peek(), "JSON_VALUE ON EMPTY / ON ERROR clauses are not supported (NULL is returned)");
            expect_symbol(")", "closing JSON_VALUE");
            return e;
        }
        if ((k == "CURRENT_TIMESTAMP" || k == "LOCALTIMESTAMP" || k == "CURRENT_DATE" || k == "CURRENT_TIME" ||
             k == "CURRENT_ROW_TIMESTAMP" || k == "NOW") ) {
            ++p_;
            auto e = make(expr_kind::call, t.where);
            e->name = k == "NOW" ? "CURRENT_TIMESTAMP" : k;
            if (accept_symbol("(")) expect_symbol(")", fmt::format("after {}(", k));
            return e;
        }
        if (t.kind == token_kind::identifier && is_symbol("(", 1)) {
            if (k_reserved.count(k)) fail(t, fmt::format("expected an expression, found {}", describe(t)));
            p_ += 2;
            auto e = make(expr_kind::call, t.where);
            e->name = k;
            if (is_symbol("*") && is_symbol(")", 1)) {
                p_ += 2;
                auto star = make(expr_kind::star, t.where);
                e->args = {star};
            } else {
                if (accept_keyword("DISTINCT")) e->flag = true;
                else accept_keyword("ALL");
                e->args = call_args();
            }
            if (is_keyword("OVER")) fail(peek(), "OVER aggregations are not supported (use a window table function with GROUP BY)");
            if (is_keyword("FILTER")) fail(peek(), "aggregate FILTER clauses are not supported");
            if (is_keyword("WITHIN")) fail(peek(), "WITHIN GROUP is not supported");
            return e;
        }
        if (is_keyword("ARRAY") || is_keyword("MAP") || is_keyword("ROW")) {
            if (is_symbol("[", 1) || is_symbol("(", 1)) fail(t, fmt::format("{} constructors are not supported", k));
        }
        if (k_reserved.count(k)) fail(t, fmt::format("expected an expression, found {}", describe(t)));
        return column_ref();
    }

    expr_ptr column_ref() {
        const token& t = peek();
        auto e = make(expr_kind::column, t.where);
        std::string name = identifier("a column name");
        if (is_symbol(".")) {
            ++p_;
            e->qualifier = name;
            name = identifier("a column name");
            if (is_symbol(".")) fail(peek(), "nested field access (a.b.c) is not supported");
        }
        if (is_symbol("[")) fail(peek(), "element access with [...] is not supported");
        e->name = name;
        return e;
    }

    expr_ptr parse_case() {
        auto e = make(expr_kind::case_, next().where);
        if (!is_keyword("WHEN")) {
            e->case_has_operand = true;
            e->args.push_back(parse_expr());
        }
        if (!is_keyword("WHEN")) fail(peek(), fmt::format("expected WHEN in CASE, found {}", describe(peek())));
        while (accept_keyword("WHEN")) {
            e->args.push_back(parse_expr());
            expect_keyword("THEN", "after the WHEN condition");
            e->args.push_back(parse_expr());
        }
        if (accept_keyword("ELSE")) {
            e->case_has_else = true;
            e->args.push_back(parse_expr());
        }
        expect_keyword("END", "closing CASE");
        return e;
    }

    std::string_view text_;
    const std::string& file_;
    std::vector<token> t_;
    size_t p_ = 0;
    std::vector<diagnostic>& errors_;
};

}  // namespace

std::vector<statement> parse(std::string_view text, const std::string& file, std::vector<diagnostic>& errors) {
    auto tokens = lex(text, file, errors);
    parser p(text, file, std::move(tokens), errors);
    return p.parse_all();
}

}  // namespace millrace::sql::ast
