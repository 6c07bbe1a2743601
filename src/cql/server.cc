// The CQL component: configuration, the connection loop (framing, size caps,
// version negotiation, concurrent requests answered by stream id), dispatch
// to the opcode handlers, and per-opcode metrics.
#include "millrace/cql/server.h"

#include <chrono>
#include <mutex>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "executor.h"
#include "millrace/common/connection.h"
#include "handlers/handler.h"
#include "protocol/segment.h"
#include "protocol/wire.h"
#include "storage/store.h"
#include "tracing.h"

namespace millrace::cql {
namespace {

using config::value_kind;

struct cql_config {
    std::string host;
    uint16_t port = 9042;
    std::string data_dir;
    int64_t max_frame_bytes = 16 << 20;
    auth_settings auth;
    size_t prepared_cache_size = 10000;
    store_options storage;
    int io_threads = 0;  // cql.io_threads
};

constexpr size_t k_max_in_flight = 256;
// A frame whose body has not fully arrived this long after its header closes
// the connection.
constexpr auto k_request_read_timeout = std::chrono::seconds(60);

class cql_component final : public component {
public:
    cql_component(component_context& ctx, cql_config cfg)
        : ctx_(ctx),
          cfg_(std::move(cfg)),
          executor_(io_, store_, ctx.clock, cfg_.prepared_cache_size),
          server_(io_, "cql", [this](net::stream& socket) { return serve(socket); }),
          connections_(ctx.metrics.make_gauge("millrace_cql_connections", "Open client connections.")),
          protocol_errors_(ctx.metrics.make_counter("millrace_cql_protocol_errors_total",
                                                    "Connections closed for malformed or oversized frames.")),
          errors_(ctx.metrics.make_counter("millrace_cql_error_responses_total", "ERROR responses sent.")),
          auth_failures_(ctx.metrics.make_counter("millrace_cql_auth_failures_total",
                                                  "AUTH_RESPONSE answered with Bad credentials.")) {
        for (const auto& h : all_handlers()) {
            metrics_[static_cast<uint8_t>(h.op)] =
                metrics::request_metrics(ctx.metrics, "millrace_cql", "opcode", std::string(h.name));
        }
    }

    std::string name() const override { return "cql"; }

    result<std::optional<net::endpoint>> start() override {
        if (cfg_.auth.required && cfg_.auth.bootstrap.empty()) {
            return make_error(errc::invalid_argument,
                              "cql: cql.authenticator is password but cql.username or cql.password is empty");
        }
        executor_.set_eviction_counter(&ctx_.metrics.make_counter(
            "millrace_cql_prepared_evictions_total", "Prepared statements evicted from the cache (cql.prepared_cache_size)."));
        executor_.set_schema_listener([this](std::string_view change) { broadcast_schema_change(change); });
        ctx_.metrics.add_collector([this](std::string& out) {
            auto s = store_.stats();
            auto family = [&](const char* name, const char* help, uint64_t v) {
                out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, v);
            };
            family("millrace_cql_commit_groups_total", "WAL writes of the store, each covering every write queued then.",
                   s.groups);
            family("millrace_cql_committed_mutations_total", "Writes acknowledged by the store.", s.mutations);
            family("millrace_cql_wal_syncs_total", "fsyncs of the store's WAL (cql.commit_sync).", s.wal_syncs);
        });
        store_.purge().set_clock([this] { return static_cast<uint32_t>(ctx_.clock.wall_millis() / 1000); });
        if (auto st = store_.open(cfg_.data_dir, cfg_.storage); !st) return st.err().with_context("cql: cannot open data directory");
        if (auto st = executor_.load(); !st) return st.err().with_context(fmt::format("cql: loading the schema in {}", cfg_.data_dir));
        if (cfg_.auth.required) {
            executor_.enable_auth();
            for (const auto& [role, password] : cfg_.auth.bootstrap) {
                if (auto st = executor_.bootstrap_role(role, password); !st) return st.err().with_context("cql: creating the login roles");
            }
        }
        // Connections spread over cql.io_threads threads (round robin at
        // accept): their sockets, framing, compression and response writes
        // run there, the statements on the component's thread (io_).
        for (int idx = 0; idx < cfg_.io_threads; ++idx) conn_ios_.push_back(std::make_unique<asio::io_context>(1));
        if (!conn_ios_.empty()) {
            server_.set_connection_executors([this] {
                return conn_ios_[next_conn_io_++ % conn_ios_.size()]->get_executor();
            });
        }
        auto ep = server_.start(cfg_.host, cfg_.port, "cql.port");
        if (!ep) return ep.err();
        executor_.set_native_port(ep->port);
        log_.info("serving CQL native protocol v4 and v5 on {}, data in {}, authenticator {}, commit sync {}, {} io thread(s)",
                  ep->to_string(), cfg_.data_dir, cfg_.auth.required ? "password" : "none",
                  cfg_.storage.sync == commit_sync::batch
                      ? std::string("batch")
                      : fmt::format("periodic every {} ms", cfg_.storage.sync_period.count()),
                  cfg_.io_threads);
        for (auto& conn_io : conn_ios_) {
            conn_threads_.emplace_back([io = conn_io.get()] {
                auto work = asio::make_work_guard(*io);
                io->run();
            });
        }
        // From here on the listener, the connections and the executor live on
        // the component's own thread (see io_).
        io_thread_ = std::thread([this] {
            auto work = asio::make_work_guard(io_);
            io_.run();
        });
        return std::optional<net::endpoint>(*ep);
    }

    // Connections close; writes already queued are applied and synced. The
    // database itself closes when the component is destroyed, after the drain.
    void stop() override {
        server_.stop();  // posted to io_
        store_.stop_writes();
    }

    ~cql_component() override {
        // The host drained its own io_context after stop(); connections still
        // open here are cut (their coroutines are destroyed with io_).
        io_.stop();
        if (io_thread_.joinable()) io_thread_.join();
        for (auto& conn_io : conn_ios_) conn_io->stop();
        for (auto& t : conn_threads_) t.join();
    }

private:
    // The CQL framing on the shared connection base: 9-byte frame headers,
    // and in v5 after STARTUP checksummed segments holding the frames
    // (protocol/segment.h); responses in completion order (matched by stream
    // id). One instance per connection, holding the negotiated connection state.
    class cql_connection final : public net::frame_protocol, public std::enable_shared_from_this<cql_connection> {
    public:
        explicit cql_connection(cql_component& server)
            : server_(server), assembler_(static_cast<size_t>(server.cfg_.max_frame_bytes)) {}

        size_t header_size() const override {
            return ctx.segments ? segment_header_size(ctx.codec == compression::lz4) : k_header_size;
        }

        asio::awaitable<std::optional<size_t>> body_length(net::framed_connection& conn, const std::string& header) override {
            if (ctx.segments) {
                auto h = decode_segment_header(header, ctx.codec == compression::lz4);
                if (!h) co_return close_corrupt(conn, h.err().message());
                segment_ = *h;
                co_return static_cast<size_t>(h->payload_length) + k_segment_crc32_size;
            }
            auto& log = server_.log_;
            frame_header h = decode_header(header.data());
            if ((static_cast<uint8_t>(header[0]) & k_response_bit) != 0) {
                server_.protocol_errors_.inc();
                log.warn("closing connection from {}: frame with the response bit set (version byte 0x{:02x})", conn.peer(),
                         uint8_t(header[0]));
                co_return std::nullopt;
            }
            if (ctx.version == 0 && h.version >= k_min_protocol_version && h.version <= k_max_protocol_version) {
                ctx.version = h.version;
            } else if (ctx.version == 0) {
                co_return co_await refuse_version(conn, h);
            } else if (h.version != ctx.version) {
                server_.protocol_errors_.inc();
                std::string message = fmt::format("Invalid message version. Got {}/v{} but previous messages on this "
                                                  "connection had version {}/v{}",
                                                  h.version, h.version, ctx.version, ctx.version);
                log.warn("closing connection from {}: {}", conn.peer(), message);
                conn.push(error_frame(h.stream, error_code::protocol_error, message, ctx.version));
                co_return std::nullopt;
            }
            if (h.length > static_cast<uint64_t>(server_.cfg_.max_frame_bytes)) {
                server_.protocol_errors_.inc();
                log.warn("closing connection from {}: frame body of {} bytes exceeds {} (cql.max_frame_size)", conn.peer(),
                         h.length, server_.cfg_.max_frame_bytes);
                conn.push(error_frame(h.stream, error_code::protocol_error,
                                      fmt::format("frame body of {} bytes exceeds the limit of {} (cql.max_frame_size)",
                                                  h.length, server_.cfg_.max_frame_bytes),
                                      ctx.version));
                co_return std::nullopt;
            }
            co_return static_cast<size_t>(h.length);
        }

        asio::awaitable<bool> on_frame(net::framed_connection& conn, std::shared_ptr<net::response_slot> slot, std::string header,
                                       std::shared_ptr<std::string> body) override {
            if (!ctx.segments) co_return co_await on_envelope(conn, std::move(slot), std::move(header), std::move(body));
            auto payload = decode_segment_payload(segment_, *body, ctx.codec == compression::lz4);
            if (!payload) co_return close_corrupt(conn, payload.err().message(), slot);
            auto envelopes = assembler_.add(*payload, segment_.self_contained);
            if (!envelopes) co_return close_corrupt(conn, envelopes.err().message(), slot);
            if (envelopes->empty()) {
                conn.respond(slot, {}, false);  // part of a larger envelope: nothing to answer yet
                co_return true;
            }
            // The segment's in-flight permit goes to its first envelope; the
            // others are answered on slots that hold none.
            for (size_t idx = 0; idx < envelopes->size(); ++idx) {
                std::string& envelope = (*envelopes)[idx];
                auto envelope_slot = slot;
                if (idx > 0) {
                    envelope_slot = std::make_shared<net::response_slot>();
                    envelope_slot->unsolicited = true;
                }
                auto envelope_body = std::make_shared<std::string>(envelope.substr(k_header_size));
                envelope.resize(k_header_size);
                frame_header h = decode_header(envelope.data());
                if (h.version != ctx.version || (static_cast<uint8_t>(envelope[0]) & k_response_bit) != 0) {
                    co_return close_corrupt(conn, fmt::format("envelope version byte 0x{:02x} in a v{} connection",
                                                              uint8_t(envelope[0]), ctx.version),
                                            envelope_slot);
                }
                if (!co_await on_envelope(conn, envelope_slot, std::move(envelope), std::move(envelope_body))) co_return false;
            }
            co_return true;
        }

        // Encodes a response in the connection's framing: v4 frames (body
        // compressed when negotiated, READY excepted), or v5 frames in segments.
        std::string encode_response(int16_t stream, opcode op, std::string body, uint8_t flags = 0) const {
            std::string out;
            uint8_t version = ctx.version == 0 ? k_max_protocol_version : ctx.version;
            if (ctx.segments) {
                std::string envelope;
                envelope.reserve(k_header_size + body.size());
                encode_header(envelope, stream, op, static_cast<uint32_t>(body.size()), flags, version);
                envelope += body;
                encode_segments(out, envelope, ctx.codec == compression::lz4);
                return out;
            }
            if (ctx.codec != compression::none && op != opcode::ready && version < 5) {
                body = compress(ctx.codec, body);
                flags |= frame_flag::compression;
            }
            encode_header(out, stream, op, static_cast<uint32_t>(body.size()), flags, version);
            out += body;
            return out;
        }

        connection_context ctx;
        std::weak_ptr<net::framed_connection> conn;
        // The server's side of the connection (tracing's coordinator), read at accept.
        std::string local_host = "127.0.0.1";
        int32_t local_port = 0;

    private:
        // One frame (v4) or envelope (v5): dispatch to its opcode handler.
        asio::awaitable<bool> on_envelope(net::framed_connection& conn, std::shared_ptr<net::response_slot> slot,
                                          std::string header, std::shared_ptr<std::string> body) {
            auto& log = server_.log_;
            frame_header h = decode_header(header.data());
            auto fail = [&](std::string message) {
                server_.protocol_errors_.inc();
                log.warn("closing connection from {}: {}", conn.peer(), message);
                conn.respond(slot, encode_response(h.stream, opcode::error, error_body(error_code::protocol_error, message)));
                return false;
            };
            if (h.flags & frame_flag::compression) {
                if (ctx.codec == compression::none || ctx.segments) {
                    co_return fail(ctx.segments ? "compressed frame inside a v5 segment (segments carry the compression)"
                                                : "compressed frame but no compression was negotiated");
                }
                auto plain = decompress(ctx.codec, *body, static_cast<size_t>(server_.cfg_.max_frame_bytes));
                if (!plain) co_return fail(plain.err().message());
                *body = std::move(*plain);
            }
            const handler_entry* entry = find_handler(static_cast<opcode>(h.op));
            if (entry == nullptr) co_return fail(fmt::format("unknown opcode 0x{:02x}", h.op));
            if (!ctx.started && entry->op != opcode::startup && entry->op != opcode::options) {
                conn.respond(slot, encode_response(h.stream, opcode::error,
                                                   error_body(error_code::protocol_error,
                                                              fmt::format("unexpected message {}, expecting STARTUP or OPTIONS",
                                                                          entry->name))));
                co_return true;
            }
            if (ctx.started && !ctx.authenticated && entry->op != opcode::auth_response && entry->op != opcode::options) {
                conn.respond(slot, encode_response(h.stream, opcode::error,
                                                   error_body(error_code::protocol_error,
                                                              fmt::format("unexpected message {}, expecting AUTH_RESPONSE "
                                                                          "(authentication is required)",
                                                                          entry->name))));
                co_return true;
            }
            bool serial = entry->op == opcode::startup || entry->op == opcode::query || entry->op == opcode::prepare ||
                          entry->op == opcode::auth_response || entry->op == opcode::register_;
            auto self = shared_from_this();
            // USE (in QUERY) and STARTUP change the connection, so those run in order;
            // EXECUTE and BATCH run concurrently and share group commits.
            // With cql.io_threads the statement runs on the component's thread
            // (the executor's), the answer is written back on this one.
            if (server_.conn_ios_.empty()) {
                if (serial) co_return co_await server_.handle(entry, h, body, self, conn.shared_from_this(), slot);
                asio::co_spawn(conn.executor(), server_.handle(entry, h, body, self, conn.shared_from_this(), slot),
                               asio::detached);
                co_return true;
            }
            if (serial) {
                co_return co_await asio::co_spawn(server_.io_, server_.handle(entry, h, body, self, conn.shared_from_this(), slot),
                                                  asio::use_awaitable);
            }
            asio::co_spawn(server_.io_, server_.handle(entry, h, body, self, conn.shared_from_this(), slot), asio::detached);
            co_return true;
        }

        // The first frame asked for a version we do not speak. Answered as
        // Cassandra 4.0/5.0 do, so drivers step down and reconnect: an old
        // version (1-3) in that version, anything else in our newest; then close.
        asio::awaitable<std::optional<size_t>> refuse_version(net::framed_connection& conn, const frame_header& h) {
            auto& log = server_.log_;
            server_.protocol_errors_.inc();
            uint8_t answer_version = h.version >= 1 && h.version < k_min_protocol_version ? h.version : k_max_protocol_version;
            // v1/v2 headers have a one-byte stream id, read here as the high byte.
            int16_t stream = answer_version <= 2 ? static_cast<int16_t>(static_cast<uint16_t>(h.stream) >> 8) : h.stream;
            std::string frame = error_frame(stream, error_code::protocol_error,
                                            fmt::format("Invalid or unsupported protocol version ({}); supported versions are ({})",
                                                        h.version, k_supported_versions_text),
                                            answer_version);
            auto* s = conn.get_stream();
            if (s == nullptr) co_return std::nullopt;
            std::error_code ec;
            co_await asio::async_write(*s, asio::buffer(frame), asio::redirect_error(asio::use_awaitable, ec));
            log.info("connection from {} asked for protocol v{}; answered in v{} naming {}", conn.peer(), h.version,
                     answer_version, k_supported_versions_text);
            // Give the client a chance to read the answer before the close.
            char byte;
            if ((s = conn.get_stream()) != nullptr) {
                co_await asio::async_read(*s, asio::buffer(&byte, 1), asio::redirect_error(asio::use_awaitable, ec));
            }
            co_return std::nullopt;
        }

        // A corrupt segment: the stream cannot be resynchronised, so the
        // connection closes (after an ERROR when a slot can carry it).
        std::nullopt_t close_corrupt(net::framed_connection& conn, const std::string& message) {
            server_.protocol_errors_.inc();
            server_.log_.warn("closing connection from {}: {}", conn.peer(), message);
            conn.push(encode_response(0, opcode::error, error_body(error_code::protocol_error, message)));
            return std::nullopt;
        }
        bool close_corrupt(net::framed_connection& conn, const std::string& message,
                           const std::shared_ptr<net::response_slot>& slot) {
            server_.protocol_errors_.inc();
            server_.log_.warn("closing connection from {}: {}", conn.peer(), message);
            conn.respond(slot, encode_response(0, opcode::error, error_body(error_code::protocol_error, message)));
            return false;
        }

        cql_component& server_;
        envelope_assembler assembler_;
        segment_header segment_;  // of the segment whose body is being read
    };

    static std::string error_body(error_code code, const std::string& message) {
        std::string body;
        writer w(body);
        w.int32(static_cast<int32_t>(code));
        w.string(message);
        return body;
    }

    // An ERROR in the v4 framing (a connection not yet in segments).
    static std::string error_frame(int16_t stream, error_code code, const std::string& message, uint8_t version) {
        std::string body = error_body(code, message);
        std::string frame;
        encode_header(frame, stream, opcode::error, static_cast<uint32_t>(body.size()), 0, version);
        frame += body;
        return frame;
    }

    asio::awaitable<void> serve(net::stream& socket) {
        connections_.add(1);
        struct guard {
            metrics::gauge& g;
            ~guard() { g.add(-1); }
        } connection_guard{connections_};
        std::string peer;
        {
            std::error_code ec;
            auto remote = socket.socket().remote_endpoint(ec);
            peer = ec ? "unknown" : remote.address().to_string() + ":" + std::to_string(remote.port());
        }
        auto protocol = std::make_shared<cql_connection>(*this);
        {
            std::error_code ec;
            auto local = socket.socket().local_endpoint(ec);
            if (!ec) {
                protocol->local_host = local.address().to_string();
                protocol->local_port = local.port();
            }
        }
        net::framed_connection::options opts;
        opts.max_in_flight = k_max_in_flight;
        opts.ordered = false;
        opts.request_timeout = k_request_read_timeout;
        opts.body_noun = "frame body";
        auto conn = std::make_shared<net::framed_connection>(socket, opts, protocol, log_, &protocol_errors_, std::move(peer));
        protocol->conn = conn;
        {
            std::lock_guard lock(connections_mutex_);
            std::erase_if(connections_list_, [](const auto& w) { return w.expired(); });
            connections_list_.push_back(protocol);
        }
        co_await conn->run();
    }

    // Runs one request and answers its slot. A body that does not decode is
    // answered with a protocol ERROR and the connection keeps serving, as
    // Cassandra 5.0 does: the frame's length was sound, so the next frame
    // starts where this one ended. Returns false only to stop reading.
    asio::awaitable<bool> handle(const handler_entry* entry, frame_header h, std::shared_ptr<std::string> body,
                                 std::shared_ptr<cql_connection> self, std::shared_ptr<net::framed_connection> conn,
                                 std::shared_ptr<net::response_slot> slot) {
        auto start = std::chrono::steady_clock::now();
        request_context rc{executor_, self->ctx, h.stream, h.flags, cfg_.auth};
        handler_reply reply;
        std::optional<request_trace> trace;
        if ((h.flags & frame_flag::tracing) && is_traced(entry->op)) trace = begin_trace(*self, *conn, entry->op, *body, h.flags);
        try {
            reader in(*body);
            if (h.flags & frame_flag::custom_payload) in.bytes_map();
            reply = co_await entry->fn(rc, in);
        } catch (const protocol_error& e) {
            protocol_errors_.inc();
            errors_.inc();
            log_.warn("malformed {} frame ({} body bytes, stream {}) from {}: {}; answered with a protocol error", entry->name,
                      body->size(), h.stream, conn->peer(), e.what());
            respond(conn, slot, self->encode_response(h.stream, opcode::error,
                                                      error_body(error_code::protocol_error,
                                                                 fmt::format("malformed {} frame: {}", entry->name, e.what()))));
            co_return true;
        }
        metrics_[static_cast<uint8_t>(entry->op)].observe(start);
        if (reply.op == opcode::error) errors_.inc();
        if (entry->op == opcode::auth_response) {
            if (reply.op == opcode::error) {
                auth_failures_.inc();
                log_.warn("authentication failed for {}", conn->peer());
            }
        }
        uint8_t flags = 0;
        if (trace) {
            trace->event(reply.op == opcode::error ? "Sending ERROR message" : "Sending RESULT message");
            std::string id = trace->session_id();
            trace->finish();  // readable before the response is: drivers query it at once
            reply.body.insert(0, id);
            flags |= frame_flag::tracing;
        }
        respond(conn, slot, self->encode_response(h.stream, reply.op, std::move(reply.body), flags));
        // v5: the answer to STARTUP is the last frame outside segments, both ways.
        if (entry->op == opcode::startup && self->ctx.version >= 5 &&
            (reply.op == opcode::ready || reply.op == opcode::authenticate)) {
            self->ctx.segments = true;
        }
        co_return true;
    }

    // Answers `slot` on the connection's own thread (inline when already there).
    static void respond(const std::shared_ptr<net::framed_connection>& conn, const std::shared_ptr<net::response_slot>& slot,
                        std::string bytes) {
        asio::dispatch(conn->executor(), [conn, slot, bytes = std::move(bytes)]() mutable { conn->respond(slot, std::move(bytes)); });
    }

    // QUERY, PREPARE, EXECUTE and BATCH honour the tracing flag (the spec
    // names the first three; Cassandra traces batches too).
    static bool is_traced(opcode op) {
        return op == opcode::query || op == opcode::prepare || op == opcode::execute || op == opcode::batch;
    }

    // Starts the trace of a request: Cassandra's request names and parameters
    // (the query text and consistency, read from the body without consuming it).
    request_trace begin_trace(const cql_connection& protocol, const net::framed_connection& conn, opcode op,
                              const std::string& body, uint8_t flags) {
        auto host_of = [](const std::string& address) {
            auto colon = address.rfind(':');
            return colon == std::string::npos ? address : address.substr(0, colon);
        };
        const std::string& coordinator = protocol.local_host;
        int32_t port = protocol.local_port;
        request_trace trace(static_cast<int64_t>(ctx_.clock.wall_millis()), host_of(conn.peer()), coordinator, port);
        std::vector<std::pair<std::string, std::string>> params;
        std::string request;
        std::string activity;
        try {
            reader in(body);
            if (flags & frame_flag::custom_payload) in.bytes_map();
            if (op == opcode::query || op == opcode::prepare) {
                std::string text = in.long_string();
                params.emplace_back("query", text);
                activity = "Parsing " + text;
                if (op == opcode::query) params.emplace_back("consistency_level", consistency_name(in.int16()));
            } else if (op == opcode::execute) {
                std::string id = in.short_bytes();
                activity = "Executing prepared statement ";
                for (char c : id) activity += fmt::format("{:02x}", static_cast<uint8_t>(c));
            } else {
                activity = "Executing batch";
            }
        } catch (const protocol_error&) {
            activity = "Decoding a malformed request";
        }
        request = op == opcode::query     ? "Execute CQL3 query"
                  : op == opcode::prepare ? "Preparing CQL3 query"
                  : op == opcode::execute ? "Execute CQL3 prepared query"
                                          : "Execute batch of CQL3 queries";
        trace.set_request(std::move(request), std::move(params));
        trace.event(std::move(activity));
        return trace;
    }

    static std::string consistency_name(int16_t code) {
        static const char* names[] = {"ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "SERIAL",
                                      "LOCAL_SERIAL", "LOCAL_ONE"};
        return code >= 0 && code <= 10 ? names[code] : std::to_string(code);
    }

    // Pushes an EVENT SCHEMA_CHANGE (stream -1) to every connection that
    // REGISTERed for it. `change` is the body of a Schema_change result after its kind.
    void broadcast_schema_change(std::string_view change) {
        std::string plain;
        writer(plain).string("SCHEMA_CHANGE");
        plain += change;
        std::vector<std::weak_ptr<cql_connection>> all;
        {
            std::lock_guard lock(connections_mutex_);
            all = connections_list_;
        }
        for (const auto& weak : all) {
            auto protocol = weak.lock();
            auto conn = protocol ? protocol->conn.lock() : nullptr;
            if (!conn || !protocol->ctx.schema_events) continue;
            // Pushed on the connection's thread, which alone may look at its stream.
            asio::dispatch(conn->executor(), [conn, frame = protocol->encode_response(-1, opcode::event, plain)]() mutable {
                if (conn->get_stream() == nullptr || conn->reading_done()) return;
                conn->push(std::move(frame));
            });
        }
    }

    component_context& ctx_;
    cql_config cfg_;
    // The CQL component's own io_context and thread: framing, parsing,
    // execution and reads of every CQL connection run there, so in `millrace
    // up` the CQL store and the Kafka broker (and HTTP) do not wait on each
    // other's io thread. The executor and the connection list are used only
    // on it (and by start() before it runs). Declared before the members whose
    // handlers it holds, so it outlives them.
    asio::io_context io_{1};
    std::thread io_thread_;
    // cql.io_threads: the connections' io_contexts and threads (empty: the
    // connections run on io_, as the statements do).
    std::vector<std::unique_ptr<asio::io_context>> conn_ios_;
    std::vector<std::thread> conn_threads_;
    size_t next_conn_io_ = 0;  // the listener's thread only
    store store_;
    executor executor_;
    net::tcp_server server_;
    metrics::gauge& connections_;
    metrics::counter& protocol_errors_;
    metrics::counter& errors_;
    metrics::counter& auth_failures_;
    // Every open connection, for schema-change events.
    std::mutex connections_mutex_;
    std::vector<std::weak_ptr<cql_connection>> connections_list_;  // guarded by connections_mutex_
    std::map<uint8_t, metrics::request_metrics> metrics_;
    log::logger log_{"cql"};
};

}  // namespace

void add_options(config::schema& s) {
    s.add({"cql.max_frame_size", value_kind::size, "16MiB",
           "Largest frame body (v5: envelope body) accepted, as Cassandra's native_transport_max_frame_size (16 MiB); "
           "a larger announced length is answered with a protocol error and closes the connection before any "
           "allocation, and a body's memory grows only as its bytes arrive.",
           {}, 1024, INT32_MAX});
    s.add({"cql.authenticator", value_kind::choice, "none",
           "none: no login. password: clients log in with SASL PLAIN as a role of system_auth.roles "
           "(Cassandra's PasswordAuthenticator with CassandraAuthorizer: CREATE ROLE, GRANT ...); "
           "cql.username / cql.password is a superuser role created at startup. security.enabled implies password.",
           {"none", "password"}});
    s.add({"cql.username", value_kind::string, "cassandra",
           "With cql.authenticator=password: a superuser role created (or its password reset) at startup. Also the "
           "login millrace's own CQL clients use (default with security.enabled: security.admin_user)."});
    s.add({"cql.password", value_kind::string, "",
           "Its password (required with cql.authenticator=password unless security.enabled supplies the admin; "
           "prefer MILLRACE_CQL_PASSWORD to a file)."});
    s.add({"cql.tls_ca", value_kind::path, "",
           "Client side: the CA file (PEM) millrace's own CQL clients (processor, console) verify the server's "
           "certificate against; set, they connect with TLS. Empty: plaintext, except with security.enabled and the "
           "embedded store (security.tls_ca, else <data_dir>/tls/ca.pem when it exists)."});
    s.add({"cql.prepared_cache_size", value_kind::integer, "10000",
           "Prepared statements kept; the least recently used is evicted and its clients re-prepare on Unprepared.", {}, 1,
           10000000});
    s.add({"cql.commit_sync", value_kind::choice, "batch",
           "When a write is acknowledged, like Cassandra's commitlog_sync. batch: after the fsync of the WAL that "
           "holds it; writes waiting together share one fsync (group commit), so an acknowledged write survives "
           "kill -9 and power loss, and a lone client waits one fsync per write. periodic: once the WAL bytes are "
           "written to the OS (survives kill -9 of the process, not power loss or a kernel crash), with an fsync "
           "every cql.commit_sync_period; faster, but up to one period of acknowledged writes can be lost on power "
           "failure (Cassandra's default).",
           {"batch", "periodic"}});
    s.add({"cql.min_free_space", value_kind::size, "64MiB",
           "Writes are refused (ServerError \"no space left on device: <data dir> ...\") while the data "
           "directory's file system has less free space than this; reads keep working and writes resume by "
           "themselves once space is freed. It keeps RocksDB's WAL and memtable flushes (up to 64 MiB) from "
           "meeting a full disk. 0: no check (a full disk then stops writes until RocksDB recovers, which "
           "needs 64 MiB free).", {}, 0, INT64_MAX});
    s.add({"cql.io_threads", value_kind::integer, "0",
           "Threads serving the CQL connections' sockets (reads, framing, compression, writes of the answers), "
           "connections spread over them as they are accepted; statements run on the component's own thread and "
           "writes on the store's writer thread either way. 0: the connections run on the component's thread too.",
           {}, 0, 64});
    s.add({"cql.commit_sync_period", value_kind::duration_ms, "10s",
           "With cql.commit_sync=periodic, how often the WAL is fsynced (Cassandra's commitlog_sync_period).", {}, 1,
           3'600'000});
}

std::unique_ptr<component> make_cql(component_context& ctx) {
    cql_config cfg;
    cfg.host = ctx.cfg.get_string("cql.host");
    cfg.port = ctx.cfg.get_port("cql.port");
    cfg.data_dir = ctx.data_dir;
    cfg.max_frame_bytes = ctx.cfg.get_int("cql.max_frame_size");
    // security.* are declared by the app when present (issue 19); absent keys mean off.
    bool secure = ctx.cfg.has("security.enabled") && ctx.cfg.get_bool("security.enabled");
    cfg.auth.required = secure || ctx.cfg.get_string("cql.authenticator") == "password";
    if (cfg.auth.required) {
        const auto& user = ctx.cfg.get_string("cql.username");
        const auto& password = ctx.cfg.get_string("cql.password");
        if (!user.empty() && !password.empty()) cfg.auth.bootstrap.emplace_back(user, password);
        if (secure) {
            std::string admin = ctx.cfg.has("security.admin_user") ? ctx.cfg.get_string("security.admin_user") : "admin";
            std::string admin_password = ctx.cfg.has("security.admin_password") ? ctx.cfg.get_string("security.admin_password") : "";
            if (!admin.empty() && !admin_password.empty() && admin != user) cfg.auth.bootstrap.emplace_back(admin, admin_password);
        }
    }
    cfg.prepared_cache_size = static_cast<size_t>(ctx.cfg.get_int("cql.prepared_cache_size"));
    cfg.storage.sync = ctx.cfg.get_string("cql.commit_sync") == "periodic" ? commit_sync::periodic : commit_sync::batch;
    cfg.storage.sync_period = std::chrono::milliseconds(ctx.cfg.get_int("cql.commit_sync_period"));
    cfg.storage.min_free_bytes = static_cast<uint64_t>(ctx.cfg.get_int("cql.min_free_space"));
    cfg.io_threads = static_cast<int>(ctx.cfg.get_int("cql.io_threads"));
    return std::make_unique<cql_component>(ctx, std::move(cfg));
}

}  // namespace millrace::cql
