// A sink into one Kafka topic: librdkafka producer with acks=all and
// idempotence; a write is acknowledged when the broker acknowledged every
// record of it, so the job commits source offsets only after delivery.
//
// Threads: the producer's delivery reports are served by the sink's own poll
// thread, which runs the write callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "sink.h"

namespace millrace::processor {

struct kafka_sink_options {
    std::string bootstrap;
    std::string topic;
    std::vector<std::pair<std::string, std::string>> properties;  // extra librdkafka properties
    std::string client_id = "millrace-job";
};

// The producer is created by open() (errors: a bad librdkafka property, named);
// close() flushes for up to 5 s, then fails what is left.
std::unique_ptr<sink> make_kafka_sink(kafka_sink_options options);

// The per-message opaque of a producer the job shares between its exactly-once
// sinks and its DLQ: the job's delivery callback calls delivered(), which
// consumes the target (deletes it).
struct delivery_target {
    virtual ~delivery_target() = default;
    virtual void delivered(const rd_kafka_message_t* m) = 0;
};

// The transactional id of a job instance that owns `parts` (topic, partition):
// `<prefix>-<job>-<16 hex digits>`, the digits FNV-1a 64 over "topic:partition;"
// in order. Stable across restarts and releases: a restart given the same
// partitions must reuse it to fence its predecessor (changing it breaks that).
std::string transactional_id_for(const std::string& prefix, const std::string& job,
                                 const std::set<std::pair<std::string, int32_t>>& parts);

// An exactly-once Kafka sink ('sink.delivery-guarantee' = 'exactly-once'): it
// writes through the job's transactional producer, which the job creates per
// assignment, begins (`before_write`, on the worker thread, before each
// write) and commits with the consumed offsets; the job's delivery callback
// serves the reports (delivery_target). `producer()` is the current producer;
// none, or a transaction that cannot begin, fails the write retryably.
// open()/close() do nothing: the job owns the producer.
std::unique_ptr<sink> make_transactional_kafka_sink(std::string bootstrap, std::string topic,
                                                    std::function<rd_kafka_t*()> producer,
                                                    std::function<bool()> before_write);

}  // namespace millrace::processor
