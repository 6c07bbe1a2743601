// Dead-letter records: what a rejected record carries to the DLQ topic.
//
// The DLQ record keeps the original key and value bytes and adds headers
// naming the error and the record's origin, so an operator can find, fix and
// replay it:
//   error.code        empty_value | malformed_json | not_an_object | missing_field | wrong_type | invalid_value |
//                     malformed_avro | unknown_schema | eval_error | late_record | sink_rejected
//   error.field       the column concerned (only when there is one)
//   error.message     one human-readable line
//   source.topic      topic the record was read from
//   source.partition  its partition, decimal
//   source.offset     its offset, decimal
//   source.timestamp  its Kafka timestamp in ms since the epoch, decimal
//   processor.group   the consumer group that rejected it
//   processor.job     the job (its file name without .sql)
// Original headers of the record are kept, after these.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace millrace::processor {

// Why a record was rejected: a stable code (the sql library's decode and
// evaluation codes, plus sink_rejected), the column, one line.
struct rejection {
    std::string code;
    std::string field;
    std::string message;
};

struct record_origin {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    int64_t timestamp_ms = -1;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

header_list dlq_headers(const rejection& why, const record_origin& origin, const std::string& group,
                        const std::string& job);

}  // namespace millrace::processor
