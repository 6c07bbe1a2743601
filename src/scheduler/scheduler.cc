#include "millrace/scheduler/scheduler.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <cstdio>
#include <filesystem>

#include <unistd.h>

#include "api.h"
#include "engine.h"
#include "executor.h"
#include "python_dags.h"
#include "json.h"
#include "millrace/common/http.h"
#include "millrace/common/http_client.h"
#include "millrace/common/log.h"
#include "millrace/common/security.h"
#include "millrace/common/services.h"
#include "millrace/common/web_assets.h"
#include "millrace/web/scheduler_assets.h"

namespace millrace::scheduler {
namespace {

using config::key_spec;
using config::value_kind;
namespace fs = std::filesystem;

std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
    return name;
}

executor_env env_from(const component_context& ctx) {
    executor_env env;
    env.postgres_dsn = services::postgres_dsn(ctx);
    env.kafka_bootstrap = services::kafka_bootstrap(ctx);
    env.kafka_properties = security::kafka_client_properties(ctx.cfg);
    env.own_auth = http::own_endpoint_auth(ctx.cfg);
    env.source_url = ctx.cfg.has("source.url") ? ctx.cfg.get_string("source.url") : std::string();
    if (env.source_url.empty() && ctx.services != nullptr) {
        if (auto address = ctx.services->find("source")) env.source_url = http::own_url(env.own_auth, *address) + "/api/";
    }
    env.source_raw = ctx.cfg.has("source.raw") ? ctx.cfg.get_string("source.raw") : "json";
    env.hostname = host_name();
    env.users_stored = &ctx.metrics.make_counter("millrace_source_users_stored_total",
                                                 "Users randomuser_fetch tasks stored in PostgreSQL.");
    return env;
}

class scheduler_component final : public component {
public:
    explicit scheduler_component(component_context& ctx) : ctx_(ctx), server_(ctx.io, "scheduler") {
        engine_options options;
        options.dags_dir = ctx.cfg.get_string("scheduler.dags_dir");
        options.logs_dir = ctx.data_dir + "/logs";
        options.dsn = services::postgres_dsn(ctx);
        options.schema = ctx.cfg.get_string("scheduler.schema");
        options.workers = static_cast<int>(ctx.cfg.get_int("scheduler.workers"));
        options.dag_scan_interval_ms = ctx.cfg.get_int("scheduler.dag_scan_interval");
        options.recent_runs = static_cast<int>(ctx.cfg.get_int("scheduler.recent_runs"));
        options.wait_for_lock = ctx.cfg.get_bool("scheduler.wait_for_lock");
        options.coordinator = ctx.coordinator;
        options.dag_parse_timeout_ms = ctx.cfg.get_int("scheduler.dag_parse_timeout");
        options.env = env_from(ctx);
        options.env.python = ctx.cfg.get_string("scheduler.python");
        options.env.python_dir = ctx.data_dir + "/python";
        engine_ = std::make_unique<engine>(std::move(options), ctx.clock, ctx.metrics);
        add_api_routes(server_, *engine_);
        web::serve_assets(server_, web::scheduler_assets());
    }
    std::string name() const override { return "scheduler"; }
    result<std::optional<net::endpoint>> start() override {
        std::error_code ec;
        if (!fs::is_directory(ctx_.cfg.get_string("scheduler.dags_dir"), ec)) {
            log::logger("scheduler").warn("DAG folder {} does not exist (scheduler.dags_dir); no DAGs until it does",
                                          ctx_.cfg.get_string("scheduler.dags_dir"));
        }
        auto ep = server_.start(ctx_.cfg.get_string("scheduler.host"), ctx_.cfg.get_port("scheduler.port"), "scheduler.port");
        if (!ep) return ep.err();
        engine_->start();
        return std::optional<net::endpoint>(*ep);
    }
    void stop() override {
        server_.stop();
        engine_->stop();
    }

private:
    component_context& ctx_;
    http::server server_;
    std::unique_ptr<engine> engine_;
};

// ---- the CLI's REST client ----------------------------------------------------

struct http_reply {
    long status = 0;
    std::string body;
};

result<http_reply> call(const config::config& cfg, const std::string& method, const std::string& path,
                        const std::string& body = {}) {
    http::client_request request;
    request.method = method;
    request.auth = http::own_endpoint_auth(cfg);
    request.url = http::own_url(request.auth, fmt::format("{}:{}{}", cfg.get_string("scheduler.host"), cfg.get_port("scheduler.port"), path));
    request.headers = {{"Content-Type", "application/json"}};
    if (!body.empty()) request.body = body;
    request.timeout = std::chrono::milliseconds(30'000);
    auto response = http::perform(request);
    if (!response) {
        return make_error(response.err().code(), "{} (is `millrace scheduler` or `millrace up` running? see scheduler.port)",
                          response.err().message());
    }
    http_reply reply{response->status, std::move(response->body)};
    const std::string& url = request.url;
    if (reply.status == 401) {
        return make_error(errc::invalid_argument, "{} {}: 401, the scheduler asks for credentials: run with the same data_dir "
                          "as the server (its admin-password file) or set security.admin_password", method, url);
    }
    return reply;
}

std::string field(const nlohmann::json& node, const char* name) {
    if (!node.is_object()) return "-";
    auto v = node.find(name);
    if (v == node.end() || v->is_null()) return "-";
    if (v->is_object() && v->contains("value")) return field(*v, "value");
    if (v->is_string()) return v->get<std::string>();
    return v->is_primitive() ? v->dump() : "-";
}

int report_failure(const char* what, const http_reply& reply) {
    std::string detail = reply.body;
    auto node = nlohmann::json::parse(reply.body, nullptr, false);
    if (node.is_object() && node.contains("detail") && node["detail"].is_string()) detail = node["detail"].get<std::string>();
    std::fprintf(stderr, "millrace dags %s: HTTP %ld: %s\n", what, reply.status, detail.c_str());
    return 1;
}

using http::url_escape;

// `dags trigger --wait`: follows the run until it ends, one line per change
// (rewritten in place on a terminal), each finished task with its note
// ("200 new users, ..."); exits 0 for success, 1 for failed.
int follow_run(const config::config& cfg, const std::string& dag_id, const std::string& run_id) {
    const bool tty = ::isatty(STDOUT_FILENO) != 0;
    const std::string base = "/api/v1/dags/" + url_escape(dag_id) + "/dagRuns/" + url_escape(run_id);
    const auto started = std::chrono::steady_clock::now();
    std::string last_line;
    std::set<std::string> reported;
    int failures = 0;
    while (true) {
        auto run = call(cfg, "GET", base);
        auto tis = call(cfg, "GET", base + "/taskInstances");
        if (!run || !tis || run->status != 200 || tis->status != 200) {
            // The scheduler may restart under us: a few misses are not the run's end.
            if (++failures >= 20) {
                std::fprintf(stderr, "\nmillrace dags trigger --wait: lost the scheduler: %s\n",
                             !run ? run.err().message().c_str() : !tis ? tis.err().message().c_str() : "unexpected HTTP status");
                return 1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(500));  // display refresh, not a readiness wait
            continue;
        }
        failures = 0;
        auto run_doc = nlohmann::json::parse(run->body, nullptr, false);
        auto tis_doc = nlohmann::json::parse(tis->body, nullptr, false);
        const std::string state = field(run_doc, "state");
        std::map<std::string, int> counts;
        std::vector<std::string> finished;
        if (tis_doc.is_object() && tis_doc.contains("task_instances") && tis_doc["task_instances"].is_array()) {
            for (const auto& ti : tis_doc["task_instances"]) {
                std::string ti_state = field(ti, "state");
                counts[ti_state == "-" ? "none" : ti_state]++;
                const std::string task = field(ti, "task_id");
                if ((ti_state == "success" || ti_state == "failed" || ti_state == "upstream_failed" || ti_state == "skipped") &&
                    reported.insert(task).second) {
                    std::string note = field(ti, "note");
                    finished.push_back(fmt::format("  {} {}{}", task, ti_state, note == "-" ? "" : " — " + note));
                }
            }
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::string line = fmt::format("run {}: {}", run_id, state);
        std::string tally;
        for (const auto& [name, n] : counts) tally += fmt::format("{}{} {}", tally.empty() ? "" : ", ", n, name);
        if (!tally.empty()) line += " · tasks " + tally;
        if (!finished.empty() && tty && !last_line.empty()) std::printf("\r\033[K");
        for (const auto& f : finished) std::printf("%s\n", f.c_str());
        if (!finished.empty()) last_line.clear();
        if (line != last_line) {
            if (tty) {
                std::printf("\r\033[K%s · %.0f s", line.c_str(), seconds);
            } else {
                std::printf("%s\n", line.c_str());
            }
            last_line = line;
        } else if (tty) {
            std::printf("\r\033[K%s · %.0f s", line.c_str(), seconds);
        }
        std::fflush(stdout);
        if (state == "success" || state == "failed") {
            if (tty) std::printf("\n");
            std::printf("run %s %s in %.1f s\n", run_id.c_str(), state.c_str(), seconds);
            return state == "success" ? 0 : 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));  // display refresh, not a readiness wait
    }
}

}  // namespace

void add_options(config::schema& s) {
    s.add({"scheduler.dags_dir", value_kind::path, "./dags",
           "Folder of DAG files (*.yaml, and Airflow's *.py); reread when they change. A file with an error is reported with its line."});
    s.add({"scheduler.python", value_kind::string, "python3",
           "Python interpreter that parses Airflow DAG files (*.py) and runs their Python tasks (needs jinja2 for templates)."});
    s.add({"scheduler.dag_parse_timeout", value_kind::duration_ms, "30s",
           "Longest parse of one *.py DAG file; a slower file is an import error.", {}, 100, 3'600'000});
    s.add({"scheduler.workers", value_kind::integer, "4", "Task tries that run at once (the local executor's pool).", {}, 1, 256});
    s.add({"scheduler.dag_scan_interval", value_kind::duration_ms, "2s", "How often the DAG folder is checked for changes.",
           {}, 100, 3'600'000});
    s.add({"scheduler.schema", value_kind::string, "millrace_scheduler",
           "PostgreSQL schema of the scheduler's metadata (dag, dag_run, task_instance, task_event)."});
    s.add({"scheduler.recent_runs", value_kind::integer, "100", "Finished runs per DAG the API and UI show.", {}, 1, 100000});
    s.add({"scheduler.wait_for_lock", value_kind::boolean, "true",
           "When another scheduler drives the same database: wait for it to stop (true) or exit (false)."});
}

std::unique_ptr<component> make_scheduler(component_context& ctx) { return std::make_unique<scheduler_component>(ctx); }

int run_dags_command(const config::config& cfg, const std::vector<std::string>& args_in) {
    std::vector<std::string> args;
    std::string conf, start_date, end_date, reprocess = "none";
    bool wait = false, dry_run = false, only_failed = false, downstream = false;
    for (size_t idx = 0; idx < args_in.size(); ++idx) {
        if (args_in[idx] == "--wait") {
            wait = true;
        } else if (args_in[idx] == "--dry-run") {
            dry_run = true;
        } else if (args_in[idx] == "--only-failed") {
            only_failed = true;
        } else if (args_in[idx] == "--downstream") {
            downstream = true;
        } else if (args_in[idx] == "--reprocess-behavior" && idx + 1 < args_in.size()) {
            reprocess = args_in[++idx];
        } else if ((args_in[idx] == "-s" || args_in[idx] == "-e") && idx + 1 < args_in.size()) {
            (args_in[idx] == "-s" ? start_date : end_date) = args_in[idx + 1];
            ++idx;
        } else if (args_in[idx] == "--conf" && idx + 1 < args_in.size()) {
            conf = args_in[++idx];
        } else if (args_in[idx].rfind("--conf=", 0) == 0) {
            conf = args_in[idx].substr(7);
        } else {
            args.push_back(args_in[idx]);
        }
    }
    auto usage = [] {
        std::fprintf(stderr, "millrace dags: usage: millrace dags list | trigger <dag_id> [--conf JSON] [--wait] | "
                             "backfill <dag_id> -s START -e END [--dry-run] [--reprocess-behavior none|failed|completed] [--conf JSON] | "
                             "clear <dag_id> [-s START] [-e END] [--only-failed] [--downstream] [--dry-run] | pause <dag_id> | "
                             "unpause <dag_id>\n");
        return 2;
    };
    if (args.empty()) return usage();
    const std::string& verb = args[0];
    if (verb == "variables" || verb == "connections") {
        std::vector<std::string> rest(args.begin() + 1, args.end());
        return verb == "variables" ? run_variables_command(cfg, rest) : run_connections_command(cfg, rest);
    }
    if (verb == "list" && args.size() == 1) {
        auto reply = call(cfg, "GET", "/api/v1/dags?limit=100000");
        if (!reply) {
            std::fprintf(stderr, "millrace dags list: %s\n", reply.err().message().c_str());
            return 1;
        }
        if (reply->status != 200) return report_failure("list", *reply);
        auto root = nlohmann::json::parse(reply->body, nullptr, false);
        if (!root.is_object() || !root.contains("dags") || !root["dags"].is_array()) root = {{"dags", nlohmann::json::array()}};
        std::printf("%-28s %-16s %-7s %-16s %s\n", "dag_id", "schedule", "paused", "last run", "next run");
        for (const auto& dag : root["dags"]) {
            std::printf("%-28s %-16s %-7s %-16s %s\n", field(dag, "dag_id").c_str(), field(dag, "schedule_interval").c_str(),
                        field(dag, "is_paused").c_str(), field(dag, "last_run_state").c_str(), field(dag, "next_dagrun").c_str());
        }
        return 0;
    }
    if (args.size() != 2) return usage();
    const std::string& dag_id = args[1];
    if (verb == "trigger") {
        std::string body = "{}";
        if (!conf.empty()) {
            auto node = json::parse_object(conf);
            if (!node) {
                std::fprintf(stderr, "millrace dags trigger: --conf: %s\n", node.err().message().c_str());
                return 2;
            }
            body = json::object().raw("conf", json::to_json(*node)).done();
        }
        auto reply = call(cfg, "POST", "/api/v1/dags/" + dag_id + "/dagRuns", body);
        if (!reply) {
            std::fprintf(stderr, "millrace dags trigger: %s\n", reply.err().message().c_str());
            return 1;
        }
        if (reply->status != 200) return report_failure("trigger", *reply);
        auto run = nlohmann::json::parse(reply->body, nullptr, false);
        std::printf("triggered %s run %s (logical date %s)\n", dag_id.c_str(), field(run, "dag_run_id").c_str(),
                    field(run, "logical_date").c_str());
        std::fflush(stdout);
        return wait ? follow_run(cfg, dag_id, field(run, "dag_run_id")) : 0;
    }
    if (verb == "backfill") {
        if (start_date.empty() || end_date.empty()) {
            std::fprintf(stderr, "millrace dags backfill: -s START and -e END are required (dates such as 2026-01-01)\n");
            return 2;
        }
        nlohmann::json body = {{"dag_id", dag_id}, {"from_date", start_date}, {"to_date", end_date}, {"reprocess_behavior", reprocess}};
        if (!conf.empty()) {
            auto node = nlohmann::json::parse(conf, nullptr, false);
            if (!node.is_object()) {
                std::fprintf(stderr, "millrace dags backfill: --conf must be a JSON object\n");
                return 2;
            }
            body["dag_run_conf"] = node;
        }
        auto reply = call(cfg, "POST", dry_run ? "/api/v1/backfills/dry_run" : "/api/v1/backfills", body.dump());
        if (!reply) {
            std::fprintf(stderr, "millrace dags backfill: %s\n", reply.err().message().c_str());
            return 1;
        }
        if (reply->status != 200) return report_failure("backfill", *reply);
        auto root = nlohmann::json::parse(reply->body, nullptr, false);
        if (root.is_object() && root.contains("backfills") && root["backfills"].is_array()) {
            for (const auto& row : root["backfills"]) {
                std::printf("%-8s %-28s %s\n", field(row, "action").c_str(), field(row, "logical_date").c_str(), field(row, "dag_run_id").c_str());
            }
        }
        std::printf("%s%s run(s) of %s to run from %s to %s\n", dry_run ? "dry run: " : "", field(root, "runs_to_run").c_str(),
                    dag_id.c_str(), start_date.c_str(), end_date.c_str());
        return 0;
    }
    if (verb == "clear") {
        nlohmann::json body = {{"dry_run", dry_run}, {"only_failed", only_failed}, {"include_downstream", downstream}};
        if (!start_date.empty()) body["start_date"] = start_date;
        if (!end_date.empty()) body["end_date"] = end_date;
        auto reply = call(cfg, "POST", "/api/v1/dags/" + url_escape(dag_id) + "/clearTaskInstances", body.dump());
        if (!reply) {
            std::fprintf(stderr, "millrace dags clear: %s\n", reply.err().message().c_str());
            return 1;
        }
        if (reply->status != 200) return report_failure("clear", *reply);
        auto root = nlohmann::json::parse(reply->body, nullptr, false);
        if (root.is_object() && root.contains("task_instances") && root["task_instances"].is_array()) {
            for (const auto& ti : root["task_instances"]) {
                std::printf("%-40s %-24s %s\n", field(ti, "dag_run_id").c_str(), field(ti, "task_id").c_str(), field(ti, "state").c_str());
            }
        }
        std::printf("%s%s task instance(s) of %s cleared\n", dry_run ? "dry run: " : "", field(root, "total_entries").c_str(), dag_id.c_str());
        return 0;
    }
    if (verb == "pause" || verb == "unpause") {
        auto reply = call(cfg, "PATCH", "/api/v1/dags/" + dag_id + "?update_mask=is_paused",
                          verb == "pause" ? R"({"is_paused": true})" : R"({"is_paused": false})");
        if (!reply) {
            std::fprintf(stderr, "millrace dags %s: %s\n", verb.c_str(), reply.err().message().c_str());
            return 1;
        }
        if (reply->status != 200) return report_failure(verb.c_str(), *reply);
        std::printf("%s %s\n", verb == "pause" ? "paused" : "unpaused", dag_id.c_str());
        return 0;
    }
    return usage();
}

int run_variables_command(const config::config& cfg, const std::vector<std::string>& args) {
    auto usage = [] {
        std::fprintf(stderr, "millrace variables: usage: millrace variables set <key> <value> | get <key> | list\n");
        return 2;
    };
    if (args.empty()) return usage();
    if (args[0] == "set" && args.size() == 3) {
        auto r = call(cfg, "POST", "/api/v1/variables", json::object().str("key", args[1]).str("value", args[2]).done());
        if (!r) return std::fprintf(stderr, "millrace variables set: %s\n", r.err().message().c_str()), 1;
        if (r->status != 200) return report_failure("variables set", *r);
        std::printf("set variable %s\n", args[1].c_str());
        return 0;
    }
    if (args[0] == "get" && args.size() == 2) {
        auto r = call(cfg, "GET", "/api/v1/variables/" + args[1]);
        if (!r) return std::fprintf(stderr, "millrace variables get: %s\n", r.err().message().c_str()), 1;
        if (r->status != 200) return report_failure("variables get", *r);
        std::printf("%s\n", field(nlohmann::json::parse(r->body, nullptr, false), "value").c_str());
        return 0;
    }
    if (args[0] == "list" && args.size() == 1) {
        auto r = call(cfg, "GET", "/api/v1/variables");
        if (!r) return std::fprintf(stderr, "millrace variables list: %s\n", r.err().message().c_str()), 1;
        if (r->status != 200) return report_failure("variables list", *r);
        auto root = nlohmann::json::parse(r->body, nullptr, false);
        if (root.is_object() && root.contains("variables")) {
            for (const auto& v : root["variables"]) std::printf("%s\n", field(v, "key").c_str());
        }
        return 0;
    }
    return usage();
}

int run_connections_command(const config::config& cfg, const std::vector<std::string>& args) {
    auto usage = [] {
        std::fprintf(stderr, "millrace connections: usage: millrace connections add <conn_id> <uri> | list\n");
        return 2;
    };
    if (args.empty()) return usage();
    if (args[0] == "add" && args.size() == 3) {
        auto r = call(cfg, "POST", "/api/v1/connections", json::object().str("connection_id", args[1]).str("uri", args[2]).done());
        if (!r) return std::fprintf(stderr, "millrace connections add: %s\n", r.err().message().c_str()), 1;
        if (r->status != 200) return report_failure("connections add", *r);
        std::printf("added connection %s\n", args[1].c_str());
        return 0;
    }
    if (args[0] == "list" && args.size() == 1) {
        auto r = call(cfg, "GET", "/api/v1/connections");
        if (!r) return std::fprintf(stderr, "millrace connections list: %s\n", r.err().message().c_str()), 1;
        if (r->status != 200) return report_failure("connections list", *r);
        auto root = nlohmann::json::parse(r->body, nullptr, false);
        if (root.is_object() && root.contains("connections")) {
            for (const auto& c : root["connections"]) std::printf("%-28s %s\n", field(c, "connection_id").c_str(), field(c, "conn_type").c_str());
        }
        return 0;
    }
    return usage();
}

int run_tasks_command(const config::config& cfg, const std::vector<std::string>& args) {
    if (args.size() != 4 || args[0] != "test") {
        std::fprintf(stderr, "millrace tasks: usage: millrace tasks test <dag_id> <task_id> <date>\n");
        return 2;
    }
    const std::string &dag_id = args[1], &task_id = args[2], &date = args[3];
    std::error_code ec;
    std::shared_ptr<const dag_spec> dag;
    const std::string dir = cfg.get_string("scheduler.dags_dir");
    // *.py DAG files need the airflow package on disk: a private temp copy.
    python_options py;
    py.python = cfg.get_string("scheduler.python");
    py.parse_timeout_ms = cfg.get_int("scheduler.dag_parse_timeout");
    py.package_dir = (fs::temp_directory_path() / fmt::format("millrace-tasks-test-{}", ::getpid())).string();
    struct remove_dir {
        std::string p;
        ~remove_dir() {
            std::error_code e;
            fs::remove_all(p, e);
        }
    } cleanup{py.package_dir};
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        auto ext = entry.path().extension().string();
        if (ext == ".py") {
            if (auto st = install_python_package(py.package_dir); !st) {
                std::fprintf(stderr, "millrace tasks test: %s\n", st.err().message().c_str());
                return 1;
            }
            auto dags = load_python_dag_file(entry.path().string(), py);
            if (!dags) {
                std::fprintf(stderr, "millrace tasks test: skipping %s\n", dags.err().message().c_str());
                continue;
            }
            for (auto& d : *dags) {
                if (d.dag_id == dag_id) dag = std::make_shared<const dag_spec>(std::move(d));
            }
            continue;
        }
        if (ext != ".yaml" && ext != ".yml") continue;
        auto parsed = load_dag_file(entry.path().string());
        if (parsed && parsed->dag_id == dag_id) dag = std::make_shared<const dag_spec>(std::move(*parsed));
        if (!parsed) std::fprintf(stderr, "millrace tasks test: skipping %s\n", parsed.err().message().c_str());
    }
    if (!dag) {
        std::fprintf(stderr, "millrace tasks test: no DAG '%s' in %s (scheduler.dags_dir)\n", dag_id.c_str(), dir.c_str());
        return 1;
    }
    if (!dag->find_task(task_id)) {
        std::fprintf(stderr, "millrace tasks test: DAG '%s' has no task '%s'\n", dag_id.c_str(), task_id.c_str());
        return 1;
    }
    auto logical = parse_iso(date, dag->zone);
    if (!logical) {
        std::fprintf(stderr, "millrace tasks test: %s\n", logical.err().message().c_str());
        return 2;
    }
    asio::io_context io;
    metrics::registry registry;
    component_context ctx{io, cfg, registry, millrace::clock::system(), file_system::disk(), "", nullptr};
    try_request req;
    req.dag = dag;
    req.task_id = task_id;
    req.run.dag_id = dag_id;
    req.run.run_id = "test__" + format_iso(*logical);
    req.run.logical_date = *logical;
    req.run.data_interval_start = *logical;
    req.run.data_interval_end = dag->sched.next_after(*logical, dag->zone).value_or(*logical);
    req.try_number = 1;
    req.max_tries = 1;
    std::fflush(stdout);
    std::atomic<bool> cancel{false};
    executor_env env = env_from(ctx);
    env.python = py.python;
    env.python_dir = py.package_dir;
    auto outcome = run_try(req, env, cancel, {});
    return outcome.success || outcome.skipped ? 0 : 1;
}

}  // namespace millrace::scheduler
