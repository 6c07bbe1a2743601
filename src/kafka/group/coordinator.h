// The consumer-group coordinator for Kafka's classic group protocol
// (JoinGroup / SyncGroup / Heartbeat / LeaveGroup), plus committed offsets
// (OffsetCommit / OffsetFetch) and group administration (List / Describe /
// DeleteGroups). This broker is the coordinator of every group.
//
// Group state machine (Kafka's):
//   Empty --join--> PreparingRebalance --all joined / timeout--> CompletingRebalance
//   CompletingRebalance --leader's SyncGroup--> Stable
//   Stable / CompletingRebalance --join with new metadata, leave, expiry--> PreparingRebalance
//   PreparingRebalance --nobody left--> Empty;  Empty --DeleteGroups--> Dead (removed)
//
// JoinGroup and SyncGroup are coroutines that suspend until the rebalance
// gets far enough; they never block the thread. Time-based transitions
// (session expiry, rebalance and sync timeouts, the initial rebalance delay,
// offset expiry) happen only in tick(), which reads the injected clock: the
// broker calls it from a periodic timer, tests call it after moving a
// manual_clock. Membership (Stable classic groups, every KIP-848 group) is
// written to groups.state when it changes (group_state_format.h) and read
// back by open(), so members carry on after a restart; committed offsets are
// durable before they are acknowledged.
//
// KIP-848 consumer groups (ConsumerGroupHeartbeat) live beside the classic
// ones; consumer_group.h has their rules. A group id is one type at a time.
//
// Threading: single-threaded. Every method runs on the io_context thread that
// owns `io`; nothing here locks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "group/consumer_group.h"
#include "group/offset_store.h"
#include "millrace/common/clock.h"
#include "millrace/common/file_system.h"
#include "millrace/common/log.h"
#include "millrace/common/metrics.h"
#include "millrace/common/result.h"
#include "protocol/errors.h"

namespace millrace::kafka {

struct group_settings {
    int64_t initial_rebalance_delay_ms = 0;      // group.initial.rebalance.delay.ms
    int64_t min_session_timeout_ms = 6'000;      // group.min.session.timeout.ms
    int64_t max_session_timeout_ms = 1'800'000;  // group.max.session.timeout.ms
    int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;        // offsets.retention.minutes
    int64_t offsets_retention_check_interval_ms = 600'000;         // offsets.retention.check.interval.ms
    int32_t max_group_size = INT32_MAX;          // group.max.size
    // Kafka's classic-group new member join timeout (5 min, not a broker
    // config): a new member parked in JoinGroup cannot heartbeat and its
    // disconnect goes unseen, so it is dropped after this.
    int64_t new_member_join_timeout_ms = 300'000;
    int32_t max_metadata_bytes = 4096;           // offset.metadata.max.bytes
    uint64_t offsets_compact_bytes = 4u << 20;   // journal size that triggers a snapshot
    bool offsets_background_io = true;           // fsync offsets off the io thread
    uint64_t member_id_seed = 0;                 // seeds generated member ids; 0 = random_device
    // KIP-848 consumer groups (Kafka's group.consumer.* broker configs).
    int32_t consumer_session_timeout_ms = 45'000;     // group.consumer.session.timeout.ms
    int32_t consumer_heartbeat_interval_ms = 5'000;   // group.consumer.heartbeat.interval.ms
    int32_t consumer_max_size = INT32_MAX;            // group.consumer.max.size
    // group.consumer.assignors: the first is the default.
    std::vector<std::string> consumer_assignors = {"uniform", "range"};
};

enum class group_state : int8_t { empty, preparing_rebalance, completing_rebalance, stable, dead };

// Kafka's names: "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead".
std::string_view to_string(group_state state);
// Case-insensitive, as ListGroups v4's states filter is.
std::optional<group_state> parse_group_state(std::string_view name);

struct group_protocol {
    std::string name;
    std::string metadata;
};

struct join_group_request {
    std::string group_id;
    std::string member_id;                        // empty on a first join
    std::optional<std::string> group_instance_id; // static membership (v5+)
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = -1;            // -1: the session timeout (v0)
    std::string protocol_type;
    std::vector<group_protocol> protocols;        // in the member's order of preference
    bool require_known_member_id = false;         // v4+: answer MEMBER_ID_REQUIRED first
    bool supports_skip_assignment = false;        // v9+
    std::optional<std::string> reason;            // v8+, logged
};

struct join_group_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string metadata;
};

struct join_group_result {
    error_code error = error_code::none;
    int32_t generation_id = -1;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string leader_id;
    bool skip_assignment = false;
    std::string member_id;
    std::vector<join_group_member> members;       // the leader's copy only
};

struct sync_group_request {
    std::string group_id;
    int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::optional<std::string> protocol_type;     // v5+; checked when present
    std::optional<std::string> protocol_name;
    std::vector<std::pair<std::string, std::string>> assignments;  // member id, assignment (leader only)
};

struct sync_group_result {
    error_code error = error_code::none;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string assignment;
};

struct heartbeat_request {
    std::string group_id;
    int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
};

struct leave_group_member {
    std::string member_id;                        // may be empty when group_instance_id is set
    std::optional<std::string> group_instance_id;
    std::optional<std::string> reason;
};

struct leave_group_result {
    error_code error = error_code::none;          // whole request
    std::vector<error_code> members;              // one per requested member, in order
};

struct offset_commit_request {
    std::string group_id;
    int32_t generation_id = -1;                   // -1: a commit outside group management
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<offset_commit_entry> entries;     // commit_timestamp_ms is set by the coordinator
    int16_t api_version = 9;                      // a KIP-848 member must commit with v9+
};

struct described_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::string metadata;    // Stable groups only
    std::string assignment;  // Stable groups only
};

struct group_description {
    error_code error = error_code::none;
    std::string group_id;
    std::string state;           // "Dead" for unknown groups
    std::string protocol_type;
    std::string protocol_data;   // the selected protocol, Stable groups only
    std::vector<described_member> members;
};

struct group_listing {
    std::string group_id;
    std::string protocol_type;
    group_state state;           // classic groups; consumer groups map theirs (Reconciling -> preparing_rebalance)
    std::string state_name;      // Kafka's name of the state, of either type
    std::string type = "classic";  // "classic" or "consumer" (ListGroups v5)
};

// ConsumerGroupHeartbeat (KIP-848), decoded. Optional fields are null when
// they did not change since the member's last heartbeat.
struct consumer_heartbeat_request {
    std::string group_id;
    std::string member_id;
    int32_t member_epoch = 0;
    std::optional<std::string> instance_id;
    std::optional<std::string> rack_id;
    int32_t rebalance_timeout_ms = -1;
    std::optional<std::vector<std::string>> subscribed_names;
    std::optional<std::string> subscribed_regex;
    std::optional<std::string> server_assignor;
    std::optional<partition_map> owned;
    std::string client_id;
    std::string client_host;
    int16_t api_version = 0;   // v1+: the client generates its member id
};

struct consumer_heartbeat_result {
    error_code error = error_code::none;
    std::optional<std::string> error_message;
    std::optional<std::string> member_id;
    int32_t member_epoch = 0;
    int32_t heartbeat_interval_ms = 0;
    std::optional<partition_map> assignment;  // null: unchanged
};

struct classic_group;

class group_coordinator {
public:
    // `data_dir` holds the committed offsets (created by open()). Every
    // reference must outlive the coordinator.
    group_coordinator(asio::io_context& io, millrace::clock& clock, file_system& fs, std::string data_dir,
                      group_settings settings, metrics::registry& metrics);
    // Calls close().
    ~group_coordinator();

    group_coordinator(const group_coordinator&) = delete;
    group_coordinator& operator=(const group_coordinator&) = delete;

    // Loads committed offsets; every group that has some starts out Empty.
    // Errors are the offset store's (errc::corruption means stored offsets
    // cannot be trusted).
    status open();
    // Wakes every waiting JoinGroup/SyncGroup with NOT_COORDINATOR so their
    // coroutines finish, then makes queued offset commits durable. Later
    // calls answer NOT_COORDINATOR. Idempotent.
    void close();
    // Applies everything time-based: session expiry, rebalance and sync
    // timeouts, the initial rebalance delay and, every
    // offsets_retention_check_interval_ms, offset expiry and removal of empty
    // groups without offsets. Call every ~100 ms.
    void tick();

    // Completes when the member is part of a new generation, or at once with
    // an error (MEMBER_ID_REQUIRED carries the id to rejoin with).
    asio::awaitable<join_group_result> join_group(join_group_request request);
    // Completes with the member's assignment once the leader has sent it.
    asio::awaitable<sync_group_result> sync_group(sync_group_request request);
    error_code heartbeat(const heartbeat_request& request);
    leave_group_result leave_group(const std::string& group_id, const std::vector<leave_group_member>& members);

    // Validates membership and generation, then stores the offsets durably.
    // Returns one error per entry, in order; completes after the fsync.
    asio::awaitable<std::vector<error_code>> commit_offsets(offset_commit_request request);
    // A committed transaction's offsets (TxnOffsetCommit): stored durably as
    // they are, without membership checks (the transaction coordinator
    // checked the producer; Kafka applies them when the COMMIT marker lands).
    asio::awaitable<status> commit_transactional_offsets(std::string group_id, std::vector<offset_commit_entry> entries);
    std::optional<committed_offset> committed(const std::string& group_id, const std::string& topic,
                                              int32_t partition) const;
    // Visits the group's committed offsets ordered by topic, then partition.
    void for_each_committed_in(const std::string& group_id,
                               const std::function<void(const std::string& topic, int32_t partition,
                                                        const committed_offset& value)>& fn) const;
    // Visits every committed offset, for consumer-lag metrics.
    void for_each_committed(const std::function<void(const std::string& group, const std::string& topic,
                                                     int32_t partition, int64_t offset)>& fn) const;
    const offset_store& offsets() const { return store_; }

    group_description describe_group(const std::string& group_id) const;
    // Groups whose state is in `states` (all of them when empty).
    std::vector<group_listing> list_groups(const std::vector<group_state>& states = {}) const;
    // Deletes Empty groups with their offsets: one error per id, in order
    // (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP). Completes after the fsync.
    asio::awaitable<std::vector<error_code>> delete_groups(std::vector<std::string> group_ids);

    // OffsetDelete: removes the group's committed offsets of these partitions,
    // durably. The first error is the group's (NOT_COORDINATOR,
    // GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP for a live group whose protocol type
    // is not "consumer", COORDINATOR_NOT_AVAILABLE when the write failed); the
    // rest one per partition: GROUP_SUBSCRIBED_TO_TOPIC for a topic the live
    // group's members subscribe to (kept), none for the others (deleted).
    asio::awaitable<std::pair<error_code, std::vector<error_code>>> delete_offsets(
        std::string group_id, std::vector<std::pair<std::string, int32_t>> partitions);

    // ConsumerGroupHeartbeat: joins, leaves, heartbeats and reconciles one
    // member of a KIP-848 group against `topics` (the broker's topics now).
    consumer_heartbeat_result consumer_group_heartbeat(const consumer_heartbeat_request& request,
                                                       const topic_snapshot& topics);
    // The KIP-848 group with this id, or null (also for classic groups).
    const consumer_group* find_consumer_group(const std::string& group_id) const;
    // Every group of both types (ListGroups v5).
    std::vector<group_listing> list_all_groups() const;
    // OffsetFetch v9: a consumer group checks the member id and epoch when
    // given (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH); others pass.
    error_code validate_offset_fetch(const std::string& group_id, const std::optional<std::string>& member_id,
                                     int32_t member_epoch) const;

    // TxnOffsetCommit v3+ (KIP-447): the producer's consumer group metadata
    // must name a current member and generation (classic) or member epoch
    // (KIP-848), so a zombie that lost its partitions in a rebalance cannot
    // commit offsets in a transaction (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
    // FENCED_INSTANCE_ID, FENCED_/STALE_MEMBER_EPOCH). Generation -1 without a
    // member id (v0-2, or a producer outside group management) passes.
    error_code validate_txn_offset_commit(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                                          const std::optional<std::string>& group_instance_id) const;

    // For tests and the admin view: the group's state, nullopt when unknown.
    std::optional<group_state> state_of(const std::string& group_id) const;
    int32_t generation_of(const std::string& group_id) const;
    size_t member_count(const std::string& group_id) const;
    bool closed() const { return closed_; }

private:
    using mono_time = millrace::clock::mono_time;

    classic_group* find_group(const std::string& id) const;
    classic_group& create_group(const std::string& id);
    void remove_group(const std::string& id);
    void set_state(classic_group& g, group_state state);

    void handle_join(join_group_request& request, const std::shared_ptr<waiter<join_group_result>>& done);
    void join_unknown_member(classic_group& g, join_group_request& request,
                             const std::shared_ptr<waiter<join_group_result>>& done);
    void join_known_member(classic_group& g, join_group_request& request,
                           const std::shared_ptr<waiter<join_group_result>>& done);
    void add_member_and_rebalance(classic_group& g, const std::string& member_id, join_group_request& request,
                                  const std::shared_ptr<waiter<join_group_result>>& done);
    void update_member_and_rebalance(classic_group& g, const std::string& member_id, join_group_request& request,
                                     const std::shared_ptr<waiter<join_group_result>>& done);
    void replace_static_member(classic_group& g, const std::string& old_id, const std::string& new_id,
                               join_group_request& request, const std::shared_ptr<waiter<join_group_result>>& done);
    join_group_result current_generation_result(const classic_group& g, const std::string& member_id,
                                                bool with_members) const;

    void handle_sync(const sync_group_request& request, const std::shared_ptr<waiter<sync_group_result>>& done);
    error_code validate_member(const classic_group& g, const std::string& member_id,
                               const std::optional<std::string>& instance_id, std::optional<int32_t> generation) const;

    void maybe_prepare_rebalance(classic_group& g, std::string_view reason);
    void prepare_rebalance(classic_group& g, std::string_view reason);
    void try_complete_join(classic_group& g);
    void complete_join(classic_group& g);
    void remove_member(classic_group& g, const std::string& member_id, error_code reason);
    void on_members_removed(classic_group& g, std::string_view reason);
    void touch(classic_group& g, const std::string& member_id);

    void tick_group(classic_group& g, mono_time now);
    void tick_consumer_group(consumer_group& g, mono_time now);
    // Group membership on disk (group_state_format.h): written whole when it
    // differs from what was last written (checked at every tick and on
    // close), read back by open().
    std::string encode_group_state() const;
    void persist_group_state();
    status load_group_state();
    // Removes a member of a KIP-848 group (left, expired or fenced): its
    // partitions are free once the next target assignment is computed.
    void remove_consumer_member(consumer_group& g, const std::string& member_id, std::string_view reason);
    consumer_group* find_consumer(const std::string& id) const;
    // OffsetCommit's checks for a KIP-848 group.
    // Stores the accepted entries of a validated commit durably.
    asio::awaitable<std::vector<error_code>> store_offsets(offset_commit_request request, std::vector<error_code> errors);
    error_code validate_consumer_commit(consumer_group& g, const offset_commit_request& request, int16_t api_version);
    void sweep_offsets();
    std::string make_member_id(std::string_view prefix);

    asio::io_context& io_;
    millrace::clock& clock_;
    group_settings settings_;
    file_system& fs_;
    std::string dir_;
    std::string persisted_state_;   // the bytes last written to the group state file
    log::logger log_{"groups"};
    offset_store store_;
    std::mt19937_64 rng_;
    std::map<std::string, std::unique_ptr<classic_group>> groups_;
    // KIP-848 groups. A group id is in at most one of groups_ and consumer_groups_.
    std::map<std::string, std::unique_ptr<consumer_group>> consumer_groups_;
    uint64_t next_join_order_ = 0;
    mono_time last_sweep_;
    bool closed_ = false;

    std::map<group_state, metrics::gauge*> state_gauges_;
    metrics::gauge& members_gauge_;
    metrics::counter& rebalances_;
};

}  // namespace millrace::kafka
