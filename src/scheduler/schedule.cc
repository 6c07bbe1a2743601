#include "millrace/scheduler/schedule.h"

#include <array>
#include <cctype>
#include <vector>

namespace millrace::scheduler {
namespace {

struct field_spec {
    const char* name;
    int min, max;
    std::array<const char*, 13> names;  // symbolic values, index = value - min (months) or value (weekdays)
};

const field_spec k_fields[5] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day of month", 1, 31, {}},
    {"month", 1, 12, {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
    {"day of week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
};

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
        size_t at = text.find(sep, start);
        parts.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
        if (at == std::string_view::npos) return parts;
        start = at + 1;
    }
}

result<int> parse_value(std::string_view text, int field_idx) {
    const field_spec& f = k_fields[field_idx];
    auto error = [&](std::string_view why) {
        return make_error(errc::invalid_argument, "cron field {} ({}): '{}' {}", field_idx + 1, f.name, text, why);
    };
    if (text.empty()) return error("is empty");
    if (std::isalpha(static_cast<unsigned char>(text[0]))) {
        std::string upper;
        for (char ch : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        for (size_t idx = 0; idx < f.names.size() && f.names[idx] != nullptr; ++idx) {
            if (upper == f.names[idx]) return static_cast<int>(idx) + (field_idx == 3 ? 1 : 0);
        }
        return error("is not a known name");
    }
    int value = 0;
    for (char ch : text) {
        if (ch < '0' || ch > '9') return error("is not a number");
        value = value * 10 + (ch - '0');
        if (value > 1000) break;
    }
    if (value < f.min || value > f.max) {
        return make_error(errc::invalid_argument, "cron field {} ({}): {} is outside {}..{}", field_idx + 1, f.name,
                          text, f.min, f.max);
    }
    return value;
}

// Sets the bits of one field; returns whether it was a lone '*'.
result<bool> parse_field(std::string_view text, int field_idx, std::vector<bool>& bits) {
    const field_spec& f = k_fields[field_idx];
    bool star = text.size() > 0 && text[0] == '*';
    for (std::string_view part : split(text, ',')) {
        std::string_view range = part;
        int step = 1;
        if (auto slash = part.find('/'); slash != std::string_view::npos) {
            range = part.substr(0, slash);
            std::string_view step_text = part.substr(slash + 1);
            step = 0;
            for (char ch : step_text) {
                if (ch < '0' || ch > '9' || step > 1000) {
                    step = -1;
                    break;
                }
                step = step * 10 + (ch - '0');
            }
            if (step <= 0) {
                return make_error(errc::invalid_argument, "cron field {} ({}): step '{}' is not a positive number",
                                  field_idx + 1, f.name, step_text);
            }
        }
        int low = f.min, high = f.max;
        if (range == "*") {
            if (field_idx == 4) high = 6;
        } else if (auto dash = range.find('-'); dash != std::string_view::npos) {
            auto a = parse_value(range.substr(0, dash), field_idx);
            if (!a) return a.err();
            auto b = parse_value(range.substr(dash + 1), field_idx);
            if (!b) return b.err();
            low = *a;
            high = *b;
            if (low > high) {
                return make_error(errc::invalid_argument, "cron field {} ({}): range '{}' runs backwards", field_idx + 1,
                                  f.name, range);
            }
        } else {
            auto a = parse_value(range, field_idx);
            if (!a) return a.err();
            low = *a;
            high = part.find('/') != std::string_view::npos ? (field_idx == 4 ? 6 : f.max) : *a;
        }
        for (int v = low; v <= high; v += step) bits[static_cast<size_t>(field_idx == 4 ? v % 7 : v)] = true;
    }
    return star;
}

}  // namespace

result<schedule> schedule::parse(std::string_view input) {
    std::string text(input);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
    schedule s;
    s.text_ = text;
    if (text.empty() || text == "none" || text == "null") {
        s.kind_ = kind::none;
        s.text_.clear();
        return s;
    }
    if (text == "@once") {
        s.kind_ = kind::once;
        return s;
    }
    std::string expr = text;
    if (text[0] == '@') {
        if (text == "@hourly") expr = "0 * * * *";
        else if (text == "@daily" || text == "@midnight") expr = "0 0 * * *";
        else if (text == "@weekly") expr = "0 0 * * 0";
        else if (text == "@monthly") expr = "0 0 1 * *";
        else if (text == "@yearly" || text == "@annually") expr = "0 0 1 1 *";
        else {
            return make_error(errc::invalid_argument,
                              "unknown schedule preset '{}' (use @once, @hourly, @daily, @weekly, @monthly, @yearly)", text);
        }
    }
    std::vector<std::string_view> fields;
    for (std::string_view part : split(expr, ' ')) {
        if (!part.empty()) fields.push_back(part);
    }
    if (fields.size() != 5) {
        return make_error(errc::invalid_argument,
                          "cron expression '{}' has {} fields; expected 5 (minute hour day-of-month month day-of-week)",
                          text, fields.size());
    }
    s.kind_ = kind::cron;
    std::vector<bool> bits[5] = {std::vector<bool>(60), std::vector<bool>(24), std::vector<bool>(32),
                                 std::vector<bool>(13), std::vector<bool>(7)};
    bool stars[5];
    for (int idx = 0; idx < 5; ++idx) {
        auto star = parse_field(fields[static_cast<size_t>(idx)], idx, bits[idx]);
        if (!star) return star.err();
        stars[idx] = *star;
    }
    for (size_t v = 0; v < 60; ++v) s.minutes_[v] = bits[0][v];
    for (size_t v = 0; v < 24; ++v) s.hours_[v] = bits[1][v];
    for (size_t v = 0; v < 32; ++v) s.days_[v] = bits[2][v];
    for (size_t v = 0; v < 13; ++v) s.months_[v] = bits[3][v];
    for (size_t v = 0; v < 7; ++v) s.weekdays_[v] = bits[4][v];
    s.day_star_ = stars[2];
    s.weekday_star_ = stars[4];
    s.fixed_time_ = s.minutes_.count() == 1 && s.hours_.count() == 1;
    return s;
}

bool schedule::matches_date(const civil_time& c) const {
    if (!months_[static_cast<size_t>(c.month)]) return false;
    bool dom = days_[static_cast<size_t>(c.day)];
    bool dow = weekdays_[static_cast<size_t>(c.weekday)];
    // Vixie cron: when both day fields are restricted, either may match.
    if (!day_star_ && !weekday_star_) return dom || dow;
    return dom && dow;
}

bool schedule::matches(const civil_time& c) const {
    return matches_date(c) && hours_[static_cast<size_t>(c.hour)] && minutes_[static_cast<size_t>(c.minute)];
}

schedule schedule::every(int64_t seconds, int64_t anchor, std::string text) {
    schedule s;
    s.kind_ = kind::interval;
    s.interval_ = std::max<int64_t>(seconds, 1);
    s.anchor_ = anchor;
    s.text_ = std::move(text);
    return s;
}

std::optional<int64_t> schedule::next_after(int64_t after, const time_zone& zone) const {
    if (kind_ == kind::interval) {
        int64_t steps = (after - anchor_) / interval_;
        if ((after - anchor_) < 0 && (after - anchor_) % interval_ != 0) --steps;  // floor
        return anchor_ + (steps + 1) * interval_;
    }
    if (kind_ != kind::cron) return std::nullopt;
    constexpr int64_t k_horizon_days = 366 * 8;
    if (fixed_time_) {
        int hour = 0, minute = 0;
        while (!hours_[static_cast<size_t>(hour)]) ++hour;
        while (!minutes_[static_cast<size_t>(minute)]) ++minute;
        int64_t local_day = zone.utc_to_local(after);
        local_day = (local_day >= 0 ? local_day / 86400 : -((-local_day + 86399) / 86400)) - 1;
        for (int64_t day = local_day; day < local_day + k_horizon_days; ++day) {
            civil_time c = to_civil(day * 86400);
            if (!matches_date(c)) continue;
            int64_t utc = zone.local_to_utc(day * 86400 + hour * 3600 + minute * 60);
            if (utc > after) return utc;
        }
        return std::nullopt;
    }
    // Real-instant iteration, minute by minute, skipping local days and hours that cannot match.
    int64_t t = (after / 60 + 1) * 60;
    if (after < 0 && after % 60 != 0) t = (after / 60) * 60;
    const int64_t end = after + k_horizon_days * 86400;
    while (t < end) {
        int32_t offset = zone.offset_at(t);
        civil_time c = to_civil(t + offset);
        if (!matches_date(c)) {
            int64_t to_midnight = 86400 - (c.hour * 3600 + c.minute * 60 + c.second);
            t += to_midnight;
            // An offset change within the skipped span may land us past midnight or short of it; re-evaluate.
            int32_t new_offset = zone.offset_at(t);
            if (new_offset > offset) t -= (new_offset - offset);
            continue;
        }
        if (!hours_[static_cast<size_t>(c.hour)]) {
            t += 3600 - (c.minute * 60 + c.second);
            continue;
        }
        if (minutes_[static_cast<size_t>(c.minute)]) return t;
        t += 60;
    }
    return std::nullopt;
}

}  // namespace millrace::scheduler
