#include "fetch_session.h"

#include <algorithm>

namespace millrace::kafka {

namespace {

bool same(const session_partition& p, const std::string& topic, const uuid& topic_id, int32_t partition) {
    if (p.partition != partition) return false;
    return topic.empty() || p.topic.empty() ? p.topic == topic && p.topic_id == topic_id : p.topic == topic;
}

}  // namespace

session_partition* fetch_session::find(const std::string& topic, const uuid& topic_id, int32_t partition) {
    for (auto& p : partitions) {
        if (same(p, topic, topic_id, partition)) return &p;
    }
    return nullptr;
}

void fetch_session::forget(const std::string& topic, const uuid& topic_id, int32_t partition) {
    std::erase_if(partitions, [&](const session_partition& p) { return same(p, topic, topic_id, partition); });
}

fetch_session_cache::fetch_session_cache(millrace::clock& clock, size_t max_sessions, int64_t eviction_ms)
    : clock_(clock), max_sessions_(max_sessions), eviction_ms_(eviction_ms) {}

int32_t fetch_session_cache::new_id() {
    for (;;) {
        int32_t id = next_id_;
        next_id_ = next_id_ == INT32_MAX ? 1 : next_id_ + 1;
        if (!sessions_.contains(id)) return id;
    }
}

fetch_session* fetch_session_cache::create(std::vector<session_partition> partitions) {
    if (max_sessions_ == 0) return nullptr;
    const auto now = clock_.mono_now();
    if (sessions_.size() >= max_sessions_) {
        auto lru = std::min_element(sessions_.begin(), sessions_.end(),
                                    [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
        auto smallest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
            return a.second.partitions.size() < b.second.partitions.size();
        });
        if (now - lru->second.last_used >= std::chrono::milliseconds(eviction_ms_)) {
            sessions_.erase(lru);
        } else if (smallest->second.partitions.size() < partitions.size()) {
            sessions_.erase(smallest);
        } else {
            return nullptr;
        }
        ++evictions_;
    }
    int32_t id = new_id();
    auto& session = sessions_[id];
    session.id = id;
    session.next_epoch = 1;
    session.partitions = std::move(partitions);
    session.last_used = now;
    return &session;
}

fetch_session* fetch_session_cache::resume(int32_t id, int32_t epoch, error_code& error) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
        error = error_code::fetch_session_id_not_found;
        return nullptr;
    }
    auto& session = it->second;
    if (epoch != session.next_epoch) {
        error = error_code::invalid_fetch_session_epoch;
        return nullptr;
    }
    session.next_epoch = session.next_epoch == INT32_MAX ? 1 : session.next_epoch + 1;
    session.last_used = clock_.mono_now();
    error = error_code::none;
    return &session;
}

void fetch_session_cache::remove(int32_t id) { sessions_.erase(id); }

fetch_session* fetch_session_cache::find(int32_t id) {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : &it->second;
}

}  // namespace millrace::kafka
