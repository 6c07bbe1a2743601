// Where a component finds the services it talks to: Kafka, the CQL store,
// PostgreSQL and the HTTP services.
//
// Rationale: parts talk only through the real protocols, so a part needs an
// address, never an object. The address comes, in this order, from the
// configuration naming an external service (kafka.bootstrap,
// cql.contact_points, postgres.dsn), from the embedded component that started
// in this process (`millrace up` publishes each part's address as it starts;
// ports may be ephemeral), or else from the embedded component's configured
// host and port (a standalone part next to a standalone server).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace millrace {

namespace config {
class config;
}
struct component_context;

// The addresses of the parts started in this process, by command name
// ("broker", "cql", "postgres", "source", "scheduler", "registry", ...).
// Thread-safe.
class service_directory {
public:
    void publish(const std::string& command, const std::string& address);
    std::optional<std::string> find(const std::string& command) const;
    // The configuration sections of the parts this process runs, recorded
    // before any starts: their metrics are on this process's own admin
    // endpoint, so their standalone admin ports belong to someone else.
    void add_local(const std::string& section);
    bool local(const std::string& section) const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::string> addresses_;
    std::set<std::string> local_;
};

namespace services {

// host:port[,host:port...] of the Kafka cluster.
std::string kafka_bootstrap(const component_context& ctx);
// host[:port][,...] of the CQL cluster (port 9042 when omitted).
std::string cql_contact_points(const component_context& ctx);
// How millrace's own CQL clients log in: cql.username / cql.password when a
// password is set, else (security.enabled) the admin user; TLS verified
// against cql.tls_ca, else (security.enabled, embedded store) the CA the
// listeners' certificate chains to: security.tls_ca, else <data_dir>/tls/ca.pem when it exists.
// Empty fields: no credentials / plaintext.
struct cql_login {
    std::string username, password, tls_ca;
};
cql_login cql_credentials(const component_context& ctx);
// The same from the configuration alone (a process's own status probe).
cql_login cql_credentials(const config::config& cfg);
// libpq connection string of the raw store: postgres.dsn, else the managed
// server's address with passfile=<its password file> (docs/security.md).
std::string postgres_dsn(const component_context& ctx);
// The managed PostgreSQL's password file: <postgres.data_dir or
// <data_dir>/postgres>/millrace.pgpass, in libpq's pgpass format
// ("<host>:<port>:*:<user>:<password>": only the managed server's address,
// rewritten on every start with the port it listens on), mode 0600. Absolute.
std::string postgres_passfile(const config::config& cfg);
// A libpq conninfo value in single quotes, ' and \ backslash-escaped, so
// paths with spaces survive ("passfile='/data dir/millrace.pgpass'").
std::string conninfo_quote(const std::string& value);
constexpr const char* k_postgres_passfile_name = "millrace.pgpass";
// host:port of an HTTP part started in this process or configured
// (<command>.host and <command>.port); nullopt when neither.
std::optional<std::string> http_address(const component_context& ctx, const std::string& command);

}  // namespace services
}  // namespace millrace
