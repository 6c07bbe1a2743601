// Native protocol v5 segment framing (native_protocol_v5.spec §2). After the
// server answers STARTUP (READY or AUTHENTICATE), both directions wrap their
// envelopes (the v4-style 9-byte header + body) in checksummed segments:
//
//   header, little-endian, 3 bytes (5 with lz4 negotiated):
//     payload length (17 bits) | [uncompressed length (17 bits), lz4 only]
//     | self-contained (1 bit) | padding (6, or 5 with lz4)
//   CRC24 of the header bytes (3 bytes, little-endian)
//   payload (at most 128 KiB - 1 bytes)
//   CRC32 of the payload (4 bytes, little-endian)
//
// A self-contained segment holds one or more whole envelopes; a larger
// envelope is split over consecutive segments that are not self-contained.
// With lz4 the payload is a raw LZ4 block and the header carries its
// uncompressed length; an uncompressed length of 0 means the payload was sent
// as is (it did not shrink). Envelopes inside segments are never compressed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::cql {

constexpr size_t k_max_segment_payload = 128 * 1024 - 1;
constexpr size_t k_segment_crc24_size = 3;
constexpr size_t k_segment_crc32_size = 4;

// Header plus its CRC24: 6 bytes, 8 with lz4.
constexpr size_t segment_header_size(bool compressed) { return (compressed ? 5 : 3) + k_segment_crc24_size; }

struct segment_header {
    uint32_t payload_length = 0;       // bytes on the wire, before the CRC32
    uint32_t uncompressed_length = 0;  // lz4 only; 0: the payload is not compressed
    bool self_contained = false;
};

// The CRC24 of the low `bytes` bytes of `value` (least significant first), as
// the protocol checks segment headers: init 0x875060, polynomial 0x1974F0B.
uint32_t segment_crc24(uint64_t value, size_t bytes);
// The CRC32 (zlib's) of `payload`, seeded with the protocol's 4 bytes FA 2D 55 CA.
uint32_t segment_crc32(std::string_view payload);

// Decodes segment_header_size(compressed) bytes and checks their CRC24.
// Errors name both CRCs.
result<segment_header> decode_segment_header(std::string_view bytes, bool compressed);
// `body` is the payload and its CRC32 (h.payload_length + 4 bytes). Checks the
// CRC and returns the plain payload (decompressed with lz4).
result<std::string> decode_segment_payload(const segment_header& h, std::string_view body, bool compressed);
// Appends `envelopes` (whole envelopes) as one self-contained segment when it
// fits, else split over segments that are not self-contained.
void encode_segments(std::string& out, std::string_view envelopes, bool compressed);

// Cuts segment payloads into whole envelopes (9-byte header + body). Memory
// follows the bytes received: an envelope announcing a large body is held
// only as its segments arrive. Not thread-safe (one per connection).
class envelope_assembler {
public:
    explicit envelope_assembler(size_t max_body) : max_body_(max_body) {}
    // Adds one segment's plain payload; returns the envelopes it completes.
    // Errors (the connection must close): a self-contained segment that does
    // not hold whole envelopes or arrives while an envelope is incomplete, an
    // envelope body above `max_body`, a continuation past an envelope's end.
    result<std::vector<std::string>> add(std::string_view payload, bool self_contained);
    // Bytes of an incomplete envelope held.
    size_t pending() const { return partial_.size(); }

private:
    size_t max_body_;
    std::string partial_;
    size_t partial_total_ = 0;  // header + body of the envelope in partial_, once its header is in
};

}  // namespace millrace::cql
