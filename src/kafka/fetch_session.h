// Incremental fetch sessions (KIP-227). A consumer opens a session with a
// full fetch (session id 0, epoch 0); later fetches (the session id, the next
// epoch) name only the partitions whose fetch position changed and the ones to
// forget, and the response carries only partitions with news: records, an
// error, or a changed high watermark or log start offset.
//
// The cache is bounded (max_sessions). When it is full, a new session takes
// the place of the least recently used one if that one has been idle for
// eviction_ms, else of the session with the fewest partitions if the new one
// has more (Kafka's rule: small and stale sessions give way); otherwise the
// fetch is served without a session (session id 0).
//
// Not thread-safe: used on the broker's io_context thread only. Time comes
// from the injected clock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "millrace/common/clock.h"
#include "protocol/errors.h"
#include "protocol/wire.h"

namespace millrace::kafka {

// One partition a session follows, with what the client last told us and
// what we last told it.
struct session_partition {
    std::string topic;
    uuid topic_id{};
    int32_t partition = 0;
    int64_t fetch_offset = 0;
    int32_t max_bytes = 0;
    // Last values sent; a partition is resent when one of them changes.
    int64_t high_watermark = -1;
    int64_t log_start_offset = -1;
};

struct fetch_session {
    int32_t id = 0;
    int32_t next_epoch = 1;  // the epoch the next incremental request must carry
    std::vector<session_partition> partitions;  // in the order they were added
    millrace::clock::mono_time last_used{};

    // Partitions are matched by topic name, or by topic id when the name is
    // unknown (a v13+ request naming an id no topic has).
    session_partition* find(const std::string& topic, const uuid& topic_id, int32_t partition);
    void forget(const std::string& topic, const uuid& topic_id, int32_t partition);
};

class fetch_session_cache {
public:
    static constexpr int32_t k_initial_epoch = 0;
    static constexpr int32_t k_final_epoch = -1;

    fetch_session_cache(millrace::clock& clock, size_t max_sessions, int64_t eviction_ms);

    // A new session over `partitions`, or nullptr when the cache is full and
    // no session may be evicted for it. The pointer stays valid until the
    // session is removed or evicted.
    fetch_session* create(std::vector<session_partition> partitions);
    // The session `id` ready for the request's `epoch`: FETCH_SESSION_ID_NOT_FOUND
    // or INVALID_FETCH_SESSION_EPOCH otherwise. Advances the expected epoch.
    fetch_session* resume(int32_t id, int32_t epoch, error_code& error);
    void remove(int32_t id);
    // The session `id`, or nullptr (it may have been evicted meanwhile).
    fetch_session* find(int32_t id);

    size_t size() const { return sessions_.size(); }
    uint64_t evictions() const { return evictions_; }

private:
    int32_t new_id();

    millrace::clock& clock_;
    size_t max_sessions_;
    int64_t eviction_ms_;
    int32_t next_id_ = 1;
    uint64_t evictions_ = 0;
    std::map<int32_t, fetch_session> sessions_;
};

}  // namespace millrace::kafka
