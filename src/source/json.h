// A small JSON reader for the fetcher: parses a whole document into a tree.
// Only what reading randomuser responses needs; strict about syntax, and the
// error names the byte offset. Not for untrusted input larger than memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::source::json {

struct value {
    enum class kind { null, boolean, number, string, array, object };
    kind type = kind::null;
    bool boolean = false;
    double number = 0;
    std::string text;     // string value; also the literal text of a number
    std::vector<value> items;
    std::vector<std::pair<std::string, value>> members;  // in document order

    // The member `name`, or nullptr (also when this is not an object).
    const value* find(std::string_view name) const;
    bool is_string() const { return type == kind::string; }
    bool is_number() const { return type == kind::number; }
    bool is_object() const { return type == kind::object; }
    bool is_array() const { return type == kind::array; }
};

// Errors are `invalid_argument`: "at byte 17: expected ':'".
result<value> parse(std::string_view text);

}  // namespace millrace::source::json
