#include "millrace/common/http_client.h"

#include <algorithm>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

#include "millrace/common/log.h"

namespace millrace::http {
namespace {

const log::logger k_log{"http_client"};

struct body_sink {
    std::string* body;
    size_t limit;  // 0: no limit
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* sink = static_cast<body_sink*>(user);
    size_t bytes = size * count;
    if (sink->limit == 0) {
        sink->body->append(data, bytes);
    } else if (sink->body->size() < sink->limit) {
        sink->body->append(data, std::min(bytes, sink->limit - sink->body->size()));
    }
    return bytes;  // what is over the limit is read and dropped, not an error
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The CA and the Basic credentials of millrace's own endpoints (nothing when `auth` holds none).
void apply_auth(CURL* curl, const client_auth& auth) {
    if (!auth.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, auth.ca_file.c_str());
    if (!auth.user.empty()) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, auth.user.c_str());
        curl_easy_setopt(curl, CURLOPT_PASSWORD, auth.password.c_str());
    }
}

}  // namespace

struct client::handle {
    CURL* curl = nullptr;
};

client::client() : handle_(std::make_unique<handle>()) {
    global_init();
    handle_->curl = curl_easy_init();
}

client::~client() {
    if (handle_->curl != nullptr) curl_easy_cleanup(handle_->curl);
}

result<client_response> client::perform(const client_request& request) {
    CURL* curl = handle_->curl;
    if (curl == nullptr) return make_error(errc::unavailable, "{} {}: cannot create an HTTP client", request.method, request.url);
    // A reset keeps the connection cache, so keep-alive connections are reused.
    curl_easy_reset(curl);
    client_response response;
    body_sink sink{&response.body, request.max_body_bytes};
    const long timeout_ms = static_cast<long>(request.timeout.count());
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     request.connect_timeout ? static_cast<long>(request.connect_timeout->count()) : timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    if (request.bypass_proxy) curl_easy_setopt(curl, CURLOPT_PROXY, "");
    if (request.only_http) {
        // Only HTTP(S), for the request and for any redirect it follows.
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    }
    if (request.decompress) curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    if (!request.user_agent.empty()) curl_easy_setopt(curl, CURLOPT_USERAGENT, request.user_agent.c_str());
    apply_auth(curl, request.auth);
    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) headers = curl_slist_append(headers, (name + ": " + value).c_str());
    if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (request.body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body->size()));
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body->data());
    }
    if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);

    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
        char* type = nullptr;
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
        if (type != nullptr) response.content_type = type;
    }
    curl_slist_free_all(headers);
    if (code == CURLE_OPERATION_TIMEDOUT) {
        k_log.debug("{} {}: no answer within {} ms", request.method, request.url, timeout_ms);
        return make_error(errc::timed_out, "{} {}: no answer within {} ms", request.method, request.url, timeout_ms);
    }
    if (code != CURLE_OK) {
        k_log.debug("{} {}: {}", request.method, request.url, curl_easy_strerror(code));
        return make_error(errc::unavailable, "{} {}: {}", request.method, request.url, curl_easy_strerror(code));
    }
    k_log.debug("{} {}: HTTP {}, {} bytes", request.method, request.url, response.status, response.body.size());
    return response;
}

result<client_response> perform(const client_request& request) {
    client fresh;
    return fresh.perform(request);
}

std::string url_escape(std::string_view text) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~') {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(k_hex[c >> 4]);
            out.push_back(k_hex[c & 0xf]);
        }
    }
    return out;
}

std::string describe_status(const client_request& request, const client_response& response) {
    constexpr size_t k_body_shown = 300;
    std::string body = response.body.substr(0, k_body_shown);
    return fmt::format("{} {} answered HTTP {}{}{}", request.method, request.url, response.status, body.empty() ? "" : ": ", body);
}

}  // namespace millrace::http
