// Kafka wire primitives: a bounds-checked reader and an appending writer for
// the protocol's types, in both the classic and the flexible ("compact",
// tagged-field) encodings.
//
// Decoding errors throw `protocol_error`; only the connection loop catches it,
// logs it with the peer, and closes that connection.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace millrace::kafka {

class protocol_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

using uuid = std::array<uint8_t, 16>;

class reader {
public:
    explicit reader(std::string_view data) : data_(data) {}

    int8_t int8() { return static_cast<int8_t>(fixed<uint8_t>()); }
    bool boolean() { return int8() != 0; }
    int16_t int16() { return static_cast<int16_t>(fixed<uint16_t>()); }
    int32_t int32() { return static_cast<int32_t>(fixed<uint32_t>()); }
    uint32_t uint32() { return fixed<uint32_t>(); }
    int64_t int64() { return static_cast<int64_t>(fixed<uint64_t>()); }
    // FLOAT64: an IEEE 754 double, big-endian (DescribeClientQuotas values).
    double float64() { return std::bit_cast<double>(fixed<uint64_t>()); }
    uint32_t uvarint();
    int32_t varint();
    int64_t varlong();
    uuid read_uuid();

    // STRING / COMPACT_STRING. A null string is a protocol error.
    std::string string(bool flexible);
    // NULLABLE_STRING / COMPACT_NULLABLE_STRING.
    std::optional<std::string> nullable_string(bool flexible);
    // BYTES / COMPACT_BYTES as a view into the request buffer.
    std::string_view bytes(bool flexible);
    // NULLABLE_BYTES / COMPACT_NULLABLE_BYTES (also RECORDS).
    std::optional<std::string_view> nullable_bytes(bool flexible);
    // ARRAY / COMPACT_ARRAY length; -1 for a null array. Checked against the
    // bytes left so that an absurd length cannot cause a huge allocation.
    int32_t array_length(bool flexible);
    // Skips a tagged-field section (flexible versions only).
    void skip_tags(bool flexible);

    std::string_view take(size_t length);
    size_t remaining() const { return data_.size() - pos_; }
    size_t position() const { return pos_; }

private:
    template <typename T>
    T fixed() {
        need(sizeof(T));
        T value = 0;
        for (size_t idx = 0; idx < sizeof(T); ++idx) {
            value = static_cast<T>((value << 8) | static_cast<uint8_t>(data_[pos_ + idx]));
        }
        pos_ += sizeof(T);
        return value;
    }
    void need(size_t length) const {
        if (length > remaining()) {
            throw protocol_error(fmt::format("truncated field: need {} bytes at offset {}, {} left", length, pos_, remaining()));
        }
    }
    std::string_view data_;
    size_t pos_ = 0;
};

class writer {
public:
    explicit writer(std::string& out) : out_(out) {}

    void int8(int8_t v) { out_.push_back(static_cast<char>(v)); }
    void boolean(bool v) { int8(v ? 1 : 0); }
    void int16(int16_t v) { fixed<uint16_t>(static_cast<uint16_t>(v)); }
    void int32(int32_t v) { fixed<uint32_t>(static_cast<uint32_t>(v)); }
    void uint32(uint32_t v) { fixed<uint32_t>(v); }
    void int64(int64_t v) { fixed<uint64_t>(static_cast<uint64_t>(v)); }
    void float64(double v) { fixed<uint64_t>(std::bit_cast<uint64_t>(v)); }
    void uvarint(uint32_t v);
    void varint(int32_t v);
    void varlong(int64_t v);
    void write_uuid(const uuid& v) { out_.append(reinterpret_cast<const char*>(v.data()), v.size()); }

    void string(std::string_view v, bool flexible);
    void nullable_string(const std::optional<std::string>& v, bool flexible);
    void nullable_string(std::nullopt_t, bool flexible);
    void bytes(std::string_view v, bool flexible);
    void nullable_bytes(const std::optional<std::string_view>& v, bool flexible);
    void array_length(int32_t length, bool flexible);  // -1 for null
    // An empty tagged-field section (flexible versions only).
    void empty_tags(bool flexible) {
        if (flexible) uvarint(0);
    }
    void raw(std::string_view v) { out_.append(v); }

    size_t size() const { return out_.size(); }
    // Overwrites a big-endian int32 written earlier at `position`.
    void patch_int32(size_t position, int32_t v);

private:
    template <typename T>
    void fixed(T value) {
        char buffer[sizeof(T)];
        for (size_t idx = 0; idx < sizeof(T); ++idx) {
            buffer[idx] = static_cast<char>(value >> (8 * (sizeof(T) - 1 - idx)));
        }
        out_.append(buffer, sizeof(T));
    }
    std::string& out_;
};

}  // namespace millrace::kafka
