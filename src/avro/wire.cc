#include "millrace/avro/wire.h"

#include "millrace/common/endian.h"

namespace millrace::avro::wire {

void append_header(std::string& out, int32_t schema_id) {
    out.push_back(static_cast<char>(k_magic));
    endian::append_be<uint32_t>(out, static_cast<uint32_t>(schema_id));
}

std::string frame(int32_t schema_id, std::string_view payload) {
    std::string out;
    out.reserve(k_header_bytes + payload.size());
    append_header(out, schema_id);
    out.append(payload);
    return out;
}

result<framed> unframe(std::string_view message) {
    if (message.size() < k_header_bytes) {
        return make_error(errc::invalid_argument, "framed message of {} bytes is shorter than the 5-byte header", message.size());
    }
    if (static_cast<uint8_t>(message[0]) != k_magic) {
        return make_error(errc::invalid_argument, "unknown magic byte {} (expected 0)", static_cast<unsigned>(static_cast<uint8_t>(message[0])));
    }
    uint32_t id = endian::load_be<uint32_t>(message, 1);
    return framed{static_cast<int32_t>(id), message.substr(k_header_bytes)};
}

bool looks_framed(std::string_view message) {
    return message.size() >= k_header_bytes && static_cast<uint8_t>(message[0]) == k_magic;
}

}  // namespace millrace::avro::wire
