#include "host.h"

#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <cstdio>
#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/signal_set.hpp>

#include "millrace/common/admin.h"

namespace millrace::app {

std::string component_data_dir(const config::config& cfg, const std::string& section) {
    const std::string& own = cfg.get_string(section + ".data_dir");
    if (!own.empty()) return own;
    return cfg.get_string("data_dir") + "/" + section;
}

namespace {

struct running_part {
    const component_info* info;
    std::unique_ptr<component_context> context;
    std::unique_ptr<component> instance;  // nullptr: not built yet
    std::optional<net::endpoint> address;
};

void print_status_block(const std::vector<running_part>& parts, const net::endpoint& admin) {
    std::string out = fmt::format("\nmillrace {} is up\n\n  {:<10} {:<22} {}\n", MILLRACE_VERSION, "component", "address", "state");
    for (const auto& part : parts) {
        std::string address = part.address ? part.address->to_string() : "-";
        std::string state = part.instance ? "running" : fmt::format("not built yet (issue #{})", part.info->issue);
        out += fmt::format("  {:<10} {:<22} {}\n", part.info->command, address, state);
    }
    out += fmt::format("  {:<10} {:<22} {}\n\n", "admin", admin.to_string(), "running");
    out += fmt::format("  metrics   http://{}/metrics\n  Ctrl-C stops everything cleanly.\n\n", admin.to_string());
    std::fputs(out.c_str(), stdout);
}

void force_exit(int) {
    static const char message[] = "millrace: second signal: exiting now\n";
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, message, sizeof(message) - 1);
    ::_exit(130);
}

}  // namespace

int run_host(const config::config& cfg, const host_plan& plan, const component_factory& make) {
    log::logger log(plan.name);
    asio::io_context io(1);
    metrics::registry registry;
    metrics::register_process_metrics(registry);
    admin_endpoint admin(io, registry);

    std::vector<running_part> parts;
    service_directory directory;
    auto stop_started = [&] {
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            if (it->instance) it->instance->stop();
        }
        admin.stop();
        io.run_for(std::chrono::seconds(5));  // let the stops drain
    };

    // The admin endpoint binds first: a clash there fails before any component
    // has started. /readyz answers 503 until every component is up.
    auto admin_address = admin.start(cfg.get_string("admin.host"), cfg.get_port(plan.admin_port_key), plan.admin_port_key);
    if (!admin_address) {
        std::fprintf(stderr, "millrace: %s\n", admin_address.err().message().c_str());
        return 2;
    }

    for (const auto* info : plan.parts) {
        std::string dir = component_data_dir(cfg, info->section);
        auto context = std::make_unique<component_context>(
            component_context{io, cfg, registry, clock::system(), file_system::disk(), dir, &directory});
        running_part part{info, std::move(context), nullptr, std::nullopt};
        part.instance = make(*info, *part.context);
        if (part.instance) {
            if (auto st = file_system::disk().create_directories(dir); !st) {
                std::fprintf(stderr, "millrace: %s: cannot create data directory %s (from %s): %s\n",
                             info->command.c_str(), dir.c_str(), cfg.origin(info->section + ".data_dir").c_str(),
                             st.err().message().c_str());
                stop_started();
                return 2;
            }
            auto started = part.instance->start();
            if (!started) {
                std::fprintf(stderr, "millrace: %s\n", started.err().message().c_str());
                parts.push_back(std::move(part));
                stop_started();
                return 2;
            }
            part.address = *started;
            if (part.address) directory.publish(info->command, part.address->to_string());
        }
        parts.push_back(std::move(part));
    }

    auto guard = asio::make_work_guard(io);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    // After a stop begins, a watchdog ends the run if draining takes too long.
    std::mutex watchdog_mutex;
    std::condition_variable watchdog_cv;
    bool drained = false;
    std::thread watchdog;
    auto on_signal = [&](const std::error_code& ec, int signal_number) {
        if (ec) return;
        log.info("{} received: stopping", strsignal(signal_number));
        admin.set_ready(false);
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            if (it->instance) {
                it->instance->stop();
                log.info("{} stopped", it->info->command);
            }
        }
        admin.stop();
        // A second signal forces the exit. Not through asio: a pending wait
        // would keep the io_context from finishing its drain.
        std::error_code ignored;
        signals.clear(ignored);
        std::signal(SIGINT, force_exit);
        std::signal(SIGTERM, force_exit);
        guard.reset();
        watchdog = std::thread([&, timeout = std::chrono::milliseconds(cfg.get_int("admin.shutdown_timeout"))] {
            std::unique_lock lock(watchdog_mutex);
            if (!watchdog_cv.wait_for(lock, timeout, [&] { return drained; })) {
                log.warn("graceful stop took longer than admin.shutdown_timeout ({} ms); exiting", timeout.count());
                io.stop();
            }
        });
    };
    signals.async_wait(on_signal);

    admin.set_ready(true);
    if (plan.print_status_block) print_status_block(parts, *admin_address);
    const net::endpoint& main_address = plan.parts.size() == 1 && parts.front().address ? *parts.front().address : *admin_address;
    std::printf("ready %s %s admin %s\n", plan.name.c_str(), main_address.to_string().c_str(),
                admin_address->to_string().c_str());
    std::fflush(stdout);

    // After a stop, what is left on the io_context is draining work; run()
    // returns when it is done (or when the watchdog gives up).
    io.run();
    {
        std::lock_guard lock(watchdog_mutex);
        drained = true;
    }
    watchdog_cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) it->instance.reset();
    log.info("stopped cleanly");
    return 0;
}

}  // namespace millrace::app
