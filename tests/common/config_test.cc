#include "millrace/common/config.h"

#include <fstream>

#include <gtest/gtest.h>

#include "harness/process.h"

namespace millrace::config {
namespace {

schema test_schema() {
    schema s;
    s.add({"data_dir", value_kind::path, "./data", "Root data directory."});
    s.add({"broker.port", value_kind::port, "9092", "Client port."});
    s.add({"broker.host", value_kind::string, "127.0.0.1", "Listen host."});
    s.add({"broker.segment_bytes", value_kind::size, "1GiB", "Segment size."});
    s.add({"broker.retention", value_kind::duration_ms, "7d", "Retention."});
    s.add({"broker.auto_create", value_kind::boolean, "true", "Auto-create topics."});
    s.add({"broker.partitions", value_kind::integer, "1", "Default partitions.", {}, 1, 10000});
    s.add({"broker.flush", value_kind::choice, "batch", "Flush policy.", {"batch", "interval", "os"}});
    s.add({"cql.contact_points", value_kind::string_list, "127.0.0.1:9042", "Contact points."});
    return s;
}

class config_test : public ::testing::Test {
protected:
    std::string write(const std::string& text) {
        std::string path = dir_.file("millrace.yaml");
        std::ofstream(path) << text;
        return path;
    }
    schema schema_ = test_schema();
    testing::temp_dir dir_;
};

TEST_F(config_test, defaults_parse_with_units) {
    config cfg(schema_);
    EXPECT_EQ(cfg.get_port("broker.port"), 9092);
    EXPECT_EQ(cfg.get_int("broker.segment_bytes"), 1LL << 30);
    EXPECT_EQ(cfg.get_int("broker.retention"), 7LL * 86'400'000);
    EXPECT_TRUE(cfg.get_bool("broker.auto_create"));
    EXPECT_EQ(cfg.get_list("cql.contact_points"), std::vector<std::string>{"127.0.0.1:9042"});
    EXPECT_EQ(cfg.origin("broker.port"), "default");
}

TEST_F(config_test, file_then_env_then_flags_in_precedence_order) {
    auto path = write("broker:\n  port: 1000\n  host: 0.0.0.0\n  partitions: 3\ndata_dir: /tmp/x\n");
    auto cfg = config::load(schema_, path, {"MILLRACE_BROKER_PORT=2000", "MILLRACE_BROKER_PARTITIONS=4", "HOME=/root"},
                            {{"broker.port", "3000", "flag --port"}});
    ASSERT_TRUE(cfg.ok()) << cfg.err().message();
    EXPECT_EQ(cfg->get_port("broker.port"), 3000);
    EXPECT_EQ(cfg->origin("broker.port"), "flag --port");
    EXPECT_EQ(cfg->get_int("broker.partitions"), 4);
    EXPECT_EQ(cfg->origin("broker.partitions"), "env MILLRACE_BROKER_PARTITIONS");
    EXPECT_EQ(cfg->get_string("broker.host"), "0.0.0.0");
    EXPECT_EQ(cfg->origin("broker.host"), path + ":3:9");
    EXPECT_EQ(cfg->get_string("data_dir"), "/tmp/x");
}

TEST_F(config_test, unknown_key_names_file_line_and_suggestion) {
    auto path = write("broker:\n  prot: 9093\n");
    auto cfg = config::load(schema_, path, {}, {});
    ASSERT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.err().message(), path + ":2:3: broker.prot: unknown key (did you mean broker.port?)");
}

TEST_F(config_test, bad_port_names_key_and_location) {
    auto path = write("broker:\n  port: 70000\n");
    auto cfg = config::load(schema_, path, {}, {});
    ASSERT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.err().message(), path + ":2:9: broker.port: 70000 is not a port (0..65535)");
}

TEST_F(config_test, wrong_type_is_reported) {
    auto path = write("broker:\n  auto_create: maybe\n");
    auto cfg = config::load(schema_, path, {}, {});
    ASSERT_FALSE(cfg.ok());
    EXPECT_NE(cfg.err().message().find("broker.auto_create: 'maybe' is not a boolean"), std::string::npos);
}

TEST_F(config_test, section_given_a_scalar_is_an_error) {
    auto path = write("broker: 9092\n");
    auto cfg = config::load(schema_, path, {}, {});
    ASSERT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.err().message(), path + ":1:1: broker: is a section and needs a mapping of keys");
}

TEST_F(config_test, yaml_syntax_error_has_position) {
    auto path = write("broker:\n  port: [1, 2\n");
    auto cfg = config::load(schema_, path, {}, {});
    ASSERT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.err().message().rfind(path + ":", 0), 0u) << cfg.err().message();
}

TEST_F(config_test, missing_file_is_named) {
    auto cfg = config::load(schema_, dir_.file("nope.yaml"), {}, {});
    ASSERT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.err().code(), errc::not_found);
    EXPECT_NE(cfg.err().message().find("nope.yaml: cannot read config file"), std::string::npos);
}

TEST_F(config_test, unknown_env_variable_is_rejected_with_suggestion) {
    auto cfg = config::load(schema_, "", {"MILLRACE_BROKER_PROT=1"}, {});
    ASSERT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.err().message(), "env MILLRACE_BROKER_PROT: unknown setting (did you mean MILLRACE_BROKER_PORT?)");
}

TEST_F(config_test, bad_env_value_names_variable) {
    auto cfg = config::load(schema_, "", {"MILLRACE_BROKER_PARTITIONS=0"}, {});
    ASSERT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.err().message(), "env MILLRACE_BROKER_PARTITIONS: broker.partitions: 0 is out of range (1..10000)");
}

TEST_F(config_test, lists_from_yaml_sequences_and_comma_strings) {
    auto path = write("cql:\n  contact_points: [a:1, b:2]\n");
    auto cfg = config::load(schema_, path, {}, {});
    ASSERT_TRUE(cfg.ok()) << cfg.err().message();
    EXPECT_EQ(cfg->get_list("cql.contact_points"), (std::vector<std::string>{"a:1", "b:2"}));
    auto from_env = config::load(schema_, "", {"MILLRACE_CQL_CONTACT_POINTS=x:1, y:2"}, {});
    ASSERT_TRUE(from_env.ok());
    EXPECT_EQ(from_env->get_list("cql.contact_points"), (std::vector<std::string>{"x:1", "y:2"}));
}

TEST_F(config_test, size_and_duration_units) {
    key_spec size_spec{"s", value_kind::size, "0", ""};
    EXPECT_EQ(std::get<int64_t>(parse_value(size_spec, "64MiB").value()), 64LL << 20);
    EXPECT_EQ(std::get<int64_t>(parse_value(size_spec, "100").value()), 100);
    EXPECT_FALSE(parse_value(size_spec, "10MB").ok());
    EXPECT_FALSE(parse_value(size_spec, "lots").ok());
    EXPECT_FALSE(parse_value(size_spec, "99999999999TiB").ok());
    key_spec duration{"d", value_kind::duration_ms, "0", ""};
    EXPECT_EQ(std::get<int64_t>(parse_value(duration, "250ms").value()), 250);
    EXPECT_EQ(std::get<int64_t>(parse_value(duration, "2m").value()), 120'000);
}

TEST_F(config_test, choice_lists_options_on_error) {
    auto cfg = config::load(schema_, "", {}, {{"broker.flush", "always", "flag --flush"}});
    ASSERT_FALSE(cfg.ok());
    EXPECT_EQ(cfg.err().message(), "flag --flush: broker.flush: 'always' is not one of: batch, interval, os");
}

TEST_F(config_test, example_yaml_documents_every_key_and_loads_back_to_defaults) {
    std::string text = example_yaml(schema_);
    for (const auto& spec : schema_.keys()) {
        EXPECT_NE(text.find(env_name(spec.key)), std::string::npos) << spec.key;
    }
    auto cfg = config::load(schema_, write(text), {}, {});
    ASSERT_TRUE(cfg.ok()) << cfg.err().message() << "\n" << text;
    config defaults(schema_);
    for (const auto& spec : schema_.keys()) EXPECT_EQ(cfg->text(spec.key), defaults.text(spec.key)) << spec.key;
}

}  // namespace
}  // namespace millrace::config
