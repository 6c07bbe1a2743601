// How millrace's own HTTP clients (registry client, console, scheduler CLI and
// tasks, source fetcher, `millrace status`) reach millrace's HTTP endpoints
// when security.enabled: https, the CA of security.tls_ca (or the generated
// <data_dir>/tls/ca.pem), and the admin user's Basic credentials.
//
// A URL the user configured for an external service (processor.registry_url
// naming Confluent's registry, say) is theirs: put credentials in it
// (https://user:password@host) and millrace adds none of its own.
//
// The settings only; http_client.h's client applies them to its requests.
#pragma once

#include <string>
#include <string_view>

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

}  // namespace millrace::http
