#include "cli.h"

#include <algorithm>
#include <optional>

#include "options.h"

namespace millrace::app {
namespace {

struct global_option {
    std::string flag;
    std::string key;  // config key it sets, or "" for --config / --set
    std::string help;
};

const std::vector<global_option>& global_options() {
    static const std::vector<global_option> all = {
        {"--config", "", "FILE  YAML config file (default: $MILLRACE_CONFIG, else none)"},
        {"--set", "", "KEY=VALUE  set any config key, e.g. --set broker.port=19092 (repeatable)"},
        {"--log-level", "log.level", "LEVEL  trace, debug, info, warn or error"},
        {"--log-format", "log.format", "FORMAT  text or json"},
        {"--secure", "security.enabled", "TLS on every listener and authentication (sets security.enabled)"},
    };
    return all;
}

struct command_doc {
    std::string name;
    std::string summary;
};

std::vector<command_doc> command_docs() {
    std::vector<command_doc> docs;
    for (const auto& c : components()) docs.push_back({c.command, fmt::format("{} (plays {})", c.summary, c.plays)});
    docs.push_back({"dags", "`dags list`, `dags trigger <id> [--conf JSON] [--wait]`, `dags pause|unpause <id>` via the scheduler's API"});
    docs.push_back({"variables", "`variables set <key> <value>`, `variables get <key>`, `variables list`: Airflow Variables in the scheduler's metadata database"});
    docs.push_back({"connections", "`connections add <conn_id> <uri>`, `connections list`: Airflow Connections in the scheduler's metadata database"});
    docs.push_back({"jobs", "`jobs validate FILE...`, `jobs explain FILE` (the SQL compiler), `jobs list [--json]` (the running stream jobs: state, rates, lag, last error)"});
    docs.push_back({"tasks", "`tasks test <dag_id> <task_id> <date>` runs one task in the foreground"});
    docs.push_back({"cql shell", "`cql shell [host [port]] [-e STATEMENTS | -f FILE] [-u USER -p PASSWORD]`: a CQL shell in the manner of cqlsh (`cql shell --help`)"});
    docs.push_back({"up", "run the whole pipeline in one process on embedded defaults"});
    docs.push_back({"status", "print the status block of the running `millrace up` (from its admin endpoint)"});
    docs.push_back({"config", "`config example` prints every key with its default; `config show` the effective values"});
    docs.push_back({"version", "print the version"});
    return docs;
}

std::string kebab(std::string text) {
    std::replace(text.begin(), text.end(), '_', '-');
    return text;
}

bool known_command(const std::string& name) {
    for (const auto& doc : command_docs()) {
        if (doc.name == name) return true;
    }
    return false;
}

std::string flag_names(const std::vector<flag_spec>& flags) {
    std::string out;
    for (const auto& f : flags) out += (out.empty() ? "" : ", ") + f.flag;
    return out;
}

}  // namespace

std::vector<flag_spec> command_flags(const std::string& command) {
    std::vector<flag_spec> flags;
    std::string section;
    if (const auto* info = find_component(command)) section = info->section;
    // Client commands read the servers' files under the root data_dir (the admin
    // password, the generated CA): their --data-dir is the root, as up's is.
    bool client = command == "dags" || command == "tasks" || command == "variables" || command == "connections" ||
                  command == "status" || command == "jobs" || command == "config";
    if (command == "dags" || command == "tasks" || command == "variables" || command == "connections") section = "scheduler";
    if (command == "up") section = "up";
    if (command == "up" || client) flags.push_back({"--data-dir", "data_dir"});
    if (command == "status") flags.push_back({"--admin-port", "up.admin_port"});
    if (section.empty()) return flags;
    for (const auto* spec : schema().keys_in(section)) {
        if (client && spec->key == section + ".data_dir") continue;
        flags.push_back({"--" + kebab(spec->key.substr(section.size() + 1)), spec->key});
    }
    return flags;
}

result<invocation> parse_args(const std::vector<std::string>& argv) {
    invocation inv;
    std::vector<flag_spec> flags;
    for (size_t idx = 1; idx < argv.size(); ++idx) {
        const std::string& arg = argv[idx];
        if (arg == "-h" || arg == "--help") {
            inv.help = true;
            continue;
        }
        if (arg == "--version") {
            inv.version = true;
            continue;
        }
        if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
            if (inv.command.empty()) {
                if (!known_command(arg)) {
                    return make_error(errc::invalid_argument, "unknown command '{}' (see millrace --help)", arg);
                }
                inv.command = arg;
                flags = command_flags(arg);
            } else {
                inv.args.push_back(arg);
            }
            continue;
        }
        auto eq = arg.find('=');
        std::string name = arg.substr(0, eq);
        std::optional<std::string> inline_value;
        if (eq != std::string::npos) inline_value = arg.substr(eq + 1);
        auto take_value = [&]() -> result<std::string> {
            if (inline_value) return *inline_value;
            if (idx + 1 >= argv.size()) return make_error(errc::invalid_argument, "option {} needs a value", name);
            return argv[++idx];
        };
        if (name == "--config") {
            auto v = take_value();
            if (!v) return v.err();
            inv.config_file = *v;
            continue;
        }
        if (name == "--set") {
            auto v = take_value();
            if (!v) return v.err();
            auto set_eq = v->find('=');
            if (set_eq == std::string::npos) {
                return make_error(errc::invalid_argument, "--set needs KEY=VALUE, got '{}'", *v);
            }
            inv.overrides.push_back({v->substr(0, set_eq), v->substr(set_eq + 1), "flag --set " + v->substr(0, set_eq)});
            continue;
        }
        const std::string* key = nullptr;
        for (const auto& g : global_options()) {
            if (g.flag == name && !g.key.empty()) key = &g.key;
        }
        for (const auto& f : flags) {
            if (f.flag == name) key = &f.key;
        }
        if (key == nullptr) {
            std::string where = inv.command.empty() ? "millrace" : "millrace " + inv.command;
            std::string known = flag_names(flags);
            return make_error(errc::invalid_argument, "{}: unknown option {}{}", where, name,
                              known.empty() ? "" : fmt::format(" (options: {}; see --help)", known));
        }
        const config::key_spec* spec = schema().find(*key);
        std::string value_text;
        if (spec->kind == config::value_kind::boolean && !inline_value) {
            value_text = "true";
        } else {
            auto v = take_value();
            if (!v) return v.err();
            value_text = *v;
        }
        inv.overrides.push_back({*key, value_text, "flag " + name});
    }
    return inv;
}

std::string general_help() {
    std::string out =
        "millrace: the randomuser → PostgreSQL → Kafka → stream job → Cassandra pipeline in one binary.\n\n"
        "Usage: millrace [global options] <command> [options]\n\nCommands:\n";
    for (const auto& doc : command_docs()) out += fmt::format("  {:<10} {}\n", doc.name, doc.summary);
    out += "\nGlobal options:\n";
    for (const auto& g : global_options()) out += fmt::format("  {:<13} {}\n", g.flag, g.help);
    out += "  --help        show help (also after a command)\n  --version     print the version\n\n"
           "Settings: defaults < --config FILE < MILLRACE_* environment < flags. `millrace config example` lists every key.\n";
    return out;
}

std::string command_help(const std::string& command) {
    std::string summary;
    for (const auto& doc : command_docs()) {
        if (doc.name == command) summary = doc.summary;
    }
    std::string out = fmt::format("Usage: millrace {} [options]\n\n{}.\n", command, summary);
    if (command == "config") out = "Usage: millrace config example|show\n\n" + summary + ".\n";
    auto flags = command_flags(command);
    if (!flags.empty()) out += "\nOptions:\n";
    for (const auto& f : flags) {
        const auto* spec = schema().find(f.key);
        std::string def = spec->default_value.empty() ? "\"\"" : spec->default_value;
        out += fmt::format("  {:<16} {}\n  {:<16} (default {}; env {})\n", f.flag, spec->help, "", def,
                           config::env_name(f.key));
    }
    if (command == "postgres") {
        out += "  --print-dsn      print the managed server's connection string with its password "
               "(from <postgres.data_dir>/millrace.pgpass) and exit\n";
    }
    out += "\nGlobal options: --config FILE, --set KEY=VALUE, --log-level LEVEL, --log-format FORMAT, --secure\n";
    if (find_component(command) != nullptr || command == "up") {
        out += "\nOnce ready, prints one line on stdout: ready <component> <host:port> admin <host:port>\n";
    }
    return out;
}

}  // namespace millrace::app
