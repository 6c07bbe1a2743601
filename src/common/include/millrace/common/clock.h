// Time behind a seam, so that retention, heartbeats, session timeouts and cron
// schedules can be tested with manual time.
#pragma once

#include <chrono>
#include <mutex>

namespace millrace {

class clock {
public:
    using wall_time = std::chrono::system_clock::time_point;
    using mono_time = std::chrono::steady_clock::time_point;

    virtual ~clock() = default;
    // Wall-clock time, for timestamps users see and store.
    virtual wall_time wall_now() const = 0;
    // Monotonic time, for timeouts and intervals.
    virtual mono_time mono_now() const = 0;

    int64_t wall_millis() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(wall_now().time_since_epoch()).count();
    }

    // The process-wide real clock.
    static clock& system();
};

// A clock that moves only when told to. Thread-safe.
class manual_clock final : public clock {
public:
    explicit manual_clock(wall_time start = wall_time(std::chrono::milliseconds(1'700'000'000'000)))
        : wall_(start), mono_(mono_time(std::chrono::hours(1))) {}

    wall_time wall_now() const override { std::lock_guard lock(mutex_); return wall_; }
    mono_time mono_now() const override { std::lock_guard lock(mutex_); return mono_; }
    void advance(std::chrono::nanoseconds delta) {
        std::lock_guard lock(mutex_);
        wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(delta);
        mono_ += delta;
    }

private:
    mutable std::mutex mutex_;
    wall_time wall_;
    mono_time mono_;
};

}  // namespace millrace
