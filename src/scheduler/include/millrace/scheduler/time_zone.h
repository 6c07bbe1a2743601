// Time zones from the system's tz database (/usr/share/zoneinfo, Debian's
// tzdata), and the civil-time helpers schedules and the API need.
//
// Rationale: g++ 12's <chrono> has calendars but no time-zone database, and
// setting TZ for localtime_r is process-wide and not thread-safe, so zones come
// from Howard Hinnant's date/tz.h (the library C++20's <chrono> zones were
// standardised from; Debian's libhowardhinnant-date-dev, built to read the OS
// tzdata). Times are seconds since the epoch (UTC).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "millrace/common/result.h"

namespace date {
class time_zone;
}

namespace millrace::scheduler {

// Immutable after load; thread-safe to share.
class time_zone {
public:
    // "UTC" (and "Etc/UTC", "Z") needs no database. Errors name the zone (and
    // the database's complaint when it cannot be read).
    static result<time_zone> load(const std::string& name);
    static time_zone utc();

    const std::string& name() const { return name_; }
    // Seconds east of UTC in effect at `utc_seconds`.
    int32_t offset_at(int64_t utc_seconds) const;
    // The instant a local wall time names. Ambiguous times (clocks going back)
    // give the first occurrence; times in a gap (clocks going forward) are
    // read with the offset before the gap, so 02:30 in a 02:00→03:00 jump is 03:30.
    int64_t local_to_utc(int64_t local_seconds) const;
    int64_t utc_to_local(int64_t utc_seconds) const { return utc_seconds + offset_at(utc_seconds); }

private:
    std::string name_ = "UTC";
    const date::time_zone* zone_ = nullptr;  // owned by date's process-wide database; nullptr is UTC
};

// Civil fields of "local seconds" (seconds since 1970-01-01T00:00 of some zone).
struct civil_time {
    int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
    int weekday = 4;  // 0 = Sunday
};
civil_time to_civil(int64_t local_seconds);
int64_t from_civil(int year, int month, int day, int hour = 0, int minute = 0, int second = 0);
int days_in_month(int year, int month);

// "2026-11-25T06:00:00+00:00" (Airflow's format) of an instant in `zone`.
std::string format_iso(int64_t utc_seconds, const time_zone& zone = time_zone::utc());
// "2026-11-25" of an instant in `zone`.
std::string format_date(int64_t utc_seconds, const time_zone& zone = time_zone::utc());
// Parses "YYYY-MM-DD", "YYYY-MM-DD[T ]HH:MM[:SS[.fff]]" with an optional "Z" or
// "±HH:MM"; without an offset the time is read in `zone`. Errors quote the text.
result<int64_t> parse_iso(std::string_view text, const time_zone& zone = time_zone::utc());

}  // namespace millrace::scheduler
