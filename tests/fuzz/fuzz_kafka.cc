// Fuzz targets of the Kafka decoders (see targets.cc).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/batch_validator.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"

// A Kafka produce RECORDS field: the validator under every policy variant it
// branches on, then, when it accepts, the record iterator the fetch path and
// compaction use, which must then agree with it.
void fuzz_kafka_record_batch(std::string_view data) {
    millrace::kafka::produce_policy policy;
    policy.now_ms = 1'700'000'000'000;
    policy.max_decompressed_bytes = 1 << 20;
    if (!data.empty()) {
        policy.compacted = data.back() & 1;
        policy.log_append_time = data.back() & 2;
        policy.transactional_request = data.back() & 4;
        policy.produce_version = (data.back() & 8) ? 9 : 3;
    }
    // Half the inputs get a correct CRC (and length) written in, so mutations
    // reach the records and the codecs instead of stopping at the checksum.
    std::string resealed;
    if (!data.empty() && (data.back() & 16) && data.size() >= millrace::kafka::batch_format::k_header_size) {
        resealed.assign(data);
        using namespace millrace::kafka::batch_format;
        millrace::kafka::write_int32_at(resealed, k_batch_length, static_cast<int32_t>(resealed.size() - k_log_overhead));
        uint32_t crc = millrace::kafka::crc32c(resealed.data() + k_attributes, resealed.size() - k_attributes);
        millrace::kafka::write_int32_at(resealed, k_crc, static_cast<int32_t>(crc));
        data = resealed;
    }
    auto verdict = millrace::kafka::validate_produce(data, policy);
    if (!verdict.ok()) return;
    int64_t records = 0;
    auto st = millrace::kafka::for_each_record(data, [&](const millrace::kafka::record_view&) { ++records; }, 1 << 20);
    if (!st || records != millrace::kafka::read_header(data).records_count) {
        std::fprintf(stderr, "validator accepted a batch the record reader rejects: %s\n",
                     st ? "record count differs" : st.err().message().c_str());
        std::abort();
    }
}

