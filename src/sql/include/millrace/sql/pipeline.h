// The operators after decoding: stateless filter + projection, and window
// aggregation with watermarks, late records, exactly-once partial state and
// early firing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/sql/decoder.h"
#include "millrace/sql/types.h"

namespace millrace::sql {

enum class process_status : uint8_t {
    emitted,   // `out` holds the output row
    filtered,  // the WHERE clause did not hold; nothing to write
    failed,    // `error` says why (code eval_error); send the record to the DLQ
};

// WHERE + SELECT of an INSERT without GROUP BY. One per thread.
class stateless_pipeline {
public:
    virtual ~stateless_pipeline() = default;
    // `in` is the source decoder's row; `out` is laid out as pipeline_def::output.
    virtual process_status process(const row& in, row& out, record_error& error) = 0;
    // The clock CURRENT_TIMESTAMP reads (default: the system clock).
    virtual void set_clock(clock_fn now_ms) = 0;
};

// [start, end) in milliseconds of event time.
struct window_bounds {
    int64_t start_ms = 0;
    int64_t end_ms = 0;
    auto operator<=>(const window_bounds&) const = default;
};

// The aggregate state of one (window, group key, source partition), covering
// every record of that partition up to `last_offset` (inclusive). The runtime
// stores `state` (opaque bytes, a blob) keyed by window, group_key and
// partition; a replay from an older offset skips records <= last_offset.
struct partial_state {
    window_bounds window;
    std::string group_key;  // the GROUP BY values (besides the window), encoded; stable, usable as a key
    int32_t partition = 0;
    int64_t last_offset = -1;
    std::string state;      // the accumulators and GROUP BY values, encoded
};

// One output row of a window, ready to upsert (laid out as pipeline_def::output).
struct window_output {
    window_bounds window;
    std::string group_key;
    row values;
    bool final = false;  // true: the window fired (watermark passed its end); false: an early firing
    // Set when an expression of the SELECT over the aggregates failed for this
    // row (eval_error: division by zero, a CAST that does not parse): `values`
    // is empty and the row is rejected with this reason; the other rows fire.
    std::optional<record_error> error;
};

enum class add_status : uint8_t {
    added,     // counted into the partial state of its window(s)
    skipped,   // already counted: offset <= the partial's last_offset (a replay)
    filtered,  // the WHERE clause did not hold
    late,      // every window of the record already fired; `error` (late_record) says why
    failed,    // an expression failed; `error` says why (eval_error)
};

// Window aggregation of one pipeline over the partitions this process owns.
//
// Watermarks follow Flink: a partition's watermark is the largest event time
// it has seen minus the WATERMARK delay; the state's watermark is the smallest
// over the partitions that have a watermark. A window fires when the watermark
// reaches its last millisecond (window end - 1 <= watermark). A record all of
// whose windows fired is late. After a restart, restore() the partials and
// advance_watermark() the stored watermarks before replaying, or keep fired
// windows' partials stored until the committed offsets pass them, so a replay
// neither recounts nor reopens a fired window.
// Not thread-safe: one worker owns it.
class window_state {
public:
    virtual ~window_state() = default;

    // Adds one decoded source row of `partition` at `offset`. Records of a
    // partition must come in offset order.
    virtual add_status add(const row& in, int32_t partition, int64_t offset, record_error& error) = 0;

    // Raises a partition's watermark (never lowers it): for idle partitions,
    // for a watermark restored after a restart, and for tests' manual clocks.
    virtual void advance_watermark(int32_t partition, int64_t watermark_ms) = 0;
    // The state's watermark (min over partitions that have one), nullopt before any.
    virtual std::optional<int64_t> watermark() const = 0;
    virtual std::optional<int64_t> partition_watermark(int32_t partition) const = 0;
    // Forgets a partition's watermark and partials (after a revocation).
    virtual void revoke(int32_t partition) = 0;

    // Windows the watermark has passed, not fired before: their final rows,
    // merged over the partials this state holds (all partitions it owns).
    // The windows are then dropped from memory; later records for them are late.
    virtual std::vector<window_output> fire() = 0;
    // Early firing (table.exec.emit.early-fire.enabled): rows of the groups that
    // changed since the last call, if `now_ms` is at least early-fire.delay after
    // the previous early firing. Empty when early firing is off.
    virtual std::vector<window_output> fire_early(int64_t now_ms) = 0;

    // Partials changed since the last call (to store); marks them clean. Includes
    // the last changes of windows that fired since (fire() drops them from memory).
    virtual std::vector<partial_state> take_changed() = 0;
    // Every partial held in memory for a window and group key (to merge with other processes' partials).
    virtual std::vector<partial_state> partials(const window_bounds& window, const std::string& group_key) const = 0;
    // Installs a stored partial (after a restart or an assignment) so the
    // partition continues from it. Errors: invalid_argument (corrupt bytes).
    virtual status restore(const partial_state& partial) = 0;
    // The output row of a window and group from partials of any partitions
    // (each counted once; several partials of one partition: the one with the
    // highest last_offset wins). Errors: invalid_argument on corrupt bytes or none given.
    virtual result<row> merge(const std::vector<partial_state>& partials) const = 0;
    // The clock CURRENT_TIMESTAMP reads (default: the system clock).
    virtual void set_clock(clock_fn now_ms) = 0;
};

}  // namespace millrace::sql
