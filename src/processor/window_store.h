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
// Beside it, `window_fired` holds per (job, pipeline, source partition) the
// watermark up to which that partition's windows fired and their rows were
// acknowledged by the sink (the windows with end - 1 <= fired_through):
//
//   CREATE TABLE window_fired (job text, pipeline int, kafka_partition int, fired_through bigint,
//     updated_at timestamp, PRIMARY KEY ((job, pipeline), kafka_partition))
//
// so that an assignment restores exactly the windows that have not fired yet.
//
// Thread-safe; the async callback runs on the CQL client's I/O thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/services.h"
#include "millrace/common/result.h"
#include "millrace/cql_client/client.h"
#include "millrace/sql/pipeline.h"
#include "sink.h"

namespace millrace::processor {

// The TTL (seconds) of a window_state row written at now_ms: 7 days after the
// window's end (after now_ms for a window already past), at most CQL's maximum.
int32_t state_ttl_seconds(int64_t window_end_ms, int64_t now_ms);

struct window_store_options {
    std::string contact_points;
    services::cql_login login;  // credentials and TLS CA (empty: none)
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
    // Every stored partial of one source partition whose window ends after
    // `fired_through` + 1 (all of them when nullopt): the windows of that
    // partition that have not fired. A filtering read of the job's rows. Blocks.
    result<std::vector<sql::partial_state>> read_open(const std::string& job, size_t pipeline, int32_t partition,
                                                      std::optional<int64_t> fired_through);
    // Records that the windows of `partitions` up to `fired_through` fired; `done` as for write().
    void write_fired(const std::string& job, size_t pipeline, const std::vector<int32_t>& partitions, int64_t fired_through,
                     sink::done_fn done);
    // The stored fired_through of one partition; nullopt when none fired yet. Blocks.
    result<std::optional<int64_t>> read_fired(const std::string& job, size_t pipeline, int32_t partition);
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
    cql_client::prepared_ptr select_job_;
    cql_client::prepared_ptr insert_fired_;
    cql_client::prepared_ptr select_fired_;
};

}  // namespace millrace::processor
