// Which offsets of each partition may be committed: only those whose every
// record (and every record before it) was acknowledged — by the CQL store,
// or by the broker for a DLQ record.
//
// Records are dispatched in micro-batches; a batch covers, per partition, a
// contiguous run of offsets (a "segment"). Batches complete out of order; the
// committable position of a partition is one past the last offset of the
// longest completed prefix of its segments. Not thread-safe: the job's worker
// thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

namespace millrace::processor {

class offset_tracker {
public:
    // Starts tracking `partition` with nothing done; assigning again starts afresh.
    void assign(int32_t partition);
    void revoke(int32_t partition);
    bool assigned(int32_t partition) const { return parts_.count(partition) != 0; }

    // Appends a segment ending at `last_offset` (offsets only grow within a
    // partition); returns its id for complete().
    uint64_t add_segment(int32_t partition, int64_t last_offset);
    // Marks a segment done. Unknown ids (a revoked partition) are ignored.
    void complete(int32_t partition, uint64_t segment);

    // One past the last offset whose run is complete; nullopt when nothing
    // completed since the partition was assigned.
    std::optional<int64_t> done_position(int32_t partition) const;
    // Segments not yet complete, over all partitions.
    size_t open_segments() const;
    std::vector<int32_t> partitions() const;

private:
    struct segment {
        uint64_t id;
        int64_t last_offset;
        bool done;
    };
    struct partition_state {
        std::deque<segment> segments;  // in offset order; front is the oldest not yet popped
        uint64_t next_id = 0;
        std::optional<int64_t> done_through;  // last offset of the completed prefix
        size_t open = 0;
    };
    std::map<int32_t, partition_state> parts_;
    // Ids of each assignment start at a new base, so a segment of an earlier
    // assignment of the same partition can never complete one of this one.
    uint64_t next_base_ = 0;
};

}  // namespace millrace::processor
