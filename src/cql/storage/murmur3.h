// Murmur3 x64 128-bit hash as Cassandra's Murmur3Partitioner uses it: the
// token of a partition key is the first 64-bit half, with Long.MIN_VALUE
// mapped to Long.MAX_VALUE. Cassandra reads the tail bytes as signed Java
// bytes; this does the same so tokens match a real cluster.
#pragma once

#include <cstdint>
#include <string_view>

namespace millrace::cql {

int64_t murmur3_token(std::string_view key);
// Both halves (for statement ids).
void murmur3_x64_128(std::string_view key, uint64_t seed, uint64_t out[2]);

}  // namespace millrace::cql
