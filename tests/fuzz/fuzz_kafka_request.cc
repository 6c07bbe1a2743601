// Fuzz target of the generated Kafka request decoders: every API and version
// we serve (src/kafka/protocol/messages/*.json). The input is
//   api_key:int16 version:int16 body...
// (big-endian), so that mutations walk the whole table; the seeds in
// corpus/kafka_request/ are requests captured from real clients in that form.
// A body that decodes must survive encode -> decode unchanged; a
// protocol_error is the decoders' documented answer to bad bytes.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "kafka_messages.h"

void fuzz_kafka_request(std::string_view data) {
    if (data.size() < 4) return;
    auto be16 = [&](size_t at) {
        return static_cast<int16_t>((static_cast<uint8_t>(data[at]) << 8) | static_cast<uint8_t>(data[at + 1]));
    };
    const int16_t api_key = be16(0);
    const int16_t version = be16(2);
    const std::string_view body = data.substr(4);
    try {
        if (!millrace::kafka::messages::decode_any_request(api_key, version, body)) return;
        if (!millrace::kafka::messages::round_trip_any_request(api_key, version, body)) {
            std::fprintf(stderr, "api %d v%d: re-encoding a decoded request changed it\n", api_key, version);
            std::abort();
        }
    } catch (const millrace::kafka::protocol_error&) {
    }
}
