// The Kafka APIs this broker implements: key, name, the versions it advertises
// in ApiVersions, and the first flexible version (compact encodings, tagged
// fields, request header v2 / response header v1).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace millrace::kafka {

enum class api_key : int16_t {
    produce = 0,
    fetch = 1,
    list_offsets = 2,
    metadata = 3,
    offset_commit = 8,
    offset_fetch = 9,
    find_coordinator = 10,
    join_group = 11,
    heartbeat = 12,
    leave_group = 13,
    sync_group = 14,
    describe_groups = 15,
    list_groups = 16,
    api_versions = 18,
    create_topics = 19,
    delete_topics = 20,
    init_producer_id = 22,
    offset_for_leader_epoch = 23,
    describe_configs = 32,
    create_partitions = 37,
    delete_groups = 42,
    describe_cluster = 60,
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
