#include "millrace/common/tls.h"

#include "millrace/common/file_system.h"
#include "millrace/common/private_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/ip/address.hpp>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace millrace::tls {
namespace {

// Owning handles for the OpenSSL objects used here.
struct bio_free {
    void operator()(BIO* p) const { BIO_free_all(p); }
};
struct pkey_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free {
    void operator()(X509* p) const { X509_free(p); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

// The OpenSSL error queue as one line (and emptied).
std::string openssl_reason() {
    std::string out;
    while (unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof(buf));
        out += (out.empty() ? "" : "; ") + std::string(buf);
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

std::string join(const std::string& dir, const char* name) { return dir + "/" + name; }

std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) != 0) return {};
    return name;
}

// "IP:..." for an address literal, "DNS:..." for a name.
std::string san_entry(const std::string& host) {
    std::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (!ec) return "IP:" + address.to_string();
    return "DNS:" + host;
}

result<x509_ptr> load_certificate(const std::string& path) {
    auto text = read_private_file(path);
    if (!text) return text.err();
    bio_ptr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
    x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return make_error(errc::corruption, "{} holds no PEM certificate: {}", path, openssl_reason());
    return cert;
}

result<pkey_ptr> load_key(const std::string& path) {
    auto text = read_private_file(path);
    if (!text) return text.err();
    bio_ptr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
    pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) return make_error(errc::corruption, "{} holds no PEM private key: {}", path, openssl_reason());
    return key;
}

status write_pem_key(const std::string& path, EVP_PKEY* key) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return make_error(errc::io_error, "cannot encode the key for {}: {}", path, openssl_reason());
    }
    char* data = nullptr;
    long size = BIO_get_mem_data(bio.get(), &data);
    std::string text(data, static_cast<size_t>(size));
    auto st = write_private_file(path, text);
    OPENSSL_cleanse(text.data(), text.size());
    return st;
}

status write_pem_certificate(const std::string& path, X509* cert) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (PEM_write_bio_X509(bio.get(), cert) != 1) {
        return make_error(errc::io_error, "cannot encode the certificate for {}: {}", path, openssl_reason());
    }
    char* data = nullptr;
    long size = BIO_get_mem_data(bio.get(), &data);
    return write_private_file(path, std::string(data, static_cast<size_t>(size)));
}

result<pkey_ptr> generate_key() {
    // ECDSA P-256: accepted by every client we test (librdkafka, Java,
    // Python's ssl, Node, curl) and quick to generate.
    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key) return make_error(errc::io_error, "cannot generate an EC P-256 key: {}", openssl_reason());
    return key;
}

status add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
    if (ext == nullptr) return make_error(errc::invalid_argument, "bad certificate extension {} = '{}': {}", OBJ_nid2sn(nid), value, openssl_reason());
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    if (ok != 1) return make_error(errc::io_error, "cannot add extension {}: {}", OBJ_nid2sn(nid), openssl_reason());
    return {};
}

// A certificate for `key` named `common_name`, signed by `issuer_key` (with
// `issuer` as the issuer; nullptr: self-signed). `extensions` are (nid, value).
result<x509_ptr> issue(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
                       std::chrono::seconds validity, const std::vector<std::pair<int, std::string>>& extensions) {
    x509_ptr cert(X509_new());
    if (!cert) return make_error(errc::io_error, "X509_new: {}", openssl_reason());
    X509_set_version(cert.get(), 2);  // v3
    std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
    if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
        return make_error(errc::io_error, "cannot draw a certificate serial: {}", openssl_reason());
    }
    // Valid from an hour ago: a client whose clock is a little behind accepts it.
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validity.count()));
    X509_set_pubkey(cert.get(), key);
    X509_NAME* subject = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("millrace"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                               -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : subject);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : extensions) {
        if (auto st = add_extension(cert.get(), &ctx, nid, value); !st) return st.err();
    }
    if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return make_error(errc::io_error, "cannot sign the certificate: {}", openssl_reason());
    return cert;
}

// Whether `cert` is still valid `margin` from now.
bool valid_for(X509* cert, std::chrono::seconds margin) {
    time_t when = std::time(nullptr) + static_cast<time_t>(margin.count());
    return X509_cmp_time(X509_get0_notAfter(cert), &when) > 0;
}

std::vector<std::string> names_of(X509* cert) {
    std::vector<std::string> out;
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (names == nullptr) return out;
    for (int idx = 0; idx < sk_GENERAL_NAME_num(names); ++idx) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, idx);
        if (name->type == GEN_DNS) {
            const ASN1_IA5STRING* dns = name->d.dNSName;
            out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                               static_cast<size_t>(ASN1_STRING_length(dns))));
        } else if (name->type == GEN_IPADD) {
            const ASN1_OCTET_STRING* ip = name->d.iPAddress;
            const unsigned char* bytes = ASN1_STRING_get0_data(ip);
            if (ASN1_STRING_length(ip) == 4) {
                asio::ip::address_v4::bytes_type b;
                std::copy(bytes, bytes + 4, b.begin());
                out.push_back("IP:" + asio::ip::address_v4(b).to_string());
            } else if (ASN1_STRING_length(ip) == 16) {
                asio::ip::address_v6::bytes_type b;
                std::copy(bytes, bytes + 16, b.begin());
                out.push_back("IP:" + asio::ip::address_v6(b).to_string());
            }
        }
    }
    GENERAL_NAMES_free(names);
    return out;
}

std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
    return out;
}

std::shared_ptr<asio::ssl::context>& listener_slot() {
    static std::shared_ptr<asio::ssl::context> context;
    return context;
}

}  // namespace

std::vector<std::string> wanted_names(const settings& s) {
    std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
    if (auto name = host_name(); !name.empty()) hosts.push_back(name);
    hosts.insert(hosts.end(), s.hosts.begin(), s.hosts.end());
    std::vector<std::string> out;
    for (auto host : hosts) {
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (host.empty() || host == "0.0.0.0" || host == "::") continue;  // wildcard binds: no name of their own
        std::string entry = san_entry(host);
        if (std::find(out.begin(), out.end(), entry) == out.end()) out.push_back(entry);
    }
    return out;
}

result<std::vector<std::string>> certificate_names(const std::string& pem_path) {
    auto cert = load_certificate(pem_path);
    if (!cert) return cert.err();
    return names_of(cert->get());
}

result<material> ensure_material(const settings& s) {
    if (!s.cert_path.empty() || !s.key_path.empty()) {
        if (s.cert_path.empty() || s.key_path.empty()) {
            return make_error(errc::invalid_argument,
                              "security.tls_cert and security.tls_key must be set together (cert '{}', key '{}')", s.cert_path,
                              s.key_path);
        }
        for (const auto& path : {s.cert_path, s.key_path}) {
            if (::access(path.c_str(), R_OK) != 0) return make_error(errc::not_found, "cannot read {}: {}", path, std::strerror(errno));
        }
        if (!s.ca_path.empty() && ::access(s.ca_path.c_str(), R_OK) != 0) {
            return make_error(errc::not_found, "cannot read security.tls_ca {}: {}", s.ca_path, std::strerror(errno));
        }
        return material{s.ca_path, s.cert_path, s.key_path, "configured"};
    }
    if (s.dir.empty()) return make_error(errc::invalid_argument, "no directory for generated TLS files");
    if (::mkdir(s.dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return make_error(errc::io_error, "cannot create {}: {}", s.dir, std::strerror(errno));
    }
    struct stat st {};
    if (::lstat(s.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return make_error(errc::invalid_argument, "{} is not a directory (a symlink is refused)", s.dir);
    }
    material m{s.ca_path.empty() ? join(s.dir, k_ca_file) : s.ca_path, join(s.dir, k_cert_file), join(s.dir, k_key_file), "reused"};
    const std::string ca_pem = join(s.dir, k_ca_file);
    const std::string ca_key_path = join(s.dir, k_ca_key_file);
    const auto wanted = wanted_names(s);

    // The CA: reused while its files load, match and stay valid long enough to
    // sign a server certificate.
    auto ca = load_certificate(ca_pem);
    auto ca_key = load_key(ca_key_path);
    bool ca_ok = ca && ca_key && X509_check_private_key(ca->get(), ca_key->get()) == 1 && valid_for(ca->get(), k_renew_before);
    ERR_clear_error();
    if (!ca_ok) {
        auto key = generate_key();
        if (!key) return key.err();
        auto cert = issue(key->get(), "millrace local CA", nullptr, key->get(), k_ca_validity,
                          {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                           {NID_key_usage, "critical,keyCertSign,cRLSign"},
                           {NID_subject_key_identifier, "hash"},
                           {NID_authority_key_identifier, "keyid:always"}});
        if (!cert) return cert.err();
        // Key before certificate: a crash between them leaves a pair that
        // does not match, which the next start regenerates.
        if (auto st = write_pem_key(ca_key_path, key->get()); !st) return st.err();
        if (auto st = write_pem_certificate(ca_pem, cert->get()); !st) return st.err();
        ca = std::move(cert);
        ca_key = std::move(key);
        m.action = "generated";
    }

    auto server = load_certificate(m.cert_path);
    auto server_key = load_key(m.key_path);
    bool server_ok = ca_ok && server && server_key && X509_check_private_key(server->get(), server_key->get()) == 1 &&
                     X509_verify(server->get(), X509_get0_pubkey(ca->get())) == 1 && valid_for(server->get(), k_renew_before);
    if (server_ok) {
        auto have = names_of(server->get());
        for (const auto& name : wanted) {
            if (std::find(have.begin(), have.end(), name) == have.end()) server_ok = false;
        }
    }
    ERR_clear_error();
    if (!server_ok) {
        auto key = generate_key();
        if (!key) return key.err();
        std::string common_name = wanted.size() > 3 ? wanted[3].substr(wanted[3].find(':') + 1) : "localhost";
        auto cert = issue(key->get(), common_name, ca->get(), ca_key->get(), k_server_validity,
                          {{NID_basic_constraints, "critical,CA:FALSE"},
                           {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                           {NID_ext_key_usage, "serverAuth,clientAuth"},
                           {NID_subject_key_identifier, "hash"},
                           {NID_authority_key_identifier, "keyid:always"},
                           {NID_subject_alt_name, join_names(wanted)}});
        if (!cert) return cert.err();
        if (auto st = write_pem_key(m.key_path, key->get()); !st) return st.err();
        if (auto st = write_pem_certificate(m.cert_path, cert->get()); !st) return st.err();
        if (m.action == "reused") m.action = "renewed";
    }
    return m;
}

result<std::shared_ptr<asio::ssl::context>> make_server_context(const material& m) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // TLS 1.2: ECDHE key exchange with AEAD ciphers only (TLS 1.3's suites
    // are all of that kind already).
    if (SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
        return make_error(errc::io_error, "cannot set the TLS cipher list: {}", openssl_reason());
    }
    std::error_code ec;
    // Asio moves OpenSSL's reason into `ec`.
    ctx->use_certificate_chain_file(m.cert_path, ec);
    if (ec) return make_error(errc::invalid_argument, "cannot load the TLS certificate {}: {}", m.cert_path, ec.message());
    ctx->use_private_key_file(m.key_path, asio::ssl::context::pem, ec);
    if (ec) {
        return make_error(errc::invalid_argument, "cannot load the TLS key {} for the certificate {}: {}", m.key_path, m.cert_path,
                          ec.message());
    }
    if (SSL_CTX_check_private_key(native) != 1) {
        return make_error(errc::invalid_argument, "the TLS key {} does not match the certificate {}: {}", m.key_path, m.cert_path,
                          openssl_reason());
    }
    return ctx;
}

result<std::shared_ptr<asio::ssl::context>> make_client_context(const std::string& ca_path) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    std::error_code ec;
    if (ca_path.empty()) {
        ctx->set_default_verify_paths(ec);
    } else {
        ctx->load_verify_file(ca_path, ec);
    }
    if (ec) return make_error(errc::invalid_argument, "cannot load the TLS CA {}: {}", ca_path.empty() ? "(system roots)" : ca_path, ec.message());
    ctx->set_verify_mode(asio::ssl::verify_peer);
    return ctx;
}

void set_listener_context(std::shared_ptr<asio::ssl::context> context) { listener_slot() = std::move(context); }

std::shared_ptr<asio::ssl::context> listener_context() { return listener_slot(); }

namespace {
std::string& client_ca_slot() {
    static std::string path;
    return path;
}
}  // namespace

void set_client_ca(std::string path) { client_ca_slot() = std::move(path); }

const std::string& client_ca() { return client_ca_slot(); }

}  // namespace millrace::tls
