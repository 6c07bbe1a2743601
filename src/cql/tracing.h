// Request tracing as Cassandra does it: a request frame with the tracing flag
// gets a session id (a timeuuid) that leads its response body, and the
// session and its events become rows of system_traces.sessions and
// system_traces.events, which cqlsh's TRACING ON and drivers'
// get_query_trace() / getQueryTrace() read back by session_id.
//
// Rationale: one node keeps its traces in memory (the last k_kept_sessions),
// not in the store: Cassandra expires them after a day anyway, and a trace
// must be readable the moment its response is sent, which an in-memory table
// gives without a write on the request path.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "system_tables.h"

namespace millrace::cql {

struct trace_event {
    std::string event_id;  // timeuuid, 16 bytes
    std::string activity;
    int32_t source_elapsed_us = 0;
    std::string thread;
};

struct trace_session {
    std::string session_id;  // timeuuid, 16 bytes
    std::string client;      // peer address (no port)
    std::string coordinator;
    int32_t coordinator_port = 0;
    std::string command = "QUERY";
    std::string request;  // "Execute CQL3 query", ...
    std::vector<std::pair<std::string, std::string>> parameters;
    int64_t started_at_ms = 0;
    int32_t duration_us = 0;
    std::vector<trace_event> events;
};

// A version-1 UUID for `unix_micros` (monotonic within the process), as
// Cassandra's session and event ids.
std::string new_timeuuid(int64_t unix_micros);

// The traces of the last k_kept_sessions traced requests. Thread-safe.
class trace_store {
public:
    static constexpr size_t k_kept_sessions = 1000;
    void add(trace_session s);
    // system_traces.sessions / system_traces.events, or nullopt for another name.
    std::optional<virtual_table> table(const std::string& name) const;
    size_t size() const;

private:
    mutable std::mutex mu_;
    std::deque<trace_session> sessions_;
};

// The process's traces (one CQL store per process).
trace_store& traces();

// One traced request: events carry the time since begin; finish() stores it.
class request_trace {
public:
    request_trace(int64_t wall_millis, std::string client, std::string coordinator, int32_t coordinator_port);
    const std::string& session_id() const { return session_.session_id; }
    void set_request(std::string request, std::vector<std::pair<std::string, std::string>> parameters);
    void event(std::string activity);
    void finish();

private:
    int32_t elapsed_us() const;
    trace_session session_;
    std::chrono::steady_clock::time_point begin_;
};

}  // namespace millrace::cql
