// A blocking connection speaking Kafka framing, for tests that send
// hand-built requests to a running broker; over TLS when given a CA (a
// broker with security.enabled serves only TLS).
#pragma once

#include <poll.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/write.hpp>

#include "millrace/common/tls.h"
#include "protocol/wire.h"

namespace millrace::kafka::testing {

class raw_client {
public:
    // `ca_path` non-empty: TLS, verifying the broker's certificate against it.
    explicit raw_client(const std::string& address, const std::string& ca_path = "") : socket_(io_) {
        auto colon = address.rfind(':');
        asio::ip::tcp::endpoint ep(asio::ip::make_address(address.substr(0, colon)),
                                   static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
        socket_.connect(ep);
        if (ca_path.empty()) return;
        auto context = tls::make_client_context(ca_path);
        if (!context) throw std::runtime_error(context.err().message());
        tls_context_ = std::move(context).value();
        tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
        tls_->handshake(asio::ssl::stream_base::client);
    }
    void send_raw(const std::string& bytes) {
        if (tls_) {
            asio::write(*tls_, asio::buffer(bytes));
        } else {
            asio::write(socket_, asio::buffer(bytes));
        }
    }
    // Sends a request with header v1 (v2 when `flexible`) and `body`.
    void send(int16_t key, int16_t version, int32_t correlation_id, const std::string& body, bool flexible = false) {
        std::string frame;
        writer w(frame);
        w.int32(0);
        w.int16(key);
        w.int16(version);
        w.int32(correlation_id);
        w.string("raw-test", false);
        w.empty_tags(flexible);
        w.raw(body);
        w.patch_int32(0, static_cast<int32_t>(frame.size() - 4));
        send_raw(frame);
    }
    // One response frame; empty when the broker closed the connection or sent
    // nothing within `timeout`.
    std::string receive(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        if (tls_) return receive_tls(timeout);
        pollfd pfd{socket_.native_handle(), POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return {};
        char size_bytes[4];
        std::error_code ec;
        asio::read(socket_, asio::buffer(size_bytes, 4), ec);
        if (ec) return {};
        reader r(std::string_view(size_bytes, 4));
        std::string body(static_cast<size_t>(r.int32()), '\0');
        asio::read(socket_, asio::buffer(body), ec);
        if (ec) return {};
        return body;
    }
    asio::ip::tcp::socket& socket() { return socket_; }

private:
    // The TLS layer may hold decrypted bytes the socket no longer shows to
    // poll(): read asynchronously and run the io_context up to `timeout`.
    std::string receive_tls(std::chrono::milliseconds timeout) {
        char size_bytes[4];
        std::string body;
        bool done = false;
        bool ok = false;
        asio::async_read(*tls_, asio::buffer(size_bytes, 4), [&](std::error_code ec, size_t) {
            if (ec) {
                done = true;
                return;
            }
            reader r(std::string_view(size_bytes, 4));
            body.assign(static_cast<size_t>(r.int32()), '\0');
            asio::async_read(*tls_, asio::buffer(body), [&](std::error_code ec2, size_t) {
                done = true;
                ok = !ec2;
            });
        });
        io_.restart();
        io_.run_for(timeout);
        if (!done) {
            std::error_code ignored;
            socket_.cancel(ignored);
            io_.restart();
            io_.run();
        }
        return ok ? body : std::string();
    }

    asio::io_context io_;
    asio::ip::tcp::socket socket_;
    std::shared_ptr<asio::ssl::context> tls_context_;
    std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
};

}  // namespace millrace::kafka::testing
