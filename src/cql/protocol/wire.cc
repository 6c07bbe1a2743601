#include "protocol/wire.h"

#include <fmt/format.h>

#include "millrace/common/endian.h"

namespace millrace::cql {

frame_header decode_header(const char* bytes) {
    auto u = [&](int idx) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[idx])); };
    frame_header h;
    h.version = static_cast<uint8_t>(u(0) & 0x7F);
    h.flags = static_cast<uint8_t>(u(1));
    h.stream = static_cast<int16_t>(endian::load_be<uint16_t>(bytes + 2));
    h.op = static_cast<uint8_t>(u(4));
    h.length = endian::load_be<uint32_t>(bytes + 5);
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
    return endian::load_be<uint16_t>(take(2));
}

int16_t reader::int16() { return static_cast<int16_t>(uint16()); }

int32_t reader::int32() {
    return static_cast<int32_t>(endian::load_be<uint32_t>(take(4)));
}

int64_t reader::int64() {
    return static_cast<int64_t>(endian::load_be<uint64_t>(take(8)));
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
    endian::append_be<uint16_t>(out_, static_cast<uint16_t>(v));
}

void writer::int32(int32_t v) {
    endian::append_be<uint32_t>(out_, static_cast<uint32_t>(v));
}

void writer::int64(int64_t v) {
    endian::append_be<uint64_t>(out_, static_cast<uint64_t>(v));
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
