// Where the partial window state of every job lives: one CQL table in the
// store the jobs write to (processor.state_keyspace, `window_state`).
//
// Each row is the partial aggregate of one (job, pipeline, window, group key,
// source partition) with the offset of the last record counted in it (see
// sql::partial_state). The partition key is (job, pipeline, window_start), so
// restoring a window after a restart or an assignment is one read, and the
// merged row of a window reads every partition's partial at once:
//
//   CREATE TABLE window_state (job text, pipeline int, window_start timestamp, window_end timestamp,
//     group_key blob, kafka_partition int, last_offset bigint, state blob, updated_at timestamp,
//     PRIMARY KEY ((job, pipeline, window_start), window_end, group_key, kafka_partition))
//
// Thread-safe; the async callback runs on the CQL client's I/O thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/cql_client/client.h"
#include "millrace/sql/pipeline.h"
#include "sink.h"

namespace millrace::processor {

struct window_store_options {
    std::string contact_points;
    std::string keyspace = "millrace_jobs";
    int replication_factor = 1;
    cql_client::consistency consistency = cql_client::consistency::local_quorum;
};

struct stored_partial {
    size_t pipeline = 0;
    sql::partial_state partial;
};

class window_store {
public:
    explicit window_store(window_store_options o) : o_(std::move(o)) {}
    ~window_store() { close(); }

    // Connects, creates the keyspace and table when missing, prepares. Blocks.
    status open();
    // Upserts partials; `done` runs once after all of them with the first failure.
    void write(const std::string& job, std::vector<stored_partial> partials, sink::done_fn done);
    // Every stored partial of a window start (all partitions, group keys and ends). Blocks.
    result<std::vector<sql::partial_state>> read(const std::string& job, size_t pipeline, int64_t window_start_ms);
    // Fails what is in flight and disconnects. Blocks; idempotent.
    void close();
    std::string describe() const;

private:
    std::shared_ptr<cql_client::session> session();

    window_store_options o_;
    std::mutex mutex_;
    std::shared_ptr<cql_client::session> session_;
    cql_client::prepared_ptr insert_;
    cql_client::prepared_ptr select_;
};

}  // namespace millrace::processor
