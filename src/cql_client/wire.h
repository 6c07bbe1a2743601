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
#include "millrace/cql_protocol/frame.h"

namespace millrace::cql_client::wire {

constexpr uint8_t k_version = 4;
constexpr uint32_t k_max_body = 256u * 1024 * 1024;  // the protocol's frame limit

// Opcodes, flags, result kinds and error codes come from the protocol library
// shared with the server (src/cql_protocol).
using cql_protocol::error_name;
using cql_protocol::k_header_size;
using cql_protocol::k_response_bit;
using cql_protocol::opcode;
using cql_protocol::opcode_name;
using cql_protocol::result_kind;
namespace frame_flag = cql_protocol::frame_flag;
namespace query_flag = cql_protocol::query_flag;
namespace rows_flag = cql_protocol::rows_flag;

// Server error codes used by the client's retry logic.
using cql_protocol::error_code;
constexpr int32_t k_error_server = cql_protocol::code_of(error_code::server_error);
constexpr int32_t k_error_protocol = cql_protocol::code_of(error_code::protocol_error);
constexpr int32_t k_error_bad_credentials = cql_protocol::code_of(error_code::bad_credentials);
constexpr int32_t k_error_unavailable = cql_protocol::code_of(error_code::unavailable);
constexpr int32_t k_error_overloaded = cql_protocol::code_of(error_code::overloaded);
constexpr int32_t k_error_is_bootstrapping = cql_protocol::code_of(error_code::is_bootstrapping);
constexpr int32_t k_error_write_timeout = cql_protocol::code_of(error_code::write_timeout);
constexpr int32_t k_error_read_timeout = cql_protocol::code_of(error_code::read_timeout);
constexpr int32_t k_error_syntax = cql_protocol::code_of(error_code::syntax_error);
constexpr int32_t k_error_unauthorized = cql_protocol::code_of(error_code::unauthorized);
constexpr int32_t k_error_invalid = cql_protocol::code_of(error_code::invalid);
constexpr int32_t k_error_already_exists = cql_protocol::code_of(error_code::already_exists);
constexpr int32_t k_error_unprepared = cql_protocol::code_of(error_code::unprepared);

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
