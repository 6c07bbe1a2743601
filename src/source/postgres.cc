#include "millrace/source/postgres.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "millrace/common/file_system.h"
#include "millrace/common/private_file.h"
#include "millrace/common/log.h"
#include "millrace/common/services.h"
#include "millrace/pg_client/connection.h"

namespace millrace::source {
namespace {

namespace fs = std::filesystem;
const log::logger k_log{"postgres"};

struct command_result {
    int exit_code = -1;
    std::string output;
};

struct system_account {
    bool switch_user = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

// Writes a secret or server file 0600, owned by `acct` when switching users.
status write_private(const std::string& path, const std::string& text, const system_account& acct) {
    std::optional<file_owner> owner;
    if (acct.switch_user) owner = file_owner{acct.uid, acct.gid};
    return write_private_file(path, text, owner);
}

result<system_account> account_for(const std::string& name) {
    system_account acct;
    if (::geteuid() != 0) return acct;
    struct passwd* pw = ::getpwnam(name.c_str());
    if (pw == nullptr) {
        return make_error(errc::invalid_argument,
                          "running as root, and PostgreSQL refuses root, but system user '{}' does not exist: create "
                          "it or set postgres.system_user",
                          name);
    }
    acct.switch_user = true;
    acct.uid = pw->pw_uid;
    acct.gid = pw->pw_gid;
    return acct;
}

// Runs `argv` to completion (as `acct` when switching), its output captured.
// `stdin_text`, when not empty, is its standard input (else /dev/null).
result<command_result> run_command(const std::vector<std::string>& argv, const system_account& acct,
                                   const std::string& stdin_text = {}) {
    char out_path[] = "/tmp/millrace-pg-XXXXXX";
    int out_fd = ::mkstemp(out_path);
    if (out_fd < 0) return make_error(errc::io_error, "cannot create a temporary file for {}'s output", argv[0]);
    ::unlink(out_path);
    int in_fd = -1;
    if (!stdin_text.empty()) {
        char in_path[] = "/tmp/millrace-pg-in-XXXXXX";
        in_fd = ::mkstemp(in_path);
        if (in_fd < 0) {
            ::close(out_fd);
            return make_error(errc::io_error, "cannot create a temporary file for {}'s input", argv[0]);
        }
        ::unlink(in_path);
        if (::write(in_fd, stdin_text.data(), stdin_text.size()) != static_cast<ssize_t>(stdin_text.size())) {
            ::close(in_fd);
            ::close(out_fd);
            return make_error(errc::io_error, "cannot write {}'s input", argv[0]);
        }
        ::lseek(in_fd, 0, SEEK_SET);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(out_fd);
        if (in_fd >= 0) ::close(in_fd);
        return make_error(errc::io_error, "fork for {} failed", argv[0]);
    }
    if (pid == 0) {
        ::dup2(in_fd >= 0 ? in_fd : ::open("/dev/null", O_RDONLY), 0);
        ::dup2(out_fd, 1);
        ::dup2(out_fd, 2);
        // Nothing of ours (listening sockets, connections) may leak into the
        // postmaster, which outlives this call and would keep them open.
        ::close_range(3, ~0u, 0);
        // Its own session: a Ctrl-C meant for millrace must not reach the
        // postmaster; millrace stops it with pg_ctl in order.
        ::setsid();
        if (acct.switch_user) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(acct.gid) != 0 || ::setuid(acct.uid) != 0) ::_exit(126);
        }
        ::chdir("/");
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    command_result res;
    res.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    if (in_fd >= 0) ::close(in_fd);
    ::lseek(out_fd, 0, SEEK_SET);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out_fd, buf, sizeof(buf))) > 0) res.output.append(buf, static_cast<size_t>(n));
    ::close(out_fd);
    if (res.exit_code == 127) return make_error(errc::not_found, "cannot run {}: not found (install postgresql or set postgres.bin_dir)", argv[0]);
    return res;
}

std::string find_bin_dir(const std::string& configured) {
    if (!configured.empty()) return configured;
    std::error_code ec;
    std::vector<int> versions;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const std::string name = entry.path().filename().string();
        if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit) && fs::exists(entry.path() / "bin/pg_ctl")) {
            versions.push_back(std::stoi(name));
        }
    }
    if (versions.empty()) return {};
    return "/usr/lib/postgresql/" + std::to_string(*std::max_element(versions.begin(), versions.end())) + "/bin";
}

std::string tool(const std::string& bin_dir, const std::string& name) {
    return bin_dir.empty() ? name : bin_dir + "/" + name;
}

// Binds as PostgreSQL does (SO_REUSEADDR), so that a port in TIME_WAIT after
// our own server stopped counts as free.
bool port_free(const std::string& host, uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
}

uint16_t pick_free_port(const std::string& host) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// The port of a server running from `data_dir` (line 4 of postmaster.pid), or 0.
uint16_t running_port(const std::string& data_dir) {
    std::ifstream in(data_dir + "/postmaster.pid");
    std::string line;
    for (int line_idx = 0; line_idx < 4 && std::getline(in, line); ++line_idx) {
    }
    if (!in) return 0;
    try {
        return static_cast<uint16_t>(std::stoi(line));
    } catch (...) {
        return 0;
    }
}

// The end of a command's output, on one line.
std::string tail(const std::string& text) {
    std::string trimmed;
    for (char c : text) {
        if (c == '\n' || c == '\t') {
            if (!trimmed.empty() && trimmed.back() != ' ') trimmed.push_back(' ');
        } else {
            trimmed.push_back(c);
        }
    }
    while (!trimmed.empty() && trimmed.back() == ' ') trimmed.pop_back();
    return trimmed.size() > 600 ? "..." + trimmed.substr(trimmed.size() - 600) : trimmed;
}

// 32 characters from [A-Za-z0-9] out of /dev/urandom.
result<std::string> generate_password() {
    static const char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::ifstream in("/dev/urandom", std::ios::binary);
    std::string out;
    while (out.size() < 32 && in) {
        unsigned char byte = static_cast<unsigned char>(in.get());
        if (byte < 248) out.push_back(k_alphabet[byte % 62]);  // 248 = 4 * 62: no bias
    }
    if (out.size() < 32) return make_error(errc::io_error, "cannot read /dev/urandom for a PostgreSQL password");
    return out;
}

// One pgpass field: ':' and '\' backslash-escaped.
std::string pgpass_field(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == ':' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

// The pgpass lines for the managed server only: its host and the port it
// listens on (rewritten at every start), any database, the role. A server on
// every interface is reached on loopback (as services::postgres_dsn does).
// No Unix socket line: millrace's cluster has unix_socket_directories = ''.
std::string pgpass_line(const std::string& host, uint16_t port, const std::string& user, const std::string& password) {
    std::string text = fmt::format("{}:{}:*:{}:{}\n", pgpass_field(host), port, pgpass_field(user), pgpass_field(password));
    if (host == "0.0.0.0") text += fmt::format("127.0.0.1:{}:*:{}:{}\n", port, pgpass_field(user), pgpass_field(password));
    return text;
}

// The password of the first pgpass line (its fifth field, unescaped).
// A symlink or anything but a regular file counts as no password file (never
// followed: as root, it could name a file the server's OS user must not read).
std::optional<std::string> read_passfile(const std::string& path) {
    auto read = read_private_file(path, 64 * 1024);
    if (!read) return std::nullopt;
    const std::string& text = *read;
    std::string line = text.substr(0, text.find('\n'));
    if (line.empty()) return std::nullopt;
    size_t fields = 0;
    std::string current;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (c == '\\' && i + 1 < line.size()) {
            current.push_back(line[++i]);
        } else if (c == ':' && fields < 4) {
            ++fields;
            current.clear();
        } else {
            current.push_back(c);
        }
    }
    if (fields < 4 || current.empty()) return std::nullopt;
    return current;
}

// A SQL identifier / string literal (standard_conforming_strings).
std::string sql_identifier(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    return out + "\"";
}
std::string sql_literal(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out.push_back('\'');
        out.push_back(c);
    }
    return out + "'";
}

bool is_loopback_host(const std::string& host) {
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// pg_hba.conf: SCRAM over TCP, peer on Unix sockets (millrace disables them), nothing passwordless.
std::string hba_text(const std::string& listen_host) {
    std::string text =
        "# Written by millrace (docs/security.md): passwords (SCRAM) over TCP, OS-user (peer) on Unix sockets.\n"
        "# TYPE  DATABASE     USER  ADDRESS        METHOD\n"
        "local   all          all                  peer\n"
        "local   replication  all                  peer\n"
        "host    all          all   127.0.0.1/32   scram-sha-256\n"
        "host    all          all   ::1/128        scram-sha-256\n"
        "host    replication  all   127.0.0.1/32   scram-sha-256\n"
        "host    replication  all   ::1/128        scram-sha-256\n";
    if (!is_loopback_host(listen_host)) {
        text +=
            "host    all          all   0.0.0.0/0      scram-sha-256\n"
            "host    all          all   ::/0           scram-sha-256\n"
            "host    replication  all   0.0.0.0/0      scram-sha-256\n"
            "host    replication  all   ::/0           scram-sha-256\n";
    }
    return text;
}

// Whether pg_hba.conf lets anyone in without a password (trust) over any line.
bool hba_has_trust(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        auto hash = line.find('#');
        if (hash != std::string::npos) line.resize(hash);
        std::istringstream words(line);
        std::string word, last;
        while (words >> word) last = word;
        if (last == "trust") return true;
    }
    return false;
}

}  // namespace

postgres_options postgres_options_from(const config::config& cfg) {
    postgres_options o;
    o.dsn = cfg.get_string("postgres.dsn");
    o.data_dir = cfg.get_string("postgres.data_dir");
    if (o.data_dir.empty()) o.data_dir = cfg.get_string("data_dir") + "/postgres";
    o.host = cfg.get_string("postgres.host");
    o.port = cfg.get_port("postgres.port");
    o.bin_dir = cfg.get_string("postgres.bin_dir");
    o.database = cfg.get_string("postgres.database");
    o.user = cfg.get_string("postgres.user");
    o.system_user = cfg.get_string("postgres.system_user");
    o.max_replication_slots = static_cast<int>(cfg.get_int("postgres.max_replication_slots"));
    o.max_wal_senders = static_cast<int>(cfg.get_int("postgres.max_wal_senders"));
    o.start_timeout_ms = cfg.get_int("postgres.start_timeout");
    o.require_logical = cfg.get_bool("postgres.require_logical");
    return o;
}

status wait_until_accepting(const std::string& dsn, int64_t timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string last;
    pg::connection conn(pg::connect_options{.dsn = dsn, .error_prefix = "last attempt"});
    while (true) {
        auto st = conn.connect();
        if (st) return {};
        last = st.err().message();
        if (std::chrono::steady_clock::now() >= deadline) {
            return make_error(errc::timed_out, "PostgreSQL at '{}' did not accept connections within {} ms: {}", dsn,
                              timeout_ms, tail(last));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval, not a wait for readiness
    }
}

postgres_server::postgres_server(postgres_options options) : options_(std::move(options)), port_(options_.port) {
    // The server's commands run from "/": a relative data dir must not change meaning.
    if (!options_.data_dir.empty()) {
        std::error_code ec;
        auto absolute = fs::absolute(options_.data_dir, ec);
        if (!ec) options_.data_dir = absolute.lexically_normal().string();
    }
}

postgres_server::~postgres_server() {
    if (started_by_us_) (void)stop();
    if (owner_fd_ >= 0) ::close(owner_fd_);
}

bool postgres_server::take_ownership() {
    if (owner_fd_ >= 0) return true;
    // A lock on a file beside the data dir, held while this process runs and
    // released by the kernel when it dies (kill -9 included). Close-on-exec:
    // the server that pg_ctl starts must not inherit it.
    const std::string path = options_.data_dir + ".owner";
    int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        k_log.warn("cannot open {} ({}): a PostgreSQL left running from {} is used but not stopped on exit", path,
                   std::strerror(errno), options_.data_dir);
        return false;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return false;
    }
    owner_fd_ = fd;
    return true;
}

std::string postgres_server::dsn() const {
    if (!managed()) return options_.dsn;
    return dsn_for_db(options_.database);
}

std::string postgres_server::passfile() const { return options_.data_dir + "/" + services::k_postgres_passfile_name; }

status postgres_server::start() { return managed() ? start_managed() : start_external(); }

status postgres_server::start_external() {
    pg::connection conn(pg::connect_options{
        .dsn = options_.dsn, .error_prefix = fmt::format("cannot connect to PostgreSQL at postgres.dsn '{}'", options_.dsn)});
    if (auto st = conn.connect(); !st) return st;
    auto res = conn.exec("SHOW wal_level");
    std::string level = res && res->size() == 1 ? res->str(0, 0) : "unknown";
    conn.close();
    if (level != "logical") {
        std::string message = fmt::format(
            "PostgreSQL at postgres.dsn has wal_level={}, but change capture needs logical: run `ALTER SYSTEM SET "
            "wal_level = logical;` (or set wal_level = logical in postgresql.conf), make sure max_replication_slots "
            "and max_wal_senders are at least 4, and restart the server",
            level);
        if (options_.require_logical) return error(errc::invalid_argument, message + " (or set postgres.require_logical=false)");
        k_log.warn("{}", message);
    }
    k_log.info("using external PostgreSQL (wal_level={})", level);
    return {};
}

status postgres_server::start_managed() {
    auto acct = account_for(options_.system_user);
    if (!acct) return acct.err();
    const std::string bin = find_bin_dir(options_.bin_dir);
    const std::string& dir = options_.data_dir;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(errc::io_error, "cannot create postgres.data_dir {}: {}", dir, ec.message());
    if (acct->switch_user) {
        // The server's user needs its data dir, 0700 and owned by it.
        if (::chown(dir.c_str(), acct->uid, acct->gid) != 0) {
            return make_error(errc::io_error, "cannot chown postgres.data_dir {} to {}: {}", dir, options_.system_user,
                              std::strerror(errno));
        }
    }
    ::chmod(dir.c_str(), 0700);

    if (!fs::exists(dir + "/PG_VERSION")) {
        if (auto st = init_cluster(bin); !st) return st;
    }

    if (uint16_t running = running_port(dir); running != 0) {
        auto status_res = run_command({tool(bin, "pg_ctl"), "status", "-D", dir}, *acct);
        if (status_res && status_res->exit_code == 0) {
            port_ = running;
            // Left by a millrace that died (its lock is free): ours now, and
            // stopped on exit like one we started. Held by a live millrace:
            // used, and left to that process to stop.
            if (take_ownership()) {
                started_by_us_ = true;
                k_log.info("PostgreSQL left running from {} on port {} by an earlier run: taken over (stopped on exit)", dir, port_);
            } else {
                k_log.info("PostgreSQL already running from {} on port {}, managed by another millrace process", dir, port_);
            }
            if (auto st = write_passfile_for_port(); !st) return st;
            if (auto st = wait_until_accepting(dsn_for_db("postgres"), options_.start_timeout_ms); !st) return st;
            if (auto st = secure_cluster(); !st) return st;
            return ensure_database();
        }
    }

    // Stopped: a cluster still on trust (or without its password file) is
    // migrated now, before anything listens.
    if (auto st = secure_offline(bin); !st) return st;

    if (options_.port == 0) {
        port_ = pick_free_port(options_.host);
    } else if (!port_free(options_.host, options_.port)) {
        port_ = pick_free_port(options_.host);
        k_log.warn("port {} on {} is taken; PostgreSQL listens on {} instead (set postgres.port to choose)",
                   options_.port, options_.host, port_);
    } else {
        port_ = options_.port;
    }
    // The password goes only to the port the server is about to listen on.
    if (auto st = write_passfile_for_port(); !st) return st;
    const int64_t timeout_s = std::max<int64_t>(1, (options_.start_timeout_ms + 999) / 1000);
    auto res = run_command({tool(bin, "pg_ctl"), "start", "-D", dir, "-w", "-t", std::to_string(timeout_s), "-l",
                            dir + "/server.log", "-o",
                            fmt::format("-p {} -c listen_addresses={}", port_, options_.host)},
                           *acct);
    if (!res) return res.err();
    if (res->exit_code != 0) {
        std::ifstream log_file(dir + "/server.log");
        std::stringstream server_log;
        server_log << log_file.rdbuf();
        return make_error(errc::unavailable, "pg_ctl start -D {} on {}:{} failed (exit {}): {}; server log: {}", dir,
                          options_.host, port_, res->exit_code, tail(res->output), tail(server_log.str()));
    }
    started_by_us_ = true;
    (void)take_ownership();
    k_log.info("PostgreSQL started from {} on {}:{}", dir, options_.host, port_);
    if (auto st = wait_until_accepting(dsn_for_db("postgres"), options_.start_timeout_ms); !st) return st;
    if (auto st = secure_cluster(); !st) return st;
    return ensure_database();
}

status postgres_server::write_passfile_for_port() {
    auto acct_res = account_for(options_.system_user);
    if (!acct_res) return acct_res.err();
    const system_account& acct = *acct_res;
    auto password = read_passfile(passfile());
    if (!password) return {};  // a running cluster from before passwords: secure_cluster() writes it
    const std::string line = pgpass_line(options_.host, port_, options_.user, *password);
    std::error_code ec;
    if (fs::is_regular_file(fs::symlink_status(passfile(), ec))) {
        std::ifstream in(passfile());
        std::string current(std::istreambuf_iterator<char>(in), {});
        if (current == line) return {};
    }
    return write_private(passfile(), line, acct);
}

status postgres_server::init_cluster(const std::string& bin) {
    auto acct_res = account_for(options_.system_user);
    if (!acct_res) return acct_res.err();
    const system_account& acct = *acct_res;
    const std::string& dir = options_.data_dir;
    // The password file first: a crash after initdb cannot lose the password.
    // (A password file left by an attempt that crashed before initdb finished is reused.)
    std::string password;
    if (auto existing = read_passfile(passfile())) {
        password = *existing;
    } else {
        auto generated = generate_password();
        if (!generated) return generated.err();
        password = *generated;
        if (auto st = write_private(passfile(), pgpass_line(options_.host, options_.port, options_.user, password), acct); !st) {
            return st;
        }
    }
    // initdb wants an empty directory, and the data dir holds the password
    // file: initdb into <dir>/.initdb, then move its files up, PG_VERSION last
    // (a cluster is complete exactly when PG_VERSION exists).
    const std::string staging = dir + "/.initdb";
    std::error_code ec;
    fs::remove_all(staging, ec);
    if (ec) return make_error(errc::io_error, "cannot remove {}: {}", staging, ec.message());
    // initdb reads the superuser's password from a file (as the server's user).
    char pw_path[] = "/tmp/millrace-pgpw-XXXXXX";
    int pw_fd = ::mkstemp(pw_path);
    if (pw_fd < 0) return make_error(errc::io_error, "cannot create a temporary password file: {}", std::strerror(errno));
    ::close(pw_fd);
    if (auto st = write_private(pw_path, password + "\n", acct); !st) {
        ::unlink(pw_path);
        return st;
    }
    std::vector<std::string> argv = {tool(bin, "initdb"), "-D", staging, "-U", options_.user, "--auth-local=peer",
                                     "--auth-host=scram-sha-256", std::string("--pwfile=") + pw_path,
                                     "-E", "UTF8", "--locale=C"};
    if (!options_.fsync) argv.push_back("--no-sync");
    k_log.info("initdb of a new cluster in {} (SCRAM password for role {} in {})", dir, options_.user, passfile());
    auto res = run_command(argv, acct);
    ::unlink(pw_path);
    if (!res) return res.err();
    if (res->exit_code != 0) {
        return make_error(errc::io_error, "initdb -D {} failed (exit {}): {}{}", staging, res->exit_code, tail(res->output),
                          acct.switch_user ? fmt::format(" (it runs as {}: every parent directory must be "
                                                         "searchable by that user)", options_.system_user)
                                           : "");
    }
    {
        std::ofstream conf(staging + "/postgresql.conf", std::ios::app);
        conf << "\n# Added by millrace: the CDC part reads the logical replication stream.\n"
             << "wal_level = logical\n"
             << "max_replication_slots = " << options_.max_replication_slots << "\n"
             << "max_wal_senders = " << options_.max_wal_senders << "\n"
             << "unix_socket_directories = ''\n"
             << (options_.fsync ? "" : "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        if (!conf) return make_error(errc::io_error, "cannot append to {}/postgresql.conf", staging);
    }
    if (auto st = write_private(staging + "/pg_hba.conf", hba_text(options_.host), acct); !st) return st;
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(staging, ec)) {
        std::string name = entry.path().filename().string();
        if (name != "PG_VERSION") names.push_back(name);
    }
    if (ec) return make_error(errc::io_error, "cannot list {}: {}", staging, ec.message());
    names.push_back("PG_VERSION");
    for (const auto& name : names) {
        const std::string to = dir + "/" + name;
        fs::remove_all(to, ec);  // left by an attempt that crashed while moving (no PG_VERSION yet)
        if (::rename((staging + "/" + name).c_str(), to.c_str()) != 0) {
            return make_error(errc::io_error, "cannot move {}/{} to {}: {}", staging, name, to, std::strerror(errno));
        }
    }
    fs::remove(staging, ec);
    return {};
}

status postgres_server::secure_offline(const std::string& bin) {
    auto acct_res = account_for(options_.system_user);
    if (!acct_res) return acct_res.err();
    const system_account& acct = *acct_res;
    const std::string& dir = options_.data_dir;
    const std::string hba = dir + "/pg_hba.conf";
    std::optional<std::string> existing = read_passfile(passfile());
    const bool trust = hba_has_trust(hba);
    if (existing && !trust) return {};
    std::string password;
    if (existing) {
        password = *existing;
    } else {
        auto generated = generate_password();
        if (!generated) return generated.err();
        password = *generated;
    }
    // 1. The password file, so that the password is never lost.
    if (auto st = write_private(passfile(), pgpass_line(options_.host, options_.port, options_.user, password), acct); !st) {
        return st;
    }
    // 2. The role's password, in single-user mode: no server listens meanwhile.
    const std::string sql = fmt::format("ALTER ROLE {} PASSWORD {};\n", sql_identifier(options_.user), sql_literal(password));
    auto res = run_command({tool(bin, "postgres"), "--single", "-D", dir, "-c", "password_encryption=scram-sha-256",
                            "-c", "listen_addresses=", "postgres"},
                           acct, sql);
    if (!res) return res.err();
    if (res->exit_code != 0 || res->output.find("ERROR:") != std::string::npos ||
        res->output.find("FATAL:") != std::string::npos) {
        return make_error(errc::io_error, "postgres --single -D {} could not set the password of role {} (exit {}): {}", dir,
                          options_.user, res->exit_code, tail(res->output));
    }
    // 3. pg_hba.conf without trust (last: a crash before it redoes all three).
    if (auto st = write_private(hba, hba_text(options_.host), acct); !st) return st;
    k_log.warn("PostgreSQL in {} {}: migrated to SCRAM before starting it — role {} has a generated password (in {}, mode "
               "0600), pg_hba.conf requires scram-sha-256 over TCP",
               dir, trust ? "let clients in without a password (trust)" : "had no password file", options_.user, passfile());
    return {};
}

std::string postgres_server::dsn_for_db(const std::string& db) const {
    return fmt::format("host={} port={} user={} dbname={} connect_timeout=5 passfile={}", options_.host, port_,
                       options_.user, services::conninfo_quote(db), services::conninfo_quote(passfile()));
}

status postgres_server::secure_cluster() {
    auto acct = account_for(options_.system_user);
    if (!acct) return acct.err();
    const std::string hba = options_.data_dir + "/pg_hba.conf";
    std::error_code ec;
    const bool has_passfile = fs::exists(passfile(), ec);
    const bool trust = hba_has_trust(hba);
    if (has_passfile && !trust) return {};
    std::string password;
    if (auto existing = has_passfile ? read_passfile(passfile()) : std::nullopt) {
        password = *existing;
    } else {
        auto generated = generate_password();
        if (!generated) return generated.err();
        password = *generated;
    }
    // Still trust here (an old cluster): connect without a password and set one.
    pg::connection conn(pg::connect_options{
        .dsn = dsn_for_db("postgres"),
        .error_prefix = fmt::format("cannot connect to PostgreSQL on port {} to set a password for role {}", port_, options_.user)});
    if (auto st = conn.connect(); !st) return st;
    // The verifier is computed here: the password itself never travels.
    status st;
    auto verifier = conn.encrypt_password(password, options_.user);
    if (!verifier) {
        st = verifier.err();
    } else if (auto set = conn.run(fmt::format("ALTER ROLE {} PASSWORD {}", pg::quote_ident(options_.user),
                                               pg::quote_literal(*verifier)));
               !set) {
        st = set.err().with_context(fmt::format("ALTER ROLE {} PASSWORD failed", options_.user));
    }
    if (st) st = write_private(passfile(), pgpass_line(options_.host, port_, options_.user, password), *acct);
    if (st) st = write_private(hba, hba_text(options_.host), *acct);
    if (st) {
        if (auto reloaded = conn.run("SELECT pg_reload_conf()"); !reloaded) {
            st = reloaded.err().with_context("pg_reload_conf() failed");
        }
    }
    if (!st) return st;
    k_log.warn("PostgreSQL in {} let clients in without a password (trust): migrated to SCRAM — role {} has a generated "
               "password (in {}, mode 0600), pg_hba.conf requires scram-sha-256 over TCP, configuration reloaded",
               options_.data_dir, options_.user, passfile());
    return {};
}

result<std::string> dsn_with_password(const config::config& cfg) {
    postgres_server server(postgres_options_from(cfg));
    const auto& o = server.options();
    if (!server.managed()) return o.dsn;
    auto password = read_passfile(server.passfile());
    if (!password) {
        return make_error(errc::not_found, "no password file {}: start `millrace postgres` (or `millrace up`) once to create it",
                          server.passfile());
    }
    uint16_t port = running_port(o.data_dir);
    if (port == 0) port = o.port;
    return fmt::format("host={} port={} user={} dbname={} password={}", o.host, port, o.user,
                       services::conninfo_quote(o.database), services::conninfo_quote(*password));
}

status postgres_server::ensure_database() {
    pg::connection conn(pg::connect_options{
        .dsn = dsn_for_db("postgres"), .error_prefix = fmt::format("cannot connect to PostgreSQL on port {}", port_)});
    if (auto st = conn.connect(); !st) return st;
    auto found = conn.exec("SELECT 1 FROM pg_database WHERE datname = $1", {options_.database});
    if (found && found->size() == 1) return {};
    // CREATE DATABASE takes no parameters: the name is quoted. 42P04: another process created it meanwhile.
    if (auto st = conn.run("CREATE DATABASE " + pg::quote_ident(options_.database)); !st && conn.last_sqlstate() != "42P04") {
        return st.err().with_context(fmt::format("CREATE DATABASE {} failed", options_.database));
    }
    return {};
}

status postgres_server::stop() {
    if (!managed() || !started_by_us_) return {};
    started_by_us_ = false;
    auto acct = account_for(options_.system_user);
    if (!acct) return acct.err();
    auto res = run_command({tool(find_bin_dir(options_.bin_dir), "pg_ctl"), "stop", "-D", options_.data_dir, "-m",
                            "fast", "-w", "-t", "60"},
                           *acct);
    if (!res) return res.err();
    if (res->exit_code != 0) {
        return make_error(errc::io_error, "pg_ctl stop -D {} failed (exit {}): {}", options_.data_dir, res->exit_code,
                          tail(res->output));
    }
    k_log.info("PostgreSQL stopped ({})", options_.data_dir);
    return {};
}

}  // namespace millrace::source
