// Partition offsets through librdkafka, bounded by the caller's timeout.
//
// Rationale: rd_kafka_query_watermark_offsets in librdkafka 2.0 (Debian's)
// waits for its request's own end rather than the call's timeout, and a dead
// partition leader held its callers (up's status probe and its stop, CDC's
// resume, the registry's start) for minutes. ListOffsets through
// rd_kafka_offsets_for_times honours the timeout; every millrace client reads
// offsets through here.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "millrace/common/result.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace millrace::kafka_client {

// The first offset (which = RD_KAFKA_OFFSET_BEGINNING) or the next offset
// (RD_KAFKA_OFFSET_END, the high watermark) of partitions [0, partitions) of
// `topic`, indexed by partition. Errors name the topic, the partition and the
// broker's error.
result<std::vector<int64_t>> list_offsets(rd_kafka_t* client, const std::string& topic, int partitions, int64_t which,
                                          std::chrono::milliseconds timeout);

}  // namespace millrace::kafka_client
