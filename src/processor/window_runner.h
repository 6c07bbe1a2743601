// The engine's side of one windowed pipeline: which windows of which
// partition were restored from the window store, and how far each partition's
// effect on the store is durable.
//
// The sql library's window_state does the counting (partials per window,
// group key and partition, each with the last offset it covers, so a replay
// skips what is counted). This class adds what the engine needs around it:
// a window's stored partials are restored before the first record of that
// (partition, window) is added (the job also restores every open window of a
// partition when it is assigned), and a partition's offsets become committable
// only up to the records whose partials (and fired rows) the store holds.
//
// Not thread-safe: the job's worker thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "millrace/sql/pipeline.h"
#include "millrace/sql/program.h"

namespace millrace::processor {

class window_runner {
public:
    using snapshot = std::map<int32_t, std::optional<int64_t>>;  // partition -> last applied offset

    window_runner(size_t pipeline, std::unique_ptr<sql::window_state> state, sql::window_spec spec,
                  std::optional<size_t> time_index)
        : pipeline_(pipeline), state_(std::move(state)), spec_(spec), time_index_(time_index) {}

    size_t pipeline() const { return pipeline_; }
    // The job key of this pipeline's rows in the window store: "<job>@<plan fingerprint>".
    const std::string& state_key() const { return state_key_; }
    void set_state_key(std::string key) { state_key_ = std::move(key); }
    sql::window_state& state() { return *state_; }
    std::optional<size_t> time_index() const { return time_index_; }

    // The starts of the windows an event time falls in (one for TUMBLE and
    // CUMULATE, size/slide for HOP).
    std::vector<int64_t> window_starts(int64_t event_ms) const;
    // Whether the stored partials of (partition, window start) must be
    // restored before a record of it is added: not restored yet, and the
    // window has not fired (a record for a fired window is late anyway).
    bool needs_restore(int32_t partition, int64_t start) const;
    void restored(int32_t partition, int64_t start) { restored_.emplace(partition, start); }

    // Every record of `partition` up to `offset` was handled.
    void applied(int32_t partition, int64_t offset);
    snapshot applied_snapshot() const;
    // The store holds the effect of every record up to the snapshot's offsets.
    void made_durable(const snapshot& s);
    // One past the last offset whose effect is durable; nullopt before the first round.
    std::optional<int64_t> durable_position(int32_t partition) const;

    // The partitions assigned (and not revoked) since construction.
    std::vector<int32_t> partitions() const;
    // The windows up to this watermark fired before this run (window_store's
    // window_fired): a replayed record may reopen one, which must not reach a
    // Kafka sink a second time. Raised, never lowered.
    void fired_before(int64_t watermark) {
        if (!fired_before_ || watermark > *fired_before_) fired_before_ = watermark;
    }
    bool fired_before_this_run(const sql::window_bounds& window) const {
        return fired_before_ && window.end_ms - 1 <= *fired_before_;
    }

    // `now_us`: the wall clock at the assignment, the base of the partition's write timestamps.
    void assign(int32_t partition, int64_t now_us = 0);
    // The CQL write timestamp (USING TIMESTAMP, µs) of this owner's next write of a partial of
    // `partition`: strictly increasing per owner, starting at the assignment's wall clock. A process
    // assigned the partition later (a rebalance) writes with greater timestamps than everything the
    // previous owner writes, so a stale owner that still writes after losing the partition never
    // overwrites the newer owner's partials (fencing by assignment time, as clocks are synchronised far
    // within a rebalance; Cassandra's last-write-wins does the rest).
    int64_t next_write_timestamp(int32_t partition);
    void revoke(int32_t partition);
    // Forgets restore marks of windows the watermark has passed.
    void prune();

private:
    struct partition_state {
        std::optional<int64_t> applied_through;
        std::optional<int64_t> durable_through;
        int64_t fence_us = 0;  // the last write timestamp handed out
    };
    int64_t max_size() const { return spec_.size_ms; }

    size_t pipeline_;
    std::string state_key_;
    std::unique_ptr<sql::window_state> state_;
    sql::window_spec spec_;
    std::optional<size_t> time_index_;
    std::set<std::pair<int32_t, int64_t>> restored_;
    std::map<int32_t, partition_state> partitions_;
    std::optional<int64_t> fired_before_;
};

}  // namespace millrace::processor
