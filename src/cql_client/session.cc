// The session: one I/O thread, a pool of multiplexed connections per host,
// request dispatch, timeouts, retries and re-preparation.
//
// Threading: everything below `impl::` that touches connections, requests or
// timers runs on the I/O thread; public methods only build a request (encoding
// its values on the caller's thread) and post it there. The prepared-statement
// cache is the one structure shared with callers; a mutex guards it.
#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <fmt/format.h>

#include "endpoint.h"
#include "messages.h"
#include "millrace/common/log.h"
#include "millrace/cql_client/client.h"
#include "wire.h"

namespace millrace::cql_client {

namespace {

using clock_type = std::chrono::steady_clock;
using asio::ip::tcp;

// The parts of one statement of a batch, encoded on the caller's thread.
struct batch_part {
    prepared_ptr stmt;   // set for prepared statements
    std::string query;   // else the text
    std::string values;  // encoded [value]s
    uint16_t value_count = 0;
};

struct request {
    wire::opcode op = wire::opcode::query;
    std::string query;       // QUERY / PREPARE text
    prepared_ptr stmt;       // EXECUTE
    std::string parameters;  // QUERY / EXECUTE: encoded query parameters; BATCH: the tail after the statements
    uint8_t batch_type = 0;
    std::vector<batch_part> parts;
    std::function<void(result<messages::result_body>)> done;
    clock_type::time_point deadline;
    std::chrono::milliseconds timeout{0};
    int attempt = 0;
    bool idempotent = true;
    bool tracing = false;  // sets the frame's tracing flag
    bool completed = false;
    std::string last_error;  // why the previous attempt failed

    void complete(result<messages::result_body> r) {
        if (completed) return;
        completed = true;
        auto callback = std::move(done);
        done = nullptr;
        if (callback) callback(std::move(r));
    }
};

using request_ptr = std::shared_ptr<request>;

std::string identifier(const std::string& name) {
    bool plain = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) plain = false;
    }
    if (plain) return name;
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += "\"\"";
        else out.push_back(c);
    }
    return out + "\"";
}

}  // namespace

class connection;

class session::impl : public std::enable_shared_from_this<session::impl> {
public:
    explicit impl(client_options options);
    ~impl();

    // The TLS client context when options_.tls_ca is set (built by start()).
    std::shared_ptr<asio::ssl::context> tls_;

    status start();
    void close();
    void submit(request_ptr r);

    // Prepared cache (any thread).
    prepared_ptr cached(const std::string& query) {
        std::lock_guard lock(prepared_mu_);
        auto it = prepared_.find(query);
        return it == prepared_.end() ? nullptr : it->second;
    }
    void remember(const prepared_ptr& stmt) {
        std::lock_guard lock(prepared_mu_);
        prepared_.emplace(stmt->query(), stmt);
    }

    // I/O thread only.
    void dispatch(request_ptr r);
    void retry_later(request_ptr r, std::string why);
    void on_response(const std::shared_ptr<connection>& conn, request_ptr r, uint8_t op, uint8_t flags,
                     std::string_view body);
    void on_ready(const std::shared_ptr<connection>& conn);
    // Sends requests that found no free stream on `conn` while it has room.
    void drain_waiting(const std::shared_ptr<connection>& conn);
    void on_closed(const std::shared_ptr<connection>& conn, size_t host_idx, size_t slot_idx, const error& why,
                   bool was_ready);
    void open_slot(size_t host_idx, size_t slot_idx);
    void sweep();
    const std::string& current_id(const prepared_statement& stmt) {
        auto it = current_ids_.find(stmt.id());
        return it == current_ids_.end() ? stmt.id() : it->second;
    }
    std::string build_body(const request& r);

    client_options options_;
    log::logger log_{"cql_client"};
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
    std::thread thread_;
    std::atomic<bool> closed_{false};
    bool closing_ = false;  // I/O thread view

    struct slot {
        std::shared_ptr<connection> conn;
        int failures = 0;
        bool ever_tried = false;
        std::shared_ptr<asio::steady_timer> retry_timer;
    };
    struct host {
        host_port address;
        std::vector<slot> slots;
    };
    std::vector<host> hosts_;
    std::vector<std::shared_ptr<connection>> ready_;
    size_t round_robin_ = 0;
    std::deque<request_ptr> waiting_;
    std::string last_connect_error_;
    asio::steady_timer sweep_timer_{io_};
    std::vector<std::weak_ptr<asio::steady_timer>> retry_timers_;

    std::mutex prepared_mu_;
    std::unordered_map<std::string, prepared_ptr> prepared_;
    std::unordered_map<std::string, std::string> current_ids_;  // original id -> id after re-prepare

    // Set once: the first connection ready, or every first attempt failed.
    std::promise<status> first_ready_;
    bool first_ready_set_ = false;
    size_t first_failures_ = 0;
    std::vector<std::string> first_errors_;

    std::atomic<uint64_t> requests_{0}, retries_{0}, reprepares_{0}, reconnects_{0}, timeouts_{0};
    std::atomic<int> open_connections_{0};
};

// One TCP connection: handshake, then many requests in flight by stream id.
class connection : public std::enable_shared_from_this<connection> {
public:
    connection(session::impl& s, size_t host_idx, size_t slot_idx)
        : session_(s), host_idx_(host_idx), slot_idx_(slot_idx), socket_(s.io_),
          address_(s.hosts_[host_idx].address.to_string()) {
        int max = std::clamp(s.options_.max_in_flight_per_connection, 1, 32768);
        streams_.resize(static_cast<size_t>(max));
        for (int id = max - 1; id >= 0; --id) free_streams_.push_back(static_cast<int16_t>(id));
    }

    void start() { asio::co_spawn(session_.io_, run(shared_from_this()), asio::detached); }

    bool ready() const { return ready_ && !closed_; }
    bool has_free_stream() const { return !free_streams_.empty(); }
    const std::string& address() const { return address_; }

    // Sends `r` on a free stream. REQUIRES: has_free_stream().
    void send(request_ptr r) {
        int16_t stream = free_streams_.back();
        free_streams_.pop_back();
        streams_[static_cast<size_t>(stream)] = r;
        write_frame(stream, r->op, session_.build_body(*r), r->tracing ? wire::frame_flag::tracing : 0);
    }

    // Fails every request in flight with `why` (retrying the idempotent ones
    // unless the session is closing) and closes the socket. Idempotent.
    void shutdown(const error& why) {
        if (closed_) return;
        closed_ = true;
        asio::error_code ignored;
        socket_.close(ignored);
        if (timer_) timer_->cancel();
        bool was_ready = ready_;
        ready_ = false;
        auto self = shared_from_this();
        std::vector<request_ptr> in_flight;
        for (auto& r : streams_) {
            if (r) in_flight.push_back(std::move(r));
            r = nullptr;
        }
        session_.on_closed(self, host_idx_, slot_idx_, why, was_ready);
        for (auto& r : in_flight) {
            if (r->completed) continue;
            if (session_.closing_) {
                r->complete(error(errc::cancelled, fmt::format("cql session closed with the request in flight on {}",
                                                               address_)));
            } else if (r->idempotent && why.code() != errc::corruption) {
                session_.retry_later(r, why.message());
            } else {
                r->complete(why.with_context(r->idempotent ? "request failed" : "non-idempotent request not retried"));
            }
        }
    }

    // Requests whose deadline passed: fail them, keep the stream reserved until
    // the server answers (a late answer must not reach a new request).
    void expire(clock_type::time_point now) {
        for (size_t idx = 0; idx < streams_.size(); ++idx) {
            auto& r = streams_[idx];
            if (!r || r->completed || r->deadline > now) continue;
            ++session_.timeouts_;
            r->complete(make_error(errc::timed_out, "cql {}: no answer within {} ms{}", address_, r->timeout.count(),
                                   r->last_error.empty() ? "" : fmt::format(" (earlier attempt: {})", r->last_error)));
            ++orphans_;
        }
        if (orphans_ > streams_.size() / 2) {
            shutdown(make_error(errc::timed_out, "cql {}: {} requests unanswered, connection considered dead", address_,
                                orphans_));
        }
    }

private:
    asio::awaitable<void> run(std::shared_ptr<connection> self);
    asio::awaitable<std::pair<wire::frame_header, std::string>> read_frame();
    asio::awaitable<std::pair<wire::frame_header, std::string>> handshake_request(wire::opcode op, std::string body);
    void write_frame(int16_t stream, wire::opcode op, std::string body, uint8_t extra_flags = 0);
    void start_write();
    void handle_frame(const wire::frame_header& h, std::string body);

    // Every read and write goes through the TLS stream when there is one.
    template <typename Buffer>
    asio::awaitable<void> read_exactly(Buffer buffer) {
        if (tls_stream_) co_await asio::async_read(*tls_stream_, buffer, asio::use_awaitable);
        else co_await asio::async_read(socket_, buffer, asio::use_awaitable);
    }

    session::impl& session_;
    size_t host_idx_, slot_idx_;
    tcp::socket socket_;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_stream_;
    std::string address_;
    bool ready_ = false;
    bool closed_ = false;
    bool compressed_ = false;
    std::vector<request_ptr> streams_;
    std::vector<int16_t> free_streams_;
    size_t orphans_ = 0;
    std::string pending_out_, writing_;
    bool writing_active_ = false;
    std::shared_ptr<asio::steady_timer> timer_;
};

void connection::write_frame(int16_t stream, wire::opcode op, std::string body, uint8_t extra_flags) {
    uint8_t flags = extra_flags;
    if (compressed_ && op != wire::opcode::startup && !body.empty()) {
        body = wire::lz4_compress(body);
        flags |= wire::frame_flag::compression;
    }
    wire::encode_header(pending_out_, flags, stream, op, static_cast<uint32_t>(body.size()));
    pending_out_ += body;
    if (!writing_active_) start_write();
}

void connection::start_write() {
    if (closed_ || pending_out_.empty()) return;
    writing_active_ = true;
    writing_.clear();
    std::swap(writing_, pending_out_);
    auto done = [self = shared_from_this()](asio::error_code ec, size_t) {
        self->writing_active_ = false;
        if (ec) {
            self->shutdown(make_error(errc::unavailable, "cql {}: write failed: {}", self->address_, ec.message()));
            return;
        }
        self->start_write();
    };
    if (tls_stream_) asio::async_write(*tls_stream_, asio::buffer(writing_), std::move(done));
    else asio::async_write(socket_, asio::buffer(writing_), std::move(done));
}

asio::awaitable<std::pair<wire::frame_header, std::string>> connection::read_frame() {
    uint8_t header_bytes[wire::k_header_size];
    co_await read_exactly(asio::buffer(header_bytes));
    wire::frame_header h = wire::decode_header(header_bytes);
    if (h.version != (wire::k_version | wire::k_response_bit)) {
        throw wire::decode_error(fmt::format(
            "response frame starts with version byte 0x{:02x}, expected 0x{:02x} (not a CQL native protocol v4 server?)",
            h.version, wire::k_version | wire::k_response_bit));
    }
    if (h.length > wire::k_max_body) {
        throw wire::decode_error(fmt::format("response frame claims a body of {} bytes, limit is {}", h.length,
                                             wire::k_max_body));
    }
    std::string body(h.length, '\0');
    if (h.length) co_await read_exactly(asio::buffer(body));
    if (h.flags & wire::frame_flag::compression) {
        auto plain = wire::lz4_decompress(body);
        if (!plain.ok()) throw wire::decode_error(plain.err().message());
        body = std::move(plain).value();
    }
    co_return std::make_pair(h, std::move(body));
}

asio::awaitable<std::pair<wire::frame_header, std::string>> connection::handshake_request(wire::opcode op,
                                                                                          std::string body) {
    write_frame(0, op, std::move(body));
    for (;;) {
        auto frame = co_await read_frame();
        if (frame.first.stream == 0) co_return frame;  // events (stream -1) are skipped
    }
}

asio::awaitable<void> connection::run(std::shared_ptr<connection> self) {
    const auto& opts = session_.options_;
    const auto& target = session_.hosts_[host_idx_].address;
    std::string phase = "connecting";
    timer_ = std::make_shared<asio::steady_timer>(session_.io_, opts.connect_timeout);
    auto timed_out_flag = std::make_shared<bool>(false);
    timer_->async_wait([self, timed_out_flag](asio::error_code ec) {
        if (ec) return;
        *timed_out_flag = true;
        asio::error_code ignored;
        self->socket_.close(ignored);
    });
    try {
        asio::error_code ec;
        auto address = asio::ip::make_address(target.host, ec);
        std::vector<tcp::endpoint> endpoints;
        if (!ec) {
            endpoints.emplace_back(address, target.port);
        } else {
            tcp::resolver resolver(session_.io_);
            auto found = co_await resolver.async_resolve(target.host, std::to_string(target.port), asio::use_awaitable);
            for (const auto& entry : found) endpoints.push_back(entry.endpoint());
        }
        co_await asio::async_connect(socket_, endpoints, asio::use_awaitable);
        socket_.set_option(tcp::no_delay(true));
        if (session_.tls_) {
            phase = "TLS handshake";
            tls_stream_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *session_.tls_);
            // SNI for host names; the certificate must name the host (DNS or IP SAN).
            if (asio::error_code not_ip; (asio::ip::make_address(target.host, not_ip), not_ip)) {
                SSL_set_tlsext_host_name(tls_stream_->native_handle(), target.host.c_str());
            }
            tls_stream_->set_verify_callback(asio::ssl::host_name_verification(target.host));
            co_await tls_stream_->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        }

        phase = "STARTUP";
        if (!opts.compression.empty() && opts.compression != "lz4") {
            throw std::invalid_argument(fmt::format("compression '{}' is not supported (use \"\" or \"lz4\")", opts.compression));
        }
        bool lz4 = opts.compression == "lz4";
        auto [h, body] = co_await handshake_request(wire::opcode::startup, messages::encode_startup(lz4));
        if (h.op == static_cast<uint8_t>(wire::opcode::authenticate)) {
            phase = "authentication";
            wire::wire_reader r(body);
            std::string authenticator = r.string();
            if (opts.username.empty()) {
                throw std::invalid_argument(
                    fmt::format("server requires authentication ({}); set username and password", authenticator));
            }
            compressed_ = lz4;
            auto answer = co_await handshake_request(wire::opcode::auth_response,
                                                     messages::encode_auth_response(opts.username, opts.password));
            h = answer.first;
            body = std::move(answer.second);
            if (h.op == static_cast<uint8_t>(wire::opcode::auth_success)) h.op = static_cast<uint8_t>(wire::opcode::ready);
            else if (h.op == static_cast<uint8_t>(wire::opcode::auth_challenge)) {
                throw std::invalid_argument("server sent an AUTH_CHALLENGE; only SASL PLAIN is supported");
            }
        }
        if (h.op == static_cast<uint8_t>(wire::opcode::error)) {
            auto e = messages::decode_error(body);
            if (!e.ok()) throw wire::decode_error(e.err().message());
            throw std::invalid_argument(messages::to_error(*e, address_).message());
        }
        if (h.op != static_cast<uint8_t>(wire::opcode::ready)) {
            throw wire::decode_error(fmt::format("answered {} with {}", phase, wire::opcode_name(h.op)));
        }
        compressed_ = lz4;
        if (!opts.keyspace.empty()) {
            phase = "USE " + opts.keyspace;
            std::string use;
            wire::wire_writer w(use);
            w.long_string("USE " + identifier(opts.keyspace));
            w.int16(static_cast<int16_t>(consistency::one));
            w.byte(0);
            auto answer = co_await handshake_request(wire::opcode::query, std::move(use));
            if (answer.first.op == static_cast<uint8_t>(wire::opcode::error)) {
                auto e = messages::decode_error(answer.second);
                if (!e.ok()) throw wire::decode_error(e.err().message());
                throw std::invalid_argument(messages::to_error(*e, address_).message());
            }
        }
        timer_->cancel();
    } catch (const std::exception& e) {
        std::string message;
        errc code = errc::unavailable;
        if (*timed_out_flag) {
            code = errc::timed_out;
            message = fmt::format("cql {}: {} timed out after {} ms", address_, phase, opts.connect_timeout.count());
        } else if (dynamic_cast<const wire::decode_error*>(&e)) {
            code = errc::corruption;
            message = fmt::format("cql {}: protocol error during {}: {}", address_, phase, e.what());
        } else if (phase == "TLS handshake") {
            // A certificate that does not verify, or a server that does not speak TLS: retrying will not help.
            code = errc::invalid_argument;
            message = fmt::format("cql {}: TLS handshake failed (cql.tls_ca {}): {}", address_, opts.tls_ca, e.what());
        } else if (dynamic_cast<const std::invalid_argument*>(&e)) {
            code = errc::invalid_argument;
            message = std::string(e.what()).starts_with("cql ") ? e.what()
                                                                 : fmt::format("cql {}: {}", address_, e.what());
        } else {
            message = fmt::format("cql {}: {} failed: {}", address_, phase, e.what());
        }
        shutdown(error(code, message));
        co_return;
    }
    if (closed_) co_return;
    ready_ = true;
    session_.on_ready(self);
    try {
        for (;;) {
            auto [h, body] = co_await read_frame();
            if (closed_) co_return;
            handle_frame(h, std::move(body));
            if (closed_) co_return;
        }
    } catch (const wire::decode_error& e) {
        shutdown(make_error(errc::corruption, "cql {}: protocol error: {}", address_, e.what()));
    } catch (const std::exception& e) {
        shutdown(make_error(errc::unavailable, "cql {}: connection lost: {}", address_, e.what()));
    }
}

void connection::handle_frame(const wire::frame_header& h, std::string body) {
    if (h.stream < 0) return;  // server events: not registered for, ignored
    auto idx = static_cast<size_t>(h.stream);
    if (idx >= streams_.size() || !streams_[idx]) {
        throw wire::decode_error(fmt::format("answer {} on stream {}, which has no request", wire::opcode_name(h.op),
                                             h.stream));
    }
    request_ptr r = std::move(streams_[idx]);
    streams_[idx] = nullptr;
    free_streams_.push_back(h.stream);
    if (r->completed) {  // answered after its timeout
        if (orphans_ > 0) --orphans_;
        return;
    }
    auto self = shared_from_this();
    session_.on_response(self, std::move(r), h.op, h.flags, body);
    session_.drain_waiting(self);
}

session::impl::impl(client_options options) : options_(std::move(options)) {}

session::impl::~impl() {
    close();
}

status session::impl::start() {
    if (options_.contact_points.empty()) return make_error(errc::invalid_argument, "cql client: no contact points");
    if (!options_.tls_ca.empty()) {
        auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
        asio::error_code ec;
        ctx->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1,
                         ec);
        if (!ec) ctx->load_verify_file(options_.tls_ca, ec);
        if (!ec) ctx->set_verify_mode(asio::ssl::verify_peer, ec);
        if (ec) {
            return make_error(errc::invalid_argument, "cql client: cannot use {} as the TLS CA (cql.tls_ca): {}", options_.tls_ca,
                              ec.message());
        }
        tls_ = std::move(ctx);
    }
    for (const auto& point : options_.contact_points) {
        auto parsed = parse_host_port(point, 9042);
        if (!parsed.ok()) return parsed.err();
        host h;
        h.address = std::move(parsed).value();
        h.slots.resize(static_cast<size_t>(std::max(1, options_.connections_per_host)));
        hosts_.push_back(std::move(h));
    }
    auto ready = first_ready_.get_future();
    thread_ = std::thread([this] { io_.run(); });
    asio::post(io_, [this] {
        for (size_t host_idx = 0; host_idx < hosts_.size(); ++host_idx) {
            for (size_t slot_idx = 0; slot_idx < hosts_[host_idx].slots.size(); ++slot_idx) open_slot(host_idx, slot_idx);
        }
        sweep();
    });
    return ready.get();
}

void session::impl::close() {
    if (closed_.exchange(true)) {
        if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
        return;
    }
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
        closing_ = true;
        asio::error_code ignored;
        sweep_timer_.cancel();
        auto waiting = std::move(waiting_);
        waiting_.clear();
        for (auto& r : waiting) r->complete(make_error(errc::cancelled, "cql session closed before the request was sent"));
        for (auto& h : hosts_) {
            for (auto& s : h.slots) {
                if (s.retry_timer) s.retry_timer->cancel();
                if (s.conn) s.conn->shutdown(make_error(errc::cancelled, "cql session closed"));
            }
        }
        for (auto& weak : retry_timers_) {
            if (auto timer = weak.lock()) timer->cancel();
        }
        retry_timers_.clear();
        work_.reset();  // run() returns once the cancelled handlers have run
    });
    if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();
        return;
    }
    thread_.join();
}

void session::impl::open_slot(size_t host_idx, size_t slot_idx) {
    if (closing_) return;
    auto& s = hosts_[host_idx].slots[slot_idx];
    s.conn = std::make_shared<connection>(*this, host_idx, slot_idx);
    s.conn->start();
}

void session::impl::on_ready(const std::shared_ptr<connection>& conn) {
    ++open_connections_;
    ready_.push_back(conn);
    for (auto& host : hosts_) {
        for (auto& s : host.slots) {
            if (s.conn == conn) {
                s.failures = 0;
                s.ever_tried = true;
            }
        }
    }
    if (!first_ready_set_) {
        first_ready_set_ = true;
        first_ready_.set_value(status{});
    }
    log_.debug("connected to {}", conn->address());
    drain_waiting(conn);
}

void session::impl::drain_waiting(const std::shared_ptr<connection>& conn) {
    while (!waiting_.empty() && conn->ready() && conn->has_free_stream()) {
        auto r = std::move(waiting_.front());
        waiting_.pop_front();
        if (!r->completed) conn->send(std::move(r));
    }
}

void session::impl::on_closed(const std::shared_ptr<connection>& conn, size_t host_idx, size_t slot_idx,
                              const error& why, bool was_ready) {
    if (was_ready) {
        --open_connections_;
        std::erase(ready_, conn);
    }
    last_connect_error_ = why.message();
    auto& s = hosts_[host_idx].slots[slot_idx];
    if (s.conn != conn) return;
    s.conn = nullptr;
    if (!first_ready_set_ && !s.ever_tried) {
        s.ever_tried = true;
        first_errors_.push_back(why.message());
        size_t total = 0;
        for (auto& h : hosts_) total += h.slots.size();
        if (++first_failures_ == total) {
            first_ready_set_ = true;
            std::string all;
            for (const auto& m : first_errors_) {
                if (all.find(m) == std::string::npos) all += (all.empty() ? "" : "; ") + m;
            }
            first_ready_.set_value(error(why.code(), fmt::format("cql client: cannot connect: {}", all)));
        }
    }
    if (closing_) return;
    if (was_ready) {
        log_.warn("{}", why.message());
        ++reconnects_;
    }
    // Reconnect with backoff: retry_backoff doubled per failure, at most 2 s.
    s.failures = std::min(s.failures + 1, 16);
    auto delay = std::min<std::chrono::milliseconds>(options_.retry_backoff * (1 << std::min(s.failures - 1, 5)),
                                                      std::chrono::milliseconds(2000));
    if (was_ready) delay = std::chrono::milliseconds(0);
    s.retry_timer = std::make_shared<asio::steady_timer>(io_, delay);
    s.retry_timer->async_wait([this, host_idx, slot_idx](asio::error_code ec) {
        if (ec || closing_) return;
        if (!hosts_[host_idx].slots[slot_idx].conn) open_slot(host_idx, slot_idx);
    });
}

void session::impl::submit(request_ptr r) {
    ++requests_;
    if (closed_) {
        r->complete(make_error(errc::cancelled, "cql session is closed"));
        return;
    }
    r->deadline = clock_type::now() + r->timeout;
    asio::post(io_, [this, r = std::move(r)]() mutable { dispatch(std::move(r)); });
}

void session::impl::dispatch(request_ptr r) {
    if (r->completed) return;
    if (closing_) {
        r->complete(make_error(errc::cancelled, "cql session is closed"));
        return;
    }
    for (size_t tries = 0; tries < ready_.size(); ++tries) {
        auto& conn = ready_[round_robin_++ % ready_.size()];
        if (conn->ready() && conn->has_free_stream()) {
            conn->send(std::move(r));
            return;
        }
    }
    waiting_.push_back(std::move(r));
}

void session::impl::retry_later(request_ptr r, std::string why) {
    if (r->completed) return;
    if (r->attempt >= options_.max_retries) {
        r->complete(make_error(errc::unavailable, "cql: giving up after {} attempts: {}", r->attempt + 1, why));
        return;
    }
    ++r->attempt;
    ++retries_;
    r->last_error = std::move(why);
    auto delay = options_.retry_backoff * (1 << std::min(r->attempt - 1, 5));
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    std::erase_if(retry_timers_, [](const auto& weak) { return weak.expired(); });
    retry_timers_.push_back(timer);
    timer->async_wait([this, timer, r](asio::error_code ec) {
        if (ec) {
            r->complete(make_error(errc::cancelled, "cql session closed while waiting to retry"));
            return;
        }
        dispatch(r);
    });
}

std::string session::impl::build_body(const request& r) {
    std::string body;
    wire::wire_writer w(body);
    switch (r.op) {
        case wire::opcode::query:
            w.long_string(r.query);
            w.raw(r.parameters);
            break;
        case wire::opcode::prepare:
            w.long_string(r.query);
            break;
        case wire::opcode::execute:
            w.short_bytes(current_id(*r.stmt));
            w.raw(r.parameters);
            break;
        case wire::opcode::batch:
            w.byte(r.batch_type);
            w.int16(static_cast<int16_t>(r.parts.size()));
            for (const auto& part : r.parts) {
                if (part.stmt) {
                    w.byte(1);
                    w.short_bytes(current_id(*part.stmt));
                } else {
                    w.byte(0);
                    w.long_string(part.query);
                }
                w.int16(static_cast<int16_t>(part.value_count));
                w.raw(part.values);
            }
            w.raw(r.parameters);
            break;
        default:
            break;
    }
    return body;
}

void session::impl::on_response(const std::shared_ptr<connection>& conn, request_ptr r, uint8_t op, uint8_t flags,
                                std::string_view body) {
    std::vector<std::string> warnings;
    std::string trace_id;
    try {
        wire::wire_reader prefix(body);
        warnings = messages::skip_response_prefix(prefix, flags, &trace_id);
        body = body.substr(body.size() - prefix.remaining());
    } catch (const wire::decode_error& e) {
        r->complete(make_error(errc::corruption, "cql {}: {} frame prefix: {}", conn->address(), wire::opcode_name(op),
                               e.what()));
        return;
    }
    if (op == static_cast<uint8_t>(wire::opcode::result)) {
        auto decoded = messages::decode_result(body, r->query);
        if (!decoded.ok()) {
            r->complete(decoded.err().with_context(fmt::format("cql {}", conn->address())));
            return;
        }
        decoded->page.warnings = std::move(warnings);
        decoded->page.trace_id = std::move(trace_id);
        r->complete(std::move(decoded));
        return;
    }
    if (op != static_cast<uint8_t>(wire::opcode::error)) {
        r->complete(make_error(errc::corruption, "cql {}: answered {} with {}", conn->address(),
                               wire::opcode_name(static_cast<uint8_t>(r->op)), wire::opcode_name(op)));
        return;
    }
    auto e = messages::decode_error(body);
    if (!e.ok()) {
        r->complete(e.err().with_context(fmt::format("cql {}", conn->address())));
        return;
    }
    if (e->code == wire::k_error_unprepared && r->op != wire::opcode::prepare && r->attempt < options_.max_retries) {
        // Find the statement the node forgot and prepare it again, then resend.
        prepared_ptr forgotten;
        if (r->stmt && current_id(*r->stmt) == e->unprepared_id) forgotten = r->stmt;
        for (const auto& part : r->parts) {
            if (!forgotten && part.stmt && current_id(*part.stmt) == e->unprepared_id) forgotten = part.stmt;
        }
        if (!forgotten && r->stmt) forgotten = r->stmt;
        if (forgotten) {
            ++reprepares_;
            ++r->attempt;
            auto p = std::make_shared<request>();
            p->op = wire::opcode::prepare;
            p->query = forgotten->query();
            p->timeout = r->timeout;
            p->deadline = r->deadline;
            p->done = [this, r, forgotten](result<messages::result_body> answer) {
                if (!answer.ok()) {
                    r->complete(answer.err().with_context("re-preparing after UNPREPARED"));
                    return;
                }
                if (answer->prepared) current_ids_[forgotten->id()] = answer->prepared->id();
                dispatch(r);
            };
            if (conn->ready() && conn->has_free_stream()) conn->send(std::move(p));
            else dispatch(std::move(p));
            return;
        }
    }
    if ((e->code == wire::k_error_overloaded || e->code == wire::k_error_is_bootstrapping) && r->idempotent) {
        retry_later(r, messages::to_error(*e, conn->address()).message());
        return;
    }
    r->complete(messages::to_error(*e, conn->address()));
}

void session::impl::sweep() {
    if (closing_) return;
    auto now = clock_type::now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        auto& r = *it;
        if (r->completed) {
            it = waiting_.erase(it);
        } else if (r->deadline <= now) {
            ++timeouts_;
            std::string why = !r->last_error.empty() ? r->last_error : last_connect_error_;
            r->complete(make_error(errc::timed_out, "cql: no connection could take the request within {} ms{}",
                                   r->timeout.count(), why.empty() ? "" : fmt::format(" (last error: {})", why)));
            it = waiting_.erase(it);
        } else {
            ++it;
        }
    }
    auto ready = ready_;
    for (auto& conn : ready) conn->expire(now);
    sweep_timer_.expires_after(std::chrono::milliseconds(50));
    sweep_timer_.async_wait([this](asio::error_code ec) {
        if (!ec) sweep();
    });
}

// ---- session ----

namespace {

template <typename T>
result<T> wait(std::future<result<T>>& f) {
    return f.get();
}

}  // namespace

session::session(std::shared_ptr<impl> i) : impl_(std::move(i)) {}

session::~session() { close(); }

result<std::shared_ptr<session>> session::connect(client_options options) {
    if (options.max_in_flight_per_connection > 32768) options.max_in_flight_per_connection = 32768;
    auto i = std::make_shared<impl>(std::move(options));
    auto started = i->start();
    if (!started.ok()) {
        i->close();
        return started.err();
    }
    return std::make_shared<session>(std::move(i));
}

void session::close() {
    if (impl_) impl_->close();
}

const client_options& session::options() const { return impl_->options_; }

session_stats session::stats() const {
    session_stats s;
    s.requests = impl_->requests_;
    s.retries = impl_->retries_;
    s.reprepares = impl_->reprepares_;
    s.reconnects = impl_->reconnects_;
    s.timeouts = impl_->timeouts_;
    s.open_connections = impl_->open_connections_;
    return s;
}

namespace {

std::function<void(result<messages::result_body>)> to_rows(session::rows_callback done) {
    return [done = std::move(done)](result<messages::result_body> r) {
        if (!r.ok()) {
            done(r.err());
            return;
        }
        done(std::move(r->page));
    };
}

}  // namespace

void session::query_async(std::string cql, std::vector<value> params, rows_callback done, query_options opts) {
    auto values = messages::encode_values(params, nullptr);
    if (!values.ok()) {
        done(values.err().with_context(fmt::format("query '{}'", cql)));
        return;
    }
    auto r = std::make_shared<request>();
    r->op = wire::opcode::query;
    r->query = std::move(cql);
    r->parameters = messages::encode_query_parameters(opts, impl_->options_.default_consistency,
                                                      impl_->options_.default_page_size, *values, params.size(), false);
    r->timeout = opts.timeout.value_or(impl_->options_.request_timeout);
    r->idempotent = opts.idempotent;
    r->tracing = opts.tracing;
    r->done = to_rows(std::move(done));
    impl_->submit(std::move(r));
}

void session::execute_async(prepared_ptr stmt, std::vector<value> params, rows_callback done, query_options opts) {
    if (!stmt) {
        done(make_error(errc::invalid_argument, "execute: null prepared statement"));
        return;
    }
    auto values = messages::encode_values(params, &stmt->bind_columns());
    if (!values.ok()) {
        done(values.err().with_context(fmt::format("executing '{}'", stmt->query())));
        return;
    }
    auto r = std::make_shared<request>();
    r->op = wire::opcode::execute;
    r->stmt = std::move(stmt);
    r->parameters = messages::encode_query_parameters(opts, impl_->options_.default_consistency,
                                                      impl_->options_.default_page_size, *values, params.size(), false);
    r->timeout = opts.timeout.value_or(impl_->options_.request_timeout);
    r->idempotent = opts.idempotent;
    r->tracing = opts.tracing;
    r->done = to_rows(std::move(done));
    impl_->submit(std::move(r));
}

void session::batch_async(batch_kind kind, std::vector<batch_statement> statements, rows_callback done,
                          query_options opts) {
    auto r = std::make_shared<request>();
    r->op = wire::opcode::batch;
    r->batch_type = static_cast<uint8_t>(kind);
    if (statements.empty() || statements.size() > 65535) {
        done(make_error(errc::invalid_argument, "batch of {} statements (1..65535)", statements.size()));
        return;
    }
    for (size_t idx = 0; idx < statements.size(); ++idx) {
        auto& s = statements[idx];
        batch_part part;
        part.stmt = s.prepared;
        part.query = std::move(s.query);
        auto values = messages::encode_values(s.params, s.prepared ? &s.prepared->bind_columns() : nullptr);
        if (!values.ok()) {
            done(values.err().with_context(fmt::format("batch statement {}", idx)));
            return;
        }
        part.values = std::move(values).value();
        part.value_count = static_cast<uint16_t>(s.params.size());
        r->parts.push_back(std::move(part));
    }
    // <consistency><flags>[<serial_consistency>][<timestamp>]
    wire::wire_writer w(r->parameters);
    w.int16(static_cast<int16_t>(opts.consistency_level.value_or(impl_->options_.default_consistency)));
    uint8_t flags = 0;
    if (opts.serial_consistency) flags |= wire::query_flag::serial_consistency;
    if (opts.default_timestamp) flags |= wire::query_flag::default_timestamp;
    w.byte(flags);
    if (opts.serial_consistency) w.int16(static_cast<int16_t>(*opts.serial_consistency));
    if (opts.default_timestamp) w.int64(*opts.default_timestamp);
    r->timeout = opts.timeout.value_or(impl_->options_.request_timeout);
    r->idempotent = opts.idempotent && kind != batch_kind::counter;
    r->done = to_rows(std::move(done));
    impl_->submit(std::move(r));
}

result<rows> session::query(std::string_view cql, const std::vector<value>& params, const query_options& opts) {
    auto p = std::make_shared<std::promise<result<rows>>>();
    auto f = p->get_future();
    query_async(std::string(cql), params, [p](result<rows> r) { p->set_value(std::move(r)); }, opts);
    return wait(f);
}

result<rows> session::execute(const prepared_ptr& stmt, const std::vector<value>& params, const query_options& opts) {
    auto p = std::make_shared<std::promise<result<rows>>>();
    auto f = p->get_future();
    execute_async(stmt, params, [p](result<rows> r) { p->set_value(std::move(r)); }, opts);
    return wait(f);
}

result<rows> session::batch(batch_kind kind, const std::vector<batch_statement>& statements,
                            const query_options& opts) {
    auto p = std::make_shared<std::promise<result<rows>>>();
    auto f = p->get_future();
    batch_async(kind, statements, [p](result<rows> r) { p->set_value(std::move(r)); }, opts);
    return wait(f);
}

result<rows> session::query_all(std::string_view cql, const std::vector<value>& params, const query_options& opts) {
    query_options page_opts = opts;
    rows all;
    for (;;) {
        auto page = query(cql, params, page_opts);
        if (!page.ok()) return page.err();
        if (all.columns.empty()) all.columns = page->columns;
        for (auto& r : page->data) all.data.push_back(std::move(r));
        if (!page->paging_state) break;
        page_opts.paging_state = page->paging_state;
    }
    return all;
}

result<prepared_ptr> session::prepare(std::string_view cql) {
    std::string text(cql);
    if (auto hit = impl_->cached(text)) return hit;
    auto p = std::make_shared<std::promise<result<prepared_ptr>>>();
    auto f = p->get_future();
    auto r = std::make_shared<request>();
    r->op = wire::opcode::prepare;
    r->query = text;
    r->timeout = impl_->options_.request_timeout;
    r->done = [p, text](result<messages::result_body> answer) {
        if (!answer.ok()) {
            p->set_value(answer.err().with_context(fmt::format("preparing '{}'", text)));
            return;
        }
        if (!answer->prepared) {
            p->set_value(make_error(errc::corruption, "preparing '{}': server answered without a PREPARED result", text));
            return;
        }
        p->set_value(prepared_ptr(std::move(answer->prepared)));
    };
    impl_->submit(std::move(r));
    auto out = f.get();
    if (out.ok()) impl_->remember(*out);
    return out;
}

}  // namespace millrace::cql_client
