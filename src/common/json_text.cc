#include "millrace/common/json_text.h"

#include <cmath>

#include "millrace/common/result.h"

namespace millrace::json_text {
namespace {

// The length of the well-formed UTF-8 sequence starting at text[pos], or 0.
size_t utf8_sequence(std::string_view text, size_t pos) {
    auto c = static_cast<unsigned char>(text[pos]);
    size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (len == 0 || pos + len > text.size()) return 0;
    for (size_t idx = 1; idx < len; ++idx) {
        if ((static_cast<unsigned char>(text[pos + idx]) & 0xc0) != 0x80) return 0;
    }
    return len;
}

}  // namespace

void append_string(std::string& out, std::string_view text, invalid_utf8 mode) {
    static constexpr char k_hex[] = "0123456789abcdef";
    out.push_back('"');
    size_t pos = 0;
    while (pos < text.size()) {
        const auto c = static_cast<unsigned char>(text[pos]);
        if (c >= 0x80 && mode == invalid_utf8::replace) {
            if (size_t len = utf8_sequence(text, pos); len != 0) {
                out.append(text.substr(pos, len));
                pos += len;
            } else {
                out += "\xef\xbf\xbd";
                ++pos;
            }
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out.push_back(k_hex[c >> 4]);
                    out.push_back(k_hex[c & 0xf]);
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
        ++pos;
    }
    out.push_back('"');
}

std::string quote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    append_string(out, text);
    return out;
}

void writer::before_value() {
    if (open_.empty()) {
        MILLRACE_ASSERT(text_.empty(), "json writer: a second top-level value after {} bytes", text_.size());
        return;
    }
    if (open_.back() == frame::object) {
        MILLRACE_ASSERT(after_key_, "json writer: a value inside an object without a key, after {} bytes", text_.size());
        after_key_ = false;
        return;
    }
    if (!first_) text_.push_back(',');
    first_ = false;
}

writer& writer::key(std::string_view name) {
    MILLRACE_ASSERT(!open_.empty() && open_.back() == frame::object && !after_key_,
                    "json writer: key \"{}\" outside an object or after another key", name);
    if (!first_) text_.push_back(',');
    first_ = false;
    append_string(text_, name);
    text_.push_back(':');
    after_key_ = true;
    return *this;
}

void writer::open(frame kind, char bracket) {
    before_value();
    text_.push_back(bracket);
    open_.push_back(kind);
    first_ = true;
}

void writer::close(frame kind, char bracket) {
    MILLRACE_ASSERT(!open_.empty() && open_.back() == kind && !after_key_,
                    "json writer: '{}' does not close the innermost container ({} open)", bracket, open_.size());
    text_.push_back(bracket);
    open_.pop_back();
    first_ = false;
}

writer& writer::begin_object() {
    open(frame::object, '{');
    return *this;
}
writer& writer::end_object() {
    close(frame::object, '}');
    return *this;
}
writer& writer::begin_array() {
    open(frame::array, '[');
    return *this;
}
writer& writer::end_array() {
    close(frame::array, ']');
    return *this;
}

writer& writer::string(std::string_view value) {
    before_value();
    append_string(text_, value);
    return *this;
}

writer& writer::number(double value) {
    if (!std::isfinite(value)) return null();
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
    return raw(std::string_view(buffer, static_cast<size_t>(end - buffer)));
}

writer& writer::raw(std::string_view json) {
    before_value();
    text_.append(json);
    return *this;
}

std::string writer::take() && {
    MILLRACE_ASSERT(complete(), "json writer: taken with {} containers open", open_.size());
    return std::move(text_);
}

std::string array(const std::vector<std::string>& items) {
    writer w;
    w.begin_array();
    for (const auto& item : items) w.raw(item);
    w.end_array();
    return std::move(w).take();
}

}  // namespace millrace::json_text
