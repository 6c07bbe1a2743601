#include "host.h"

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/steady_timer.hpp>
#include <asio/signal_set.hpp>
#include <asio/ip/tcp.hpp>

#include "millrace/common/admin.h"
#include "millrace/common/security.h"
#include "millrace/common/tls.h"
#include "millrace/coordination/coordination.h"

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

// The security lines of the status block: who to log in as and where the password is.
std::vector<std::pair<std::string, std::string>> security_lines(const config::config& cfg) {
    if (!security::enabled(cfg)) return {};
    std::string origin = cfg.origin("security.admin_password");
    std::string where = origin.rfind("file ", 0) == 0 ? origin.substr(5) : fmt::format("security.admin_password ({})", origin);
    return {{"admin user", cfg.get_string("security.admin_user")}, {"admin password", where}};
}

status_report make_report(const config::config& cfg, const std::vector<running_part>& parts, const host_plan& plan,
                          const net::endpoint& admin, const metrics::registry& registry,
                          const std::optional<tls::material>& tls_files, const pipeline_probe* probe,
                          const coordination::coordinator& coordinator) {
    status_report report;
    report.leadership.backend = coordinator.backend();
    for (const auto& l : coordinator.leases()) report.leadership.leases.push_back({l.name, l.held, l.holder});
    if (tls_files) {
        report.tls = {{"TLS CA", tls_files->ca_path}, {"TLS cert", tls_files->cert_path}, {"TLS key", tls_files->key_path}};
    }
    report.version = MILLRACE_VERSION;
    report.admin_address = admin.to_string();
    for (const auto& part : parts) {
        std::string address = part.address ? part.address->to_string() : "-";
        std::string state = part.instance ? "running" : fmt::format("not built yet (issue #{})", part.info->issue);
        report.parts.push_back({part.info->command, address, state});
    }
    for (const auto& other : plan.not_started) report.parts.push_back(other);
    auto rank = [](const part_status& p) {
        const auto& all = components();
        for (size_t idx = 0; idx < all.size(); ++idx) {
            if (all[idx].command == p.command) return idx;
        }
        return all.size();
    };
    std::stable_sort(report.parts.begin(), report.parts.end(),
                     [&](const part_status& a, const part_status& b) { return rank(a) < rank(b); });
    report.urls = urls_for(report.parts, report.admin_address);
    if (tls_files) {
        for (auto& [label, url] : report.urls) {
            if (url.starts_with("http://")) url.insert(4, "s");
        }
    }
    report.counts = read_counts(registry.expose());
    report.security = security_lines(cfg);
    if (probe != nullptr) report.counts = merge_counts(report.counts, probe->counts());
    for (const auto& part : parts) {
        if (!part.instance) continue;
        if (std::string detail = part.instance->status_json(); !detail.empty()) {
            report.details.emplace_back(part.info->command, std::move(detail));
        }
    }
    return report;
}

// With security.enabled: the certificate material (generated into
// <data_dir>/tls/ unless configured) and the TLS context every listener of
// this process then serves.
result<tls::material> prepare_tls(const config::config& cfg, const log::logger& log) {
    tls::settings settings;
    settings.cert_path = cfg.get_string("security.tls_cert");
    settings.key_path = cfg.get_string("security.tls_key");
    settings.ca_path = cfg.get_string("security.tls_ca");
    const std::string& data_dir = cfg.get_string("data_dir");
    if (auto st = file_system::disk().create_directories(data_dir); !st) return st.err();
    std::error_code ec;
    auto dir = std::filesystem::absolute(std::filesystem::path(data_dir) / "tls", ec);
    settings.dir = ec ? data_dir + "/tls" : dir.lexically_normal().string();
    // Every name a listener is bound to or advertised as goes in the certificate.
    for (const auto& spec : cfg.keys().keys()) {
        std::string_view key = spec.key;
        if (key.ends_with(".host") || key.ends_with(".advertised_host")) settings.hosts.push_back(cfg.get_string(key));
    }
    auto files = tls::ensure_material(settings);
    if (!files) return files.err().with_context("security.enabled: preparing TLS");
    auto context = tls::make_server_context(*files);
    if (!context) return context.err().with_context("security.enabled");
    tls::set_listener_context(*context);
    tls::set_client_ca(files->ca_path);
    log.info("TLS on every listener: certificate {} ({}), CA {}", files->cert_path, files->action, files->ca_path);
    return files;
}

// Every listener port of `plan` (its admin port, each part's <section>.port)
// that another process holds, as "name host:port (key)". PostgreSQL is left
// to its component, which takes over a server it left running. Checked before
// anything starts, so that all of them are reported at once, as the last line.
std::vector<std::string> busy_ports(const config::config& cfg, const host_plan& plan) {
    struct listener {
        std::string name, host, key;
    };
    // Returned as "name\thost:port\tkey".
    std::vector<listener> wanted = {{"admin", cfg.get_string("admin.host"), plan.admin_port_key}};
    for (const auto* info : plan.parts) {
        std::string key = info->section + ".port", host_key = info->section + ".host";
        if (info->command == "postgres" || schema().find(key) == nullptr) continue;
        wanted.push_back({info->command, schema().find(host_key) ? cfg.get_string(host_key) : "127.0.0.1", key});
    }
    std::vector<std::string> busy;
    asio::io_context io;
    for (const auto& l : wanted) {
        uint16_t port = cfg.get_port(l.key);
        if (port == 0) continue;
        std::error_code ec;
        asio::ip::tcp::resolver resolver(io);
        auto resolved = resolver.resolve(l.host, std::to_string(port), ec);
        if (ec || resolved.empty()) continue;  // the part itself reports a bad host
        asio::ip::tcp::acceptor acceptor(io);
        auto ep = resolved.begin()->endpoint();
        acceptor.open(ep.protocol(), ec);
        if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor.bind(ep, ec);
        if (ec == asio::error::address_in_use) busy.push_back(fmt::format("{}\t{}:{}\t{}", l.name, l.host, port, l.key));
    }
    return busy;
}

void force_exit(int) {
    static const char message[] = "millrace: second signal: exiting now\n";
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, message, sizeof(message) - 1);
    ::_exit(130);
}

}  // namespace

int run_host(const config::config& cfg, const host_plan& plan, const component_factory& make) {
    log::logger log(plan.name);
    // Before any server starts: every HTTP listener trusts these origins (docs/security.md).
    http::set_allowed_origins(cfg.get_list("http.allowed_origins"));
    if (security::enabled(cfg)) {
        // Every HTTP listener of this process (APIs, UIs, admin) asks for the admin user (docs/security.md).
        auto admin = security::admin_credentials(cfg);
        http::auth_settings auth;
        auth.enabled = true;
        auth.users.emplace_back(admin.user, admin.password);
        auth.token_lifetime = std::chrono::milliseconds(cfg.get_int("security.token_lifetime"));
        http::set_authentication(std::move(auth));
    }
    std::optional<tls::material> tls_files;
    if (cfg.get_bool("security.enabled")) {
        auto files = prepare_tls(cfg, log);
        if (!files) {
            std::fprintf(stderr, "millrace: %s\n", files.err().message().c_str());
            return 2;
        }
        tls_files = *files;
    }
    asio::io_context io(1);
    metrics::registry registry;
    metrics::register_process_metrics(registry);
    // One coordination session per process, shared by the singletons' leases
    // (made before the admin endpoint, whose /metrics reads it, and the parts).
    auto coordination_options = coordination::options_from(cfg);
    coordination_options.standby = plan.name == "up" || !coordination_options.zookeeper.empty();
    auto coordinator = coordination::make_coordinator(std::move(coordination_options));
    if (!coordinator) {
        std::fprintf(stderr, "millrace: %s\n", coordinator.err().message().c_str());
        return 2;
    }
    registry.add_collector([c = coordinator->get()](std::string& out) {
        auto leases = c->leases();
        if (leases.empty()) return;
        out += "# HELP millrace_coordination_lease_held 1 while this process holds the lease (runs the singleton).\n"
               "# TYPE millrace_coordination_lease_held gauge\n";
        for (const auto& l : leases) {
            out += fmt::format("millrace_coordination_lease_held{{lease=\"{}\",backend=\"{}\"}} {}\n", l.name, c->backend(),
                               l.held ? 1 : 0);
        }
    });
    admin_endpoint admin(io, registry);
    std::vector<running_part> parts;
    service_directory directory;
    std::unique_ptr<pipeline_probe> probe;  // `up`: the true totals
    auto stop_started = [&] {
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            if (it->instance) it->instance->stop();
        }
        admin.stop();
        io.run_for(std::chrono::seconds(5));  // let the stops drain
    };

    std::optional<net::endpoint> admin_bound;
    admin.http().route("GET", "/status", [&](const http::request& req) {
        status_report report = make_report(cfg, parts, plan, admin_bound.value_or(net::endpoint{}), registry, tls_files, probe.get(), **coordinator);
        const std::string* format = req.param("format");
        if (format != nullptr && *format == "text") return http::response::text(200, render_status_block(report));
        return http::response::json(200, render_status_json(report));
    });

    if (auto busy = busy_ports(cfg, plan); !busy.empty()) {
        std::string list;
        std::vector<std::string> one;
        for (const auto& b : busy) {
            auto tab1 = b.find('\t'), tab2 = b.rfind('\t');
            one = {b.substr(0, tab1), b.substr(tab1 + 1, tab2 - tab1 - 1), b.substr(tab2 + 1)};
            list += fmt::format("{}{} {} ({})", list.empty() ? "" : ", ", one[0], one[1], one[2]);
        }
        if (busy.size() == 1) {
            std::fprintf(stderr,
                         "millrace: %s: cannot listen on %s: Address already in use; is another instance running? set %s "
                         "to a free port\n",
                         one[0].c_str(), one[1].c_str(), one[2].c_str());
            return 2;
        }
        std::fprintf(stderr,
                     "millrace: %zu ports are in use: %s; is another millrace running? stop it, or set those keys to free "
                     "ports (--set KEY=PORT, or 0 for any free port)\n",
                     busy.size(), list.c_str());
        return 2;
    }
    // The admin endpoint binds first: a clash there fails before any component
    // has started (one busy port is that part's own one line, below). /readyz answers 503 until every component is up.
    auto admin_address = admin.start(cfg.get_string("admin.host"), cfg.get_port(plan.admin_port_key), plan.admin_port_key);
    if (!admin_address) {
        std::fprintf(stderr, "millrace: %s\n", admin_address.err().message().c_str());
        return 2;
    }
    admin_bound = *admin_address;
    // Parts that read the admin endpoint (the console's jobs and health) find
    // it here when its port is ephemeral.
    directory.publish("admin", admin_bound->to_string());
    for (const auto* info : plan.parts) directory.add_local(info->section);

    for (const auto* info : plan.parts) {
        std::string dir = component_data_dir(cfg, info->section);
        auto context = std::make_unique<component_context>(
            component_context{io, cfg, registry, clock::system(), file_system::disk(), dir, &directory, coordinator->get()});
        running_part part{info, std::move(context), nullptr, std::nullopt};
        part.instance = make(*info, *part.context);
        if (part.instance) {
            part.instance->add_admin_routes(admin.http());
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

    // `up` shows its progress: a line rewritten in place on a terminal, a log
    // line every up.status_interval otherwise.
    asio::steady_timer status_timer(io);
    bool live_on_terminal = plan.print_status_block && ::isatty(STDOUT_FILENO) == 1;
    bool stopping = false;
    pipeline_counts last_counts;
    auto last_time = std::chrono::steady_clock::now();
    std::function<void()> schedule_status = [&] {
        auto interval = live_on_terminal ? std::chrono::milliseconds(1000)
                                         : std::chrono::milliseconds(cfg.get_int("up.status_interval"));
        status_timer.expires_after(interval);
        status_timer.async_wait([&](const std::error_code& ec) {
            if (ec || stopping) return;
            auto now = std::chrono::steady_clock::now();
            pipeline_counts counts = read_counts(registry.expose());
            if (probe) counts = merge_counts(counts, probe->counts());
            std::string line = render_live_line(counts, last_counts,
                                                std::chrono::duration<double>(now - last_time).count());
            last_counts = counts;
            last_time = now;
            if (live_on_terminal) {
                std::fprintf(stdout, "\r\x1b[K  %s", line.c_str());
                std::fflush(stdout);
            } else {
                log.info("{}", line);
            }
            schedule_status();
        });
    };

    auto guard = asio::make_work_guard(io);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    // After a stop begins, a watchdog ends the run if draining takes too long.
    std::mutex watchdog_mutex;
    std::condition_variable watchdog_cv;
    bool drained = false;
    std::thread watchdog;
    auto on_signal = [&](const std::error_code& ec, int signal_number) {
        if (ec) return;
        if (live_on_terminal) std::fputs("\n", stdout);
        stopping = true;
        status_timer.cancel();
        log.info("{} received: stopping", strsignal(signal_number));
        admin.set_ready(false);
        // Its clients go before the servers they read, so none logs them going.
        if (probe) probe->stop();
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

    auto announce = [&, admin_at = *admin_address] {
        if (stopping) return;
        admin.set_ready(true);
        if (plan.admin_password_generated) {
            // Shown this once; afterwards only the file's path is.
            std::printf("\n  generated the admin password for user %s: %s\n  (saved in %s, mode 0600; shown only on this first start)\n",
                        cfg.get_string("security.admin_user").c_str(), cfg.get_string("security.admin_password").c_str(),
                        security::admin_password_path(cfg).c_str());
        }
        if (plan.print_status_block) {
            std::fputs(("\n" + render_status_block(make_report(cfg, parts, plan, admin_at, registry, tls_files, probe.get(), **coordinator)) +
                        "\n  Ctrl-C stops everything cleanly; `millrace status` prints this block again.\n\n").c_str(),
                       stdout);
            if (cfg.get_int("up.status_interval") > 0 || live_on_terminal) schedule_status();
        }
        const net::endpoint& main_address = plan.parts.size() == 1 && parts.front().address ? *parts.front().address : admin_at;
        std::printf("ready %s %s admin %s\n", plan.name.c_str(), main_address.to_string().c_str(), admin_at.to_string().c_str());
        std::fflush(stdout);
    };
    if (plan.probe_targets_for) {
        // The status block shows the totals a restart found: it waits for the
        // probe's first measurement, taken on the probe's thread while this
        // one serves the parts it reads; then the probe measures every second.
        probe = std::make_unique<pipeline_probe>(plan.probe_targets_for(directory));
        probe->start([&io, announce] { asio::post(io, announce); });
    } else {
        announce();
    }

    // After a stop, what is left on the io_context is draining work; run()
    // returns when it is done (or when the watchdog gives up).
    io.run();
    {
        std::lock_guard lock(watchdog_mutex);
        drained = true;
    }
    watchdog_cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
    if (probe) probe->stop();
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) it->instance.reset();
    log.info("stopped cleanly");
    return 0;
}

}  // namespace millrace::app
