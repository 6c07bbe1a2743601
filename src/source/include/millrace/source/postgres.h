// The raw store's PostgreSQL: a local server millrace manages (initdb on
// first start, pg_ctl start/stop, configured for logical replication), or an
// external one named by a DSN, whose wal_level is checked.
//
// Rationale: the pipeline needs a real PostgreSQL (the CDC part reads its
// logical replication stream), but `make up` must work on a bare machine, so
// by default millrace runs one from the Debian packages in its data dir.
// PostgreSQL refuses to run as root; when we are root the server's commands
// run as `system_user` and the data dir is chowned to it.
#pragma once

#include <cstdint>
#include <string>

#include "millrace/common/config.h"
#include "millrace/common/result.h"

namespace millrace::source {

struct postgres_options {
    std::string dsn;              // external server when not empty (libpq keyword/value or URI)
    std::string data_dir;         // managed: the cluster's directory
    std::string host = "127.0.0.1";
    uint16_t port = 5432;         // 0, or taken: another free port is chosen and logged
    std::string bin_dir;          // initdb/pg_ctl location; "" finds /usr/lib/postgresql/<newest>/bin, else PATH
    std::string database = "millrace";
    std::string user = "postgres";         // database role (superuser created by initdb)
    std::string system_user = "postgres";  // OS user that runs the server when we are root
    int max_replication_slots = 10;
    int max_wal_senders = 10;
    int64_t start_timeout_ms = 60'000;
    bool require_logical = true;  // external: wal_level other than logical is an error
    bool fsync = true;            // managed: false only for tests (initdb --no-sync, fsync=off)
};

// Reads postgres.* from a configuration; `root_data_dir` is the `data_dir` key.
postgres_options postgres_options_from(const config::config& cfg);

class postgres_server {
public:
    explicit postgres_server(postgres_options options);
    // Stops the server when this object started it and it still runs.
    ~postgres_server();
    postgres_server(const postgres_server&) = delete;
    postgres_server& operator=(const postgres_server&) = delete;

    // Managed: initdb when the data dir has no cluster, start unless already
    // running from this dir, wait until it accepts connections (bounded by
    // start_timeout_ms), create the database. External: connect and check
    // wal_level. Blocking. Errors name the command, its output and the key to change.
    status start();
    // Managed and started by us: pg_ctl stop -m fast. Idempotent.
    status stop();

    bool managed() const { return options_.dsn.empty(); }
    // The libpq connection string of the database (valid after start()).
    // Managed: with passfile=<password file>, never the password itself.
    std::string dsn() const;
    // Managed: <data_dir>/millrace.pgpass (libpq pgpass format, 0600).
    std::string passfile() const;
    uint16_t port() const { return port_; }
    const postgres_options& options() const { return options_; }

private:
    status start_managed();
    status start_external();
    status ensure_database();
    // Managed: a SCRAM password and pg_hba.conf without passwordless TCP.
    // A cluster made with trust (before millrace 0.x) is migrated: password
    // set, pg_hba.conf rewritten, configuration reloaded, and it is logged.
    status secure_cluster();
    // initdb of a new cluster: the password file written first (initdb reads
    // the password from it), initdb into <data_dir>/.initdb, moved up with
    // PG_VERSION last.
    status init_cluster(const std::string& bin);
    // Stopped cluster on trust or without a password file: password file,
    // role password in single-user mode, pg_hba.conf — before anything listens.
    status secure_offline(const std::string& bin);
    // Rewrites the password file's line for port_ (only when it differs).
    status write_passfile_for_port();
    std::string dsn_for_db(const std::string& db) const;
    // Locks <data_dir>.owner (held until this object goes): true when this
    // process is the one that stops the managed server.
    bool take_ownership();

    postgres_options options_;
    uint16_t port_ = 0;
    bool started_by_us_ = false;
    int owner_fd_ = -1;  // the lock on <data_dir>.owner, or -1
};

// `millrace postgres --print-dsn`: the managed server's DSN with its password
// (or postgres.dsn when set). The error says when no password file exists yet.
result<std::string> dsn_with_password(const config::config& cfg);

// Blocks until a libpq connection to `dsn` succeeds or `timeout_ms` passes.
status wait_until_accepting(const std::string& dsn, int64_t timeout_ms);

}  // namespace millrace::source
