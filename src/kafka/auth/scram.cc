#include "auth/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <vector>

namespace millrace::kafka::auth {
namespace {

const EVP_MD* digest(scram_mechanism m) { return m == scram_mechanism::sha_512 ? EVP_sha512() : EVP_sha256(); }

std::string hmac(scram_mechanism m, std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(digest(m), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string hash(scram_mechanism m, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), out, &len, digest(m), nullptr);
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string xor_bytes(std::string_view a, std::string_view b) {
    std::string out(a);
    for (size_t idx = 0; idx < out.size() && idx < b.size(); ++idx) out[idx] = static_cast<char>(out[idx] ^ b[idx]);
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Splits "k=v,k=v" into attributes; values may contain '=' but not ','.
std::vector<std::pair<char, std::string_view>> attributes(std::string_view text) {
    std::vector<std::pair<char, std::string_view>> out;
    while (!text.empty()) {
        size_t comma = text.find(',');
        std::string_view part = text.substr(0, comma);
        if (part.size() >= 2 && part[1] == '=') out.emplace_back(part[0], part.substr(2));
        else out.emplace_back('\0', part);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

// RFC 5802 saslname: "=2C" is ',' and "=3D" is '='; any other '=' is invalid.
std::optional<std::string> decode_saslname(std::string_view name) {
    std::string out;
    for (size_t idx = 0; idx < name.size(); ++idx) {
        if (name[idx] != '=') {
            out += name[idx];
            continue;
        }
        auto code = name.substr(idx + 1, 2);
        if (code == "2C") out += ',';
        else if (code == "3D") out += '=';
        else return std::nullopt;
        idx += 2;
    }
    return out;
}

std::string printable_nonce() {
    // 32 random bytes as base64 without '=' and ','; printable as RFC 5802 asks.
    std::string nonce = base64_encode(random_bytes(24));
    for (auto& ch : nonce) {
        if (ch == ',') ch = '-';
    }
    return nonce;
}

}  // namespace

std::string_view mechanism_name(scram_mechanism m) {
    switch (m) {
        case scram_mechanism::sha_256: return "SCRAM-SHA-256";
        case scram_mechanism::sha_512: return "SCRAM-SHA-512";
        case scram_mechanism::unknown: break;
    }
    return "UNKNOWN";
}

std::optional<scram_mechanism> mechanism_from_name(std::string_view name) {
    if (name == "SCRAM-SHA-256") return scram_mechanism::sha_256;
    if (name == "SCRAM-SHA-512") return scram_mechanism::sha_512;
    return std::nullopt;
}

std::string salted_password(scram_mechanism m, std::string_view password, std::string_view salt, int32_t iterations) {
    std::string out(static_cast<size_t>(EVP_MD_get_size(digest(m))), '\0');
    PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                      reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                      digest(m), static_cast<int>(out.size()), reinterpret_cast<unsigned char*>(out.data()));
    return out;
}

scram_credential credential_from_salted(scram_mechanism m, std::string salt, std::string_view salted, int32_t iterations) {
    scram_credential c;
    c.salt = std::move(salt);
    c.stored_key = hash(m, hmac(m, salted, "Client Key"));
    c.server_key = hmac(m, salted, "Server Key");
    c.iterations = iterations;
    return c;
}

scram_credential make_credential(scram_mechanism m, std::string_view password, int32_t iterations) {
    std::string salt = random_bytes(32);
    std::string salted = salted_password(m, password, salt, iterations);
    return credential_from_salted(m, std::move(salt), salted, iterations);
}

std::string random_bytes(size_t n) {
    std::string out(n, '\0');
    MILLRACE_ASSERT(RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) == 1,
                    "RAND_bytes failed for {} bytes", n);
    return out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                              reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(len));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    for (char ch : text) {
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' ||
                  ch == '/' || ch == '=';
        if (!ok) return std::nullopt;
    }
    std::string out(text.size() / 4 * 3 + 1, '\0');
    int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                              reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (len < 0) return std::nullopt;
    size_t padding = 0;
    if (!text.empty() && text.back() == '=') ++padding;
    if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
    out.resize(static_cast<size_t>(len) - padding);
    return out;
}

scram_server::scram_server(scram_mechanism m, std::string server_nonce)
    : mechanism_(m), server_nonce_(server_nonce.empty() ? printable_nonce() : std::move(server_nonce)) {}

status scram_server::client_first(std::string_view message) {
    // gs2-header: "n," or "y," (no channel binding), then "[a=authzid]," .
    if (message.size() < 3 || (message[0] != 'n' && message[0] != 'y') || message[1] != ',') {
        return make_error(errc::invalid_argument, "Invalid SCRAM client first message format: no gs2 header");
    }
    size_t second_comma = message.find(',', 2);
    if (second_comma == std::string_view::npos) {
        return make_error(errc::invalid_argument, "Invalid SCRAM client first message format: no gs2 header");
    }
    std::string_view authzid = message.substr(2, second_comma - 2);
    gs2_header_ = std::string(message.substr(0, second_comma + 1));
    client_first_bare_ = std::string(message.substr(second_comma + 1));
    auto attrs = attributes(client_first_bare_);
    if (attrs.size() < 2 || attrs[0].first != 'n' || attrs[1].first != 'r' || attrs[1].second.empty()) {
        return make_error(errc::invalid_argument, "Invalid SCRAM client first message format: {}", client_first_bare_);
    }
    auto user = decode_saslname(attrs[0].second);
    if (!user || user->empty()) return make_error(errc::invalid_argument, "Invalid SCRAM user name");
    // Kafka's extensions (KIP-84) follow the nonce; tokenauth asks for
    // delegation-token authentication, which this broker does not offer.
    for (size_t idx = 2; idx < attrs.size(); ++idx) {
        if (attrs[idx].second.starts_with("tokenauth=") || attrs[idx].second == "tokenauth") {
            return make_error(errc::unsupported, "Authentication failed: delegation tokens are not supported");
        }
    }
    if (!authzid.empty()) {
        auto requested = authzid.starts_with("a=") ? decode_saslname(authzid.substr(2)) : std::nullopt;
        if (!requested || *requested != *user) {
            return make_error(errc::invalid_argument,
                              "Authentication failed: Client requested an authorization id that is different from username");
        }
    }
    user_ = std::move(*user);
    client_nonce_ = std::string(attrs[1].second);
    nonce_ = client_nonce_ + server_nonce_;
    first_done_ = true;
    return {};
}

result<std::string> scram_server::server_first(std::optional<scram_credential> credential) {
    if (!first_done_) return make_error(errc::invalid_argument, "SCRAM server-first before client-first");
    if (!credential) return make_error(errc::not_found, "Authentication failed: Invalid user credentials");
    credential_ = std::move(credential);
    server_first_ = "r=" + nonce_ + ",s=" + base64_encode(credential_->salt) + ",i=" + std::to_string(credential_->iterations);
    return server_first_;
}

result<std::string> scram_server::client_final(std::string_view message) {
    if (!credential_) return make_error(errc::invalid_argument, "SCRAM client-final before server-first");
    size_t proof_at = message.rfind(",p=");
    if (proof_at == std::string_view::npos) {
        return make_error(errc::invalid_argument, "Invalid SCRAM client final message format: no proof");
    }
    std::string_view without_proof = message.substr(0, proof_at);
    auto attrs = attributes(without_proof);
    if (attrs.size() < 2 || attrs[0].first != 'c' || attrs[1].first != 'r') {
        return make_error(errc::invalid_argument, "Invalid SCRAM client final message format");
    }
    auto binding = base64_decode(attrs[0].second);
    if (!binding || *binding != gs2_header_) {
        return make_error(errc::invalid_argument, "Authentication failed: Invalid channel binding");
    }
    // librdkafka before 2.6.1 sends its own nonce twice (client + client +
    // server); Kafka 3.8.1-3.9 accepted that form, and so do we: the proof
    // covers the message as sent, and the server's part must be there.
    if (attrs[1].second != nonce_ && attrs[1].second != client_nonce_ + nonce_) {
        return make_error(errc::invalid_argument, "Invalid client nonce in the final client message.");
    }
    repeated_client_nonce_ = attrs[1].second != nonce_;
    auto proof = base64_decode(message.substr(proof_at + 3));
    if (!proof) return make_error(errc::invalid_argument, "Invalid SCRAM client proof encoding");
    std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
    std::string client_signature = hmac(mechanism_, credential_->stored_key, auth_message);
    std::string client_key = xor_bytes(*proof, client_signature);
    if (proof->size() != client_signature.size() ||
        !constant_time_equal(hash(mechanism_, client_key), credential_->stored_key)) {
        return make_error(errc::invalid_argument, "Invalid client credentials");
    }
    return "v=" + base64_encode(hmac(mechanism_, credential_->server_key, auth_message));
}

}  // namespace millrace::kafka::auth
