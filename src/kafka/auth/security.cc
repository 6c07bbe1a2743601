#include "auth/security.h"

#include <openssl/crypto.h>

namespace millrace::kafka::auth {
namespace {

// Kafka's api keys the session cares about.
constexpr int16_t k_sasl_handshake = 17;
constexpr int16_t k_api_versions = 18;
constexpr int16_t k_sasl_authenticate = 36;

// Kafka's error codes the session answers with.
constexpr int16_t k_unsupported_sasl_mechanism = 33;
constexpr int16_t k_illegal_sasl_state = 34;
constexpr int16_t k_sasl_authentication_failed = 58;

}  // namespace

const std::vector<std::string>& enabled_mechanisms() {
    static const std::vector<std::string> names = {"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"};
    return names;
}

security_manager::security_manager(file_system& fs, const std::string& dir, security_config cfg)
    : cfg_(std::move(cfg)), credentials_(fs, dir + "/scram_credentials"), acls_(fs, dir + "/acls") {}

status security_manager::open() {
    if (auto st = credentials_.load(); !st) return st;
    if (auto st = acls_.load(); !st) return st;
    if (!cfg_.admin_user.empty() && !cfg_.admin_password.empty()) {
        for (auto m : {scram_mechanism::sha_256, scram_mechanism::sha_512}) {
            credentials_.set_builtin(cfg_.admin_user, m, make_credential(m, cfg_.admin_password, cfg_.admin_iterations));
        }
    }
    return {};
}

bool security_manager::is_super_user(std::string_view principal) const {
    if (!cfg_.admin_user.empty() && principal.starts_with("User:") && principal.substr(5) == cfg_.admin_user) return true;
    for (const auto& s : cfg_.super_users) {
        if (s == principal) return true;
    }
    return false;
}

bool security_manager::authorize(std::string_view principal, std::string_view host, acl_operation op,
                                 resource_type type, std::string_view name) const {
    return is_super_user(principal) || acls_.authorize(principal, host, op, type, name);
}

bool security_manager::authorize_any(std::string_view principal, std::string_view host, acl_operation op,
                                     resource_type type) const {
    return is_super_user(principal) || acls_.authorize_any(principal, host, op, type);
}

bool security_manager::check_password(std::string_view user, std::string_view password) const {
    for (auto m : {scram_mechanism::sha_512, scram_mechanism::sha_256}) {
        auto c = credentials_.find(user, m);
        if (!c) continue;
        auto derived = credential_from_salted(m, c->salt, salted_password(m, password, c->salt, c->iterations), c->iterations);
        return derived.stored_key.size() == c->stored_key.size() &&
               CRYPTO_memcmp(derived.stored_key.data(), c->stored_key.data(), c->stored_key.size()) == 0;
    }
    return false;
}

bool sasl_session::admit(int16_t api_key, int64_t now_ms) const {
    bool sasl_api = api_key == k_sasl_handshake || api_key == k_sasl_authenticate;
    if (!authenticated()) return sasl_api || api_key == k_api_versions;
    if (expires_at_ms_ != 0 && now_ms >= expires_at_ms_) return sasl_api;
    return true;
}

sasl_session::reply sasl_session::handshake(std::string_view mechanism) {
    reply r;
    if (stage_ != stage::want_handshake) {
        r.error = k_illegal_sasl_state;
        r.close = true;
        return r;
    }
    bool known = false;
    for (const auto& m : enabled_mechanisms()) known = known || m == mechanism;
    // Re-authentication (KIP-368) must keep the mechanism.
    if (!known || (authenticated() && mechanism != auth_mechanism_)) {
        r.error = k_unsupported_sasl_mechanism;
        r.close = true;
        return r;
    }
    mechanism_ = std::string(mechanism);
    stage_ = stage::want_token;
    scram_.reset();
    return r;
}

sasl_session::reply sasl_session::fail(std::string message) {
    stage_ = stage::want_handshake;
    scram_.reset();
    reply r;
    r.error = k_sasl_authentication_failed;
    r.message = std::move(message);
    r.close = true;
    return r;
}

sasl_session::reply sasl_session::succeed(std::string user, std::string bytes, int64_t now_ms) {
    std::string principal = "User:" + user;
    if (authenticated() && principal != principal_) {
        return fail(fmt::format("Cannot change principals during re-authentication from {} to {}", principal_, principal));
    }
    principal_ = std::move(principal);
    auth_mechanism_ = mechanism_;
    stage_ = stage::want_handshake;
    scram_.reset();
    reply r;
    r.bytes = std::move(bytes);
    int64_t lifetime = manager_.config().reauth_ms;
    r.session_lifetime_ms = lifetime;
    expires_at_ms_ = lifetime > 0 ? now_ms + lifetime : 0;
    return r;
}

sasl_session::reply sasl_session::authenticate(std::string_view token, int64_t now_ms) {
    if (stage_ == stage::want_handshake) {
        reply r;
        r.error = k_illegal_sasl_state;
        r.message = "Unexpected SaslAuthenticate request before a SaslHandshake";
        r.close = true;
        return r;
    }
    if (mechanism_ == "PLAIN") {
        // message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616)
        size_t first = token.find('\0');
        size_t second = first == std::string_view::npos ? first : token.find('\0', first + 1);
        if (second == std::string_view::npos || token.find('\0', second + 1) != std::string_view::npos) {
            size_t tokens = 1;
            for (char ch : token) tokens += ch == '\0';
            return fail(fmt::format("Invalid SASL/PLAIN response: expected 3 tokens, got {}", tokens));
        }
        std::string_view authzid = token.substr(0, first);
        std::string_view user = token.substr(first + 1, second - first - 1);
        std::string_view password = token.substr(second + 1);
        if (user.empty()) return fail("Authentication failed: username not specified");
        if (password.empty()) return fail("Authentication failed: password not specified");
        if (!manager_.check_password(user, password)) return fail("Authentication failed: Invalid username or password");
        if (!authzid.empty() && authzid != user) {
            return fail("Authentication failed: Client requested an authorization id that is different from username");
        }
        return succeed(std::string(user), {}, now_ms);
    }
    auto mechanism = mechanism_from_name(mechanism_);
    std::string generic = fmt::format("Authentication failed during {} due to invalid credentials with SASL mechanism {}",
                                      authenticated() ? "re-authentication" : "authentication", mechanism_);
    if (stage_ == stage::want_token) {
        scram_.emplace(*mechanism);
        if (auto st = scram_->client_first(token); !st) return fail(generic);
        auto first = scram_->server_first(manager_.credentials().find(scram_->user(), *mechanism));
        if (!first) return fail(generic);
        stage_ = stage::scram_final;
        reply r;
        r.bytes = std::move(*first);
        return r;
    }
    auto final_message = scram_->client_final(token);
    if (!final_message) return fail(generic);
    bool repeated_nonce = scram_->repeated_client_nonce();
    auto r = succeed(scram_->user(), std::move(*final_message), now_ms);
    r.repeated_scram_nonce = repeated_nonce;
    return r;
}

}  // namespace millrace::kafka::auth
