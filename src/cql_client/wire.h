// Client side of the CQL native protocol v4 framing and notation.
//
// Frame header (9 bytes, big-endian):
//   version (1 byte: 0x04 request, 0x84 response) | flags (1) | stream id (2, signed)
//   | opcode (1) | body length (4, at most k_max_body)
// With the compression flag, the body is an lz4 block preceded by its
// uncompressed length (4 bytes, big-endian).
//
// `wire_reader` throws `decode_error` on truncated or absurd input; the
// decoders in this library catch it and turn it into an error naming the frame.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::cql_client::wire {

constexpr uint8_t k_version = 4;
constexpr uint8_t k_response_bit = 0x80;
constexpr size_t k_header_size = 9;
constexpr uint32_t k_max_body = 256u * 1024 * 1024;  // the protocol's frame limit

enum class opcode : uint8_t {
    error = 0x00,
    startup = 0x01,
    ready = 0x02,
    authenticate = 0x03,
    options = 0x05,
    supported = 0x06,
    query = 0x07,
    result = 0x08,
    prepare = 0x09,
    execute = 0x0A,
    register_ = 0x0B,
    event = 0x0C,
    batch = 0x0D,
    auth_challenge = 0x0E,
    auth_response = 0x0F,
    auth_success = 0x10,
};

std::string_view opcode_name(uint8_t op);

namespace frame_flag {
constexpr uint8_t compression = 0x01;
constexpr uint8_t tracing = 0x02;
constexpr uint8_t custom_payload = 0x04;
constexpr uint8_t warning = 0x08;
}  // namespace frame_flag

namespace query_flag {
constexpr uint8_t values = 0x01;
constexpr uint8_t skip_metadata = 0x02;
constexpr uint8_t page_size = 0x04;
constexpr uint8_t paging_state = 0x08;
constexpr uint8_t serial_consistency = 0x10;
constexpr uint8_t default_timestamp = 0x20;
}  // namespace query_flag

enum class result_kind : int32_t { void_ = 1, rows = 2, set_keyspace = 3, prepared = 4, schema_change = 5 };

namespace rows_flag {
constexpr int32_t global_tables_spec = 0x0001;
constexpr int32_t has_more_pages = 0x0002;
constexpr int32_t no_metadata = 0x0004;
}  // namespace rows_flag

// Server error codes used by the client's retry logic.
constexpr int32_t k_error_server = 0x0000;
constexpr int32_t k_error_protocol = 0x000A;
constexpr int32_t k_error_bad_credentials = 0x0100;
constexpr int32_t k_error_unavailable = 0x1000;
constexpr int32_t k_error_overloaded = 0x1001;
constexpr int32_t k_error_is_bootstrapping = 0x1002;
constexpr int32_t k_error_write_timeout = 0x1100;
constexpr int32_t k_error_read_timeout = 0x1200;
constexpr int32_t k_error_syntax = 0x2000;
constexpr int32_t k_error_unauthorized = 0x2100;
constexpr int32_t k_error_invalid = 0x2200;
constexpr int32_t k_error_already_exists = 0x2400;
constexpr int32_t k_error_unprepared = 0x2500;

std::string_view error_name(int32_t code);

class decode_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct frame_header {
    uint8_t version = 0;  // with the response bit
    uint8_t flags = 0;
    int16_t stream = 0;
    uint8_t op = 0;
    uint32_t length = 0;
};

frame_header decode_header(const uint8_t* bytes);
void encode_header(std::string& out, uint8_t flags, int16_t stream, opcode op, uint32_t length);

class wire_reader {
public:
    explicit wire_reader(std::string_view data) : data_(data) {}

    uint8_t byte();
    int16_t int16();
    uint16_t uint16() { return static_cast<uint16_t>(int16()); }
    int32_t int32();
    int64_t int64();
    std::string string();
    std::string long_string();
    std::optional<std::string_view> bytes();  // nullopt for a negative length
    std::string short_bytes();
    std::vector<std::string> string_list();
    std::map<std::string, std::vector<std::string>> string_multimap();
    std::string_view take(size_t n);
    size_t remaining() const { return data_.size() - pos_; }

private:
    std::string_view data_;
    size_t pos_ = 0;
};

class wire_writer {
public:
    explicit wire_writer(std::string& out) : out_(out) {}
    void byte(uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void int16(int16_t v);
    void int32(int32_t v);
    void int64(int64_t v);
    void string(std::string_view s);
    void long_string(std::string_view s);
    void bytes(std::optional<std::string_view> b);
    void short_bytes(std::string_view b);
    void string_map(const std::map<std::string, std::string>& m);
    void raw(std::string_view b) { out_.append(b); }

private:
    std::string& out_;
};

std::string lz4_compress(std::string_view body);
// Errors name the sizes; bodies claiming more than k_max_body are refused.
result<std::string> lz4_decompress(std::string_view body);

}  // namespace millrace::cql_client::wire
