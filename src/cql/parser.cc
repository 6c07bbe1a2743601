#include "parser.h"

#include <cctype>
#include <functional>
#include <stdexcept>

namespace millrace::cql {
namespace {

enum class tok { ident, quoted_ident, string, integer, floating, uuid, hex, symbol, marker, named_marker, end };

struct token {
    tok kind;
    std::string text;
    size_t offset;
};

// Thrown inside the parser only; parse_statement turns it into an error.
struct syntax_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

bool uuid_at(std::string_view s, size_t pos) {
    if (pos + 36 > s.size()) return false;
    for (size_t idx = 0; idx < 36; ++idx) {
        char c = s[pos + idx];
        bool dash = idx == 8 || idx == 13 || idx == 18 || idx == 23;
        if (dash ? c != '-' : !is_hex(c)) return false;
    }
    return pos + 36 == s.size() || !(std::isalnum(static_cast<unsigned char>(s[pos + 36])) || s[pos + 36] == '_');
}

std::vector<token> tokenize(std::string_view s) {
    std::vector<token> out;
    size_t pos = 0;
    while (pos < s.size()) {
        char c = s[pos];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++pos;
            continue;
        }
        if (c == '-' && pos + 1 < s.size() && s[pos + 1] == '-') {
            while (pos < s.size() && s[pos] != '\n') ++pos;
            continue;
        }
        if (c == '/' && pos + 1 < s.size() && s[pos + 1] == '*') {
            auto end = s.find("*/", pos + 2);
            pos = end == std::string_view::npos ? s.size() : end + 2;
            continue;
        }
        size_t start = pos;
        if (uuid_at(s, pos)) {
            out.push_back({tok::uuid, std::string(s.substr(pos, 36)), start});
            pos += 36;
            continue;
        }
        if (c == '0' && pos + 1 < s.size() && (s[pos + 1] == 'x' || s[pos + 1] == 'X')) {
            pos += 2;
            while (pos < s.size() && is_hex(s[pos])) ++pos;
            out.push_back({tok::hex, std::string(s.substr(start, pos - start)), start});
            continue;
        }
        if (std::isdigit(static_cast<unsigned char>(c)) ||
            (c == '-' && pos + 1 < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos + 1])) || s[pos + 1] == '.'))) {
            ++pos;
            bool floating = false;
            while (pos < s.size()) {
                char d = s[pos];
                if (std::isdigit(static_cast<unsigned char>(d))) {
                    ++pos;
                } else if (d == '.' && !floating) {
                    floating = true;
                    ++pos;
                } else if ((d == 'e' || d == 'E') && pos + 1 < s.size() &&
                           (std::isdigit(static_cast<unsigned char>(s[pos + 1])) || s[pos + 1] == '-' || s[pos + 1] == '+')) {
                    floating = true;
                    pos += 2;
                } else {
                    break;
                }
            }
            out.push_back({floating ? tok::floating : tok::integer, std::string(s.substr(start, pos - start)), start});
            continue;
        }
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_')) ++pos;
            out.push_back({tok::ident, std::string(s.substr(start, pos - start)), start});
            continue;
        }
        if (c == '\'' || c == '"') {
            std::string text;
            ++pos;
            for (;;) {
                if (pos >= s.size()) throw syntax_failure(fmt::format("line 1:{} unterminated {}", start, c == '"' ? "quoted identifier" : "string literal"));
                if (s[pos] == c) {
                    if (pos + 1 < s.size() && s[pos + 1] == c) {
                        text.push_back(c);
                        pos += 2;
                        continue;
                    }
                    ++pos;
                    break;
                }
                text.push_back(s[pos++]);
            }
            out.push_back({c == '"' ? tok::quoted_ident : tok::string, text, start});
            continue;
        }
        if (c == '$' && pos + 1 < s.size() && s[pos + 1] == '$') {
            auto end = s.find("$$", pos + 2);
            if (end == std::string_view::npos) throw syntax_failure(fmt::format("line 1:{} unterminated $$ string", start));
            out.push_back({tok::string, std::string(s.substr(pos + 2, end - pos - 2)), start});
            pos = end + 2;
            continue;
        }
        if (c == '?') {
            out.push_back({tok::marker, "?", start});
            ++pos;
            continue;
        }
        if (c == ':' && pos + 1 < s.size() && s[pos + 1] == '"') {  // :"Name" (quoted, case kept), as drivers send
            std::string name;
            for (pos += 2;; ++pos) {
                if (pos >= s.size()) throw syntax_failure(fmt::format("line 1:{} unterminated quoted bind marker name", start));
                if (s[pos] == '"') {
                    if (pos + 1 < s.size() && s[pos + 1] == '"') {
                        name.push_back('"');
                        ++pos;
                        continue;
                    }
                    ++pos;
                    break;
                }
                name.push_back(s[pos]);
            }
            out.push_back({tok::named_marker, name, start});
            continue;
        }
        if (c == ':' && pos + 1 < s.size() && (std::isalpha(static_cast<unsigned char>(s[pos + 1])) || s[pos + 1] == '_')) {
            ++pos;
            while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_')) ++pos;
            std::string name(s.substr(start + 1, pos - start - 1));
            for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            out.push_back({tok::named_marker, name, start});
            continue;
        }
        for (const char* two : {"<=", ">=", "!="}) {
            if (s.substr(pos, 2) == two) {
                out.push_back({tok::symbol, two, start});
                pos += 2;
                goto next;
            }
        }
        if (std::string_view("(),;.*=<>{}[]:+-").find(c) != std::string_view::npos) {
            out.push_back({tok::symbol, std::string(1, c), start});
            ++pos;
            continue;
        }
        throw syntax_failure(fmt::format("line 1:{} unexpected character '{}'", start, c));
    next:;
    }
    out.push_back({tok::end, "<EOF>", s.size()});
    return out;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

class parser {
public:
    explicit parser(std::string_view text) : tokens_(tokenize(text)) {}

    parsed_statement parse() {
        parsed_statement out{parse_one(), std::move(markers_)};
        accept(";");
        if (peek().kind != tok::end) fail("extraneous input");
        return out;
    }

private:
    const token& peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
    const token& next() {
        const token& t = peek();
        if (pos_ < tokens_.size() - 1) ++pos_;
        return t;
    }
    [[noreturn]] void fail(std::string_view what) const {
        const token& t = peek();
        throw syntax_failure(fmt::format("line 1:{} {} '{}'", t.offset, what, t.text));
    }
    bool is_kw(std::string_view kw, size_t ahead = 0) const {
        const token& t = peek(ahead);
        return t.kind == tok::ident && lower(t.text) == kw;
    }
    bool accept_kw(std::string_view kw) {
        if (!is_kw(kw)) return false;
        next();
        return true;
    }
    void expect_kw(std::string_view kw) {
        if (!accept_kw(kw)) fail(fmt::format("mismatched input, expecting {}:", lower(std::string(kw)) == kw ? std::string(kw) : std::string(kw)));
    }
    bool is_sym(std::string_view s) const { return peek().kind == tok::symbol && peek().text == s; }
    bool accept(std::string_view s) {
        if (!is_sym(s)) return false;
        next();
        return true;
    }
    void expect(std::string_view s) {
        if (!accept(s)) fail(fmt::format("mismatched input, expecting '{}':", s));
    }

    std::string ident() {
        const token& t = peek();
        if (t.kind == tok::ident) return lower(next().text);
        if (t.kind == tok::quoted_ident) return next().text;
        fail("no viable alternative at input");
    }

    // [keyspace.]name
    void qualified(std::string& ks, std::string& name) {
        name = ident();
        if (accept(".")) {
            ks = name;
            name = ident();
        }
    }

    bool if_not_exists() {
        if (is_kw("if") && is_kw("not", 1)) {
            next();
            next();
            expect_kw("exists");
            return true;
        }
        return false;
    }
    bool if_exists() {
        if (is_kw("if") && is_kw("exists", 1)) {
            next();
            next();
            return true;
        }
        return false;
    }

    term marker_term(std::string column, marker_role role) {
        const token& t = next();
        term out;
        out.k = term::kind::marker;
        out.marker_index = static_cast<int>(markers_.size());
        std::string name = t.kind == tok::named_marker ? t.text
                           : role == marker_role::map_key ? "key(" + column + ")"
                           : role == marker_role::map_value ? "value(" + column + ")"
                                                            : column;
        markers_.push_back({name, std::move(column), role});
        return out;
    }

    literal parse_literal() {
        const token& t = peek();
        literal lit;
        switch (t.kind) {
            case tok::string: lit.kind = literal_kind::string; break;
            case tok::integer: lit.kind = literal_kind::integer; break;
            case tok::floating: lit.kind = literal_kind::floating; break;
            case tok::uuid: lit.kind = literal_kind::uuid; break;
            case tok::hex: lit.kind = literal_kind::hex; break;
            case tok::ident: {
                auto k = lower(t.text);
                if (k == "true" || k == "false") {
                    lit.kind = literal_kind::boolean;
                } else if (k == "null") {
                    lit.kind = literal_kind::null;
                } else if (k == "nan" || k == "infinity") {
                    lit.kind = literal_kind::floating;
                } else {
                    fail("no viable alternative at input");
                }
                break;
            }
            case tok::symbol:
                if (t.text == "[") return collection("[", "]", literal_kind::list);
                if (t.text == "{") return collection("{", "}", literal_kind::set);
                if (t.text == "(") return collection("(", ")", literal_kind::tuple);
                if (t.text == "-" && (is_kw("nan", 1) || is_kw("infinity", 1))) {
                    next();
                    lit.kind = literal_kind::floating;
                    lit.text = "-" + next().text;
                    return lit;
                }
                [[fallthrough]];
            default:
                fail("no viable alternative at input");
        }
        lit.text = next().text;
        return lit;
    }

    literal collection(std::string_view open, std::string_view close, literal_kind kind) {
        expect(open);
        literal lit;
        lit.kind = kind;
        if (accept(close)) return lit;
        // `{field: value, ...}`: a user-defined type's literal (a field name is an identifier).
        if (kind == literal_kind::set && (peek().kind == tok::ident || peek().kind == tok::quoted_ident) &&
            peek(1).kind == tok::symbol && peek(1).text == ":" && !is_kw("true") && !is_kw("false") && !is_kw("null") &&
            !is_kw("nan") && !is_kw("infinity")) {
            lit.kind = literal_kind::udt;
            for (;;) {
                literal field;
                field.kind = literal_kind::ident;
                field.text = ident();
                expect(":");
                lit.elements.push_back(std::move(field));
                lit.elements.push_back(parse_literal());
                if (accept(close)) return lit;
                expect(",");
            }
        }
        for (;;) {
            lit.elements.push_back(parse_literal());
            if (kind == literal_kind::set && accept(":")) {
                lit.kind = literal_kind::map;
                lit.elements.push_back(parse_literal());
            } else if (lit.kind == literal_kind::map) {
                expect(":");
                lit.elements.push_back(parse_literal());
            }
            if (accept(close)) return lit;
            expect(",");
        }
    }

    term parse_term(const std::string& column, marker_role role = marker_role::value) {
        if (peek().kind == tok::marker || peek().kind == tok::named_marker) return marker_term(column, role);
        if (peek().kind == tok::ident && peek(1).kind == tok::symbol && peek(1).text == "(") {
            term out;
            out.k = term::kind::function;
            out.function = lower(next().text);
            expect("(");
            if (!accept(")")) {
                do out.args.push_back(parse_term(column, out.function == "fromjson" ? marker_role::json : role));
                while (accept(","));
                expect(")");
            }
            return out;
        }
        term out;
        out.lit = parse_literal();
        return out;
    }

    // ---- roles and permissions (Cassandra 4.0 grammar)

    // userOrRoleName: an identifier (lower-cased), a quoted name or a string literal.
    std::string role_name() {
        if (peek().kind == tok::string) return next().text;
        return ident();
    }

    bool boolean_value() {
        if (accept_kw("true")) return true;
        if (accept_kw("false")) return false;
        fail("mismatched input, expecting true or false:");
    }

    std::string string_value() {
        if (peek().kind != tok::string) fail("mismatched input, expecting a string literal:");
        return next().text;
    }

    // WITH PASSWORD = '..' AND LOGIN = b AND SUPERUSER = b (roles), or for
    // users: WITH PASSWORD '..' and SUPERUSER | NOSUPERUSER.
    role_options role_with(bool user) {
        role_options o;
        if (user) {
            if (accept_kw("with")) {
                expect_kw("password");
                o.password = string_value();
            }
            if (accept_kw("superuser")) o.superuser = true;
            else if (accept_kw("nosuperuser")) o.superuser = false;
            return o;
        }
        if (!accept_kw("with")) return o;
        do {
            if (accept_kw("password")) {
                expect("=");
                o.password = string_value();
            } else if (accept_kw("login")) {
                expect("=");
                o.login = boolean_value();
            } else if (accept_kw("superuser")) {
                expect("=");
                o.superuser = boolean_value();
            } else {
                fail("mismatched input, expecting PASSWORD, LOGIN or SUPERUSER:");
            }
        } while (accept_kw("and"));
        return o;
    }

    statement create_role(bool user) {
        create_role_stmt c;
        c.if_not_exists = if_not_exists();
        c.role = role_name();
        c.options = role_with(user);
        if (user) c.options.login = true;
        return c;
    }

    statement alter_role(bool user) {
        alter_role_stmt a;
        a.role = role_name();
        a.options = role_with(user);
        return a;
    }

    resource_ref resource_spec() {
        resource_ref r;
        if (accept_kw("all")) {
            if (accept_kw("keyspaces")) return r;
            if (accept_kw("roles")) {
                r.k = resource::kind::all_roles;
                return r;
            }
            fail("mismatched input, expecting KEYSPACES or ROLES:");
        }
        if (accept_kw("keyspace")) {
            r.k = resource::kind::keyspace;
            r.keyspace = ident();
            return r;
        }
        if (accept_kw("role")) {
            r.k = resource::kind::role;
            r.name = role_name();
            return r;
        }
        if (is_kw("function") || is_kw("functions") || is_kw("mbean") || is_kw("mbeans")) {
            fail("resources other than keyspaces, tables and roles are not supported, at");
        }
        accept_kw("table");
        accept_kw("columnfamily");
        r.k = resource::kind::table;
        qualified(r.keyspace, r.name);
        return r;
    }

    // perm [PERMISSION] | ALL [PERMISSIONS]; false when the next word is not one.
    bool permissions_spec(permission_set& set, bool& all) {
        if (is_kw("all")) {
            next();
            accept_kw("permissions");
            all = true;
            set = 0xFF;
            return true;
        }
        if (peek().kind != tok::ident) return false;
        auto p = parse_permission(peek().text);
        if (!p) return false;
        next();
        accept_kw("permission");
        set = bit(*p);
        return true;
    }

    statement grant(bool revoke) {
        // GRANT perm ON ... or GRANT role TO role: a permission word followed by ON/PERMISSION.
        bool is_perm = (is_kw("all") && (is_kw("permissions", 1) || is_kw("on", 1))) ||
                       (peek().kind == tok::ident && parse_permission(peek().text) && (is_kw("on", 1) || is_kw("permission", 1)));
        if (!is_perm) {
            grant_role_stmt g;
            g.revoke = revoke;
            g.role = role_name();
            expect_kw(revoke ? "from" : "to");
            g.grantee = role_name();
            return g;
        }
        grant_stmt g;
        g.revoke = revoke;
        permissions_spec(g.permissions, g.all);
        expect_kw("on");
        g.on = resource_spec();
        expect_kw(revoke ? "from" : "to");
        g.role = role_name();
        return g;
    }

    statement list() {
        if (accept_kw("roles") || is_kw("users")) {
            list_roles_stmt l;
            l.users = accept_kw("users");
            if (accept_kw("of")) l.of = role_name();
            if (accept_kw("norecursive")) l.recursive = false;
            return l;
        }
        list_permissions_stmt l;
        if (!permissions_spec(l.permissions, l.all)) fail("mismatched input, expecting ROLES, USERS, ALL or a permission:");
        if (accept_kw("on")) l.on = resource_spec();
        if (accept_kw("of")) l.of = role_name();
        if (accept_kw("norecursive")) l.recursive = false;
        return l;
    }

    statement parse_one() {
        if (accept_kw("create")) {
            if (accept_kw("keyspace") || accept_kw("schema")) return create_keyspace();
            if (accept_kw("table") || accept_kw("columnfamily")) return create_table();
            if (accept_kw("role")) return create_role(false);
            if (accept_kw("user")) return create_role(true);
            if (accept_kw("index")) return create_index();
            if (accept_kw("type")) {
                type_stmt t;
                t.if_not_exists = if_not_exists();
                type_name(t);
                expect("(");
                do {
                    column_def f;
                    f.name = ident();
                    f.type = type_text();
                    t.fields.push_back(f);
                } while (accept(","));
                expect(")");
                return t;
            }
            fail("unsupported CREATE statement at");
        }
        if (accept_kw("grant")) return grant(false);
        if (accept_kw("revoke")) return grant(true);
        if (accept_kw("list")) return list();
        if (accept_kw("drop")) {
            if (accept_kw("role") || accept_kw("user")) {
                drop_role_stmt d;
                d.if_exists = if_exists();
                d.role = role_name();
                return d;
            }
            drop_stmt d;
            if (accept_kw("keyspace") || accept_kw("schema")) {
                d.keyspace_level = true;
                d.if_exists = if_exists();
                d.keyspace = ident();
                return d;
            }
            if (accept_kw("table") || accept_kw("columnfamily")) {
                d.if_exists = if_exists();
                qualified(d.keyspace, d.table);
                return d;
            }
            if (accept_kw("type")) {
                type_stmt t;
                t.act = type_stmt::action::drop;
                t.if_exists = if_exists();
                type_name(t);
                return t;
            }
            if (accept_kw("index")) {
                drop_index_stmt di;
                di.if_exists = if_exists();
                qualified(di.keyspace, di.name);
                return di;
            }
            fail("unsupported DROP statement at");
        }
        if (accept_kw("use")) return use_stmt{ident()};
        if (accept_kw("truncate")) {
            accept_kw("table");
            truncate_stmt t;
            qualified(t.keyspace, t.table);
            return t;
        }
        if (accept_kw("alter")) {
            if (accept_kw("role")) return alter_role(false);
            if (accept_kw("user")) return alter_role(true);
            if (accept_kw("type")) {
                type_stmt t;
                type_name(t);
                if (accept_kw("add")) {
                    t.act = type_stmt::action::add;
                    column_def f;
                    f.name = ident();
                    f.type = type_text();
                    t.fields.push_back(f);
                } else if (accept_kw("rename")) {
                    t.act = type_stmt::action::rename;
                    do {
                        auto from = ident();
                        expect_kw("to");
                        t.renames.emplace_back(from, ident());
                    } while (accept_kw("and"));
                } else {
                    fail("mismatched input, expecting ADD or RENAME at");
                }
                return t;
            }
            if (!accept_kw("table") && !accept_kw("columnfamily")) fail("unsupported ALTER statement at");
            alter_table_stmt a;
            qualified(a.keyspace, a.table);
            if (accept_kw("add")) {
                bool paren = accept("(");
                do {
                    column_def c;
                    c.name = ident();
                    c.type = type_text();
                    c.is_static = accept_kw("static");
                    a.add.push_back(c);
                } while (accept(","));
                if (paren) expect(")");
            } else if (accept_kw("drop")) {
                bool paren = accept("(");
                do a.drop.push_back(ident());
                while (accept(","));
                if (paren) expect(")");
            } else if (accept_kw("with")) {
                properties([&](const std::string& name) {
                    expect("=");
                    table_option(name, a.comment, a.default_time_to_live, a.gc_grace_seconds);
                });
            } else {
                fail("unsupported ALTER TABLE at");
            }
            return a;
        }
        if (accept_kw("insert")) return insert();
        if (accept_kw("update")) return update();
        if (accept_kw("delete")) return delete_();
        if (accept_kw("select")) return select();
        if (accept_kw("begin")) return batch();
        if (accept_kw("describe") || accept_kw("desc")) return describe();
        fail("no viable alternative at input");
    }

    statement describe() {
        using w = describe_stmt::what;
        describe_stmt d;
        auto list = [&](const char* kw, w target) {
            if (!accept_kw(kw)) return false;
            d.target = target;
            return true;
        };
        d.full = accept_kw("full");
        if (accept_kw("schema")) {
            d.target = w::schema;
        } else if (d.full) {
            fail("mismatched input, expecting SCHEMA after FULL at");
        } else if (list("keyspaces", w::keyspaces) || list("tables", w::tables) || list("columnfamilies", w::tables) ||
                   list("types", w::types) || list("functions", w::functions) || list("aggregates", w::aggregates) ||
                   list("cluster", w::cluster)) {
        } else if (is_kw("only") || is_kw("keyspace")) {
            d.only = accept_kw("only");
            expect_kw("keyspace");
            d.target = w::keyspace;
            if (peek().kind == tok::ident || peek().kind == tok::quoted_ident) {
                if (!is_kw("with")) d.keyspace = ident();
            }
        } else if (accept_kw("table") || accept_kw("columnfamily")) {
            d.target = w::table;
            qualified(d.keyspace, d.name);
        } else if (is_kw("type") || is_kw("function") || is_kw("aggregate") || is_kw("index") || is_kw("materialized")) {
            d.target = w::other;
            d.kind = upper(next().text);
            if (d.kind == "MATERIALIZED") {
                expect_kw("view");
                d.kind = "MATERIALIZED VIEW";
            }
            qualified(d.keyspace, d.name);
            if (d.kind == "FUNCTION" || d.kind == "AGGREGATE") {
                if (accept("(")) {
                    while (!accept(")")) next();
                }
            }
        } else {
            d.target = w::name;
            qualified(d.keyspace, d.name);
            if (d.keyspace.empty()) std::swap(d.keyspace, d.name);  // one name: a keyspace, else a table of the session keyspace
        }
        if (accept_kw("with")) expect_kw("internals");
        return d;
    }

    static std::string upper(std::string s) {
        for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return s;
    }

    // [ks.]name of a user-defined type; a built-in type's name is not one (Cassandra's grammar refuses it).
    void type_name(type_stmt& t) {
        const token& first = peek();
        if (first.kind == tok::ident && peek(1).kind == tok::symbol && peek(1).text == ".") {
            t.keyspace = ident();
            next();
        }
        if (peek().kind == tok::ident && parse_type(peek().text).ok()) fail("no viable alternative at input");
        t.name = ident();
    }

    // Reads a type name, possibly parameterized, as text.
    std::string type_text() {
        std::string out = ident();
        if (accept(".")) out += "." + ident();  // a user-defined type of another keyspace
        if (accept("<")) {
            out += "<";
            for (;;) {
                out += type_text();
                if (accept(">")) break;
                expect(",");
                out += ", ";
            }
            out += ">";
        }
        return out;
    }

    void properties(const std::function<void(const std::string&)>& on_property) {
        do {
            auto name = ident();
            on_property(name);
        } while (accept_kw("and"));
    }

    void skip_value() {
        if (peek().kind == tok::ident && !is_kw("true") && !is_kw("false")) {
            next();
            return;
        }
        parse_literal();
    }

    statement create_keyspace() {
        create_keyspace_stmt c;
        c.if_not_exists = if_not_exists();
        c.keyspace = ident();
        expect_kw("with");
        properties([&](const std::string& name) {
            expect("=");
            if (name == "replication") {
                literal m = parse_literal();
                if (m.kind != literal_kind::map) fail("replication must be a map, at");
                for (size_t idx = 0; idx + 1 < m.elements.size(); idx += 2) c.replication[m.elements[idx].text] = m.elements[idx + 1].text;
            } else if (name == "durable_writes") {
                c.durable_writes = lower(parse_literal().text) != "false";
            } else {
                skip_value();
            }
        });
        return c;
    }

    statement create_index() {
        create_index_stmt c;
        c.if_not_exists = if_not_exists();
        if (!is_kw("on")) c.name = ident();
        expect_kw("on");
        qualified(c.keyspace, c.table);
        expect("(");
        for (const char* target : {"keys", "values", "entries", "full"}) {
            if (is_kw(target) && peek(1).kind == tok::symbol && peek(1).text == "(") {
                next();
                next();
                c.target = target;
                c.column = ident();
                expect(")");
                break;
            }
        }
        if (c.target.empty()) c.column = ident();
        expect(")");
        return c;
    }

    statement create_table() {
        create_table_stmt c;
        c.if_not_exists = if_not_exists();
        qualified(c.keyspace, c.table);
        expect("(");
        for (;;) {
            if (accept_kw("primary")) {
                expect_kw("key");
                expect("(");
                if (accept("(")) {
                    do c.partition_key.push_back(ident());
                    while (accept(","));
                    expect(")");
                } else {
                    c.partition_key.push_back(ident());
                }
                while (accept(",")) c.clustering.push_back(ident());
                expect(")");
            } else {
                column_def col;
                col.name = ident();
                col.type = type_text();
                col.is_static = accept_kw("static");
                if (accept_kw("primary")) {
                    expect_kw("key");
                    if (!c.partition_key.empty()) fail("multiple PRIMARY KEYs, at");
                    c.partition_key.push_back(col.name);
                }
                c.columns.push_back(col);
            }
            if (accept(")")) break;
            expect(",");
        }
        if (accept_kw("with")) {
            properties([&](const std::string& name) {
                if (name == "clustering") {
                    expect_kw("order");
                    expect_kw("by");
                    expect("(");
                    do {
                        auto col = ident();
                        bool desc = accept_kw("desc");
                        if (!desc) accept_kw("asc");
                        c.descending[col] = desc;
                    } while (accept(","));
                    expect(")");
                } else if (name == "compact") {
                    expect_kw("storage");
                } else {
                    expect("=");
                    table_option(name, c.comment, c.default_time_to_live, c.gc_grace_seconds);
                }
            });
        }
        return c;
    }

    // One `name = value` table option after the '='; options we do not keep are skipped.
    void table_option(const std::string& name, std::optional<std::string>& comment, std::optional<int64_t>& default_ttl,
                      std::optional<int64_t>& gc_grace) {
        if (name == "comment") {
            literal v = parse_literal();
            if (v.kind != literal_kind::string) fail("comment must be a string, at");
            comment = v.text;
        } else if (name == "default_time_to_live" || name == "gc_grace_seconds") {
            literal v = parse_literal();
            if (v.kind != literal_kind::integer || v.text.size() > 10) fail(fmt::format("{} must be an integer, at", name));
            (name == "gc_grace_seconds" ? gc_grace : default_ttl) = std::stoll(v.text);
        } else {
            skip_value();
        }
    }

    void using_options(write_options& o) {
        if (!accept_kw("using")) return;
        do {
            if (accept_kw("ttl")) o.ttl = parse_term("[ttl]", marker_role::ttl);
            else if (accept_kw("timestamp")) o.timestamp = parse_term("[timestamp]", marker_role::timestamp);
            else fail("mismatched input, expecting TTL or TIMESTAMP:");
        } while (accept_kw("and"));
    }

    statement insert() {
        expect_kw("into");
        insert_stmt s;
        qualified(s.keyspace, s.table);
        if (accept_kw("json")) {
            s.json = parse_term("[json]", marker_role::json);
            if (accept_kw("default")) {
                if (accept_kw("unset")) s.json_default_unset = true;
                else if (!accept_kw("null")) fail("mismatched input, expecting NULL or UNSET:");
            }
            s.if_not_exists = if_not_exists();
            using_options(s.options);
            if (!s.if_not_exists) s.if_not_exists = if_not_exists();
            return s;
        }
        expect("(");
        do s.columns.push_back(ident());
        while (accept(","));
        expect(")");
        expect_kw("values");
        expect("(");
        size_t idx = 0;
        do {
            s.values.push_back(parse_term(idx < s.columns.size() ? s.columns[idx] : ""));
            ++idx;
        } while (accept(","));
        expect(")");
        s.if_not_exists = if_not_exists();
        using_options(s.options);
        if (!s.if_not_exists) s.if_not_exists = if_not_exists();
        return s;
    }

    std::vector<relation> where_clause() {
        std::vector<relation> out;
        do {
            relation r;
            if (is_kw("token") && peek(1).kind == tok::symbol && peek(1).text == "(") {
                next();
                next();
                r.token = true;
                do r.columns.push_back(ident());
                while (accept(","));
                expect(")");
            } else {
                r.columns.push_back(ident());
                if (accept("[")) {
                    // m[k] = v: an entry of a map.
                    r.op = relation_op::map_entry;
                    r.values.push_back(parse_term(r.columns[0], marker_role::map_key));
                    expect("]");
                    if (!(peek().kind == tok::symbol && peek().text == "=")) {
                        if (!(peek().kind == tok::symbol && (peek().text == "<" || peek().text == ">" || peek().text == "<=" ||
                                                             peek().text == ">=" || peek().text == "!="))) {
                            expect("=");
                        }
                        r.entry_not_eq = true;
                    }
                    next();
                    r.values.push_back(parse_term(r.columns[0], marker_role::map_value));
                    out.push_back(std::move(r));
                    continue;
                }
            }
            const token& op = next();
            std::string o = op.kind == tok::symbol ? op.text : lower(op.text);
            if (o == "=") r.op = relation_op::eq;
            else if (o == "<") r.op = relation_op::lt;
            else if (o == "<=") r.op = relation_op::le;
            else if (o == ">") r.op = relation_op::gt;
            else if (o == ">=") r.op = relation_op::ge;
            else if (o == "!=") r.op = relation_op::neq;
            else if (o == "in") r.op = relation_op::in;
            else if (o == "contains") r.op = accept_kw("key") ? relation_op::contains_key : relation_op::contains;
            else {
                --pos_;
                fail("no viable alternative at input");
            }
            std::string column = r.token ? "partition key token" : r.columns[0];
            if (r.op == relation_op::in) {
                if (peek().kind == tok::marker || peek().kind == tok::named_marker) {
                    r.values.push_back(marker_term(column, marker_role::in_list));
                } else {
                    expect("(");
                    if (!accept(")")) {
                        do r.values.push_back(parse_term(column));
                        while (accept(","));
                        expect(")");
                    }
                }
            } else if (r.token && is_kw("token")) {
                next();
                expect("(");
                r.values.push_back(parse_term(column));
                expect(")");
            } else {
                r.values.push_back(parse_term(column, r.op == relation_op::contains       ? marker_role::contains
                                                      : r.op == relation_op::contains_key ? marker_role::map_key
                                                                                          : marker_role::value));
            }
            out.push_back(std::move(r));
        } while (accept_kw("and"));
        return out;
    }

    statement update() {
        update_stmt s;
        qualified(s.keyspace, s.table);
        using_options(s.options);
        expect_kw("set");
        do {
            assignment a;
            a.column = ident();
            if (accept(".")) {
                a.op = assign_op::field;
                a.field = ident();
                expect("=");
                a.value = parse_term(a.column, marker_role::udt_field);
                if (a.value.k == term::kind::marker) {
                    auto& mk = markers_[static_cast<size_t>(a.value.marker_index)];
                    mk.field = a.field;
                    if (mk.name == a.column) mk.name = a.column + "." + a.field;
                }
            } else if (accept("[")) {
                a.op = assign_op::put;
                a.key = parse_term(a.column, marker_role::map_key);
                expect("]");
                expect("=");
                a.value = parse_term(a.column, marker_role::map_value);
            } else {
                expect("=");
                bool self = (peek().kind == tok::ident ? lower(peek().text) : peek().text) == a.column &&
                            (peek().kind == tok::ident || peek().kind == tok::quoted_ident) && peek(1).kind == tok::symbol &&
                            (peek(1).text == "+" || peek(1).text == "-");
                if (self) {
                    next();
                    a.op = next().text == "+" ? assign_op::append : assign_op::remove;
                    a.value = parse_term(a.column, a.op == assign_op::remove ? marker_role::collection_remove : marker_role::value);
                } else {
                    a.value = parse_term(a.column);
                    if (accept("+")) {
                        if (ident() != a.column) fail("only prepending to the same column is supported (c = x + c), at");
                        a.op = assign_op::prepend;
                    }
                }
            }
            s.assignments.push_back(std::move(a));
        } while (accept(","));
        expect_kw("where");
        s.where = where_clause();
        s.if_exists = if_exists();
        if (accept_kw("if")) s.conditions = where_clause();
        return s;
    }

    statement delete_() {
        delete_stmt s;
        if (!is_kw("from")) {
            do {
                s.columns.push_back(ident());
                if (accept(".")) s.columns.back() += "." + ident();  // a field of a non-frozen udt
            } while (accept(","));
        }
        expect_kw("from");
        qualified(s.keyspace, s.table);
        using_options(s.options);
        expect_kw("where");
        s.where = where_clause();
        s.if_exists = if_exists();
        if (accept_kw("if")) s.conditions = where_clause();
        return s;
    }

    statement select() {
        select_stmt s;
        if (is_kw("json") && !is_kw("from", 1) && !(peek(1).kind == tok::symbol && peek(1).text == ",")) {
            next();
            s.json = true;
        }
        // DISTINCT, unless it is a column named distinct (`SELECT distinct FROM t`).
        if (is_kw("distinct") && !is_kw("from", 1) && !(peek(1).kind == tok::symbol && peek(1).text == ",")) {
            next();
            s.distinct = true;
        }
        if (accept("*")) {
            s.star = true;
        } else {
            do {
                selector sel;
                if ((is_kw("count") || is_kw("count")) && peek(1).kind == tok::symbol && peek(1).text == "(") {
                    next();
                    next();
                    if (!accept("*") && !(peek().kind == tok::integer && next().text == "1")) ident();
                    expect(")");
                    sel.count = true;
                    sel.alias = "count";
                } else {
                    auto e = selector_term();
                    if (e.k == selector_expr::kind::column) {
                        sel.column = e.name;
                    } else if (e.k == selector_expr::kind::writetime) {
                        sel.column = e.args[0].name;
                        sel.writetime = true;
                        sel.alias = e.display();
                    } else {
                        sel.expr = std::move(e);
                    }
                }
                if (accept_kw("as")) sel.alias = ident();
                s.selectors.push_back(sel);
            } while (accept(","));
        }
        expect_kw("from");
        qualified(s.keyspace, s.table);
        if (accept_kw("where")) s.where = where_clause();
        if (accept_kw("order")) {
            expect_kw("by");
            do {
                auto col = ident();
                bool desc = accept_kw("desc");
                if (!desc) accept_kw("asc");
                s.order_by.emplace_back(col, desc);
            } while (accept(","));
        }
        for (;;) {
            if (accept_kw("per")) {
                expect_kw("partition");
                expect_kw("limit");
                s.per_partition_limit = parse_term("[per_partition_limit]", marker_role::per_partition_limit);
            } else if (accept_kw("limit")) {
                s.limit = parse_term("[limit]", marker_role::limit);
            } else if (accept_kw("allow")) {
                expect_kw("filtering");
                s.allow_filtering = true;
            } else {
                break;
            }
        }
        return s;
    }

    // A selector: column, literal, CAST(x AS type), WRITETIME/TTL(column) or f(args...).
    selector_expr selector_term() {
        selector_expr e;
        if (peek().kind == tok::ident && peek(1).kind == tok::symbol && peek(1).text == "(" && !is_kw("true") && !is_kw("false")) {
            e.name = lower(next().text);
            expect("(");
            if (e.name == "cast") {
                e.k = selector_expr::kind::cast;
                e.args.push_back(selector_term());
                expect_kw("as");
                e.cast_type = lower(type_text());
                expect(")");
                return e;
            }
            if (e.name == "writetime" || e.name == "ttl") {
                e.k = e.name == "ttl" ? selector_expr::kind::ttl : selector_expr::kind::writetime;
                selector_expr col;
                col.name = ident();
                e.args.push_back(std::move(col));
                expect(")");
                return e;
            }
            e.k = selector_expr::kind::function;
            if (!accept(")")) {
                do e.args.push_back(selector_term());
                while (accept(","));
                expect(")");
            }
            return e;
        }
        if (peek().kind == tok::quoted_ident ||
            (peek().kind == tok::ident && !is_kw("true") && !is_kw("false") && !is_kw("null") && !is_kw("nan") && !is_kw("infinity"))) {
            e.name = ident();
            // col.field[.field...]: a field of a user-defined type.
            while (accept(".")) {
                selector_expr f;
                f.k = selector_expr::kind::field;
                f.name = ident();
                f.args.push_back(std::move(e));
                e = std::move(f);
            }
            return e;
        }
        e.k = selector_expr::kind::literal;
        bool quoted = peek().kind == tok::string;
        e.lit = parse_literal();
        if (quoted) {
            e.text = "'";
            for (char c : e.lit.text) {
                e.text += c;
                if (c == '\'') e.text += c;
            }
            e.text += "'";
        } else {
            e.text = e.lit.text;
        }
        return e;
    }

    statement batch() {
        batch_stmt b;
        if (accept_kw("unlogged")) b.logged = false;
        else if (accept_kw("counter")) fail("counter batches are not supported, at");
        else accept_kw("logged");
        expect_kw("batch");
        using_options(b.options);
        for (;;) {
            accept(";");
            if (accept_kw("apply")) {
                expect_kw("batch");
                break;
            }
            if (accept_kw("insert")) b.statements.push_back(insert());
            else if (accept_kw("update")) b.statements.push_back(update());
            else if (accept_kw("delete")) b.statements.push_back(delete_());
            else fail("mismatched input, expecting INSERT, UPDATE, DELETE or APPLY BATCH:");
        }
        return b;
    }

    std::vector<token> tokens_;
    size_t pos_ = 0;
    std::vector<marker> markers_;
};

}  // namespace

std::string selector_expr::display() const {
    switch (k) {
        case kind::column: return name;
        case kind::literal: return text;
        case kind::cast: return "cast(" + args[0].display() + " as " + cast_type + ")";
        case kind::field: return args[0].display() + "." + name;
        case kind::ttl: return "ttl(" + args[0].display() + ")";
        case kind::writetime: return "writetime(" + args[0].display() + ")";
        case kind::function: break;
    }
    std::string out = "system." + name + "(";
    for (size_t idx = 0; idx < args.size(); ++idx) out += (idx ? ", " : "") + args[idx].display();
    return out + ")";
}

result<parsed_statement> parse_statement(std::string_view text) {
    try {
        parser p(text);
        return p.parse();
    } catch (const syntax_failure& e) {
        return make_error(errc::invalid_argument, "{}", e.what());
    }
}

}  // namespace millrace::cql
