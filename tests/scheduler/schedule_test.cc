// Schedules with fake time: presets, cron fields, month ends, leap days and
// both DST changes in zones east and west of UTC.
#include <gtest/gtest.h>

#include "millrace/scheduler/schedule.h"

namespace millrace::scheduler {
namespace {

int64_t utc(std::string_view iso) { return parse_iso(iso).value(); }

std::string next(const schedule& s, std::string_view after, const time_zone& zone) {
    auto t = s.next_after(utc(after), zone);
    return t ? format_iso(*t, zone) : "none";
}

std::vector<std::string> ticks(std::string_view expr, std::string_view after, int count, const time_zone& zone) {
    auto s = schedule::parse(expr).value();
    std::vector<std::string> out;
    int64_t t = utc(after);
    for (int idx = 0; idx < count; ++idx) {
        auto n = s.next_after(t, zone);
        if (!n) break;
        out.push_back(format_iso(*n, zone));
        t = *n;
    }
    return out;
}

TEST(schedule_test, presets_in_utc) {
    auto zone = time_zone::utc();
    EXPECT_EQ(next(schedule::parse("@hourly").value(), "2026-01-01T10:15:00Z", zone), "2026-01-01T11:00:00+00:00");
    EXPECT_EQ(next(schedule::parse("@daily").value(), "2026-01-01T00:00:00Z", zone), "2026-01-02T00:00:00+00:00");
    EXPECT_EQ(next(schedule::parse("@weekly").value(), "2026-01-01T00:00:00Z", zone), "2026-01-04T00:00:00+00:00");
    EXPECT_EQ(next(schedule::parse("@monthly").value(), "2026-01-31T23:59:59Z", zone), "2026-02-01T00:00:00+00:00");
    EXPECT_EQ(next(schedule::parse("@yearly").value(), "2026-06-01T00:00:00Z", zone), "2027-01-01T00:00:00+00:00");
    EXPECT_EQ(schedule::parse("@once").value().type(), schedule::kind::once);
    EXPECT_EQ(schedule::parse("").value().type(), schedule::kind::none);
    EXPECT_FALSE(schedule::parse("@once").value().next_after(0, zone));
}

TEST(schedule_test, cron_fields_lists_ranges_steps_names) {
    auto zone = time_zone::utc();
    EXPECT_EQ(ticks("*/20 9-10 * * MON-FRI", "2026-01-02T10:30:00Z", 4, zone),
              (std::vector<std::string>{"2026-01-02T10:40:00+00:00", "2026-01-05T09:00:00+00:00",
                                        "2026-01-05T09:20:00+00:00", "2026-01-05T09:40:00+00:00"}));
    EXPECT_EQ(ticks("0 0 * JAN,jul 7", "2026-01-01T00:00:00Z", 2, zone),
              (std::vector<std::string>{"2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"}));
    // Both day fields restricted: either matches (Vixie cron).
    EXPECT_EQ(ticks("0 12 13 * 5", "2026-02-01T00:00:00Z", 3, zone),
              (std::vector<std::string>{"2026-02-06T12:00:00+00:00", "2026-02-13T12:00:00+00:00",
                                        "2026-02-20T12:00:00+00:00"}));
}

TEST(schedule_test, month_ends_and_leap_days) {
    auto zone = time_zone::utc();
    // The 31st exists in 7 months only.
    EXPECT_EQ(ticks("0 0 31 * *", "2026-01-31T00:00:00Z", 3, zone),
              (std::vector<std::string>{"2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00",
                                        "2026-07-31T00:00:00+00:00"}));
    EXPECT_EQ(ticks("30 6 29 2 *", "2026-01-01T00:00:00Z", 2, zone),
              (std::vector<std::string>{"2028-02-29T06:30:00+00:00", "2032-02-29T06:30:00+00:00"}));
    EXPECT_EQ(ticks("59 23 28-31 * *", "2027-02-27T00:00:00Z", 2, zone),
              (std::vector<std::string>{"2027-02-28T23:59:00+00:00", "2027-03-28T23:59:00+00:00"}));
    EXPECT_EQ(ticks("0 0 1 * *", "2026-12-15T00:00:00Z", 2, zone),
              (std::vector<std::string>{"2027-01-01T00:00:00+00:00", "2027-02-01T00:00:00+00:00"}));
    // February 30th never comes.
    EXPECT_FALSE(schedule::parse("0 0 30 2 *").value().next_after(0, zone));
}

TEST(schedule_test, daily_across_spring_forward_in_berlin) {
    auto zone = time_zone::load("Europe/Berlin").value();
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST. 02:30 does not exist that day; it fires at 03:30.
    EXPECT_EQ(ticks("30 2 * * *", "2026-03-27T12:00:00Z", 4, zone),
              (std::vector<std::string>{"2026-03-28T02:30:00+01:00", "2026-03-29T03:30:00+02:00",
                                        "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"}));
    EXPECT_EQ(ticks("@daily", "2026-03-28T12:00:00Z", 2, zone),
              (std::vector<std::string>{"2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"}));
}

TEST(schedule_test, daily_across_fall_back_in_berlin_fires_once) {
    auto zone = time_zone::load("Europe/Berlin").value();
    // 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice and fires at the first.
    EXPECT_EQ(ticks("30 2 * * *", "2026-10-24T12:00:00Z", 3, zone),
              (std::vector<std::string>{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00",
                                        "2026-10-27T02:30:00+01:00"}));
}

TEST(schedule_test, hourly_runs_every_real_hour_through_both_changes) {
    auto zone = time_zone::load("America/New_York").value();
    // 2026-03-08 02:00 EST → 03:00 EDT: no 02:00 local.
    EXPECT_EQ(ticks("@hourly", "2026-03-08T05:30:00Z", 3, zone),
              (std::vector<std::string>{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00",
                                        "2026-03-08T04:00:00-04:00"}));
    // 2026-11-01 02:00 EDT → 01:00 EST: 01:00 local happens twice, both fire.
    EXPECT_EQ(ticks("0 * * * *", "2026-11-01T04:30:00Z", 3, zone),
              (std::vector<std::string>{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00",
                                        "2026-11-01T02:00:00-05:00"}));
}

TEST(schedule_test, parse_errors_name_field_and_value) {
    auto bad = [](std::string_view text) { return schedule::parse(text).err().message(); };
    EXPECT_EQ(bad("0 24 * * *"), "cron field 2 (hour): 24 is outside 0..23");
    EXPECT_EQ(bad("61 * * * *"), "cron field 1 (minute): 61 is outside 0..59");
    EXPECT_EQ(bad("0 0 * * *  *"), "cron expression '0 0 * * *  *' has 6 fields; expected 5 (minute hour "
                                   "day-of-month month day-of-week)");
    EXPECT_EQ(bad("0 0 * FOO *"), "cron field 4 (month): 'FOO' is not a known name");
    EXPECT_EQ(bad("*/0 * * * *"), "cron field 1 (minute): step '0' is not a positive number");
    EXPECT_EQ(bad("0 5-2 * * *"), "cron field 2 (hour): range '5-2' runs backwards");
    EXPECT_NE(bad("@fortnightly").find("unknown schedule preset '@fortnightly'"), std::string::npos);
}

TEST(time_zone_test, unknown_zone_and_iso_parsing) {
    EXPECT_NE(time_zone::load("Mars/Olympus").err().message().find("no such zone"), std::string::npos);
    auto berlin = time_zone::load("Europe/Berlin").value();
    EXPECT_EQ(format_iso(parse_iso("2026-07-01T12:00", berlin).value()), "2026-07-01T10:00:00+00:00");
    EXPECT_EQ(format_iso(parse_iso("2026-07-01T12:00:00.250+05:30").value()), "2026-07-01T06:30:00+00:00");
    EXPECT_FALSE(parse_iso("2026-02-30").ok());
    EXPECT_FALSE(parse_iso("yesterday").ok());
}

TEST(time_zone_test, offsets_come_from_the_tz_database) {
    auto kolkata = time_zone::load("Asia/Kolkata").value();
    EXPECT_EQ(kolkata.offset_at(from_civil(2026, 1, 1)), 5 * 3600 + 1800);
    // Lord Howe Island moves its clocks by half an hour.
    auto lord_howe = time_zone::load("Australia/Lord_Howe").value();
    EXPECT_EQ(lord_howe.offset_at(from_civil(2026, 1, 15)), 11 * 3600);
    EXPECT_EQ(lord_howe.offset_at(from_civil(2026, 7, 15)), 10 * 3600 + 1800);
    EXPECT_EQ(time_zone::utc().offset_at(from_civil(2026, 7, 15)), 0);
    EXPECT_EQ(time_zone::load("Etc/UTC").value().name(), "UTC");
    EXPECT_NE(time_zone::load("../etc/passwd").err().message().find("not a zone name"), std::string::npos);
}

}  // namespace
}  // namespace millrace::scheduler
