#include "window_runner.h"

namespace millrace::processor {

namespace {
int64_t floor_to(int64_t t, int64_t step, int64_t offset) {
    int64_t x = t - offset;
    int64_t q = x / step;
    if (x < 0 && q * step != x) --q;
    return q * step + offset;
}
}  // namespace

std::vector<int64_t> window_runner::window_starts(int64_t event_ms) const {
    std::vector<int64_t> out;
    if (spec_.size_ms <= 0) return out;
    if (spec_.kind == sql::window_kind::hop && spec_.slide_ms > 0) {
        for (int64_t start = floor_to(event_ms, spec_.slide_ms, spec_.offset_ms); start > event_ms - spec_.size_ms;
             start -= spec_.slide_ms) {
            out.push_back(start);
        }
        return out;
    }
    out.push_back(floor_to(event_ms, spec_.size_ms, spec_.offset_ms));
    return out;
}

bool window_runner::needs_restore(int32_t partition, int64_t start) const {
    if (restored_.count({partition, start}) != 0) return false;
    auto wm = state_->watermark();
    return !(wm && start + max_size() - 1 <= *wm);
}

void window_runner::applied(int32_t partition, int64_t offset) {
    auto& p = partitions_[partition];
    if (!p.applied_through || offset > *p.applied_through) p.applied_through = offset;
}

window_runner::snapshot window_runner::applied_snapshot() const {
    snapshot s;
    for (const auto& [partition, p] : partitions_) s[partition] = p.applied_through;
    return s;
}

void window_runner::made_durable(const snapshot& s) {
    for (const auto& [partition, applied] : s) {
        auto it = partitions_.find(partition);
        if (it != partitions_.end() && applied) it->second.durable_through = applied;
    }
}

std::optional<int64_t> window_runner::durable_position(int32_t partition) const {
    auto it = partitions_.find(partition);
    if (it == partitions_.end() || !it->second.durable_through) return std::nullopt;
    return *it->second.durable_through + 1;
}

std::vector<int32_t> window_runner::partitions() const {
    std::vector<int32_t> out;
    for (const auto& [partition, unused] : partitions_) out.push_back(partition);
    return out;
}

void window_runner::assign(int32_t partition, int64_t now_us) {
    partitions_[partition] = partition_state{};
    partitions_[partition].fence_us = now_us;
}

int64_t window_runner::next_write_timestamp(int32_t partition) { return ++partitions_[partition].fence_us; }

void window_runner::revoke(int32_t partition) {
    partitions_.erase(partition);
    state_->revoke(partition);
    std::erase_if(restored_, [&](const auto& item) { return item.first == partition; });
}

void window_runner::prune() {
    auto wm = state_->watermark();
    if (!wm) return;
    std::erase_if(restored_, [&](const auto& item) { return item.second + max_size() - 1 <= *wm; });
}

}  // namespace millrace::processor
