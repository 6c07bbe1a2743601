// Big-endian (network order) integers in byte buffers: the one set of helpers
// the wire codecs (Kafka, CQL, Avro's Confluent framing, pgoutput) and the
// on-disk formats (segment indexes, offset and transaction logs, CQL keys)
// share, so each does not carry its own shift loops.
//
// The helpers do no bounds checking: callers check lengths first and report
// truncation with their own context (object, offset, expected and actual).
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace millrace::endian {

namespace detail {

template <std::unsigned_integral T>
constexpr T byte_swap(T value) {
    if constexpr (sizeof(T) == 1) {
        return value;
    } else if constexpr (sizeof(T) == 2) {
        return __builtin_bswap16(value);
    } else if constexpr (sizeof(T) == 4) {
        return __builtin_bswap32(value);
    } else {
        static_assert(sizeof(T) == 8);
        return __builtin_bswap64(value);
    }
}

template <std::unsigned_integral T>
constexpr T to_big(T value) {
    if constexpr (std::endian::native == std::endian::big) {
        return value;
    } else {
        return byte_swap(value);
    }
}

}  // namespace detail

// The big-endian T stored at `in` (sizeof(T) readable bytes).
template <std::unsigned_integral T>
T load_be(const void* in) {
    T value;
    std::memcpy(&value, in, sizeof(T));
    return detail::to_big(value);
}

// The big-endian T at `position` of `bytes` (REQUIRES position + sizeof(T) <= size).
template <std::unsigned_integral T>
T load_be(std::string_view bytes, size_t position = 0) {
    return load_be<T>(bytes.data() + position);
}

// Writes `value` big-endian at `out` (sizeof(T) writable bytes).
template <std::unsigned_integral T>
void store_be(void* out, T value) {
    const T big = detail::to_big(value);
    std::memcpy(out, &big, sizeof(T));
}

// Overwrites sizeof(T) bytes at `position` of `buffer` (REQUIRES they exist).
template <std::unsigned_integral T>
void store_be(std::string& buffer, size_t position, T value) {
    store_be<T>(buffer.data() + position, value);
}

// Appends `value` big-endian.
template <std::unsigned_integral T>
void append_be(std::string& out, T value) {
    char bytes[sizeof(T)];
    store_be<T>(bytes, value);
    out.append(bytes, sizeof(T));
}

// Variable widths (1 to 8 bytes), for formats whose integers are as wide as a
// length says (CQL varint-free integers, order-preserving keys).
// Appends the low `width` bytes of `value`, most significant first.
inline void append_be_width(std::string& out, uint64_t value, size_t width) {
    for (size_t idx = width; idx-- > 0;) out.push_back(static_cast<char>((value >> (8 * idx)) & 0xFF));
}

// The unsigned integer of all of `bytes` (REQUIRES size <= 8), most significant first.
inline uint64_t load_be_width(std::string_view bytes) {
    uint64_t value = 0;
    for (char byte : bytes) value = (value << 8) | static_cast<uint8_t>(byte);
    return value;
}

}  // namespace millrace::endian
