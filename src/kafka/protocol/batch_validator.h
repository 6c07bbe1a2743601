// Strict validation of a Produce request's RECORDS field, before anything is
// written: the checks Apache Kafka 4.1 makes (ProduceRequest.validateRecords,
// UnifiedLog.analyzeAndValidateRecords, LogValidator), with the error codes it
// answers. A pure function of the bytes and a policy; it never changes the
// batch, which the log stores as sent.
//
// Rationale: a batch the log accepts is served back to every consumer as is,
// so anything a consumer would choke on (offsets beyond the record count, an
// unknown codec, a corrupt compressed body, a control bit) must be refused at
// produce time, with the error a Kafka client knows how to report.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"

namespace millrace::kafka {

// What the validator needs to know about the request and the topic.
struct produce_policy {
    int16_t produce_version = 9;
    bool transactional_request = false;   // the request carried a transactional_id
    int64_t max_message_bytes = 1048588;  // topic max.message.bytes: whole batch, log overhead included
    bool log_append_time = false;         // message.timestamp.type=LogAppendTime
    bool compacted = false;               // cleanup.policy includes compact: every record needs a key
    int64_t timestamp_before_max_ms = std::numeric_limits<int64_t>::max();  // message.timestamp.before.max.ms
    int64_t timestamp_after_max_ms = 3'600'000;                             // message.timestamp.after.max.ms
    int64_t now_ms = 0;                   // broker wall clock
    size_t max_decompressed_bytes = 64u << 20;  // a bigger body is refused (decompression bomb)
};

// One rejected record: its index in the batch (Produce v8+ record_errors).
struct record_error {
    int32_t batch_index;
    std::string message;
};

// The answer for one partition. `error` none means the records may be appended.
struct produce_verdict {
    error_code error = error_code::none;
    std::vector<record_error> record_errors;  // per-record rejections (INVALID_RECORD, INVALID_TIMESTAMP)
    std::string message;                      // one line naming the check, the batch and the numbers

    bool ok() const { return error == error_code::none; }
};

// Validates every batch of `records`. Compressed bodies are decompressed into
// a scratch buffer bounded by `policy.max_decompressed_bytes`, only to check
// the records; uncompressed batches are read in place.
produce_verdict validate_produce(std::string_view records, const produce_policy& policy);

}  // namespace millrace::kafka
