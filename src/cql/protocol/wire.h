// Readers and writers of the protocol's notation ([int], [short], [string],
// [long string], [bytes], [short bytes], [string list], [string map], ...).
//
// A `reader` throws `protocol_error` on truncated or absurd input; only the
// connection loop catches it, and it closes that connection.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame_format.h"

namespace millrace::cql {

class protocol_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct frame_header {
    uint8_t version = 0;  // without the response bit
    uint8_t flags = 0;
    int16_t stream = 0;
    uint8_t op = 0;
    uint32_t length = 0;
};

// Decodes the 9 header bytes. Never throws; validation is the caller's.
frame_header decode_header(const char* bytes);
// Appends a response header for a body of `length` bytes, in `version`.
void encode_header(std::string& out, int16_t stream, opcode op, uint32_t length, uint8_t flags = 0,
                   uint8_t version = k_protocol_version);

class reader {
public:
    explicit reader(std::string_view data) : data_(data) {}

    uint8_t byte();
    int16_t int16();
    uint16_t uint16();
    int32_t int32();
    int64_t int64();
    std::string string();       // [string]: short length + UTF-8
    std::string long_string();  // [long string]: int length + UTF-8
    // [bytes]: int length, negative means null (-2 in values means "unset").
    std::optional<std::string> bytes();
    std::string short_bytes();
    std::vector<std::string> string_list();
    std::map<std::string, std::string> string_map();
    std::map<std::string, std::optional<std::string>> bytes_map();

    size_t remaining() const { return data_.size() - pos_; }
    std::string_view take(size_t n);

private:
    std::string_view data_;
    size_t pos_ = 0;
};

class writer {
public:
    explicit writer(std::string& out) : out_(out) {}
    void byte(uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void int16(int16_t v);
    void uint16(uint16_t v) { int16(static_cast<int16_t>(v)); }
    void int32(int32_t v);
    void int64(int64_t v);
    void string(std::string_view s);
    void long_string(std::string_view s);
    void bytes(const std::optional<std::string>& b);
    void short_bytes(std::string_view b);
    void string_list(const std::vector<std::string>& l);
    void string_multimap(const std::map<std::string, std::vector<std::string>>& m);
    void raw(std::string_view b) { out_.append(b); }
    size_t size() const { return out_.size(); }
    void patch_int32(size_t at, int32_t v);

private:
    std::string& out_;
};

}  // namespace millrace::cql
