#include "jobs_list.h"

#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "own_http.h"

namespace millrace::app {
int run_jobs_list_command(const config::config& cfg, const std::vector<std::string>& args) {
    bool json = false;
    for (size_t idx = 1; idx < args.size(); ++idx) {
        if (args[idx] == "--json") {
            json = true;
        } else {
            std::fprintf(stderr, "millrace jobs list: unexpected argument '%s' (usage: millrace jobs list [--json])\n",
                         args[idx].c_str());
            return 2;
        }
    }
    const std::string host = cfg.get_string("admin.host");
    const std::string path = json ? "/api/v1/jobs" : "/api/v1/jobs?format=text";
    std::string why_up, why_process;
    auto body = own_http_get(cfg, host, cfg.get_port("up.admin_port"), path, why_up);
    if (!body) body = own_http_get(cfg, host, cfg.get_port("processor.admin_port"), path, why_process);
    if (!body) {
        std::fprintf(stderr,
                     "millrace jobs list: neither `millrace up` (%s) nor `millrace process` (%s) answers; is one running? "
                     "Their admin ports are up.admin_port and processor.admin_port\n",
                     why_up.c_str(), why_process.c_str());
        return 1;
    }
    std::fputs(body->c_str(), stdout);
    if (json) std::fputs("\n", stdout);
    return 0;
}

}  // namespace millrace::app
