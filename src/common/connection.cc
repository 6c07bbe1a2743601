#include "millrace/common/connection.h"

#include <algorithm>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
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

framed_connection::framed_connection(stream& s, options opts, std::shared_ptr<frame_protocol> protocol,
                                     const log::logger& log, metrics::counter* protocol_errors, std::string peer)
    : stream_(&s),
      opts_(std::move(opts)),
      protocol_(std::move(protocol)),
      log_(log),
      protocol_errors_(protocol_errors),
      peer_(std::move(peer)),
      executor_(s.get_executor()),
      in_flight_(s.get_executor(), opts_.max_in_flight),
      wake_(s.get_executor()) {
    wake_.expires_at(asio::steady_timer::time_point::max());
}

asio::awaitable<void> framed_connection::run() {
    auto self = shared_from_this();
    using namespace asio::experimental::awaitable_operators;
    try {
        co_await (read_loop() && write_loop());
    } catch (...) {
        stream_ = nullptr;
        throw;
    }
    stream_ = nullptr;
}

void framed_connection::respond(const std::shared_ptr<response_slot>& slot, std::string bytes, bool send) {
    slot->bytes = std::move(bytes);
    slot->send = send;
    slot->ready = true;
    if (!opts_.ordered) {
        queue_.push_back(slot);
        if (!slot->unsolicited) in_flight_.release();
    }
    notify();
}

void framed_connection::push(std::string bytes) {
    auto slot = std::make_shared<response_slot>();
    slot->bytes = std::move(bytes);
    slot->ready = true;
    slot->unsolicited = true;
    queue_.push_back(std::move(slot));
    notify();
}

void framed_connection::abort() {
    reading_done_ = true;
    in_flight_.close();
    queue_.clear();
    if (stream_ != nullptr) stream_->close();
    notify();
}

void framed_connection::stop_reading() {
    reading_done_ = true;
    if (stream_ != nullptr) {
        std::error_code ignored;
        stream_->socket().cancel(ignored);
    }
    notify();
}

asio::awaitable<void> framed_connection::read_loop() {
    struct done_guard {
        framed_connection& c;
        ~done_guard() {
            c.reading_done_ = true;
            c.notify();
        }
    } guard{*this};
    std::string header;
    const auto seconds = [](std::chrono::milliseconds d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); };
    while (!reading_done_) {
        if (!co_await in_flight_.acquire()) co_return;
        // Returned here unless a request takes it over.
        bool permit_taken = false;
        struct permit_guard {
            async_semaphore& sem;
            bool& taken;
            ~permit_guard() {
                if (!taken) sem.release();
            }
        } permit{in_flight_, permit_taken};
        if (stream_ == nullptr) co_return;
        auto ec = co_await read_body(*stream_, header, protocol_->header_size(), opts_.idle_timeout);
        if (ec == asio::error::timed_out) log_.info("closing connection from {}: idle for {} s", peer_, seconds(opts_.idle_timeout));
        if (ec) co_return;
        auto length = co_await protocol_->body_length(*this, header);
        if (!length || reading_done_ || stream_ == nullptr) co_return;
        // Grown as bytes arrive: an announced size costs nothing until sent.
        auto body = std::make_shared<std::string>();
        ec = co_await read_body(*stream_, *body, *length, opts_.request_timeout);
        if (ec == asio::error::timed_out) {
            if (protocol_errors_ != nullptr) protocol_errors_->inc();
            log_.warn("closing connection from {}: {} of a {}-byte {} arrived in {} s", peer_, body->size(), *length,
                      opts_.body_noun, seconds(opts_.request_timeout));
        }
        if (ec) co_return;
        auto slot = std::make_shared<response_slot>();
        if (opts_.ordered) queue_.push_back(slot);
        permit_taken = true;  // the writer (ordered) or respond() returns it
        if (!co_await protocol_->on_frame(*this, std::move(slot), header, std::move(body))) co_return;
    }
}

asio::awaitable<void> framed_connection::write_loop() {
    constexpr size_t k_max_batch = 1 << 20;
    std::string batch;
    for (;;) {
        batch.clear();
        while (!queue_.empty() && queue_.front()->ready && batch.size() < k_max_batch) {
            auto slot = std::move(queue_.front());
            queue_.pop_front();
            if (opts_.ordered && !slot->unsolicited) in_flight_.release();
            if (slot->send) batch += slot->bytes;
        }
        if (!batch.empty()) {
            if (stream_ == nullptr) co_return;
            std::error_code ec;
            co_await asio::async_write(*stream_, asio::buffer(batch), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                in_flight_.close();  // a reader parked on a full queue must not wait forever
                co_return;
            }
            continue;  // more may have become ready while writing
        }
        if (reading_done_ && queue_.empty()) co_return;
        wake_.expires_at(asio::steady_timer::time_point::max());
        std::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace millrace::net
