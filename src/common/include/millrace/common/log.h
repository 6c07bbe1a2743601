// Structured logging to stderr, as text lines or JSON lines.
//
// stdout is reserved for machine-read output (the `ready ...` line, status
// blocks), so every log line goes to stderr. Each line names its component.
// Thread-safe: lines from different threads never interleave.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "millrace/common/result.h"

namespace millrace::log {

enum class level { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };
enum class format { text, json };

result<level> parse_level(std::string_view text);
result<format> parse_format(std::string_view text);

// Process-wide settings; call once at start-up before other threads log.
void configure(level min_level, format fmt);
bool enabled(level lvl);
void write(level lvl, std::string_view component, std::string_view message);

// A named source of log lines: `logger log{"broker"}; log.info("listening on {}", addr);`
class logger {
public:
    explicit logger(std::string component) : component_(std::move(component)) {}

    template <typename... Args> void trace(fmt::format_string<Args...> f, Args&&... a) const { emit(level::trace, f, std::forward<Args>(a)...); }
    template <typename... Args> void debug(fmt::format_string<Args...> f, Args&&... a) const { emit(level::debug, f, std::forward<Args>(a)...); }
    template <typename... Args> void info(fmt::format_string<Args...> f, Args&&... a) const { emit(level::info, f, std::forward<Args>(a)...); }
    template <typename... Args> void warn(fmt::format_string<Args...> f, Args&&... a) const { emit(level::warn, f, std::forward<Args>(a)...); }
    template <typename... Args> void error(fmt::format_string<Args...> f, Args&&... a) const { emit(level::error, f, std::forward<Args>(a)...); }

    const std::string& component() const { return component_; }

private:
    template <typename... Args>
    void emit(level lvl, fmt::format_string<Args...> f, Args&&... a) const {
        if (enabled(lvl)) write(lvl, component_, fmt::format(f, std::forward<Args>(a)...));
    }
    std::string component_;
};

}  // namespace millrace::log
