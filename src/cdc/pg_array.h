// Reading PostgreSQL array literals ({a,"b c",NULL,{1,2}}), shared by the JSON
// and Avro mappings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace millrace::cdc {

// Reads the element at `pos` (just after '{' or ','; not a nested '{'): a
// quoted string with backslash escapes, or a bare value up to ',' or '}' where
// an unquoted NULL (any case) is nullopt. Leaves `pos` after the element.
// False when a quoted element is not closed.
inline bool read_array_element(std::string_view text, size_t& pos, std::optional<std::string>& element) {
    if (pos < text.size() && text[pos] == '"') {
        std::string value;
        ++pos;
        while (pos < text.size()) {
            char c = text[pos++];
            if (c == '\\' && pos < text.size()) {
                value.push_back(text[pos++]);
            } else if (c == '"') {
                element = std::move(value);
                return true;
            } else {
                value.push_back(c);
            }
        }
        return false;
    }
    size_t end = pos;
    while (end < text.size() && text[end] != ',' && text[end] != '}') ++end;
    std::string_view value = text.substr(pos, end - pos);
    pos = end;
    bool null = value.size() == 4 && (value[0] | 0x20) == 'n' && (value[1] | 0x20) == 'u' && (value[2] | 0x20) == 'l' &&
                (value[3] | 0x20) == 'l';
    if (null) {
        element = std::nullopt;
    } else {
        element = std::string(value);
    }
    return true;
}

}  // namespace millrace::cdc
