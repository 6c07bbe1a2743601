#include "millrace/source/generator.h"

#include <charconv>
#include <cstring>

#include "millrace/common/json_text.h"
#include "nat_data.h"

namespace millrace::source {
namespace {

// splitmix64: the per-user generator. Each user gets its own stream seeded
// from (seed, page, index), so users can be made in any order or in parallel
// and `inc`/`exc` never change the values of the fields that remain.
class rng {
public:
    explicit rng(uint64_t state) : state_(state) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, bound).
    uint64_t below(uint64_t bound) {
        return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
    }
    int64_t between(int64_t low, int64_t high) { return low + static_cast<int64_t>(below(static_cast<uint64_t>(high - low))); }
    template <typename T> const T& pick(std::span<const T> items) { return items[below(items.size())]; }

private:
    uint64_t state_;
};

uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

uint64_t hash_text(std::string_view text) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then mixed
    for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
    return mix(h);
}

constexpr std::string_view k_field_names[] = {"gender", "name", "location", "email", "login", "registered",
                                              "dob", "phone", "cell", "id", "picture", "nat"};
constexpr char k_hex[] = "0123456789abcdef";
constexpr char k_alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

// Fixed ranges, so that the same seed gives the same dates on any day; only
// the ages move with `now`, as on the real API.
constexpr int64_t k_dob_from_ms = -788'918'400'000;      // 1945-01-01
constexpr int64_t k_dob_to_ms = 1'072'915'200'000;       // 2004-01-01
constexpr int64_t k_registered_from_ms = 1'009'843'200'000;  // 2002-01-01
constexpr int64_t k_registered_to_ms = 1'672'531'200'000;    // 2023-01-01
constexpr int64_t k_ms_per_day = 86'400'000;

struct civil {
    int64_t year;
    unsigned month, day;
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
civil civil_from_days(int64_t days) {
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<int64_t>(yoe) + era * 400 + (month <= 2), month, day};
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Writes into a fixed buffer with no capacity checks per character; the
// caller flushes it to the output string after each user (one memcpy).
// One user is at most ~2 KiB; k_writer_capacity leaves a wide margin and
// flush() asserts it was never crossed.
constexpr size_t k_writer_capacity = 8192;

class writer {
public:
    explicit writer(std::string& out) : out_(out) {}
    ~writer() { flush(); }
    void flush() {
        size_t used = static_cast<size_t>(p_ - buf_);
        MILLRACE_ASSERT(used <= k_writer_capacity, "generator buffer overrun: {} bytes", used);
        out_.append(buf_, used);
        p_ = buf_;
    }
    void raw(std::string_view text) {
        std::memcpy(p_, text.data(), text.size());
        p_ += text.size();
    }
    void ch(char c) { *p_++ = c; }
    void number(int64_t v) {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
        raw(std::string_view(buf, static_cast<size_t>(end - buf)));
    }
    // Fixed width, zero padded.
    void digits(uint64_t v, int width) {
        for (int idx = width - 1; idx >= 0; --idx) {
            p_[idx] = static_cast<char>('0' + v % 10);
            v /= 10;
        }
        p_ += width;
    }
    // Table text: never needs escaping (nat_data.h's rule).
    void str(std::string_view text) {
        ch('"');
        raw(text);
        ch('"');
    }
    // Text from a client (the seed): escaped.
    // Flushes first, so a long seed never crosses the buffer's capacity.
    void escaped(std::string_view text) {
        flush();
        json_text::append_string(out_, text);
    }
    void pattern(std::string_view pat, rng& r) {
        for (char c : pat) {
            if (c == '#') {
                ch(static_cast<char>('0' + r.below(10)));
            } else if (c == 'A') {
                ch(static_cast<char>('A' + r.below(26)));
            } else {
                ch(c);
            }
        }
    }
    void hex(rng& r, int count) {
        while (count > 0) {
            uint64_t bits = r.next();
            for (int idx = 0; idx < 16 && count > 0; ++idx, --count, bits >>= 4) ch(k_hex[bits & 0xf]);
        }
    }
    // `c` is the civil date of `ms` (the caller needs it for the age too).
    void iso_time(int64_t ms, const civil& c) {
        int64_t days = floor_div(ms, k_ms_per_day);
        int64_t in_day = ms - days * k_ms_per_day;
        ch('"');
        digits(static_cast<uint64_t>(c.year), 4);
        ch('-');
        digits(c.month, 2);
        ch('-');
        digits(c.day, 2);
        ch('T');
        digits(static_cast<uint64_t>(in_day / 3'600'000), 2);
        ch(':');
        digits(static_cast<uint64_t>(in_day / 60'000 % 60), 2);
        ch(':');
        digits(static_cast<uint64_t>(in_day / 1000 % 60), 2);
        ch('.');
        digits(static_cast<uint64_t>(in_day % 1000), 3);
        raw("Z\"");
    }
    // Lower-cased ASCII, spaces dropped: "de Jong" -> "dejong".
    void email_part(std::string_view text) {
        for (char c : text) {
            if (c == ' ') continue;
            ch(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
        }
    }

private:
    std::string& out_;
    char buf_[k_writer_capacity + 2048];
    char* p_ = buf_;
};

civil civil_of(int64_t ms) { return civil_from_days(floor_div(ms, k_ms_per_day)); }

int64_t age_at(const civil& then, const civil& now) {
    int64_t age = now.year - then.year;
    if (now.month < then.month || (now.month == then.month && now.day < then.day)) --age;
    return age < 0 ? 0 : age;
}

void write_coordinate(writer& w, rng& r, int64_t limit) {
    // A value in (-limit, limit) with four decimals, as a string.
    int64_t scaled = r.between(-limit * 10000 + 1, limit * 10000);
    w.ch('"');
    if (scaled < 0) {
        w.ch('-');
        scaled = -scaled;
    }
    w.number(scaled / 10000);
    w.ch('.');
    w.digits(static_cast<uint64_t>(scaled % 10000), 4);
    w.ch('"');
}

void write_user(const query& q, uint64_t seed_hash, int index, const civil& today, writer& w) {
    rng r(mix(seed_hash ^ mix(static_cast<uint64_t>(q.page) * 0x9e3779b97f4a7c15ull) ^
              mix(static_cast<uint64_t>(index) + 0x632be59bd9b4e019ull)));
    auto all = nationalities();
    const nationality& nat = q.nats.empty() ? all[r.below(all.size())] : all[q.nats[r.below(q.nats.size())]];
    bool male = q.gender == gender_filter::any ? (r.next() & 1) != 0 : q.gender == gender_filter::male;
    // Every value is drawn, included or not, so that inc/exc never shift the others.
    uint64_t title_roll = r.below(4);
    std::string_view first = r.pick(male ? nat.male_first : nat.female_first);
    std::string_view last = r.pick(nat.last);
    const uint32_t f = q.fields;
    bool comma = false;
    auto key = [&](std::string_view name) {
        if (comma) w.ch(',');
        comma = true;
        w.ch('"');
        w.raw(name);
        w.raw("\":");
    };

    w.ch('{');
    if (f & f_gender) {
        key("gender");
        w.str(male ? "male" : "female");
    }
    if (f & f_name) {
        key("name");
        std::string_view title;
        bool french = nat.code == "FR" || nat.code == "CH";
        if (male) {
            title = french && title_roll < 2 ? "Monsieur" : "Mr";
        } else {
            constexpr std::string_view titles[] = {"Ms", "Mrs", "Miss", "Ms"};
            constexpr std::string_view french_titles[] = {"Madame", "Mademoiselle", "Mrs", "Ms"};
            title = french ? french_titles[title_roll] : titles[title_roll];
        }
        w.raw("{\"title\":");
        w.str(title);
        w.raw(",\"first\":");
        w.str(first);
        w.raw(",\"last\":");
        w.str(last);
        w.ch('}');
    }
    rng loc = r;  // location draws from its own stream position
    r.next();
    if (f & f_location) {
        key("location");
        w.raw("{\"street\":{\"number\":");
        w.number(loc.between(1, 10000));
        w.raw(",\"name\":");
        w.str(loc.pick(nat.streets));
        const place& p = loc.pick(nat.places);
        w.raw("},\"city\":");
        w.str(p.city);
        w.raw(",\"state\":");
        w.str(p.state);
        w.raw(",\"country\":");
        w.str(nat.country);
        w.raw(",\"postcode\":");
        if (nat.postcode_is_string) {
            w.ch('"');
            w.pattern(nat.postcode, loc);
            w.ch('"');
        } else {
            w.ch(static_cast<char>('1' + loc.below(9)));  // a JSON number has no leading zero
            w.pattern(nat.postcode.substr(1), loc);
        }
        w.raw(",\"coordinates\":{\"latitude\":");
        write_coordinate(w, loc, 90);
        w.raw(",\"longitude\":");
        write_coordinate(w, loc, 180);
        const timezone_entry& tz = loc.pick(timezones());
        w.raw("},\"timezone\":{\"offset\":");
        w.str(tz.offset);
        w.raw(",\"description\":");
        w.str(tz.description);
        w.raw("}}");
    }
    if (f & f_email) {
        key("email");
        w.ch('"');
        w.email_part(first);
        w.ch('.');
        w.email_part(last);
        w.raw("@example.com\"");
    }
    rng login = r;
    r.next();
    if (f & f_login) {
        key("login");
        w.raw("{\"uuid\":\"");
        uint64_t hi = login.next(), lo = login.next();
        hi = (hi & 0xffffffffffff0fffull) | 0x0000000000004000ull;  // version 4
        lo = (lo & 0x3fffffffffffffffull) | 0x8000000000000000ull;  // RFC 4122 variant
        for (int nibble = 15; nibble >= 0; --nibble) {
            w.ch(k_hex[(hi >> (nibble * 4)) & 0xf]);
            if (nibble == 8 || nibble == 4) w.ch('-');
        }
        w.ch('-');
        for (int nibble = 15; nibble >= 0; --nibble) {
            w.ch(k_hex[(lo >> (nibble * 4)) & 0xf]);
            if (nibble == 12) w.ch('-');
        }
        auto words = username_words();
        w.raw("\",\"username\":\"");
        w.raw(words[login.below(words.size() / 2)]);
        w.raw(words[words.size() / 2 + login.below(words.size() / 2)]);
        w.number(login.between(100, 1000));
        w.raw("\",\"password\":");
        w.str(login.pick(passwords()));
        w.raw(",\"salt\":\"");
        for (int idx = 0; idx < 8; ++idx) w.ch(k_alnum[login.below(sizeof(k_alnum) - 1)]);
        // Digest-shaped hex from the user's stream: computing md5/sha1/sha256
        // of password+salt would cost more than the rest of the user.
        w.raw("\",\"md5\":\"");
        w.hex(login, 32);
        w.raw("\",\"sha1\":\"");
        w.hex(login, 40);
        w.raw("\",\"sha256\":\"");
        w.hex(login, 64);
        w.raw("\"}");
    }
    int64_t dob = r.between(k_dob_from_ms, k_dob_to_ms);
    int64_t registered = r.between(k_registered_from_ms, k_registered_to_ms);
    if (f & f_dob) {
        key("dob");
        w.raw("{\"date\":");
        const civil c = civil_of(dob);
        w.iso_time(dob, c);
        w.raw(",\"age\":");
        w.number(age_at(c, today));
        w.ch('}');
    }
    if (f & f_registered) {
        key("registered");
        w.raw("{\"date\":");
        const civil c = civil_of(registered);
        w.iso_time(registered, c);
        w.raw(",\"age\":");
        w.number(age_at(c, today));
        w.ch('}');
    }
    rng contact = r;
    r.next();
    if (f & f_phone) {
        key("phone");
        w.ch('"');
        w.pattern(nat.phone, contact);
        w.ch('"');
    }
    if (f & f_cell) {
        key("cell");
        w.ch('"');
        w.pattern(nat.cell, contact);
        w.ch('"');
    }
    if (f & f_id) {
        key("id");
        w.raw("{\"name\":");
        w.str(nat.id_name);
        w.raw(",\"value\":");
        if (nat.id_name.empty()) {
            w.raw("null");
        } else {
            w.ch('"');
            w.pattern(nat.id_value, contact);
            w.ch('"');
        }
        w.ch('}');
    }
    uint64_t portrait = r.below(100);
    if (f & f_picture) {
        key("picture");
        std::string_view kind = male ? "men/" : "women/";
        w.raw("{\"large\":\"https://randomuser.me/api/portraits/");
        w.raw(kind);
        w.number(static_cast<int64_t>(portrait));
        w.raw(".jpg\",\"medium\":\"https://randomuser.me/api/portraits/med/");
        w.raw(kind);
        w.number(static_cast<int64_t>(portrait));
        w.raw(".jpg\",\"thumbnail\":\"https://randomuser.me/api/portraits/thumb/");
        w.raw(kind);
        w.number(static_cast<int64_t>(portrait));
        w.raw(".jpg\"}");
    }
    if (f & f_nat) {
        key("nat");
        w.str(nat.code);
    }
    w.ch('}');
}

bool parse_int(std::string_view text, int64_t& out) {
    if (text.empty() || text.size() > 18) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::vector<std::string_view> split_commas(std::string_view text) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        std::string_view part = text.substr(start, comma - start);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        if (!part.empty()) parts.push_back(part);
        start = comma + 1;
    }
    return parts;
}

result<uint32_t> parse_fields(std::string_view param, std::string_view text) {
    uint32_t fields = 0;
    for (auto part : split_commas(text)) {
        std::string name = lower(part);
        bool known = false;
        for (size_t idx = 0; idx < std::size(k_field_names); ++idx) {
            if (name == k_field_names[idx]) {
                fields |= 1u << idx;
                known = true;
            }
        }
        if (!known) {
            return make_error(errc::invalid_argument,
                              "{}={}: unknown field '{}' (fields: gender, name, location, email, login, registered, "
                              "dob, phone, cell, id, picture, nat)",
                              param, text, part);
        }
    }
    return fields;
}

std::string offered_nats() {
    std::string out;
    for (const auto& nat : nationalities()) out += (out.empty() ? "" : ", ") + std::string(nat.code);
    return out;
}

}  // namespace

result<query> parse_query(const std::vector<std::pair<std::string, std::string>>& params) {
    query q;
    std::optional<uint32_t> inc, exc;
    for (const auto& [name, value] : params) {
        if (name == "results") {
            int64_t n = 0;
            if (!parse_int(value, n) || n < 1 || n > k_max_results) {
                return make_error(errc::invalid_argument, "results={}: must be a whole number from 1 to {}", value,
                                  k_max_results);
            }
            q.results = static_cast<int>(n);
        } else if (name == "page") {
            int64_t n = 0;
            if (!parse_int(value, n) || n < 1 || n > k_max_page) {
                return make_error(errc::invalid_argument, "page={}: must be a whole number from 1 to {}", value,
                                  k_max_page);
            }
            q.page = n;
        } else if (name == "seed") {
            if (value.size() > 256) {
                return make_error(errc::invalid_argument, "seed: {} characters is too long (at most 256)", value.size());
            }
            q.seed = value;
        } else if (name == "gender") {
            std::string g = lower(value);
            if (g == "male") {
                q.gender = gender_filter::male;
            } else if (g == "female") {
                q.gender = gender_filter::female;
            } else if (!g.empty()) {
                return make_error(errc::invalid_argument, "gender={}: must be male or female", value);
            }
        } else if (name == "nat") {
            q.nats.clear();
            for (auto code : split_commas(value)) {
                int idx = find_nationality(code);
                if (idx < 0) {
                    return make_error(errc::invalid_argument, "nat={}: unknown nationality '{}' (offered: {})", value,
                                      code, offered_nats());
                }
                q.nats.push_back(idx);
            }
        } else if (name == "inc" || name == "exc") {
            auto fields = parse_fields(name, value);
            if (!fields) return fields.err();
            (name == "inc" ? inc : exc) = *fields;
        } else if (name == "noinfo") {
            q.noinfo = true;
        } else if (name == "format" || name == "fmt") {
            if (lower(value) != "json" && !value.empty()) {
                return make_error(errc::invalid_argument, "{}={}: only json is offered", name, value);
            }
        }
        // Other parameters of the real API (callback, dl, password) are ignored, as it ignores unknown ones.
    }
    if (inc) q.fields = *inc == 0 ? k_all_fields : *inc;
    if (exc) q.fields &= ~*exc;
    return q;
}

std::string make_seed(uint64_t entropy) {
    std::string seed(16, '0');
    uint64_t bits = mix(entropy);
    for (int idx = 15; idx >= 0; --idx, bits >>= 4) seed[static_cast<size_t>(idx)] = k_hex[bits & 0xf];
    return seed;
}

void write_users(const query& q, int64_t now_ms, int first, int count, std::string& out) {
    writer w(out);
    uint64_t seed_hash = hash_text(q.seed);
    const civil today = civil_of(now_ms);
    for (int index = first; index < first + count; ++index) {
        if (index != first) w.ch(',');
        write_user(q, seed_hash, index, today, w);
        w.flush();
    }
}

void write_response(const query& q, int64_t now_ms, std::string& out) {
    out.reserve(out.size() + static_cast<size_t>(q.results) * 1200 + 128);
    out.append("{\"results\":[");
    write_users(q, now_ms, 0, q.results, out);
    out.push_back(']');
    if (!q.noinfo) {
        writer w(out);
        w.raw(",\"info\":{\"seed\":");
        w.escaped(q.seed);
        w.raw(",\"results\":");
        w.number(q.results);
        w.raw(",\"page\":");
        w.number(q.page);
        w.raw(",\"version\":\"");
        w.raw(k_api_version);
        w.raw("\"}");
    }
    out.push_back('}');
}

}  // namespace millrace::source
