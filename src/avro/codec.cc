#include "millrace/avro/codec.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "millrace/avro/compatibility.h"

namespace millrace::avro {
namespace {

constexpr int k_max_depth = 1000;

// Avro JSON bytes: each code point 0..255 is one byte. Text with larger code
// points is taken as its UTF-8 bytes.
std::string bytes_from_json(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t idx = 0; idx < text.size(); ++idx) {
        auto c = static_cast<unsigned char>(text[idx]);
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else if ((c == 0xC2 || c == 0xC3) && idx + 1 < text.size() && (static_cast<unsigned char>(text[idx + 1]) & 0xC0) == 0x80) {
            out.push_back(static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(text[idx + 1]) & 0x3F)));
            ++idx;
        } else {
            return text;
        }
    }
    return out;
}

std::string bytes_to_json(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (unsigned char c : bytes) {
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return out;
}

class encoder {
public:
    explicit encoder(std::string& out) : out_(out) {}

    status encode(const node& t, const json::value& v, bool as_default, std::string& path) {
        auto bad = [&]() -> status {
            std::string why;
            std::string where;
            json_matches(t, v, &why);
            if (why.empty()) why = fmt::format("{} is not a valid {}", json::dump(v), type_name(t.type));
            return make_error(errc::invalid_argument, "{}{}", path.empty() ? "" : path + ": ", why);
        };
        switch (t.type) {
            case type::null:
                if (!v.is_null()) return bad();
                return {};
            case type::boolean:
                if (!v.is_bool()) return bad();
                out_.push_back(v.boolean ? 1 : 0);
                return {};
            case type::int_:
                if (!v.is_integer() || v.integer < INT32_MIN || v.integer > INT32_MAX) return bad();
                write_long(out_, v.integer);
                return {};
            case type::long_:
                if (!v.is_integer()) return bad();
                write_long(out_, v.integer);
                return {};
            case type::float_: {
                if (!v.is_number()) return bad();
                auto f = static_cast<float>(v.number);
                char buf[4];
                std::memcpy(buf, &f, 4);
                out_.append(buf, 4);
                return {};
            }
            case type::double_: {
                if (!v.is_number()) return bad();
                double d = v.number;
                char buf[8];
                std::memcpy(buf, &d, 8);
                out_.append(buf, 8);
                return {};
            }
            case type::string:
                if (!v.is_string()) return bad();
                write_long(out_, static_cast<int64_t>(v.text.size()));
                out_.append(v.text);
                return {};
            case type::bytes: {
                if (!v.is_string()) return bad();
                std::string raw = bytes_from_json(v.text);
                write_long(out_, static_cast<int64_t>(raw.size()));
                out_.append(raw);
                return {};
            }
            case type::fixed: {
                if (!v.is_string()) return bad();
                std::string raw = bytes_from_json(v.text);
                if (static_cast<int64_t>(raw.size()) != t.size) {
                    return make_error(errc::invalid_argument, "{}{} bytes for fixed \"{}\" of size {}", path.empty() ? "" : path + ": ",
                                      raw.size(), t.name, t.size);
                }
                out_.append(raw);
                return {};
            }
            case type::enum_: {
                if (!v.is_string()) return bad();
                for (size_t idx = 0; idx < t.symbols.size(); ++idx) {
                    if (t.symbols[idx] == v.text) {
                        write_long(out_, static_cast<int64_t>(idx));
                        return {};
                    }
                }
                return bad();
            }
            case type::array: {
                if (!v.is_array()) return bad();
                if (!v.items.empty()) {
                    write_long(out_, static_cast<int64_t>(v.items.size()));
                    for (size_t idx = 0; idx < v.items.size(); ++idx) {
                        size_t mark = path.size();
                        path += fmt::format("[{}]", idx);
                        if (auto st = encode(*t.items, v.items[idx], as_default, path); !st) return st;
                        path.resize(mark);
                    }
                }
                write_long(out_, 0);
                return {};
            }
            case type::map: {
                if (!v.is_object()) return bad();
                if (!v.members.empty()) {
                    write_long(out_, static_cast<int64_t>(v.members.size()));
                    for (const auto& [key, item] : v.members) {
                        write_long(out_, static_cast<int64_t>(key.size()));
                        out_.append(key);
                        size_t mark = path.size();
                        path += fmt::format("[{}]", json::quote(key));
                        if (auto st = encode(*t.items, item, as_default, path); !st) return st;
                        path.resize(mark);
                    }
                }
                write_long(out_, 0);
                return {};
            }
            case type::record: {
                if (!v.is_object()) return bad();
                for (const auto& f : t.fields) {
                    const json::value* member = v.find(f.name);
                    size_t mark = path.size();
                    path += (path.empty() ? "" : ".") + f.name;
                    if (member == nullptr) {
                        if (!f.default_value) {
                            return make_error(errc::invalid_argument, "{}: missing, and the field has no default", path);
                        }
                        if (auto st = encode(*f.type, *f.default_value, true, path); !st) return st;
                    } else if (auto st = encode(*f.type, *member, as_default, path); !st) {
                        return st;
                    }
                    path.resize(mark);
                }
                return {};
            }
            case type::union_: {
                if (as_default) {
                    write_long(out_, 0);
                    return encode(*t.branches.front(), v, true, path);
                }
                if (v.is_object() && v.members.size() == 1) {
                    const std::string& key = v.members[0].first;
                    for (size_t idx = 0; idx < t.branches.size(); ++idx) {
                        const node& b = *t.branches[idx];
                        bool named_match = is_named(b.type) && (b.name == key || b.short_name() == key);
                        if (named_match || (!is_named(b.type) && type_name(b.type) == key)) {
                            write_long(out_, static_cast<int64_t>(idx));
                            return encode(b, v.members[0].second, false, path);
                        }
                    }
                }
                for (size_t idx = 0; idx < t.branches.size(); ++idx) {
                    if (json_matches(*t.branches[idx], v)) {
                        write_long(out_, static_cast<int64_t>(idx));
                        return encode(*t.branches[idx], v, false, path);
                    }
                }
                return bad();
            }
        }
        return bad();
    }

private:
    std::string& out_;
};

class decoder {
public:
    decoder(std::string_view data, decode_options options) : data_(data), options_(options) {}

    result<json::value> run(const node& writer, const node& reader) {
        json::value out;
        if (auto st = read(writer, reader, out, 0); !st) return st.err();
        if (pos_ != data_.size()) {
            return make_error(errc::invalid_argument, "at byte {}: {} trailing bytes after the datum", pos_, data_.size() - pos_);
        }
        return out;
    }

private:
    error fail(std::string_view what) const { return make_error(errc::invalid_argument, "at byte {}: {}", pos_, what); }

    status read_long(int64_t& value) {
        uint64_t raw = 0;
        for (int shift = 0;; shift += 7) {
            if (shift >= 70) return fail("varint longer than 10 bytes");
            if (pos_ >= data_.size()) return fail("unexpected end of data inside a varint");
            auto b = static_cast<uint8_t>(data_[pos_++]);
            raw |= static_cast<uint64_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0) break;
        }
        value = static_cast<int64_t>((raw >> 1) ^ (0 - (raw & 1)));
        return {};
    }

    status read_bytes(std::string_view& out) {
        size_t at = pos_;
        int64_t length = 0;
        if (auto st = read_long(length); !st) return st;
        if (length < 0) {
            pos_ = at;
            return fail(fmt::format("negative length {}", length));
        }
        if (static_cast<uint64_t>(length) > data_.size() - pos_) {
            return fail(fmt::format("length {} exceeds the {} bytes left", length, data_.size() - pos_));
        }
        out = data_.substr(pos_, static_cast<size_t>(length));
        pos_ += static_cast<size_t>(length);
        return {};
    }

    status take(size_t count, std::string_view& out, std::string_view what) {
        if (data_.size() - pos_ < count) return fail(fmt::format("unexpected end of data reading {} ({} bytes needed, {} left)", what, count, data_.size() - pos_));
        out = data_.substr(pos_, count);
        pos_ += count;
        return {};
    }

    static json::value numeric(double d, type reader) {
        if (reader == type::float_) return json::value::from_double(static_cast<float>(d));
        return json::value::from_double(d);
    }

    status read(const node& w, const node& r, json::value& out, int depth) {
        if (depth > k_max_depth) return fail("data nested deeper than 1000 levels");
        if (w.type == type::union_) {
            size_t at = pos_;
            int64_t index = 0;
            if (auto st = read_long(index); !st) return st;
            if (index < 0 || static_cast<size_t>(index) >= w.branches.size()) {
                pos_ = at;
                return fail(fmt::format("union branch {} out of range ({} branches)", index, w.branches.size()));
            }
            return read(*w.branches[static_cast<size_t>(index)], r, out, depth + 1);
        }
        if (r.type == type::union_) {
            int idx = select_branch(w, r);
            if (idx < 0) return fail(fmt::format("the writer's {} has no branch in the reader's union", type_name(w.type)));
            const node& b = *r.branches[static_cast<size_t>(idx)];
            json::value inner;
            if (auto st = read(w, b, inner, depth + 1); !st) return st;
            if (options_.wrap_unions && b.type != type::null) {
                out = json::value::object();
                out.set(is_named(b.type) ? b.name : std::string(type_name(b.type)), std::move(inner));
            } else {
                out = std::move(inner);
            }
            return {};
        }
        if (!branch_matches(w, r) && !(w.type == r.type && is_named(w.type))) {
            return fail(fmt::format("the writer's {} cannot be read as {}", type_name(w.type), type_name(r.type)));
        }
        switch (w.type) {
            case type::null: out = json::value{}; return {};
            case type::boolean: {
                std::string_view b;
                if (auto st = take(1, b, "a boolean"); !st) return st;
                if (b[0] != 0 && b[0] != 1) {
                    --pos_;
                    return fail(fmt::format("boolean byte {} is neither 0 nor 1", static_cast<unsigned>(static_cast<uint8_t>(b[0]))));
                }
                out = json::value::from_bool(b[0] == 1);
                return {};
            }
            case type::int_:
            case type::long_: {
                size_t at = pos_;
                int64_t v = 0;
                if (auto st = read_long(v); !st) return st;
                if (w.type == type::int_ && (v < INT32_MIN || v > INT32_MAX)) {
                    pos_ = at;
                    return fail(fmt::format("int value {} out of the 32-bit range", v));
                }
                out = (r.type == type::float_ || r.type == type::double_) ? numeric(static_cast<double>(v), r.type) : json::value::from_int(v);
                return {};
            }
            case type::float_: {
                std::string_view b;
                if (auto st = take(4, b, "a float"); !st) return st;
                float f = 0;
                std::memcpy(&f, b.data(), 4);
                out = numeric(f, r.type);
                return {};
            }
            case type::double_: {
                std::string_view b;
                if (auto st = take(8, b, "a double"); !st) return st;
                double d = 0;
                std::memcpy(&d, b.data(), 8);
                out = json::value::from_double(d);
                return {};
            }
            case type::string:
            case type::bytes: {
                std::string_view b;
                if (auto st = read_bytes(b); !st) return st;
                out = json::value::from_string(r.type == type::bytes ? bytes_to_json(b) : std::string(b));
                return {};
            }
            case type::fixed: {
                if (w.size != r.size) return fail(fmt::format("fixed \"{}\" is {} bytes, the reader expects {}", w.name, w.size, r.size));
                std::string_view b;
                if (auto st = take(static_cast<size_t>(w.size), b, fmt::format("fixed \"{}\"", w.name)); !st) return st;
                out = json::value::from_string(bytes_to_json(b));
                return {};
            }
            case type::enum_: {
                size_t at = pos_;
                int64_t index = 0;
                if (auto st = read_long(index); !st) return st;
                if (index < 0 || static_cast<size_t>(index) >= w.symbols.size()) {
                    pos_ = at;
                    return fail(fmt::format("enum \"{}\" index {} out of range ({} symbols)", w.name, index, w.symbols.size()));
                }
                const std::string& symbol = w.symbols[static_cast<size_t>(index)];
                if (std::find(r.symbols.begin(), r.symbols.end(), symbol) != r.symbols.end()) {
                    out = json::value::from_string(symbol);
                } else if (r.enum_default) {
                    out = json::value::from_string(*r.enum_default);
                } else {
                    pos_ = at;
                    return fail(fmt::format("symbol \"{}\" is not in the reader's enum \"{}\" and it has no default", symbol, r.name));
                }
                return {};
            }
            case type::array:
            case type::map: {
                out = w.type == type::array ? json::value::array() : json::value::object();
                for (;;) {
                    size_t at = pos_;
                    int64_t count = 0;
                    if (auto st = read_long(count); !st) return st;
                    if (count == 0) return {};
                    if (count < 0) {
                        int64_t block_bytes = 0;  // a negative count is followed by the block's size in bytes
                        if (auto st = read_long(block_bytes); !st) return st;
                        if (count == INT64_MIN) {
                            pos_ = at;
                            return fail("bad block count");
                        }
                        count = -count;
                    }
                    if (static_cast<uint64_t>(count) > data_.size() - pos_ + 1 && w.items->type != type::null) {
                        pos_ = at;
                        return fail(fmt::format("block of {} items cannot fit in the {} bytes left", count, data_.size() - pos_));
                    }
                    for (int64_t idx = 0; idx < count; ++idx) {
                        json::value item;
                        if (w.type == type::map) {
                            std::string_view key;
                            if (auto st = read_bytes(key); !st) return st;
                            if (auto st = read(*w.items, *r.items, item, depth + 1); !st) return st;
                            out.members.emplace_back(std::string(key), std::move(item));
                        } else {
                            if (auto st = read(*w.items, *r.items, item, depth + 1); !st) return st;
                            out.items.push_back(std::move(item));
                        }
                    }
                }
            }
            case type::record: {
                out = json::value::object();
                std::vector<std::optional<json::value>> values(r.fields.size());
                for (const auto& wf : w.fields) {
                    const field* rf = r.find_field(wf.name);
                    if (rf == nullptr) {
                        for (const auto& candidate : r.fields) {
                            if (std::find(candidate.aliases.begin(), candidate.aliases.end(), wf.name) != candidate.aliases.end()) rf = &candidate;
                        }
                    }
                    json::value v;
                    if (rf == nullptr) {
                        if (auto st = read(*wf.type, *wf.type, v, depth + 1); !st) return st;  // skipped
                        continue;
                    }
                    if (auto st = read(*wf.type, *rf->type, v, depth + 1); !st) return st;
                    values[rf->position] = std::move(v);
                }
                for (size_t idx = 0; idx < r.fields.size(); ++idx) {
                    const field& rf = r.fields[idx];
                    if (!values[idx]) {
                        if (!rf.default_value) {
                            return fail(fmt::format("the reader's field \"{}\" is not in the writer's record \"{}\" and has no default",
                                                    rf.name, w.name));
                        }
                        values[idx] = *rf.default_value;
                    }
                    out.members.emplace_back(rf.name, std::move(*values[idx]));
                }
                return {};
            }
            case type::union_: break;
        }
        return fail("unsupported type");
    }

    std::string_view data_;
    decode_options options_;
    size_t pos_ = 0;
};

}  // namespace

void write_long(std::string& out, int64_t value) {
    uint64_t raw = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
    while (raw >= 0x80) {
        out.push_back(static_cast<char>((raw & 0x7F) | 0x80));
        raw >>= 7;
    }
    out.push_back(static_cast<char>(raw));
}

status encode_into(std::string& out, const node& t, const json::value& datum) {
    std::string path;
    size_t mark = out.size();
    auto st = encoder(out).encode(t, datum, false, path);
    if (!st) out.resize(mark);
    return st;
}

result<std::string> encode(const node& t, const json::value& datum) {
    std::string out;
    if (auto st = encode_into(out, t, datum); !st) return st.err();
    return out;
}

result<json::value> decode(std::string_view data, const node& writer, const node& reader, decode_options options) {
    return decoder(data, options).run(writer, reader);
}

}  // namespace millrace::avro
