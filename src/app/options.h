// Every configuration key millrace knows, declared once.
#pragma once

#include <string>
#include <vector>

#include "millrace/common/config.h"

namespace millrace::app {

// A component as the CLI, `up` and the status block know it.
struct component_info {
    std::string command;       // subcommand: "broker"
    std::string section;       // config section: "broker"
    std::string summary;       // one line for --help
    std::string plays;         // the classic-stack part it replaces
    bool has_listener;         // a server with a client port (else a worker)
    int issue;                 // issue that tracks it while not built
};

const std::vector<component_info>& components();
const component_info* find_component(std::string_view command);

// The schema of every key; built once, immutable.
const config::schema& schema();

}  // namespace millrace::app
