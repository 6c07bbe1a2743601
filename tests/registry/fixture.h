// A real `millrace broker` and `millrace registry` for the registry suites,
// and small helpers to talk to them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/process.h"
#include "millrace/avro/json.h"

namespace millrace::testing {

struct registry_cluster {
    temp_dir dir;
    server broker;
    server registry;

    // Starts a broker, then a registry on topic `topic` of it.
    explicit registry_cluster(const std::string& topic = "_schemas");
    // Stops the registry (SIGTERM) and starts a new one on the same topic.
    void restart_registry();
    void start_registry();
    std::string topic;
    int registry_starts = 0;
};

struct reply {
    int status = 0;
    std::string body;
    std::string headers;
    avro::json::value json;  // null when the body is not JSON
    int error_code() const;
    std::string message() const;
};

reply call(const std::string& address, const std::string& method, const std::string& target, const std::string& body = {});
// {"schema": <text>} plus schemaType when not AVRO.
std::string schema_body(const std::string& schema_text, const std::string& type = "AVRO");
// Appends a raw record to `topic`; returns its offset.
int64_t produce_raw(const std::string& bootstrap, const std::string& topic, const std::string& key,
                    const std::optional<std::string>& value);

}  // namespace millrace::testing
