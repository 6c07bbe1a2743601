#include "protocol/compression.h"

#include <lz4.h>
#include <snappy.h>

#include "millrace/common/endian.h"

namespace millrace::cql {

std::optional<compression> parse_compression(std::string_view name) {
    std::string lower(name);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "lz4") return compression::lz4;
    if (lower == "snappy") return compression::snappy;
    return std::nullopt;
}

std::string compress(compression c, std::string_view body) {
    std::string out;
    if (c == compression::lz4) {
        int bound = LZ4_compressBound(static_cast<int>(body.size()));
        out.resize(4 + static_cast<size_t>(bound));
        uint32_t n = static_cast<uint32_t>(body.size());
        endian::store_be<uint32_t>(out.data(), n);
        int written = LZ4_compress_default(body.data(), out.data() + 4, static_cast<int>(body.size()), bound);
        out.resize(4 + static_cast<size_t>(written));
    } else if (c == compression::snappy) {
        snappy::Compress(body.data(), body.size(), &out);
    } else {
        out = std::string(body);
    }
    return out;
}

result<std::string> decompress(compression c, std::string_view body, size_t max_bytes) {
    if (c == compression::lz4) {
        if (body.size() < 4) return make_error(errc::invalid_argument, "lz4 body of {} bytes has no length prefix", body.size());
        uint32_t n = endian::load_be<uint32_t>(body);
        if (n > max_bytes) return make_error(errc::invalid_argument, "lz4 body claims {} uncompressed bytes, limit is {}", n, max_bytes);
        std::string out(n, '\0');
        int got = LZ4_decompress_safe(body.data() + 4, out.data(), static_cast<int>(body.size() - 4), static_cast<int>(n));
        if (got < 0 || static_cast<uint32_t>(got) != n) {
            return make_error(errc::invalid_argument, "lz4 body of {} bytes does not decompress to the {} bytes it claims", body.size(), n);
        }
        return out;
    }
    if (c == compression::snappy) {
        size_t n = 0;
        if (!snappy::GetUncompressedLength(body.data(), body.size(), &n)) {
            return make_error(errc::invalid_argument, "snappy body of {} bytes has no valid length", body.size());
        }
        if (n > max_bytes) return make_error(errc::invalid_argument, "snappy body claims {} uncompressed bytes, limit is {}", n, max_bytes);
        std::string out;
        if (!snappy::Uncompress(body.data(), body.size(), &out)) {
            return make_error(errc::invalid_argument, "snappy body of {} bytes is corrupt", body.size());
        }
        return out;
    }
    return std::string(body);
}

}  // namespace millrace::cql
