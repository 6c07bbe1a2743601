#include "millrace/common/log.h"

#include "millrace/common/json_text.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace millrace::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(level::info)};
std::atomic<format> g_format{format::text};
std::mutex g_write_mutex;

constexpr std::string_view k_level_names[] = {"trace", "debug", "info", "warn", "error"};

std::string timestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    auto secs = time_point_cast<seconds>(now);
    auto millis = duration_cast<milliseconds>(now - secs).count();
    std::time_t t = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}


}  // namespace

result<level> parse_level(std::string_view text) {
    for (size_t idx = 0; idx < std::size(k_level_names); ++idx) {
        if (k_level_names[idx] == text) return static_cast<level>(idx);
    }
    return make_error(errc::invalid_argument, "unknown log level '{}' (trace, debug, info, warn, error)", text);
}

result<format> parse_format(std::string_view text) {
    if (text == "text") return format::text;
    if (text == "json") return format::json;
    return make_error(errc::invalid_argument, "unknown log format '{}' (text, json)", text);
}

void configure(level min_level, format fmt) {
    g_min_level.store(static_cast<int>(min_level));
    g_format.store(fmt);
}

bool enabled(level lvl) { return static_cast<int>(lvl) >= g_min_level.load(std::memory_order_relaxed); }

void write(level lvl, std::string_view component, std::string_view message) {
    std::string line;
    line.reserve(64 + message.size());
    auto name = k_level_names[static_cast<int>(lvl)];
    if (g_format.load(std::memory_order_relaxed) == format::json) {
        line += "{\"ts\":\"" + timestamp() + "\",\"level\":\"";
        line += name;
        line += "\",\"component\":";
        json_text::append_string(line, component);
        line += ",\"msg\":";
        json_text::append_string(line, message);
        line += "}\n";
    } else {
        line = fmt::format("{} {:<5} {}: {}\n", timestamp(), name, component, message);
    }
    std::lock_guard lock(g_write_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

}  // namespace millrace::log
