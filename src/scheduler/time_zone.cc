#include "millrace/scheduler/time_zone.h"

#include <chrono>
#include <exception>

#include <date/tz.h>

namespace millrace::scheduler {

time_zone time_zone::utc() { return time_zone(); }

result<time_zone> time_zone::load(const std::string& name) {
    if (name.empty() || name == "UTC" || name == "Etc/UTC" || name == "Z" || name == "GMT") return utc();
    if (name.find("..") != std::string::npos || name.front() == '/') {
        return make_error(errc::invalid_argument, "time zone '{}': not a zone name like Europe/Berlin", name);
    }
    time_zone zone;
    zone.name_ = name;
    // The database is read once per process (a scan of the tzdata directory);
    // a zone's transitions are read on its first use.
    try {
        (void)date::get_tzdb();
    } catch (const std::exception& e) {
        return make_error(errc::unavailable, "time zone '{}': the tz database could not be read ({})", name, e.what());
    }
    try {
        zone.zone_ = date::locate_zone(name);
    } catch (const std::exception& e) {
        return make_error(errc::invalid_argument, "time zone '{}': no such zone in the tz database ({})", name, e.what());
    }
    return zone;
}

int32_t time_zone::offset_at(int64_t utc_seconds) const {
    if (zone_ == nullptr) return 0;
    auto info = zone_->get_info(date::sys_seconds{std::chrono::seconds{utc_seconds}});
    return static_cast<int32_t>(info.offset.count());
}

int64_t time_zone::local_to_utc(int64_t local_seconds) const {
    if (zone_ == nullptr) return local_seconds;
    auto info = zone_->get_info(date::local_seconds{std::chrono::seconds{local_seconds}});
    // unique: the one offset; ambiguous (clocks going back): `first` is the
    // earlier instant; nonexistent (a gap): `first` is the offset before the
    // gap, so 02:30 in a 02:00→03:00 jump is read as 03:30.
    return local_seconds - info.first.offset.count();
}

civil_time to_civil(int64_t local_seconds) {
    using namespace std::chrono;
    int64_t days = local_seconds >= 0 ? local_seconds / 86400 : -((-local_seconds + 86399) / 86400);
    int64_t rem = local_seconds - days * 86400;
    year_month_day ymd{sys_days{std::chrono::days{days}}};
    civil_time c;
    c.year = static_cast<int>(ymd.year());
    c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
    c.hour = static_cast<int>(rem / 3600);
    c.minute = static_cast<int>(rem % 3600 / 60);
    c.second = static_cast<int>(rem % 60);
    c.weekday = static_cast<int>(weekday{sys_days{std::chrono::days{days}}}.c_encoding());
    return c;
}

int64_t from_civil(int year, int month, int day, int hour, int minute, int second) {
    using namespace std::chrono;
    sys_days d{std::chrono::year{year} / std::chrono::month{static_cast<unsigned>(month)} /
               std::chrono::day{static_cast<unsigned>(day)}};
    return static_cast<int64_t>(d.time_since_epoch().count()) * 86400 + hour * 3600 + minute * 60 + second;
}

int days_in_month(int year, int month) {
    using namespace std::chrono;
    year_month_day_last last{std::chrono::year{year} / std::chrono::month{static_cast<unsigned>(month)} / std::chrono::last};
    return static_cast<int>(static_cast<unsigned>(last.day()));
}

std::string format_iso(int64_t utc_seconds, const time_zone& zone) {
    int32_t offset = zone.offset_at(utc_seconds);
    civil_time c = to_civil(utc_seconds + offset);
    int32_t abs_offset = offset < 0 ? -offset : offset;
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute,
                       c.second, offset < 0 ? '-' : '+', abs_offset / 3600, abs_offset % 3600 / 60);
}

std::string format_date(int64_t utc_seconds, const time_zone& zone) {
    civil_time c = to_civil(zone.utc_to_local(utc_seconds));
    return fmt::format("{:04}-{:02}-{:02}", c.year, c.month, c.day);
}

result<int64_t> parse_iso(std::string_view text, const time_zone& zone) {
    auto bad = [&](const char* what) {
        return make_error(errc::invalid_argument, "'{}' is not an ISO 8601 date-time ({}; e.g. 2026-01-31T12:00:00+00:00)",
                          text, what);
    };
    size_t pos = 0;
    auto number = [&](size_t digits, int& out) {
        if (pos + digits > text.size()) return false;
        out = 0;
        for (size_t idx = 0; idx < digits; ++idx) {
            char ch = text[pos + idx];
            if (ch < '0' || ch > '9') return false;
            out = out * 10 + (ch - '0');
        }
        pos += digits;
        return true;
    };
    auto expect = [&](char ch) {
        if (pos < text.size() && text[pos] == ch) {
            ++pos;
            return true;
        }
        return false;
    };
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!number(4, year) || !expect('-') || !number(2, month) || !expect('-') || !number(2, day)) return bad("date");
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return bad("no such day");
    if (pos < text.size() && (text[pos] == 'T' || text[pos] == ' ')) {
        ++pos;
        if (!number(2, hour) || !expect(':') || !number(2, minute)) return bad("time");
        if (expect(':') && !number(2, second)) return bad("seconds");
        if (expect('.')) {
            while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
        }
        if (hour > 23 || minute > 59 || second > 60) return bad("time out of range");
    }
    int64_t local = from_civil(year, month, day, hour, minute, second);
    if (pos == text.size()) return zone.local_to_utc(local);
    if (text[pos] == 'Z' && pos + 1 == text.size()) return local;
    if (text[pos] == '+' || text[pos] == '-') {
        int sign = text[pos] == '-' ? -1 : 1;
        ++pos;
        int off_h = 0, off_m = 0;
        if (!number(2, off_h)) return bad("offset");
        expect(':');
        if (pos < text.size() && !number(2, off_m)) return bad("offset");
        if (pos != text.size()) return bad("trailing characters");
        return local - sign * (off_h * 3600 + off_m * 60);
    }
    return bad("trailing characters");
}

}  // namespace millrace::scheduler
