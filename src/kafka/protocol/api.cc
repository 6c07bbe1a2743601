#include "protocol/api.h"

#include <array>

namespace millrace::kafka {
namespace {

// Version ranges: wide enough for librdkafka 2.x, kafkajs 2.x and the Java
// client 4.x, and limited to what the handlers fully implement. Fetch stops at
// 12 and Metadata at 12 because later versions address topics by id only.
constexpr std::array<api_spec, 22> k_apis = {{
    {api_key::produce, "Produce", 3, 9, 9},
    {api_key::fetch, "Fetch", 4, 12, 12},
    {api_key::list_offsets, "ListOffsets", 1, 7, 6},
    {api_key::metadata, "Metadata", 0, 12, 9},
    {api_key::offset_commit, "OffsetCommit", 0, 8, 8},
    {api_key::offset_fetch, "OffsetFetch", 0, 7, 6},
    {api_key::find_coordinator, "FindCoordinator", 0, 4, 3},
    {api_key::join_group, "JoinGroup", 0, 9, 6},
    {api_key::heartbeat, "Heartbeat", 0, 4, 4},
    {api_key::leave_group, "LeaveGroup", 0, 5, 4},
    {api_key::sync_group, "SyncGroup", 0, 5, 4},
    {api_key::describe_groups, "DescribeGroups", 0, 5, 5},
    {api_key::list_groups, "ListGroups", 0, 4, 3},
    {api_key::api_versions, "ApiVersions", 0, 3, 3},
    {api_key::create_topics, "CreateTopics", 0, 7, 5},
    {api_key::delete_topics, "DeleteTopics", 0, 6, 4},
    {api_key::init_producer_id, "InitProducerId", 0, 4, 2},
    {api_key::offset_for_leader_epoch, "OffsetForLeaderEpoch", 0, 4, 4},
    {api_key::describe_configs, "DescribeConfigs", 0, 4, 4},
    {api_key::create_partitions, "CreatePartitions", 0, 3, 2},
    {api_key::delete_groups, "DeleteGroups", 0, 2, 2},
    {api_key::describe_cluster, "DescribeCluster", 0, 1, 0},
}};

}  // namespace

std::span<const api_spec> supported_apis() { return k_apis; }

const api_spec* find_api(int16_t key) {
    for (const auto& spec : k_apis) {
        if (static_cast<int16_t>(spec.key) == key) return &spec;
    }
    return nullptr;
}

}  // namespace millrace::kafka
