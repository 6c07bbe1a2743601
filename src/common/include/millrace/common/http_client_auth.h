// How millrace's own HTTP clients (registry client, console, scheduler CLI and
// tasks, source fetcher, `millrace status`) reach millrace's HTTP endpoints
// when security.enabled: https, the CA of security.tls_ca (or the generated
// <data_dir>/tls/ca.pem), and the admin user's Basic credentials.
//
// A URL the user configured for an external service (processor.registry_url
// naming Confluent's registry, say) is theirs: put credentials in it
// (https://user:password@host) and millrace adds none of its own.
//
// Header-only for libcurl: src/common does not link libcurl; the modules that
// do include this header.
#pragma once

#include <string>
#include <string_view>

#include <curl/curl.h>

#include "millrace/common/config.h"
#include "millrace/common/security.h"

namespace millrace::http {

struct client_auth {
    bool tls = false;       // https to millrace's own endpoints
    std::string ca_file;    // CA to trust; "" = libcurl's default store
    std::string user;       // Basic credentials; "" = none
    std::string password;
};

// The settings for millrace's own endpoints under `cfg` (none when security is off).
inline client_auth own_endpoint_auth(const config::config& cfg) {
    client_auth auth;
    if (!security::enabled(cfg)) return auth;
    auto admin = security::admin_credentials(cfg);
    auth.tls = true;
    auth.ca_file = security::tls_ca_path(cfg);
    auth.user = admin.user;
    auth.password = admin.password;
    return auth;
}

// "http://<host_port>" or "https://<host_port>", as `auth` says.
inline std::string own_url(const client_auth& auth, std::string_view host_port) {
    return std::string(auth.tls ? "https://" : "http://") + std::string(host_port);
}

// Sets the CA and the Basic credentials on a libcurl easy handle (nothing
// when `auth` holds none). Call after CURLOPT_URL, before perform.
inline void apply(CURL* curl, const client_auth& auth) {
    if (!auth.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, auth.ca_file.c_str());
    if (!auth.user.empty()) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, auth.user.c_str());
        curl_easy_setopt(curl, CURLOPT_PASSWORD, auth.password.c_str());
    }
}

}  // namespace millrace::http
