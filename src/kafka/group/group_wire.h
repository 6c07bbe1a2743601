// Request decoders and response encoders of the group APIs, for every version
// protocol/api.cc advertises: FindCoordinator 0-4, JoinGroup 0-9, SyncGroup
// 0-5, Heartbeat 0-4, LeaveGroup 0-5, OffsetCommit 0-8, OffsetFetch 0-7,
// ListGroups 0-4, DescribeGroups 0-5, DeleteGroups 0-2.
//
// Fields and the versions they exist in follow Kafka's message definitions;
// each function notes them next to the code. Flexible versions (compact
// encodings, a tagged-field section closing every struct and the body) start
// where api.cc says. Decoders throw protocol_error on malformed input; the
// encoders write the body only (the connection loop writes the header).
// Pure functions: no state, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "group/coordinator.h"
#include "protocol/api.h"
#include "protocol/errors.h"
#include "protocol/wire.h"

namespace millrace::kafka {

// True when `version` of `key` uses the flexible encoding (per api.cc).
bool flexible_version(api_key key, int16_t version);

// ---- FindCoordinator ----
struct find_coordinator_request {
    int8_t key_type = 0;             // 0 group, 1 transaction (v1+)
    std::vector<std::string> keys;   // one key before v4; coordinator_keys from v4
};
struct coordinator_answer {
    std::string key;
    int32_t node_id = -1;
    std::string host;
    int32_t port = -1;
    error_code error = error_code::none;
    std::optional<std::string> error_message;
};
find_coordinator_request decode_find_coordinator(reader& in, int16_t version);
// Before v4 exactly one answer is written (the first).
void encode_find_coordinator(writer& out, int16_t version, const std::vector<coordinator_answer>& answers);

// ---- JoinGroup ----
// client_id and client_host are not on the wire; the handler fills them.
join_group_request decode_join_group(reader& in, int16_t version);
void encode_join_group(writer& out, int16_t version, const join_group_result& result);

// ---- SyncGroup ----
sync_group_request decode_sync_group(reader& in, int16_t version);
void encode_sync_group(writer& out, int16_t version, const sync_group_result& result);

// ---- Heartbeat ----
heartbeat_request decode_heartbeat(reader& in, int16_t version);
void encode_heartbeat(writer& out, int16_t version, error_code error);

// ---- LeaveGroup ----
struct leave_group_wire_request {
    std::string group_id;
    std::vector<leave_group_member> members;  // exactly one before v3
};
leave_group_wire_request decode_leave_group(reader& in, int16_t version);
// Before v3 the single error is the top-level one, else the member's.
void encode_leave_group(writer& out, int16_t version, const leave_group_wire_request& request,
                        const leave_group_result& result);

// ---- OffsetCommit ----
struct offset_commit_wire_partition {
    int32_t partition = 0;
    int64_t offset = -1;
    int32_t leader_epoch = -1;       // v6+
    int64_t commit_timestamp = -1;   // v1 only; ignored (the broker's clock is used)
    std::optional<std::string> metadata;
};
struct offset_commit_wire_topic {
    std::string name;
    std::vector<offset_commit_wire_partition> partitions;
};
struct offset_commit_wire_request {
    std::string group_id;
    int32_t generation_id = -1;      // v1+
    std::string member_id;           // v1+
    std::optional<std::string> group_instance_id;  // v7+
    int64_t retention_time_ms = -1;  // v2-4; ignored (offsets_retention_ms applies)
    std::vector<offset_commit_wire_topic> topics;
};
struct partition_result {
    int32_t partition = 0;
    error_code error = error_code::none;
};
struct topic_result {
    std::string name;
    std::vector<partition_result> partitions;
};
offset_commit_wire_request decode_offset_commit(reader& in, int16_t version);
void encode_offset_commit(writer& out, int16_t version, const std::vector<topic_result>& topics);

// ---- OffsetFetch ----
struct offset_fetch_wire_request {
    std::string group_id;
    // nullopt: every committed offset of the group (v2+ null array).
    std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
    bool require_stable = false;     // v7+
};
struct fetched_partition {
    int32_t partition = 0;
    int64_t offset = -1;
    int32_t leader_epoch = -1;       // v5+
    std::optional<std::string> metadata;
    error_code error = error_code::none;
};
struct fetched_topic {
    std::string name;
    std::vector<fetched_partition> partitions;
};
offset_fetch_wire_request decode_offset_fetch(reader& in, int16_t version);
void encode_offset_fetch(writer& out, int16_t version, const std::vector<fetched_topic>& topics, error_code error);

// ---- ListGroups ----
struct list_groups_wire_request {
    std::vector<std::string> states_filter;  // v4+
};
list_groups_wire_request decode_list_groups(reader& in, int16_t version);
void encode_list_groups(writer& out, int16_t version, error_code error, const std::vector<group_listing>& groups);

// ---- DescribeGroups ----
struct describe_groups_wire_request {
    std::vector<std::string> groups;
    bool include_authorized_operations = false;  // v3+
};
describe_groups_wire_request decode_describe_groups(reader& in, int16_t version);
// `authorized_operations` is written (v3+) when the request asked for it,
// else INT32_MIN ("not requested").
void encode_describe_groups(writer& out, int16_t version, const std::vector<group_description>& groups,
                            std::optional<int32_t> authorized_operations);

// ---- DeleteGroups ----
std::vector<std::string> decode_delete_groups(reader& in, int16_t version);
void encode_delete_groups(writer& out, int16_t version, const std::vector<std::pair<std::string, error_code>>& results);

}  // namespace millrace::kafka
