#include "history.h"

namespace millrace::console {

void history::record(const std::string& series, int64_t time_ms, double value) {
    std::lock_guard lock(mutex_);
    auto it = series_.find(series);
    if (it == series_.end()) {
        if (series_.size() >= max_series_ || capacity_ == 0) {
            ++dropped_;
            return;
        }
        it = series_.emplace(series, ring{std::vector<point>(capacity_), 0, 0}).first;
    }
    ring& r = it->second;
    r.slots[r.next] = point{time_ms, value};
    r.next = (r.next + 1) % r.slots.size();
    if (r.size < r.slots.size()) ++r.size;
}

std::vector<point> history::points(const std::string& series, int64_t since_ms) const {
    std::lock_guard lock(mutex_);
    std::vector<point> out;
    auto it = series_.find(series);
    if (it == series_.end()) return out;
    const ring& r = it->second;
    size_t start = (r.next + r.slots.size() - r.size) % r.slots.size();
    for (size_t idx = 0; idx < r.size; ++idx) {
        const point& p = r.slots[(start + idx) % r.slots.size()];
        if (p.time_ms >= since_ms) out.push_back(p);
    }
    return out;
}

bool history::latest(const std::string& series, point& out) const {
    std::lock_guard lock(mutex_);
    auto it = series_.find(series);
    if (it == series_.end() || it->second.size == 0) return false;
    const ring& r = it->second;
    out = r.slots[(r.next + r.slots.size() - 1) % r.slots.size()];
    return true;
}

std::vector<std::string> history::names(const std::string& prefix) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (auto it = series_.lower_bound(prefix); it != series_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
        out.push_back(it->first);
    }
    return out;
}

void history::forget_stale(const std::string& prefix, int64_t before_ms) {
    std::lock_guard lock(mutex_);
    for (auto it = series_.lower_bound(prefix); it != series_.end() && it->first.rfind(prefix, 0) == 0;) {
        const ring& r = it->second;
        bool stale = r.size == 0 || r.slots[(r.next + r.slots.size() - 1) % r.slots.size()].time_ms < before_ms;
        it = stale ? series_.erase(it) : std::next(it);
    }
}

size_t history::dropped_series() const {
    std::lock_guard lock(mutex_);
    return dropped_;
}

}  // namespace millrace::console
