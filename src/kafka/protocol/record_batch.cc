#include "protocol/record_batch.h"

#include <array>

#include "millrace/common/endian.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace millrace::kafka {
namespace {

using endian::load_be;

std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t idx = 0; idx < 256; ++idx) {
        uint32_t crc = idx;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        table[idx] = crc;
    }
    return table;
}

uint32_t crc32c_portable(const uint8_t* p, size_t length, uint32_t crc) {
    static const auto table = make_table();
    for (size_t idx = 0; idx < length; ++idx) crc = table[(crc ^ p[idx]) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const uint8_t* p, size_t length, uint32_t crc) {
    uint64_t c = crc;
    while (length >= 8) {
        uint64_t word;
        __builtin_memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = static_cast<uint32_t>(c);
    while (length-- > 0) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}
#endif

}  // namespace

uint32_t crc32c(const void* data, size_t length, uint32_t crc) {
    const auto* p = static_cast<const uint8_t*>(data);
    crc = ~crc;
#if defined(__x86_64__)
    static const bool has_sse42 = __builtin_cpu_supports("sse4.2");
    crc = has_sse42 ? crc32c_sse42(p, length, crc) : crc32c_portable(p, length, crc);
#else
    crc = crc32c_portable(p, length, crc);
#endif
    return ~crc;
}

batch_header read_header(std::string_view bytes) {
    using namespace batch_format;
    batch_header h;
    h.base_offset = static_cast<int64_t>(load_be<uint64_t>(bytes, k_base_offset));
    h.batch_length = static_cast<int32_t>(load_be<uint32_t>(bytes, k_batch_length));
    h.leader_epoch = static_cast<int32_t>(load_be<uint32_t>(bytes, k_leader_epoch));
    h.magic = static_cast<int8_t>(bytes[k_magic]);
    h.crc = load_be<uint32_t>(bytes, k_crc);
    h.attributes = static_cast<int16_t>(load_be<uint16_t>(bytes, k_attributes));
    h.last_offset_delta = static_cast<int32_t>(load_be<uint32_t>(bytes, k_last_offset_delta));
    h.base_timestamp = static_cast<int64_t>(load_be<uint64_t>(bytes, k_base_timestamp));
    h.max_timestamp = static_cast<int64_t>(load_be<uint64_t>(bytes, k_max_timestamp));
    h.producer_id = static_cast<int64_t>(load_be<uint64_t>(bytes, k_producer_id));
    h.producer_epoch = static_cast<int16_t>(load_be<uint16_t>(bytes, k_producer_epoch));
    h.base_sequence = static_cast<int32_t>(load_be<uint32_t>(bytes, k_base_sequence));
    h.records_count = static_cast<int32_t>(load_be<uint32_t>(bytes, k_records_count));
    return h;
}

status validate_batch(std::string_view bytes) {
    using namespace batch_format;
    if (bytes.size() < k_header_size) {
        return make_error(errc::corruption, "batch of {} bytes is shorter than the {}-byte header", bytes.size(), k_header_size);
    }
    auto h = read_header(bytes);
    if (h.total_size() != bytes.size()) {
        return make_error(errc::corruption, "batch length field says {} bytes, batch has {}", h.total_size(), bytes.size());
    }
    if (h.magic != 2) {
        return make_error(errc::unsupported, "record batch magic {} is not supported (only magic 2)", h.magic);
    }
    uint32_t actual = crc32c(bytes.data() + k_attributes, bytes.size() - k_attributes);
    if (actual != h.crc) {
        return make_error(errc::corruption, "batch CRC mismatch: stored {:08x}, computed {:08x}", h.crc, actual);
    }
    if (h.records_count < 0 || h.last_offset_delta < 0 || (h.records_count > 0 && h.last_offset_delta + 1 < h.records_count)) {
        return make_error(errc::corruption, "batch has {} records but last offset delta {}", h.records_count, h.last_offset_delta);
    }
    return {};
}

void write_int64_at(std::string& buffer, size_t position, int64_t value) {
    endian::store_be<uint64_t>(buffer, position, static_cast<uint64_t>(value));
}

void write_int32_at(std::string& buffer, size_t position, int32_t value) {
    endian::store_be<uint32_t>(buffer, position, static_cast<uint32_t>(value));
}

}  // namespace millrace::kafka
