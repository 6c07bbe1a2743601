// The connection base every framed protocol listener shares (Kafka, CQL):
// framed_connection (read loop, write loop, ordered or completion-order
// responses, in-flight limit, idle and request timeouts, abort and drain),
// and its building blocks: reading a frame body as its bytes arrive, a
// per-connection in-flight limit that parks the reader instead of polling,
// and a gate that lets stop() wake and drain requests parked on timers
// (long-poll fetches) at once.
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
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "millrace/common/log.h"
#include "millrace/common/metrics.h"
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

class framed_connection;

// One request's answer. `bytes` is the whole response frame; `send` false
// drops it (Kafka produce with acks=0).
struct response_slot {
    std::string bytes;
    bool ready = false;
    bool send = true;
    bool unsolicited = false;  // pushed, or a second request of one read (CQL v5 segment): holds no permit
};

// What a framed protocol plugs into framed_connection; one instance per
// connection, so it also holds the protocol's per-connection state (CQL's
// negotiated compression and login, Kafka's authentication state). Called on
// the io thread; may outlive the connection (spawned handlers keep it).
class frame_protocol {
public:
    virtual ~frame_protocol() = default;
    // Bytes of the fixed header before each body (Kafka 4, CQL 9).
    virtual size_t header_size() const = 0;
    // The body length `header` announces, or nullopt to close the connection
    // (after queueing, through `conn`, whatever answer the protocol owes).
    virtual asio::awaitable<std::optional<size_t>> body_length(framed_connection& conn, const std::string& header) = 0;
    // One whole frame. `slot` must be answered exactly once, now or later,
    // through conn.respond(). Returns false to stop reading (the responses
    // already queued are still written).
    virtual asio::awaitable<bool> on_frame(framed_connection& conn, std::shared_ptr<response_slot> slot, std::string header,
                                           std::shared_ptr<std::string> body) = 0;
};

// One client connection of a framed protocol (after ScyllaDB's
// generic_server): a reader that frames requests with the protocol's
// header, holding one in-flight permit per request (parking at the limit),
// and a writer that sends responses in request order (Kafka) or as they
// complete (CQL), several per write. A header that does not arrive within
// `idle_timeout` or a body within `request_timeout` of its header closes the
// connection with one log line. Single-threaded (the io thread); the object
// outlives run() while spawned handlers hold it, answering into the void.
class framed_connection : public std::enable_shared_from_this<framed_connection> {
public:
    struct options {
        size_t max_in_flight = 64;
        bool ordered = true;  // responses in request order; else as they complete
        std::chrono::milliseconds idle_timeout{0};     // 0: none
        std::chrono::milliseconds request_timeout{0};  // 0: none
        std::string body_noun = "request";             // for log lines: "request", "frame body"
    };

    framed_connection(stream& s, options opts, std::shared_ptr<frame_protocol> protocol, const log::logger& log,
                      metrics::counter* protocol_errors, std::string peer);

    // Reads and writes until the peer closes, the protocol stops reading and
    // the queued responses are written, or the server closes the stream.
    asio::awaitable<void> run();

    // Answers `slot` (see frame_protocol::on_frame).
    void respond(const std::shared_ptr<response_slot>& slot, std::string bytes, bool send = true);
    // An unsolicited frame (CQL EVENT), written after what is queued.
    void push(std::string bytes);
    // A malformed request: stop reading, drop queued responses, close.
    void abort();
    // Stop reading; queued responses are still written (pending reads are cancelled).
    void stop_reading();

    // The stream while the connection runs, else nullptr.
    stream* get_stream() { return stream_; }
    bool reading_done() const { return reading_done_; }
    const std::string& peer() const { return peer_; }
    asio::any_io_executor executor() const { return executor_; }
    frame_protocol& protocol() { return *protocol_; }

private:
    asio::awaitable<void> read_loop();
    asio::awaitable<void> write_loop();
    void notify() { wake_.cancel(); }

    stream* stream_;
    options opts_;
    std::shared_ptr<frame_protocol> protocol_;
    const log::logger& log_;
    metrics::counter* protocol_errors_;
    std::string peer_;
    asio::any_io_executor executor_;
    // Ordered: one slot per request in request order, written once ready at
    // the front. Completion order: answered slots only, in answer order.
    std::deque<std::shared_ptr<response_slot>> queue_;
    async_semaphore in_flight_;  // ordered: returned when the writer takes a slot; else at respond()
    asio::steady_timer wake_;    // cancelled whenever the writer has something to do
    bool reading_done_ = false;
};

}  // namespace millrace::net
