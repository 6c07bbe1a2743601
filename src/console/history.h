// Bounded in-memory metric history for the console's charts: one ring buffer
// of (time, value) points per named series ("records_in", "lag/<group>", ...).
// Each series keeps at most `capacity` points; at most `max_series` series
// exist (new names beyond that are dropped and counted). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace millrace::console {

struct point {
    int64_t time_ms = 0;
    double value = 0;
};

class history {
public:
    history(size_t capacity, size_t max_series) : capacity_(capacity), max_series_(max_series) {}

    void record(const std::string& series, int64_t time_ms, double value);
    // Points of `series` at or after `since_ms`, oldest first; empty when unknown.
    std::vector<point> points(const std::string& series, int64_t since_ms = 0) const;
    // The newest point, or nullptr-like {0,0} with found=false.
    bool latest(const std::string& series, point& out) const;
    // Names starting with `prefix`, sorted.
    std::vector<std::string> names(const std::string& prefix = {}) const;
    // Forgets series whose name starts with `prefix` and whose newest point is older than `before_ms`.
    void forget_stale(const std::string& prefix, int64_t before_ms);
    size_t dropped_series() const;
    size_t capacity() const { return capacity_; }

private:
    struct ring {
        std::vector<point> slots;
        size_t next = 0;  // where the next point goes
        size_t size = 0;  // invariant: size <= slots.size()
    };
    size_t capacity_;
    size_t max_series_;
    mutable std::mutex mutex_;
    std::map<std::string, ring> series_;  // guarded by mutex_
    size_t dropped_ = 0;                  // guarded by mutex_
};

}  // namespace millrace::console
