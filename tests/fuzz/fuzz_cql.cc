// Fuzz targets of the CQL decoders (see targets.cc).
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/compression.h"
#include "parser.h"
#include "protocol/wire.h"

// A CQL v4 frame as it arrives: header, optional compressed body (both
// codecs), then the body notations of every request opcode.
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
                uint8_t flags = in.byte();
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

