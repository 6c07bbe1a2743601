// A metrics registry with Prometheus text exposition (format 0.0.4).
//
// Metric objects are created once (usually at component start) and updated
// lock-free from any thread; the registry owns them and hands out references
// that stay valid for the registry's lifetime. Families are identified by
// name; each (name, labels) pair is one time series.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace millrace::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

class counter {
public:
    void inc(uint64_t delta = 1) { value_.fetch_add(delta, std::memory_order_relaxed); }
    uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> value_{0};
};

class gauge {
public:
    void set(double v) { value_.store(v, std::memory_order_relaxed); }
    void add(double delta);
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

// Cumulative histogram with fixed upper bounds (exclusive of +Inf).
class histogram {
public:
    explicit histogram(std::vector<double> bounds);
    void observe(double v);
    const std::vector<double>& bounds() const { return bounds_; }
    // Snapshot: per-bucket counts (not cumulative; last is +Inf), count and sum.
    void snapshot(std::vector<uint64_t>& buckets, uint64_t& count, double& sum) const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
    std::atomic<uint64_t> count_{0};
    std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 50µs to 10s.
std::vector<double> latency_buckets();

class registry {
public:
    counter& make_counter(const std::string& name, const std::string& help, const labels& l = {});
    gauge& make_gauge(const std::string& name, const std::string& help, const labels& l = {});
    histogram& make_histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                              const labels& l = {});
    // A gauge whose value is read when metrics are exposed (queue depth, lag).
    void make_callback_gauge(const std::string& name, const std::string& help, const labels& l,
                             std::function<double()> read);

    // Appends whole families in exposition format at expose() time, for series
    // whose label sets come and go (per-partition consumer lag).
    void add_collector(std::function<void(std::string&)> collect);

    // Prometheus text format, families sorted by name, then collectors' output.
    std::string expose() const;

private:
    enum class kind { counter, gauge, histogram };
    struct series {
        labels l;
        std::unique_ptr<counter> c;
        std::unique_ptr<gauge> g;
        std::unique_ptr<histogram> h;
        std::function<double()> read;
    };
    struct family {
        kind k;
        std::string help;
        std::deque<series> all;  // deque: references stay valid as series are added
    };
    series& find_or_add(const std::string& name, const std::string& help, kind k, const labels& l);

    mutable std::mutex mutex_;
    std::map<std::string, family> families_;
    std::vector<std::function<void(std::string&)>> collectors_;
};

// A request counter and a latency histogram for one kind of request of a
// server (`<prefix>_requests_total`, `<prefix>_request_seconds`), labelled
// `label=value`, e.g. {"api", "Produce"}.
class request_metrics {
public:
    request_metrics() = default;
    request_metrics(registry& r, const std::string& prefix, const std::string& label, const std::string& value);
    // Counts one request that started at `start`.
    void observe(std::chrono::steady_clock::time_point start) const;

private:
    counter* requests_ = nullptr;
    histogram* latency_ = nullptr;
};

// Adds process_* metrics (resident memory, CPU seconds, start time, open fds).
void register_process_metrics(registry& r);

}  // namespace millrace::metrics
