// Internal: a compact, stable binary encoding of values (group keys, partial
// aggregate state). Layout of one value: tag (1 byte: 0 null, 1 bool, 2 int64,
// 3 double, 4 text, 5 list) then bool: 1 byte; int64/double: 8 bytes little
// endian; text: varint length + bytes; list: varint count + values.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "millrace/sql/types.h"

namespace millrace::sql::codec {

inline void put_varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out += static_cast<char>((v & 0x7F) | 0x80);
        v >>= 7;
    }
    out += static_cast<char>(v);
}
inline void put_u64(std::string& out, uint64_t v) {
    for (int k = 0; k < 8; ++k) out += static_cast<char>((v >> (8 * k)) & 0xFF);
}

inline void put_value(std::string& out, const value& v) {
    switch (v.kind) {
        case value_kind::null: out += '\0'; break;
        case value_kind::boolean: out += '\1'; out += v.b ? '\1' : '\0'; break;
        case value_kind::integer: out += '\2'; put_u64(out, static_cast<uint64_t>(v.i)); break;
        case value_kind::floating: {
            out += '\3';
            uint64_t bits = 0;
            std::memcpy(&bits, &v.d, 8);
            put_u64(out, bits);
            break;
        }
        case value_kind::text: out += '\4'; put_varint(out, v.s.size()); out += v.s; break;
        case value_kind::list:
            out += '\5';
            put_varint(out, v.items.size());
            for (const auto& item : v.items) put_value(out, item);
            break;
    }
}

struct reader {
    std::string_view in;
    size_t pos = 0;
    bool ok = true;

    bool get_varint(uint64_t& v) {
        v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= in.size()) return ok = false;
            uint8_t b = static_cast<uint8_t>(in[pos++]);
            v |= static_cast<uint64_t>(b & 0x7F) << shift;
            if (!(b & 0x80)) return true;
        }
        return ok = false;
    }
    bool get_u64(uint64_t& v) {
        if (in.size() - pos < 8) return ok = false;
        v = 0;
        for (int k = 0; k < 8; ++k) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[pos + static_cast<size_t>(k)])) << (8 * k);
        pos += 8;
        return true;
    }
    bool get_value(value& v, int depth = 0) {
        if (pos >= in.size() || depth > 32) return ok = false;
        uint8_t tag = static_cast<uint8_t>(in[pos++]);
        v = value{};
        switch (tag) {
            case 0: return true;
            case 1:
                if (pos >= in.size()) return ok = false;
                v = value::from_bool(in[pos++] != 0);
                return true;
            case 2: {
                uint64_t u = 0;
                if (!get_u64(u)) return false;
                v = value::from_int(static_cast<int64_t>(u));
                return true;
            }
            case 3: {
                uint64_t u = 0;
                if (!get_u64(u)) return false;
                double d = 0;
                std::memcpy(&d, &u, 8);
                v = value::from_double(d);
                return true;
            }
            case 4: {
                uint64_t n = 0;
                if (!get_varint(n) || n > in.size() - pos) return ok = false;
                v = value::from_string(std::string(in.substr(pos, n)));
                pos += n;
                return true;
            }
            case 5: {
                uint64_t n = 0;
                if (!get_varint(n) || n > in.size() - pos) return ok = false;
                v.kind = value_kind::list;
                v.items.resize(n);
                for (auto& item : v.items) {
                    if (!get_value(item, depth + 1)) return false;
                }
                return true;
            }
            default: return ok = false;
        }
    }
};

}  // namespace millrace::sql::codec
