// Test-only stand-in for `millrace cql` until src/app wires the component in:
//   cql_server cql --port P --admin-port A --data-dir D [--set key=value]...
// Follows the host contract: loads the configuration, starts the component and
// the admin endpoint, prints `ready cql <host:port> admin <host:port>`, and on
// SIGINT/SIGTERM stops the component and exits 0.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "millrace/common/admin.h"
#include "millrace/common/clock.h"
#include "millrace/common/config.h"
#include "millrace/common/file_system.h"
#include "millrace/common/log.h"
#include "millrace/common/metrics.h"
#include "millrace/cql/server.h"

int main(int argc, char** argv) {
    using namespace millrace;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "cql") args.erase(args.begin());
    config::schema s;
    s.add({"cql.host", config::value_kind::string, "127.0.0.1", "Address the client listener binds to."});
    s.add({"cql.port", config::value_kind::port, "9042", "Client listener port."});
    s.add({"cql.admin_port", config::value_kind::port, "9466", "Admin endpoint port."});
    s.add({"cql.data_dir", config::value_kind::path, "./data/cql", "Data directory."});
    cql::add_options(s);
    std::vector<config::override_value> overrides;
    for (size_t idx = 0; idx + 1 < args.size(); idx += 2) {
        const auto& flag = args[idx];
        const auto& value = args[idx + 1];
        if (flag == "--port") overrides.push_back({"cql.port", value, "flag --port"});
        else if (flag == "--admin-port") overrides.push_back({"cql.admin_port", value, "flag --admin-port"});
        else if (flag == "--data-dir") overrides.push_back({"cql.data_dir", value, "flag --data-dir"});
        else if (flag == "--set") {
            auto eq = value.find('=');
            overrides.push_back({value.substr(0, eq), value.substr(eq + 1), "flag --set"});
        } else {
            std::fprintf(stderr, "cql_server: unknown flag %s\n", flag.c_str());
            return 2;
        }
    }
    auto cfg = config::config::load(s, "", {}, overrides);
    if (!cfg) {
        std::fprintf(stderr, "cql_server: %s\n", cfg.err().message().c_str());
        return 2;
    }
    log::configure(log::level::info, log::format::text);
    asio::io_context io;
    metrics::registry registry;
    std::string data_dir = cfg->get_string("cql.data_dir");
    if (auto st = file_system::disk().create_directories(data_dir); !st) {
        std::fprintf(stderr, "cql_server: %s\n", st.err().message().c_str());
        return 2;
    }
    component_context ctx{io, *cfg, registry, clock::system(), file_system::disk(), data_dir};
    auto component = cql::make_cql(ctx);
    auto ep = component->start();
    if (!ep) {
        std::fprintf(stderr, "cql_server: %s\n", ep.err().message().c_str());
        return 2;
    }
    admin_endpoint admin(io, registry);
    auto admin_ep = admin.start("127.0.0.1", cfg->get_port("cql.admin_port"), "cql.admin_port");
    if (!admin_ep) {
        std::fprintf(stderr, "cql_server: %s\n", admin_ep.err().message().c_str());
        return 2;
    }
    admin.set_ready(true);
    std::printf("ready cql %s admin %s\n", (*ep)->to_string().c_str(), admin_ep->to_string().c_str());
    std::fflush(stdout);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    // Like the host: stop, then let in-flight work drain until io.run() returns.
    signals.async_wait([&](const std::error_code& ec, int) {
        if (ec) return;
        admin.set_ready(false);
        component->stop();
        admin.stop();
    });
    io.run();
    component.reset();
    return 0;
}
