// The `_schemas` topic through librdkafka: created compacted with one
// partition when missing, read from the start at boot, appended to by the
// registry's writer thread. Not thread-safe: one thread uses it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <string>

#include "millrace/common/result.h"

struct rd_kafka_s;

namespace millrace::registry {

class schemas_log {
public:
    // Every wait gives up within half a second once `stopping` is set (the
    // broker may be served by the thread that is stopping us).
    // `kafka_properties`: base librdkafka properties of every client (security::kafka_client_properties).
    schemas_log(std::string bootstrap, std::vector<std::pair<std::string, std::string>> kafka_properties, std::string topic,
                int replication_factor, const std::atomic<bool>& stopping);
    ~schemas_log();
    schemas_log(const schemas_log&) = delete;
    schemas_log& operator=(const schemas_log&) = delete;

    // Connects the producer and creates the topic (cleanup.policy=compact, one
    // partition) unless it exists. Errors are unavailable (retryable).
    status open(int64_t timeout_ms);
    // Calls `apply(offset, key, value)` for every record from the start of the
    // topic to its end as of this call; value nullopt for a tombstone.
    status read_all(const std::function<void(int64_t, const std::string&, const std::optional<std::string>&)>& apply,
                    int64_t timeout_ms);
    // Appends one record (acks=all) and waits for it; returns its offset.
    result<int64_t> append(const std::string& key, const std::optional<std::string>& value, int64_t timeout_ms);

    const std::string& topic() const { return topic_; }
    // Closes the producer (later appends fail with unavailable), so that it is
    // gone before the broker stops and never logs the broker going away.
    // Not concurrent with append/open. Idempotent; the destructor calls it.
    void close();

    struct delivery;  // the append waiting for its report (internal)

private:
    std::string bootstrap_;
    std::vector<std::pair<std::string, std::string>> kafka_properties_;
    std::string topic_;
    int replication_factor_;
    const std::atomic<bool>& stopping_;
    std::unique_ptr<delivery> pending_;
    uint64_t sequence_ = 0;
    rd_kafka_s* producer_ = nullptr;
};

}  // namespace millrace::registry
