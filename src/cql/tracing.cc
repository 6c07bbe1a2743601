#include "tracing.h"

#include <atomic>
#include <random>

#include "types.h"

namespace millrace::cql {
namespace {

// 100 ns intervals between the Gregorian epoch (1582-10-15) and the Unix epoch.
constexpr int64_t k_gregorian_offset = 0x01B21DD213814000LL;
constexpr const char* k_thread = "Native-Transport-Requests-1";

cql_type type_of(const char* name) { return parse_type(name).value(); }

std::string inet_of(const std::string& address) { return inet_value(address.empty() ? "127.0.0.1" : address); }

std::string timestamp_value(int64_t millis) { return bigint_value(millis); }

}  // namespace

std::string new_timeuuid(int64_t unix_micros) {
    // Ticks strictly increase in the process, so ids never collide and sort by time.
    static std::atomic<int64_t> last{0};
    static const uint64_t node_and_clock = [] {
        std::mt19937_64 rng(std::random_device{}());
        return rng();
    }();
    int64_t ticks = unix_micros * 10 + k_gregorian_offset;
    int64_t prev = last.load();
    for (;;) {
        int64_t next = ticks > prev ? ticks : prev + 1;
        if (last.compare_exchange_weak(prev, next)) {
            ticks = next;
            break;
        }
    }
    auto t = static_cast<uint64_t>(ticks);
    uint64_t msb = ((t & 0xFFFFFFFFULL) << 32) | (((t >> 32) & 0xFFFFULL) << 16) | 0x1000ULL | ((t >> 48) & 0x0FFFULL);
    uint64_t lsb = (node_and_clock & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // IETF variant
    std::string out(16, '\0');
    for (int idx = 0; idx < 8; ++idx) {
        out[idx] = static_cast<char>((msb >> (56 - 8 * idx)) & 0xFF);
        out[8 + idx] = static_cast<char>((lsb >> (56 - 8 * idx)) & 0xFF);
    }
    return out;
}

void trace_store::add(trace_session s) {
    std::lock_guard lock(mu_);
    sessions_.push_back(std::move(s));
    while (sessions_.size() > k_kept_sessions) sessions_.pop_front();
}

size_t trace_store::size() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
}

std::optional<virtual_table> trace_store::table(const std::string& name) const {
    std::lock_guard lock(mu_);
    virtual_table v;
    if (name == "sessions") {
        v.columns = {{"session_id", type_of("uuid")},     {"client", type_of("inet")},
                     {"command", type_of("text")},        {"coordinator", type_of("inet")},
                     {"coordinator_port", type_of("int")}, {"duration", type_of("int")},
                     {"parameters", type_of("map<text, text>")}, {"request", type_of("text")},
                     {"started_at", type_of("timestamp")}};
        for (const auto& s : sessions_) {
            std::vector<std::pair<std::string, std::string>> params;
            for (const auto& [k, val] : s.parameters) params.emplace_back(text_value(k), text_value(val));
            v.rows.push_back({s.session_id, inet_of(s.client), text_value(s.command), inet_of(s.coordinator),
                              int_value(s.coordinator_port), int_value(s.duration_us), map_value(params), text_value(s.request),
                              timestamp_value(s.started_at_ms)});
        }
        return v;
    }
    if (name == "events") {
        v.columns = {{"session_id", type_of("uuid")},     {"event_id", type_of("timeuuid")},  {"activity", type_of("text")},
                     {"source", type_of("inet")},         {"source_elapsed", type_of("int")}, {"source_port", type_of("int")},
                     {"thread", type_of("text")}};
        for (const auto& s : sessions_) {
            for (const auto& e : s.events) {
                v.rows.push_back({s.session_id, e.event_id, text_value(e.activity), inet_of(s.coordinator),
                                  int_value(e.source_elapsed_us), int_value(s.coordinator_port), text_value(e.thread)});
            }
        }
        return v;
    }
    return std::nullopt;
}

trace_store& traces() {
    static trace_store store;
    return store;
}

request_trace::request_trace(int64_t wall_millis, std::string client, std::string coordinator, int32_t coordinator_port)
    : begin_(std::chrono::steady_clock::now()) {
    session_.session_id = new_timeuuid(wall_millis * 1000);
    session_.client = std::move(client);
    session_.coordinator = std::move(coordinator);
    session_.coordinator_port = coordinator_port;
    session_.started_at_ms = wall_millis;
}

void request_trace::set_request(std::string request, std::vector<std::pair<std::string, std::string>> parameters) {
    session_.request = std::move(request);
    session_.parameters = std::move(parameters);
}

int32_t request_trace::elapsed_us() const {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - begin_).count();
    return static_cast<int32_t>(std::min<int64_t>(us, INT32_MAX));
}

void request_trace::event(std::string activity) {
    int32_t elapsed = elapsed_us();
    session_.events.push_back({new_timeuuid(session_.started_at_ms * 1000 + elapsed), std::move(activity), elapsed, k_thread});
}

void request_trace::finish() {
    session_.duration_us = elapsed_us();
    traces().add(std::move(session_));
}

}  // namespace millrace::cql
