// A real PostgreSQL for one test: initdb into a fresh temp dir, pg_ctl on an
// ephemeral port (as the postgres user when we are root), waited for by a
// libpq connect loop with a deadline, always stopped in TearDown.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <gtest/gtest.h>

#include "millrace/common/http.h"
#include "millrace/source/postgres.h"

namespace millrace::source {

class pg_fixture : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    // Stops the server (as a crash of the raw store would look to clients).
    void stop_postgres();
    // Starts it again on the same port.
    void start_postgres();

    std::string dsn() const { return server_->dsn(); }

    std::string dir_;
    postgres_options options_;
    std::unique_ptr<postgres_server> server_;
};

// An http::server on its own io_context thread, for API tests.
class http_thread {
public:
    http_thread() : server_(io_, "test-api") {}
    ~http_thread();
    http::server& server() { return server_; }
    // Starts on 127.0.0.1:0; returns "host:port".
    std::string start();

private:
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
    http::server server_;
    std::thread thread_;
};

}  // namespace millrace::source
