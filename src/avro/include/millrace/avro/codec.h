// Avro binary encoding to and from JSON documents, for the console, the
// processor and CDC.
//
// JSON side: Avro's JSON encoding, relaxed for people: a union value may be
// written bare (the first branch it fits is used) or as {"branch": value};
// bytes and fixed are strings whose code points 0..255 are the bytes; a
// record field left out takes its default. Decoding writes unions bare unless
// `wrap_unions` is set. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "millrace/avro/json.h"
#include "millrace/avro/schema.h"
#include "millrace/common/result.h"

namespace millrace::avro {

// Appends the binary encoding of `datum` as `t`. Errors (invalid_argument)
// name the path of the offending value: "address.zip: \"x\" is not a valid int".
status encode_into(std::string& out, const node& t, const json::value& datum);
result<std::string> encode(const node& t, const json::value& datum);

struct decode_options {
    bool wrap_unions = false;  // {"string": "x"} instead of "x" for union values
};

// Decodes exactly one datum written with `writer`, resolved to `reader`
// (schema resolution: promotions, reader defaults for fields the writer did
// not have, writer fields the reader lacks skipped, enum defaults). All of
// `data` must be consumed. Errors are invalid_argument (corruption of the
// payload) naming the byte offset: "at byte 12: union branch 5 out of range (2 branches)".
result<json::value> decode(std::string_view data, const node& writer, const node& reader, decode_options options = {});
inline result<json::value> decode(std::string_view data, const node& t, decode_options options = {}) {
    return decode(data, t, t, options);
}

// Zig-zag varint helpers (exposed for tests and framing code).
void write_long(std::string& out, int64_t value);

}  // namespace millrace::avro
