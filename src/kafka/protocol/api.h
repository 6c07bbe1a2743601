// The Kafka APIs this broker implements: key, name, the versions it advertises
// in ApiVersions, and the first flexible version (compact encodings, tagged
// fields, request header v2 / response header v1). All of it is generated from
// the message descriptions in protocol/messages/*.json (see generate.py).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace millrace::kafka {

// Generated from protocol/messages/*.json: one enumerator per API we serve.
enum class api_key : int16_t {
#define MILLRACE_KAFKA_API_KEYS
#include "kafka_api_table.inc"
#undef MILLRACE_KAFKA_API_KEYS
};

struct api_spec {
    api_key key;
    std::string_view name;
    int16_t min_version;
    int16_t max_version;
    int16_t first_flexible;  // INT16_MAX when no version is flexible
};

// Every implemented API, ordered by key.
std::span<const api_spec> supported_apis();
const api_spec* find_api(int16_t key);

}  // namespace millrace::kafka
