#include "millrace/avro/json.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "millrace/common/json_text.h"

namespace millrace::avro::json {
namespace {

constexpr int k_max_depth = 512;

class parser {
public:
    explicit parser(std::string_view text) : text_(text) {}

    result<value> document() {
        value v;
        if (auto st = parse_value(v, 0); !st) return st.err();
        skip_space();
        if (pos_ != text_.size()) return fail("unexpected trailing characters");
        return v;
    }

private:
    error fail(std::string_view what) const {
        return make_error(errc::invalid_argument, "at byte {}: {}", pos_, what);
    }
    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) ++pos_;
    }
    bool literal(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    status parse_value(value& out, int depth) {
        if (depth > k_max_depth) return fail("nesting deeper than 512 levels");
        skip_space();
        if (pos_ >= text_.size()) return fail("unexpected end of input, expected a value");
        char c = text_[pos_];
        if (c == '{') return parse_object(out, depth);
        if (c == '[') return parse_array(out, depth);
        if (c == '"') {
            out.type = kind::string;
            return parse_string(out.text);
        }
        if (c == 't' && literal("true")) { out = value::from_bool(true); return {}; }
        if (c == 'f' && literal("false")) { out = value::from_bool(false); return {}; }
        if (c == 'n' && literal("null")) { out = value{}; return {}; }
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(out);
        return fail(fmt::format("unexpected character '{}'", c));
    }

    status parse_object(value& out, int depth) {
        out = value::object();
        ++pos_;
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == '}') { ++pos_; return {}; }
        for (;;) {
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a string as object key");
            std::string key;
            if (auto st = parse_string(key); !st) return st;
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] != ':') return fail("expected ':' after an object key");
            ++pos_;
            value member;
            if (auto st = parse_value(member, depth + 1); !st) return st;
            out.members.emplace_back(std::move(key), std::move(member));
            skip_space();
            if (pos_ < text_.size() && text_[pos_] == ',') { ++pos_; continue; }
            if (pos_ < text_.size() && text_[pos_] == '}') { ++pos_; return {}; }
            return fail("expected ',' or '}' in an object");
        }
    }

    status parse_array(value& out, int depth) {
        out = value::array();
        ++pos_;
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == ']') { ++pos_; return {}; }
        for (;;) {
            value item;
            if (auto st = parse_value(item, depth + 1); !st) return st;
            out.items.push_back(std::move(item));
            skip_space();
            if (pos_ < text_.size() && text_[pos_] == ',') { ++pos_; continue; }
            if (pos_ < text_.size() && text_[pos_] == ']') { ++pos_; return {}; }
            return fail("expected ',' or ']' in an array");
        }
    }

    static void append_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    bool hex4(uint32_t& cp) {
        if (pos_ + 4 > text_.size()) return false;
        auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, cp, 16);
        if (ec != std::errc() || end != text_.data() + pos_ + 4) return false;
        pos_ += 4;
        return true;
    }

    status parse_string(std::string& out) {
        ++pos_;  // opening quote
        for (;;) {
            if (pos_ >= text_.size()) return fail("unterminated string");
            char c = text_[pos_++];
            if (c == '"') return {};
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (pos_ >= text_.size()) return fail("unterminated escape");
            char e = text_[pos_++];
            switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    uint32_t cp = 0;
                    if (!hex4(cp)) return fail("bad \\u escape");
                    if (cp >= 0xD800 && cp < 0xDC00) {
                        uint32_t low = 0;
                        if (text_.substr(pos_, 2) != "\\u") return fail("unpaired surrogate in \\u escape");
                        pos_ += 2;
                        if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return fail("bad low surrogate in \\u escape");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: return fail(fmt::format("bad escape '\\{}'", e));
            }
        }
    }

    status parse_number(value& out) {
        size_t start = pos_;
        if (text_[pos_] == '-') ++pos_;
        if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) return fail("bad number");
        if (text_[pos_] == '0' && pos_ + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_ + 1]))) {
            return fail("leading zero in a number");
        }
        bool integral = true;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
        if (pos_ < text_.size() && text_[pos_] == '.') {
            integral = false;
            ++pos_;
            if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) return fail("bad fraction in a number");
            while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
        }
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            integral = false;
            ++pos_;
            if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
            if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) return fail("bad exponent in a number");
            while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
        }
        std::string_view literal_text = text_.substr(start, pos_ - start);
        if (integral) {
            int64_t i = 0;
            auto [end, ec] = std::from_chars(literal_text.data(), literal_text.data() + literal_text.size(), i);
            if (ec == std::errc() && end == literal_text.data() + literal_text.size()) {
                out = value::from_int(i);
                return {};
            }
        }
        std::string copy(literal_text);
        out = value::from_double(std::strtod(copy.c_str(), nullptr));
        return {};
    }

    std::string_view text_;
    size_t pos_ = 0;
};

void dump_into(std::string& out, const value& v) {
    switch (v.type) {
        case kind::null: out += "null"; break;
        case kind::boolean: out += v.boolean ? "true" : "false"; break;
        case kind::integer: out += std::to_string(v.integer); break;
        case kind::number:
            if (!std::isfinite(v.number)) {
                out += "null";
            } else if (v.number == std::floor(v.number) && std::fabs(v.number) < 1e15) {
                out += fmt::format("{:.1f}", v.number);
            } else {
                out += fmt::format("{}", v.number);
            }
            break;
        case kind::string: append_quoted(out, v.text); break;
        case kind::array:
            out.push_back('[');
            for (size_t idx = 0; idx < v.items.size(); ++idx) {
                if (idx > 0) out.push_back(',');
                dump_into(out, v.items[idx]);
            }
            out.push_back(']');
            break;
        case kind::object:
            out.push_back('{');
            for (size_t idx = 0; idx < v.members.size(); ++idx) {
                if (idx > 0) out.push_back(',');
                append_quoted(out, v.members[idx].first);
                out.push_back(':');
                dump_into(out, v.members[idx].second);
            }
            out.push_back('}');
            break;
    }
}

}  // namespace

const value* value::find(std::string_view name) const {
    if (type != kind::object) return nullptr;
    for (const auto& [key, member] : members) {
        if (key == name) return &member;
    }
    return nullptr;
}

value* value::find(std::string_view name) {
    return const_cast<value*>(static_cast<const value*>(this)->find(name));
}

value& value::set(std::string name, value v) {
    type = kind::object;
    members.emplace_back(std::move(name), std::move(v));
    return members.back().second;
}

bool value::operator==(const value& other) const {
    if (is_number() && other.is_number()) {
        if (is_integer() && other.is_integer()) return integer == other.integer;
        return number == other.number;
    }
    if (type != other.type) return false;
    switch (type) {
        case kind::null: return true;
        case kind::boolean: return boolean == other.boolean;
        case kind::string: return text == other.text;
        case kind::array: return items == other.items;
        case kind::object: return members == other.members;
        default: return false;
    }
}

result<value> parse(std::string_view text) { return parser(text).document(); }

void append_quoted(std::string& out, std::string_view text) { json_text::append_string(out, text); }

std::string quote(std::string_view text) { return json_text::quote(text); }

std::string dump(const value& v) {
    std::string out;
    dump_into(out, v);
    return out;
}

}  // namespace millrace::avro::json
