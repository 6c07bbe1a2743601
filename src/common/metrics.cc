#include "millrace/common/metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <unistd.h>

#include "millrace/common/result.h"

namespace millrace::metrics {
namespace {

void atomic_add(std::atomic<double>& target, double delta) {
    double current = target.load(std::memory_order_relaxed);
    while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
    }
}

std::string escape_label(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out.push_back(c);
    }
    return out;
}

std::string format_labels(const labels& l, const std::string& extra_name = {}, const std::string& extra_value = {}) {
    if (l.empty() && extra_name.empty()) return {};
    std::string out = "{";
    bool first = true;
    for (const auto& [name, value] : l) {
        out += fmt::format("{}{}=\"{}\"", first ? "" : ",", name, escape_label(value));
        first = false;
    }
    if (!extra_name.empty()) out += fmt::format("{}{}=\"{}\"", first ? "" : ",", extra_name, extra_value);
    return out + "}";
}

std::string format_number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
    return fmt::format("{}", v);
}

}  // namespace

void gauge::add(double delta) { atomic_add(value_, delta); }

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
    MILLRACE_ASSERT(std::is_sorted(bounds_.begin(), bounds_.end()), "histogram bounds must be sorted");
    for (size_t idx = 0; idx <= bounds_.size(); ++idx) buckets_[idx].store(0);
}

void histogram::observe(double v) {
    size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    atomic_add(sum_, v);
}

void histogram::snapshot(std::vector<uint64_t>& buckets, uint64_t& count, double& sum) const {
    buckets.resize(bounds_.size() + 1);
    for (size_t idx = 0; idx <= bounds_.size(); ++idx) buckets[idx] = buckets_[idx].load(std::memory_order_relaxed);
    count = count_.load(std::memory_order_relaxed);
    sum = sum_.load(std::memory_order_relaxed);
}

std::vector<double> latency_buckets() {
    return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

registry::series& registry::find_or_add(const std::string& name, const std::string& help, kind k, const labels& l) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = families_.try_emplace(name, family{k, help, {}});
    MILLRACE_ASSERT(it->second.k == k, "metric {} registered with two kinds", name);
    for (auto& s : it->second.all) {
        if (s.l == l) return s;
    }
    it->second.all.push_back(series{l, nullptr, nullptr, nullptr, nullptr});
    return it->second.all.back();
}

counter& registry::make_counter(const std::string& name, const std::string& help, const labels& l) {
    auto& s = find_or_add(name, help, kind::counter, l);
    std::lock_guard lock(mutex_);
    if (!s.c) s.c = std::make_unique<counter>();
    return *s.c;
}

gauge& registry::make_gauge(const std::string& name, const std::string& help, const labels& l) {
    auto& s = find_or_add(name, help, kind::gauge, l);
    std::lock_guard lock(mutex_);
    if (!s.g) s.g = std::make_unique<gauge>();
    return *s.g;
}

histogram& registry::make_histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                    const labels& l) {
    auto& s = find_or_add(name, help, kind::histogram, l);
    std::lock_guard lock(mutex_);
    if (!s.h) s.h = std::make_unique<histogram>(std::move(bounds));
    return *s.h;
}

void registry::make_callback_gauge(const std::string& name, const std::string& help, const labels& l,
                                   std::function<double()> read) {
    auto& s = find_or_add(name, help, kind::gauge, l);
    std::lock_guard lock(mutex_);
    s.read = std::move(read);
}

void registry::add_collector(std::function<void(std::string&)> collect) {
    std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(collect));
}

std::string registry::expose() const {
    std::lock_guard lock(mutex_);
    std::string out;
    std::vector<uint64_t> buckets;
    for (const auto& [name, fam] : families_) {
        const char* type = fam.k == kind::counter ? "counter" : fam.k == kind::gauge ? "gauge" : "histogram";
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, fam.help, name, type);
        for (const auto& s : fam.all) {
            if (s.c) {
                out += fmt::format("{}{} {}\n", name, format_labels(s.l), s.c->value());
            } else if (s.g) {
                out += fmt::format("{}{} {}\n", name, format_labels(s.l), format_number(s.g->value()));
            } else if (s.read) {
                out += fmt::format("{}{} {}\n", name, format_labels(s.l), format_number(s.read()));
            } else if (s.h) {
                uint64_t count = 0;
                double sum = 0;
                s.h->snapshot(buckets, count, sum);
                uint64_t cumulative = 0;
                for (size_t idx = 0; idx < s.h->bounds().size(); ++idx) {
                    cumulative += buckets[idx];
                    out += fmt::format("{}_bucket{} {}\n", name,
                                       format_labels(s.l, "le", format_number(s.h->bounds()[idx])), cumulative);
                }
                out += fmt::format("{}_bucket{} {}\n", name, format_labels(s.l, "le", "+Inf"), count);
                out += fmt::format("{}_sum{} {}\n", name, format_labels(s.l), format_number(sum));
                out += fmt::format("{}_count{} {}\n", name, format_labels(s.l), count);
            }
        }
    }
    for (const auto& collect : collectors_) collect(out);
    return out;
}

request_metrics::request_metrics(registry& r, const std::string& prefix, const std::string& label,
                                 const std::string& value)
    : requests_(&r.make_counter(prefix + "_requests_total", "Requests handled, by " + label + ".", {{label, value}})),
      latency_(&r.make_histogram(prefix + "_request_seconds", "Request handling time, by " + label + ".",
                                 latency_buckets(), {{label, value}})) {}

void request_metrics::observe(std::chrono::steady_clock::time_point start) const {
    requests_->inc();
    latency_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void register_process_metrics(registry& r) {
    static const double start_seconds =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    r.make_callback_gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.",
                          {}, [] { return std::floor(start_seconds); });
    r.make_callback_gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {}, [] {
        std::ifstream statm("/proc/self/statm");
        long pages_total = 0, pages_resident = 0;
        statm >> pages_total >> pages_resident;
        return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
    });
    r.make_callback_gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {}, [] {
        std::ifstream stat("/proc/self/stat");
        std::string line;
        std::getline(stat, line);
        // Fields after the command name (which may contain spaces) start at ')'.
        auto close = line.rfind(')');
        if (close == std::string::npos) return 0.0;
        std::istringstream fields(line.substr(close + 2));
        std::string field;
        double utime = 0, stime = 0;
        for (int idx = 3; fields >> field; ++idx) {
            if (idx == 14) utime = std::stod(field);
            if (idx == 15) { stime = std::stod(field); break; }
        }
        return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    });
    r.make_callback_gauge("process_open_fds", "Number of open file descriptors.", {}, [] {
        std::error_code ec;
        double count = 0;
        for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
             !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
            ++count;
        }
        return count;
    });
}

}  // namespace millrace::metrics
