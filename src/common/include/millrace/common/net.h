// One server base for every listener (Kafka, CQL, HTTP, admin): bind with a
// clear error, accept, run the TLS handshake when the listener serves TLS, run
// one coroutine per connection, and on stop close the acceptor and every open
// connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "millrace/common/log.h"
#include "millrace/common/result.h"
#include "millrace/common/stream.h"

namespace millrace::net {

struct endpoint {
    std::string host;
    uint16_t port = 0;
    std::string to_string() const;
};

// Resolves `host` (a name or an address) to a TCP endpoint.
result<asio::ip::tcp::endpoint> resolve(const std::string& host, uint16_t port);

// Whether a TCP connection to any of `addresses` ("host[:port],host[:port]",
// `default_port` where omitted) opens within `timeout` each. The error names
// every address tried and why it failed.
status probe_tcp(const std::string& addresses, uint16_t default_port, std::chrono::milliseconds timeout);

class tcp_server {
public:
    // Runs once per accepted connection, after the TLS handshake on a TLS
    // listener; returning or throwing closes it. A thrown exception is logged
    // with the peer address; other connections go on.
    using handler = std::function<asio::awaitable<void>(stream&)>;

    // How long a TLS client may take to complete its handshake.
    static constexpr std::chrono::seconds k_handshake_timeout{10};

    tcp_server(asio::io_context& io, std::string name, handler on_connection);
    ~tcp_server();

    // Serve TLS with `context` (nullptr: plain TCP). Without a call, start()
    // takes tls::listener_context(), the process-wide choice. Call before start().
    void set_tls(std::shared_ptr<asio::ssl::context> context);
    bool serves_tls() const { return tls_ != nullptr; }

    // Accepted connections live on the executor `pick` returns (called once
    // per connection on the listener's thread), e.g. one of several io
    // threads; the connection's coroutine and its stream then run there, and
    // stop() closes it there. Unset: on the listener's own io_context. Call
    // before start().
    void set_connection_executors(std::function<asio::any_io_executor()> pick) { pick_ = std::move(pick); }

    // Binds and starts accepting. On failure the error names the component, the
    // address and what to do ("... address already in use: set broker.port").
    result<endpoint> start(const std::string& host, uint16_t port, const std::string& port_key = {});

    // Closes the acceptor and every connection. Thread-safe; idempotent.
    void stop();

    size_t connection_count() const;
    const endpoint& local() const { return local_; }

private:
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(std::shared_ptr<stream> connection, uint64_t id);

    asio::io_context& io_;
    std::string name_;
    handler on_connection_;
    log::logger log_;
    asio::ip::tcp::acceptor acceptor_;
    // The accept loop's back-off after a failed accept; a closing connection
    // cancels it. Shared with the connection coroutines, which may outlive stop().
    std::shared_ptr<asio::steady_timer> accept_pause_;
    endpoint local_;
    std::shared_ptr<asio::ssl::context> tls_;
    bool tls_chosen_ = false;  // set_tls was called
    std::atomic<bool> stopped_{false};
    uint64_t next_id_ = 0;
    std::function<asio::any_io_executor()> pick_;
    // Open connections, shared with the connection coroutines so they can
    // outlive stop(); guarded by its mutex (connections may run on other
    // threads, see set_connection_executors).
    struct connection_map {
        std::mutex mutex;
        std::map<uint64_t, std::shared_ptr<stream>> open;
    };
    std::shared_ptr<connection_map> connections_;
};

}  // namespace millrace::net
