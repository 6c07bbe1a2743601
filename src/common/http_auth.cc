// HTTP authentication for every http::server (docs/security.md): Basic
// credentials and bearer tokens, checked before routing.
#include <chrono>
#include <mutex>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "millrace/common/http.h"
#include "millrace/common/log.h"
#include "millrace/common/security.h"

namespace millrace::http {
namespace {

constexpr std::string_view k_token_prefix = "mr1.";

auth_settings& settings() {
    static auth_settings instance;
    return instance;
}

const log::logger& auth_log() {
    static const log::logger instance("http");
    return instance;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out, &length);
    return std::string(reinterpret_cast<char*>(out), length);
}

// The signing key of `user`'s tokens: from their password, so a new password
// revokes every token issued before it.
std::optional<std::string> token_key(std::string_view user) {
    for (const auto& [name, password] : settings().users) {
        if (name == user) return hmac_sha256(password, std::string("millrace bearer token key\n") + name);
    }
    return std::nullopt;
}

int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string lower_ascii(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Checks Basic credentials against every user, in time that does not depend
// on which user matched or how much of a password did.
std::optional<std::string> check_basic(std::string_view user, std::string_view password) {
    std::optional<std::string> found;
    for (const auto& [name, expected] : settings().users) {
        bool user_ok = security::constant_time_equal(name, user);
        bool password_ok = security::constant_time_equal(expected, password);
        if (user_ok && password_ok && !found) found = name;
    }
    return found;
}

struct credentials_seen {
    std::string scheme;  // "basic", "bearer", or "" when absent
    std::string user;    // as claimed (basic), for the log
    std::optional<std::string> principal;
    std::string reason;  // why it failed
};

credentials_seen examine(const request& req) {
    credentials_seen seen;
    std::string header = req.header("authorization");
    if (header.empty()) {
        seen.reason = "no Authorization header";
        return seen;
    }
    auto space = header.find(' ');
    seen.scheme = lower_ascii(header.substr(0, space));
    std::string value = space == std::string::npos ? std::string() : header.substr(space + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (seen.scheme == "basic") {
        std::string decoded;
        auto colon = std::string::npos;
        if (security::base64_decode(value, decoded)) colon = decoded.find(':');
        if (colon == std::string::npos) {
            seen.reason = "malformed Basic credentials";
            return seen;
        }
        seen.user = decoded.substr(0, colon);
        seen.principal = check_basic(seen.user, std::string_view(decoded).substr(colon + 1));
        if (!seen.principal) seen.reason = "wrong user or password";
    } else if (seen.scheme == "bearer") {
        seen.principal = verify_token(value, now_seconds());
        if (!seen.principal) seen.reason = "invalid or expired bearer token";
    } else {
        seen.reason = fmt::format("unsupported Authorization scheme '{}'", seen.scheme.substr(0, 20));
    }
    return seen;
}

response unauthorized(const std::string& message) {
    nlohmann::json body = {{"error_code", 401}, {"message", message}, {"status", 401},
                           {"title", "Unauthorized"}, {"detail", message}};
    response res{401, "application/json", body.dump() + "\n"};
    res.headers.emplace_back("WWW-Authenticate", "Basic realm=\"millrace\", charset=\"UTF-8\"");
    return res;
}

}  // namespace

void set_authentication(auth_settings s) { settings() = std::move(s); }

bool authentication_enabled() { return settings().enabled; }

std::string issue_token(const std::string& user, int64_t now_unix_seconds) {
    auto key = token_key(user);
    if (!key) return {};
    int64_t expires = now_unix_seconds + std::chrono::duration_cast<std::chrono::seconds>(settings().token_lifetime).count();
    std::string payload = nlohmann::json{{"sub", user}, {"exp", expires}}.dump();
    std::string signed_part = std::string(k_token_prefix) + security::base64_encode(payload, true);
    return signed_part + "." + security::base64_encode(hmac_sha256(*key, signed_part), true);
}

std::optional<std::string> verify_token(std::string_view token, int64_t now_unix_seconds) {
    if (token.substr(0, k_token_prefix.size()) != k_token_prefix) return std::nullopt;
    auto dot = token.rfind('.');
    if (dot <= k_token_prefix.size()) return std::nullopt;
    std::string_view signed_part = token.substr(0, dot);
    std::string payload_text, mac;
    if (!security::base64_decode(signed_part.substr(k_token_prefix.size()), payload_text) ||
        !security::base64_decode(token.substr(dot + 1), mac)) {
        return std::nullopt;
    }
    auto payload = nlohmann::json::parse(payload_text, nullptr, false);
    if (!payload.is_object() || !payload.contains("sub") || !payload["sub"].is_string() || !payload.contains("exp") ||
        !payload["exp"].is_number_integer()) {
        return std::nullopt;
    }
    std::string user = payload["sub"].get<std::string>();
    auto key = token_key(user);
    if (!key || !security::constant_time_equal(hmac_sha256(*key, signed_part), mac)) return std::nullopt;
    if (payload["exp"].get<int64_t>() <= now_unix_seconds) return std::nullopt;
    return user;
}

std::optional<response> server::authenticate(request& req) const {
    if (!settings().enabled) return std::nullopt;
    // Probes carry no credentials and learn nothing but liveness.
    if ((req.method == "GET" || req.method == "HEAD") && (req.path == "/healthz" || req.path == "/readyz")) {
        return std::nullopt;
    }
    credentials_seen seen = examine(req);
    if (seen.principal) {
        req.principal = *seen.principal;
        return std::nullopt;
    }
    if (seen.scheme.empty()) {
        // A browser's first request carries none; not worth a warning.
        auth_log().debug("{} {} {}: 401, no credentials", name_, req.method, req.path);
        return unauthorized("authentication required (HTTP Basic, or a bearer token from POST /api/v1/auth/token)");
    }
    // Never the password, nor the token.
    auth_log().warn("{} {} {}: authentication failed{}: {}", name_, req.method, req.path,
                    seen.user.empty() ? std::string() : fmt::format(" for user '{}'", seen.user.substr(0, 64)), seen.reason);
    return unauthorized(fmt::format("authentication failed: {}", seen.reason));
}

std::optional<response> server::auth_route(const request& req) const {
    if (req.path == "/api/v1/auth/whoami" && (req.method == "GET" || req.method == "HEAD")) {
        std::string scheme = lower_ascii(req.header("authorization").substr(0, req.header("authorization").find(' ')));
        nlohmann::json body = {{"security_enabled", settings().enabled},
                               {"user", req.principal.empty() ? nlohmann::json() : nlohmann::json(req.principal)},
                               {"method", req.principal.empty() ? nlohmann::json() : nlohmann::json(scheme)}};
        return response::json(200, body.dump() + "\n");
    }
    if (req.path == "/api/v1/auth/token" && req.method == "POST") {
        if (!settings().enabled) {
            nlohmann::json body = {{"error_code", 404}, {"message", "authentication is off (security.enabled: false)"}};
            return response::json(404, body.dump() + "\n");
        }
        // Only a password buys a token: a token cannot renew itself forever.
        if (lower_ascii(req.header("authorization").substr(0, 6)) != "basic ") {
            return unauthorized("POST /api/v1/auth/token needs HTTP Basic credentials");
        }
        int64_t lifetime = std::chrono::duration_cast<std::chrono::seconds>(settings().token_lifetime).count();
        nlohmann::json body = {{"access_token", issue_token(req.principal, now_seconds())},
                               {"token_type", "Bearer"},
                               {"expires_in", lifetime},
                               {"user", req.principal}};
        return response::json(200, body.dump() + "\n");
    }
    return std::nullopt;
}

}  // namespace millrace::http
