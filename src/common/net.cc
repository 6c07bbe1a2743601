#include "millrace/common/net.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "millrace/common/tls.h"

namespace millrace::net {

std::string endpoint::to_string() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

result<asio::ip::tcp::endpoint> resolve(const std::string& host, uint16_t port) {
    std::error_code ec;
    auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (!ec) return asio::ip::tcp::endpoint(address, port);
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
        return make_error(errc::invalid_argument, "cannot resolve host '{}': {}", host, ec ? ec.message() : "no address");
    }
    return results.begin()->endpoint();
}

status probe_tcp(const std::string& addresses, uint16_t default_port, std::chrono::milliseconds timeout) {
    std::string failures;
    size_t begin = 0;
    while (begin <= addresses.size()) {
        size_t end = addresses.find(',', begin);
        if (end == std::string::npos) end = addresses.size();
        std::string item = addresses.substr(begin, end - begin);
        begin = end + 1;
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (item.empty()) continue;
        std::string host = item;
        uint16_t port = default_port;
        auto colon = item.rfind(':');
        if (colon != std::string::npos && item.find(':') == colon) {
            host = item.substr(0, colon);
            port = static_cast<uint16_t>(std::atoi(item.c_str() + colon + 1));
        }
        auto ep = resolve(host, port);
        if (!ep) {
            failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ", item, ep.err().message());
            continue;
        }
        asio::io_context io;
        asio::ip::tcp::socket socket(io);
        std::error_code result = asio::error::timed_out;
        socket.async_connect(*ep, [&](const std::error_code& ec) { result = ec; });
        io.run_for(timeout);
        if (!result) return {};
        failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ", item, result.message());
    }
    if (failures.empty()) return make_error(errc::invalid_argument, "no address given");
    return make_error(errc::unavailable, "{}", failures);
}

tcp_server::tcp_server(asio::io_context& io, std::string name, handler on_connection)
    : io_(io),
      name_(std::move(name)),
      on_connection_(std::move(on_connection)),
      log_(name_),
      acceptor_(io),
      accept_pause_(std::make_shared<asio::steady_timer>(io)),
      connections_(std::make_shared<connection_map>()) {}

size_t tcp_server::connection_count() const {
    std::lock_guard lock(connections_->mutex);
    return connections_->open.size();
}

void tcp_server::set_tls(std::shared_ptr<asio::ssl::context> context) {
    tls_ = std::move(context);
    tls_chosen_ = true;
}

tcp_server::~tcp_server() {
    std::error_code ignored;
    acceptor_.close(ignored);
}

result<endpoint> tcp_server::start(const std::string& host, uint16_t port, const std::string& port_key) {
    if (!tls_chosen_) tls_ = tls::listener_context();
    auto where = fmt::format("{}:{}", host, port);
    auto ep = resolve(host, port);
    if (!ep) return ep.err().with_context(fmt::format("{}: cannot listen on {}", name_, where));
    std::error_code ec;
    acceptor_.open(ep->protocol(), ec);
    if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(*ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::error_code ignored;
        acceptor_.close(ignored);
        std::string advice;
        if (ec == asio::error::address_in_use) {
            advice = port_key.empty() ? "; is another instance running? choose another port"
                                      : fmt::format("; is another instance running? set {} to a free port", port_key);
        } else if (ec == asio::error::access_denied) {
            advice = "; ports below 1024 need privileges, choose a higher port";
        }
        return make_error(errc::unavailable, "{}: cannot listen on {}: {}{}", name_, where, ec.message(), advice);
    }
    local_ = endpoint{host, acceptor_.local_endpoint().port()};
    asio::co_spawn(io_, accept_loop(), asio::detached);
    return local_;
}

void tcp_server::stop() {
    asio::post(io_, [this] {
        if (stopped_) return;
        stopped_ = true;
        std::error_code ignored;
        acceptor_.close(ignored);
        accept_pause_->cancel();
        std::lock_guard lock(connections_->mutex);
        for (auto& [id, connection] : connections_->open) {
            // Closed on its own thread when connections run elsewhere.
            if (pick_) {
                asio::post(connection->socket().get_executor(), [connection] { connection->close(); });
            } else {
                connection->close();
            }
        }
    });
}

namespace {

// Errors that mean "no resources for another connection now": retrying at
// once would spin (and log) as fast as the kernel answers.
bool out_of_resources(const std::error_code& ec) {
    return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
           ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory;
}

}  // namespace

asio::awaitable<void> tcp_server::accept_loop() {
    // Failed accepts (out of descriptors) are logged at most once per 10 s,
    // with the count of failures since the last line, and the recovery once;
    // in between the loop waits, doubling from 10 ms up to 1 s, or until one
    // of our connections closes and frees a descriptor.
    using clock = std::chrono::steady_clock;
    constexpr auto k_log_interval = std::chrono::seconds(10);
    uint64_t failures = 0;            // since the last line about them
    bool in_episode = false;          // failures logged and not yet recovered
    auto last_line = clock::time_point::min();
    auto backoff = std::chrono::milliseconds(10);
    while (!stopped_) {
        std::error_code ec;
        // (Not a conditional expression: g++ 12 miscompiles co_await inside one.)
        asio::ip::tcp::socket socket(io_);
        if (pick_) {
            socket = co_await acceptor_.async_accept(pick_(), asio::redirect_error(asio::use_awaitable, ec));
        } else {
            socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (ec) {
            if (ec == asio::error::operation_aborted || stopped_) co_return;
            ++failures;
            auto now = clock::now();
            if (last_line == clock::time_point::min() || now - last_line >= k_log_interval) {
                log_.warn("accept failed {} time(s): {}; {} connections open; pausing accepts until resources free up "
                          "(logged at most every {} s)",
                          failures, ec.message(), connection_count(),
                          std::chrono::duration_cast<std::chrono::seconds>(k_log_interval).count());
                last_line = now;
                failures = 0;
                in_episode = true;
            }
            if (!out_of_resources(ec)) backoff = std::chrono::milliseconds(10);
            accept_pause_->expires_after(backoff);
            std::error_code ignored;
            co_await accept_pause_->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
            continue;
        }
        backoff = std::chrono::milliseconds(10);
        if (in_episode && clock::now() - last_line >= std::chrono::seconds(1)) {
            log_.info("accepting connections again ({} more failed accepts since the last warning)", failures);
            in_episode = false;
            failures = 0;
        }
        std::error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        auto shared = tls_ ? std::make_shared<stream>(std::move(socket), *tls_) : std::make_shared<stream>(std::move(socket));
        uint64_t id = next_id_++;
        {
            std::lock_guard lock(connections_->mutex);
            connections_->open.emplace(id, shared);
        }
        if (pick_) {
            asio::co_spawn(shared->socket().get_executor(), serve(shared, id), asio::detached);
        } else {
            asio::co_spawn(io_, serve(shared, id), asio::detached);
        }
    }
}

asio::awaitable<void> tcp_server::serve(std::shared_ptr<stream> connection, uint64_t id) {
    auto connections = connections_;  // keeps the map alive if the server is destroyed first
    auto pause = accept_pause_;
    auto context = tls_;              // the stream uses it until it is closed
    std::string peer = connection->remote_address();
    try {
        // A peer that does not complete a TLS handshake (a plaintext client,
        // a port scan) gets one log line and the connection is closed.
        auto ec = co_await connection->handshake(asio::ssl::stream_base::server, k_handshake_timeout);
        if (ec) {
            // A peer that closed before sending a single byte spoke no protocol at all
            // (a TCP probe, a TLS client dropping a connection it had just opened, as
            // librdkafka does with a spare bootstrap connection): not a plaintext client.
            bool silent = (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) && connection->is_tls() &&
                          BIO_number_read(SSL_get_rbio(connection->tls().native_handle())) == 0;
            if (stopped_) {
            } else if (silent) {
                log_.debug("connection from {} closed before sending anything", peer);
            } else {
                log_.warn("closing connection from {}: TLS handshake failed: {} (a plaintext client? this "
                          "listener accepts only TLS)", peer, describe_tls_error(ec));
            }
        } else {
            co_await on_connection_(*connection);
        }
    } catch (const std::system_error& e) {
        // stop() closes every socket, so a connection in the middle of an
        // operation then fails with "Bad file descriptor": the stop, not news.
        if (stopped_) {
            log_.debug("connection from {} closed by the stop: {}", peer, e.what());
        } else if (e.code() != asio::error::eof && e.code() != asio::error::operation_aborted &&
                   e.code() != asio::error::connection_reset && e.code() != asio::error::broken_pipe) {
            log_.warn("connection from {} closed: {}", peer, e.what());
        }
    } catch (const std::exception& e) {
        log_.warn("connection from {} closed: {}", peer, e.what());
    }
    connection->close();
    {
        std::lock_guard lock(connections->mutex);
        connections->open.erase(id);
    }
    connection.reset();  // before `context`, which the TLS stream uses
    // A descriptor is free again: a paused accept loop may go on. (`pause` is
    // shared: this coroutine may outlive the server; it is the listener's,
    // so cancelled on the listener's thread.)
    asio::dispatch(pause->get_executor(), [pause] { pause->cancel(); });
}

}  // namespace millrace::net
