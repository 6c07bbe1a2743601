// Kafka authentication and authorization when `security.enabled` is on:
// the broker-wide security_manager (credentials, ACLs, super users) and the
// per-connection sasl_session (SaslHandshake/SaslAuthenticate state, the
// authenticated principal, KIP-368 session expiry).
//
// With security off the broker creates no session and handlers see a null
// session pointer: authorization is one branch per check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/acl.h"
#include "auth/credentials.h"
#include "auth/scram.h"
#include "millrace/common/file_system.h"

namespace millrace::kafka::auth {

struct security_config {
    bool enabled = false;
    std::string admin_user = "admin";
    std::string admin_password;          // empty: the admin user cannot log in
    std::vector<std::string> super_users;  // "User:x"; the admin user is always one
    int64_t reauth_ms = 0;               // connections.max.reauth.ms; 0 = no re-authentication
    int32_t admin_iterations = k_scram_min_iterations;
};

// Mechanisms a client may ask for in SaslHandshake, in the order we list them.
const std::vector<std::string>& enabled_mechanisms();

class security_manager {
public:
    // Files live in `dir`: scram_credentials and acls.
    security_manager(file_system& fs, const std::string& dir, security_config cfg);

    // Loads credentials and ACLs and derives the admin user's credentials.
    status open();

    bool enabled() const { return cfg_.enabled; }
    const security_config& config() const { return cfg_; }
    credential_store& credentials() { return credentials_; }
    acl_store& acls() { return acls_; }

    bool is_super_user(std::string_view principal) const;
    // The ACL decision for an authenticated principal ("User:x").
    bool authorize(std::string_view principal, std::string_view host, acl_operation op, resource_type type,
                   std::string_view name) const;
    bool authorize_any(std::string_view principal, std::string_view host, acl_operation op, resource_type type) const;
    // SASL/PLAIN: the password checked against the user's SCRAM-SHA-512 (else
    // SHA-256) credential.
    bool check_password(std::string_view user, std::string_view password) const;

private:
    security_config cfg_;
    credential_store credentials_;
    acl_store acls_;
};

// One connection's SASL state. Not thread-safe (the connection's loop).
class sasl_session {
public:
    explicit sasl_session(security_manager& manager) : manager_(manager) {}

    // Whether the connection may send `key` now; false closes it (Kafka's
    // behaviour for a request before authentication or after an expired
    // session that was not re-authenticated).
    bool admit(int16_t api_key, int64_t now_ms) const;

    struct reply {
        int16_t error = 0;              // Kafka error code
        std::optional<std::string> message;
        std::string bytes;              // SaslAuthenticate auth_bytes
        int64_t session_lifetime_ms = 0;
        bool close = false;             // close the connection after the response
        bool repeated_scram_nonce = false;  // logged in with librdkafka < 2.6.1's SCRAM form
    };
    // SaslHandshake: selects the mechanism (initial or re-authentication).
    reply handshake(std::string_view mechanism);
    // SaslAuthenticate: one token of the exchange.
    reply authenticate(std::string_view token, int64_t now_ms);

    bool authenticated() const { return !principal_.empty(); }
    const std::string& principal() const { return principal_; }  // "User:alice"
    security_manager& manager() const { return manager_; }

private:
    enum class stage { want_handshake, want_token, scram_final };
    reply fail(std::string message);
    reply succeed(std::string user, std::string bytes, int64_t now_ms);
    security_manager& manager_;
    stage stage_ = stage::want_handshake;
    std::string mechanism_;       // chosen in the last handshake
    std::string auth_mechanism_;  // the mechanism of the authenticated session
    std::string principal_;
    std::optional<scram_server> scram_;
    int64_t expires_at_ms_ = 0;   // 0: never
};

}  // namespace millrace::kafka::auth
