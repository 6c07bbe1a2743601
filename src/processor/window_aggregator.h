// The live aggregate: users per nat and gender per tumbling window of the
// record's Kafka timestamp, kept per source partition so that a restart never
// counts a record twice.
//
// Each (window_start, nat, gender, kafka_partition) row stores `users` and
// `last_offset`, the offset of the last record of that partition counted in
// it. Records of a partition are applied in offset order, so a row says "the
// `users` records of this key with offset <= last_offset". After a restart
// the job resumes from the committed offset, which may be behind: a record
// whose offset is <= its row's last_offset is already counted and is skipped.
// Each row has one writer (the partition's owner in the consumer group), and
// at most one flush round is in flight, so a row never goes backwards.
//
// Not thread-safe: the job's worker thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace millrace::processor {

struct window_count {
    int64_t window_start_ms = 0;
    std::string nat;
    std::string gender;
    int32_t partition = 0;
    int64_t users = 0;
    int64_t last_offset = -1;
};

class window_aggregator {
public:
    explicit window_aggregator(int64_t window_ms) : window_ms_(window_ms) {}

    int64_t window_of(int64_t timestamp_ms) const;
    // Whether the stored rows of (partition, window) are loaded; add() needs them.
    bool loaded(int32_t partition, int64_t window_start_ms) const;
    // Installs the stored rows of a window; rows of other partitions are ignored.
    void load(int32_t partition, int64_t window_start_ms, const std::vector<window_count>& stored);
    // Counts one record of a loaded window, unless its row already covers
    // `offset`. Returns whether it was counted. Empty nat or gender count as "unknown".
    bool add(int32_t partition, int64_t offset, int64_t timestamp_ms, std::string_view nat, std::string_view gender);
    // Every record of `partition` up to `offset` has been applied (counted,
    // skipped, or not aggregated at all because it was rejected).
    void applied(int32_t partition, int64_t offset);

    // Starts a flush round: the rows changed since they were last written.
    // Returns nullopt when a round is in flight. An empty round completes at
    // once (nothing to write: everything applied is durable).
    std::optional<std::vector<window_count>> begin_flush();
    // Ends the round begun last; on failure its rows are written next round.
    void end_flush(bool ok);
    bool flush_in_flight() const { return in_flight_; }
    bool dirty() const { return !dirty_.empty(); }

    // One past the last offset of `partition` whose effect on the table is
    // durable; nullopt before the first completed round.
    std::optional<int64_t> durable_position(int32_t partition) const;

    void assign(int32_t partition);
    // Forgets a partition's windows (after its writes drained).
    void revoke(int32_t partition);
    // Drops windows older than `keep` windows before the newest one seen,
    // when all their rows are written; a late record loads them again.
    void evict(int keep);
    size_t window_count_loaded() const { return windows_.size(); }

private:
    struct entry {
        int64_t users = 0;
        int64_t last_offset = -1;
        uint64_t version = 0;          // bumped by each counted record
        uint64_t written_version = 0;  // the version the table holds
    };
    using window_id = std::pair<int32_t, int64_t>;  // partition, window start
    using row_key = std::pair<std::string, std::string>;  // nat, gender
    using dirty_key = std::tuple<int32_t, int64_t, std::string, std::string>;
    struct partition_state {
        std::optional<int64_t> applied_through;
        std::optional<int64_t> durable_through;
    };

    int64_t window_ms_;
    std::map<window_id, std::map<row_key, entry>> windows_;
    std::set<dirty_key> dirty_;
    std::map<int32_t, partition_state> partitions_;
    int64_t newest_window_ = INT64_MIN;
    bool in_flight_ = false;
    std::vector<std::pair<dirty_key, uint64_t>> round_;  // rows and versions of the round in flight
    std::map<int32_t, std::optional<int64_t>> round_applied_;
};

}  // namespace millrace::processor
