#include "millrace/scheduler/time_zone.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace millrace::scheduler {
namespace {

uint32_t be32(const unsigned char* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
uint64_t be64(const unsigned char* p) { return (uint64_t(be32(p)) << 32) | be32(p + 4); }

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
};

tzif_counts read_counts(const unsigned char* header) {
    const unsigned char* c = header + 20;
    return {be32(c), be32(c + 4), be32(c + 8), be32(c + 12), be32(c + 16), be32(c + 20)};
}

size_t block_size(const tzif_counts& n, size_t time_size) {
    return n.time * time_size + n.time + n.type * 6 + n.chars + n.leap * (time_size + 4) + n.isstd + n.isut;
}

}  // namespace

time_zone time_zone::utc() { return time_zone(); }

result<time_zone> time_zone::load(const std::string& name) {
    if (name.empty() || name == "UTC" || name == "Etc/UTC" || name == "Z" || name == "GMT") return utc();
    if (name.find("..") != std::string::npos || name.front() == '/') {
        return make_error(errc::invalid_argument, "time zone '{}': not a zone name like Europe/Berlin", name);
    }
    const char* dir = std::getenv("TZDIR");
    std::string path = std::string(dir != nullptr && *dir != 0 ? dir : "/usr/share/zoneinfo") + "/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::invalid_argument, "time zone '{}': no such zone ({} not found)", name, path);
    std::vector<unsigned char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto corrupt = [&](const char* what) {
        return make_error(errc::corruption, "time zone '{}': {} is not a TZif file ({})", name, path, what);
    };
    if (data.size() < 44 || std::string_view(reinterpret_cast<const char*>(data.data()), 4) != "TZif") {
        return corrupt("bad magic");
    }
    tzif_counts n = read_counts(data.data());
    size_t time_size = 4;
    size_t pos = 44;
    if (data[4] >= '2') {
        // Skip the 32-bit block; read the 64-bit one that follows.
        pos += block_size(n, 4);
        if (data.size() < pos + 44) return corrupt("truncated v2 header");
        n = read_counts(data.data() + pos);
        pos += 44;
        time_size = 8;
    }
    if (data.size() < pos + block_size(n, time_size) || n.type == 0) return corrupt("truncated data block");
    time_zone zone;
    zone.name_ = name;
    const unsigned char* times = data.data() + pos;
    const unsigned char* indices = times + n.time * time_size;
    const unsigned char* types = indices + n.time;
    auto type_offset = [&](size_t idx) { return static_cast<int32_t>(be32(types + idx * 6)); };
    for (uint32_t t = 0; t < n.time; ++t) {
        int64_t at = time_size == 8 ? static_cast<int64_t>(be64(times + t * 8))
                                    : static_cast<int64_t>(static_cast<int32_t>(be32(times + t * 4)));
        if (indices[t] >= n.type) return corrupt("transition type out of range");
        zone.transitions_.push_back(at);
        zone.offsets_.push_back(type_offset(indices[t]));
    }
    // Before the first transition: the first non-DST type (RFC 8536 3.2), else type 0.
    zone.initial_offset_ = type_offset(0);
    for (uint32_t t = 0; t < n.type; ++t) {
        if (types[t * 6 + 4] == 0) {
            zone.initial_offset_ = type_offset(t);
            break;
        }
    }
    return zone;
}

int32_t time_zone::offset_at(int64_t utc_seconds) const {
    auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc_seconds);
    if (it == transitions_.begin()) return initial_offset_;
    return offsets_[static_cast<size_t>(it - transitions_.begin() - 1)];
}

int64_t time_zone::local_to_utc(int64_t local_seconds) const {
    // Transitions are never closer than two days apart, so the offsets a day
    // either side are the only candidates.
    int32_t before = offset_at(local_seconds - 86400);
    int32_t after = offset_at(local_seconds + 86400);
    int64_t best = INT64_MAX;
    for (int32_t offset : {before, after}) {
        int64_t utc = local_seconds - offset;
        if (offset_at(utc) == offset) best = std::min(best, utc);
    }
    return best != INT64_MAX ? best : local_seconds - before;
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
