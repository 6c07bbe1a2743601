// TLS for every listener and for millrace's own clients (`security.enabled`,
// docs/security.md): the certificate material, generated when none is
// configured, and the OpenSSL contexts built from it (through Asio's SSL).
//
// Rationale: `millrace up --secure` must work on a laptop with no PKI, so a
// private CA and a server certificate for every name the listeners are
// reached by are generated once into <data_dir>/tls/ and reused; clients are
// given ca.pem. An operator with their own PKI sets the three paths instead.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <asio/ssl/context.hpp>

#include "millrace/common/result.h"

namespace millrace::tls {

// What the security.* keys say about certificates.
struct settings {
    std::string cert_path;  // security.tls_cert: server certificate chain (PEM); "" = generate
    std::string key_path;   // security.tls_key: its private key (PEM); "" = generate
    std::string ca_path;    // security.tls_ca: CA clients verify against; "" = the generated one
    std::string dir;        // where generated files go: <data_dir>/tls
    // Names and addresses the server certificate must cover beside localhost,
    // 127.0.0.1, ::1 and the machine's host name (the listeners' hosts).
    std::vector<std::string> hosts;
};

// The files in use.
struct material {
    std::string ca_path;
    std::string cert_path;
    std::string key_path;
    // What this call did: "generated", "reused", "renewed" (server
    // certificate re-issued) or "configured" (paths from the settings).
    std::string action;
};

// File names inside settings::dir.
inline constexpr const char* k_ca_file = "ca.pem";
inline constexpr const char* k_ca_key_file = "ca.key";
inline constexpr const char* k_cert_file = "server.pem";
inline constexpr const char* k_key_file = "server.key";

// Validity of generated certificates; a server certificate expiring within
// k_renew_before is re-issued at start.
inline constexpr auto k_ca_validity = std::chrono::hours(24 * 3650);
inline constexpr auto k_server_validity = std::chrono::hours(24 * 825);
inline constexpr auto k_renew_before = std::chrono::hours(24 * 7);

// The SAN entries a generated server certificate carries for `s`: the fixed
// local names, this machine's host name and every listener host (wildcard
// binds 0.0.0.0 / :: and empty hosts skipped), deduplicated, in order.
std::vector<std::string> wanted_names(const settings& s);

// The material to serve with. With cert and key configured, checks that the
// files exist and returns them. Otherwise ensures <dir>/ca.pem, ca.key,
// server.pem and server.key: reused when present, valid for another
// k_renew_before, signed by ca.pem and covering wanted_names(); else the
// server certificate is re-issued (and the CA too when it is missing or
// expiring). Key files are written 0600 atomically (temp + rename, never
// following a symlink). Errors name the file and the OpenSSL or OS reason.
// Not thread-safe; call once at start-up.
result<material> ensure_material(const settings& s);

// The subjectAltName entries of the certificate in `pem_path`, "DNS:x" /
// "IP:1.2.3.4" form (for checks and tests).
result<std::vector<std::string>> certificate_names(const std::string& pem_path);

// A server context: TLS 1.2 or later, forward-secret AEAD ciphers only,
// serving the material's certificate and key.
result<std::shared_ptr<asio::ssl::context>> make_server_context(const material& m);

// A client context that verifies the peer against `ca_path` (the system's
// roots when empty). Callers set the host name to verify on each stream.
result<std::shared_ptr<asio::ssl::context>> make_client_context(const std::string& ca_path);

// The context every net::tcp_server started afterwards serves TLS with;
// nullptr (the default) serves plain TCP. Set once at start-up, before any
// listener starts (app/host.cc does it when security.enabled is true).
void set_listener_context(std::shared_ptr<asio::ssl::context> context);
std::shared_ptr<asio::ssl::context> listener_context();

// The CA millrace's own clients (CDC, processor, console, registry, the CQL
// client) verify millrace's listeners with when security.enabled; "" when
// TLS is off. Set once at start-up next to set_listener_context.
void set_client_ca(std::string path);
const std::string& client_ca();

}  // namespace millrace::tls
