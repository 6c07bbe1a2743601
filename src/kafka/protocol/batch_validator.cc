#include "protocol/batch_validator.h"

#include <fmt/format.h>

#include "protocol/record_batch.h"
#include "protocol/records.h"
#include "protocol/wire.h"

namespace millrace::kafka {
namespace {

produce_verdict reject(error_code code, std::string message) {
    produce_verdict v;
    v.error = code;
    v.message = std::move(message);
    return v;
}

// One record's fields that the per-record checks look at.
struct parsed_record {
    int64_t timestamp;
    int32_t offset_delta;
    bool has_key;
};

// Reads one record (DefaultRecord layout) from `r`; throws protocol_error
// naming the field when the bytes are inconsistent.
parsed_record read_record(reader& r, const batch_header& h, int32_t index) {
    int32_t length = r.varint();
    if (length < 0 || static_cast<size_t>(length) > r.remaining()) {
        throw protocol_error(fmt::format("record {}: length {} but {} bytes left in the batch", index, length, r.remaining()));
    }
    reader rec(r.take(static_cast<size_t>(length)));
    rec.int8();  // attributes: unused in magic 2
    parsed_record out{};
    // Wraps like Kafka's (Java) arithmetic; a sum past INT64_MAX is then far out of range.
    out.timestamp = static_cast<int64_t>(static_cast<uint64_t>(h.base_timestamp) + static_cast<uint64_t>(rec.varlong()));
    out.offset_delta = rec.varint();
    int32_t key_length = rec.varint();
    if (key_length < -1) throw protocol_error(fmt::format("record {}: key length {}", index, key_length));
    out.has_key = key_length >= 0;
    if (key_length > 0) rec.take(static_cast<size_t>(key_length));
    int32_t value_length = rec.varint();
    if (value_length < -1) throw protocol_error(fmt::format("record {}: value length {}", index, value_length));
    if (value_length > 0) rec.take(static_cast<size_t>(value_length));
    int32_t header_count = rec.varint();
    if (header_count < 0) throw protocol_error(fmt::format("record {}: header count {}", index, header_count));
    for (int32_t header_idx = 0; header_idx < header_count; ++header_idx) {
        int32_t name_length = rec.varint();
        if (name_length < 0) throw protocol_error(fmt::format("record {}: header {} has key length {}", index, header_idx, name_length));
        rec.take(static_cast<size_t>(name_length));
        int32_t content_length = rec.varint();
        if (content_length < -1) {
            throw protocol_error(fmt::format("record {}: header {} has value length {}", index, header_idx, content_length));
        }
        if (content_length > 0) rec.take(static_cast<size_t>(content_length));
    }
    if (rec.remaining() != 0) {
        throw protocol_error(fmt::format("record {}: length {} but its fields take {} bytes", index, length,
                                         static_cast<size_t>(length) - rec.remaining()));
    }
    return out;
}

// Per-record checks (LogValidator.validateRecord): key on a compacted topic,
// timestamp range for CreateTime, no LogAppendTime from a producer.
void check_record(const parsed_record& rec, int32_t index, const batch_header& h, const produce_policy& policy,
                  std::vector<std::pair<error_code, record_error>>& errors) {
    if (policy.compacted && !rec.has_key) {
        errors.push_back({error_code::invalid_record, {index, "Compacted topic cannot accept message without key"}});
        return;
    }
    bool batch_log_append_time = (h.attributes & 0x08) != 0;
    if (!policy.log_append_time && rec.timestamp != -1) {
        // 128-bit: a producer may send any 64-bit timestamp.
        __int128 diff = static_cast<__int128>(policy.now_ms) - rec.timestamp;
        bool too_old = diff > policy.timestamp_before_max_ms;
        bool too_new = -diff > policy.timestamp_after_max_ms;
        if (too_old || too_new) {
            auto low = policy.timestamp_before_max_ms > policy.now_ms ? int64_t{0} : policy.now_ms - policy.timestamp_before_max_ms;
            errors.push_back({error_code::invalid_timestamp,
                              {index, fmt::format("Timestamp {} of message with offset {} is out of range. The timestamp "
                                                  "should be within [{}, {}]",
                                                  rec.timestamp, index, low, policy.now_ms + policy.timestamp_after_max_ms)}});
        }
    } else if (batch_log_append_time) {
        errors.push_back({error_code::invalid_timestamp,
                          {index, "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime."}});
    }
}

produce_verdict validate_records(std::string_view batch, const batch_header& h, const produce_policy& policy) {
    std::string_view body = batch.substr(batch_format::k_header_size);
    std::string scratch;
    if (h.compression() != 0) {
        auto out = decompress(static_cast<compression>(h.compression()), body, policy.max_decompressed_bytes);
        if (!out) {
            return reject(error_code::corrupt_message,
                          fmt::format("record batch body ({} bytes, codec {}) does not decompress: {}", body.size(),
                                      h.compression(), out.err().message()));
        }
        scratch = std::move(*out);
        body = scratch;
    }
    std::vector<std::pair<error_code, record_error>> errors;
    reader r(body);
    try {
        for (int32_t index = 0; index < h.records_count; ++index) {
            if (r.remaining() == 0) {
                throw protocol_error(fmt::format("batch declares {} records but holds {}", h.records_count, index));
            }
            auto rec = read_record(r, h, index);
            if (rec.offset_delta != index) {
                errors.push_back({error_code::invalid_record,
                                  {index, fmt::format("record {} has offset delta {}, expected {}", index, rec.offset_delta, index)}});
                continue;
            }
            check_record(rec, index, h, policy, errors);
        }
        if (r.remaining() != 0) {
            throw protocol_error(fmt::format("Incorrect declared batch size, {} bytes remain after the {} declared records",
                                             r.remaining(), h.records_count));
        }
    } catch (const protocol_error& e) {
        return reject(error_code::invalid_record, fmt::format("Found invalid record structure: {}", e.what()));
    }
    if (errors.empty()) return {};
    produce_verdict v;
    bool any_timestamp = false;
    for (auto& [code, err] : errors) {
        any_timestamp |= code == error_code::invalid_timestamp;
        v.record_errors.push_back(std::move(err));
    }
    if (any_timestamp) {
        v.error = error_code::invalid_timestamp;
        v.message = "One or more records have been rejected due to invalid timestamp";
    } else {
        v.error = error_code::invalid_record;
        std::string first;
        for (size_t idx = 0; idx < v.record_errors.size() && idx < 3; ++idx) {
            first += fmt::format("{}{{batch_index={}, message={}}}", idx ? ", " : "", v.record_errors[idx].batch_index,
                                 v.record_errors[idx].message);
        }
        v.message = fmt::format("One or more records have been rejected due to {} record errors in total, and only "
                                "showing the first three errors at most: [{}]",
                                v.record_errors.size(), first);
    }
    return v;
}

produce_verdict validate_batch_for_produce(std::string_view batch, const produce_policy& policy) {
    using namespace batch_format;
    const auto h = read_header(batch);
    // ProduceRequest.validateRecords: magic and codec.
    if (h.magic != 2) {
        return reject(error_code::invalid_record,
                      fmt::format("Produce requests with version {} are only allowed to contain record batches with magic "
                                  "version 2, got magic {}",
                                  policy.produce_version, h.magic));
    }
    if (h.compression() > 4) {
        return reject(error_code::unsupported_compression_type,
                      fmt::format("record batch uses compression codec {}; known codecs are 0-4", h.compression()));
    }
    if (h.compression() == static_cast<int>(compression::zstd) && policy.produce_version < 7) {
        return reject(error_code::unsupported_compression_type,
                      fmt::format("zstd compression needs Produce v7 or later, request is v{}", policy.produce_version));
    }
    // UnifiedLog.analyzeAndValidateRecords: base offset, size, CRC.
    if (h.base_offset != 0) {
        return reject(error_code::invalid_record,
                      fmt::format("The baseOffset of the record batch should be 0, but it is {}", h.base_offset));
    }
    if (static_cast<int64_t>(batch.size()) > policy.max_message_bytes) {
        return reject(error_code::message_too_large,
                      fmt::format("record batch of {} bytes is larger than max.message.bytes {}", batch.size(),
                                  policy.max_message_bytes));
    }
    uint32_t actual = crc32c(batch.data() + k_attributes, batch.size() - k_attributes);
    if (actual != h.crc) {
        return reject(error_code::corrupt_message,
                      fmt::format("record batch CRC mismatch: header says {:08x}, bytes [{}, {}) give {:08x}", h.crc,
                                  k_attributes, batch.size(), actual));
    }
    // LogValidator.validateBatch: offsets and count, control and producer fields.
    if (h.last_offset_delta < 0) {
        return reject(error_code::invalid_record,
                      fmt::format("Batch has an invalid offset range: last offset delta {}", h.last_offset_delta));
    }
    if (h.records_count <= 0) {
        return reject(error_code::invalid_record, fmt::format("Invalid reported count for record batch: {}", h.records_count));
    }
    if (static_cast<int64_t>(h.last_offset_delta) + 1 != h.records_count) {
        return reject(error_code::invalid_record,
                      fmt::format("Inconsistent batch offset range [0, {}] and count of records {}", h.last_offset_delta,
                                  h.records_count));
    }
    if (h.control()) return reject(error_code::invalid_record, "Clients are not allowed to write control records");
    if (h.producer_id >= 0 && h.base_sequence < 0) {
        return reject(error_code::invalid_record,
                      fmt::format("Invalid sequence number {} in record batch with producerId {}", h.base_sequence, h.producer_id));
    }
    if (h.transactional()) {
        if (h.producer_id < 0) {
            return reject(error_code::invalid_record, "transactional record batch without a producer id");
        }
        if (!policy.transactional_request) {
            return reject(error_code::transactional_id_authorization_failed,
                          fmt::format("transactional record batch from producer {} in a request without a transactional id",
                                      h.producer_id));
        }
    }
    return validate_records(batch, h, policy);
}

}  // namespace

produce_verdict validate_produce(std::string_view records, const produce_policy& policy) {
    using namespace batch_format;
    if (records.empty()) return reject(error_code::invalid_record, "produce request carries no record batch");
    if (records.size() < k_header_size) {
        return reject(error_code::corrupt_message,
                      fmt::format("records of {} bytes are shorter than a {}-byte batch header", records.size(), k_header_size));
    }
    const auto h = read_header(records);
    if (h.batch_length < static_cast<int32_t>(k_header_size - k_log_overhead)) {
        return reject(error_code::corrupt_message,
                      fmt::format("batch length {} is smaller than the {}-byte header", h.batch_length, k_header_size - k_log_overhead));
    }
    if (h.total_size() > records.size()) {
        return reject(error_code::corrupt_message,
                      fmt::format("truncated record batch: length field says {} bytes, {} received", h.total_size(), records.size()));
    }
    if (h.total_size() < records.size()) {
        return reject(error_code::invalid_record,
                      fmt::format("Produce requests with version {} are only allowed to contain exactly one record batch "
                                  "({} bytes follow the first batch of {})",
                                  policy.produce_version, records.size() - h.total_size(), h.total_size()));
    }
    return validate_batch_for_produce(records, policy);
}

}  // namespace millrace::kafka
