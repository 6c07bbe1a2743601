// The transaction coordinator (KIP-98, as Apache Kafka 4.1 behaves with
// transaction.version 1): one state machine per transactional id, kept in
// memory and in a durable log (txn_log.h), driving the COMMIT/ABORT markers
// written to every partition of a transaction and the transaction's consumer
// offsets, which reach the group only when it commits.
//
// States: Empty -> Ongoing (AddPartitionsToTxn / AddOffsetsToTxn) ->
// PrepareCommit | PrepareAbort (EndTxn, timeout, fencing: logged before any
// marker) -> CompleteCommit | CompleteAbort (markers and offsets written) ->
// Ongoing again with the next transaction. A Prepare* state found after a
// restart is completed; an Ongoing one is aborted.
//
// Threading: the broker's io_context thread only. Every state change is
// fsynced to the log before the caller answers the client.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "group/offset_store.h"
#include "millrace/common/log.h"
#include "millrace/common/result.h"
#include "protocol/errors.h"
#include "txn/txn_log.h"

namespace millrace::kafka {

class broker_core;

struct txn_init_result {
    error_code error = error_code::none;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
};

// What DescribeTransactions and ListTransactions show.
struct txn_description {
    std::string transactional_id;
    std::string state;  // Kafka's names: Empty, Ongoing, PrepareCommit, ...
    int32_t timeout_ms;
    int64_t start_ms;
    int64_t producer_id;
    int16_t producer_epoch;
    std::map<std::string, std::vector<int32_t>> partitions;
};

class txn_coordinator {
public:
    // `max_timeout_ms` is transaction.max.timeout.ms.
    txn_coordinator(broker_core& broker, std::string dir, int64_t max_timeout_ms);
    ~txn_coordinator();

    // Loads the log (cutting a torn tail), then completes every transaction
    // left in a Prepare state and aborts every Ongoing one. errc::corruption
    // when a record inside the log fails its checksum.
    status open();
    void close();

    // InitProducerId with a transactional id: a new producer id, or the
    // current one with its epoch bumped (fencing older producers; an open
    // transaction is aborted first). `producer_id`/`producer_epoch` are the
    // caller's (KIP-360 recovery), -1 when absent.
    txn_init_result init_producer_id(const std::string& id, int32_t timeout_ms, int64_t producer_id,
                                     int16_t producer_epoch, int16_t version);
    // AddPartitionsToTxn for one transaction: one error per partition, in
    // order. With `verify_only`, only checks that they are part of it.
    std::vector<error_code> add_partitions(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                                           const std::vector<txn_partition>& partitions, bool verify_only,
                                           int16_t version);
    error_code add_offsets(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                           const std::string& group, int16_t version);
    // TxnOffsetCommit: the offsets wait in the transaction until it commits.
    error_code txn_offset_commit(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                                 const std::string& group, std::vector<offset_commit_entry> entries);
    // EndTxn: writes the markers (and on commit the pending offsets), then
    // answers. The producer id and epoch the producer continues with are set
    // on success (EndTxn v5).
    asio::awaitable<error_code> end_txn(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                                        bool commit, int16_t version);
    // Whether a Produce of transactional batches to `partition` may be
    // appended: the transaction is Ongoing with this producer and epoch and
    // the partition was added to it (KIP-890 part 1 verification).
    error_code verify_produce(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                              const txn_partition& partition) const;
    // Whether `group`'s offset of the partition waits in an open transaction
    // (OffsetFetch require_stable answers UNSTABLE_OFFSET_COMMIT).
    bool has_pending_offset(const std::string& group, const std::string& topic, int32_t partition) const;

    // Aborts transactions open longer than their timeout (with an epoch
    // bump, so the producer is fenced). Call every ~100 ms.
    void tick();

    std::optional<txn_description> describe(const std::string& id) const;
    std::vector<txn_description> list() const;

private:
    // Persists `txn`'s state; errors are logged and answered as
    // COORDINATOR_NOT_AVAILABLE by the callers.
    status persist(const txn_state_record& txn);
    error_code check_producer(const txn_state_record& txn, int64_t producer_id, int16_t producer_epoch,
                              int16_t version, int16_t first_fenced_version) const;
    // Writes the markers of `txn` (already in a Prepare state, logged) to its
    // partitions and syncs them. Returns false on an I/O error.
    bool write_markers(txn_state_record& txn, bool commit);
    // Abort without offsets: Prepare -> markers -> Complete, synchronously.
    status abort_now(txn_state_record& txn, bool bump_epoch);
    void finish(txn_state_record& txn, bool commit);
    asio::awaitable<void> recover_commit(std::string id);

    broker_core& broker_;
    int64_t max_timeout_ms_;
    log::logger log_{"txn"};
    txn_log log_file_;
    std::map<std::string, txn_state_record> txns_;
};

}  // namespace millrace::kafka
