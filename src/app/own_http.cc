#include "own_http.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include "millrace/common/http_client_auth.h"

namespace millrace::app {
namespace {

size_t append_body(char* data, size_t size, size_t count, void* target) {
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
}

}  // namespace

std::optional<std::string> own_http_get(const config::config& cfg, const std::string& host, uint16_t port,
                                        const std::string& path, std::string& why) {
    auto auth = http::own_endpoint_auth(cfg);
    std::string url = http::own_url(auth, fmt::format("{}:{}", host, port)) + path;
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        why = "cannot create an HTTP client";
        return std::nullopt;
    }
    std::string body;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30'000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    http::apply(curl, auth);
    CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (code != CURLE_OK) {
        why = fmt::format("{}:{}: {}", host, port, curl_easy_strerror(code));
        return std::nullopt;
    }
    if (status != 200) {
        why = fmt::format("{}:{} answered {}{}", host, port, status,
                          status == 401 ? " (credentials: run with the server's data_dir, whose admin-password file holds "
                                          "them, or set security.admin_password)"
                                        : "");
        return std::nullopt;
    }
    return body;
}

}  // namespace millrace::app
