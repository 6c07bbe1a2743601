// Which WAL position may be confirmed to PostgreSQL: the end LSN of the
// longest prefix of transactions whose every message the broker acknowledged.
//
// Rationale: librdkafka acknowledges messages out of order across partitions,
// and a transaction's rows may be spread over partitions and topics. The slot's
// confirmed flush position must never pass a row that is not yet durable in
// Kafka, so positions are tracked per transaction, in commit order.
// Not thread-safe: one capture thread owns it (delivery reports are served on
// that thread by rd_kafka_poll).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "millrace/cdc/pgoutput.h"

namespace millrace::cdc {

class ack_tracker {
public:
    using txn_id = uint64_t;

    // Opens a transaction after every earlier one. Ids grow across reset().
    txn_id begin(int64_t commit_time_unix_us);
    // One more message of `txn` handed to the producer.
    void add_message(txn_id txn);
    // The transaction ended at `end` (the Commit's end LSN); no more messages.
    void commit(txn_id txn, lsn end);
    // One message of `txn` acknowledged by the broker. Ids from before a
    // reset() are ignored.
    void ack(txn_id txn);
    // The stream is idle at `position` (a keepalive's WAL end): when no
    // transaction is open or unacknowledged, everything before it is confirmed.
    void idle_at(lsn position);

    // Highest position every message before which is acknowledged. Never decreases.
    lsn confirmed() const { return confirmed_; }
    // Messages handed to the producer and not yet acknowledged.
    uint64_t in_flight() const { return in_flight_; }
    bool empty() const { return txns_.empty(); }
    // Forgets open transactions (their messages will be re-read from the slot);
    // keeps confirmed().
    void reset();
    // Called with the commit time of each transaction as it becomes fully acknowledged.
    std::function<void(int64_t commit_time_unix_us)> on_acknowledged;

private:
    struct txn {
        txn_id id;
        int64_t commit_time_us;
        uint64_t outstanding = 0;
        bool committed = false;
        lsn end;
    };
    txn* find(txn_id id);
    void advance();

    std::deque<txn> txns_;  // ids consecutive, in commit order
    txn_id next_id_ = 1;
    uint64_t in_flight_ = 0;
    lsn confirmed_;
};

}  // namespace millrace::cdc
