// A blocking connection speaking Kafka framing, for tests that send
// hand-built requests to a running broker.
#pragma once

#include <poll.h>

#include <chrono>
#include <string>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include "protocol/wire.h"

namespace millrace::kafka::testing {

class raw_client {
public:
    explicit raw_client(const std::string& address) : socket_(io_) {
        auto colon = address.rfind(':');
        asio::ip::tcp::endpoint ep(asio::ip::make_address(address.substr(0, colon)),
                                   static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
        socket_.connect(ep);
    }
    void send_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
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
    asio::io_context io_;
    asio::ip::tcp::socket socket_;
};

}  // namespace millrace::kafka::testing
