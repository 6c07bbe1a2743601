#include "group/group_wire.h"

namespace millrace::kafka {
namespace {

std::vector<std::string> read_strings(reader& in, bool flexible) {
    std::vector<std::string> out;
    int32_t count = in.array_length(flexible);
    for (int32_t idx = 0; idx < count; ++idx) out.push_back(in.string(flexible));
    return out;
}

void write_throttle(writer& out) { out.int32(0); }

}  // namespace

bool flexible_version(api_key key, int16_t version) {
    const api_spec* spec = find_api(static_cast<int16_t>(key));
    return spec != nullptr && version >= spec->first_flexible;
}

// ---- FindCoordinator ----
// Request:  key:string (0-3)  key_type:int8 (1+)  coordinator_keys:[string] (4+)
// Response: throttle_time_ms (1+)
//           v0-3: error_code error_message:nullable (1+) node_id host port
//           v4+:  coordinators:[key node_id host port error_code error_message:nullable]

find_coordinator_request decode_find_coordinator(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::find_coordinator, version);
    find_coordinator_request req;
    if (version <= 3) req.keys.push_back(in.string(flex));
    if (version >= 1) req.key_type = in.int8();
    if (version >= 4) req.keys = read_strings(in, flex);
    in.skip_tags(flex);
    return req;
}

void encode_find_coordinator(writer& out, int16_t version, const std::vector<coordinator_answer>& answers) {
    bool flex = flexible_version(api_key::find_coordinator, version);
    if (version >= 1) write_throttle(out);
    if (version <= 3) {
        coordinator_answer none;
        none.error = error_code::coordinator_not_available;
        const coordinator_answer& a = answers.empty() ? none : answers.front();
        out.int16(wire(a.error));
        if (version >= 1) out.nullable_string(a.error_message, flex);
        out.int32(a.node_id);
        out.string(a.host, flex);
        out.int32(a.port);
    } else {
        out.array_length(static_cast<int32_t>(answers.size()), flex);
        for (const auto& a : answers) {
            out.string(a.key, flex);
            out.int32(a.node_id);
            out.string(a.host, flex);
            out.int32(a.port);
            out.int16(wire(a.error));
            out.nullable_string(a.error_message, flex);
            out.empty_tags(flex);
        }
    }
    out.empty_tags(flex);
}

// ---- JoinGroup ----
// Request:  group_id session_timeout_ms rebalance_timeout_ms (1+) member_id
//           group_instance_id:nullable (5+) protocol_type
//           protocols:[name metadata:bytes] reason:nullable (8+)
// Response: throttle_time_ms (2+) error_code generation_id
//           protocol_type:nullable (7+) protocol_name (nullable 7+) leader
//           skip_assignment:bool (9+) member_id
//           members:[member_id group_instance_id:nullable (5+) metadata:bytes]

join_group_request decode_join_group(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::join_group, version);
    join_group_request req;
    req.group_id = in.string(flex);
    req.session_timeout_ms = in.int32();
    req.rebalance_timeout_ms = version >= 1 ? in.int32() : -1;
    req.member_id = in.string(flex);
    if (version >= 5) req.group_instance_id = in.nullable_string(flex);
    req.protocol_type = in.string(flex);
    int32_t count = in.array_length(flex);
    for (int32_t idx = 0; idx < count; ++idx) {
        group_protocol p;
        p.name = in.string(flex);
        p.metadata = std::string(in.bytes(flex));
        in.skip_tags(flex);
        req.protocols.push_back(std::move(p));
    }
    if (version >= 8) req.reason = in.nullable_string(flex);
    in.skip_tags(flex);
    req.require_known_member_id = version >= 4;
    req.supports_skip_assignment = version >= 9;
    return req;
}

void encode_join_group(writer& out, int16_t version, const join_group_result& result) {
    bool flex = flexible_version(api_key::join_group, version);
    if (version >= 2) write_throttle(out);
    out.int16(wire(result.error));
    out.int32(result.generation_id);
    if (version >= 7) {
        out.nullable_string(result.protocol_type, flex);
        out.nullable_string(result.protocol_name, flex);
    } else {
        out.string(result.protocol_name.value_or(""), flex);
    }
    out.string(result.leader_id, flex);
    if (version >= 9) out.boolean(result.skip_assignment);
    out.string(result.member_id, flex);
    out.array_length(static_cast<int32_t>(result.members.size()), flex);
    for (const auto& m : result.members) {
        out.string(m.member_id, flex);
        if (version >= 5) out.nullable_string(m.group_instance_id, flex);
        out.bytes(m.metadata, flex);
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
}

// ---- SyncGroup ----
// Request:  group_id generation_id member_id group_instance_id:nullable (3+)
//           protocol_type:nullable (5+) protocol_name:nullable (5+)
//           assignments:[member_id assignment:bytes]
// Response: throttle_time_ms (1+) error_code protocol_type:nullable (5+)
//           protocol_name:nullable (5+) assignment:bytes

sync_group_request decode_sync_group(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::sync_group, version);
    sync_group_request req;
    req.group_id = in.string(flex);
    req.generation_id = in.int32();
    req.member_id = in.string(flex);
    if (version >= 3) req.group_instance_id = in.nullable_string(flex);
    if (version >= 5) {
        req.protocol_type = in.nullable_string(flex);
        req.protocol_name = in.nullable_string(flex);
    }
    int32_t count = in.array_length(flex);
    for (int32_t idx = 0; idx < count; ++idx) {
        std::string member_id = in.string(flex);
        std::string assignment(in.bytes(flex));
        in.skip_tags(flex);
        req.assignments.emplace_back(std::move(member_id), std::move(assignment));
    }
    in.skip_tags(flex);
    return req;
}

void encode_sync_group(writer& out, int16_t version, const sync_group_result& result) {
    bool flex = flexible_version(api_key::sync_group, version);
    if (version >= 1) write_throttle(out);
    out.int16(wire(result.error));
    if (version >= 5) {
        out.nullable_string(result.protocol_type, flex);
        out.nullable_string(result.protocol_name, flex);
    }
    out.bytes(result.assignment, flex);
    out.empty_tags(flex);
}

// ---- Heartbeat ----
// Request:  group_id generation_id member_id group_instance_id:nullable (3+)
// Response: throttle_time_ms (1+) error_code

heartbeat_request decode_heartbeat(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::heartbeat, version);
    heartbeat_request req;
    req.group_id = in.string(flex);
    req.generation_id = in.int32();
    req.member_id = in.string(flex);
    if (version >= 3) req.group_instance_id = in.nullable_string(flex);
    in.skip_tags(flex);
    return req;
}

void encode_heartbeat(writer& out, int16_t version, error_code error) {
    bool flex = flexible_version(api_key::heartbeat, version);
    if (version >= 1) write_throttle(out);
    out.int16(wire(error));
    out.empty_tags(flex);
}

// ---- LeaveGroup ----
// Request:  group_id member_id (0-2)
//           members (3+):[member_id group_instance_id:nullable reason:nullable (5+)]
// Response: throttle_time_ms (1+) error_code
//           members (3+):[member_id group_instance_id:nullable error_code]

leave_group_wire_request decode_leave_group(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::leave_group, version);
    leave_group_wire_request req;
    req.group_id = in.string(flex);
    if (version <= 2) {
        req.members.push_back(leave_group_member{in.string(flex), std::nullopt, std::nullopt});
    } else {
        int32_t count = in.array_length(flex);
        for (int32_t idx = 0; idx < count; ++idx) {
            leave_group_member m;
            m.member_id = in.string(flex);
            m.group_instance_id = in.nullable_string(flex);
            if (version >= 5) m.reason = in.nullable_string(flex);
            in.skip_tags(flex);
            req.members.push_back(std::move(m));
        }
    }
    in.skip_tags(flex);
    return req;
}

void encode_leave_group(writer& out, int16_t version, const leave_group_wire_request& request,
                        const leave_group_result& result) {
    bool flex = flexible_version(api_key::leave_group, version);
    if (version >= 1) write_throttle(out);
    if (version <= 2) {
        error_code code = result.error;
        if (code == error_code::none && !result.members.empty()) code = result.members.front();
        out.int16(wire(code));
    } else {
        out.int16(wire(result.error));
        out.array_length(static_cast<int32_t>(request.members.size()), flex);
        for (size_t idx = 0; idx < request.members.size(); ++idx) {
            out.string(request.members[idx].member_id, flex);
            out.nullable_string(request.members[idx].group_instance_id, flex);
            out.int16(wire(idx < result.members.size() ? result.members[idx] : error_code::none));
            out.empty_tags(flex);
        }
    }
    out.empty_tags(flex);
}

// ---- OffsetCommit ----
// Request:  group_id generation_id (1+) member_id (1+)
//           group_instance_id:nullable (7+) retention_time_ms:int64 (2-4)
//           topics:[name partitions:[partition_index committed_offset:int64
//             committed_leader_epoch (6+) commit_timestamp:int64 (1 only)
//             committed_metadata:nullable]]
// Response: throttle_time_ms (3+) topics:[name partitions:[partition_index error_code]]

offset_commit_wire_request decode_offset_commit(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::offset_commit, version);
    offset_commit_wire_request req;
    req.group_id = in.string(flex);
    if (version >= 1) {
        req.generation_id = in.int32();
        req.member_id = in.string(flex);
    }
    if (version >= 7) req.group_instance_id = in.nullable_string(flex);
    if (version >= 2 && version <= 4) req.retention_time_ms = in.int64();
    int32_t topics = in.array_length(flex);
    for (int32_t topic_idx = 0; topic_idx < topics; ++topic_idx) {
        offset_commit_wire_topic t;
        t.name = in.string(flex);
        int32_t partitions = in.array_length(flex);
        for (int32_t partition_idx = 0; partition_idx < partitions; ++partition_idx) {
            offset_commit_wire_partition p;
            p.partition = in.int32();
            p.offset = in.int64();
            if (version >= 6) p.leader_epoch = in.int32();
            if (version == 1) p.commit_timestamp = in.int64();
            p.metadata = in.nullable_string(flex);
            in.skip_tags(flex);
            t.partitions.push_back(std::move(p));
        }
        in.skip_tags(flex);
        req.topics.push_back(std::move(t));
    }
    in.skip_tags(flex);
    return req;
}

void encode_offset_commit(writer& out, int16_t version, const std::vector<topic_result>& topics) {
    bool flex = flexible_version(api_key::offset_commit, version);
    if (version >= 3) write_throttle(out);
    out.array_length(static_cast<int32_t>(topics.size()), flex);
    for (const auto& t : topics) {
        out.string(t.name, flex);
        out.array_length(static_cast<int32_t>(t.partitions.size()), flex);
        for (const auto& p : t.partitions) {
            out.int32(p.partition);
            out.int16(wire(p.error));
            out.empty_tags(flex);
        }
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
}

// ---- OffsetFetch ----
// Request:  group_id topics:[name partition_indexes:[int32]] (nullable 2+)
//           require_stable:bool (7+)
// Response: throttle_time_ms (3+) topics:[name partitions:[partition_index
//             committed_offset:int64 committed_leader_epoch (5+)
//             metadata:nullable error_code]] error_code (2+)

offset_fetch_wire_request decode_offset_fetch(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::offset_fetch, version);
    offset_fetch_wire_request req;
    req.group_id = in.string(flex);
    int32_t topics = in.array_length(flex);
    if (topics >= 0 || version < 2) {
        // A null array before v2 is malformed; read it as "no topics".
        req.topics.emplace();
        for (int32_t topic_idx = 0; topic_idx < topics; ++topic_idx) {
            std::string name = in.string(flex);
            std::vector<int32_t> partitions;
            int32_t count = in.array_length(flex);
            for (int32_t partition_idx = 0; partition_idx < count; ++partition_idx) partitions.push_back(in.int32());
            in.skip_tags(flex);
            req.topics->emplace_back(std::move(name), std::move(partitions));
        }
    }
    if (version >= 7) req.require_stable = in.boolean();
    in.skip_tags(flex);
    return req;
}

void encode_offset_fetch(writer& out, int16_t version, const std::vector<fetched_topic>& topics, error_code error) {
    bool flex = flexible_version(api_key::offset_fetch, version);
    if (version >= 3) write_throttle(out);
    out.array_length(static_cast<int32_t>(topics.size()), flex);
    for (const auto& t : topics) {
        out.string(t.name, flex);
        out.array_length(static_cast<int32_t>(t.partitions.size()), flex);
        for (const auto& p : t.partitions) {
            out.int32(p.partition);
            out.int64(p.offset);
            if (version >= 5) out.int32(p.leader_epoch);
            out.nullable_string(p.metadata, flex);
            // Before v2 there is no top-level code: a group-wide error goes on every partition.
            out.int16(wire(version < 2 && p.error == error_code::none ? error : p.error));
            out.empty_tags(flex);
        }
        out.empty_tags(flex);
    }
    if (version >= 2) out.int16(wire(error));
    out.empty_tags(flex);
}

// ---- ListGroups ----
// Request:  states_filter:[string] (4+)
// Response: throttle_time_ms (1+) error_code groups:[group_id protocol_type group_state (4+)]

list_groups_wire_request decode_list_groups(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::list_groups, version);
    list_groups_wire_request req;
    if (version >= 4) req.states_filter = read_strings(in, flex);
    in.skip_tags(flex);
    return req;
}

void encode_list_groups(writer& out, int16_t version, error_code error, const std::vector<group_listing>& groups) {
    bool flex = flexible_version(api_key::list_groups, version);
    if (version >= 1) write_throttle(out);
    out.int16(wire(error));
    out.array_length(static_cast<int32_t>(groups.size()), flex);
    for (const auto& g : groups) {
        out.string(g.group_id, flex);
        out.string(g.protocol_type, flex);
        if (version >= 4) out.string(to_string(g.state), flex);
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
}

// ---- DescribeGroups ----
// Request:  groups:[string] include_authorized_operations:bool (3+)
// Response: throttle_time_ms (1+) groups:[error_code group_id group_state
//             protocol_type protocol_data members:[member_id
//             group_instance_id:nullable (4+) client_id client_host
//             member_metadata:bytes member_assignment:bytes]
//             authorized_operations:int32 (3+)]

describe_groups_wire_request decode_describe_groups(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::describe_groups, version);
    describe_groups_wire_request req;
    req.groups = read_strings(in, flex);
    if (version >= 3) req.include_authorized_operations = in.boolean();
    in.skip_tags(flex);
    return req;
}

void encode_describe_groups(writer& out, int16_t version, const std::vector<group_description>& groups,
                            std::optional<int32_t> authorized_operations) {
    bool flex = flexible_version(api_key::describe_groups, version);
    if (version >= 1) write_throttle(out);
    out.array_length(static_cast<int32_t>(groups.size()), flex);
    for (const auto& g : groups) {
        out.int16(wire(g.error));
        out.string(g.group_id, flex);
        out.string(g.state, flex);
        out.string(g.protocol_type, flex);
        out.string(g.protocol_data, flex);
        out.array_length(static_cast<int32_t>(g.members.size()), flex);
        for (const auto& m : g.members) {
            out.string(m.member_id, flex);
            if (version >= 4) out.nullable_string(m.group_instance_id, flex);
            out.string(m.client_id, flex);
            out.string(m.client_host, flex);
            out.bytes(m.metadata, flex);
            out.bytes(m.assignment, flex);
            out.empty_tags(flex);
        }
        if (version >= 3) out.int32(authorized_operations.value_or(INT32_MIN));
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
}

// ---- DeleteGroups ----
// Request:  groups_names:[string]
// Response: throttle_time_ms results:[group_id error_code]

std::vector<std::string> decode_delete_groups(reader& in, int16_t version) {
    bool flex = flexible_version(api_key::delete_groups, version);
    auto groups = read_strings(in, flex);
    in.skip_tags(flex);
    return groups;
}

void encode_delete_groups(writer& out, int16_t version, const std::vector<std::pair<std::string, error_code>>& results) {
    bool flex = flexible_version(api_key::delete_groups, version);
    write_throttle(out);
    out.array_length(static_cast<int32_t>(results.size()), flex);
    for (const auto& [group, error] : results) {
        out.string(group, flex);
        out.int16(wire(error));
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
}

}  // namespace millrace::kafka
