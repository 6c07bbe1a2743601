#include "millrace/common/security.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "harness/process.h"
#include "millrace/common/config.h"

namespace millrace::security {
namespace {

using config::value_kind;

// The keys the real schema declares (src/app/options.cc), security.enabled
// included as the TLS work declares it.
config::schema test_schema(bool with_enabled = true) {
    config::schema s;
    s.add({"data_dir", value_kind::path, "./data", "Data."});
    if (with_enabled) s.add({"security.enabled", value_kind::boolean, "false", "On."});
    add_options(s);
    s.add({"kafka.bootstrap", value_kind::string, "", "External Kafka."});
    s.add({"kafka.client_properties", value_kind::string_list, "", "Properties."});
    return s;
}

config::config load(const config::schema& s, std::vector<std::string> env) {
    auto cfg = config::config::load(s, "", env, {});
    EXPECT_TRUE(cfg.ok()) << cfg.err().message();
    return *cfg;
}

std::string property(const std::vector<std::pair<std::string, std::string>>& props, const std::string& name) {
    for (const auto& [n, v] : props) {
        if (n == name) return v;
    }
    return "(absent)";
}

TEST(security_test, admin_password_generated_once_private_and_reused) {
    testing::temp_dir dir;
    auto s = test_schema();
    auto first = load(s, {"MILLRACE_DATA_DIR=" + dir.path() + "/data", "MILLRACE_SECURITY_ENABLED=true"});
    auto generated = ensure_admin_password(first, true);
    ASSERT_TRUE(generated.ok()) << generated.err().message();
    EXPECT_TRUE(*generated);
    std::string password = first.get_string("security.admin_password");
    EXPECT_EQ(password.size(), 32u);
    std::string path = dir.path() + "/data/admin-password";
    EXPECT_EQ(admin_password_path(first), path);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, password);
    // No temp file left beside it.
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path() + "/data")) ++entries;
    EXPECT_EQ(entries, 1u);

    // A second start reads it back and does not announce it again.
    auto second = load(s, {"MILLRACE_DATA_DIR=" + dir.path() + "/data", "MILLRACE_SECURITY_ENABLED=true"});
    auto again = ensure_admin_password(second, true);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(*again);
    EXPECT_EQ(second.get_string("security.admin_password"), password);
    EXPECT_EQ(second.origin("security.admin_password"), "file " + path);
}

TEST(security_test, configured_password_wins_and_no_file_is_written) {
    testing::temp_dir dir;
    auto cfg = load(test_schema(), {"MILLRACE_DATA_DIR=" + dir.path(), "MILLRACE_SECURITY_ADMIN_PASSWORD=s3cret"});
    auto generated = ensure_admin_password(cfg, true);
    ASSERT_TRUE(generated.ok());
    EXPECT_FALSE(*generated);
    EXPECT_EQ(cfg.get_string("security.admin_password"), "s3cret");
    EXPECT_FALSE(std::filesystem::exists(dir.file("admin-password")));
}

TEST(security_test, client_command_reads_but_never_creates) {
    testing::temp_dir dir;
    auto cfg = load(test_schema(), {"MILLRACE_DATA_DIR=" + dir.path()});
    auto generated = ensure_admin_password(cfg, false);
    ASSERT_TRUE(generated.ok());
    EXPECT_FALSE(*generated);
    EXPECT_EQ(cfg.get_string("security.admin_password"), "");
    EXPECT_FALSE(std::filesystem::exists(dir.file("admin-password")));
}

TEST(security_test, concurrent_starts_agree_on_one_password) {
    testing::temp_dir dir;
    auto s = test_schema();
    std::vector<config::config> configs;
    for (int idx = 0; idx < 8; ++idx) configs.push_back(load(s, {"MILLRACE_DATA_DIR=" + dir.path()}));
    std::vector<int> generated(configs.size());
    std::vector<std::thread> threads;
    for (size_t idx = 0; idx < configs.size(); ++idx) {
        threads.emplace_back([&, idx] {
            auto r = ensure_admin_password(configs[idx], true);
            generated[idx] = r.ok() ? (*r ? 1 : 0) : -1;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(std::count(generated.begin(), generated.end(), 1), 1);
    EXPECT_EQ(std::count(generated.begin(), generated.end(), -1), 0);
    for (const auto& cfg : configs) EXPECT_EQ(cfg.get_string("security.admin_password"), configs[0].get_string("security.admin_password"));
}

TEST(security_test, empty_password_file_is_an_error_naming_it) {
    testing::temp_dir dir;
    std::ofstream(dir.file("admin-password")) << "\n";
    auto cfg = load(test_schema(), {"MILLRACE_DATA_DIR=" + dir.path()});
    auto generated = ensure_admin_password(cfg, true);
    ASSERT_FALSE(generated.ok());
    EXPECT_NE(generated.err().message().find(dir.file("admin-password")), std::string::npos) << generated.err().message();
}

TEST(security_test, symlinked_password_file_is_not_followed) {
    testing::temp_dir dir;
    std::ofstream(dir.file("elsewhere")) << "planted\n";
    std::filesystem::create_symlink(dir.file("elsewhere"), dir.file("admin-password"));
    auto cfg = load(test_schema(), {"MILLRACE_DATA_DIR=" + dir.path()});
    auto generated = ensure_admin_password(cfg, true);
    EXPECT_FALSE(generated.ok());
    EXPECT_NE(cfg.get_string("security.admin_password"), "planted");
}

TEST(security_test, kafka_properties_for_embedded_secure_broker) {
    testing::temp_dir dir;
    auto cfg = load(test_schema(), {"MILLRACE_DATA_DIR=" + dir.path(), "MILLRACE_SECURITY_ENABLED=true",
                                    "MILLRACE_SECURITY_ADMIN_PASSWORD=pw"});
    auto props = kafka_client_properties(cfg);
    EXPECT_EQ(property(props, "security.protocol"), "SASL_SSL");
    EXPECT_EQ(property(props, "sasl.mechanism"), "SCRAM-SHA-512");
    EXPECT_EQ(property(props, "sasl.username"), "admin");
    EXPECT_EQ(property(props, "sasl.password"), "pw");
    EXPECT_EQ(property(props, "ssl.ca.location"), dir.path() + "/tls/ca.pem");
}

TEST(security_test, kafka_properties_plain_when_security_off_or_undeclared) {
    testing::temp_dir dir;
    EXPECT_TRUE(kafka_client_properties(load(test_schema(), {"MILLRACE_DATA_DIR=" + dir.path()})).empty());
    // Before the TLS work declares security.enabled, security is off.
    auto undeclared = test_schema(false);
    EXPECT_FALSE(enabled(load(undeclared, {})));
    EXPECT_TRUE(kafka_client_properties(load(undeclared, {})).empty());
}

TEST(security_test, kafka_properties_for_external_cluster_come_from_the_user) {
    // An external cluster is the user's: millrace adds nothing, passes theirs through.
    auto cfg = load(test_schema(), {"MILLRACE_SECURITY_ENABLED=true", "MILLRACE_KAFKA_BOOTSTRAP=kafka:9093",
                                    "MILLRACE_KAFKA_CLIENT_PROPERTIES=security.protocol=SASL_SSL,sasl.mechanism=PLAIN,"
                                    "sasl.username=u,sasl.password=a=b"});
    auto props = kafka_client_properties(cfg);
    ASSERT_EQ(props.size(), 4u);
    EXPECT_EQ(property(props, "sasl.mechanism"), "PLAIN");
    EXPECT_EQ(property(props, "sasl.password"), "a=b");
    EXPECT_EQ(property(props, "ssl.ca.location"), "(absent)");
}

TEST(security_test, user_kafka_properties_override_derived_ones) {
    auto cfg = load(test_schema(), {"MILLRACE_SECURITY_ENABLED=true", "MILLRACE_SECURITY_ADMIN_PASSWORD=pw",
                                    "MILLRACE_KAFKA_CLIENT_PROPERTIES=ssl.ca.location=/etc/ca.pem,debug=security"});
    auto props = kafka_client_properties(cfg);
    EXPECT_EQ(property(props, "ssl.ca.location"), "/etc/ca.pem");
    EXPECT_EQ(property(props, "security.protocol"), "SASL_SSL");
    EXPECT_EQ(property(props, "debug"), "security");
    EXPECT_EQ(std::count_if(props.begin(), props.end(), [](const auto& p) { return p.first == "ssl.ca.location"; }), 1);
}

TEST(security_test, malformed_kafka_property_is_refused_without_its_secret) {
    auto cfg = load(test_schema(), {"MILLRACE_KAFKA_CLIENT_PROPERTIES=sasl.password=x,nonsense"});
    auto st = validate_kafka_client_properties(cfg);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message().find("nonsense"), std::string::npos) << st.err().message();
    EXPECT_TRUE(validate_kafka_client_properties(load(test_schema(), {"MILLRACE_KAFKA_CLIENT_PROPERTIES=a=b"})).ok());
}

TEST(security_test, redacts_passwords_in_urls_and_dsns) {
    EXPECT_EQ(redact_secrets("postgresql://app:s3cret@db.example.com:5432/raw"), "postgresql://app:***@db.example.com:5432/raw");
    EXPECT_EQ(redact_secrets("postgres://app@db/raw"), "postgres://app@db/raw");
    EXPECT_EQ(redact_secrets("host=db user=app password=s3cret dbname=raw"), "host=db user=app password=*** dbname=raw");
    EXPECT_EQ(redact_secrets("host=db password = 'it\\'s x' dbname=raw"), "host=db password = *** dbname=raw");
    EXPECT_EQ(redact_secrets("postgresql://db/raw?user=a&password=s3cret&sslmode=require"),
              "postgresql://db/raw?user=a&password=***&sslmode=require");
    EXPECT_EQ(redact_secrets("[sasl.password=s3cret, debug=all]"), "[sasl.password=***, debug=all]");
    EXPECT_EQ(redact_secrets("https://u:p@h:1/x@y"), "https://u:***@h:1/x@y");
    EXPECT_EQ(redact_secrets("no secrets here"), "no secrets here");
}

TEST(security_test, base64_round_trips_both_alphabets) {
    std::string bytes;
    for (int idx = 0; idx < 256; ++idx) bytes.push_back(static_cast<char>(idx));
    for (size_t length : {0, 1, 2, 3, 4, 5, 255, 256}) {
        std::string part = bytes.substr(0, length), out;
        ASSERT_TRUE(base64_decode(base64_encode(part), out));
        EXPECT_EQ(out, part);
        ASSERT_TRUE(base64_decode(base64_encode(part, true), out));
        EXPECT_EQ(out, part);
    }
    EXPECT_EQ(base64_encode("admin:pw"), "YWRtaW46cHc=");
    std::string out;
    EXPECT_FALSE(base64_decode("YWR*", out));
    EXPECT_FALSE(base64_decode("Y", out));
    // Non-zero padding bits: not the canonical text of any bytes.
    EXPECT_TRUE(base64_decode("YQ", out));
    EXPECT_FALSE(base64_decode("YR", out));
}

TEST(security_test, constant_time_equal_compares_content_and_length) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("", "a"));
    EXPECT_TRUE(constant_time_equal("", ""));
}

}  // namespace
}  // namespace millrace::security
