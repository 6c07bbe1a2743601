#include "json.h"

#include <charconv>
#include <cstdlib>

namespace millrace::source::json {
namespace {

constexpr int k_max_depth = 64;

class parser {
public:
    explicit parser(std::string_view text) : text_(text) {}

    result<value> document() {
        value v;
        if (auto st = parse_value(v, 0); !st) return st.err();
        skip_space();
        if (pos_ != text_.size()) return fail("trailing bytes after the document");
        return v;
    }

private:
    error fail(std::string_view what) const {
        return make_error(errc::invalid_argument, "at byte {}: {}", pos_, what);
    }
    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t')) ++pos_;
    }
    bool eat(char c) {
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool literal(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    status parse_value(value& out, int depth) {
        if (depth > k_max_depth) return fail("nested too deeply");
        skip_space();
        if (pos_ >= text_.size()) return fail("unexpected end of document");
        char c = text_[pos_];
        if (c == '{') {
            ++pos_;
            out.type = value::kind::object;
            if (eat('}')) return {};
            do {
                skip_space();
                std::string name;
                if (auto st = parse_string(name); !st) return st;
                if (!eat(':')) return fail("expected ':'");
                out.members.emplace_back(std::move(name), value{});
                if (auto st = parse_value(out.members.back().second, depth + 1); !st) return st;
            } while (eat(','));
            if (!eat('}')) return fail("expected ',' or '}'");
            return {};
        }
        if (c == '[') {
            ++pos_;
            out.type = value::kind::array;
            if (eat(']')) return {};
            do {
                out.items.emplace_back();
                if (auto st = parse_value(out.items.back(), depth + 1); !st) return st;
            } while (eat(','));
            if (!eat(']')) return fail("expected ',' or ']'");
            return {};
        }
        if (c == '"') {
            out.type = value::kind::string;
            return parse_string(out.text);
        }
        if (literal("true")) {
            out.type = value::kind::boolean;
            out.boolean = true;
            return {};
        }
        if (literal("false")) {
            out.type = value::kind::boolean;
            return {};
        }
        if (literal("null")) return {};
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = pos_;
            if (text_[pos_] == '-') ++pos_;
            while (pos_ < text_.size() && std::string_view("0123456789.eE+-").find(text_[pos_]) != std::string_view::npos) ++pos_;
            out.type = value::kind::number;
            out.text = std::string(text_.substr(start, pos_ - start));
            char* end = nullptr;
            out.number = std::strtod(out.text.c_str(), &end);
            if (end != out.text.c_str() + out.text.size()) {
                pos_ = start;
                return fail("malformed number");
            }
            return {};
        }
        return fail(fmt::format("unexpected character '{}'", c));
    }

    static void append_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
    }

    status hex4(uint32_t& out) {
        if (pos_ + 4 > text_.size()) return fail("truncated \\u escape");
        auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, out, 16);
        if (ec != std::errc() || end != text_.data() + pos_ + 4) return fail("bad \\u escape");
        pos_ += 4;
        return {};
    }

    status parse_string(std::string& out) {
        if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a string");
        ++pos_;
        while (true) {
            size_t run = pos_;
            while (pos_ < text_.size() && text_[pos_] != '"' && text_[pos_] != '\\' &&
                   static_cast<unsigned char>(text_[pos_]) >= 0x20) {
                ++pos_;
            }
            out.append(text_.substr(run, pos_ - run));
            if (pos_ >= text_.size()) return fail("unterminated string");
            char c = text_[pos_++];
            if (c == '"') return {};
            if (c != '\\') {
                --pos_;
                return fail("control character in string");
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
                    if (auto st = hex4(cp); !st) return st;
                    if (cp >= 0xd800 && cp < 0xdc00 && text_.substr(pos_, 2) == "\\u") {
                        pos_ += 2;
                        uint32_t low = 0;
                        if (auto st = hex4(low); !st) return st;
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: return fail("unknown escape");
            }
        }
    }

    std::string_view text_;
    size_t pos_ = 0;
};

}  // namespace

const value* value::find(std::string_view name) const {
    for (const auto& [key, v] : members) {
        if (key == name) return &v;
    }
    return nullptr;
}

result<value> parse(std::string_view text) { return parser(text).document(); }

}  // namespace millrace::source::json
