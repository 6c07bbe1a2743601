// Where the job writes: the users table and the aggregate table.
//
// Rationale: the job's flow control, offset tracking and window logic do not
// depend on the store, so they sit behind this small interface; cql_sink is
// the real one (our CQL client), and tests can use an in-memory one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "millrace/common/result.h"
#include "user_record.h"
#include "window_aggregator.h"

namespace millrace::processor {

// How one write ended. A failed write is either retryable (the store is
// unreachable, overloaded, timed out: send it again later) or a rejection
// of the data itself (send the row to the DLQ).
struct sink_outcome {
    bool ok = true;
    bool retryable = false;
    std::string message;
};

class sink {
public:
    using done_fn = std::function<void(sink_outcome)>;
    virtual ~sink() = default;

    // Connects, creates the keyspace and tables when missing, and prepares the
    // statements. Blocks; a failure is retried by the caller.
    virtual status open() = 0;
    // Upserts `rows` (one request; several rows go as one unlogged batch). The
    // rows stay valid until `done`, which runs once, on any thread, and must
    // not block.
    virtual void write_users(std::vector<const user_row*> rows, done_fn done) = 0;
    // Upserts aggregate rows; `done` runs once, after all of them, with the
    // first failure if any.
    virtual void write_counts(std::vector<window_count> counts, done_fn done) = 0;
    // The stored aggregate rows of one window, all partitions. Blocks.
    virtual result<std::vector<window_count>> read_window(int64_t window_start_ms) = 0;
    // Where it writes, for log lines ("CQL 127.0.0.1:9042 spark_streams.created_users").
    virtual std::string describe() const = 0;
    // Fails what is in flight and disconnects. Blocks; idempotent.
    virtual void close() = 0;
};

}  // namespace millrace::processor
