// A sink into one Kafka topic: librdkafka producer with acks=all and
// idempotence; a write is acknowledged when the broker acknowledged every
// record of it, so the job commits source offsets only after delivery.
//
// Threads: the producer's delivery reports are served by the sink's own poll
// thread, which runs the write callbacks.
#pragma once

#include <memory>
#include <string>
#include <vector>

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

}  // namespace millrace::processor
