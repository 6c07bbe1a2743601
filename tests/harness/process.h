// Test harness: start `millrace` subcommands as real processes on ephemeral
// ports, wait for their `ready` line (never a fixed sleep), talk to them, and
// always tear them down (SIGTERM in the destructor, SIGKILL if that does not
// end the process within 20 s).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace millrace::testing {

using namespace std::chrono_literals;

// A directory removed with its contents when the object dies.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

class process {
public:
    // Starts `argv` with `extra_env` (NAME=VALUE) added to this environment.
    // stdout is read through a pipe; stderr is kept in a file.
    process(std::vector<std::string> argv, std::vector<std::string> extra_env = {});
    ~process();
    process(const process&) = delete;
    process& operator=(const process&) = delete;

    // Waits for a stdout line starting with `prefix`. Returns nullopt when the
    // process exits or `timeout` passes first.
    std::optional<std::string> wait_for_line(const std::string& prefix, std::chrono::milliseconds timeout = 60s);
    // Sends `signal` and waits for the exit; returns the exit code (128+signal
    // when killed by one), or nullopt on timeout.
    std::optional<int> stop(int signal, std::chrono::milliseconds timeout = 60s);
    // Waits for the process to exit by itself.
    std::optional<int> wait(std::chrono::milliseconds timeout = 60s);
    void send_signal(int signal);

    pid_t pid() const { return pid_; }
    std::string stdout_text() const { return stdout_; }
    std::string stderr_text() const;

private:
    void read_available(std::chrono::milliseconds timeout);
    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    std::string stderr_path_;
    std::string stdout_;
    size_t consumed_ = 0;
    std::optional<int> exit_code_;
};

// A `millrace <command>` started on ephemeral ports with its own data dir.
struct server {
    std::unique_ptr<process> proc;
    std::string address;  // host:port of the main listener
    std::string admin;    // host:port of the admin endpoint
};

// The path of the built binary (set at build time; TEST_MILLRACE_BINARY overrides).
std::string millrace_binary();
std::string source_dir();

// Starts `millrace <command> --port 0 --admin-port 0 --data-dir <dir> <extra>`
// and waits for its ready line. Fails the current test (ADD_FAILURE) and
// returns an empty proc when it does not become ready.
server start_server(const std::string& command, const std::string& data_dir, std::vector<std::string> extra = {},
                    bool with_port = true);

struct http_result {
    int status = 0;
    std::string headers;
    std::string body;
};
// A blocking HTTP/1.1 request to host:port; status 0 when the connection fails.
// A body goes with "Content-Type: application/json" unless `headers` names a
// Content-Type; `headers` may also replace Host ("" as a value leaves it out).
http_result http_request(const std::string& address, const std::string& method, const std::string& target,
                         const std::string& body = {},
                         const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace millrace::testing
