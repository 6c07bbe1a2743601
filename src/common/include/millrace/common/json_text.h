// JSON text helpers for writers that build JSON by hand (log lines, reports,
// codecs on hot paths). Parsing goes through nlohmann/json or simdjson.
#pragma once

#include <string>
#include <string_view>

namespace millrace::json_text {

// Appends `text` as a quoted JSON string: `"` and `\` escaped, control
// characters as \n, \r, \t, \b, \f or \u00XX. Bytes >= 0x80 are copied as they
// are (the caller passes UTF-8).
void append_string(std::string& out, std::string_view text);

// The same, returned.
std::string quote(std::string_view text);

}  // namespace millrace::json_text
