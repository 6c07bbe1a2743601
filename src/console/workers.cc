#include "workers.h"

namespace millrace::console {

worker_pool::worker_pool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
    for (size_t idx = 0; idx < threads; ++idx) threads_.emplace_back([this] { run(); });
}

bool worker_pool::submit(job work) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || queue_.size() >= max_queued_) return false;
        queue_.push_back(std::move(work));
    }
    ready_.notify_one();
    return true;
}

void worker_pool::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
    }
    ready_.notify_all();
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
    threads_.clear();
}

void worker_pool::run() {
    for (;;) {
        job work;
        {
            std::unique_lock lock(mutex_);
            ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and drained
            work = std::move(queue_.front());
            queue_.pop_front();
        }
        work();
    }
}

}  // namespace millrace::console
