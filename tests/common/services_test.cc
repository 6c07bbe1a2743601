#include "millrace/common/services.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "millrace/common/component.h"

namespace millrace {
namespace {

using config::value_kind;

config::schema test_schema() {
    config::schema s;
    s.add({"kafka.bootstrap", value_kind::string, "", "External Kafka."});
    s.add({"broker.host", value_kind::string, "127.0.0.1", "Broker host."});
    s.add({"broker.port", value_kind::port, "9092", "Broker port."});
    s.add({"cql.contact_points", value_kind::string, "", "External CQL."});
    s.add({"postgres.dsn", value_kind::string, "", "External PostgreSQL."});
    s.add({"postgres.user", value_kind::string, "postgres", "Role."});
    s.add({"postgres.database", value_kind::string, "millrace", "Database."});
    return s;
}

class services_test : public ::testing::Test {
protected:
    component_context context(const config::config& cfg, service_directory* directory) {
        return component_context{io_, cfg, metrics_, clock::system(), file_system::disk(), "", directory};
    }
    config::schema schema_ = test_schema();
    asio::io_context io_;
    metrics::registry metrics_;
};

TEST_F(services_test, configured_port_when_alone) {
    config::config cfg(schema_);
    auto ctx = context(cfg, nullptr);
    EXPECT_EQ(services::kafka_bootstrap(ctx), "127.0.0.1:9092");
    // No cql.host/cql.port declared: the protocol's default address.
    EXPECT_EQ(services::cql_contact_points(ctx), "127.0.0.1:9042");
    EXPECT_EQ(services::http_address(ctx, "scheduler"), std::nullopt);
}

TEST_F(services_test, published_address_beats_configured_port) {
    config::config cfg(schema_);
    service_directory directory;
    directory.publish("broker", "127.0.0.1:40001");
    directory.publish("postgres", "127.0.0.1:40002");
    auto ctx = context(cfg, &directory);
    EXPECT_EQ(services::kafka_bootstrap(ctx), "127.0.0.1:40001");
    EXPECT_EQ(services::postgres_dsn(ctx), "host=127.0.0.1 port=40002 user=postgres dbname=millrace");
}

TEST_F(services_test, part_listening_on_every_interface_is_reached_on_loopback) {
    config::config cfg(schema_);
    service_directory directory;
    directory.publish("broker", "0.0.0.0:9092");
    EXPECT_EQ(services::kafka_bootstrap(context(cfg, &directory)), "127.0.0.1:9092");
}

TEST_F(services_test, external_service_beats_embedded) {
    auto cfg = config::config::load(schema_, "", {"MILLRACE_KAFKA_BOOTSTRAP=kafka-1:9092,kafka-2:9092"},
                                    {{"postgres.dsn", "host=db dbname=x", "flag --dsn"}});
    ASSERT_TRUE(cfg) << cfg.err().message();
    service_directory directory;
    directory.publish("broker", "127.0.0.1:40001");
    directory.publish("postgres", "127.0.0.1:40002");
    auto ctx = context(*cfg, &directory);
    EXPECT_EQ(services::kafka_bootstrap(ctx), "kafka-1:9092,kafka-2:9092");
    EXPECT_EQ(services::postgres_dsn(ctx), "host=db dbname=x");
}

// cql.* and the security.* keys of issue 19, declared here as the app does.
config::schema cql_schema(bool with_security) {
    config::schema s;
    s.add({"data_dir", value_kind::path, "/var/lib/millrace", "Data."});
    s.add({"cql.contact_points", value_kind::string, "", "External CQL."});
    s.add({"cql.username", value_kind::string, "cassandra", "Login."});
    s.add({"cql.password", value_kind::string, "", "Password."});
    s.add({"cql.tls_ca", value_kind::path, "", "CA."});
    if (with_security) {
        s.add({"security.enabled", value_kind::boolean, "false", "Secure."});
        s.add({"security.admin_user", value_kind::string, "admin", "Admin."});
        s.add({"security.admin_password", value_kind::string, "", "Admin password."});
        s.add({"security.tls_ca", value_kind::path, "", "CA."});
    }
    return s;
}

TEST_F(services_test, cql_credentials_plain_by_default) {
    auto schema = cql_schema(false);
    config::config cfg(schema);
    auto login = services::cql_credentials(context(cfg, nullptr));
    EXPECT_EQ(login.username, "");
    EXPECT_EQ(login.password, "");
    EXPECT_EQ(login.tls_ca, "");
}

TEST_F(services_test, cql_credentials_from_cql_keys) {
    auto schema = cql_schema(false);
    auto cfg = config::config::load(schema, "", {}, {{"cql.username", "app", "flag"}, {"cql.password", "pw", "flag"},
                                                     {"cql.tls_ca", "/etc/ca.pem", "flag"}});
    ASSERT_TRUE(cfg) << cfg.err().message();
    auto login = services::cql_credentials(context(*cfg, nullptr));
    EXPECT_EQ(login.username, "app");
    EXPECT_EQ(login.password, "pw");
    EXPECT_EQ(login.tls_ca, "/etc/ca.pem");
}

TEST_F(services_test, cql_credentials_default_to_the_admin_and_generated_ca_when_secure) {
    auto schema = cql_schema(true);
    auto dir = std::filesystem::temp_directory_path() / fmt::format("millrace-services-{}", ::getpid());
    std::filesystem::create_directories(dir / "tls");
    auto cfg = config::config::load(schema, "", {}, {{"security.enabled", "true", "flag"}, {"security.admin_password", "s", "flag"},
                                                     {"data_dir", dir.string(), "flag"}});
    ASSERT_TRUE(cfg) << cfg.err().message();
    auto login = services::cql_credentials(context(*cfg, nullptr));
    EXPECT_EQ(login.username, "admin");
    EXPECT_EQ(login.password, "s");
    EXPECT_EQ(login.tls_ca, "");  // no generated CA: the listeners have no TLS
    std::ofstream(dir / "tls" / "ca.pem") << "-----BEGIN CERTIFICATE-----\n";
    login = services::cql_credentials(context(*cfg, nullptr));
    EXPECT_EQ(login.tls_ca, (dir / "tls" / "ca.pem").string());
    std::filesystem::remove_all(dir);
    // An external cluster gets only what cql.* says.
    auto external = config::config::load(schema, "", {}, {{"security.enabled", "true", "flag"}, {"security.admin_password", "s", "flag"},
                                                          {"cql.contact_points", "db:9042", "flag"}});
    ASSERT_TRUE(external) << external.err().message();
    login = services::cql_credentials(context(*external, nullptr));
    EXPECT_EQ(login.username, "");
    EXPECT_EQ(login.tls_ca, "");
}

}  // namespace
}  // namespace millrace
