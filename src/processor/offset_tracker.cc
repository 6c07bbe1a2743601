#include "offset_tracker.h"

namespace millrace::processor {

void offset_tracker::assign(int32_t partition) {
    partition_state fresh;
    fresh.next_id = next_base_;
    next_base_ += uint64_t{1} << 40;
    parts_[partition] = std::move(fresh);
}

void offset_tracker::revoke(int32_t partition) { parts_.erase(partition); }

uint64_t offset_tracker::add_segment(int32_t partition, int64_t last_offset) {
    auto& p = parts_[partition];
    uint64_t id = p.next_id++;
    p.segments.push_back(segment{id, last_offset, false});
    ++p.open;
    return id;
}

void offset_tracker::complete(int32_t partition, uint64_t id) {
    auto it = parts_.find(partition);
    if (it == parts_.end()) return;
    auto& p = it->second;
    if (p.segments.empty() || id < p.segments.front().id) return;
    size_t index = static_cast<size_t>(id - p.segments.front().id);
    if (index >= p.segments.size() || p.segments[index].done) return;
    p.segments[index].done = true;
    --p.open;
    while (!p.segments.empty() && p.segments.front().done) {
        p.done_through = p.segments.front().last_offset;
        p.segments.pop_front();
    }
}

std::optional<int64_t> offset_tracker::done_position(int32_t partition) const {
    auto it = parts_.find(partition);
    if (it == parts_.end() || !it->second.done_through) return std::nullopt;
    return *it->second.done_through + 1;
}

size_t offset_tracker::open_segments() const {
    size_t n = 0;
    for (const auto& [partition, p] : parts_) n += p.open;
    return n;
}

std::vector<int32_t> offset_tracker::partitions() const {
    std::vector<int32_t> out;
    for (const auto& [partition, p] : parts_) out.push_back(partition);
    return out;
}

}  // namespace millrace::processor
