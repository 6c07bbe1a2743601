// The capture's Kafka side: one idempotent librdkafka producer whose delivery
// reports acknowledge rows in the ack_tracker, with back-pressure when its
// buffer (cdc.max_buffered_bytes) is full; and the read-back of the topics'
// tails that lets a resumed slot skip rows already produced.
//
// Used by the capture thread only (delivery reports are served inside poll()).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "millrace/cdc/ack_tracker.h"
#include "millrace/cdc/encoder.h"
#include "millrace/common/result.h"

struct rd_kafka_s;
struct rd_kafka_message_s;

namespace millrace::cdc {

class producer {
public:
    explicit producer(ack_tracker& tracker) : tracker_(tracker) {}
    ~producer() { close(true); }
    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;

    // Creates the librdkafka producer unless open; `settings` are librdkafka
    // properties. Errors (invalid_argument) name the setting.
    [[nodiscard]] status open(const std::vector<std::pair<std::string, std::string>>& settings);
    bool is_open() const { return handle_ != nullptr; }
    // A failed delivery or a fatal producer error, once one happened.
    [[nodiscard]] status check() const;
    // Serves delivery reports for up to `ms`.
    void poll(int ms);
    // Produces `m` to `topic` as a message of transaction `txn`. While the
    // buffer is full it polls and calls `while_full` (keep the replication
    // session alive; an error from it ends the wait). A row larger than the
    // whole buffer is an invalid_argument naming it (`where`, `max_buffered_bytes`).
    [[nodiscard]] status produce(const std::string& topic, const message& m, ack_tracker::txn_id txn,
                                 const std::function<status()>& while_full, std::string_view where,
                                 int64_t max_buffered_bytes);
    // Purges what was not delivered (the slot sends it again) and destroys the producer.
    void close(bool purge);
    bool healthy() const { return !delivery_error_; }

private:
    static void on_delivery(rd_kafka_s*, const rd_kafka_message_s* message, void* opaque);

    ack_tracker& tracker_;
    rd_kafka_s* handle_ = nullptr;
    std::optional<error> delivery_error_;
    bool backpressured_ = false;
};

// Reads each partition of `topics` from its end back to the first records
// committed before `resume_at` and adds their row positions (the "lsn"
// header) to `in_topics`. `running` false ends it early.
struct tail_request {
    std::vector<std::pair<std::string, std::string>> settings;  // librdkafka consumer properties
    std::set<std::string> topics;
    lsn resume_at;
    std::string slot;  // for messages
};
[[nodiscard]] status read_topic_tails(const tail_request& request, std::unordered_set<uint64_t>& in_topics,
                                      const std::function<bool()>& running);

// librdkafka's log lines into ours (component "cdc").
void log_kafka(const rd_kafka_s*, int level, const char* facility, const char* text);

}  // namespace millrace::cdc
