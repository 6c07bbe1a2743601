// The message browser's JSON-path filter: `<path> [<op> <literal>]`, e.g.
//   $.gender == "female"     $.dob.age >= 30     $.email ~= "@example"
//   $.results[0].name.first  (exists)            $.tags[*] == "vip"
// Paths: `$`, then `.name`, `['name']`, `[N]`, `[*]` or `.*`. Operators: ==, !=,
// <, <=, >, >= (numbers compare as numbers, strings as strings), ~= (the
// text contains the literal, case-insensitive). A literal is JSON (a quoted
// string, number, true, false, null) or a bare word taken as a string.
// A record matches when any value the path selects satisfies the test.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "millrace/common/result.h"

namespace millrace::console {

class json_filter {
public:
    // Errors are invalid_argument naming the position: "at character 7 of '$.a[': expected ']'".
    static result<json_filter> parse(std::string_view expression);

    bool matches(const nlohmann::ordered_json& document) const;
    // The values the path selects in `document`, in document order.
    std::vector<const nlohmann::ordered_json*> select(const nlohmann::ordered_json& document) const;
    const std::string& text() const { return text_; }

private:
    struct any_child {};
    using step = std::variant<std::string, size_t, any_child>;
    enum class op { exists, eq, ne, lt, le, gt, ge, contains };

    bool test(const nlohmann::ordered_json& value) const;

    std::string text_;
    std::vector<step> steps_;
    op op_ = op::exists;
    nlohmann::ordered_json literal_;
};

}  // namespace millrace::console
