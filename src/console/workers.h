// A fixed pool of worker threads for the console's blocking calls (Kafka,
// HTTP, CQL), so the shared io thread never waits on a network peer.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace millrace::console {

class worker_pool {
public:
    using job = std::function<void()>;

    explicit worker_pool(size_t threads, size_t max_queued = 256);
    ~worker_pool() { stop(); }
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    // Queues `work`; returns false (and does not run it) when the queue is
    // full or the pool stopped, so the caller can answer 503 at once.
    bool submit(job work);
    // Runs what is queued, then joins the threads. Idempotent.
    void stop();

private:
    void run();

    size_t max_queued_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<job> queue_;  // guarded by mutex_
    bool stopping_ = false;  // guarded by mutex_
    std::vector<std::thread> threads_;
};

}  // namespace millrace::console
