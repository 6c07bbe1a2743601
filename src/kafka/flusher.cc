#include "flusher.h"

#include <chrono>

#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

namespace millrace::kafka {

flusher::flusher(asio::io_context& io, metrics::registry& metrics)
    : io_(io),
      fsync_seconds_(metrics.make_histogram("millrace_broker_fsync_seconds", "Time spent in fdatasync of partition logs.",
                                            metrics::latency_buckets())),
      thread_([this] { run(); }) {}

flusher::~flusher() {
    stop();
    if (thread_.joinable()) thread_.join();
}

void flusher::request(storage::partition_log& log) {
    auto [it, inserted] = generations_.try_emplace(&log, 0);
    if (inserted) it->second = next_generation_++;
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    pending_[&log] = job{&log, it->second, log.active_file(), log.next_offset()};
    wake_.notify_one();
}

asio::awaitable<status> flusher::wait_durable(storage::partition_log& log, int64_t offset) {
    if (log.flushed_offset() >= offset) co_return status{};
    auto w = std::make_shared<waiter>(waiter{&log, offset, asio::steady_timer(io_), std::nullopt});
    w->timer.expires_at(asio::steady_timer::time_point::max());
    waiters_.push_back(w);
    request(log);
    std::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!w->outcome) co_return make_error(errc::cancelled, "broker is shutting down");
    co_return *w->outcome;
}

void flusher::forget(storage::partition_log& log) {
    generations_.erase(&log);
    {
        std::lock_guard lock(mutex_);
        pending_.erase(&log);
    }
    std::erase_if(waiters_, [&](const std::shared_ptr<waiter>& w) {
        if (w->log != &log) return false;
        w->outcome = make_error(errc::not_found, "partition deleted");
        w->timer.cancel();
        return true;
    });
}

void flusher::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
        wake_.notify_all();
    }
    for (auto& w : waiters_) w->timer.cancel();
    waiters_.clear();
}

void flusher::run() {
    for (;;) {
        std::vector<job> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
            if (stopping_ && pending_.empty()) return;
            for (auto& [log, j] : pending_) batch.push_back(std::move(j));
            pending_.clear();
        }
        std::vector<status> outcomes;
        outcomes.reserve(batch.size());
        for (const auto& j : batch) {
            auto start = std::chrono::steady_clock::now();
            outcomes.push_back(j.target_file->sync());
            fsync_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        asio::post(io_, [this, batch = std::move(batch), outcomes = std::move(outcomes)] { complete(batch, outcomes); });
    }
}

void flusher::complete(const std::vector<job>& done, const std::vector<status>& outcomes) {
    for (size_t idx = 0; idx < done.size(); ++idx) {
        const auto& j = done[idx];
        auto it = generations_.find(j.log);
        if (it == generations_.end() || it->second != j.generation) continue;  // forgotten meanwhile
        if (outcomes[idx].ok()) {
            j.log->mark_flushed(j.target);
        } else {
            log_.error("fsync of {} failed: {}; unacknowledged produce requests fail and must be retried",
                       j.log->dir(), outcomes[idx].err().message());
        }
        std::erase_if(waiters_, [&](const std::shared_ptr<waiter>& w) {
            if (w->log != j.log) return false;
            if (!outcomes[idx].ok()) {
                w->outcome = outcomes[idx];
            } else if (j.log->flushed_offset() >= w->offset) {
                w->outcome = status{};
            } else {
                return false;
            }
            w->timer.cancel();
            return true;
        });
        // Waiters beyond this fsync's target need another round.
        for (const auto& w : waiters_) {
            if (w->log == j.log) {
                request(*j.log);
                break;
            }
        }
    }
}

}  // namespace millrace::kafka
