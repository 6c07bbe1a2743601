// A user record of topic users_created: parsed from its JSON value and
// validated, or rejected with an error code and a message for the DLQ.
//
// Two producers write the topic: millrace cdc (the PostgreSQL users row as
// flat JSON, with nat, raw and ingested_at) and the classic pipeline's Python
// producer (no nat; post_code may be a JSON number). Both are accepted;
// unknown fields are ignored.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace millrace::processor {

// Why a record was rejected; the text form goes into the DLQ header error.code.
enum class reject_code {
    empty_value,     // null or empty record value (a tombstone)
    malformed_json,  // not JSON, invalid UTF-8, trailing bytes
    not_an_object,   // JSON, but not an object
    missing_field,   // a required field is absent or null
    wrong_type,      // a field has the wrong JSON type
    invalid_value,   // right type, unusable value (id not a UUID)
    sink_rejected,   // the CQL store refused the row (not retryable)
    unknown_schema,  // Confluent-framed Avro whose schema id the registry does not have, or cannot be read as a user
    malformed_avro,  // Confluent-framed Avro whose payload does not decode with its schema
};
constexpr size_t k_reject_codes = 9;
std::string_view to_string(reject_code code);

struct rejection {
    reject_code code;
    std::string field;    // the field concerned, "" when none
    std::string message;  // one line: what and where
};

using uuid_bytes = std::array<uint8_t, 16>;

// The columns of spark_streams.created_users. dob and nat are optional.
struct user_row {
    uuid_bytes id{};
    std::string first_name, last_name, gender, address, post_code, email, username, registered_date, phone,
        picture, dob, nat;
    bool has_dob = false;
    bool has_nat = false;
};

// Parses "8-4-4-4-12" hexadecimal (either case) into 16 bytes.
bool parse_uuid(std::string_view text, uuid_bytes& out);
// Lower-case "8-4-4-4-12".
std::string format_uuid(const uuid_bytes& id);

// Parses JSON values into user rows, reusing its buffers. One per thread.
class record_parser {
public:
    record_parser();
    ~record_parser();
    record_parser(const record_parser&) = delete;
    record_parser& operator=(const record_parser&) = delete;

    // Fills `row` and returns true, or fills `why` and returns false.
    bool parse(std::string_view value, user_row& row, rejection& why);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace millrace::processor
