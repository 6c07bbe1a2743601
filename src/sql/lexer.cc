#include <cctype>

#include <fmt/format.h>

#include "ast.h"

namespace millrace::sql::ast {

namespace {
std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}
}  // namespace

std::vector<token> lex(std::string_view text, const std::string& file, std::vector<diagnostic>& errors) {
    std::vector<token> out;
    int line = 1, column = 1;
    size_t pos = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // a UTF-8 byte order mark
    auto advance = [&](size_t n) {
        for (size_t k = 0; k < n && pos < text.size(); ++k, ++pos) {
            if (text[pos] == '\n') ++line, column = 1;
            else ++column;
        }
    };
    auto error = [&](position where, std::string message) { errors.push_back({file, where.line, where.column, std::move(message)}); };
    while (pos < text.size()) {
        char c = text[pos];
        if (std::isspace(static_cast<unsigned char>(c))) { advance(1); continue; }
        if (c == '-' && pos + 1 < text.size() && text[pos + 1] == '-') {
            while (pos < text.size() && text[pos] != '\n') advance(1);
            continue;
        }
        if (c == '/' && pos + 1 < text.size() && text[pos + 1] == '*') {
            position where{line, column};
            size_t end = text.find("*/", pos + 2);
            if (end == std::string_view::npos) {
                error(where, "unterminated comment: '/*' without '*/'");
                advance(text.size() - pos);
                break;
            }
            advance(end + 2 - pos);
            continue;
        }
        token t;
        t.where = {line, column};
        t.offset = pos;
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            size_t end = pos;
            while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_' || text[end] == '$')) ++end;
            t.kind = token_kind::identifier;
            t.text = std::string(text.substr(pos, end - pos));
            t.upper = upper(t.text);
            advance(end - pos);
        } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && pos + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[pos + 1])))) {
            size_t end = pos;
            while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
            if (end < text.size() && text[end] == '.') {
                ++end;
                while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
            }
            if (end < text.size() && (text[end] == 'e' || text[end] == 'E')) {
                size_t e = end + 1;
                if (e < text.size() && (text[e] == '+' || text[e] == '-')) ++e;
                if (e < text.size() && std::isdigit(static_cast<unsigned char>(text[e]))) {
                    end = e;
                    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
                }
            }
            t.kind = token_kind::number;
            t.text = std::string(text.substr(pos, end - pos));
            t.upper = upper(t.text);
            advance(end - pos);
        } else if (c == '\'' || c == '`' || c == '"') {
            char quote = c;
            std::string value;
            size_t end = pos + 1;
            bool closed = false;
            while (end < text.size()) {
                if (text[end] == quote) {
                    if (end + 1 < text.size() && text[end + 1] == quote) { value += quote; end += 2; continue; }
                    closed = true;
                    ++end;
                    break;
                }
                value += text[end++];
            }
            if (!closed) {
                error(t.where, quote == '\'' ? "unterminated string literal" : "unterminated quoted identifier");
                advance(text.size() - pos);
                break;
            }
            t.kind = quote == '\'' ? token_kind::string : token_kind::quoted_identifier;
            t.text = value;
            t.upper = quote == '\'' ? value : upper(value);
            advance(end - pos);
        } else {
            static const char* const k_two[] = {"<>", "<=", ">=", "!=", "||"};
            std::string sym;
            for (const char* two : k_two) {
                if (text.substr(pos, 2) == two) sym = two;
            }
            if (sym.empty() && std::string_view("(),;.+-*/%=<>[]").find(c) != std::string_view::npos) sym = std::string(1, c);
            if (sym.empty()) {
                error(t.where, fmt::format("unexpected character '{}'", c));
                advance(1);
                continue;
            }
            t.kind = token_kind::symbol;
            t.text = sym;
            t.upper = sym;
            advance(sym.size());
        }
        out.push_back(std::move(t));
    }
    token end;
    end.kind = token_kind::end;
    end.where = {line, column};
    end.offset = text.size();
    out.push_back(end);
    return out;
}

}  // namespace millrace::sql::ast
