// Building blocks every framed protocol listener shares (Kafka, CQL): reading
// a frame body as its bytes arrive, a per-connection in-flight limit that
// parks the reader instead of polling, and a gate that lets stop() wake and
// drain requests parked on timers (long-poll fetches) at once.
//
// Rationale: each listener had its own copy of these loops, and each copy had
// the same three faults: a body buffer allocated at the size the peer
// announced (8 peers announcing 100 MiB took 800 MiB before sending a byte),
// a 1 ms sleep-and-poll when a connection had too many requests queued, and
// requests parked until their client's deadline even while the server stopped.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "millrace/common/stream.h"

namespace millrace::net {

// Reads exactly `length` bytes from `socket` into `out` (replacing its
// contents), growing the buffer only as bytes arrive: memory follows what the
// peer sent, not what it announced. With a `timeout` above zero the read
// fails with asio::error::timed_out when the whole body has not arrived in
// time (the socket is cancelled, so the connection should be closed).
asio::awaitable<std::error_code> read_body(stream& socket, std::string& out, size_t length,
                                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

// The first chunk read_body allocates; later chunks double up to k_max_chunk.
inline constexpr size_t k_first_chunk = 16 * 1024;
inline constexpr size_t k_max_chunk = 1024 * 1024;

// A counting semaphore for coroutines on one io_context thread: acquire()
// completes at once while permits remain, else parks until release(). Not
// thread-safe; the object must outlive every parked acquire(). close() wakes
// every waiter; acquire() then returns false.
class async_semaphore {
public:
    async_semaphore(asio::any_io_executor executor, size_t permits);
    asio::awaitable<bool> acquire();
    void release();
    void close();
    size_t available() const { return permits_; }
    size_t waiting() const { return waiters_.size(); }

private:
    asio::any_io_executor executor_;
    size_t permits_;
    bool closed_ = false;
    std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

// Requests parked on a timer (Kafka long-poll fetches) register here. wake_all()
// cancels every parked timer (new data); stop() does too and makes stopping()
// true, so the parked request answers now instead of at its client's deadline.
// Single-threaded (the io_context thread).
class park_gate {
public:
    void park(asio::steady_timer& timer);
    void unpark(asio::steady_timer& timer);
    void wake_all();
    void stop();
    bool stopping() const { return stopping_; }
    size_t parked() const { return parked_.size(); }

private:
    std::vector<asio::steady_timer*> parked_;
    bool stopping_ = false;
};

}  // namespace millrace::net
