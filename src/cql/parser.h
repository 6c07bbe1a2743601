// The CQL statement subset: a tokenizer and a recursive-descent parser into a
// small AST. Bind markers (`?`, `:name`) are numbered in order of appearance
// and remember what they bind to, so PREPARE can describe them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "auth.h"
#include "millrace/common/result.h"
#include "types.h"

namespace millrace::cql {

// What a bind marker stands for.
// collection_remove binds `c - ?` (a set of keys for a map), map_key and
// map_value bind `m[?] = ?`.
// json: the text of INSERT ... JSON ? or fromJson(?); contains: an element of the column (CONTAINS ?).
// udt_field binds `c.field = ?` (the field's type).
enum class marker_role { value, in_list, limit, per_partition_limit, ttl, timestamp, collection_remove, map_key, map_value, json, contains,
                         udt_field };

struct marker {
    std::string name;      // given name for `:name`, else the receiver column's name
    std::string column;    // receiver column ("" for limit/ttl/timestamp)
    marker_role role = marker_role::value;
    std::string field;     // udt_field: the field's name
};

// A literal, a bind marker, or a function without arguments (now(), uuid()).
struct term {
    enum class kind { literal, marker, function } k = kind::literal;
    literal lit;
    int marker_index = -1;
    std::string function;
    std::vector<term> args;  // a function's arguments (fromJson's text)
};

// contains_key: `m CONTAINS KEY k`; map_entry: `m[k] = v` (values: the key, then the value).
enum class relation_op { eq, lt, le, gt, ge, in, contains, neq, contains_key, map_entry };

struct relation {
    std::vector<std::string> columns;  // one column, or token(...) columns
    bool token = false;
    relation_op op = relation_op::eq;
    bool entry_not_eq = false;  // m[k] < v and the like: refused when run (Cassandra's Invalid, not a syntax error)
    std::vector<term> values;          // IN (a, b, ...) lists several; IN ? is one marker with role in_list
};

struct create_keyspace_stmt {
    std::string keyspace;
    bool if_not_exists = false;
    std::map<std::string, std::string> replication;
    bool durable_writes = true;
};

struct column_def {
    std::string name;
    std::string type;  // CQL spelling; resolved with parse_type
    bool is_static = false;  // `name type static`
};

struct create_table_stmt {
    std::string keyspace, table;
    bool if_not_exists = false;
    std::vector<column_def> columns;
    std::vector<std::string> partition_key;
    std::vector<std::string> clustering;
    std::map<std::string, bool> descending;  // CLUSTERING ORDER BY
    // WITH options kept (others are accepted and ignored).
    std::optional<std::string> comment;
    std::optional<int64_t> default_time_to_live, gc_grace_seconds;
};

struct drop_stmt {
    bool keyspace_level = false;
    std::string keyspace, table;
    bool if_exists = false;
};

// CREATE INDEX [IF NOT EXISTS] [name] ON [ks.]table (column | keys(c) | values(c) | entries(c) | full(c)).
struct create_index_stmt {
    std::string keyspace, table, name;  // name empty: Cassandra's default, <table>_<column>_idx
    bool if_not_exists = false;
    std::string column;
    std::string target;  // "", "keys", "values", "entries" or "full"
};

struct drop_index_stmt {
    std::string keyspace, name;
    bool if_exists = false;
};

// CREATE TYPE [IF NOT EXISTS] [ks.]name (field type, ...), ALTER TYPE [ks.]name ADD field type |
// RENAME a TO b [AND c TO d], DROP TYPE [IF EXISTS] [ks.]name.
struct type_stmt {
    enum class action { create, add, rename, drop } act = action::create;
    std::string keyspace, name;
    bool if_not_exists = false, if_exists = false;
    std::vector<column_def> fields;  // create; add: the one field
    std::vector<std::pair<std::string, std::string>> renames;
};

struct use_stmt {
    std::string keyspace;
};

struct truncate_stmt {
    std::string keyspace, table;
};

struct alter_table_stmt {
    std::string keyspace, table;
    std::vector<column_def> add;
    std::vector<std::string> drop;
    // ALTER TABLE ... WITH: the options kept (others are accepted and ignored).
    std::optional<std::string> comment;
    std::optional<int64_t> default_time_to_live, gc_grace_seconds;
};

struct write_options {
    std::optional<term> ttl;
    std::optional<term> timestamp;
};

struct insert_stmt {
    std::string keyspace, table;
    std::vector<std::string> columns;
    std::vector<term> values;
    std::optional<term> json;   // INSERT ... JSON '<object>' (columns and values then empty)
    bool json_default_unset = false;  // DEFAULT UNSET: columns missing from the object are left as they are
    bool if_not_exists = false;
    write_options options;
};

// SET c = v | c = c + v (append) | c = v + c (prepend) | c = c - v (remove) | m[k] = v (put) | u.f = v (field of a udt).
enum class assign_op { set, append, prepend, remove, put, field };

struct assignment {
    std::string column;
    assign_op op = assign_op::set;
    term value;
    std::optional<term> key;  // put only
    std::string field;        // field only
};

struct update_stmt {
    std::string keyspace, table;
    std::vector<assignment> assignments;
    std::vector<relation> where;
    bool if_exists = false;
    std::vector<relation> conditions;  // IF col = v [AND ...] (lightweight transaction)
    write_options options;
};

struct delete_stmt {
    std::string keyspace, table;
    std::vector<std::string> columns;  // empty: the whole row / partition / range
    std::vector<relation> where;
    bool if_exists = false;
    std::vector<relation> conditions;  // IF col = v [AND ...] (lightweight transaction)
    write_options options;
};

// A selector other than a column, count(*) or WRITETIME: a function of selectors
// and literals (token(p), toJson(v), now(), minTimeuuid('...')), CAST(x AS type),
// TTL(column), a literal, or a column inside one of those.
struct selector_expr {
    enum class kind { column, function, cast, ttl, writetime, literal, field } k = kind::column;
    std::string name;                 // column, or function (lower case); field: the field's name (of args[0], a udt)
    std::vector<selector_expr> args;  // function arguments; cast/ttl/writetime: one
    std::string cast_type;            // CAST target type, as written (lower case)
    literal lit;                      // kind::literal
    std::string text;                 // the literal as written (quoted), for column names

    // The result column name Cassandra gives it: "system.token(p)", "ttl(v)", "cast(n as text)".
    std::string display() const;
};

struct selector {
    std::string column;  // "" with count = true for count(*)
    bool count = false;
    bool writetime = false;  // WRITETIME(column): the cell's write timestamp (µs)
    std::optional<selector_expr> expr;  // any other selector
    std::string alias;
};

struct select_stmt {
    std::string keyspace, table;
    bool distinct = false;  // SELECT DISTINCT: one row per partition
    bool json = false;      // SELECT JSON: one [json] text column per row
    bool star = false;
    std::vector<selector> selectors;
    std::vector<relation> where;
    std::vector<std::pair<std::string, bool>> order_by;  // column, descending
    std::optional<term> limit;
    std::optional<term> per_partition_limit;
    bool allow_filtering = false;
};

// Server-side DESCRIBE (Cassandra 4.0): lists of names, or CREATE statements.
struct describe_stmt {
    enum class what { keyspaces, tables, types, functions, aggregates, cluster, schema, keyspace, table, name, other };
    what target = what::keyspaces;
    bool full = false;      // DESCRIBE FULL SCHEMA: include the system keyspaces
    bool only = false;      // DESCRIBE ONLY KEYSPACE: without its tables
    std::string keyspace;   // keyspace, table, name ("" = the session keyspace)
    std::string name;       // table, name, other
    std::string kind;       // other: TYPE, FUNCTION, AGGREGATE, INDEX, MATERIALIZED VIEW
};

// Roles (Cassandra 4.0): CREATE/ALTER ROLE ... WITH PASSWORD = '..' AND LOGIN = b
// AND SUPERUSER = b, and the CREATE/ALTER USER aliases (LOGIN implied).
struct role_options {
    std::optional<std::string> password;
    std::optional<bool> login, superuser;
};

struct create_role_stmt {
    std::string role;
    bool if_not_exists = false;
    role_options options;
};

struct alter_role_stmt {
    std::string role;
    role_options options;
};

struct drop_role_stmt {
    std::string role;
    bool if_exists = false;
};

// LIST ROLES [OF r] [NORECURSIVE], LIST USERS (users = true: the USERS columns).
struct list_roles_stmt {
    std::string of;
    bool recursive = true;
    bool users = false;
};

// A resource as written: `TABLE t` without a keyspace takes the session's.
struct resource_ref {
    resource::kind k = resource::kind::all_keyspaces;
    std::string keyspace, name;
};

// GRANT perm|ALL [PERMISSIONS] ON resource TO role; REVOKE ... FROM role.
struct grant_stmt {
    bool revoke = false;
    permission_set permissions = 0;  // ALL: every permission (narrowed to the resource's applicable ones)
    bool all = false;
    resource_ref on;
    std::string role;
};

// GRANT role TO grantee; REVOKE role FROM grantee.
struct grant_role_stmt {
    bool revoke = false;
    std::string role, grantee;
};

// LIST perm|ALL [PERMISSIONS] [ON resource] [OF role] [NORECURSIVE].
struct list_permissions_stmt {
    permission_set permissions = 0;
    bool all = false;
    std::optional<resource_ref> on;
    std::string of;
    bool recursive = true;
};

struct batch_stmt;
using statement = std::variant<create_keyspace_stmt, create_table_stmt, drop_stmt, use_stmt, truncate_stmt,
                               alter_table_stmt, insert_stmt, update_stmt, delete_stmt, select_stmt, batch_stmt,
                               describe_stmt, create_role_stmt, alter_role_stmt, drop_role_stmt, list_roles_stmt,
                               grant_stmt, grant_role_stmt, list_permissions_stmt, create_index_stmt, drop_index_stmt, type_stmt>;

struct batch_stmt {
    bool logged = true;
    std::vector<statement> statements;  // insert, update or delete only
    write_options options;
};

struct parsed_statement {
    statement stmt;
    std::vector<marker> markers;
};

// Parses one statement (a trailing ';' is allowed). The error message is the
// text of a Syntax_error answer: "line 1:17 mismatched input 'FORM' ...".
result<parsed_statement> parse_statement(std::string_view text);

}  // namespace millrace::cql
