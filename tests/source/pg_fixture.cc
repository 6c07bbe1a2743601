#include "pg_fixture.h"

#include <filesystem>

#include <sys/stat.h>

namespace millrace::source {

void pg_fixture::SetUp() {
    char pattern[] = "/tmp/millrace-pg-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    ::chmod(dir_.c_str(), 0755);  // the postgres user must reach the cluster dir inside
    options_.data_dir = dir_ + "/cluster";
    options_.port = 0;
    options_.fsync = false;
    options_.start_timeout_ms = 30'000;
    options_.database = "millrace_test";
    server_ = std::make_unique<postgres_server>(options_);
    auto st = server_->start();
    ASSERT_TRUE(st.ok()) << st.err().message();
    options_.port = server_->port();  // restarts reuse it, so DSNs stay valid
}

void pg_fixture::TearDown() {
    if (server_) {
        auto st = server_->stop();
        EXPECT_TRUE(st.ok()) << st.err().message();
        server_.reset();
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void pg_fixture::stop_postgres() {
    auto st = server_->stop();
    ASSERT_TRUE(st.ok()) << st.err().message();
}

void pg_fixture::start_postgres() {
    server_ = std::make_unique<postgres_server>(options_);
    auto st = server_->start();
    ASSERT_TRUE(st.ok()) << st.err().message();
    ASSERT_EQ(server_->port(), options_.port) << "restarted on another port: clients' DSNs would be stale";
}

http_thread::~http_thread() {
    server_.stop();
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
}

std::string http_thread::start() {
    auto ep = server_.start("127.0.0.1", 0);
    EXPECT_TRUE(ep.ok());
    thread_ = std::thread([this] { io_.run(); });
    return ep.ok() ? ep->to_string() : std::string();
}

}  // namespace millrace::source
