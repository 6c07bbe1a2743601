// Kafka protocol error codes, with their exact wire values.
#pragma once

#include <cstdint>

namespace millrace::kafka {

enum class error_code : int16_t {
    unknown_server_error = -1,           // unexpected server error
    none = 0,
    offset_out_of_range = 1,             // requested offset outside the log's range
    corrupt_message = 2,                 // record batch failed its CRC or is malformed
    unknown_topic_or_partition = 3,
    invalid_fetch_size = 4,
    leader_not_available = 5,
    not_leader_or_follower = 6,
    request_timed_out = 7,
    message_too_large = 10,              // batch larger than max.message.bytes
    coordinator_load_in_progress = 14,
    coordinator_not_available = 15,
    not_coordinator = 16,
    invalid_topic_exception = 17,        // illegal topic name
    record_list_too_large = 18,
    invalid_required_acks = 21,
    illegal_generation = 22,
    inconsistent_group_protocol = 23,
    invalid_group_id = 24,
    unknown_member_id = 25,
    invalid_session_timeout = 26,
    rebalance_in_progress = 27,
    invalid_commit_offset_size = 28,
    topic_authorization_failed = 29,     // the principal may not use this topic (ACLs)
    group_authorization_failed = 30,     // the principal may not use this group (ACLs)
    cluster_authorization_failed = 31,   // the principal may not do this cluster operation (ACLs)
    invalid_timestamp = 32,
    unsupported_sasl_mechanism = 33,     // SaslHandshake: mechanism not enabled
    illegal_sasl_state = 34,             // a SASL request out of order, or on a connection without SASL
    unsupported_version = 35,
    topic_already_exists = 36,
    invalid_partitions = 37,
    invalid_replication_factor = 38,
    invalid_replica_assignment = 39,
    invalid_config = 40,
    invalid_request = 42,
    unsupported_for_message_format = 43,
    out_of_order_sequence_number = 45,
    duplicate_sequence_number = 46,
    invalid_producer_epoch = 47,
    invalid_txn_state = 48,
    invalid_producer_id_mapping = 49,
    invalid_transaction_timeout = 50,
    concurrent_transactions = 51,        // the transaction is completing (markers being written); retry
    transaction_coordinator_fenced = 52,
    security_disabled = 54,
    operation_not_attempted = 55,        // another part of the request failed first              // ACL APIs on a broker without an authorizer
    kafka_storage_error = 56,            // the log directory failed (disk full, I/O error)
    transactional_id_authorization_failed = 53,  // transactional records without an authorized transactional id
    sasl_authentication_failed = 58,     // wrong credentials; the connection is closed
    unknown_producer_id = 59,
    non_empty_group = 68,
    group_id_not_found = 69,
    fetch_session_id_not_found = 70,
    invalid_fetch_session_epoch = 71,
    fenced_leader_epoch = 74,
    unknown_leader_epoch = 75,
    unsupported_compression_type = 76,
    member_id_required = 79,             // JoinGroup v4+: rejoin with the returned member id
    group_max_size_reached = 81,
    fenced_instance_id = 82,
    election_not_needed = 84,            // ElectLeaders: the preferred leader already leads
    group_subscribed_to_topic = 86,      // OffsetDelete: members still consume the topic
    invalid_record = 87,
    unstable_offset_commit = 88,         // OffsetFetch require_stable: a transaction holds pending offsets
    producer_fenced = 90,                // a newer producer with the same transactional id took over (KIP-588)
    resource_not_found = 91,             // e.g. deleting a SCRAM credential that does not exist
    duplicate_resource = 92,             // e.g. one user twice in AlterUserScramCredentials
    unacceptable_credential = 93,        // SCRAM iterations out of bounds, empty user name
    unknown_topic_id = 100,
    transactional_id_not_found = 105,    // DescribeTransactions of an id the coordinator does not know
    fenced_member_epoch = 110,           // ConsumerGroupHeartbeat: the member's epoch is not the coordinator's; rejoin
    unreleased_instance_id = 111,        // ConsumerGroupHeartbeat: a live member still holds the instance id
    unsupported_assignor = 112,          // ConsumerGroupHeartbeat: ServerAssignor is not one of group.consumer.assignors
    stale_member_epoch = 113,            // OffsetCommit/OffsetFetch: an older member epoch of a consumer group
    invalid_regular_expression = 128,    // ConsumerGroupHeartbeat v1: SubscribedTopicRegex does not compile
};

inline int16_t wire(error_code code) { return static_cast<int16_t>(code); }

}  // namespace millrace::kafka
