// The CLI contract, tested on the real binary.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "harness/process.h"

namespace millrace::testing {
namespace {

struct run_result {
    int exit_code;
    std::string out;
    std::string err;
};

run_result run(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), millrace_binary());
    process p(args, env);
    auto code = p.wait(30s);
    EXPECT_TRUE(code.has_value()) << "millrace did not exit";
    return {code.value_or(-1), p.stdout_text(), p.stderr_text()};
}

// `up` runs every built component; tests give each an ephemeral port.
const std::vector<std::string> k_ephemeral_ports = {
    "--set", "broker.port=0",    "--set", "cql.port=0",      "--set", "source.port=0",  "--set", "postgres.port=0",
    "--set", "scheduler.port=0", "--set", "registry.port=0", "--set", "console.port=0"};

size_t line_count(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

TEST(cli_test, bad_config_key_prints_one_line_and_exits_2) {
    temp_dir dir;
    std::string bad = dir.file("bad.yaml");
    std::ofstream(bad) << "# a comment\nbroker:\n  prot: 9092\n";
    auto r = run({"--config", bad, "broker"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "millrace: config error: " + bad + ":3:3: broker.prot: unknown key (did you mean broker.port?)\n");
    EXPECT_EQ(r.out, "");
}

TEST(cli_test, bad_port_from_env_names_the_variable) {
    auto r = run({"up"}, {"MILLRACE_UP_ADMIN_PORT=99999"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "millrace: config error: env MILLRACE_UP_ADMIN_PORT: up.admin_port: 99999 is not a port (0..65535)\n");
}

TEST(cli_test, unknown_flag_and_command_exit_2) {
    auto flag = run({"broker", "--prot", "1"});
    EXPECT_EQ(flag.exit_code, 2);
    EXPECT_EQ(line_count(flag.err), 1u);
    EXPECT_NE(flag.err.find("millrace broker: unknown option --prot"), std::string::npos) << flag.err;
    auto command = run({"brokr"});
    EXPECT_EQ(command.exit_code, 2);
    EXPECT_EQ(command.err, "millrace: unknown command 'brokr' (see millrace --help)\n");
}

TEST(cli_test, every_command_has_help) {
    for (std::string command : {"broker", "cql", "cdc", "process", "scheduler", "source", "postgres", "up", "version", "config",
                                "variables", "connections"}) {
        auto r = run({command, "--help"});
        EXPECT_EQ(r.exit_code, 0) << command;
        EXPECT_NE(r.out.find("Usage: millrace " + command), std::string::npos) << r.out;
    }
    // Airflow's own CLI words are top-level commands, listed in the general help.
    auto general = run({"--help"});
    EXPECT_NE(general.out.find("variables set <key> <value>"), std::string::npos) << general.out;
    EXPECT_NE(general.out.find("connections add <conn_id> <uri>"), std::string::npos) << general.out;
    auto vars_usage = run({"variables", "frobnicate"});
    EXPECT_EQ(vars_usage.exit_code, 2);
    EXPECT_NE(vars_usage.err.find("usage: millrace variables set"), std::string::npos) << vars_usage.err;
    auto broker = run({"broker", "--help"});
    EXPECT_NE(broker.out.find("--admin-port"), std::string::npos);
    EXPECT_NE(broker.out.find("MILLRACE_BROKER_PORT"), std::string::npos);
}

TEST(cli_test, version_prints_name_and_version) {
    auto r = run({"version"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.rfind("millrace 0.", 0), 0u) << r.out;
    // The librdkafka built by scripts/deps/librdkafka, not Debian's 2.0.2:
    // SCRAM against Kafka 4 needs at least 2.6.1.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(librdkafka (\d+)\.(\d+)\.(\d+))"))) << r.out;
    int major = std::stoi(m[1]), minor = std::stoi(m[2]), patch = std::stoi(m[3]);
    EXPECT_GE(major * 10000 + minor * 100 + patch, 20601) << r.out;
}

TEST(cli_test, committed_example_config_matches_the_schema) {
    auto r = run({"config", "example"});
    ASSERT_EQ(r.exit_code, 0);
    std::ifstream committed(source_dir() + "/millrace.example.yaml");
    std::stringstream text;
    text << committed.rdbuf();
    EXPECT_EQ(text.str(), r.out) << "millrace.example.yaml is stale: run `build/millrace config example > millrace.example.yaml`";
    // And the example loads back cleanly.
    auto show = run({"--config", source_dir() + "/millrace.example.yaml", "config", "show"});
    EXPECT_EQ(show.exit_code, 0) << show.err;
    EXPECT_NE(show.out.find("broker.port: 9092  # " + source_dir() + "/millrace.example.yaml:"), std::string::npos)
        << show.out;
}

TEST(cli_test, config_show_reports_precedence) {
    temp_dir dir;
    std::string file = dir.file("m.yaml");
    std::ofstream(file) << "broker:\n  port: 1111\n  admin_port: 2222\ncql:\n  port: 3333\n";
    auto r = run({"--config", file, "config", "show", "--set", "broker.port=4444"}, {"MILLRACE_BROKER_ADMIN_PORT=5555"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("broker.port: 4444  # flag --set broker.port\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("broker.admin_port: 5555  # env MILLRACE_BROKER_ADMIN_PORT\n"), std::string::npos);
    EXPECT_NE(r.out.find("cql.port: 3333  # " + file + ":5:9\n"), std::string::npos);
}

TEST(cli_test, client_commands_data_dir_is_the_root) {
    // Client commands find the servers' admin password and CA under data_dir:
    // --data-dir is that root for them (as for up), not scheduler.data_dir.
    for (const char* command : {"config", "dags", "variables", "status", "jobs"}) {
        std::vector<std::string> args = {command};
        if (std::string(command) != "config") args = {command, "--help"};
        else args = {"config", "show", "--data-dir", "/srv/millrace"};
        auto r = run(args);
        ASSERT_EQ(r.exit_code, 0) << command << ": " << r.err;
        if (std::string(command) == "config") {
            std::string shown = "\n" + r.out;
            EXPECT_NE(shown.find("\ndata_dir: /srv/millrace  # flag --data-dir\n"), std::string::npos) << r.out;
            EXPECT_NE(shown.find("\nscheduler.data_dir:   # default\n"), std::string::npos) << r.out;
        } else {
            EXPECT_NE(r.out.find("--data-dir"), std::string::npos) << command << " --help:\n" << r.out;
        }
    }
}

TEST(cli_test, up_serves_admin_endpoint_and_stops_cleanly_on_sigterm) {
    temp_dir dir;
    auto s = start_server("up", dir.file("data"), k_ephemeral_ports, /*with_port=*/false);
    ASSERT_TRUE(s.proc);
    EXPECT_NE(s.proc->stdout_text().find("broker"), std::string::npos) << "status block lists components";
    auto health = http_request(s.admin, "GET", "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(http_request(s.admin, "GET", "/readyz").status, 200);
    auto metrics = http_request(s.admin, "GET", "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("# TYPE process_resident_memory_bytes gauge"), std::string::npos) << metrics.body;
    EXPECT_EQ(s.proc->stop(SIGTERM), 0) << s.proc->stderr_text();
    EXPECT_NE(s.proc->stderr_text().find("stopped cleanly"), std::string::npos);
}

TEST(cli_test, up_stops_cleanly_on_sigint) {
    temp_dir dir;
    auto s = start_server("up", dir.file("data"), k_ephemeral_ports, false);
    ASSERT_TRUE(s.proc);
    EXPECT_EQ(s.proc->stop(SIGINT), 0) << s.proc->stderr_text();
}

TEST(cli_test, admin_port_in_use_is_one_clear_line_and_exit_2) {
    temp_dir dir;
    auto first = start_server("up", dir.file("a"), k_ephemeral_ports, false);
    ASSERT_TRUE(first.proc);
    std::string port = first.admin.substr(first.admin.rfind(':') + 1);
    std::vector<std::string> args = {"up", "--data-dir", dir.file("b"), "--admin-port", port};
    args.insert(args.end(), k_ephemeral_ports.begin(), k_ephemeral_ports.end());
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "millrace: admin: cannot listen on 127.0.0.1:" + port +
                         ": Address already in use; is another instance running? set up.admin_port to a free port\n");
}

TEST(cli_test, up_uses_an_external_kafka_and_reports_it_in_status) {
    temp_dir dir;
    // The external Kafka is a standalone millrace broker: any Kafka will do.
    auto kafka = start_server("broker", dir.file("kafka"));
    ASSERT_TRUE(kafka.proc);
    std::vector<std::string> args = k_ephemeral_ports;
    args.insert(args.end(), {"--set", "kafka.bootstrap=" + kafka.address, "--set", "up.disable=source"});
    auto up = start_server("up", dir.file("data"), args, false);
    ASSERT_TRUE(up.proc);
    std::string block = up.proc->stdout_text();
    EXPECT_NE(block.find("broker     " + kafka.address), std::string::npos) << block;
    EXPECT_NE(block.find("external (kafka.bootstrap)"), std::string::npos) << block;
    EXPECT_NE(block.find("disabled (up.disable)"), std::string::npos) << block;
    // The embedded broker did not start: its data directory does not exist.
    EXPECT_FALSE(std::filesystem::exists(dir.file("data") + "/broker"));

    auto status = http_request(up.admin, "GET", "/status");
    EXPECT_EQ(status.status, 200);
    EXPECT_NE(status.body.find("{\"name\":\"broker\",\"address\":\"" + kafka.address + "\",\"state\":\"external (kafka.bootstrap)\"}"),
              std::string::npos)
        << status.body;
    std::string admin_port = up.admin.substr(up.admin.rfind(':') + 1);
    auto printed = run({"status", "--admin-port", admin_port});
    EXPECT_EQ(printed.exit_code, 0) << printed.err;
    EXPECT_NE(printed.out.find("external (kafka.bootstrap)"), std::string::npos) << printed.out;
    EXPECT_NE(printed.out.find("users: 0 fetched"), std::string::npos) << printed.out;
    EXPECT_EQ(up.proc->stop(SIGTERM), 0) << up.proc->stderr_text();
}

TEST(cli_test, up_with_unreachable_external_service_is_one_line_and_exit_2) {
    temp_dir dir;
    // A port nothing listens on: bind one, close it.
    auto closed = start_server("broker", dir.file("gone"));
    ASSERT_TRUE(closed.proc);
    std::string address = closed.address;
    EXPECT_EQ(closed.proc->stop(SIGTERM), 0);
    std::vector<std::string> args = {"up", "--data-dir", dir.file("data"), "--set", "cql.contact_points=" + address};
    args.insert(args.end(), k_ephemeral_ports.begin(), k_ephemeral_ports.end());
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(line_count(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("millrace up: cql: the external service cql.contact_points = " + address), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Connection refused"), std::string::npos) << r.err;
}

TEST(cli_test, up_disable_with_unknown_component_exits_2) {
    temp_dir dir;
    auto r = run({"up", "--data-dir", dir.file("data"), "--set", "up.disable=broker,spark"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "millrace up: up.disable (flag --set up.disable) names 'spark', which is not a component "
                     "(broker, registry, cql, postgres, source, cdc, process, scheduler, console)\n");
}

TEST(cli_test, status_without_a_running_up_says_so) {
    auto r = run({"status", "--admin-port", "1"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no millrace up answers on 127.0.0.1:1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace millrace::testing
