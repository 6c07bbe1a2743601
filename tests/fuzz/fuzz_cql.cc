// Fuzz targets of the CQL decoders (see targets.cc).
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/compression.h"
#include "parser.h"
#include "protocol/segment.h"
#include "protocol/wire.h"

// A CQL v4 or v5 frame as it arrives: header, optional compressed body (both
// codecs), then the body notations of every request opcode (flags an [int] in v5).
void fuzz_cql_frame(std::string_view data) {
    if (data.size() < 9) return;
    auto h = millrace::cql::decode_header(data.data());
    std::string_view body = data.substr(9);
    std::string plain;
    if (h.flags & 0x01) {
        auto out = millrace::cql::decompress((h.stream & 1) ? millrace::cql::compression::lz4 : millrace::cql::compression::snappy, body, 1 << 20);
        if (!out) return;
        plain = std::move(*out);
        body = plain;
    }
    try {
        millrace::cql::reader in(body);
        if (h.flags & 0x04) in.bytes_map();  // custom payload
        switch (h.op) {
            case 0x01: in.string_map(); break;                       // STARTUP
            case 0x0f: in.bytes(); break;                            // AUTH_RESPONSE
            case 0x0b: in.string_list(); break;                      // REGISTER
            case 0x09: (void)millrace::cql::parse_statement(in.long_string()); break;  // PREPARE
            case 0x07:                                               // QUERY
            case 0x0a: {                                             // EXECUTE
                if (h.op == 0x07) (void)millrace::cql::parse_statement(in.long_string());
                else in.short_bytes();
                in.int16();
                uint32_t flags = h.version >= 5 ? static_cast<uint32_t>(in.int32()) : in.byte();
                if (flags & 0x01) {
                    uint16_t n = in.uint16();
                    for (uint16_t idx = 0; idx < n; ++idx) {
                        if (flags & 0x40) in.string();
                        in.bytes();
                    }
                }
                if (flags & 0x04) in.int32();
                if (flags & 0x08) in.bytes();
                if (flags & 0x10) in.int16();
                if (flags & 0x20) in.int64();
                if (h.version >= 5 && (flags & 0x80)) in.string();
                if (h.version >= 5 && (flags & 0x100)) in.int32();
                break;
            }
            case 0x0d: {                                             // BATCH
                in.byte();
                uint16_t n = in.uint16();
                for (uint16_t idx = 0; idx < n; ++idx) {
                    if (in.byte() == 0) (void)millrace::cql::parse_statement(in.long_string());
                    else in.short_bytes();
                    uint16_t values = in.uint16();
                    for (uint16_t v = 0; v < values; ++v) in.bytes();
                }
                break;
            }
            default: break;
        }
    } catch (const millrace::cql::protocol_error&) {
        // The documented outcome for malformed input: the connection closes.
    }
}


// Protocol v5 segments as they arrive after STARTUP: the first byte picks
// plain (even) or lz4 (odd) segments, the rest is a stream of segments whose
// headers and payloads are checked, cut into envelopes by the assembler, and
// each envelope decoded as a frame. A CRC or assembly error ends the stream
// (the connection closes), as it does in the server.
void fuzz_cql_segments(std::string_view data) {
    if (data.empty()) return;
    bool lz4 = (static_cast<uint8_t>(data[0]) & 1) != 0;
    data.remove_prefix(1);
    millrace::cql::envelope_assembler assembler(1 << 20);
    size_t header_size = millrace::cql::segment_header_size(lz4);
    while (data.size() >= header_size) {
        auto h = millrace::cql::decode_segment_header(data.substr(0, header_size), lz4);
        if (!h) return;
        data.remove_prefix(header_size);
        size_t body = size_t{h->payload_length} + millrace::cql::k_segment_crc32_size;
        if (data.size() < body) return;
        auto payload = millrace::cql::decode_segment_payload(*h, data.substr(0, body), lz4);
        data.remove_prefix(body);
        if (!payload) return;
        auto envelopes = assembler.add(*payload, h->self_contained);
        if (!envelopes) return;
        for (const auto& envelope : *envelopes) fuzz_cql_frame(envelope);
    }
}
