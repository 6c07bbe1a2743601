// Command-line parsing: global options anywhere, one subcommand, and the
// subcommand's flags, which are derived from the keys of its config section
// (`broker.admin_port` is `millrace broker --admin-port`).
#pragma once

#include <string>
#include <vector>

#include "millrace/common/config.h"

namespace millrace::app {

struct invocation {
    std::string command;                          // "" when none was given
    std::vector<std::string> args;                // positional words after the command
    std::string config_file;                      // --config, else MILLRACE_CONFIG
    std::vector<config::override_value> overrides;  // flags and --set, in order
    bool help = false;
    bool version = false;
};

// A flag of a command and the key it sets.
struct flag_spec {
    std::string flag;  // "--admin-port"
    std::string key;   // "broker.admin_port"
};

// The flags a command accepts besides the global ones.
std::vector<flag_spec> command_flags(const std::string& command);

// Errors are one line, ready to print after "millrace: ".
result<invocation> parse_args(const std::vector<std::string>& argv);

std::string general_help();
std::string command_help(const std::string& command);

}  // namespace millrace::app
