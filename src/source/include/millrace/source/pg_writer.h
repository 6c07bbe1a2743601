// Stores users in PostgreSQL table `users`: schema by versioned migrations,
// one transaction per batch (COPY into a session temp table, then
// INSERT ... ON CONFLICT (id) DO NOTHING), so a batch lands whole or not at
// all and the same user (login.uuid) is stored once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/pg_client/connection.h"

namespace millrace::source {

// How the original document is kept in column `raw` (see docs/performance.md).
enum class raw_storage { off, json, jsonb, text };
result<raw_storage> parse_raw_storage(std::string_view text);
std::string_view to_string(raw_storage storage);

// One row of `users`, in the classic pipeline's formatting.
struct user_row {
    std::string id;          // login.uuid
    std::string first_name, last_name, gender;
    std::string address;     // "<number> <street>, <city>, <state>, <country>"
    std::string post_code, email, username;
    std::string dob, registered_date;  // ISO 8601, stored as timestamptz
    std::string phone, picture, nat;
    std::string raw;         // the user's JSON document ("" when raw is off)
};

struct batch_result {
    int64_t inserted = 0;
    int64_t duplicates = 0;
};

// Appends `rows` in COPY text format (the columns write_encoded expects) to
// `out`. Pure: callable from any thread.
void encode_copy_rows(const std::vector<user_row>& rows, raw_storage raw, std::string& out);

// Not thread-safe: one writer per thread.
class pg_writer {
public:
    pg_writer(std::string dsn, raw_storage raw);
    ~pg_writer();
    pg_writer(const pg_writer&) = delete;
    pg_writer& operator=(const pg_writer&) = delete;

    // Applies the migrations not yet applied (table schema_migrations). Safe
    // to run concurrently from several processes (advisory lock).
    status migrate();
    // Writes `rows` in one transaction. A lost connection or a server that is
    // shutting down is `unavailable` (retry the same batch: nothing of it was
    // kept); the next call reconnects. Other failures are not retryable.
    result<batch_result> write_batch(const std::vector<user_row>& rows);
    // The same for rows already in COPY text form (encode_copy_rows), so that a
    // fetching thread can encode while this one writes; `row_count` rows.
    result<batch_result> write_encoded(std::string_view copy_text, int64_t row_count);
    // SELECT count(*) FROM users.
    result<int64_t> count_users();

private:
    status connect();

    std::string dsn_;
    raw_storage raw_;
    pg::connection conn_;  // opened on first use, again after it was lost
};

}  // namespace millrace::source
