// The `millrace` binary: parses the command line, loads the configuration and
// hands over to the command. Exit codes: 0 success, 2 bad usage, bad config or
// failed start (one line on stderr says why), 3 component not built yet.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <csignal>

#include <execinfo.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include "cli.h"
#include "host.h"
#include "jobs_list.h"
#include "jobs_sql.h"
#include "millrace/cdc/cdc.h"
#include "millrace/console/console.h"
#include "millrace/cql/server.h"
#include "millrace/cql_client/shell.h"
#include "millrace/kafka/broker.h"
#include "millrace/common/security.h"
#include "millrace/registry/registry.h"
#include "millrace/processor/processor.h"
#include "millrace/scheduler/scheduler.h"
#include "millrace/source/postgres.h"
#include "millrace/source/source.h"
#include "options.h"
#include "status.h"

extern char** environ;

namespace millrace::app {
namespace {

constexpr int k_exit_usage = 2;
constexpr int k_exit_not_built = 3;

std::vector<std::string> environment() {
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
    return env;
}

std::string getenv_or_empty(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
}

// The components built so far, by command.
using factory_fn = std::unique_ptr<component> (*)(component_context&);
factory_fn find_factory(const std::string& command) {
    static const std::map<std::string, factory_fn> factories = {
        {"broker", kafka::make_broker},
        {"cdc", cdc::make_cdc},
        {"cql", cql::make_cql},
        {"postgres", source::make_postgres},
        {"process", processor::make_processor},
        {"source", source::make_source},
        {"registry", registry::make_registry},
        {"scheduler", scheduler::make_scheduler},
        {"console", console::make_console},
    };
    auto it = factories.find(command);
    return it == factories.end() ? nullptr : it->second;
}

// Builds the component for `info`; nullptr while it is not built yet.
std::unique_ptr<component> make_component(const component_info& info, component_context& ctx) {
    factory_fn make = find_factory(info.command);
    return make ? make(ctx) : nullptr;
}

// The parts `up` starts: every component, less those turned off (up.disable)
// and those an external service replaces.
status plan_up(const config::config& cfg, host_plan& plan) {
    const auto& disabled = cfg.get_list("up.disable");
    for (const auto& name : disabled) {
        if (find_component(name) == nullptr) {
            std::string known;
            for (const auto& c : components()) known += (known.empty() ? "" : ", ") + c.command;
            return make_error(errc::invalid_argument, "up.disable ({}) names '{}', which is not a component ({})",
                              cfg.origin("up.disable"), name, known);
        }
    }
    const std::map<std::string, std::string> external_keys = {{"broker", "kafka.bootstrap"}, {"cql", "cql.contact_points"}};
    for (const auto& c : components()) {
        if (std::find(disabled.begin(), disabled.end(), c.command) != disabled.end()) {
            plan.not_started.push_back({c.command, "-", "disabled (up.disable)"});
            continue;
        }
        auto external = external_keys.find(c.command);
        if (external != external_keys.end() && !cfg.get_string(external->second).empty()) {
            const std::string& address = cfg.get_string(external->second);
            uint16_t default_port = c.command == "cql" ? 9042 : 9092;
            if (auto reached = net::probe_tcp(address, default_port, std::chrono::seconds(5)); !reached) {
                return make_error(errc::unavailable,
                                  "{}: the external service {} = {} ({}) cannot be reached: {}; start it, fix {}, or "
                                  "leave it empty to run the embedded {}",
                                  c.command, external->second, address, cfg.origin(external->second),
                                  reached.err().message(), external->second, c.command);
            }
            plan.not_started.push_back({c.command, cfg.get_string(external->second), "external (" + external->second + ")"});
            continue;
        }
        plan.parts.push_back(&c);
    }
    plan.admin_port_key = "up.admin_port";
    plan.print_status_block = true;
    plan.probe_targets_for = [&cfg](const service_directory& directory) {
        probe_targets t;
        t.kafka_bootstrap = cfg.get_string("kafka.bootstrap");
        if (t.kafka_bootstrap.empty()) t.kafka_bootstrap = directory.find("broker").value_or("");
        t.cql_contact_points = cfg.get_string("cql.contact_points");
        if (t.cql_contact_points.empty()) t.cql_contact_points = directory.find("cql").value_or("");
        // The probe logs in as millrace's other clients do (TLS, SASL, CQL roles with --secure).
        t.kafka_properties = security::kafka_client_properties(cfg);
        auto login = services::cql_credentials(cfg);
        t.cql_username = login.username;
        t.cql_password = login.password;
        t.cql_tls_ca = login.tls_ca;
        t.topic = cfg.get_string("up.status_topic");
        t.group = cfg.get_string("up.status_group");
        t.table = cfg.get_string("up.status_table");
        const auto& tables = cfg.get_list("cdc.tables");
        if (!tables.empty()) t.users_table = tables.front();
        if (auto dsn = source::dsn_with_password(cfg)) t.postgres_dsn = *dsn;
        return t;
    };
    return {};
}

int run_config_command(const config::config& cfg, const std::vector<std::string>& args) {
    if (args.size() == 1 && args[0] == "example") {
        std::fputs(config::example_yaml(schema()).c_str(), stdout);
        return 0;
    }
    if (args.size() == 1 && args[0] == "show") {
        for (const auto& spec : schema().keys()) {
            // Secrets never printed: a password key shows "***", property lists and DSNs their redacted form.
            std::string value = security::redact_secrets(cfg.text(spec.key));
            bool secret = spec.key.size() >= 8 && spec.key.compare(spec.key.size() - 8, 8, "password") == 0;
            if (secret && !value.empty()) value = "***";
            std::printf("%s: %s  # %s\n", spec.key.c_str(), value.c_str(), cfg.origin(spec.key).c_str());
        }
        return 0;
    }
    std::fprintf(stderr, "millrace: usage: millrace config example|show\n");
    return k_exit_usage;
}

// `millrace [global options] cql shell <cqlsh words>`: the global options (and
// `cql`'s own) choose the configuration, whose CQL store, login and CA are the
// shell's defaults, as a cqlshrc's would be (docs/security.md).
int run_cql_shell(const std::vector<std::string>& head, const std::vector<std::string>& words) {
    auto inv = parse_args(head);
    if (!inv) {
        std::fprintf(stderr, "millrace: %s\n", inv.err().message().c_str());
        return k_exit_usage;
    }
    std::string config_file = inv->config_file.empty() ? getenv_or_empty("MILLRACE_CONFIG") : inv->config_file;
    auto cfg = config::config::load(schema(), config_file, environment(), inv->overrides);
    if (!cfg) {
        std::fprintf(stderr, "millrace: config error: %s\n", cfg.err().message().c_str());
        return k_exit_usage;
    }
    if (auto read = security::ensure_admin_password(*cfg, false); !read) {
        std::fprintf(stderr, "millrace cql shell: %s\n", read.err().message().c_str());
        return k_exit_usage;
    }
    cql_client::shell_defaults defaults;
    std::string address = cfg->get_string("cql.contact_points");
    address = address.substr(0, address.find(','));
    if (address.empty()) {
        defaults.host = cfg->get_string("cql.host");
        if (defaults.host == "0.0.0.0" || defaults.host.empty()) defaults.host = "127.0.0.1";
        if (defaults.host == "::") defaults.host = "::1";
        defaults.port = std::to_string(cfg->get_port("cql.port"));
    } else if (address.front() == '[') {  // [v6]:port
        auto close = address.find(']');
        defaults.host = address.substr(1, close - 1);
        if (close + 1 < address.size() && address[close + 1] == ':') defaults.port = address.substr(close + 2);
    } else if (auto colon = address.rfind(':'); colon != std::string::npos && address.find(':') == colon) {
        defaults.host = address.substr(0, colon);
        defaults.port = address.substr(colon + 1);
    } else {
        defaults.host = address;
    }
    auto login = services::cql_credentials(*cfg);
    defaults.username = login.username;
    defaults.password = login.password;
    defaults.tls_ca = login.tls_ca;
    return cql_client::run_shell(words, defaults);
}

int run(int argc, char** argv) {
    // `jobs validate|explain` need no configuration: the compiler on files.
    if (std::vector<std::string> all(argv, argv + argc); is_jobs_sql_command(all)) return run_jobs_sql_command(all);
    // `cql shell [host [port]] -e ...` takes cqlsh's arguments, not config flags
    // (those go before `cql`).
    for (int idx = 1; idx + 1 < argc; ++idx) {
        if (std::string(argv[idx]) == "cql" && std::string(argv[idx + 1]) == "shell") {
            return run_cql_shell(std::vector<std::string>(argv, argv + idx + 1), std::vector<std::string>(argv + idx + 2, argv + argc));
        }
    }
    // `dags trigger --conf JSON --wait`, `dags backfill --dry-run ...` are not config keys: set them aside before parsing flags.
    std::vector<std::string> words(argv, argv + argc), conf_args;
    if (std::find(words.begin(), words.end(), "dags") != words.end()) {
        for (auto it = words.begin(); it != words.end();) {
            if ((*it == "--conf" || *it == "--reprocess-behavior") && it + 1 != words.end()) {
                conf_args.insert(conf_args.end(), {*it, *(it + 1)});
                it = words.erase(it, it + 2);
            } else if (*it == "--wait" || *it == "--dry-run" || *it == "--only-failed" || *it == "--downstream") {
                conf_args.push_back(*it);
                it = words.erase(it);
            } else {
                ++it;
            }
        }
    }
    // `jobs list --json` is not a config key either.
    bool jobs_json = false;
    if (std::find(words.begin(), words.end(), "jobs") != words.end()) {
        if (auto it = std::find(words.begin(), words.end(), "--json"); it != words.end()) {
            jobs_json = true;
            words.erase(it);
        }
    }
    // `postgres --print-dsn` prints the managed server's DSN with its password and exits.
    bool print_dsn = false;
    if (std::find(words.begin(), words.end(), "postgres") != words.end()) {
        if (auto it = std::find(words.begin(), words.end(), "--print-dsn"); it != words.end()) {
            print_dsn = true;
            words.erase(it);
        }
    }
    auto inv = parse_args(words);
    if (!inv) {
        std::fprintf(stderr, "millrace: %s\n", inv.err().message().c_str());
        return k_exit_usage;
    }
    if (inv->version || (inv->command == "version" && !inv->help)) {
        std::printf("millrace %s (%s), librdkafka %s\n", MILLRACE_VERSION, MILLRACE_BUILD_TYPE, rd_kafka_version_str());
        return 0;
    }
    if (inv->command.empty() || inv->help) {
        std::fputs((inv->command.empty() ? general_help() : command_help(inv->command)).c_str(), stdout);
        return inv->help ? 0 : k_exit_usage;
    }

    std::string config_file = inv->config_file.empty() ? getenv_or_empty("MILLRACE_CONFIG") : inv->config_file;
    auto cfg = config::config::load(schema(), config_file, environment(), inv->overrides);
    if (!cfg) {
        std::fprintf(stderr, "millrace: config error: %s\n", cfg.err().message().c_str());
        return k_exit_usage;
    }
    log::configure(log::parse_level(cfg->get_string("log.level")).value(),
                   log::parse_format(cfg->get_string("log.format")).value());

    // The contract every part relies on: from here on, security.admin_password
    // holds the admin password (generated once by a server when security is
    // on; read from <data_dir>/admin-password by client commands).
    bool serving = inv->command == "up" || find_component(inv->command) != nullptr;
    if (inv->command == "source" && !inv->args.empty() && !(inv->args.size() == 1 && inv->args.front() == "serve")) {
        serving = false;
    }
    if (print_dsn) serving = false;
    auto generated = security::ensure_admin_password(*cfg, serving && security::enabled(*cfg));
    if (!generated) {
        std::fprintf(stderr, "millrace: %s\n", generated.err().message().c_str());
        return k_exit_usage;
    }
    if (auto st = security::validate_kafka_client_properties(*cfg); !st) {
        std::fprintf(stderr, "millrace: config error: %s\n", st.err().message().c_str());
        return k_exit_usage;
    }

    if (inv->command == "config") return run_config_command(*cfg, inv->args);
    if (inv->command == "status") return run_status_command(*cfg);

    if (inv->command == "dags") {
        inv->args.insert(inv->args.end(), conf_args.begin(), conf_args.end());
        return scheduler::run_dags_command(*cfg, inv->args);
    }
    if (inv->command == "tasks") return scheduler::run_tasks_command(*cfg, inv->args);
    // Airflow's own CLI words; `dags variables|connections ...` stays as an alias.
    if (inv->command == "variables") return scheduler::run_variables_command(*cfg, inv->args);
    if (inv->command == "connections") return scheduler::run_connections_command(*cfg, inv->args);
    if (inv->command == "jobs" && !inv->args.empty() && inv->args.front() == "list") {
        if (jobs_json) inv->args.push_back("--json");
        return run_jobs_list_command(*cfg, inv->args);
    }
    if (print_dsn && inv->command == "postgres") {
        auto dsn = source::dsn_with_password(*cfg);
        if (!dsn) {
            std::fprintf(stderr, "millrace postgres --print-dsn: %s\n", dsn.err().message().c_str());
            return 1;
        }
        std::printf("%s\n", dsn->c_str());
        return 0;
    }
    if (inv->command == "source" && !inv->args.empty()) {
        // `source serve` runs the API as a server; other words are one-shot commands.
        if (inv->args.size() == 1 && inv->args.front() == "serve") {
            inv->args.clear();
        } else {
            return source::run_source_command(*cfg, inv->args);
        }
    }
    host_plan plan;
    plan.name = inv->command;
    plan.admin_password_generated = *generated;
    if (inv->command == "up") {
        if (auto planned = plan_up(*cfg, plan); !planned) {
            std::fprintf(stderr, "millrace up: %s\n", planned.err().message().c_str());
            return k_exit_usage;
        }
    } else {
        const component_info* info = find_component(inv->command);
        plan.parts.push_back(info);
        plan.admin_port_key = info->section + ".admin_port";
    }
    if (!inv->args.empty()) {
        std::fprintf(stderr, "millrace %s: unexpected argument '%s'\n", inv->command.c_str(), inv->args.front().c_str());
        return k_exit_usage;
    }
    if (plan.parts.size() == 1) {
        // A standalone component that is not built yet cannot serve; say so plainly.
        const auto* info = plan.parts.front();
        if (find_factory(info->command) == nullptr) {
            std::fprintf(stderr, "millrace %s: not built yet (tracked in issue #%d)\n", info->command.c_str(), info->issue);
            return k_exit_not_built;
        }
    }
    return run_host(*cfg, plan, make_component);
}

}  // namespace
}  // namespace millrace::app

namespace {

// A crash leaves its stack on stderr (the log) before the default action
// (core dump) runs: the only account a user or a CI log gets of a fatal
// signal. Async-signal-safe calls only; backtrace() is primed at start so it
// does not load libgcc inside the handler. Sanitizer builds keep their own
// handlers.
void on_fatal_signal(int signal_number) {
    static const char header[] = "millrace: fatal signal, stack:\n";
    (void)!::write(STDERR_FILENO, header, sizeof header - 1);
    void* frames[64];
    int n = ::backtrace(frames, 64);
    ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
    ::raise(signal_number);  // SA_RESETHAND: the default action now
}

void install_crash_handler() {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    void* prime[1];
    ::backtrace(prime, 1);
    struct sigaction action {};
    action.sa_handler = on_fatal_signal;
    action.sa_flags = SA_RESETHAND | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::sigaction(sig, &action, nullptr);
#endif
}

}  // namespace

int main(int argc, char** argv) {
    install_crash_handler();
    return millrace::app::run(argc, argv);
}
