#include "harness/process.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

extern char** environ;

namespace millrace::testing {

temp_dir::temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "millrace-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    // Searchable by others: a managed PostgreSQL inside runs as the postgres user.
    ::chmod(pattern.c_str(), 0755);
    path_ = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

process::process(std::vector<std::string> argv, std::vector<std::string> extra_env) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    char stderr_template[] = "/tmp/millrace-stderr-XXXXXX";
    int stderr_fd = ::mkstemp(stderr_template);
    if (stderr_fd < 0) throw std::runtime_error("mkstemp failed");
    stderr_path_ = stderr_template;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
    for (auto& e : extra_env) env.push_back(e);
    std::vector<char*> c_argv, c_env;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    for (auto& e : env) c_env.push_back(e.data());
    c_env.push_back(nullptr);

    int rc = ::posix_spawn(&pid_, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    ::close(stderr_fd);
    if (rc != 0) {
        ::close(pipe_fds[0]);
        throw std::runtime_error(std::string("posix_spawn ") + argv[0] + ": " + std::strerror(rc));
    }
    stdout_fd_ = pipe_fds[0];
}

process::~process() {
    // A graceful stop first, so that children such as a managed PostgreSQL
    // are stopped too; SIGKILL only if it does not exit in time.
    if (!exit_code_ && pid_ > 0 && !stop(SIGTERM, std::chrono::seconds(20))) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
    if (!stderr_path_.empty()) ::unlink(stderr_path_.c_str());
}

void process::read_available(std::chrono::milliseconds timeout) {
    if (stdout_fd_ < 0) return;
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (ready <= 0) return;
    char buffer[4096];
    ssize_t n = ::read(stdout_fd_, buffer, sizeof(buffer));
    if (n > 0) {
        stdout_.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
        ::close(stdout_fd_);
        stdout_fd_ = -1;
    }
}

std::optional<std::string> process::wait_for_line(const std::string& prefix, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        size_t newline;
        while ((newline = stdout_.find('\n', consumed_)) != std::string::npos) {
            std::string line = stdout_.substr(consumed_, newline - consumed_);
            consumed_ = newline + 1;
            if (line.rfind(prefix, 0) == 0) return line;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        if (stdout_fd_ < 0) return std::nullopt;  // exited: no more lines
        read_available(std::min(left, std::chrono::milliseconds(200)));
    }
}

std::optional<int> process::wait(std::chrono::milliseconds timeout) {
    if (exit_code_) return exit_code_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            // Collect what it wrote before exiting (bounded, in case a child of it holds the pipe).
            auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            while (stdout_fd_ >= 0 && std::chrono::steady_clock::now() < drain_deadline) {
                read_available(std::chrono::milliseconds(100));
            }
            return exit_code_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        // Drain stdout meanwhile so the child never blocks on a full pipe.
        read_available(std::chrono::milliseconds(20));
        if (stdout_fd_ < 0) ::usleep(10'000);
    }
}

void process::send_signal(int signal) {
    if (!exit_code_ && pid_ > 0) ::kill(pid_, signal);
}

std::optional<int> process::stop(int signal, std::chrono::milliseconds timeout) {
    send_signal(signal);
    return wait(timeout);
}

std::string process::stderr_text() const {
    std::ifstream in(stderr_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string millrace_binary() {
    const char* path = std::getenv("TEST_MILLRACE_BINARY");
    return path != nullptr ? path : MILLRACE_BINARY_PATH;
}

std::string source_dir() {
    const char* path = std::getenv("TEST_MILLRACE_SOURCE_DIR");
    return path != nullptr ? path : MILLRACE_SOURCE_PATH;
}

server start_server(const std::string& command, const std::string& data_dir, std::vector<std::string> extra,
                    bool with_port) {
    std::vector<std::string> argv = {millrace_binary(), command, "--admin-port", "0", "--data-dir", data_dir};
    if (with_port) {
        argv.push_back("--port");
        argv.push_back("0");
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    server s;
    s.proc = std::make_unique<process>(argv);
    auto line = s.proc->wait_for_line("ready ");
    if (!line) {
        ADD_FAILURE() << "millrace " << command << " did not become ready; stderr:\n" << s.proc->stderr_text();
        s.proc.reset();
        return s;
    }
    // ready <component> <host:port> admin <host:port>
    std::istringstream words(*line);
    std::string ready, component, admin_word;
    words >> ready >> component >> s.address >> admin_word >> s.admin;
    return s;
}

http_result http_request(const std::string& address, const std::string& method, const std::string& target,
                         const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers) {
    http_result out;
    auto colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    std::string port = address.substr(colon + 1);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return out;
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
    int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return out;
    if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
        ::close(fd);
        return out;
    }
    auto lower = [](std::string text) {
        for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return text;
    };
    std::string host_header = address, content_type = body.empty() ? "" : "application/json", extra;
    for (const auto& [name, value] : headers) {
        if (lower(name) == "host") host_header = value;
        else if (lower(name) == "content-type") content_type = value;
        else extra += name + ": " + value + "\r\n";
    }
    std::string request = method + " " + target + " HTTP/1.1\r\n" + (host_header.empty() ? "" : "Host: " + host_header + "\r\n") +
                          (content_type.empty() ? "" : "Content-Type: " + content_type + "\r\n") + extra +
                          "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < request.size()) {
        ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
    }
    std::string response;
    char buffer[8192];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, static_cast<size_t>(n));
    ::close(fd);
    auto head_end = response.find("\r\n\r\n");
    if (head_end == std::string::npos || response.size() < 12) return out;
    out.status = std::atoi(response.substr(9, 3).c_str());
    out.headers = response.substr(0, head_end);
    out.body = response.substr(head_end + 4);
    return out;
}

}  // namespace millrace::testing
