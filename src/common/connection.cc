#include "millrace/common/connection.h"

#include <algorithm>

#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

namespace millrace::net {

asio::awaitable<std::error_code> read_body(stream& socket, std::string& out, size_t length,
                                           std::chrono::milliseconds timeout) {
    out.clear();
    std::shared_ptr<asio::steady_timer> deadline;
    auto timed_out = std::make_shared<bool>(false);
    if (timeout.count() > 0) {
        deadline = std::make_shared<asio::steady_timer>(socket.get_executor(), timeout);
        deadline->async_wait([&socket, timed_out](const std::error_code& ec) {
            if (ec) return;  // cancelled: the body arrived
            *timed_out = true;
            std::error_code ignored;
            socket.socket().cancel(ignored);
        });
    }
    std::error_code ec;
    size_t chunk = k_first_chunk;
    while (out.size() < length) {
        size_t have = out.size();
        size_t step = std::min(length - have, chunk);
        out.resize(have + step);
        size_t got = co_await asio::async_read(socket, asio::buffer(out.data() + have, step),
                                               asio::redirect_error(asio::use_awaitable, ec));
        out.resize(have + got);
        if (ec) break;
        chunk = std::min(chunk * 2, k_max_chunk);
    }
    if (deadline) deadline->cancel();
    if (*timed_out) co_return asio::error::timed_out;
    co_return ec;
}

async_semaphore::async_semaphore(asio::any_io_executor executor, size_t permits)
    : executor_(std::move(executor)), permits_(permits) {}

asio::awaitable<bool> async_semaphore::acquire() {
    while (!closed_ && permits_ == 0) {
        auto timer = std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
        waiters_.push_back(timer);
        std::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        // Woken by release()/close(), which removed it from waiters_.
    }
    if (closed_) co_return false;
    --permits_;
    co_return true;
}

void async_semaphore::release() {
    ++permits_;
    if (!waiters_.empty()) {
        waiters_.front()->cancel();
        waiters_.pop_front();
    }
}

void async_semaphore::close() {
    closed_ = true;
    for (auto& timer : waiters_) timer->cancel();
    waiters_.clear();
}

void park_gate::park(asio::steady_timer& timer) {
    if (stopping_) {
        timer.cancel();
        return;
    }
    parked_.push_back(&timer);
}

void park_gate::unpark(asio::steady_timer& timer) { std::erase(parked_, &timer); }

void park_gate::wake_all() {
    for (auto* timer : parked_) timer->cancel();
}

void park_gate::stop() {
    stopping_ = true;
    wake_all();
}

}  // namespace millrace::net
