#include "millrace/common/services.h"

#include <filesystem>

#include <fmt/format.h>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace {

void service_directory::publish(const std::string& command, const std::string& address) {
    std::lock_guard lock(mutex_);
    // A part listening on every interface is reached locally on loopback.
    if (address.rfind("0.0.0.0:", 0) == 0) {
        addresses_[command] = "127.0.0.1" + address.substr(7);
    } else {
        addresses_[command] = address;
    }
}

std::optional<std::string> service_directory::find(const std::string& command) const {
    std::lock_guard lock(mutex_);
    auto it = addresses_.find(command);
    if (it == addresses_.end()) return std::nullopt;
    return it->second;
}

void service_directory::add_local(const std::string& section) {
    std::lock_guard lock(mutex_);
    local_.insert(section);
}

bool service_directory::local(const std::string& section) const {
    std::lock_guard lock(mutex_);
    return local_.count(section) > 0;
}

namespace services {
namespace {

std::string configured(const config::config& cfg, const std::string& key) {
    return cfg.has(key) ? cfg.get_string(key) : std::string();
}
std::string configured(const component_context& ctx, const std::string& key) { return configured(ctx.cfg, key); }

// The address the embedded part published, else its configured host:port.
std::optional<std::string> embedded(const component_context& ctx, const std::string& command) {
    if (ctx.services != nullptr) {
        if (auto address = ctx.services->find(command)) return address;
    }
    if (!ctx.cfg.has(command + ".host") || !ctx.cfg.has(command + ".port")) return std::nullopt;
    return fmt::format("{}:{}", ctx.cfg.get_string(command + ".host"), ctx.cfg.get_port(command + ".port"));
}

}  // namespace

std::string kafka_bootstrap(const component_context& ctx) {
    std::string external = configured(ctx, "kafka.bootstrap");
    if (!external.empty()) return external;
    return embedded(ctx, "broker").value_or("127.0.0.1:9092");
}

std::string cql_contact_points(const component_context& ctx) {
    std::string external = configured(ctx, "cql.contact_points");
    if (!external.empty()) return external;
    return embedded(ctx, "cql").value_or("127.0.0.1:9042");
}

cql_login cql_credentials(const config::config& cfg) {
    cql_login out;
    // security.* are declared by the app when present (issue 19); absent keys mean off.
    bool secure = cfg.has("security.enabled") && cfg.get_bool("security.enabled");
    bool external = !configured(cfg, "cql.contact_points").empty();
    if (!configured(cfg, "cql.password").empty()) {
        out.username = configured(cfg, "cql.username");
        out.password = configured(cfg, "cql.password");
    } else if (secure && !external) {
        out.username = configured(cfg, "security.admin_user");
        if (out.username.empty()) out.username = "admin";
        out.password = configured(cfg, "security.admin_password");
    }
    out.tls_ca = configured(cfg, "cql.tls_ca");
    if (out.tls_ca.empty() && secure && !external) {
        out.tls_ca = configured(cfg, "security.tls_ca");
        // The generated CA; absent (listeners without TLS), the clients stay plaintext.
        std::error_code ec;
        if (std::string generated = cfg.has("data_dir") ? cfg.get_string("data_dir") + "/tls/ca.pem" : std::string();
            out.tls_ca.empty() && !generated.empty() && std::filesystem::exists(generated, ec)) {
            out.tls_ca = generated;
        }
    }
    return out;
}

cql_login cql_credentials(const component_context& ctx) { return cql_credentials(ctx.cfg); }

std::string postgres_dsn(const component_context& ctx) {
    std::string external = configured(ctx, "postgres.dsn");
    if (!external.empty()) return external;
    std::string address = embedded(ctx, "postgres").value_or("127.0.0.1:5432");
    auto colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    std::string port = colon == std::string::npos ? "5432" : address.substr(colon + 1);
    std::string user = ctx.cfg.has("postgres.user") ? ctx.cfg.get_string("postgres.user") : "postgres";
    std::string database = ctx.cfg.has("postgres.database") ? ctx.cfg.get_string("postgres.database") : "millrace";
    std::string dsn = fmt::format("host={} port={} user={} dbname={}", host, port, user, database);
    std::string passfile = postgres_passfile(ctx.cfg);
    std::error_code ec;
    if (std::filesystem::exists(passfile, ec)) dsn += " passfile=" + conninfo_quote(passfile);
    return dsn;
}

std::string conninfo_quote(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

std::string postgres_passfile(const config::config& cfg) {
    std::string dir = cfg.has("postgres.data_dir") ? cfg.get_string("postgres.data_dir") : std::string();
    if (dir.empty()) dir = (cfg.has("data_dir") ? cfg.get_string("data_dir") : std::string("./data")) + "/postgres";
    std::error_code ec;
    auto absolute = std::filesystem::absolute(dir, ec);
    if (!ec) dir = absolute.lexically_normal().string();
    return dir + "/" + k_postgres_passfile_name;
}

std::optional<std::string> http_address(const component_context& ctx, const std::string& command) {
    return embedded(ctx, command);
}

}  // namespace services
}  // namespace millrace
