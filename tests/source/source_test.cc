#include "millrace/source/source.h"

#include <filesystem>

#include <asio/executor_work_guard.hpp>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "harness/process.h"
#include "json.h"
#include "millrace/source/pg_writer.h"
#include "millrace/source/postgres.h"

namespace millrace::source {
namespace {

// The keys the app declares for every server component, plus ours.
config::schema make_schema() {
    config::schema s;
    s.add({"data_dir", config::value_kind::path, "./data", "root"});
    s.add({"source.host", config::value_kind::string, "127.0.0.1", "host"});
    s.add({"source.port", config::value_kind::port, "8090", "port"});
    s.add({"source.admin_port", config::value_kind::port, "9467", "admin port"});
    s.add({"source.data_dir", config::value_kind::path, "", "dir"});
    add_options(s);
    return s;
}

class source_test : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/millrace-source-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
        ::chmod(dir_.c_str(), 0755);
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    config::config load(std::vector<config::override_value> overrides) {
        auto cfg = config::config::load(schema_, "", {}, overrides);
        EXPECT_TRUE(cfg.ok()) << cfg.err().message();
        return *cfg;
    }
    config::schema schema_ = make_schema();
    std::string dir_;
};

TEST_F(source_test, component_serves_the_api_and_stops) {
    auto cfg = load({{"source.port", "0", "test"}});
    asio::io_context io(1);
    metrics::registry registry;
    component_context ctx{io, cfg, registry, millrace::clock::system(), file_system::disk(), dir_};
    auto part = make_source(ctx);
    EXPECT_EQ(part->name(), "source");
    auto ep = part->start();
    ASSERT_TRUE(ep.ok()) << ep.err().message();
    ASSERT_TRUE(ep->has_value());
    auto guard = asio::make_work_guard(io);
    std::thread io_thread([&] { io.run(); });
    auto res = testing::http_request((*ep)->to_string(), "GET", "/api/?results=3&seed=x");
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(json::parse(res.body)->find("results")->items.size(), 3u);
    asio::post(io, [&] { part->stop(); });
    guard.reset();
    io_thread.join();
}

TEST_F(source_test, fetch_command_stores_users_and_prints_a_summary) {
    auto cfg = load({{"postgres.port", "0", "test"},
                     {"postgres.data_dir", dir_ + "/pg", "test"},
                     {"source.count", "1200", "test"},
                     {"source.batch_size", "500", "test"}});
    ::testing::internal::CaptureStdout();
    int code = run_source_command(cfg, {"fetch"});
    std::string out = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(code, 0);
    EXPECT_NE(out.find("progress 500/1200 users"), std::string::npos) << out;
    EXPECT_NE(out.find("fetched 1200, stored 1200, duplicates 0, errors 0"), std::string::npos) << out;
    // The command stopped the server it started; a second run finds the cluster and adds nothing.
    ::testing::internal::CaptureStdout();
    code = run_source_command(cfg, {"fetch"});
    out = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(code, 0);
    EXPECT_NE(out.find("fetched 1200, stored 0, duplicates 1200"), std::string::npos) << out;
}

TEST_F(source_test, postgres_part_moves_off_a_taken_port) {
    asio::io_context io(1);
    asio::ip::tcp::acceptor taken(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const uint16_t taken_port = taken.local_endpoint().port();
    auto cfg = load({{"postgres.port", std::to_string(taken_port), "test"}, {"postgres.data_dir", dir_ + "/pg", "test"}});
    metrics::registry registry;
    component_context ctx{io, cfg, registry, millrace::clock::system(), file_system::disk(), dir_};
    auto part = make_postgres(ctx);
    auto ep = part->start();
    ASSERT_TRUE(ep.ok()) << ep.err().message();
    ASSERT_TRUE(ep->has_value());
    EXPECT_NE((*ep)->port, taken_port);
    const std::string passfile = dir_ + "/pg/millrace.pgpass";  // SCRAM: the generated password (issue 19)
    EXPECT_TRUE(wait_until_accepting(fmt::format("host=127.0.0.1 port={} user=postgres dbname=millrace passfile={}", (*ep)->port, passfile), 5000).ok());
    // Logical replication is configured (the CDC part needs it).
    postgres_options external;
    external.dsn = fmt::format("host=127.0.0.1 port={} user=postgres dbname=millrace passfile={}", (*ep)->port, passfile);
    postgres_server check(external);
    EXPECT_TRUE(check.start().ok());
    part->stop();
}

TEST_F(source_test, unknown_subcommand_is_usage_error) {
    auto cfg = load({});
    EXPECT_EQ(run_source_command(cfg, {"frobnicate"}), 2);
}

TEST_F(source_test, unreachable_external_dsn_is_a_clear_error) {
    postgres_options o;
    o.dsn = "host=127.0.0.1 port=1 dbname=x connect_timeout=2";
    postgres_server server(o);
    auto st = server.start();
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message().find("cannot connect to PostgreSQL at postgres.dsn"), std::string::npos)
        << st.err().message();
}

}  // namespace
}  // namespace millrace::source
