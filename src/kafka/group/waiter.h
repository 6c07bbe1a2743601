// A one-shot rendezvous between a coroutine that waits for a value and the
// code that later produces it (a JoinGroup waiting for the rebalance to
// complete, an OffsetCommit waiting for its fsync).
//
// The waiting coroutine parks on a timer that never expires; complete()
// stores the value and cancels the timer, which resumes the coroutine through
// the io_context (never inline), so completing a waiter cannot re-enter the
// code that completes it. Not thread-safe: both sides run on the io_context
// thread that owns the executor.
#pragma once

#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace millrace::kafka {

template <typename T>
class waiter {
public:
    explicit waiter(const asio::any_io_executor& executor)
        : timer_(executor, asio::steady_timer::time_point::max()) {}

    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;

    // Stores `value` and wakes the waiting coroutine, if any. The first
    // completion wins; later ones are ignored.
    void complete(T value) {
        if (value_) return;
        value_ = std::move(value);
        timer_.cancel();
    }

    bool done() const { return value_.has_value(); }
    // True once the waiting coroutine was cancelled (its connection closed)
    // before a value arrived; completing it is then harmless and unseen.
    bool abandoned() const { return abandoned_; }

    // Suspends until complete(), or returns nullopt when the awaiting
    // coroutine's cancellation slot fires first. `self` keeps the waiter alive
    // for the whole wait.
    static asio::awaitable<std::optional<T>> wait(std::shared_ptr<waiter> self) {
        if (!self->value_) {
            std::error_code ec;
            co_await self->timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (!self->value_) {
            self->abandoned_ = true;
            co_return std::nullopt;
        }
        co_return std::move(*self->value_);
    }

private:
    asio::steady_timer timer_;
    std::optional<T> value_;
    bool abandoned_ = false;
};

}  // namespace millrace::kafka
