// Builds valid record batches (format v2, uncompressed) for tests, the way a
// producer would.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace millrace::kafka::testing {

struct test_record {
    std::optional<std::string> key;    // nullopt: a null key
    std::optional<std::string> value;  // nullopt: a tombstone
    std::vector<std::pair<std::string, std::string>> headers{};
};

struct batch_options {
    int64_t base_timestamp = 1'700'000'000'000;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    int32_t base_sequence = -1;
    bool transactional = false;  // attributes bit 4 (KIP-98)
};

inline std::string build_batch(const std::vector<test_record>& records, batch_options opt = {}) {
    std::string body;  // from attributes to the end
    writer w(body);
    w.int16(opt.transactional ? 0x10 : 0);  // attributes: no compression, CreateTime, transactional bit
    w.int32(static_cast<int32_t>(records.size()) - 1);
    w.int64(opt.base_timestamp);
    w.int64(opt.base_timestamp + static_cast<int64_t>(records.size()) - 1);
    w.int64(opt.producer_id);
    w.int16(opt.producer_epoch);
    w.int32(opt.base_sequence);
    w.int32(static_cast<int32_t>(records.size()));
    for (size_t idx = 0; idx < records.size(); ++idx) {
        std::string rec;
        writer r(rec);
        r.int8(0);
        r.varlong(static_cast<int64_t>(idx));  // timestamp delta
        r.varint(static_cast<int32_t>(idx));   // offset delta
        const auto& key = records[idx].key;
        r.varint(key ? static_cast<int32_t>(key->size()) : -1);
        if (key) r.raw(*key);
        const auto& value = records[idx].value;
        r.varint(value ? static_cast<int32_t>(value->size()) : -1);
        if (value) r.raw(*value);
        r.varint(static_cast<int32_t>(records[idx].headers.size()));
        for (const auto& [name, content] : records[idx].headers) {
            r.varint(static_cast<int32_t>(name.size()));
            r.raw(name);
            r.varint(static_cast<int32_t>(content.size()));
            r.raw(content);
        }
        w.varint(static_cast<int32_t>(rec.size()));
        w.raw(rec);
    }
    std::string batch;
    writer b(batch);
    b.int64(0);                                          // base offset
    b.int32(static_cast<int32_t>(body.size() + 4 + 1 + 4));  // leader epoch + magic + crc + body
    b.int32(-1);                                         // partition leader epoch
    b.int8(2);                                           // magic
    b.uint32(crc32c(body.data(), body.size()));
    b.raw(body);
    return batch;
}

}  // namespace millrace::kafka::testing
