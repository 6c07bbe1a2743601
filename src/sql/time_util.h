// Internal: calendar arithmetic (proleptic Gregorian, UTC) and the subset of
// Java's SimpleDateFormat patterns that DATE_FORMAT and TO_TIMESTAMP accept:
// yyyy yy MM M dd d HH H mm m ss s SSS S, 'quoted text', other characters literal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace millrace::sql::timeutil {

constexpr int64_t k_ms_per_day = 86400000;

int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t days, int64_t& y, unsigned& m, unsigned& d);
int64_t floor_div(int64_t a, int64_t b);

std::string format_pattern(int64_t millis, std::string_view pattern);
// Parses `text` with `pattern` entirely; nullopt when it does not match.
std::optional<int64_t> parse_pattern(std::string_view text, std::string_view pattern);
// "yyyy-MM-dd[ HH:mm[:ss[.fffffffff]]]" with ' ' or 'T' between date and time,
// optional trailing 'Z' when `allow_zone`. Fractions beyond milliseconds are truncated.
std::optional<int64_t> parse_timestamp(std::string_view text, bool allow_t, bool allow_zone);
std::optional<int64_t> parse_date(std::string_view text);      // days
std::optional<int64_t> parse_time(std::string_view text);      // millis of day

}  // namespace millrace::sql::timeutil
