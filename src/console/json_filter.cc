#include "json_filter.h"

#include <algorithm>
#include <cctype>

namespace millrace::console {
namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// The text a value shows in a `~=` test: strings as themselves, others as JSON.
std::string as_text(const nlohmann::ordered_json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

}  // namespace

result<json_filter> json_filter::parse(std::string_view expression) {
    json_filter filter;
    filter.text_ = std::string(expression);
    size_t pos = 0;
    auto fail = [&](std::string_view what) {
        return make_error(errc::invalid_argument, "at character {} of '{}': {}", pos + 1, expression, what);
    };
    auto skip_spaces = [&] {
        while (pos < expression.size() && std::isspace(static_cast<unsigned char>(expression[pos]))) ++pos;
    };
    skip_spaces();
    if (pos >= expression.size() || expression[pos] != '$') return fail("a path starts with '$'");
    ++pos;
    auto is_name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '@'; };
    while (pos < expression.size() && (expression[pos] == '.' || expression[pos] == '[')) {
        if (expression[pos] == '.') {
            ++pos;
            if (pos < expression.size() && expression[pos] == '*') {
                ++pos;
                filter.steps_.emplace_back(any_child{});
                continue;
            }
            size_t start = pos;
            while (pos < expression.size() && is_name_char(expression[pos])) ++pos;
            if (pos == start) return fail("expected a member name after '.'");
            filter.steps_.emplace_back(std::string(expression.substr(start, pos - start)));
            continue;
        }
        ++pos;  // '['
        if (pos < expression.size() && (expression[pos] == '\'' || expression[pos] == '"')) {
            char quote = expression[pos++];
            size_t end = expression.find(quote, pos);
            if (end == std::string_view::npos) return fail("unterminated quoted name");
            filter.steps_.emplace_back(std::string(expression.substr(pos, end - pos)));
            pos = end + 1;
        } else if (pos < expression.size() && expression[pos] == '*') {
            ++pos;
            filter.steps_.emplace_back(any_child{});
        } else {
            size_t start = pos;
            while (pos < expression.size() && std::isdigit(static_cast<unsigned char>(expression[pos]))) ++pos;
            if (pos == start) return fail("expected an index, '*' or a quoted name inside []");
            filter.steps_.emplace_back(static_cast<size_t>(std::stoull(std::string(expression.substr(start, pos - start)))));
        }
        if (pos >= expression.size() || expression[pos] != ']') return fail("expected ']'");
        ++pos;
    }
    skip_spaces();
    if (pos == expression.size()) return filter;
    static const std::pair<std::string_view, op> k_ops[] = {{"==", op::eq}, {"!=", op::ne}, {"<=", op::le}, {">=", op::ge},
                                                            {"~=", op::contains}, {"<", op::lt}, {">", op::gt}, {"=", op::eq}};
    bool found = false;
    for (const auto& [symbol, kind] : k_ops) {
        if (expression.substr(pos, symbol.size()) == symbol) {
            filter.op_ = kind;
            pos += symbol.size();
            found = true;
            break;
        }
    }
    if (!found) return fail("expected an operator (==, !=, <, <=, >, >=, ~=) or the end");
    skip_spaces();
    std::string_view rest = expression.substr(pos);
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) rest.remove_suffix(1);
    if (rest.empty()) return fail("expected a value after the operator");
    auto parsed = nlohmann::ordered_json::parse(rest, nullptr, false);
    filter.literal_ = parsed.is_discarded() ? nlohmann::ordered_json(std::string(rest)) : parsed;
    if (filter.op_ == op::contains) filter.literal_ = lower(as_text(filter.literal_));
    return filter;
}

std::vector<const nlohmann::ordered_json*> json_filter::select(const nlohmann::ordered_json& document) const {
    std::vector<const nlohmann::ordered_json*> current{&document};
    for (const auto& s : steps_) {
        std::vector<const nlohmann::ordered_json*> next;
        for (const nlohmann::ordered_json* node : current) {
            if (const auto* name = std::get_if<std::string>(&s)) {
                if (node->is_object()) {
                    auto it = node->find(*name);
                    if (it != node->end()) next.push_back(&*it);
                }
            } else if (const auto* index = std::get_if<size_t>(&s)) {
                if (node->is_array() && *index < node->size()) next.push_back(&(*node)[*index]);
            } else if (node->is_array() || node->is_object()) {
                for (const auto& child : *node) next.push_back(&child);
            }
        }
        current = std::move(next);
    }
    return current;
}

bool json_filter::test(const nlohmann::ordered_json& value) const {
    switch (op_) {
        case op::exists: return true;
        case op::contains: return lower(as_text(value)).find(literal_.get<std::string>()) != std::string::npos;
        case op::eq:
        case op::ne: {
            bool equal = value == literal_;
            // A bare word or quoted string also equals a number or boolean that prints the same.
            if (!equal && literal_.is_string() && !value.is_string() && !value.is_structured()) equal = value.dump() == literal_.get<std::string>();
            return op_ == op::eq ? equal : !equal;
        }
        default: break;
    }
    int order = 0;
    if (value.is_number() && literal_.is_number()) {
        double a = value.get<double>();
        double b = literal_.get<double>();
        order = a < b ? -1 : a > b ? 1 : 0;
    } else if (value.is_string() && literal_.is_string()) {
        order = value.get<std::string>().compare(literal_.get<std::string>());
    } else {
        return false;  // values of different kinds are not ordered
    }
    switch (op_) {
        case op::lt: return order < 0;
        case op::le: return order <= 0;
        case op::gt: return order > 0;
        case op::ge: return order >= 0;
        default: return false;
    }
}

bool json_filter::matches(const nlohmann::ordered_json& document) const {
    auto values = select(document);
    return std::any_of(values.begin(), values.end(), [this](const nlohmann::ordered_json* v) { return test(*v); });
}

}  // namespace millrace::console
