#include "status.h"

#include <cstdio>
#include <sstream>

#include <fmt/format.h>

#include "millrace/common/json_text.h"
#include "own_http.h"

namespace millrace::app {
namespace {

std::string count(double value) { return fmt::format("{:.0f}", value); }

}  // namespace

double sum_metric(const std::string& exposition, const std::string& name) {
    double sum = 0;
    std::istringstream lines(exposition);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#' || line.compare(0, name.size(), name) != 0) continue;
        if (line.size() > name.size() && line[name.size()] != ' ' && line[name.size()] != '{') continue;
        auto space = line.rfind(' ');
        if (space == std::string::npos) continue;
        try {
            sum += std::stod(line.substr(space + 1));
        } catch (const std::exception&) {
            // NaN or a malformed sample: not a count
        }
    }
    return sum;
}

pipeline_counts read_counts(const std::string& exposition) {
    pipeline_counts counts;
    counts.users_fetched = sum_metric(exposition, "millrace_source_users_stored_total");
    counts.records_in_kafka = sum_metric(exposition, "millrace_cdc_rows_total");
    counts.rows_in_table = sum_metric(exposition, "millrace_processor_rows_written_total");
    counts.processor_lag = sum_metric(exposition, "millrace_processor_consumer_lag");
    return counts;
}

std::vector<std::pair<std::string, std::string>> urls_for(const std::vector<part_status>& parts,
                                                          const std::string& admin_address) {
    std::vector<std::pair<std::string, std::string>> urls;
    // A part listening on every interface is opened on this machine as localhost.
    auto url_host = [](const std::string& address) {
        return address.rfind("0.0.0.0:", 0) == 0 ? "localhost" + address.substr(7) : address;
    };
    auto running = [&](const std::string& command) -> const part_status* {
        for (const auto& p : parts) {
            if (p.command == command && p.state == "running") return &p;
        }
        return nullptr;
    };
    if (const auto* p = running("scheduler")) urls.emplace_back("orchestrator UI", "http://" + url_host(p->address) + "/");
    if (const auto* p = running("console")) urls.emplace_back("console", "http://" + url_host(p->address) + "/");
    if (const auto* p = running("registry")) urls.emplace_back("schema registry", "http://" + url_host(p->address) + "/subjects");
    if (const auto* p = running("source")) urls.emplace_back("randomuser API", "http://" + url_host(p->address) + "/api/?results=5");
    urls.emplace_back("metrics", "http://" + url_host(admin_address) + "/metrics");
    return urls;
}

std::string render_status_block(const status_report& report) {
    std::string out = fmt::format("millrace {}\n\n  {:<10} {:<24} {}\n", report.version, "component", "address", "state");
    for (const auto& p : report.parts) out += fmt::format("  {:<10} {:<24} {}\n", p.command, p.address, p.state);
    out += fmt::format("  {:<10} {:<24} {}\n\n", "admin", report.admin_address, "running");
    for (const auto& [label, url] : report.urls) out += fmt::format("  {:<16} {}\n", label, url);
    for (const auto& [label, path] : report.tls) out += fmt::format("  {:<16} {}\n", label, path);
    for (const auto& [label, value] : report.security) out += fmt::format("  {:<16} {}\n", label, value);
    if (!report.leadership.leases.empty()) {
        std::string held, elsewhere;
        for (const auto& l : report.leadership.leases) {
            if (l.held) {
                held += (held.empty() ? "" : ", ") + l.name;
            } else {
                elsewhere += fmt::format("{}{} ({})", elsewhere.empty() ? "" : ", ", l.name,
                                         l.holder.empty() ? "no holder seen yet" : "held by " + l.holder);
            }
        }
        out += fmt::format("  {:<16} {} via {}{}{}\n", "leader", held.empty() ? "no" : "yes: " + held,
                           report.leadership.backend, elsewhere.empty() ? "" : "; standby for ", elsewhere);
    }
    const auto& c = report.counts;
    out += fmt::format("\n  users: {} fetched · {} in Kafka · {} in the table · processor lag {}\n", count(c.users_fetched),
                       count(c.records_in_kafka), count(c.rows_in_table), count(c.processor_lag));
    return out;
}

std::string render_status_json(const status_report& report) {
    json_text::writer w;
    w.begin_object().key("version").string(report.version).key("admin").string(report.admin_address);
    w.key("components").begin_array();
    for (const auto& p : report.parts) {
        w.begin_object().key("name").string(p.command).key("address").string(p.address).key("state").string(p.state).end_object();
    }
    w.end_array().key("urls").begin_object();
    for (const auto& [name, url] : report.urls) w.key(name).string(url);
    w.end_object();
    const auto& c = report.counts;
    w.key("pipeline").begin_object();
    w.key("users_fetched").raw(count(c.users_fetched)).key("records_in_kafka").raw(count(c.records_in_kafka));
    w.key("rows_in_table").raw(count(c.rows_in_table)).key("processor_lag").raw(count(c.processor_lag));
    w.end_object();
    const auto& lead = report.leadership;
    w.key("leader").boolean(lead.leader()).key("singletons").begin_array();
    for (const auto& l : lead.leases) {
        if (l.held) w.string(l.name);
    }
    w.end_array().key("coordination").begin_object().key("backend").string(lead.backend).key("leases").begin_array();
    for (const auto& l : lead.leases) {
        w.begin_object().key("name").string(l.name).key("held").boolean(l.held).key("holder").string(l.holder).end_object();
    }
    w.end_array().end_object();
    if (!report.details.empty()) {
        w.key("details").begin_object();
        for (const auto& [name, json] : report.details) w.key(name).raw(json);
        w.end_object();
    }
    w.end_object();
    return std::move(w).take();
}

std::string render_live_line(const pipeline_counts& now, const pipeline_counts& before, double seconds) {
    double rate = seconds > 0 ? (now.rows_in_table - before.rows_in_table) / seconds : 0;
    return fmt::format("users {} fetched · {} in Kafka · {} in table · lag {} · {}/s", count(now.users_fetched),
                       count(now.records_in_kafka), count(now.rows_in_table), count(now.processor_lag), count(rate));
}

int run_status_command(const config::config& cfg) {
    std::string host = cfg.get_string("admin.host");
    uint16_t port = cfg.get_port("up.admin_port");
    std::string why;
    auto body = own_http_get(cfg, host, port, "/status?format=text", why);
    if (!body) {
        std::fprintf(stderr, "millrace status: no millrace up answers on %s:%u (%s); is it running? Its admin port is up.admin_port\n",
                     host.c_str(), port, why.c_str());
        return 1;
    }
    std::fputs(body->c_str(), stdout);
    return 0;
}

}  // namespace millrace::app
