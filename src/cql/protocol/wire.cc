#include "protocol/wire.h"

#include <fmt/format.h>

namespace millrace::cql {

frame_header decode_header(const char* bytes) {
    auto u = [&](int idx) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[idx])); };
    frame_header h;
    h.version = static_cast<uint8_t>(u(0) & 0x7F);
    h.flags = static_cast<uint8_t>(u(1));
    h.stream = static_cast<int16_t>((u(2) << 8) | u(3));
    h.op = static_cast<uint8_t>(u(4));
    h.length = (u(5) << 24) | (u(6) << 16) | (u(7) << 8) | u(8);
    return h;
}

void encode_header(std::string& out, int16_t stream, opcode op, uint32_t length, uint8_t flags, uint8_t version) {
    writer w(out);
    w.byte(version | k_response_bit);
    w.byte(flags);
    // v1 and v2 (only ever in the answer refusing them) have a one-byte stream id.
    if (version <= 2) w.byte(static_cast<uint8_t>(stream));
    else w.int16(stream);
    w.byte(static_cast<uint8_t>(op));
    w.int32(static_cast<int32_t>(length));
}

std::string_view reader::take(size_t n) {
    if (n > remaining()) {
        throw protocol_error(fmt::format("truncated body: need {} bytes at offset {}, {} left", n, pos_, remaining()));
    }
    auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
}

uint8_t reader::byte() { return static_cast<uint8_t>(take(1)[0]); }

uint16_t reader::uint16() {
    auto b = take(2);
    return static_cast<uint16_t>((uint8_t(b[0]) << 8) | uint8_t(b[1]));
}

int16_t reader::int16() { return static_cast<int16_t>(uint16()); }

int32_t reader::int32() {
    auto b = take(4);
    uint32_t v = 0;
    for (char c : b) v = (v << 8) | uint8_t(c);
    return static_cast<int32_t>(v);
}

int64_t reader::int64() {
    auto b = take(8);
    uint64_t v = 0;
    for (char c : b) v = (v << 8) | uint8_t(c);
    return static_cast<int64_t>(v);
}

std::string reader::string() { return std::string(take(uint16())); }

std::string reader::long_string() {
    int32_t n = int32();
    if (n < 0) throw protocol_error(fmt::format("negative long string length {}", n));
    return std::string(take(static_cast<size_t>(n)));
}

std::optional<std::string> reader::bytes() {
    int32_t n = int32();
    if (n < 0) {
        if (n == -1 || n == -2) return std::nullopt;
        throw protocol_error(fmt::format("invalid [bytes] length {}", n));
    }
    return std::string(take(static_cast<size_t>(n)));
}

std::string reader::short_bytes() { return std::string(take(uint16())); }

std::vector<std::string> reader::string_list() {
    uint16_t n = uint16();
    std::vector<std::string> out;
    for (uint16_t idx = 0; idx < n; ++idx) out.push_back(string());
    return out;
}

std::map<std::string, std::string> reader::string_map() {
    uint16_t n = uint16();
    std::map<std::string, std::string> out;
    for (uint16_t idx = 0; idx < n; ++idx) {
        auto k = string();
        out[k] = string();
    }
    return out;
}

std::map<std::string, std::optional<std::string>> reader::bytes_map() {
    uint16_t n = uint16();
    std::map<std::string, std::optional<std::string>> out;
    for (uint16_t idx = 0; idx < n; ++idx) {
        auto k = string();
        out[k] = bytes();
    }
    return out;
}

void writer::int16(int16_t v) {
    out_.push_back(static_cast<char>((uint16_t(v) >> 8) & 0xFF));
    out_.push_back(static_cast<char>(uint16_t(v) & 0xFF));
}

void writer::int32(int32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<char>((uint32_t(v) >> shift) & 0xFF));
}

void writer::int64(int64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<char>((uint64_t(v) >> shift) & 0xFF));
}

void writer::string(std::string_view s) {
    uint16(static_cast<uint16_t>(s.size()));
    out_.append(s);
}

void writer::long_string(std::string_view s) {
    int32(static_cast<int32_t>(s.size()));
    out_.append(s);
}

void writer::bytes(const std::optional<std::string>& b) {
    if (!b) {
        int32(-1);
        return;
    }
    int32(static_cast<int32_t>(b->size()));
    out_.append(*b);
}

void writer::short_bytes(std::string_view b) {
    uint16(static_cast<uint16_t>(b.size()));
    out_.append(b);
}

void writer::string_list(const std::vector<std::string>& l) {
    uint16(static_cast<uint16_t>(l.size()));
    for (const auto& s : l) string(s);
}

void writer::string_multimap(const std::map<std::string, std::vector<std::string>>& m) {
    uint16(static_cast<uint16_t>(m.size()));
    for (const auto& [k, v] : m) {
        string(k);
        string_list(v);
    }
}

void writer::patch_int32(size_t at, int32_t v) {
    for (int idx = 0; idx < 4; ++idx) out_[at + idx] = static_cast<char>((uint32_t(v) >> (24 - 8 * idx)) & 0xFF);
}

}  // namespace millrace::cql
