#include "time_util.h"

#include <fmt/format.h>

namespace millrace::sql::timeutil {

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

// Howard Hinnant's civil-date algorithms.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
}

namespace {

struct fields {
    int64_t year = 1970;
    unsigned month = 1, day = 1;
    int64_t hour = 0, minute = 0, second = 0, milli = 0;
};

fields split(int64_t millis) {
    fields f;
    int64_t days = floor_div(millis, k_ms_per_day);
    int64_t rest = millis - days * k_ms_per_day;
    civil_from_days(days, f.year, f.month, f.day);
    f.hour = rest / 3600000;
    f.minute = rest / 60000 % 60;
    f.second = rest / 1000 % 60;
    f.milli = rest % 1000;
    return f;
}

bool valid_date(int64_t y, unsigned m, unsigned d) {
    if (m < 1 || m > 12 || d < 1) return false;
    static const unsigned k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned limit = k_days[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) limit = 29;
    return d <= limit;
}

bool read_digits(std::string_view text, size_t& pos, size_t min_digits, size_t max_digits, int64_t& out) {
    size_t start = pos;
    int64_t v = 0;
    while (pos < text.size() && pos - start < max_digits && text[pos] >= '0' && text[pos] <= '9') {
        v = v * 10 + (text[pos] - '0');
        ++pos;
    }
    if (pos - start < min_digits) return false;
    out = v;
    return true;
}

}  // namespace

std::string format_pattern(int64_t millis, std::string_view pattern) {
    fields f = split(millis);
    std::string out;
    for (size_t pos = 0; pos < pattern.size();) {
        char c = pattern[pos];
        if (c == '\'') {
            size_t end = pattern.find('\'', pos + 1);
            if (end == std::string_view::npos) end = pattern.size();
            if (end == pos + 1) out += '\'';
            else out.append(pattern.substr(pos + 1, end - pos - 1));
            pos = end + 1;
            continue;
        }
        size_t run = 1;
        while (pos + run < pattern.size() && pattern[pos + run] == c) ++run;
        auto num = [&](int64_t v, size_t width) { out += fmt::format("{:0{}}", v, width); };
        switch (c) {
            case 'y': if (run == 2) num(f.year % 100, 2); else num(f.year, run < 4 ? 4 : run); break;
            case 'M': num(f.month, run); break;
            case 'd': num(f.day, run); break;
            case 'H': num(f.hour, run); break;
            case 'm': num(f.minute, run); break;
            case 's': num(f.second, run); break;
            case 'S': {
                std::string ms = fmt::format("{:03}", f.milli);
                while (ms.size() < run) ms += '0';
                out += ms.substr(0, run < 3 ? 3 : run);
                break;
            }
            default: out.append(run, c); break;
        }
        pos += run;
    }
    return out;
}

std::optional<int64_t> parse_pattern(std::string_view text, std::string_view pattern) {
    fields f;
    size_t tpos = 0;
    for (size_t pos = 0; pos < pattern.size();) {
        char c = pattern[pos];
        if (c == '\'') {
            size_t end = pattern.find('\'', pos + 1);
            if (end == std::string_view::npos) end = pattern.size();
            std::string_view lit = end == pos + 1 ? std::string_view("'") : pattern.substr(pos + 1, end - pos - 1);
            if (text.substr(tpos, lit.size()) != lit) return std::nullopt;
            tpos += lit.size();
            pos = end + 1;
            continue;
        }
        size_t run = 1;
        while (pos + run < pattern.size() && pattern[pos + run] == c) ++run;
        int64_t v = 0;
        // Adjacent numeric fields (yyyyMMdd) need fixed widths; lone ones accept 1..n digits.
        bool next_is_digit_field = pos + run < pattern.size() && std::string_view("yMdHmsS").find(pattern[pos + run]) != std::string_view::npos;
        size_t max_w = next_is_digit_field ? run : (c == 'y' ? 9 : (c == 'S' ? 9 : 2));
        if (c == 'y' && !next_is_digit_field) max_w = run == 2 ? 2 : 9;
        size_t min_w = next_is_digit_field ? run : 1;
        switch (c) {
            case 'y': if (!read_digits(text, tpos, min_w, max_w, v)) return std::nullopt; f.year = run == 2 ? 2000 + v : v; break;
            case 'M': if (!read_digits(text, tpos, min_w, max_w, v)) return std::nullopt; f.month = static_cast<unsigned>(v); break;
            case 'd': if (!read_digits(text, tpos, min_w, max_w, v)) return std::nullopt; f.day = static_cast<unsigned>(v); break;
            case 'H': if (!read_digits(text, tpos, min_w, max_w, v) || v > 23) return std::nullopt; f.hour = v; break;
            case 'm': if (!read_digits(text, tpos, min_w, max_w, v) || v > 59) return std::nullopt; f.minute = v; break;
            case 's': if (!read_digits(text, tpos, min_w, max_w, v) || v > 59) return std::nullopt; f.second = v; break;
            case 'S': {
                size_t start = tpos;
                if (!read_digits(text, tpos, 1, next_is_digit_field ? run : 9, v)) return std::nullopt;
                size_t digits = tpos - start;
                while (digits < 3) { v *= 10; ++digits; }
                while (digits > 3) { v /= 10; --digits; }
                f.milli = v;
                break;
            }
            default:
                for (size_t k = 0; k < run; ++k) {
                    if (tpos >= text.size() || text[tpos] != c) return std::nullopt;
                    ++tpos;
                }
        }
        pos += run;
    }
    if (tpos != text.size() || !valid_date(f.year, f.month, f.day)) return std::nullopt;
    return days_from_civil(f.year, f.month, f.day) * k_ms_per_day + f.hour * 3600000 + f.minute * 60000 +
           f.second * 1000 + f.milli;
}

std::optional<int64_t> parse_date(std::string_view text) {
    size_t pos = 0;
    int64_t y = 0, m = 0, d = 0;
    if (!read_digits(text, pos, 4, 4, y) || pos >= text.size() || text[pos++] != '-') return std::nullopt;
    if (!read_digits(text, pos, 1, 2, m) || pos >= text.size() || text[pos++] != '-') return std::nullopt;
    if (!read_digits(text, pos, 1, 2, d) || pos != text.size()) return std::nullopt;
    if (!valid_date(y, static_cast<unsigned>(m), static_cast<unsigned>(d))) return std::nullopt;
    return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

std::optional<int64_t> parse_time(std::string_view text) {
    size_t pos = 0;
    int64_t h = 0, mi = 0, s = 0, ms = 0;
    if (!read_digits(text, pos, 1, 2, h) || h > 23 || pos >= text.size() || text[pos++] != ':') return std::nullopt;
    if (!read_digits(text, pos, 2, 2, mi) || mi > 59) return std::nullopt;
    if (pos < text.size() && text[pos] == ':') {
        ++pos;
        if (!read_digits(text, pos, 2, 2, s) || s > 59) return std::nullopt;
        if (pos < text.size() && text[pos] == '.') {
            ++pos;
            size_t start = pos;
            int64_t frac = 0;
            if (!read_digits(text, pos, 1, 9, frac)) return std::nullopt;
            size_t digits = pos - start;
            while (digits < 3) { frac *= 10; ++digits; }
            while (digits > 3) { frac /= 10; --digits; }
            ms = frac;
        }
    }
    if (pos != text.size()) return std::nullopt;
    return h * 3600000 + mi * 60000 + s * 1000 + ms;
}

std::optional<int64_t> parse_timestamp(std::string_view text, bool allow_t, bool allow_zone) {
    if (allow_zone && !text.empty() && (text.back() == 'Z' || text.back() == 'z')) text.remove_suffix(1);
    size_t sep = text.find_first_of(allow_t ? " T" : " ");
    auto date = parse_date(text.substr(0, sep));
    if (!date) return std::nullopt;
    int64_t tod = 0;
    if (sep != std::string_view::npos) {
        auto t = parse_time(text.substr(sep + 1));
        if (!t) return std::nullopt;
        tod = *t;
    }
    return *date * k_ms_per_day + tod;
}

}  // namespace millrace::sql::timeutil
