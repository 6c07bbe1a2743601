#include "wire.h"

#include <lz4.h>

#include <fmt/format.h>

#include "millrace/common/endian.h"

namespace millrace::cql_client::wire {

frame_header decode_header(const uint8_t* b) {
    frame_header h;
    h.version = b[0];
    h.flags = b[1];
    h.stream = static_cast<int16_t>(endian::load_be<uint16_t>(b + 2));
    h.op = b[4];
    h.length = endian::load_be<uint32_t>(b + 5);
    return h;
}

void encode_header(std::string& out, uint8_t flags, int16_t stream, opcode op, uint32_t length) {
    out.push_back(static_cast<char>(k_version));
    out.push_back(static_cast<char>(flags));
    wire_writer w(out);
    w.int16(stream);
    out.push_back(static_cast<char>(op));
    w.int32(static_cast<int32_t>(length));
}

std::string_view wire_reader::take(size_t n) {
    if (n > remaining()) {
        throw decode_error(fmt::format("truncated: needs {} bytes at offset {}, {} left", n, pos_, remaining()));
    }
    std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
}

uint8_t wire_reader::byte() { return static_cast<uint8_t>(take(1)[0]); }

int16_t wire_reader::int16() {
    return static_cast<int16_t>(endian::load_be<uint16_t>(take(2)));
}

int32_t wire_reader::int32() {
    return static_cast<int32_t>(endian::load_be<uint32_t>(take(4)));
}

int64_t wire_reader::int64() {
    return static_cast<int64_t>(endian::load_be<uint64_t>(take(8)));
}

std::string wire_reader::string() { return std::string(take(uint16())); }

std::string wire_reader::long_string() {
    int32_t n = int32();
    if (n < 0) throw decode_error(fmt::format("negative [long string] length {}", n));
    return std::string(take(static_cast<size_t>(n)));
}

std::optional<std::string_view> wire_reader::bytes() {
    int32_t n = int32();
    if (n < 0) return std::nullopt;
    return take(static_cast<size_t>(n));
}

std::string wire_reader::short_bytes() { return std::string(take(uint16())); }

std::vector<std::string> wire_reader::string_list() {
    uint16_t n = uint16();
    std::vector<std::string> out;
    out.reserve(n);
    for (uint16_t idx = 0; idx < n; ++idx) out.push_back(string());
    return out;
}

std::map<std::string, std::vector<std::string>> wire_reader::string_multimap() {
    uint16_t n = uint16();
    std::map<std::string, std::vector<std::string>> out;
    for (uint16_t idx = 0; idx < n; ++idx) {
        std::string key = string();
        out[key] = string_list();
    }
    return out;
}

void wire_writer::int16(int16_t v) {
    endian::append_be<uint16_t>(out_, static_cast<uint16_t>(v));
}

void wire_writer::int32(int32_t v) {
    endian::append_be<uint32_t>(out_, static_cast<uint32_t>(v));
}

void wire_writer::int64(int64_t v) {
    endian::append_be<uint64_t>(out_, static_cast<uint64_t>(v));
}

void wire_writer::string(std::string_view s) {
    int16(static_cast<int16_t>(s.size()));
    out_.append(s);
}

void wire_writer::long_string(std::string_view s) {
    int32(static_cast<int32_t>(s.size()));
    out_.append(s);
}

void wire_writer::bytes(std::optional<std::string_view> b) {
    if (!b) {
        int32(-1);
        return;
    }
    int32(static_cast<int32_t>(b->size()));
    out_.append(*b);
}

void wire_writer::short_bytes(std::string_view b) {
    int16(static_cast<int16_t>(b.size()));
    out_.append(b);
}

void wire_writer::string_map(const std::map<std::string, std::string>& m) {
    int16(static_cast<int16_t>(m.size()));
    for (const auto& [k, v] : m) {
        string(k);
        string(v);
    }
}

std::string lz4_compress(std::string_view body) {
    int bound = LZ4_compressBound(static_cast<int>(body.size()));
    std::string out(4 + static_cast<size_t>(bound), '\0');
    std::string prefix;
    wire_writer(prefix).int32(static_cast<int32_t>(body.size()));
    out.replace(0, 4, prefix);
    int written = LZ4_compress_default(body.data(), out.data() + 4, static_cast<int>(body.size()), bound);
    out.resize(4 + static_cast<size_t>(written));
    return out;
}

result<std::string> lz4_decompress(std::string_view body) {
    if (body.size() < 4) return make_error(errc::corruption, "lz4 body of {} bytes has no length prefix", body.size());
    wire_reader r(body);
    auto n = static_cast<uint32_t>(r.int32());
    if (n > k_max_body) {
        return make_error(errc::corruption, "lz4 body claims {} uncompressed bytes, limit is {}", n, k_max_body);
    }
    std::string out(n, '\0');
    if (n == 0) return out;
    int got = LZ4_decompress_safe(body.data() + 4, out.data(), static_cast<int>(body.size() - 4), static_cast<int>(n));
    if (got != static_cast<int>(n)) {
        return make_error(errc::corruption, "lz4 body of {} bytes does not decompress to the {} bytes it claims",
                          body.size(), n);
    }
    return out;
}

}  // namespace millrace::cql_client::wire
