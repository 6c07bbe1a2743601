#include "millrace/common/security.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "millrace/common/config.h"
#include "millrace/common/private_file.h"

namespace millrace::security {
namespace {

constexpr const char* k_password_file = "admin-password";

std::string string_or_empty(const config::config& cfg, std::string_view key) {
    return cfg.has(key) ? cfg.get_string(key) : std::string();
}

// The password file's content: one line, the password. read_private_file: a
// symlink planted in the data dir is refused, never followed.
result<std::string> read_password_file(const std::string& path) {
    auto read = read_private_file(path, 4096);
    if (!read) {
        if (read.err().code() == errc::not_found) return read.err();
        return make_error(errc::io_error, "the admin password file: {}", read.err().message());
    }
    std::string text = std::move(*read);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    if (text.empty()) return make_error(errc::corruption, "the admin password file {} is empty; delete it to generate a new one", path);
    return text;
}

// Writes `text` into a new file at `path` (0600), never replacing one: a temp
// file (O_EXCL|O_NOFOLLOW) fsynced, then link()ed to `path`, which fails when
// `path` exists. Returns already_exists then.
status create_private(const std::string& path, const std::string& text) {
    auto suffix = random_password(12);
    if (!suffix) return suffix.err();
    std::string tmp = path + ".tmp." + *suffix;
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(errc::io_error, "cannot create {}: {}", tmp, std::strerror(errno));
    std::string line = text + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    int saved = errno;
    ::close(fd);
    if (!ok) {
        ::unlink(tmp.c_str());
        return make_error(errc::io_error, "cannot write {}: {}", tmp, std::strerror(saved));
    }
    int linked = ::link(tmp.c_str(), path.c_str());
    saved = errno;
    ::unlink(tmp.c_str());
    if (linked != 0) {
        if (saved == EEXIST) return make_error(errc::already_exists, "{} exists", path);
        return make_error(errc::io_error, "cannot create {}: {}", path, std::strerror(saved));
    }
    // The directory entry is durable too.
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const char k_b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

// Ends of the password inside `text` starting at `from`: up to the first of `stops`.
size_t value_end(std::string_view text, size_t from, std::string_view stops) {
    size_t end = text.find_first_of(stops, from);
    return end == std::string_view::npos ? text.size() : end;
}

}  // namespace

void add_options(config::schema& s) {
    s.add({"security.admin_user", config::value_kind::string, "admin",
           "The admin user: HTTP basic auth and bearer tokens, Kafka SASL (a super user), CQL; every millrace part "
           "uses it to reach the others when security.enabled."});
    s.add({"security.admin_password", config::value_kind::string, "",
           "The admin user's password; empty: generated once into <data_dir>/admin-password (0600) and printed on "
           "the first start."});
    s.add({"security.token_lifetime", config::value_kind::duration_ms, "1h",
           "How long a bearer token from POST /api/v1/auth/token stays valid.", {}, 1000, 366LL * 86'400'000});
}

bool enabled(const config::config& cfg) { return cfg.has("security.enabled") && cfg.get_bool("security.enabled"); }

std::string admin_password_path(const config::config& cfg) {
    std::filesystem::path dir = cfg.get_string("data_dir");
    std::error_code ec;
    auto absolute = std::filesystem::absolute(dir, ec);
    return ((ec ? dir : absolute) / k_password_file).lexically_normal().string();
}

result<bool> ensure_admin_password(config::config& cfg, bool create) {
    if (!string_or_empty(cfg, "security.admin_password").empty()) return false;
    std::string path = admin_password_path(cfg);
    auto existing = read_password_file(path);
    if (!existing && existing.err().code() != errc::not_found) return existing.err();
    bool generated = false;
    if (!existing) {
        if (!create) return false;
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
        if (ec) return make_error(errc::io_error, "cannot create {} for the admin password: {}", std::filesystem::path(path).parent_path().string(), ec.message());
        auto password = random_password();
        if (!password) return password.err();
        auto st = create_private(path, *password);
        if (!st && st.err().code() != errc::already_exists) return st.err();
        generated = static_cast<bool>(st);
        // Whoever created it, the file now holds the password everyone uses.
        existing = read_password_file(path);
        if (!existing) return existing.err();
    }
    if (auto st = cfg.set("security.admin_password", *existing, "file " + path); !st) return st.err();
    return generated;
}

credentials admin_credentials(const config::config& cfg) {
    return {string_or_empty(cfg, "security.admin_user"), string_or_empty(cfg, "security.admin_password")};
}

std::string tls_ca_path(const config::config& cfg) {
    std::string configured = string_or_empty(cfg, "security.tls_ca");
    if (!configured.empty()) return configured;
    // An operator's own certificate without a CA file: the system's roots.
    if (!string_or_empty(cfg, "security.tls_cert").empty()) return {};
    return (std::filesystem::path(cfg.get_string("data_dir")) / "tls" / "ca.pem").lexically_normal().string();
}

std::vector<std::pair<std::string, std::string>> kafka_client_properties(const config::config& cfg) {
    std::vector<std::pair<std::string, std::string>> out;
    bool embedded = string_or_empty(cfg, "kafka.bootstrap").empty();
    if (embedded && enabled(cfg)) {
        auto admin = admin_credentials(cfg);
        out = {{"security.protocol", "SASL_SSL"},
               {"sasl.mechanism", "SCRAM-SHA-512"},
               {"sasl.username", admin.user},
               {"sasl.password", admin.password}};
        if (std::string ca = tls_ca_path(cfg); !ca.empty()) out.emplace_back("ssl.ca.location", ca);
    }
    if (!cfg.has("kafka.client_properties")) return out;
    for (const auto& property : cfg.get_list("kafka.client_properties")) {
        auto eq = property.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        std::string name = property.substr(0, eq);
        std::string value = property.substr(eq + 1);
        auto same = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == name; });
        if (same != out.end()) {
            same->second = value;
        } else {
            out.emplace_back(std::move(name), std::move(value));
        }
    }
    return out;
}

status validate_kafka_client_properties(const config::config& cfg) {
    if (!cfg.has("kafka.client_properties")) return {};
    for (const auto& property : cfg.get_list("kafka.client_properties")) {
        auto eq = property.find('=');
        if (eq == std::string::npos || eq == 0) {
            return make_error(errc::invalid_argument, "kafka.client_properties entry \"{}\" (from {}) is not name=value",
                              redact_secrets(property), cfg.origin("kafka.client_properties"));
        }
    }
    return {};
}

std::string redact_secrets(std::string_view text) {
    std::string out(text);
    // scheme://user:password@host
    if (auto scheme = out.find("://"); scheme != std::string::npos) {
        size_t authority = scheme + 3;
        size_t authority_end = value_end(out, authority, "/?#");
        size_t at = out.rfind('@', authority_end);
        if (at != std::string::npos && at >= authority) {
            size_t colon = out.find(':', authority);
            if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
        }
    }
    // password=... as a libpq keyword (quoted or not) or a query parameter; also
    // sasl.password= and similar names ending in "password".
    size_t from = 0;
    for (;;) {
        size_t key = out.find("password", from);
        if (key == std::string::npos) break;
        size_t eq = key + 8;
        while (eq < out.size() && out[eq] == ' ') ++eq;
        if (eq >= out.size() || out[eq] != '=') {
            from = key + 8;
            continue;
        }
        size_t start = eq + 1;
        while (start < out.size() && out[start] == ' ') ++start;
        size_t end;
        if (start < out.size() && out[start] == '\'') {
            end = start + 1;
            while (end < out.size() && out[end] != '\'') end += out[end] == '\\' ? 2 : 1;
            end = std::min(out.size(), end + 1);
        } else {
            end = value_end(out, start, " &;#,]");
        }
        out.replace(start, end - start, "***");
        from = start + 3;
    }
    return out;
}

std::string printable_property(std::string_view name, std::string_view value) {
    bool secret = name.find("password") != std::string_view::npos || name.find("secret") != std::string_view::npos;
    return secret ? std::string("***") : std::string(value);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Every byte of the longer one is looked at; the lengths alone may leak.
    size_t length = std::max(a.size(), b.size());
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t idx = 0; idx < length; ++idx) {
        unsigned char x = idx < a.size() ? static_cast<unsigned char>(a[idx]) : 0;
        unsigned char y = idx < b.size() ? static_cast<unsigned char>(b[idx]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

std::string base64_encode(std::string_view bytes, bool url_safe) {
    const char* alphabet = url_safe ? k_b64_url : k_b64;
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t idx = 0;
    for (; idx + 2 < bytes.size(); idx += 3) {
        uint32_t v = (uint32_t(uint8_t(bytes[idx])) << 16) | (uint32_t(uint8_t(bytes[idx + 1])) << 8) | uint8_t(bytes[idx + 2]);
        out += {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], alphabet[v & 63]};
    }
    if (size_t rest = bytes.size() - idx; rest > 0) {
        uint32_t v = uint32_t(uint8_t(bytes[idx])) << 16;
        if (rest == 2) v |= uint32_t(uint8_t(bytes[idx + 1])) << 8;
        out += alphabet[v >> 18];
        out += alphabet[(v >> 12) & 63];
        if (rest == 2) out += alphabet[(v >> 6) & 63];
        if (!url_safe) out += rest == 2 ? "=" : "==";
    }
    return out;
}

bool base64_decode(std::string_view text, std::string& out) {
    out.clear();
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 1) return false;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v = b64_value(c);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // Leftover bits must be zero: one text per byte string (a token with a
    // changed last character is another token, not the same one).
    return (acc & ((1u << bits) - 1)) == 0;
}

result<std::string> random_password(size_t length) {
    static const char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string out;
    while (out.size() < length) {
        unsigned char bytes[64];
        if (RAND_bytes(bytes, sizeof bytes) != 1) return make_error(errc::io_error, "the OS random source failed");
        for (unsigned char byte : bytes) {
            if (byte < 248 && out.size() < length) out.push_back(k_alphabet[byte % 62]);  // 248 = 4 * 62: no bias
        }
    }
    return out;
}

}  // namespace security
