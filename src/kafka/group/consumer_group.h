// KIP-848 consumer groups (ConsumerGroupHeartbeat): the group state, the
// server-side assignors and the per-member reconciliation, as Kafka 4.1's
// group coordinator runs them.
//
// Epochs: every change of membership, subscriptions or subscribed topics'
// partition counts bumps the group epoch. A new target assignment is then
// computed by the group's assignor; its epoch (the assignment epoch) is the
// group epoch it was computed for. Each member converges on its part of the
// target on its own heartbeats, with no barrier across the group:
//   - partitions it owns that the target gives elsewhere are revoked first
//     (state unrevoked_partitions; its epoch stays until it acknowledges by
//     sending owned partitions without them);
//   - then it moves to the assignment epoch, taking the target partitions
//     that no other member still owns (unreleased_partitions while some are
//     held by members that have not yet revoked them, else stable).
// A partition is thus never owned by two members at once.
//
// Pure state and rules: no I/O, no clock (callers pass `now`), no topics
// registry (callers pass a topic_snapshot). Single-threaded, like the
// coordinator that owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/clock.h"
#include "protocol/errors.h"
#include "protocol/wire.h"

namespace millrace::kafka {

// What the consumer group logic knows of a topic.
struct topic_info {
    uuid id{};
    int32_t partitions = 0;
    bool operator==(const topic_info&) const = default;
};
// Every topic by name, as the broker sees it now.
using topic_snapshot = std::map<std::string, topic_info>;

// Partitions by topic id.
using partition_map = std::map<uuid, std::set<int32_t>>;

// Kafka's MemberState.
enum class member_state : int8_t { stable, unrevoked_partitions, unreleased_partitions };

// Kafka's ConsumerGroupState names: "Empty", "Assigning", "Reconciling", "Stable".
enum class consumer_group_state : int8_t { empty, assigning, reconciling, stable };
std::string_view to_string(consumer_group_state state);

// Reserved member epochs of the request (Kafka's).
constexpr int32_t k_join_epoch = 0;
constexpr int32_t k_leave_epoch = -1;
constexpr int32_t k_static_leave_epoch = -2;

struct consumer_member {
    std::string id;
    std::optional<std::string> instance_id;
    std::optional<std::string> rack_id;
    std::string client_id;
    std::string client_host;
    int32_t rebalance_timeout_ms = 0;
    std::vector<std::string> subscribed_names;      // sorted
    std::optional<std::string> subscribed_regex;
    std::optional<std::string> server_assignor;
    int32_t member_epoch = 0;
    int32_t previous_member_epoch = -1;
    member_state state = member_state::stable;
    partition_map assigned;             // what the member may consume now
    partition_map pending_revocation;   // still owned until the member acknowledges their revocation
    millrace::clock::mono_time session_deadline{};
    // Set while partitions await revocation: the member is fenced after it.
    std::optional<millrace::clock::mono_time> revocation_deadline;
};

struct consumer_group {
    explicit consumer_group(std::string group_id) : id(std::move(group_id)) {}

    std::string id;
    int32_t group_epoch = 0;
    int32_t assignment_epoch = 0;
    std::string assignor;                                  // the one that computed the target
    std::map<std::string, consumer_member> members;
    std::map<std::string, partition_map> target;           // member id -> its target assignment
    std::map<std::string, std::string> static_members;     // instance id -> member id
    // Partition counts of the topics some member subscribes to, as of the
    // last group epoch bump: a difference means metadata changed.
    std::map<std::string, topic_info> subscribed_topics;

    consumer_group_state state() const;
    consumer_member* member(const std::string& member_id);
    // Whether some member other than `except` owns the partition (assigned or pending revocation).
    bool owned_by_other(const std::string& except, const uuid& topic, int32_t partition) const;
    // Names of the topics the members subscribe to (names and regex matches) that exist in `topics`.
    std::map<std::string, topic_info> compute_subscribed_topics(const topic_snapshot& topics) const;
    // Whether a member subscribes to the topic (for OffsetDelete).
    bool is_subscribed_to(const std::string& topic) const;
};

// The server-side assignors (group.consumer.assignors): "uniform" and "range".
bool known_assignor(std::string_view name);
// Computes the target assignment of every member for `topics` (the
// subscribed ones). `previous` is the former target, used to stay sticky.
std::map<std::string, partition_map> compute_assignment(std::string_view assignor,
                                                        const std::map<std::string, consumer_member>& members,
                                                        const std::map<std::string, topic_info>& topics,
                                                        const std::map<std::string, partition_map>& previous);

// Moves `member` toward its target (CurrentAssignmentBuilder): `owned` is
// what the member reported owning in this heartbeat (nullopt: not reported).
// Returns true when the member's epoch, state or partitions changed.
bool reconcile(consumer_group& group, consumer_member& member, const std::optional<partition_map>& owned);

// The regex's topics, or nullopt when the expression does not compile
// (INVALID_REGULAR_EXPRESSION). Kafka uses RE2 full matches; std::regex
// ECMAScript is used here, which agrees on the common subset.
std::optional<std::regex> compile_topic_regex(const std::string& expression);

}  // namespace millrace::kafka
