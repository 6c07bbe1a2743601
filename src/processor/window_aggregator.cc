#include "window_aggregator.h"

namespace millrace::processor {

namespace {
std::string_view or_unknown(std::string_view s) { return s.empty() ? std::string_view("unknown") : s; }
}  // namespace

int64_t window_aggregator::window_of(int64_t timestamp_ms) const {
    int64_t q = timestamp_ms / window_ms_;
    if (timestamp_ms < 0 && q * window_ms_ != timestamp_ms) --q;  // floor for times before the epoch
    return q * window_ms_;
}

bool window_aggregator::loaded(int32_t partition, int64_t window_start_ms) const {
    return windows_.count(window_id{partition, window_start_ms}) != 0;
}

void window_aggregator::load(int32_t partition, int64_t window_start_ms, const std::vector<window_count>& stored) {
    auto& rows = windows_[window_id{partition, window_start_ms}];
    for (const auto& c : stored) {
        if (c.partition != partition || c.window_start_ms != window_start_ms) continue;
        auto& e = rows[row_key{c.nat, c.gender}];
        if (c.last_offset > e.last_offset) {
            e.users = c.users;
            e.last_offset = c.last_offset;
        }
    }
    if (window_start_ms > newest_window_) newest_window_ = window_start_ms;
}

bool window_aggregator::add(int32_t partition, int64_t offset, int64_t timestamp_ms, std::string_view nat,
                            std::string_view gender) {
    int64_t window = window_of(timestamp_ms);
    auto& rows = windows_[window_id{partition, window}];
    if (window > newest_window_) newest_window_ = window;
    row_key key{std::string(or_unknown(nat)), std::string(or_unknown(gender))};
    auto& e = rows[key];
    if (offset <= e.last_offset) return false;
    ++e.users;
    e.last_offset = offset;
    ++e.version;
    dirty_.insert(dirty_key{partition, window, std::move(key.first), std::move(key.second)});
    return true;
}

void window_aggregator::applied(int32_t partition, int64_t offset) {
    auto& p = partitions_[partition];
    if (!p.applied_through || offset > *p.applied_through) p.applied_through = offset;
}

std::optional<std::vector<window_count>> window_aggregator::begin_flush() {
    if (in_flight_) return std::nullopt;
    std::vector<window_count> out;
    if (dirty_.empty()) {
        for (auto& [partition, p] : partitions_) p.durable_through = p.applied_through;
        return out;
    }
    round_.clear();
    round_applied_.clear();
    for (const auto& [partition, p] : partitions_) round_applied_[partition] = p.applied_through;
    out.reserve(dirty_.size());
    for (const auto& key : dirty_) {
        const auto& [partition, window, nat, gender] = key;
        auto wit = windows_.find(window_id{partition, window});
        if (wit == windows_.end()) continue;
        auto eit = wit->second.find(row_key{nat, gender});
        if (eit == wit->second.end()) continue;
        out.push_back(window_count{window, nat, gender, partition, eit->second.users, eit->second.last_offset});
        round_.emplace_back(key, eit->second.version);
    }
    dirty_.clear();
    in_flight_ = true;
    return out;
}

void window_aggregator::end_flush(bool ok) {
    if (!in_flight_) return;
    in_flight_ = false;
    for (auto& [key, version] : round_) {
        const auto& [partition, window, nat, gender] = key;
        auto wit = windows_.find(window_id{partition, window});
        if (wit == windows_.end()) continue;  // revoked meanwhile
        auto eit = wit->second.find(row_key{nat, gender});
        if (eit == wit->second.end()) continue;
        auto& e = eit->second;
        if (ok && version > e.written_version) e.written_version = version;
        if (e.written_version != e.version) dirty_.insert(key);
    }
    if (ok) {
        for (const auto& [partition, applied] : round_applied_) {
            auto pit = partitions_.find(partition);
            if (pit != partitions_.end()) pit->second.durable_through = applied;
        }
    }
    round_.clear();
    round_applied_.clear();
}

std::optional<int64_t> window_aggregator::durable_position(int32_t partition) const {
    auto it = partitions_.find(partition);
    if (it == partitions_.end() || !it->second.durable_through) return std::nullopt;
    return *it->second.durable_through + 1;
}

void window_aggregator::assign(int32_t partition) { partitions_[partition] = partition_state{}; }

void window_aggregator::revoke(int32_t partition) {
    partitions_.erase(partition);
    round_applied_.erase(partition);
    std::erase_if(round_, [&](const auto& item) { return std::get<0>(item.first) == partition; });
    for (auto it = windows_.begin(); it != windows_.end();) {
        it = it->first.first == partition ? windows_.erase(it) : std::next(it);
    }
    for (auto it = dirty_.begin(); it != dirty_.end();) {
        it = std::get<0>(*it) == partition ? dirty_.erase(it) : std::next(it);
    }
}

void window_aggregator::evict(int keep) {
    if (newest_window_ == INT64_MIN) return;
    int64_t oldest_kept = newest_window_ - static_cast<int64_t>(keep) * window_ms_;
    for (auto it = windows_.begin(); it != windows_.end();) {
        bool clean = true;
        if (it->first.second < oldest_kept) {
            for (const auto& [key, e] : it->second) clean = clean && e.version == e.written_version;
            for (const auto& [key, version] : round_) {
                if (std::get<0>(key) == it->first.first && std::get<1>(key) == it->first.second) clean = false;
            }
        }
        it = it->first.second < oldest_kept && clean ? windows_.erase(it) : std::next(it);
    }
}

}  // namespace millrace::processor
