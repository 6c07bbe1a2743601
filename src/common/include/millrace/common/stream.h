// A connection as every listener and client sees it: a plain TCP socket, or
// a TLS stream over one. It is an Asio AsyncReadStream/AsyncWriteStream, so
// asio::async_read, async_write and async_read_until work on it unchanged.
//
// Rationale: with security.enabled every listener speaks only TLS. Handing
// each protocol one type that is either keeps TLS out of the Kafka, CQL and
// HTTP code: they read and write a stream; net::tcp_server decides what it is
// and runs the handshake (with a deadline) before the protocol sees a byte.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/stream.hpp>

namespace millrace::net {

class stream {
public:
    using executor_type = asio::any_io_executor;
    using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;

    // Plain TCP.
    explicit stream(asio::ip::tcp::socket socket);
    // TLS over `socket` with `context` (which must outlive the stream); call
    // handshake() before reading or writing.
    stream(asio::ip::tcp::socket socket, asio::ssl::context& context);

    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

    executor_type get_executor() { return socket().get_executor(); }
    bool is_tls() const { return tls_.has_value(); }
    // The TCP socket underneath (closing or cancelling it ends pending
    // operations of either kind).
    asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
    // The TLS stream; only when is_tls().
    tls_stream& tls() { return *tls_; }

    // The TLS handshake as server or client, failing with asio::error::timed_out
    // (and the socket closed) when it has not finished within `timeout`. A plain
    // stream succeeds at once. A client sets the name to verify first with
    // set_verify_host (also sent as SNI).
    asio::awaitable<std::error_code> handshake(asio::ssl::stream_base::handshake_type type, std::chrono::milliseconds timeout);
    std::error_code set_verify_host(const std::string& host);

    // "address:port" of the peer, or "unknown peer".
    std::string remote_address();
    // Closes the socket; pending reads and writes complete with an error.
    void close();

    template <typename MutableBuffers, typename Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                if (tls_) {
                    tls_->async_read_some(b, std::move(handler));
                } else {
                    plain_->async_read_some(b, std::move(handler));
                }
            },
            token, buffers);
    }

    template <typename ConstBuffers, typename Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                if (tls_) {
                    tls_->async_write_some(b, std::move(handler));
                } else {
                    plain_->async_write_some(b, std::move(handler));
                }
            },
            token, buffers);
    }

private:
    std::optional<asio::ip::tcp::socket> plain_;
    std::optional<tls_stream> tls_;
};

// A short, readable reason for a failed TLS handshake ("wrong version number"
// for a plaintext peer, "certificate verify failed", ...).
std::string describe_tls_error(const std::error_code& ec);

}  // namespace millrace::net
