#include "zookeeper_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include <fmt/format.h>

namespace millrace::testing {

int unused_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
}

namespace {

bool accepts(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

zookeeper_server::zookeeper_server(int tick_ms) {
    using namespace std::chrono_literals;
    // The port is free when picked; another process may take it before the
    // JVM binds it, so a start that does not come up is tried again.
    for (int attempt = 0; attempt < 3 && connect_.empty(); ++attempt) {
        int port = unused_port();
        std::string cfg = dir_.file(fmt::format("zoo-{}.cfg", attempt));
        std::ofstream(cfg) << fmt::format(
            "tickTime={}\ndataDir={}/data\nclientPort={}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n"
            "admin.enableServer=false\n",
            tick_ms, dir_.path(), port);
        try {
            proc_ = std::make_unique<process>(std::vector<std::string>{
            "/usr/bin/java", "-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", "/usr/share/java/zookeeper.jar",
            "org.apache.zookeeper.server.ZooKeeperServerMain", cfg});
        } catch (const std::exception& e) {
            why_ = fmt::format("{} (scripts/setup installs Debian's zookeeper and a JRE)", e.what());
            return;
        }
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (accepts(port)) {
                connect_ = fmt::format("127.0.0.1:{}", port);
                break;
            }
            if (proc_->wait(100ms)) break;  // exited: the port was taken, or java is missing
        }
        if (connect_.empty()) {
            why_ = proc_->stderr_text();
            proc_.reset();
        }
    }
}

zookeeper_server::~zookeeper_server() {
    if (proc_) proc_->stop(SIGKILL);
}

}  // namespace millrace::testing
