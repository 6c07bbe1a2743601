// Turns a valid batch (batch_builder.h) into the malformed ones the produce
// validator must refuse: header fields rewritten with the CRC kept valid,
// bodies compressed with a real codec or with garbage.
#pragma once

#include <string>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace millrace::kafka::testing {

// Recomputes batch_length and the CRC after a change to the bytes.
inline void reseal(std::string& batch) {
    write_int32_at(batch, batch_format::k_batch_length, static_cast<int32_t>(batch.size() - batch_format::k_log_overhead));
    uint32_t crc = crc32c(batch.data() + batch_format::k_attributes, batch.size() - batch_format::k_attributes);
    write_int32_at(batch, batch_format::k_crc, static_cast<int32_t>(crc));
}

inline void set_attributes(std::string& batch, uint16_t attributes) {
    batch[batch_format::k_attributes] = static_cast<char>(attributes >> 8);
    batch[batch_format::k_attributes + 1] = static_cast<char>(attributes);
    reseal(batch);
}

inline void set_int32_field(std::string& batch, size_t position, int32_t value) {
    write_int32_at(batch, position, value);
    reseal(batch);
}

inline void set_int64_field(std::string& batch, size_t position, int64_t value) {
    write_int64_at(batch, position, value);
    reseal(batch);
}

inline std::string gzip_bytes(std::string_view input) {
    z_stream zs{};
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&zs, static_cast<uLong>(input.size())) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    zs.avail_in = static_cast<uInt>(input.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

inline std::string lz4_bytes(std::string_view input) {
    std::string out(LZ4F_compressFrameBound(input.size(), nullptr), '\0');
    out.resize(LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), nullptr));
    return out;
}

inline std::string zstd_bytes(std::string_view input) {
    std::string out(ZSTD_compressBound(input.size()), '\0');
    out.resize(ZSTD_compress(out.data(), out.size(), input.data(), input.size(), 1));
    return out;
}

// Replaces the records of an uncompressed `batch` with `body` and sets codec
// `codec` (the attributes' low three bits).
inline std::string with_body(const std::string& batch, int codec, const std::string& body) {
    std::string out = batch.substr(0, batch_format::k_header_size) + body;
    auto attributes = static_cast<uint16_t>((read_header(batch).attributes & ~batch_format::k_compression_mask) | codec);
    set_attributes(out, attributes);
    return out;
}

inline std::string records_of(const std::string& batch) { return batch.substr(batch_format::k_header_size); }

}  // namespace millrace::kafka::testing
