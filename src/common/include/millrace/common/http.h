// A small HTTP/1.1 server for admin endpoints, REST APIs and web UIs: routes
// by method and path, keep-alive, Content-Length bodies, bounded header and
// body sizes. Handlers run on the server's io_context thread and must not block.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "millrace/common/net.h"

namespace millrace::http {

struct request {
    std::string method;   // "GET"
    std::string target;   // "/api/?results=5"
    std::string path;     // "/api/" (percent-decoded)
    std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
    std::map<std::string, std::string> headers;              // lower-case names
    std::string body;
    // Who sent it, when HTTP authentication is on (set before routing); "" otherwise.
    std::string principal;
    // The values of a path template's {parameters}, each percent-decoded on
    // its own (so "a%2Fb" is one parameter "a/b"); set by routing.
    std::vector<std::pair<std::string, std::string>> path_params;

    // The first value of query parameter `name`, or nullptr.
    const std::string* param(std::string_view name) const;
    // The path parameter `name` of the matched template ("" when none).
    const std::string& path_param(std::string_view name) const;
    std::string header(std::string_view name) const;
};

struct response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers{};

    static response text(int status, std::string body);
    static response json(int status, std::string body);
};

using handler = std::function<response(const request&)>;

struct reply_state;
// Completes a deferred response. Copyable; callable from any thread; the first
// send() wins and later ones are ignored. When the last copy is destroyed
// without a send(), the client gets 500, so a dropped request never hangs.
class reply {
public:
    explicit reply(std::shared_ptr<reply_state> state);
    void send(response res) const;
    void operator()(response res) const { send(std::move(res)); }

private:
    struct token;
    std::shared_ptr<token> token_;
};

// A handler that answers later (from a worker thread, say) instead of
// blocking the io thread. It must return quickly.
using async_handler = std::function<void(const request&, reply)>;
// The name the registry's handlers use for the same thing: call it once with the response.
using responder = reply;

struct event_stream_state;
// One open server-sent-events response (text/event-stream). Thread-safe.
// send() queues an event for the connection's coroutine, which writes it;
// it returns false once the client has gone or the server stopped, and then
// the holder should drop the stream. Events beyond `k_max_queued` unsent
// ones close the stream (a client that does not read is not buffered forever).
class event_stream {
public:
    static constexpr size_t k_max_queued = 1024;
    explicit event_stream(std::shared_ptr<event_stream_state> state) : state_(std::move(state)) {}
    // `event` is the event name (empty for the default "message"); `data` may
    // span lines. Returns false when the stream is closed.
    bool send(std::string_view event, std::string_view data) const;
    bool open() const;
    // Ends the response; the connection closes once queued events are written.
    void close() const;

private:
    std::shared_ptr<event_stream_state> state_;
};

// Called once per client that opens the stream; keep the event_stream to push.
using stream_handler = std::function<void(const request&, event_stream)>;

std::string reason_phrase(int status);
// %XX escapes decoded; '+' stays '+' (paths: run ids contain "+00:00").
std::string percent_decode(std::string_view text);
// A query-string name or value: '+' means space, then %XX escapes.
std::string query_decode(std::string_view text);
// Everything but RFC 3986's unreserved characters as %XX: one path segment
// or query value, whatever it holds ("a/b c" → "a%2Fb%20c").
std::string percent_encode(std::string_view text);

// The process-wide list from `http.allowed_origins` ("https://ui.example.com",
// "http://10.0.0.5:8080"): origins, and their host names, trusted by every
// server beside its own addresses. Set once at start-up, before servers start.
void set_allowed_origins(std::vector<std::string> origins);
const std::vector<std::string>& allowed_origins();

// HTTP authentication (docs/security.md, "HTTP authentication"). Process-wide
// like the allowed origins: set once at start-up, before servers start; off by
// default. When on, every request but GET /healthz and /readyz needs
// `Authorization: Basic` with a known user and password, or `Authorization:
// Bearer <token>` with a token from POST /api/v1/auth/token; else 401 with
// `WWW-Authenticate: Basic realm="millrace"`. Every server also answers
// GET /api/v1/auth/whoami ({"user", "method", "security_enabled"}).
struct auth_settings {
    bool enabled = false;
    std::vector<std::pair<std::string, std::string>> users;  // name, password
    std::chrono::milliseconds token_lifetime{std::chrono::hours(1)};
};
void set_authentication(auth_settings settings);
bool authentication_enabled();
// A bearer token for `user` ("mr1.<payload>.<HMAC-SHA256>"), valid for the
// configured lifetime from `now_unix_seconds`; signed with a key derived from
// the user's password, so changing it revokes the user's tokens.
std::string issue_token(const std::string& user, int64_t now_unix_seconds);
// The user a token names, when its signature holds and it has not expired.
std::optional<std::string> verify_token(std::string_view token, int64_t now_unix_seconds);

// Nesting deeper than this in a JSON request body is refused (400).
constexpr size_t k_max_json_depth = 64;

// Whether `body` is one JSON value nesting at most `max_depth` arrays/objects.
// Parsed by nlohmann/json's SAX parser, so nothing is built: bounded memory.
// The error names the problem and the byte offset.
status check_json(std::string_view body, size_t max_depth = k_max_json_depth);

// Every server applies one request policy before routing (docs/security.md):
// - a request with a body needs a JSON media type (application/json, plus
//   those added by accept_content_type) and a well-formed JSON body within
//   the size and depth limits: 415 / 400 / 413 otherwise;
// - POST, PUT, PATCH and DELETE need a Host naming this server (its bound
//   address, loopback equivalents when bound to loopback, IP literals when
//   bound to every interface, the machine's host name, names added by
//   add_host_name, hosts of http.allowed_origins) and, when an Origin header
//   is present, an Origin on such a host with the request's port, or one of
//   http.allowed_origins: 403 otherwise. No CORS headers are ever sent.
class server {
public:
    server(asio::io_context& io, std::string name, size_t max_body_bytes = 16 << 20);

    // A further media type accepted for request bodies (e.g. the Confluent
    // "application/vnd.schemaregistry.v1+json"). Call before start().
    void accept_content_type(std::string media_type);
    // A further host name this server is reached by (an advertised name).
    void add_host_name(std::string host);

    // Paths match exactly, or as templates, or as prefixes, in that order:
    // - a path with {name} segments ("/subjects/{subject}/versions/{version}")
    //   matches any path of as many segments whose other segments are equal;
    //   of several templates the one whose first parameter comes latest wins
    //   ("/schemas/types" before "/schemas/{id}"); request::path_param reads them;
    // - a path ending in '/' matches everything below it (the longest wins).
    // A path matched only under other methods answers 405 (a "/" catch-all
    // aside, which makes no path but "/" known), else 404.
    void route(std::string method, std::string path, handler h);
    // Same matching; the handler answers through `reply` whenever it is ready.
    void route_async(std::string method, std::string path, async_handler h);
    // GET route answered with a server-sent-events stream. A comment line is
    // written every `heartbeat` so that dead clients are noticed.
    void route_events(std::string path, stream_handler h);
    void set_event_heartbeat(std::chrono::milliseconds heartbeat) { heartbeat_ = heartbeat; }
    // How 404 and 405 are answered (an API's own error body); plain text when unset.
    using miss_handler = std::function<response(const request&, int status)>;
    void on_miss(miss_handler h) { on_miss_ = std::move(h); }

    result<net::endpoint> start(const std::string& host, uint16_t port, const std::string& port_key = {});
    void stop() { tcp_.stop(); }

private:
    struct route_entry {
        handler sync;
        async_handler deferred;
        stream_handler events;
        // For a template path: its segments, "{name}" for a parameter.
        std::vector<std::string> segments;
    };
    void add(std::string method, std::string path, route_entry entry);
    asio::awaitable<void> serve(net::stream& socket);
    asio::awaitable<response> run_async(net::stream& socket, const async_handler& h, const request& req);
    asio::awaitable<void> run_events(net::stream& socket, const stream_handler& h, const request& req);
    // The route for `req` (its path_params set), or a 404/405 response in `miss`.
    const route_entry* find(request& req, response& miss) const;
    // The policy above: a refusal, or nullopt when the request may proceed.
    std::optional<response> refuse(const request& req) const;
    // HTTP authentication: a 401, or nullopt with req.principal set (or
    // authentication off). Also answers the built-in /api/v1/auth/ routes.
    std::optional<response> authenticate(request& req) const;
    std::optional<response> auth_route(const request& req) const;
    // Whether `host` names this server. `any_ip_literal`: when bound to every
    // address, accept any IP literal (right for Host, which DNS rebinding
    // cannot forge as a literal; wrong for Origin, which any page has).
    bool trusted_host(std::string_view host, bool any_ip_literal) const;

    std::string name_;
    std::vector<std::string> content_types_{"application/json"};
    std::vector<std::string> host_names_;
    std::string bound_host_;

    size_t max_body_bytes_;
    std::chrono::milliseconds heartbeat_{15000};
    std::map<std::pair<std::string, std::string>, route_entry> routes_;
    miss_handler on_miss_;
    net::tcp_server tcp_;
};

}  // namespace millrace::http
