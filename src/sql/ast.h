// Internal: tokens and the syntax tree of a job file, every node with its position.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "millrace/sql/diagnostic.h"
#include "millrace/sql/program.h"
#include "millrace/sql/types.h"

namespace millrace::sql::ast {

enum class token_kind { identifier, quoted_identifier, string, number, symbol, end };

struct token {
    token_kind kind = token_kind::end;
    std::string text;   // identifier as written (quotes removed), string contents unescaped, symbol text
    std::string upper;  // upper-cased text for identifiers (keyword checks)
    position where;
    size_t offset = 0;  // byte offset into the text
};

// Splits `text` into tokens, skipping whitespace, `--` and `/* */` comments.
// Lexical errors (unterminated string or comment, stray character) are appended to `errors`.
std::vector<token> lex(std::string_view text, const std::string& file, std::vector<diagnostic>& errors);

enum class expr_kind {
    literal, column, unary, binary, call, cast, case_, in_list, between, like, is, star,
};

struct expr;
using expr_ptr = std::shared_ptr<expr>;

struct expr {
    expr_kind kind = expr_kind::literal;
    position where;
    std::string name;       // column name, operator ("+", "AND", "NOT", "-"), function name (upper case)
    std::string qualifier;  // column: table or alias; call: EXTRACT/TIMESTAMPDIFF unit, TRIM mode
    value literal;          // literal
    sql_type type;          // literal's type; cast target; JSON_VALUE RETURNING
    bool has_type = false;  // JSON_VALUE RETURNING given
    bool flag = false;      // cast: TRY_CAST; call: DISTINCT; in/between/like/is: NOT
    std::vector<expr_ptr> args;  // operands / arguments; case: [operand?] when, then, ..., [else]
    bool case_has_operand = false;
    bool case_has_else = false;
    std::string text;       // source text of the expression (computed columns, explain)
};

struct column {
    std::string name;
    position where;
    sql_type type;
    column_kind kind = column_kind::physical;
    std::string metadata_key;
    bool is_virtual = false;
    expr_ptr computed;
};

struct create_table {
    std::string name;
    position where;
    bool has_column_list = true;
    std::vector<column> columns;
    std::optional<std::string> watermark_column;
    position watermark_where;
    expr_ptr watermark_expr;
    std::vector<std::string> primary_key;
    position primary_key_where;
    std::vector<std::pair<std::string, std::string>> options;
    std::vector<position> option_where;
};

struct select_item {
    expr_ptr e;
    std::string alias;
    position where;
};

struct table_ref {
    std::string name;
    std::string alias;
    position where;
    window_kind window = window_kind::none;
    std::string descriptor;
    position descriptor_where;
    std::vector<expr_ptr> window_args;  // interval expressions
};

struct select {
    position where;
    std::vector<select_item> items;
    table_ref from;
    expr_ptr where_clause;
    std::vector<expr_ptr> group_by;
    position group_by_where;
};

struct insert {
    std::string sink;
    position where;
    position sink_where;
    std::vector<std::string> columns;  // INSERT INTO t (a, b) ...
    select query;
    std::string text;
};

struct set_option {
    std::string key, value;
    position where;
};

struct statement {
    enum class kind { set, create_table, insert, statement_set } k = kind::set;
    position where;
    set_option set;
    create_table table;
    std::vector<insert> inserts;  // one for insert, several for a statement set
};

// Parses every statement; syntax errors go to `errors` (parsing resumes after the next ';').
std::vector<statement> parse(std::string_view text, const std::string& file, std::vector<diagnostic>& errors);

}  // namespace millrace::sql::ast
