// The state of one classic consumer group: members, generation, selected
// protocol, leader, and the deadlines tick() enforces. Plain data with the
// pure rules (protocol selection, who has joined); the transitions live in
// group_coordinator. Internal to the coordinator; single-threaded like it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "group/coordinator.h"
#include "group/waiter.h"
#include "millrace/common/clock.h"

namespace millrace::kafka {

struct classic_member {
    std::string id;
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::string protocol_type;
    std::vector<group_protocol> protocols;  // the member's order of preference
    std::string assignment;                 // from the leader's SyncGroup of this generation
    uint64_t join_order = 0;                // ties members to their arrival order (Kafka keeps insertion order)
    millrace::clock::mono_time heartbeat_deadline{};
    millrace::clock::mono_time join_deadline{};   // while is_new: its first JoinGroup must complete by then
    bool is_new = true;                     // has not yet been part of a completed join
    // Set while this member's JoinGroup / SyncGroup waits; null otherwise.
    std::shared_ptr<waiter<join_group_result>> pending_join;
    std::shared_ptr<waiter<sync_group_result>> pending_sync;

    bool awaiting_join() const { return pending_join != nullptr; }
    bool awaiting_sync() const { return pending_sync != nullptr; }
    // The metadata this member sent for `protocol`, or null when it does not support it.
    const std::string* metadata_for(const std::string& protocol) const;
    // Same names and metadata in the same order.
    bool same_protocols(const std::vector<group_protocol>& other) const;
};

struct classic_group {
    explicit classic_group(std::string group_id) : id(std::move(group_id)) {}

    std::string id;
    group_state state = group_state::empty;
    int32_t generation = 0;
    std::optional<std::string> protocol_type;   // set by the first member; kept while the group lives
    std::optional<std::string> protocol_name;   // selected for the current generation
    std::string leader;                         // empty when there is none
    std::map<std::string, classic_member> members;
    std::map<std::string, std::string> static_members;        // instance id -> member id
    std::map<std::string, millrace::clock::mono_time> pending_members;  // MEMBER_ID_REQUIRED answered, rejoin due by
    std::set<std::string> pending_sync;         // members of this generation that have not sent SyncGroup
    // Deadlines, set while the matching phase lasts.
    std::optional<millrace::clock::mono_time> rebalance_deadline;   // PreparingRebalance: force completion
    std::optional<millrace::clock::mono_time> delay_deadline;       // initial rebalance delay of a new group
    int64_t delay_remaining_ms = 0;             // rebalance timeout left after the current delay
    bool delay_member_added = false;            // a member joined during the current delay
    std::optional<millrace::clock::mono_time> sync_deadline;        // pending_sync members removed after it
    std::optional<int64_t> empty_since_ms;      // wall clock when the group last became Empty
    // Topics the members subscribe to, read from their "consumer" protocol
    // metadata when a generation starts (Kafka's computeSubscribedTopics);
    // unset when the protocol type is not "consumer" or a member's metadata
    // does not parse. OffsetDelete refuses these topics.
    std::optional<std::set<std::string>> subscribed_topics;

    bool has_member(const std::string& member_id) const { return members.contains(member_id); }
    classic_member* member(const std::string& member_id);
    bool is_leader(const std::string& member_id) const { return !leader.empty() && leader == member_id; }
    // Every member has rejoined and no MEMBER_ID_REQUIRED member is still due.
    bool all_members_joined() const;
    // Kafka's supportsProtocols: an empty group takes any non-empty type and
    // protocol list; otherwise the type must match and one of `protocols`
    // must be supported by every member.
    bool supports_protocols(const std::string& type, const std::vector<group_protocol>& protocols) const;
    // The protocol every member supports that most members prefer; ties go
    // to the one earliest in the leader's (else the oldest member's) list.
    std::string select_protocol() const;
    // Parses every member's metadata for the selected protocol as a consumer
    // protocol subscription (version, then the topic names: the v0 prefix
    // every version shares); nullopt when that is not possible.
    std::optional<std::set<std::string>> compute_subscribed_topics() const;
    // Kafka's isSubscribedToTopic: the computed set decides; without one, a
    // "consumer" group counts as subscribed to everything.
    bool is_subscribed_to(const std::string& topic) const;
    // The largest rebalance timeout among the members.
    int64_t rebalance_timeout_ms() const;
    // Members ordered by arrival.
    std::vector<const classic_member*> ordered_members() const;
    // The leader's view: every member with its metadata for the selected protocol.
    std::vector<join_group_member> member_list() const;
};

}  // namespace millrace::kafka
