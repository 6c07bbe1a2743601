// SCRAM (RFC 5802, RFC 7677) as Kafka speaks it: SCRAM-SHA-256 and
// SCRAM-SHA-512 over SaslAuthenticate, with Kafka's client-first extensions
// (KIP-84; `tokenauth` for delegation tokens, which we refuse).
//
// A credential keeps what RFC 5802 lets a server keep: salt, iterations,
// StoredKey and ServerKey; never the password or the salted password.
// Crypto is OpenSSL's (PBKDF2, HMAC, SHA-2). Everything here is pure and
// thread-safe; a scram_server is one connection's exchange.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "millrace/common/result.h"

namespace millrace::kafka::auth {

// Kafka's ScramMechanism type ids (DescribeUserScramCredentials, AlterUserScramCredentials).
enum class scram_mechanism : int8_t { unknown = 0, sha_256 = 1, sha_512 = 2 };

// Kafka's bounds on iterations (ScramMechanism: 4096 .. 16384).
constexpr int32_t k_scram_min_iterations = 4096;
constexpr int32_t k_scram_max_iterations = 16384;

std::string_view mechanism_name(scram_mechanism m);  // "SCRAM-SHA-256"
std::optional<scram_mechanism> mechanism_from_name(std::string_view name);

struct scram_credential {
    std::string salt;
    std::string stored_key;
    std::string server_key;
    int32_t iterations = 0;
};

// Hi() of RFC 5802: PBKDF2 with HMAC-SHA-256/512.
std::string salted_password(scram_mechanism m, std::string_view password, std::string_view salt, int32_t iterations);
// StoredKey and ServerKey from a salted password (what AlterUserScramCredentials sends).
scram_credential credential_from_salted(scram_mechanism m, std::string salt, std::string_view salted, int32_t iterations);
// A credential for `password` with a fresh random 32-byte salt.
scram_credential make_credential(scram_mechanism m, std::string_view password, int32_t iterations);

std::string random_bytes(size_t n);
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// The server side of one exchange: client-first -> server-first,
// client-final -> server-final. Errors are the reason a client is refused;
// the caller turns them into SASL_AUTHENTICATION_FAILED.
class scram_server {
public:
    // `server_nonce` is appended to the client's nonce; empty draws a random one.
    scram_server(scram_mechanism m, std::string server_nonce = {});

    // Step 1: parses the client-first message; then user() names the user.
    status client_first(std::string_view message);
    const std::string& user() const { return user_; }
    // Step 2: the server-first message for the user's credential (nullopt:
    // unknown user, refused like a wrong password).
    result<std::string> server_first(std::optional<scram_credential> credential);
    // Step 3: verifies the proof of the client-final message; returns the
    // server-final message.
    result<std::string> client_final(std::string_view message);
    // After client_final: whether the message repeated the client's nonce in
    // front of the combined one (librdkafka before 2.6.1; Kafka 4 refuses it).
    bool repeated_client_nonce() const { return repeated_client_nonce_; }

private:
    scram_mechanism mechanism_;
    std::string server_nonce_;
    std::string user_;
    std::string gs2_header_;
    std::string client_first_bare_;
    std::string client_nonce_;
    std::string nonce_;
    std::string server_first_;
    std::optional<scram_credential> credential_;
    bool first_done_ = false;
    bool repeated_client_nonce_ = false;
};

}  // namespace millrace::kafka::auth
