#include "protocol/wire.h"

#include "millrace/common/endian.h"

namespace millrace::kafka {

uint32_t reader::uvarint() {
    uint32_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        need(1);
        uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
        value |= static_cast<uint32_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) return value;
    }
    throw protocol_error(fmt::format("varint longer than 5 bytes at offset {}", pos_));
}

int32_t reader::varint() {
    uint32_t raw = uvarint();
    return static_cast<int32_t>((raw >> 1) ^ -(raw & 1));
}

int64_t reader::varlong() {
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        need(1);
        uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
        value |= static_cast<uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) return static_cast<int64_t>((value >> 1) ^ -(value & 1));
    }
    throw protocol_error(fmt::format("varlong longer than 10 bytes at offset {}", pos_));
}

uuid reader::read_uuid() {
    auto raw = take(16);
    uuid out;
    std::copy(raw.begin(), raw.end(), reinterpret_cast<char*>(out.data()));
    return out;
}

std::string_view reader::take(size_t length) {
    need(length);
    auto out = data_.substr(pos_, length);
    pos_ += length;
    return out;
}

std::string reader::string(bool flexible) {
    auto v = nullable_string(flexible);
    if (!v) throw protocol_error(fmt::format("null string where a string is required at offset {}", pos_));
    return std::move(*v);
}

std::optional<std::string> reader::nullable_string(bool flexible) {
    int64_t length = flexible ? static_cast<int64_t>(uvarint()) - 1 : int16();
    if (length < 0) return std::nullopt;
    return std::string(take(static_cast<size_t>(length)));
}

std::string_view reader::bytes(bool flexible) {
    auto v = nullable_bytes(flexible);
    if (!v) throw protocol_error(fmt::format("null bytes where bytes are required at offset {}", pos_));
    return *v;
}

std::optional<std::string_view> reader::nullable_bytes(bool flexible) {
    int64_t length = flexible ? static_cast<int64_t>(uvarint()) - 1 : int32();
    if (length < 0) return std::nullopt;
    return take(static_cast<size_t>(length));
}

int32_t reader::array_length(bool flexible) {
    int64_t length = flexible ? static_cast<int64_t>(uvarint()) - 1 : int32();
    if (length < 0) return -1;
    // Every element takes at least one byte on the wire.
    if (static_cast<uint64_t>(length) > remaining()) {
        throw protocol_error(fmt::format("array of {} elements at offset {} exceeds the {} bytes left", length, pos_, remaining()));
    }
    return static_cast<int32_t>(length);
}

void reader::skip_tags(bool flexible) {
    if (!flexible) return;
    uint32_t count = uvarint();
    for (uint32_t idx = 0; idx < count; ++idx) {
        uvarint();  // tag
        take(uvarint());
    }
}

void writer::uvarint(uint32_t v) {
    while (v >= 0x80) {
        out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
}

void writer::varint(int32_t v) { uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31)); }

void writer::varlong(int64_t v) {
    uint64_t raw = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
    while (raw >= 0x80) {
        out_.push_back(static_cast<char>((raw & 0x7f) | 0x80));
        raw >>= 7;
    }
    out_.push_back(static_cast<char>(raw));
}

void writer::string(std::string_view v, bool flexible) {
    if (flexible) {
        uvarint(static_cast<uint32_t>(v.size() + 1));
    } else {
        int16(static_cast<int16_t>(v.size()));
    }
    out_.append(v);
}

void writer::nullable_string(const std::optional<std::string>& v, bool flexible) {
    if (v) {
        string(*v, flexible);
    } else {
        nullable_string(std::nullopt, flexible);
    }
}

void writer::nullable_string(std::nullopt_t, bool flexible) {
    if (flexible) {
        uvarint(0);
    } else {
        int16(-1);
    }
}

void writer::bytes(std::string_view v, bool flexible) {
    if (flexible) {
        uvarint(static_cast<uint32_t>(v.size() + 1));
    } else {
        int32(static_cast<int32_t>(v.size()));
    }
    out_.append(v);
}

void writer::nullable_bytes(const std::optional<std::string_view>& v, bool flexible) {
    if (v) {
        bytes(*v, flexible);
    } else if (flexible) {
        uvarint(0);
    } else {
        int32(-1);
    }
}

void writer::array_length(int32_t length, bool flexible) {
    if (flexible) {
        uvarint(static_cast<uint32_t>(length + 1));
    } else {
        int32(length);
    }
}

void writer::patch_int32(size_t position, int32_t v) {
    endian::store_be<uint32_t>(out_, position, static_cast<uint32_t>(v));
}

}  // namespace millrace::kafka
