#include "protocol/segment.h"

#include <lz4.h>
#include <zlib.h>

#include <fmt/format.h>

#include "millrace/common/endian.h"

#include "protocol/frame_format.h"

namespace millrace::cql {
namespace {

constexpr uint32_t k_crc24_init = 0x875060;
constexpr uint32_t k_crc24_poly = 0x1974F0B;
constexpr uint32_t k_payload_bits = 17;
constexpr uint64_t k_payload_mask = (uint64_t{1} << k_payload_bits) - 1;

uint64_t read_le(std::string_view bytes, size_t n) {
    uint64_t v = 0;
    for (size_t idx = 0; idx < n; ++idx) v |= uint64_t{static_cast<uint8_t>(bytes[idx])} << (8 * idx);
    return v;
}

void write_le(std::string& out, uint64_t v, size_t n) {
    for (size_t idx = 0; idx < n; ++idx) out.push_back(static_cast<char>((v >> (8 * idx)) & 0xFF));
}

uint32_t envelope_body_length(std::string_view header) {
    return endian::load_be<uint32_t>(header, 5);
}

void encode_one(std::string& out, std::string_view payload, bool self_contained, bool compressed) {
    std::string packed;
    uint64_t uncompressed_length = 0;
    std::string_view wire = payload;
    if (compressed && !payload.empty()) {
        int bound = LZ4_compressBound(static_cast<int>(payload.size()));
        packed.resize(static_cast<size_t>(bound));
        int written = LZ4_compress_default(payload.data(), packed.data(), static_cast<int>(payload.size()), bound);
        if (written > 0 && static_cast<size_t>(written) < payload.size()) {
            packed.resize(static_cast<size_t>(written));
            wire = packed;
            uncompressed_length = payload.size();
        }
    }
    uint64_t header = wire.size();
    uint32_t flag_offset = k_payload_bits;
    if (compressed) {
        header |= uncompressed_length << k_payload_bits;
        flag_offset += k_payload_bits;
    }
    if (self_contained) header |= uint64_t{1} << flag_offset;
    size_t header_bytes = segment_header_size(compressed) - k_segment_crc24_size;
    write_le(out, header, header_bytes);
    write_le(out, segment_crc24(header, header_bytes), k_segment_crc24_size);
    out.append(wire);
    write_le(out, segment_crc32(wire), k_segment_crc32_size);
}

}  // namespace

uint32_t segment_crc24(uint64_t value, size_t bytes) {
    uint32_t crc = k_crc24_init;
    for (size_t idx = 0; idx < bytes; ++idx) {
        crc ^= static_cast<uint32_t>(value & 0xFF) << 16;
        value >>= 8;
        for (int bit = 0; bit < 8; ++bit) {
            crc <<= 1;
            if (crc & 0x1000000) crc ^= k_crc24_poly;
        }
    }
    return crc;
}

uint32_t segment_crc32(std::string_view payload) {
    static const uLong seed = [] {
        const unsigned char init[4] = {0xFA, 0x2D, 0x55, 0xCA};
        return crc32(0L, init, 4);
    }();
    return static_cast<uint32_t>(
        crc32(seed, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
}

result<segment_header> decode_segment_header(std::string_view bytes, bool compressed) {
    size_t header_bytes = segment_header_size(compressed) - k_segment_crc24_size;
    if (bytes.size() < header_bytes + k_segment_crc24_size) {
        return make_error(errc::invalid_argument, "segment header of {} bytes, expected {}", bytes.size(),
                          header_bytes + k_segment_crc24_size);
    }
    uint64_t raw = read_le(bytes, header_bytes);
    auto expected = static_cast<uint32_t>(read_le(bytes.substr(header_bytes), k_segment_crc24_size));
    uint32_t actual = segment_crc24(raw, header_bytes);
    if (expected != actual) {
        return make_error(errc::invalid_argument, "segment header CRC24 mismatch: received {:06x}, computed {:06x}", expected,
                          actual);
    }
    segment_header h;
    h.payload_length = static_cast<uint32_t>(raw & k_payload_mask);
    raw >>= k_payload_bits;
    if (compressed) {
        h.uncompressed_length = static_cast<uint32_t>(raw & k_payload_mask);
        raw >>= k_payload_bits;
    }
    h.self_contained = (raw & 1) != 0;
    return h;
}

result<std::string> decode_segment_payload(const segment_header& h, std::string_view body, bool compressed) {
    if (body.size() != size_t{h.payload_length} + k_segment_crc32_size) {
        return make_error(errc::invalid_argument, "segment body of {} bytes, expected {} payload bytes and a 4-byte CRC32",
                          body.size(), h.payload_length);
    }
    std::string_view payload = body.substr(0, h.payload_length);
    auto expected = static_cast<uint32_t>(read_le(body.substr(h.payload_length), k_segment_crc32_size));
    uint32_t actual = segment_crc32(payload);
    if (expected != actual) {
        return make_error(errc::invalid_argument, "segment payload CRC32 mismatch over {} bytes: received {:08x}, computed {:08x}",
                          payload.size(), expected, actual);
    }
    if (!compressed || h.uncompressed_length == 0) return std::string(payload);
    std::string out(h.uncompressed_length, '\0');
    int got = LZ4_decompress_safe(payload.data(), out.data(), static_cast<int>(payload.size()),
                                  static_cast<int>(h.uncompressed_length));
    if (got < 0 || static_cast<uint32_t>(got) != h.uncompressed_length) {
        return make_error(errc::invalid_argument, "lz4 segment payload of {} bytes does not decompress to the {} bytes it claims",
                          payload.size(), h.uncompressed_length);
    }
    return out;
}

void encode_segments(std::string& out, std::string_view envelopes, bool compressed) {
    if (envelopes.size() <= k_max_segment_payload) {
        encode_one(out, envelopes, true, compressed);
        return;
    }
    for (size_t at = 0; at < envelopes.size(); at += k_max_segment_payload) {
        encode_one(out, envelopes.substr(at, k_max_segment_payload), false, compressed);
    }
}

result<std::vector<std::string>> envelope_assembler::add(std::string_view payload, bool self_contained) {
    std::vector<std::string> done;
    if (self_contained) {
        if (!partial_.empty()) {
            return make_error(errc::invalid_argument,
                              "self-contained segment while {} bytes of a larger envelope are incomplete", partial_.size());
        }
        while (!payload.empty()) {
            if (payload.size() < k_header_size) {
                return make_error(errc::invalid_argument, "self-contained segment ends inside an envelope header ({} bytes left)",
                                  payload.size());
            }
            uint32_t body = envelope_body_length(payload);
            if (body > max_body_) {
                return make_error(errc::invalid_argument, "envelope body of {} bytes exceeds the limit of {}", body, max_body_);
            }
            if (payload.size() - k_header_size < body) {
                return make_error(errc::invalid_argument,
                                  "self-contained segment holds {} bytes of an envelope body of {} bytes",
                                  payload.size() - k_header_size, body);
            }
            done.emplace_back(payload.substr(0, k_header_size + body));
            payload.remove_prefix(k_header_size + body);
        }
        return done;
    }
    // Part of one large envelope: the header comes first, then the body.
    if (partial_total_ == 0 && partial_.size() + payload.size() >= k_header_size) {
        std::string header = partial_ + std::string(payload.substr(0, k_header_size - std::min(partial_.size(), k_header_size)));
        uint32_t body = envelope_body_length(header);
        if (body > max_body_) {
            return make_error(errc::invalid_argument, "envelope body of {} bytes exceeds the limit of {}", body, max_body_);
        }
        partial_total_ = k_header_size + body;
    }
    if (partial_total_ != 0 && partial_.size() + payload.size() > partial_total_) {
        return make_error(errc::invalid_argument, "segment carries {} bytes past the end of a {}-byte envelope",
                          partial_.size() + payload.size() - partial_total_, partial_total_);
    }
    partial_.append(payload);
    if (partial_total_ != 0 && partial_.size() == partial_total_) {
        done.push_back(std::move(partial_));
        partial_.clear();
        partial_total_ = 0;
    }
    return done;
}

}  // namespace millrace::cql
