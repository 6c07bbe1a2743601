// Where a job writes: one sink per sink table of the job (a CQL table or a
// Kafka topic), all behind one small asynchronous interface.
//
// Rationale: the job's flow control, offset tracking and window logic do not
// depend on the store, so they sit behind this interface; cql_table_sink and
// kafka_sink are the real ones.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/cql_client/client.h"

namespace millrace::processor {

// How one write ended. A failed write is either retryable (the store is
// unreachable, overloaded, timed out: send it again later) or a rejection
// of the data itself (send the record to the DLQ).
struct sink_outcome {
    bool ok = true;
    bool retryable = false;
    std::string message;
};

// One output row. A CQL sink reads `cells` (one per column, in the sink's
// column order); a Kafka sink reads `key`/`value` (already encoded).
struct sink_row {
    std::vector<cql_client::value> cells;
    std::optional<std::string> key;
    std::string value;
    // Write time in microseconds since the epoch (CQL: USING TIMESTAMP), so
    // that of two merged window rows the later read wins; nullopt: the server's.
    std::optional<int64_t> timestamp_us;
};

class sink {
public:
    using done_fn = std::function<void(sink_outcome)>;
    virtual ~sink() = default;

    // Connects (and for CQL creates the keyspace and table when missing and
    // prepares the upsert). Blocks; a failure is retried by the caller.
    virtual status open() = 0;
    // Writes `rows` as one request. The rows stay valid until `done`, which
    // runs once, on any thread, and must not block.
    virtual void write(std::vector<const sink_row*> rows, done_fn done) = 0;
    // Where it writes, for log lines ("CQL 127.0.0.1:9042 spark_streams.created_users").
    virtual std::string describe() const = 0;
    // Fails what is in flight and disconnects. Blocks; idempotent.
    virtual void close() = 0;
};

}  // namespace millrace::processor
