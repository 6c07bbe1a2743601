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
// so that an assignment restores exactly the windows that have not fired yet. For a pipeline into a Kafka
// sink these marks are also the partitions' published watermarks, and partition -1 holds how far the
// emitter (the owner of the source's partition 0) appended the complete windows' rows.
//
// `window_plans` holds the fingerprint of each windowed pipeline's plan (window_plan_fingerprint); the job
// key of its window_state and window_fired rows is "<job>@<fingerprint>", so an edited plan starts fresh:
//
//   CREATE TABLE window_plans (job text, pipeline int, fingerprint text, updated_at timestamp,
//     PRIMARY KEY ((job), pipeline))
//
// Partials are written USING TIMESTAMP from window_runner::next_write_timestamp: a stale owner of a
// partition (it lost it in a rebalance and still writes) cannot overwrite the newer owner's rows.
//
// Thread-safe; the async callback runs on the CQL client's I/O thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/services.h"
#include "millrace/common/result.h"
#include "millrace/cql_client/client.h"
#include "millrace/sql/pipeline.h"
#include "millrace/sql/program.h"
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
    int64_t write_timestamp_us = 0;  // USING TIMESTAMP (window_runner::next_write_timestamp); 0: the server's
    std::string job;                 // the state's job key ("<job>@<fingerprint>"); "" for write()'s `job`
};

// A fingerprint (16 hex digits) of what a windowed pipeline's stored state means: the INSERT (its text,
// whitespace and comments aside), the window, and the source table's columns, computed columns and
// watermark. Stored with the state: a run of an edited job whose windowed plan changed does not restore
// the state of the old plan (its partials would decode wrongly or mean something else).
std::string window_plan_fingerprint(const sql::job_program& program, const sql::pipeline_def& pipeline);

class window_store {
public:
    explicit window_store(window_store_options o) : o_(std::move(o)) {}
    ~window_store() { close(); }

    // Connects, creates the keyspace and table when missing, prepares. Blocks.
    status open();
    // Upserts partials; `done` runs once after all of them with the first failure.
    void write(const std::string& job, std::vector<stored_partial> partials, sink::done_fn done);
    // The fingerprint stored for a job's pipeline (window_plans), nullopt when none; then stores `fingerprint`. Blocks.
    result<std::optional<std::string>> swap_plan(const std::string& job, size_t pipeline, const std::string& fingerprint);
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
    // Every fired_through of a pipeline, by partition (-1: how far a Kafka sink's windows were emitted). Blocks.
    result<std::map<int32_t, int64_t>> read_marks(const std::string& job, size_t pipeline);
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
    cql_client::prepared_ptr insert_ts_;
    cql_client::prepared_ptr insert_plan_;
    cql_client::prepared_ptr select_plan_;
    cql_client::prepared_ptr select_marks_;
};

}  // namespace millrace::processor
