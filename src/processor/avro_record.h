// User records in Confluent's wire format (magic 0, 4-byte schema id, Avro
// binary), as `millrace cdc --set cdc.format=avro` or any Confluent Avro
// serializer writes them: the writer schema is fetched by id (through
// `fetch`, cached here per id), resolved against the reader shape the job
// expects, and the decoded record validated like a JSON one.
//
// The reader shape: a record of the users fields, each a union with null and
// default null (so a writer that lacks a field gives missing_field, not a
// resolution error): id, first_name .. picture, nat as strings; post_code a
// string, long or double; dob and registered_date a string or a long
// (timestamp-micros/-millis, local-timestamp-*: written back as the ISO-8601
// text the JSON path carries, "1990-01-02T03:04:05Z"). Unknown writer fields
// (raw, ingested_at, new columns) are skipped by schema resolution.
//
// Not thread-safe: one per job worker.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "millrace/common/result.h"
#include "user_record.h"

namespace millrace::processor {

class avro_record_decoder {
public:
    struct writer_schema {
        std::string type = "AVRO";  // the registry's schemaType
        std::string text;
    };
    // Fetches a schema by id. not_found / invalid_argument are permanent (the
    // record is rejected); any other error is transient (retried by the caller).
    using fetch_fn = std::function<result<writer_schema>(int32_t id)>;

    explicit avro_record_decoder(fetch_fn fetch);
    ~avro_record_decoder();
    avro_record_decoder(const avro_record_decoder&) = delete;
    avro_record_decoder& operator=(const avro_record_decoder&) = delete;

    enum class outcome { ok, rejected, retry };
    // `value` must be framed (avro::wire::looks_framed). ok fills `row`;
    // rejected fills `why`; retry (the registry is unreachable) fills
    // `transient` and caches nothing.
    outcome decode(std::string_view value, user_row& row, rejection& why, std::optional<error>& transient);

    // Schema ids fetched so far.
    size_t cached() const;

    struct resolved;

private:
    fetch_fn fetch_;
    std::map<int32_t, std::shared_ptr<const resolved>> by_id_;
};

}  // namespace millrace::processor
