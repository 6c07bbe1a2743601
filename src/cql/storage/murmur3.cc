#include "storage/murmur3.h"

#include <limits>

namespace millrace::cql {
namespace {

uint64_t rotl(uint64_t v, int r) { return (v << r) | (v >> (64 - r)); }

uint64_t fmix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

// A block word: little-endian 8 bytes.
uint64_t block(std::string_view s, size_t at) {
    uint64_t v = 0;
    for (int idx = 7; idx >= 0; --idx) v = (v << 8) | uint8_t(s[at + idx]);
    return v;
}

// A tail byte as Java's signed byte widened to long.
uint64_t signed_byte(std::string_view s, size_t at) { return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(s[at]))); }

}  // namespace

void murmur3_x64_128(std::string_view key, uint64_t seed, uint64_t out[2]) {
    const uint64_t c1 = 0x87c37b91114253d5ULL;
    const uint64_t c2 = 0x4cf5ad432745937fULL;
    uint64_t h1 = seed, h2 = seed;
    size_t nblocks = key.size() / 16;
    for (size_t idx = 0; idx < nblocks; ++idx) {
        uint64_t k1 = block(key, idx * 16);
        uint64_t k2 = block(key, idx * 16 + 8);
        k1 *= c1; k1 = rotl(k1, 31); k1 *= c2; h1 ^= k1;
        h1 = rotl(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729;
        k2 *= c2; k2 = rotl(k2, 33); k2 *= c1; h2 ^= k2;
        h2 = rotl(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5;
    }
    size_t tail = nblocks * 16;
    uint64_t k1 = 0, k2 = 0;
    switch (key.size() & 15) {
        case 15: k2 ^= signed_byte(key, tail + 14) << 48; [[fallthrough]];
        case 14: k2 ^= signed_byte(key, tail + 13) << 40; [[fallthrough]];
        case 13: k2 ^= signed_byte(key, tail + 12) << 32; [[fallthrough]];
        case 12: k2 ^= signed_byte(key, tail + 11) << 24; [[fallthrough]];
        case 11: k2 ^= signed_byte(key, tail + 10) << 16; [[fallthrough]];
        case 10: k2 ^= signed_byte(key, tail + 9) << 8; [[fallthrough]];
        case 9:
            k2 ^= signed_byte(key, tail + 8);
            k2 *= c2; k2 = rotl(k2, 33); k2 *= c1; h2 ^= k2;
            [[fallthrough]];
        case 8: k1 ^= signed_byte(key, tail + 7) << 56; [[fallthrough]];
        case 7: k1 ^= signed_byte(key, tail + 6) << 48; [[fallthrough]];
        case 6: k1 ^= signed_byte(key, tail + 5) << 40; [[fallthrough]];
        case 5: k1 ^= signed_byte(key, tail + 4) << 32; [[fallthrough]];
        case 4: k1 ^= signed_byte(key, tail + 3) << 24; [[fallthrough]];
        case 3: k1 ^= signed_byte(key, tail + 2) << 16; [[fallthrough]];
        case 2: k1 ^= signed_byte(key, tail + 1) << 8; [[fallthrough]];
        case 1:
            k1 ^= signed_byte(key, tail);
            k1 *= c1; k1 = rotl(k1, 31); k1 *= c2; h1 ^= k1;
            break;
        default: break;
    }
    h1 ^= key.size();
    h2 ^= key.size();
    h1 += h2;
    h2 += h1;
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 += h2;
    h2 += h1;
    out[0] = h1;
    out[1] = h2;
}

int64_t murmur3_token(std::string_view key) {
    uint64_t out[2];
    murmur3_x64_128(key, 0, out);
    auto token = static_cast<int64_t>(out[0]);
    return token == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : token;
}

}  // namespace millrace::cql
