#include "millrace/common/stream.h"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace millrace::net {

stream::stream(asio::ip::tcp::socket socket) : plain_(std::move(socket)) {}

stream::stream(asio::ip::tcp::socket socket, asio::ssl::context& context) : tls_(std::in_place, std::move(socket), context) {}

asio::awaitable<std::error_code> stream::handshake(asio::ssl::stream_base::handshake_type type, std::chrono::milliseconds timeout) {
    if (!tls_) co_return std::error_code{};
    auto timer = std::make_shared<asio::steady_timer>(get_executor(), timeout);
    auto timed_out = std::make_shared<bool>(false);
    timer->async_wait([this, timed_out](const std::error_code& ec) {
        if (ec) return;  // cancelled: the handshake finished
        *timed_out = true;
        std::error_code ignored;
        socket().close(ignored);
    });
    std::error_code ec;
    co_await tls_->async_handshake(type, asio::redirect_error(asio::use_awaitable, ec));
    timer->cancel();
    if (*timed_out) co_return asio::error::timed_out;
    co_return ec;
}

std::error_code stream::set_verify_host(const std::string& host) {
    if (!tls_) return {};
    // SNI, and the name the peer's certificate must carry.
    if (SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str()) != 1) {
        return std::error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category());
    }
    std::error_code ec;
    tls_->set_verify_callback(asio::ssl::host_name_verification(host), ec);
    return ec;
}

std::string stream::remote_address() {
    std::error_code ec;
    auto remote = socket().remote_endpoint(ec);
    if (ec) return "unknown peer";
    if (remote.address().is_v6()) return fmt::format("[{}]:{}", remote.address().to_string(), remote.port());
    return fmt::format("{}:{}", remote.address().to_string(), remote.port());
}

void stream::close() {
    std::error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
}

std::string describe_tls_error(const std::error_code& ec) {
    if (ec == asio::error::timed_out) return "no handshake within the deadline";
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return "the peer closed the connection";
    if (ec.category() == asio::error::get_ssl_category()) {
        const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
        if (reason != nullptr) return reason;
    }
    return ec.message();
}

}  // namespace millrace::net
