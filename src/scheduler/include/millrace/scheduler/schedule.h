// A DAG's schedule: none (manual only), @once, a preset (@hourly, @daily,
// @weekly, @monthly, @yearly) or a five-field cron expression, evaluated in
// the DAG's time zone.
//
// DST: a schedule whose minute and hour are both fixed ("30 2 * * *", @daily)
// fires once per matching local day: a local time skipped by clocks going
// forward fires right after the jump, a repeated one fires at its first
// occurrence. A schedule with a wildcard minute or hour ("0 * * * *",
// @hourly) fires on every matching real instant, so an hourly DAG runs every
// real hour through both changes (as Vixie cron does).
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "millrace/common/result.h"
#include "millrace/scheduler/time_zone.h"

namespace millrace::scheduler {

class schedule {
public:
    enum class kind { none, once, cron, interval };

    // A fixed interval (an Airflow `timedelta` schedule): ticks at
    // anchor + k * seconds (the anchor is the DAG's start_date), whatever the
    // time zone. `text` is how the DAG file wrote it ("1 day, 0:00:00").
    static schedule every(int64_t seconds, int64_t anchor, std::string text);
    int64_t interval_seconds() const { return interval_; }

    // "" or "none"/"null" → none. Errors are invalid_argument naming the field
    // and the value: "cron field 2 (hour): 24 is outside 0..23".
    static result<schedule> parse(std::string_view text);

    kind type() const { return kind_; }
    const std::string& text() const { return text_; }
    // The first tick strictly after `utc_seconds` in `zone`; nullopt for none
    // and once, or when no tick comes within 8 years (e.g. "0 0 31 2 *").
    std::optional<int64_t> next_after(int64_t utc_seconds, const time_zone& zone) const;

private:
    bool matches_date(const civil_time& c) const;
    bool matches(const civil_time& c) const;

    kind kind_ = kind::none;
    int64_t interval_ = 0, anchor_ = 0;
    std::string text_;
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;     // 1..31
    std::bitset<13> months_;   // 1..12
    std::bitset<7> weekdays_;  // 0 = Sunday
    bool day_star_ = true, weekday_star_ = true;
    bool fixed_time_ = false;  // minute and hour are single values
};

}  // namespace millrace::scheduler
