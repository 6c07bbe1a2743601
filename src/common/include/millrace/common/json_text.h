// JSON text for writers that build JSON by hand (log lines, reports, REST
// replies, codecs on hot paths): the one string escaper and the one small
// streaming writer of the tree. Parsing goes through simdjson (stream jobs) or
// nlohmann/json where a DOM is needed (request bodies, the console's decoded
// payloads); docs/dependencies.md says why.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace millrace::json_text {

// What append_string does with bytes that are not well-formed UTF-8.
enum class invalid_utf8 {
    copy,     // copied as they are (the caller vouches for its text)
    replace,  // each bad byte becomes U+FFFD, so the output is valid UTF-8 (text from outside)
};

// Appends `text` as a quoted JSON string: `"` and `\` escaped, control
// characters as \n, \r, \t, \b, \f or \u00XX. Bytes >= 0x80 are handled as
// `mode` says.
void append_string(std::string& out, std::string_view text, invalid_utf8 mode = invalid_utf8::copy);

// The same, returned.
std::string quote(std::string_view text);

// A streaming writer: values are appended as they come, commas and nesting are
// the writer's business. Owns its text; copyable. Misuse (a value without a key
// inside an object, a key outside one, an unbalanced end) is a bug and asserts.
//
//   writer w;
//   w.begin_object().key("name").string(n).key("tags").begin_array();
//   for (auto& t : tags) w.string(t);
//   w.end_array().end_object();
//   send(std::move(w).take());
class writer {
public:
    writer& begin_object();
    writer& end_object();
    writer& begin_array();
    writer& end_array();
    // The next member's name; the next call writes its value.
    writer& key(std::string_view name);

    writer& string(std::string_view value);
    writer& string_or_null(const std::optional<std::string>& value) { return value ? string(*value) : null(); }
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    writer& number(T value) {
        char buffer[24];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
        return raw(std::string_view(buffer, static_cast<size_t>(end - buffer)));
    }
    // Shortest round-trip form; NaN and infinities (not JSON) are written as null.
    writer& number(double value);
    writer& boolean(bool value) { return raw(value ? "true" : "false"); }
    writer& null() { return raw("null"); }
    // A value already rendered as JSON text (the caller vouches for it).
    writer& raw(std::string_view json);

    // The text so far; complete once every container is closed.
    const std::string& text() const { return text_; }
    bool complete() const { return open_.empty() && !text_.empty(); }
    // The text, moved out. REQUIRES complete().
    std::string take() &&;

private:
    enum class frame : uint8_t { object, array };
    void before_value();
    void open(frame kind, char bracket);
    void close(frame kind, char bracket);

    std::string text_;
    std::vector<frame> open_;  // containers not yet closed, innermost last
    bool first_ = true;        // the innermost container has no element yet
    bool after_key_ = false;   // key() was called; its value comes next
};

// Builds one flat object of named values, for replies assembled field by field:
//   object().str("a", x).num("b", 1).raw("c", other_json).done()
class object {
public:
    object() { w_.begin_object(); }
    object& raw(std::string_view name, std::string_view json) {
        w_.key(name).raw(json);
        return *this;
    }
    object& str(std::string_view name, std::string_view value) {
        w_.key(name).string(value);
        return *this;
    }
    object& str_or_null(std::string_view name, const std::optional<std::string>& value) {
        w_.key(name).string_or_null(value);
        return *this;
    }
    object& num(std::string_view name, int64_t value) {
        w_.key(name).number(value);
        return *this;
    }
    object& boolean(std::string_view name, bool value) {
        w_.key(name).boolean(value);
        return *this;
    }
    // The object's text; the builder stays usable (done() may be called again after more fields).
    std::string done() const {
        writer closed = w_;
        closed.end_object();
        return std::move(closed).take();
    }

private:
    writer w_;
};

// A JSON array of values already rendered as JSON text.
std::string array(const std::vector<std::string>& items);

}  // namespace millrace::json_text
