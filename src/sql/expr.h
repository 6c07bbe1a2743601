// Internal: bound (name-resolved, type-checked) expressions and their evaluation.
//
// Binding turns an ast::expr into a tree of closures with a result type;
// type errors throw bind_error (position + message naming the expression and
// the types). Evaluation errors (a CAST of bad text, integer division by zero)
// throw eval_failure, which operators turn into an eval_error rejection.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ast.h"
#include "millrace/sql/types.h"

namespace millrace::sql {

struct eval_failure {
    std::string field;
    std::string message;
};

struct bind_error {
    position where;
    std::string message;
};

struct eval_ctx {
    clock_fn clock;
    std::mt19937_64 rng{0x6d696c6c72616365ULL};
    int64_t now() const;
};

struct bound_expr;
using bound_ptr = std::shared_ptr<const bound_expr>;

struct bound_expr {
    sql_type type;
    std::function<value(const row&, eval_ctx&)> eval;
    std::string text;  // as written, for messages and explain
    bool is_aggregate_slot = false;
    std::optional<size_t> input_column;  // a plain reference to this column of the input row
};

struct scope_column {
    std::string name;
    sql_type type;
    size_t index = 0;
};

struct scope {
    std::vector<std::string> qualifiers;  // table names / aliases usable as `q.column`
    std::vector<scope_column> columns;
    // Consulted first for every sub-expression (aggregate mode: group keys,
    // aggregate calls, window columns). nullptr: not intercepted.
    std::function<bound_ptr(const ast::expr&)> intercept;
    // Why a column of the source is not usable here ("" = usable).
    std::function<std::string(const std::string& column)> forbid;
};

bound_ptr bind_expr(const ast::expr& e, const scope& s);
// `from` converted to `to`; explicit casts check castability, implicit ones
// (sink columns, common types) accept widening within a type family only.
bound_ptr cast_expr(bound_ptr from, const sql_type& to, bool try_cast, position where);
bool castable(const sql_type& from, const sql_type& to);
bool implicitly_castable(const sql_type& from, const sql_type& to);
std::optional<sql_type> common_type(const sql_type& a, const sql_type& b);

// Value-level helpers shared with the formats and the window state.
value cast_value(const value& v, const sql_type& from, const sql_type& to);  // throws eval_failure
// Parses text as `to` the way CAST(text AS to) does; nullopt when it does not parse.
std::optional<value> parse_text_as(std::string_view text, const sql_type& to);
// Three-way comparison of two non-null values of comparable types.
int compare_values(const value& a, const sql_type& ta, const value& b, const sql_type& tb);
// CAST(v AS STRING) text.
std::string value_to_text(const value& v, const sql_type& t);
std::string java_double(double d);

std::string upper_ascii(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

}  // namespace millrace::sql
