#include "decode.h"

#include "millrace/common/endian.h"

namespace millrace::console {

bool valid_utf8(std::string_view text) {
    size_t idx = 0;
    while (idx < text.size()) {
        auto c = static_cast<unsigned char>(text[idx]);
        size_t extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : 4;
        if (extra == 4 || idx + extra >= text.size() + (extra == 0 ? 1 : 0)) return false;
        for (size_t k = 1; k <= extra; ++k) {
            if ((static_cast<unsigned char>(text[idx + k]) >> 6) != 0x2) return false;
        }
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return false;  // control bytes: show as binary
        idx += extra + 1;
    }
    return true;
}

std::string base64(std::string_view bytes) {
    static const char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t idx = 0;
    for (; idx + 2 < bytes.size(); idx += 3) {
        uint32_t n = (static_cast<uint8_t>(bytes[idx]) << 16) | (static_cast<uint8_t>(bytes[idx + 1]) << 8) | static_cast<uint8_t>(bytes[idx + 2]);
        out += k_alphabet[(n >> 18) & 63];
        out += k_alphabet[(n >> 12) & 63];
        out += k_alphabet[(n >> 6) & 63];
        out += k_alphabet[n & 63];
    }
    if (idx < bytes.size()) {
        uint32_t n = static_cast<uint8_t>(bytes[idx]) << 16;
        if (idx + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[idx + 1]) << 8;
        out += k_alphabet[(n >> 18) & 63];
        out += k_alphabet[(n >> 12) & 63];
        out += idx + 1 < bytes.size() ? k_alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

result<std::string> unbase64(std::string_view text) {
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        int value = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
                  : c == '+' || c == '-' ? 62 : c == '/' || c == '_' ? 63 : c == '=' ? -2 : -1;
        if (value == -2) break;
        if (value < 0) return make_error(errc::invalid_argument, "paging_state is not base64");
        buffer = (buffer << 6) | static_cast<uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xff));
        }
    }
    return out;
}

nlohmann::ordered_json decode_payload(const std::optional<std::string>& bytes, const avro_decoder& avro) {
    if (!bytes) return {{"format", "null"}, {"size", 0}, {"value", nullptr}};
    const std::string& b = *bytes;
    nlohmann::ordered_json out = {{"size", b.size()}};
    if (b.size() >= 5 && b[0] == '\0') {
        int32_t id = static_cast<int32_t>(endian::load_be<uint32_t>(b, 1));
        if (avro) {
            auto decoded = avro(id, std::string_view(b).substr(5));
            if (decoded) {
                out["format"] = "avro";
                out["schema_id"] = id;
                out["value"] = std::move(*decoded);
                return out;
            }
            out["error"] = decoded.err().message();
        } else {
            out["error"] = "Confluent-framed payload, but no schema registry to decode it";
        }
        out["format"] = "binary";
        out["schema_id"] = id;
        out["value"] = base64(b);
        return out;
    }
    auto parsed = nlohmann::ordered_json::parse(b, nullptr, false);
    if (!parsed.is_discarded() && (parsed.is_object() || parsed.is_array())) {
        out["format"] = "json";
        out["value"] = std::move(parsed);
    } else if (valid_utf8(b)) {
        out["format"] = "text";
        out["value"] = b;
    } else {
        out["format"] = "binary";
        out["value"] = base64(b);
    }
    return out;
}

}  // namespace millrace::console
