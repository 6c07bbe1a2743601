// Makes partition logs durable off the io thread, with group commit: every
// produce that waits for durability while an fsync is running is covered by
// the next one, so one fdatasync acknowledges many requests.
//
// request()/wait_durable()/forget() are called on the broker's io_context
// thread; the fsyncs run on the flusher's own thread; completions are posted
// back to the io_context.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "millrace/common/log.h"
#include "millrace/common/metrics.h"
#include "storage/partition_log.h"

namespace millrace::kafka {

class flusher {
public:
    flusher(asio::io_context& io, metrics::registry& metrics);
    ~flusher();

    // Schedules an fsync of `log` up to its current end.
    void request(storage::partition_log& log);
    // Completes once everything of `log` below `offset` is durable, or with
    // the fsync's error (the data may then be lost: the producer must retry).
    asio::awaitable<status> wait_durable(storage::partition_log& log, int64_t offset);
    // Drops `log` (its topic is being deleted): its waiters fail.
    void forget(storage::partition_log& log);
    // Fails every waiter and stops the thread. Idempotent.
    void stop();

private:
    struct waiter {
        storage::partition_log* log;
        int64_t offset;
        asio::steady_timer timer;
        std::optional<status> outcome;
    };
    struct job {
        storage::partition_log* log;
        uint64_t generation;
        std::shared_ptr<millrace::file> target_file;
        int64_t target;
    };
    void run();
    void complete(const std::vector<job>& done, const std::vector<status>& outcomes);

    asio::io_context& io_;
    log::logger log_{"broker"};
    metrics::histogram& fsync_seconds_;
    // io-thread state
    std::map<storage::partition_log*, uint64_t> generations_;
    std::vector<std::shared_ptr<waiter>> waiters_;
    uint64_t next_generation_ = 1;
    // shared with the flusher thread
    std::mutex mutex_;
    std::condition_variable wake_;
    std::map<storage::partition_log*, job> pending_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace millrace::kafka
