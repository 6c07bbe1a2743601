#include "millrace/common/http.h"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>

#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace millrace::http {
namespace {

constexpr size_t k_max_header_bytes = 64 * 1024;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
    return text;
}

struct bad_request {
    int status;
    std::string message;
};

// Parses the request line and headers (without the final blank line).
request parse_head(std::string_view head) {
    request req;
    size_t line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    size_t sp1 = line.find(' ');
    size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) throw bad_request{400, "malformed request line"};
    req.method = std::string(line.substr(0, sp1));
    req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    std::string_view version = line.substr(sp2 + 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0") throw bad_request{505, "unsupported HTTP version"};
    size_t qmark = req.target.find('?');
    req.path = percent_decode(std::string_view(req.target).substr(0, qmark));
    if (qmark != std::string::npos) {
        std::string_view query = std::string_view(req.target).substr(qmark + 1);
        while (!query.empty()) {
            size_t amp = query.find('&');
            std::string_view pair = query.substr(0, amp);
            size_t eq = pair.find('=');
            if (!pair.empty()) {
                req.query.emplace_back(percent_decode(pair.substr(0, eq)),
                                       eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1)));
            }
            if (amp == std::string_view::npos) break;
            query.remove_prefix(amp + 1);
        }
    }
    while (line_end != std::string_view::npos) {
        size_t start = line_end + 2;
        line_end = head.find("\r\n", start);
        std::string_view header = head.substr(start, line_end == std::string_view::npos ? std::string_view::npos : line_end - start);
        if (header.empty()) continue;
        size_t colon = header.find(':');
        if (colon == std::string_view::npos) throw bad_request{400, "malformed header line"};
        req.headers[lower(trim(header.substr(0, colon)))] = std::string(trim(header.substr(colon + 1)));
    }
    return req;
}

std::string serialize(const response& res, bool keep_alive) {
    std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n", res.status,
                                  reason_phrase(res.status), res.content_type, res.body.size());
    for (const auto& [name, value] : res.headers) out += fmt::format("{}: {}\r\n", name, value);
    out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    out += res.body;
    return out;
}

}  // namespace

const std::string* request::param(std::string_view name) const {
    for (const auto& [key, value] : query) {
        if (key == name) return &value;
    }
    return nullptr;
}

std::string request::header(std::string_view name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
}

response response::text(int status, std::string body) {
    return response{status, "text/plain; charset=utf-8", std::move(body)};
}

response response::json(int status, std::string body) { return response{status, "application/json", std::move(body)}; }

std::string reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 413: return "Payload Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Entity";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

std::string percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t idx = 0; idx < text.size(); ++idx) {
        char c = text[idx];
        if (c == '%' && idx + 2 < text.size()) {
            int value = 0;
            auto [end, ec] = std::from_chars(text.data() + idx + 1, text.data() + idx + 3, value, 16);
            if (ec == std::errc() && end == text.data() + idx + 3) {
                out.push_back(static_cast<char>(value));
                idx += 2;
                continue;
            }
        }
        out.push_back(c == '+' ? ' ' : c);
    }
    return out;
}

server::server(asio::io_context& io, std::string name, size_t max_body_bytes)
    : max_body_bytes_(max_body_bytes),
      tcp_(io, std::move(name), [this](asio::ip::tcp::socket& socket) { return serve(socket); }) {}

void server::route(std::string method, std::string path, handler h) {
    routes_[{std::move(method), std::move(path)}] = [h = std::move(h)](const request& req, responder respond) { respond(h(req)); };
}

void server::route_async(std::string method, std::string path, async_handler h) {
    routes_[{std::move(method), std::move(path)}] = std::move(h);
}

result<net::endpoint> server::start(const std::string& host, uint16_t port, const std::string& port_key) {
    return tcp_.start(host, port, port_key);
}

void server::dispatch(const request& req, const responder& respond) const {
    std::string method = req.method == "HEAD" ? "GET" : req.method;
    auto it = routes_.find({method, req.path});
    if (it == routes_.end()) {
        // Longest prefix route ending in '/'.
        const async_handler* best = nullptr;
        size_t best_length = 0;
        bool path_known = false;
        for (const auto& [key, h] : routes_) {
            const auto& route_path = key.second;
            bool matches = route_path == req.path ||
                           (!route_path.empty() && route_path.back() == '/' && req.path.rfind(route_path, 0) == 0);
            if (!matches) continue;
            path_known = true;
            if (key.first == method && route_path.size() >= best_length) {
                best = &h;
                best_length = route_path.size();
            }
        }
        if (best == nullptr) {
            respond(path_known ? response::text(405, "method not allowed\n") : response::text(404, "not found\n"));
            return;
        }
        (*best)(req, respond);
        return;
    }
    it->second(req, respond);
}

asio::awaitable<void> server::serve(asio::ip::tcp::socket& socket) {
    asio::streambuf buffer(k_max_header_bytes + max_body_bytes_);
    for (;;) {
        std::error_code ec;
        size_t head_bytes = co_await asio::async_read_until(socket, buffer, "\r\n\r\n",
                                                            asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::not_found || (!ec && head_bytes > k_max_header_bytes)) {
            co_await asio::async_write(socket, asio::buffer(serialize(response::text(431, "request header too large\n"), false)),
                                       asio::use_awaitable);
            co_return;
        }
        if (ec) co_return;  // closed by the peer or by stop()
        std::string head(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + head_bytes - 4);
        buffer.consume(head_bytes);
        request req;
        response res;
        bool keep_alive = true;
        try {
            req = parse_head(head);
            std::string length_text = req.header("content-length");
            if (!req.header("transfer-encoding").empty()) throw bad_request{400, "chunked request bodies are not supported"};
            size_t length = 0;
            if (!length_text.empty()) {
                auto [end, parse_ec] = std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
                if (parse_ec != std::errc() || end != length_text.data() + length_text.size()) {
                    throw bad_request{400, "bad Content-Length"};
                }
                if (length > max_body_bytes_) throw bad_request{413, fmt::format("body of {} bytes exceeds the limit of {}", length, max_body_bytes_)};
            }
            if (buffer.size() < length) {
                co_await asio::async_read(socket, buffer, asio::transfer_exactly(length - buffer.size()), asio::use_awaitable);
            }
            req.body.assign(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + length);
            buffer.consume(length);
            std::string connection = lower(req.header("connection"));
            keep_alive = connection != "close" && !(head.find("HTTP/1.0") != std::string::npos && connection != "keep-alive");
            // The handler answers through `respond`, now or later from another thread; the
            // timer is only a wake-up that `respond` cancels.
            struct pending {
                explicit pending(asio::any_io_executor ex) : timer(ex) {}
                asio::steady_timer timer;
                std::mutex mutex;
                std::optional<response> answer;
            };
            auto wait = std::make_shared<pending>(socket.get_executor());
            wait->timer.expires_after(std::chrono::minutes(5));
            responder respond = [wait](response answer) {
                {
                    std::lock_guard lock(wait->mutex);
                    if (wait->answer) return;
                    wait->answer = std::move(answer);
                }
                asio::post(wait->timer.get_executor(), [wait] { wait->timer.cancel(); });
            };
            try {
                dispatch(req, respond);
            } catch (const std::exception& e) {
                respond(response::text(500, fmt::format("internal error: {}\n", e.what())));
            }
            for (;;) {
                {
                    std::lock_guard lock(wait->mutex);
                    if (wait->answer) {
                        res = std::move(*wait->answer);
                        break;
                    }
                }
                std::error_code wait_ec;
                co_await wait->timer.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
                if (!wait_ec) respond(response::text(503, "the request was not answered within 5 minutes\n"));
            }
        } catch (const bad_request& bad) {
            res = response::text(bad.status, bad.message + "\n");
            keep_alive = false;
        }
        if (req.method == "HEAD") res.body.clear();
        co_await asio::async_write(socket, asio::buffer(serialize(res, keep_alive)), asio::use_awaitable);
        if (!keep_alive) co_return;
    }
}

}  // namespace millrace::http
