#include "millrace/common/http.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <deque>
#include <mutex>
#include <optional>

#include <arpa/inet.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

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

// Counts nesting while nlohmann's SAX parser reads; builds nothing.
class depth_checker : public nlohmann::json_sax<nlohmann::json> {
public:
    explicit depth_checker(size_t max_depth) : max_depth_(max_depth) {}
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return enter(); }
    bool end_object() override { return leave(); }
    bool start_array(std::size_t) override { return enter(); }
    bool end_array() override { return leave(); }
    bool key(string_t&) override { return true; }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
        error_ = fmt::format("the request body is not valid JSON: {} (byte {})", strip(e.what()), position);
        return false;
    }
    const std::string& error_text() const { return error_; }

private:
    static std::string strip(std::string text) {
        // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> after the last ": "
        auto colon = text.find(": ");
        return colon == std::string::npos ? text : text.substr(colon + 2);
    }
    bool enter() {
        if (++depth_ > max_depth_) {
            error_ = fmt::format("the request body nests deeper than {} levels", max_depth_);
            return false;
        }
        return true;
    }
    bool leave() {
        --depth_;
        return true;
    }
    size_t max_depth_;
    size_t depth_ = 0;
    std::string error_;
};

std::vector<std::string>& allowed_origin_list() {
    static std::vector<std::string> list;
    return list;
}

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool is_loopback(const std::string& host) {
    if (host == "localhost" || host == "::1") return true;
    unsigned char buf[4];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 && buf[0] == 127;
}

// "host:port", "[v6]:port" or "host" -> lower-case host without brackets, and port ("" when absent).
std::pair<std::string, std::string> split_host_port(std::string_view text) {
    std::string host, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return {std::string(text), ""};
        host = std::string(text.substr(1, close - 1));
        if (close + 1 < text.size() && text[close + 1] == ':') port = std::string(text.substr(close + 2));
    } else {
        auto colon = text.rfind(':');
        if (colon != std::string_view::npos && text.find(':') == colon) {
            host = std::string(text.substr(0, colon));
            port = std::string(text.substr(colon + 1));
        } else {
            host = std::string(text);
        }
    }
    std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
    return {host, port};
}

struct origin_parts {
    std::string scheme, host, port;  // port defaulted from the scheme
};

std::optional<origin_parts> parse_origin(std::string_view origin) {
    auto sep = origin.find("://");
    if (sep == std::string_view::npos) return std::nullopt;
    origin_parts out;
    out.scheme = std::string(origin.substr(0, sep));
    std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view rest = origin.substr(sep + 3);
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
    auto [host, port] = split_host_port(rest);
    out.host = host;
    out.port = !port.empty() ? port : out.scheme == "https" ? "443" : out.scheme == "http" ? "80" : "";
    return out;
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
                req.query.emplace_back(query_decode(pair.substr(0, eq)),
                                       eq == std::string_view::npos ? std::string() : query_decode(pair.substr(eq + 1)));
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

const std::string& request::path_param(std::string_view name) const {
    static const std::string none;
    for (const auto& [key, value] : path_params) {
        if (key == name) return value;
    }
    return none;
}

std::string request::header(std::string_view name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
}

response response::text(int status, std::string body) {
    return response{status, "text/plain; charset=utf-8", std::move(body)};
}

response response::json(int status, std::string body) { return response{status, "application/json", std::move(body)}; }

// Shared by a deferred response's reply copies and the connection coroutine
// waiting for it. `timer` wakes the coroutine (cancelled on completion).
struct reply_state {
    explicit reply_state(const asio::any_io_executor& executor) : timer(executor, asio::steady_timer::time_point::max()) {}
    std::mutex mutex;
    std::optional<response> result;  // guarded by mutex
    asio::steady_timer timer;        // touched on the io thread only
};

struct reply::token {
    explicit token(std::shared_ptr<reply_state> s) : state(std::move(s)) {}
    ~token() { complete(response::text(500, "internal error: the handler dropped the request\n")); }
    void complete(response res) {
        {
            std::lock_guard lock(state->mutex);
            if (state->result) return;
            state->result = std::move(res);
        }
        asio::post(state->timer.get_executor(), [s = state] { s->timer.cancel(); });
    }
    std::shared_ptr<reply_state> state;
};

reply::reply(std::shared_ptr<reply_state> state) : token_(std::make_shared<token>(std::move(state))) {}

void reply::send(response res) const { token_->complete(std::move(res)); }

// Shared by event_stream copies and the connection coroutine writing them.
struct event_stream_state {
    explicit event_stream_state(const asio::any_io_executor& executor) : timer(executor) {}
    std::mutex mutex;
    std::deque<std::string> queued;  // formatted events; guarded by mutex
    bool closed = false;             // client gone, server stopped or close(); guarded
    bool ending = false;             // close() asked: write what is queued, then end
    bool wake_posted = false;        // a timer cancel is on its way; guarded
    asio::steady_timer timer;        // touched on the io thread only
    char probe = 0;                  // target of the read that notices a closed socket

    void wake(const std::shared_ptr<event_stream_state>& self) {
        // Called with mutex held.
        if (wake_posted) return;
        wake_posted = true;
        asio::post(timer.get_executor(), [self] {
            {
                std::lock_guard lock(self->mutex);
                self->wake_posted = false;
            }
            self->timer.cancel();
        });
    }
};

bool event_stream::send(std::string_view event, std::string_view data) const {
    std::string text;
    if (!event.empty()) text += fmt::format("event: {}\n", event);
    size_t start = 0;
    for (;;) {
        size_t end = data.find('\n', start);
        text += fmt::format("data: {}\n", data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    text += '\n';
    std::lock_guard lock(state_->mutex);
    if (state_->closed || state_->ending) return false;
    if (state_->queued.size() >= k_max_queued) {
        state_->closed = true;
        state_->queued.clear();
    } else {
        state_->queued.push_back(std::move(text));
    }
    state_->wake(state_);
    return !state_->closed;
}

bool event_stream::open() const {
    std::lock_guard lock(state_->mutex);
    return !state_->closed && !state_->ending;
}

void event_stream::close() const {
    std::lock_guard lock(state_->mutex);
    state_->ending = true;
    state_->wake(state_);
}

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
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 504: return "Gateway Timeout";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

std::string query_decode(std::string_view text) {
    std::string spaced(text);
    std::replace(spaced.begin(), spaced.end(), '+', ' ');
    return percent_decode(spaced);
}

std::string percent_encode(std::string_view text) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (unsigned char ch : text) {
        if (std::isalnum(ch) != 0 || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out.push_back(static_cast<char>(ch));
        } else {
            out += {'%', k_hex[ch >> 4], k_hex[ch & 15]};
        }
    }
    return out;
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
        out.push_back(c);
    }
    return out;
}

void set_allowed_origins(std::vector<std::string> origins) { allowed_origin_list() = std::move(origins); }

const std::vector<std::string>& allowed_origins() { return allowed_origin_list(); }

status check_json(std::string_view body, size_t max_depth) {
    depth_checker checker(max_depth);
    bool ok = nlohmann::json::sax_parse(body.begin(), body.end(), &checker, nlohmann::json::input_format_t::json, true, false);
    if (ok) return {};
    return make_error(errc::invalid_argument, "{}",
                      checker.error_text().empty() ? std::string("the request body is not valid JSON") : checker.error_text());
}

void server::accept_content_type(std::string media_type) { content_types_.push_back(lower(media_type)); }

void server::add_host_name(std::string host) { host_names_.push_back(split_host_port(host).first); }

bool server::trusted_host(std::string_view host_text, bool any_ip_literal) const {
    std::string host = std::string(host_text);
    if (host.empty()) return false;
    if (host == bound_host_) return true;
    bool bound_everywhere = bound_host_ == "0.0.0.0" || bound_host_ == "::" || bound_host_.empty();
    if (is_loopback(host) && (is_loopback(bound_host_) || bound_everywhere)) return true;
    // DNS rebinding needs a name the attacker controls: IP literals are not.
    if (any_ip_literal && bound_everywhere && is_ip_literal(host)) return true;
    if (std::find(host_names_.begin(), host_names_.end(), host) != host_names_.end()) return true;
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0 && lower(name) == host) return true;
    for (const auto& origin : allowed_origin_list()) {
        if (auto parts = parse_origin(origin); parts && parts->host == host) return true;
    }
    return false;
}

std::optional<response> server::refuse(const request& req) const {
    auto problem = [](int status, std::string message) {
        // Both error shapes the APIs use: Confluent's (error_code, message) and
        // RFC 7807's (status, title, detail).
        nlohmann::json body = {{"error_code", status}, {"message", message}, {"status", status},
                               {"title", reason_phrase(status)}, {"detail", message}};
        return response{status, "application/json", body.dump() + "\n"};
    };
    if (!req.body.empty()) {
        std::string type = lower(trim(req.header("content-type").substr(0, req.header("content-type").find(';'))));
        if (std::find(content_types_.begin(), content_types_.end(), type) == content_types_.end()) {
            std::string accepted;
            for (const auto& t : content_types_) accepted += (accepted.empty() ? "" : ", ") + t;
            return problem(415, fmt::format("request bodies must be JSON with Content-Type {}, not '{}'", accepted,
                                            type.empty() ? std::string("(none)") : type));
        }
        if (auto st = check_json(req.body); !st) return problem(400, st.err().message());
    }
    const std::string& m = req.method;
    if (m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE") return std::nullopt;
    std::string host_header = req.header("host");
    auto [host, host_port] = split_host_port(trim(host_header));
    if (!host_header.empty() && !trusted_host(host, true)) {
        return problem(403, fmt::format("{} refused: Host '{}' is not an address of this server (set http.allowed_origins "
                                        "to allow it)", m, host_header));
    }
    std::string origin_header = req.header("origin");
    std::string origin(trim(origin_header));
    if (origin.empty()) return std::nullopt;
    for (const auto& allowed : allowed_origin_list()) {
        if (lower(allowed) == lower(origin)) return std::nullopt;
    }
    auto parts = parse_origin(origin);
    std::string own_port = !host_port.empty() ? host_port : std::to_string(tcp_.local().port);
    // An IP literal is a trusted Host (no rebinding through it) but not a
    // trusted Origin: any page on any address would pass. An Origin is ours
    // when it is the very host the request was sent to, or one of our names.
    bool own_origin_host = parts && ((!host.empty() && parts->host == host) || trusted_host(parts->host, false));
    if (parts && (parts->scheme == "http" || parts->scheme == "https") && own_origin_host &&
        (parts->port == own_port || parts->port == std::to_string(tcp_.local().port))) {
        return std::nullopt;
    }
    return problem(403, fmt::format("{} refused: Origin '{}' is not this server (a cross-site request; set "
                                    "http.allowed_origins to allow it)", m, origin));
}

server::server(asio::io_context& io, std::string name, size_t max_body_bytes)
    : name_(name),
      max_body_bytes_(max_body_bytes),
      tcp_(io, std::move(name), [this](net::stream& socket) { return serve(socket); }) {}

namespace {

// The segments of a path ("/a/b/" → "a", "b", ""), still percent-encoded.
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    for (;;) {
        size_t slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) return out;
        path.remove_prefix(slash + 1);
    }
}

bool is_parameter(std::string_view segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void server::add(std::string method, std::string path, route_entry entry) {
    if (path.find('{') != std::string::npos) {
        for (auto segment : split_path(path)) entry.segments.emplace_back(segment);
    }
    routes_[{std::move(method), std::move(path)}] = std::move(entry);
}

void server::route(std::string method, std::string path, handler h) {
    add(std::move(method), std::move(path), route_entry{std::move(h), {}, {}, {}});
}

void server::route_async(std::string method, std::string path, async_handler h) {
    add(std::move(method), std::move(path), route_entry{{}, std::move(h), {}, {}});
}

void server::route_events(std::string path, stream_handler h) {
    add("GET", std::move(path), route_entry{{}, {}, std::move(h), {}});
}

result<net::endpoint> server::start(const std::string& host, uint16_t port, const std::string& port_key) {
    bound_host_ = split_host_port(host).first;
    if (bound_host_.size() > 2 && bound_host_.front() == '[') bound_host_ = bound_host_.substr(1, bound_host_.size() - 2);
    return tcp_.start(host, port, port_key);
}

const server::route_entry* server::find(request& req, response& miss) const {
    std::string method = req.method == "HEAD" ? "GET" : req.method;
    auto it = routes_.find({method, req.path});
    if (it != routes_.end() && it->second.segments.empty()) return &it->second;
    bool path_known = false;
    // Templates, matched on the raw segments so that an encoded '/' stays inside its parameter.
    auto raw = split_path(std::string_view(req.target).substr(0, req.target.find('?')));
    const route_entry* best = nullptr;
    size_t best_literals = 0;  // how many segments before the first parameter
    for (const auto& [key, entry] : routes_) {
        if (entry.segments.size() != raw.size()) continue;
        size_t literals = entry.segments.size();
        bool matches = true;
        for (size_t idx = 0; idx < raw.size() && matches; ++idx) {
            if (is_parameter(entry.segments[idx])) {
                matches = !raw[idx].empty();
                literals = std::min(literals, idx);
            } else {
                matches = percent_decode(raw[idx]) == entry.segments[idx];
            }
        }
        if (!matches) continue;
        path_known = true;
        if (key.first == method && (best == nullptr || literals > best_literals)) {
            best = &entry;
            best_literals = literals;
        }
    }
    if (best != nullptr) {
        for (size_t idx = 0; idx < raw.size(); ++idx) {
            const auto& segment = best->segments[idx];
            if (is_parameter(segment)) req.path_params.emplace_back(segment.substr(1, segment.size() - 2), percent_decode(raw[idx]));
        }
        return best;
    }
    // Longest prefix route ending in '/'.
    size_t best_length = 0;
    for (const auto& [key, entry] : routes_) {
        if (!entry.segments.empty()) continue;
        const auto& route_path = key.second;
        bool matches = route_path == req.path ||
                       (!route_path.empty() && route_path.back() == '/' && req.path.rfind(route_path, 0) == 0);
        if (!matches) continue;
        // A catch-all "/" (a web UI's) does not make every path one that other methods would serve.
        if (route_path != "/" || req.path == "/") path_known = true;
        if (key.first == method && route_path.size() >= best_length) {
            best = &entry;
            best_length = route_path.size();
        }
    }
    if (best == nullptr) {
        int status = path_known ? 405 : 404;
        if (on_miss_) {
            miss = on_miss_(req, status);
        } else {
            miss = response::text(status, path_known ? "method not allowed\n" : "not found\n");
        }
    }
    return best;
}

asio::awaitable<response> server::run_async(net::stream& socket, const async_handler& h, const request& req) {
    auto state = std::make_shared<reply_state>(socket.get_executor());
    h(req, reply(state));
    for (;;) {
        {
            std::lock_guard lock(state->mutex);
            if (state->result) co_return std::move(*state->result);
        }
        // A completion posts a cancel after setting the result, so a wait
        // started here always ends once the result is there.
        std::error_code ec;
        co_await state->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> server::run_events(net::stream& socket, const stream_handler& h, const request& req) {
    auto state = std::make_shared<event_stream_state>(socket.get_executor());
    // The handler runs first, so a client that sees the stream open can rely on it.
    h(req, event_stream(state));
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                       "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n: stream open\n\n";
    if (std::error_code ec; co_await asio::async_write(socket, asio::buffer(head), asio::redirect_error(asio::use_awaitable, ec)), ec) {
        std::lock_guard lock(state->mutex);
        state->closed = true;
        co_return;
    }
    // The client sends nothing more; a finished read means it closed the
    // connection or the server stopped (which closes every socket).
    socket.async_read_some(asio::buffer(&state->probe, 1), [state](std::error_code, size_t) {
        {
            std::lock_guard lock(state->mutex);
            state->closed = true;
        }
        state->timer.cancel();
    });
    for (;;) {
        std::string out;
        bool ending = false;
        {
            std::lock_guard lock(state->mutex);
            if (state->closed) break;
            for (auto& text : state->queued) out += text;
            state->queued.clear();
            ending = state->ending;
        }
        if (!out.empty()) {
            std::error_code ec;
            co_await asio::async_write(socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
            continue;  // more may have arrived while writing
        }
        if (ending) break;
        state->timer.expires_after(heartbeat_);
        std::error_code ec;
        co_await state->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) {  // the heartbeat: a comment line, which also finds dead peers
            std::error_code write_ec;
            static const std::string k_heartbeat = ": keep-alive\n\n";
            co_await asio::async_write(socket, asio::buffer(k_heartbeat), asio::redirect_error(asio::use_awaitable, write_ec));
            if (write_ec) break;
        }
    }
    std::lock_guard lock(state->mutex);
    state->closed = true;
    state->queued.clear();
}

asio::awaitable<void> server::serve(net::stream& socket) {
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
            try {
                response miss;
                const route_entry* entry = nullptr;
                if (auto refused = refuse(req)) {
                    miss = std::move(*refused);
                } else if (auto denied = authenticate(req)) {
                    miss = std::move(*denied);
                } else if (auto answered = auth_route(req)) {
                    miss = std::move(*answered);
                } else {
                    entry = find(req, miss);
                }
                if (entry == nullptr) {
                    res = std::move(miss);
                } else if (entry->events) {
                    co_await run_events(socket, entry->events, req);
                    co_return;  // an event stream ends its connection
                } else if (entry->deferred) {
                    res = co_await run_async(socket, entry->deferred, req);
                } else {
                    res = entry->sync(req);
                }
            } catch (const std::exception& e) {
                res = response::text(500, fmt::format("internal error: {}\n", e.what()));
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
