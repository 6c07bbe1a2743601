#include "api.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "json.h"

namespace millrace::scheduler {
namespace {

http::response problem(int status, std::string detail, std::string field = {}) {
    json::object o;
    o.str("type", "about:blank").str("title", http::reason_phrase(status)).num("status", status).str("detail", detail);
    if (!field.empty()) o.str("field", field);
    http::response res;
    res.status = status;
    res.content_type = "application/problem+json";
    res.body = o.done();
    return res;
}

http::response ok_json(std::string body) { return http::response::json(200, std::move(body)); }

std::string opt_time(const std::optional<int64_t>& ms) { return ms ? json::quote(format_ms(*ms)) : "null"; }
std::string opt_seconds(const std::optional<int64_t>& s) { return s ? json::quote(format_iso(*s)) : "null"; }

std::string schedule_json(const dag_spec& dag) {
    if (dag.sched.type() == schedule::kind::none) return "null";
    if (dag.sched.type() == schedule::kind::interval) {
        int64_t total = dag.sched.interval_seconds();
        return json::object().str("__type", "TimeDelta").num("days", total / 86400).num("seconds", total % 86400)
            .num("microseconds", 0).done();
    }
    return json::object().str("__type", "CronExpression").str("value", dag.sched.text()).done();
}

const dag_run* last_run(const engine_state& st, const std::string& dag_id) {
    auto it = st.runs.find(dag_id);
    if (it == st.runs.end() || it->second.empty()) return nullptr;
    return &it->second.back();
}

// dagSources' file_token: the DAG file's path in hex (only paths of known DAGs are served).
std::string hex_token(const std::string& text) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : text) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string dag_json(const engine_state& st, const std::string& dag_id, const dag_entry& entry) {
    json::object o;
    o.str("dag_id", dag_id);
    const dag_spec* spec = entry.spec.get();
    o.str_or_null("description", spec && !spec->description.empty() ? std::optional<std::string>(spec->description)
                                                                      : std::nullopt);
    o.str("fileloc", entry.fileloc);
    o.str("file_token", hex_token(entry.fileloc));
    o.str_or_null("doc_md", spec && !spec->doc_md.empty() ? std::optional<std::string>(spec->doc_md) : std::nullopt);
    o.boolean("is_paused", entry.is_paused);
    o.boolean("is_active", entry.is_active);
    o.raw("schedule_interval", spec ? schedule_json(*spec) : "null");
    o.str("timetable_description", spec ? (spec->sched.text().empty() ? "Never, external triggers only" : spec->sched.text())
                                        : "");
    std::vector<std::string> tags, owners;
    if (spec) {
        for (const auto& t : spec->tags) tags.push_back(json::object().str("name", t).done());
        for (const auto& o2 : spec->owners) owners.push_back(json::quote(o2));
    }
    o.raw("tags", json::array(tags));
    o.raw("owners", json::array(owners));
    o.num("max_active_runs", spec ? spec->max_active_runs : 0);
    // Each param's default as JSON (Airflow's DAG details carry them too).
    nlohmann::json params = nlohmann::json::object();
    if (spec) {
        for (const auto& [name, text] : spec->params) {
            auto type = spec->param_types.find(name);
            auto value = nlohmann::json::parse(text, nullptr, false);
            params[name] = (type != spec->param_types.end() && type->second == "string") || value.is_discarded()
                               ? nlohmann::json(text)
                               : value;
        }
    }
    o.raw("params", params.dump());
    o.boolean("catchup", spec ? spec->catchup : false);
    o.str("timezone", spec ? spec->zone.name() : "UTC");
    o.raw("start_date", spec ? opt_seconds(spec->start_date) : "null");
    o.raw("next_dagrun", opt_seconds(entry.next_dagrun));
    if (entry.next_dagrun && spec) {
        o.raw("next_dagrun_data_interval_start", opt_seconds(entry.next_dagrun));
        o.raw("next_dagrun_data_interval_end", opt_seconds(spec->sched.next_after(*entry.next_dagrun, spec->zone)));
    }
    o.raw("last_parsed_time", entry.last_parsed_ms ? opt_time(entry.last_parsed_ms) : "null");
    bool has_errors = std::any_of(st.import_errors.begin(), st.import_errors.end(),
                                  [&](const import_error& e) { return e.filename == entry.fileloc; });
    o.boolean("has_import_errors", has_errors);
    const dag_run* last = last_run(st, dag_id);
    o.raw("last_run_state", last ? json::quote(to_string(last->state)) : "null");
    o.raw("last_run_id", last ? json::quote(last->run_id) : "null");
    return o.done();
}

std::string run_json(const dag_run& run) {
    json::object o;
    o.str("dag_id", run.dag_id).str("dag_run_id", run.run_id).str("run_type", run.run_type);
    o.str("logical_date", format_iso(run.logical_date)).str("execution_date", format_iso(run.logical_date));
    o.str("data_interval_start", format_iso(run.data_interval_start));
    o.str("data_interval_end", format_iso(run.data_interval_end));
    o.str("state", to_string(run.state));
    o.raw("conf", run.conf.empty() ? "{}" : run.conf);
    o.raw("queued_at", opt_time(run.queued_ms));
    o.raw("start_date", opt_time(run.start_ms)).raw("end_date", opt_time(run.end_ms));
    o.boolean("external_trigger", run.run_type == "manual");
    o.str_or_null("note", run.note.empty() ? std::nullopt : std::optional<std::string>(run.note));
    return o.done();
}

std::string ti_json(const dag_run& run, const task_spec& task, const task_instance* ti) {
    json::object o;
    o.str("dag_id", run.dag_id).str("dag_run_id", run.run_id).str("task_id", task.task_id);
    o.num("map_index", ti ? ti->map_index : -1);
    o.str("execution_date", format_iso(run.logical_date));
    bool has_state = ti != nullptr && ti->state != ti_state::none;
    o.raw("state", has_state ? json::quote(to_string(ti->state)) : "null");
    o.num("try_number", ti ? ti->try_number : 0);
    o.num("max_tries", ti ? ti->max_tries - 1 : task.retries);
    o.raw("start_date", ti ? opt_time(ti->start_ms) : "null");
    o.raw("end_date", ti ? opt_time(ti->end_ms) : "null");
    if (ti && ti->start_ms && ti->end_ms) {
        o.raw("duration", fmt::format("{:.3f}", static_cast<double>(*ti->end_ms - *ti->start_ms) / 1000.0));
    } else {
        o.raw("duration", "null");
    }
    o.str("operator", task.operator_name.empty() ? std::string(to_string(task.kind)) : task.operator_name);
    o.str("hostname", ti ? ti->hostname : "");
    o.raw("pid", ti && ti->pid ? std::to_string(ti->pid) : "null");
    o.raw("next_retry_at", ti ? opt_time(ti->next_retry_ms) : "null");
    o.str_or_null("note", ti && !ti->note.empty() ? std::optional<std::string>(ti->note) : std::nullopt);
    o.str_or_null("log_path", ti && !ti->log_path.empty() ? std::optional<std::string>(ti->log_path) : std::nullopt);
    // Airflow's rendered_fields: the template fields as the instance's try rendered them ({} before it ends).
    auto rendered = ti ? ti->tries.find(ti->try_number) : std::map<int, try_record>::const_iterator();
    o.raw("rendered_fields", ti && rendered != ti->tries.end() ? rendered->second.rendered_fields : "{}");
    return o.done();
}

// One try of a task instance (Airflow's TaskInstanceHistory, GET .../tries[/{n}]), with
// its rendered_fields. The current try is the instance itself, as in Airflow (running,
// up_for_retry, ...), unless the instance was cleared since: then, like an earlier
// try, it shows the outcome recorded when it ended.
std::string try_json(const dag_run& run, const task_spec& task, const task_instance& ti, int try_number) {
    auto rec = ti.tries.find(try_number);
    const bool live = try_number == ti.try_number && (rec == ti.tries.end() || ti.state != ti_state::none);
    const ti_state state = live ? ti.state : rec->second.state;
    const std::optional<int64_t> start = live ? ti.start_ms : rec->second.start_ms;
    const std::optional<int64_t> end = live ? ti.end_ms : rec->second.end_ms;
    json::object o;
    o.str("dag_id", run.dag_id).str("dag_run_id", run.run_id).str("task_id", task.task_id);
    o.num("map_index", ti.map_index);
    o.num("try_number", try_number);
    o.num("max_tries", ti.max_tries - 1);
    o.raw("state", state == ti_state::none ? "null" : json::quote(to_string(state)));
    o.raw("start_date", opt_time(start)).raw("end_date", opt_time(end));
    o.raw("duration", start && end ? fmt::format("{:.3f}", static_cast<double>(*end - *start) / 1000.0) : "null");
    o.str("operator", task.operator_name.empty() ? std::string(to_string(task.kind)) : task.operator_name);
    o.str("hostname", live ? ti.hostname : rec->second.hostname);
    o.raw("rendered_fields", rec != ti.tries.end() ? rec->second.rendered_fields : "{}");
    return o.done();
}

// A map_index from a path segment or query parameter: a whole number from -1.
std::optional<int> parse_map_index(const std::string& text) {
    try {
        size_t used = 0;
        int n = std::stoi(text, &used);
        if (used == text.size() && n >= -1) return n;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

// The rows a task lists in a run: each instance of an expanded mapped task, else the task's own.
std::vector<const task_instance*> listed_tis(const dag_run& run, const std::string& task_id) {
    std::vector<const task_instance*> out;
    auto it = run.tasks.find(task_id);
    if (it == run.tasks.end()) {
        out.push_back(nullptr);
    } else if (it->second.instances.empty()) {
        out.push_back(&it->second);
    } else {
        for (const auto& inst : it->second.instances) out.push_back(&inst);
    }
    return out;
}

std::string task_json(const dag_spec& dag, const task_spec& task) {
    json::object o;
    o.str("task_id", task.task_id)
        .str("operator_name", task.operator_name.empty() ? std::string(to_string(task.kind)) : task.operator_name);
    std::vector<std::string> down, up;
    for (const auto& d : dag.downstream(task.task_id)) down.push_back(json::quote(d));
    for (const auto& u : task.upstream) up.push_back(json::quote(u));
    o.raw("downstream_task_ids", json::array(down)).raw("upstream_task_ids", json::array(up));
    o.num("retries", task.retries);
    o.raw("retry_delay", json::object().str("__type", "TimeDelta").num("seconds", task.retry_delay_ms / 1000).done());
    o.boolean("retry_exponential_backoff", task.retry_exponential_backoff);
    o.raw("execution_timeout", task.execution_timeout_ms > 0
                                   ? json::object().str("__type", "TimeDelta").num("seconds", task.execution_timeout_ms / 1000).done()
                                   : "null");
    o.str("trigger_rule", task.trigger_rule);
    o.boolean("depends_on_past", task.depends_on_past).boolean("wait_for_downstream", task.wait_for_downstream);
    o.num("line", task.line);
    o.boolean("is_mapped", task.mapping.has_value());
    return o.done();
}

// Splits "/api/v1/dags/x/dagRuns" after the prefix into segments.
std::vector<std::string> segments(const std::string& path) {
    std::vector<std::string> out;
    std::string rest = path.substr(std::string("/api/v1/").size());
    size_t start = 0;
    while (start <= rest.size()) {
        size_t slash = rest.find('/', start);
        std::string part = rest.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        if (!part.empty()) out.push_back(part);
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return out;
}

struct paging {
    size_t limit = 100, offset = 0;
};

result<paging> read_paging(const http::request& req) {
    paging p;
    for (auto [name, target, max] : {std::tuple<const char*, size_t*, size_t>{"limit", &p.limit, 100000},
                                     {"offset", &p.offset, SIZE_MAX}}) {
        const std::string* v = req.param(name);
        if (v == nullptr) continue;
        size_t used = 0;
        long long n = -1;
        try {
            n = std::stoll(*v, &used);
        } catch (const std::exception&) {
        }
        if (used != v->size() || n < 0 || static_cast<size_t>(n) > max || (std::string(name) == "limit" && n == 0)) {
            return make_error(errc::invalid_argument, "{}", name);
        }
        *target = static_cast<size_t>(n);
    }
    return p;
}

std::string page(const std::vector<std::string>& items, const paging& p, const char* key) {
    std::vector<std::string> slice;
    for (size_t idx = p.offset; idx < items.size() && slice.size() < p.limit; ++idx) slice.push_back(items[idx]);
    return json::object().raw(key, json::array(slice)).num("total_entries", static_cast<int64_t>(items.size())).done();
}

http::response bad_paging(const error& e) {
    return problem(400, fmt::format("query parameter '{}' must be a non-negative whole number{}", e.message(),
                                    e.message() == "limit" ? " from 1 to 100000" : ""),
                   e.message());
}

class api_handler {
public:
    explicit api_handler(engine& eng) : eng_(eng) {}

    http::response handle(const http::request& req) {
        auto parts = segments(req.path);
        const std::string& m = req.method == "HEAD" ? std::string("GET") : req.method;
        if (parts.size() == 1 && parts[0] == "health" && m == "GET") return health();
        if (parts.size() == 1 && parts[0] == "importErrors" && m == "GET") return import_errors(req);
        if (parts.size() == 1 && parts[0] == "version" && m == "GET") {
            return ok_json(json::object().str("version", MILLRACE_SCHEDULER_VERSION).raw("git_version", "null").done());
        }
        if (parts.size() == 2 && parts[0] == "dagSources" && m == "GET") return dag_source(parts[1]);
        if (!parts.empty() && parts[0] == "variables") return variables(parts, m, req);
        if (!parts.empty() && parts[0] == "connections") return connections(parts, m, req);
        if (!parts.empty() && parts[0] == "backfills") {
            if (m != "POST") return method_not_allowed(req);
            if (parts.size() == 1) return backfill(req, false);
            if (parts.size() == 2 && parts[1] == "dry_run") return backfill(req, true);
            return problem(404, fmt::format("no API endpoint {}", req.path));
        }
        if (parts.empty() || parts[0] != "dags") return problem(404, fmt::format("no API endpoint {}", req.path));
        if (parts.size() == 1 && m == "GET") return list_dags(req);
        if (parts.size() == 1) return method_not_allowed(req);
        const std::string& dag_id = parts[1];
        if (parts.size() == 2) {
            if (m == "GET") return get_dag(dag_id);
            if (m == "PATCH") return patch_dag(dag_id, req);
            return method_not_allowed(req);
        }
        if (parts.size() == 3 && parts[2] == "tasks" && m == "GET") return list_tasks(dag_id);
        if (parts.size() == 3 && parts[2] == "clearTaskInstances") {
            return m == "POST" ? clear_task_instances(dag_id, req) : method_not_allowed(req);
        }
        if (parts[2] != "dagRuns") return problem(404, fmt::format("no API endpoint {}", req.path));
        if (parts.size() == 3) {
            if (m == "GET") return list_runs(dag_id, req);
            if (m == "POST") return trigger(dag_id, req);
            return method_not_allowed(req);
        }
        const std::string& run_id = parts[3];
        if (parts.size() == 4 && m == "PATCH") return patch_run(dag_id, run_id, req);
        if (parts.size() == 5 && parts[4] == "clear") return m == "POST" ? clear_run(dag_id, run_id, req) : method_not_allowed(req);
        if (parts.size() == 6 && parts[4] == "taskInstances" && m == "PATCH") return patch_ti(dag_id, run_id, parts[5], req, std::nullopt);
        if (parts.size() == 7 && parts[4] == "taskInstances" && m == "PATCH") {
            auto index = parse_map_index(parts[6]);
            if (!index) return problem(400, fmt::format("map_index '{}' must be a whole number from -1", parts[6]), "map_index");
            return patch_ti(dag_id, run_id, parts[5], req, *index);
        }
        if (m != "GET") return method_not_allowed(req);
        if (parts.size() == 4) return get_run(dag_id, run_id);
        if (parts[4] != "taskInstances") return problem(404, fmt::format("no API endpoint {}", req.path));
        if (parts.size() == 5) return list_tis(dag_id, run_id);
        if (parts.size() == 6) return get_ti(dag_id, run_id, parts[5], std::nullopt);
        if (parts.size() == 7 && parts[6] == "listMapped") return list_mapped(dag_id, run_id, parts[5]);
        if (parts.size() == 8 && parts[6] == "logs") return get_log(dag_id, run_id, parts[5], parts[7], req);
        if (parts.size() >= 7 && parts.size() <= 8 && parts[6] == "xcomEntries") {
            std::optional<int> index;
            if (const auto* v = req.param("map_index")) {
                index = parse_map_index(*v);
                if (!index) return problem(400, fmt::format("query parameter 'map_index' must be a whole number from -1, not '{}'", *v), "map_index");
            }
            return xcoms(dag_id, run_id, parts[5], parts.size() == 8 ? std::optional<std::string>(parts[7]) : std::nullopt, index);
        }
        // Airflow 2.10's .../tries and .../tries/{n}; a mapped instance's as .../{map_index}/tries[/{n}]
        // or with ?map_index=.
        if ((parts.size() == 7 || parts.size() == 8) && parts[6] == "tries") {
            std::optional<int> index;
            if (const auto* v = req.param("map_index")) {
                index = parse_map_index(*v);
                if (!index) return problem(400, fmt::format("query parameter 'map_index' must be a whole number from -1, not '{}'", *v), "map_index");
            }
            return tries(dag_id, run_id, parts[5], index, parts.size() == 8 ? &parts[7] : nullptr);
        }
        if ((parts.size() == 8 || parts.size() == 9) && parts[7] == "tries") {
            auto index = parse_map_index(parts[6]);
            if (!index) return problem(400, fmt::format("map_index '{}' must be a whole number from -1", parts[6]), "map_index");
            return tries(dag_id, run_id, parts[5], index, parts.size() == 9 ? &parts[8] : nullptr);
        }
        if (parts.size() == 7) {
            auto index = parse_map_index(parts[6]);
            if (!index) return problem(404, fmt::format("no API endpoint {}", req.path));
            return get_ti(dag_id, run_id, parts[5], *index);
        }
        return problem(404, fmt::format("no API endpoint {}", req.path));
    }

private:
    // Reads the boolean fields of `body` named in `names` into `out` (absent: unchanged);
    // an unknown field or a non-boolean is a 400.
    static std::optional<http::response> read_fields(const nlohmann::json& body, const std::vector<std::string>& known,
                                                     const std::map<std::string, bool*>& flags) {
        for (const auto& [key, v] : body.items()) {
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                std::string list;
                for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
                return problem(400, fmt::format("unknown field '{}' ({})", key, list), key);
            }
            if (auto it = flags.find(key); it != flags.end() && !v.is_null()) {
                if (!v.is_boolean()) return problem(400, fmt::format("{} must be true or false", key), key);
                *it->second = v.get<bool>();
            }
        }
        return std::nullopt;
    }

    static http::response operation_error(const error& e) {
        int status = e.code() == errc::not_found ? 404 : e.code() == errc::already_exists ? 409 : 400;
        return problem(status, e.message());
    }

    static std::string changed_json(const std::vector<changed_ti>& changed) {
        std::vector<std::string> items;
        for (const auto& c : changed) {
            items.push_back(json::object()
                                .str("dag_id", c.dag_id)
                                .str("dag_run_id", c.run_id)
                                .str("task_id", c.task_id)
                                .num("map_index", c.map_index)
                                .str("execution_date", format_iso(c.logical_date))
                                .str("logical_date", format_iso(c.logical_date))
                                .raw("state", c.state == ti_state::none ? "null" : json::quote(to_string(c.state)))
                                .done());
        }
        return json::object().raw("task_instances", json::array(items)).num("total_entries", static_cast<int64_t>(items.size())).done();
    }

    // Airflow's POST /dags/{dag_id}/clearTaskInstances.
    http::response clear_task_instances(const std::string& dag_id, const http::request& req) {
        auto body = json::parse_object(req.body.find_first_not_of(" \t\r\n") == std::string::npos ? "{}" : req.body);
        if (!body) return problem(400, body.err().message());
        clear_request r;
        r.dry_run = true;  // Airflow's default: a clear without dry_run=false only lists
        bool reset_dag_runs = true, only_running = false;
        if (auto bad = read_fields(*body, {"dry_run", "task_ids", "dag_run_id", "include_downstream", "include_upstream",
                                           "only_failed", "only_running", "reset_dag_runs", "start_date", "end_date",
                                           "include_subdags", "include_parentdag"},
                                   {{"dry_run", &r.dry_run}, {"include_downstream", &r.include_downstream},
                                    {"include_upstream", &r.include_upstream}, {"only_failed", &r.only_failed},
                                    {"only_running", &only_running}, {"reset_dag_runs", &reset_dag_runs}})) {
            return *bad;
        }
        if (only_running) return problem(400, "only_running is not supported: a running try is never cleared", "only_running");
        if (auto v = body->find("dag_run_id"); v != body->end() && !v->is_null()) {
            if (!v->is_string()) return problem(400, "dag_run_id must be a string", "dag_run_id");
            r.run_id = v->get<std::string>();
        }
        if (auto v = body->find("task_ids"); v != body->end() && !v->is_null()) {
            const char* shape = "task_ids must be an array of task ids or [task_id, map_index] pairs";
            if (!v->is_array()) return problem(400, shape, "task_ids");
            for (const auto& id : *v) {
                if (id.is_array() && id.size() == 2 && id[0].is_string() && id[1].is_number_integer()) {
                    // Airflow's (task_id, map_index): only that instance of a mapped task.
                    const std::string task_id = id[0].get<std::string>();
                    if (std::find(r.task_ids.begin(), r.task_ids.end(), task_id) == r.task_ids.end()) r.task_ids.push_back(task_id);
                    r.map_indexes[task_id].insert(id[1].get<int>());
                    continue;
                }
                if (!id.is_string()) return problem(400, shape, "task_ids");
                r.task_ids.push_back(id.get<std::string>());
            }
        }
        for (const char* key : {"start_date", "end_date"}) {
            if (auto v = body->find(key); v != body->end() && !v->is_null()) {
                auto t = v->is_string() ? parse_iso(v->get<std::string>()) : result<int64_t>(make_error(errc::invalid_argument, "not a string"));
                if (!t) return problem(400, fmt::format("{}: {}", key, t.err().message()), key);
                (std::string(key) == "start_date" ? r.start_date : r.end_date) = *t;
            }
        }
        auto changed = eng_.clear(dag_id, r);
        if (!changed) return operation_error(changed.err());
        return ok_json(changed_json(*changed));
    }

    // Airflow's POST /dags/{dag_id}/dagRuns/{dag_run_id}/clear {"dry_run": bool}.
    http::response clear_run(const std::string& dag_id, const std::string& run_id, const http::request& req) {
        auto body = json::parse_object(req.body.find_first_not_of(" \t\r\n") == std::string::npos ? "{}" : req.body);
        if (!body) return problem(400, body.err().message());
        clear_request r;
        r.run_id = run_id;
        r.dry_run = true;
        if (auto bad = read_fields(*body, {"dry_run", "only_failed"}, {{"dry_run", &r.dry_run}, {"only_failed", &r.only_failed}})) return *bad;
        auto changed = eng_.clear(dag_id, r);
        if (!changed) return operation_error(changed.err());
        if (r.dry_run) return ok_json(changed_json(*changed));
        return get_run(dag_id, run_id);
    }

    // Airflow's PATCH /dags/{dag_id}/dagRuns/{dag_run_id} {"state": "success"|"failed"|"queued"}.
    http::response patch_run(const std::string& dag_id, const std::string& run_id, const http::request& req) {
        auto body = json::parse_object(req.body);
        if (!body) return problem(400, body.err().message());
        if (auto bad = read_fields(*body, {"state"}, {})) return *bad;
        auto v = body->find("state");
        std::optional<run_state> state = v != body->end() && v->is_string() ? parse_run_state(v->get<std::string>()) : std::nullopt;
        if (!state || *state == run_state::running) return problem(400, "state must be success, failed or queued", "state");
        auto run = eng_.set_run_state(dag_id, run_id, *state);
        if (!run) return operation_error(run.err());
        return ok_json(run_json(*run));
    }

    // Airflow's PATCH /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}
    // {"new_state": "success"|"failed", "dry_run": bool, "include_downstream": bool}.
    http::response patch_ti(const std::string& dag_id, const std::string& run_id, const std::string& task_id, const http::request& req,
                            std::optional<int> map_index) {
        auto body = json::parse_object(req.body);
        if (!body) return problem(400, body.err().message());
        bool dry_run = false, downstream = false, upstream = false, future = false, past = false;
        if (auto bad = read_fields(*body, {"new_state", "dry_run", "include_downstream", "include_upstream", "include_future", "include_past"},
                                   {{"dry_run", &dry_run}, {"include_downstream", &downstream}, {"include_upstream", &upstream},
                                    {"include_future", &future}, {"include_past", &past}})) {
            return *bad;
        }
        if (upstream || future || past) return problem(400, "include_upstream, include_future and include_past are not supported");
        auto v = body->find("new_state");
        std::optional<ti_state> state = v != body->end() && v->is_string() ? parse_ti_state(v->get<std::string>()) : std::nullopt;
        if (!state || (*state != ti_state::success && *state != ti_state::failed)) {
            return problem(400, "new_state must be success or failed", "new_state");
        }
        auto changed = eng_.set_task_state(dag_id, run_id, task_id, *state, downstream, dry_run,
                                           map_index && *map_index >= 0 ? map_index : std::nullopt);
        if (!changed) return operation_error(changed.err());
        // Airflow answers one TaskInstanceReference; the list is kept for include_downstream.
        auto out = json::object().str("dag_id", dag_id).str("dag_run_id", run_id).str("task_id", task_id).num("map_index", map_index.value_or(-1));
        for (const auto& c : *changed) {
            if (c.task_id == task_id) out.str("execution_date", format_iso(c.logical_date));
        }
        nlohmann::json all = nlohmann::json::parse(changed_json(*changed));
        return ok_json(out.raw("task_instances", all["task_instances"].dump()).done());
    }

    // Airflow 3's POST /backfills (and /backfills/dry_run): {"dag_id", "from_date",
    // "to_date", "dag_run_conf", "reprocess_behavior", "max_active_runs", "run_backwards"}.
    http::response backfill(const http::request& req, bool dry_run) {
        auto body = json::parse_object(req.body);
        if (!body) return problem(400, body.err().message());
        static const std::vector<std::string> known = {"dag_id", "from_date", "to_date", "dag_run_conf", "reprocess_behavior",
                                                       "max_active_runs", "run_backwards"};
        if (auto bad = read_fields(*body, known, {})) return *bad;
        auto id = body->find("dag_id");
        if (id == body->end() || !id->is_string()) return problem(400, "dag_id is required", "dag_id");
        backfill_request r;
        r.dry_run = dry_run;
        for (const char* key : {"from_date", "to_date"}) {
            auto v = body->find(key);
            if (v == body->end() || !v->is_string()) return problem(400, fmt::format("{} is required (an ISO 8601 date or date-time)", key), key);
            auto t = parse_iso(v->get<std::string>());
            if (!t) return problem(400, fmt::format("{}: {}", key, t.err().message()), key);
            (std::string(key) == "from_date" ? r.from : r.to) = *t;
        }
        if (auto v = body->find("dag_run_conf"); v != body->end() && !v->is_null()) {
            if (!v->is_object()) return problem(400, "dag_run_conf must be a JSON object", "dag_run_conf");
            r.conf = json::to_json(*v);
        }
        if (auto v = body->find("reprocess_behavior"); v != body->end() && !v->is_null()) {
            if (!v->is_string()) return problem(400, "reprocess_behavior must be none, failed or completed", "reprocess_behavior");
            r.reprocess = v->get<std::string>();
        }
        if (auto v = body->find("run_backwards"); v != body->end() && v->is_boolean() && v->get<bool>()) {
            return problem(400, "run_backwards is not supported: runs go in logical-date order", "run_backwards");
        }
        auto items = eng_.backfill(id->get<std::string>(), r);
        if (!items) return operation_error(items.err());
        std::vector<std::string> rows;
        int64_t created = 0;
        for (const auto& item : *items) {
            if (item.action != "skip") ++created;
            rows.push_back(json::object()
                               .str("logical_date", format_iso(item.logical_date))
                               .str("dag_run_id", item.run_id)
                               .str("action", item.action)
                               .done());
        }
        return ok_json(json::object()
                           .str("dag_id", id->get<std::string>())
                           .str("from_date", format_iso(r.from))
                           .str("to_date", format_iso(r.to))
                           .boolean("dry_run", dry_run)
                           .num("total_entries", static_cast<int64_t>(rows.size()))
                           .num("runs_to_run", created)
                           .raw("backfills", json::array(rows))
                           .done());
    }

    static http::response method_not_allowed(const http::request& req) {
        return problem(405, fmt::format("{} is not allowed on {}", req.method, req.path));
    }

    // Airflow's GET .../taskInstances/{task_id}/xcomEntries[/{key}].
    // With map_index (query), the XComs of that instance; without, a list covers every instance of a mapped task.
    http::response xcoms(const std::string& dag_id, const std::string& run_id, const std::string& task_id,
                         const std::optional<std::string>& key, std::optional<int> map_index) {
        return eng_.read([&](const engine_state& st) {
            const dag_run* run = st.find_run(dag_id, run_id);
            if (run == nullptr) return problem(404, fmt::format("DAGRun with DAG ID: '{}' and DagRun ID: '{}' not found", dag_id, run_id));
            auto entry = [&](const task_instance& ti, const std::string& k, const std::string& value, bool with_value) {
                json::object o;
                o.str("dag_id", dag_id).str("dag_run_id", run_id).str("task_id", task_id).num("map_index", ti.map_index).str("key", k);
                o.str("execution_date", format_iso(run->logical_date)).str("logical_date", format_iso(run->logical_date));
                o.raw("timestamp", opt_time(ti.end_ms));
                if (with_value) o.str("value", value);
                return o.done();
            };
            if (key) {
                const task_instance* ti = find_ti(run->tasks, task_id, map_index.value_or(-1));
                if (ti == nullptr || !ti->xcoms.count(*key)) {
                    return problem(404, fmt::format("XCom entry with key: '{}' not found for task '{}'{} of run '{}'", *key, task_id,
                                                    map_index ? fmt::format(" map_index {}", *map_index) : std::string(), run_id));
                }
                return ok_json(entry(*ti, *key, ti->xcoms.at(*key), true));
            }
            std::vector<std::string> items;
            for (const task_instance* ti : listed_tis(*run, task_id)) {
                if (ti == nullptr || (map_index && ti->map_index != *map_index)) continue;
                for (const auto& [k, value] : ti->xcoms) items.push_back(entry(*ti, k, value, true));
            }
            return ok_json(json::object().raw("xcom_entries", json::array(items)).num("total_entries", static_cast<int64_t>(items.size())).done());
        });
    }

    // Airflow's /variables: GET (list), GET /{key}, POST {"key", "value"}.
    http::response variables(const std::vector<std::string>& parts, const std::string& m, const http::request& req) {
        if (parts.size() == 1 && m == "POST") {
            auto body = json::parse_object(req.body);
            if (!body) return problem(400, body.err().message());
            auto key = body->find("key");
            auto value = body->find("value");
            if (key == body->end() || !key->is_string() || key->get<std::string>().empty()) return problem(400, "key must be a non-empty string", "key");
            if (value == body->end() || !value->is_string()) return problem(400, "value must be a string", "value");
            if (auto st = eng_.set_variable(key->get<std::string>(), value->get<std::string>()); !st) return problem(400, st.err().message());
            return ok_json(json::object().str("key", key->get<std::string>()).str("value", value->get<std::string>()).done());
        }
        if (m != "GET" || parts.size() > 2) return method_not_allowed(req);
        return eng_.read([&](const engine_state& st) {
            if (parts.size() == 2) {
                auto it = st.variables.find(parts[1]);
                if (it == st.variables.end()) return problem(404, fmt::format("Variable not found: '{}'", parts[1]));
                return ok_json(json::object().str("key", it->first).str("value", it->second).done());
            }
            std::vector<std::string> items;
            for (const auto& [k, v] : st.variables) items.push_back(json::object().str("key", k).str("value", v).done());
            return ok_json(json::object().raw("variables", json::array(items)).num("total_entries", static_cast<int64_t>(items.size())).done());
        });
    }

    // Airflow's /connections: GET lists ids and types (never passwords); POST takes
    // {"connection_id", "uri"} or Airflow's fields (conn_type, host, login, password, schema, port, extra).
    http::response connections(const std::vector<std::string>& parts, const std::string& m, const http::request& req) {
        if (parts.size() == 1 && m == "POST") {
            auto body = json::parse_object(req.body);
            if (!body) return problem(400, body.err().message());
            auto id = body->find("connection_id");
            if (id == body->end() || !id->is_string() || id->get<std::string>().empty()) {
                return problem(400, "connection_id must be a non-empty string", "connection_id");
            }
            std::string stored;
            if (auto uri = body->find("uri"); uri != body->end()) {
                if (!uri->is_string()) return problem(400, "uri must be a string", "uri");
                stored = uri->get<std::string>();
            } else {
                nlohmann::json fields = *body;
                fields.erase("connection_id");
                if (!fields.contains("conn_type")) return problem(400, "a connection needs conn_type (or a uri)", "conn_type");
                stored = fields.dump();
            }
            if (auto st = eng_.set_connection(id->get<std::string>(), stored); !st) return problem(400, st.err().message());
            return ok_json(json::object().str("connection_id", id->get<std::string>()).done());
        }
        if (m != "GET" || parts.size() != 1) return method_not_allowed(req);
        return eng_.read([&](const engine_state& st) {
            std::vector<std::string> items;
            for (const auto& [id, text] : st.connections) {
                std::string type;
                auto parsed = nlohmann::json::parse(text, nullptr, false);
                if (parsed.is_object()) type = parsed.value("conn_type", std::string());
                else type = text.substr(0, text.find("://"));
                items.push_back(json::object().str("connection_id", id).str("conn_type", type).done());
            }
            return ok_json(json::object().raw("connections", json::array(items)).num("total_entries", static_cast<int64_t>(items.size())).done());
        });
    }

    // Airflow's GET /dagSources/{file_token}: the text of a file that declares a known DAG.
    http::response dag_source(const std::string& token) {
        std::string path = eng_.read([&](const engine_state& st) {
            for (const auto& [id, entry] : st.dags) {
                if (hex_token(entry.fileloc) == token) return entry.fileloc;
            }
            return std::string();
        });
        if (path.empty()) return problem(404, "no DAG file has this file_token");
        std::ifstream in(path);
        if (!in) return problem(404, fmt::format("DAG file {} cannot be read", path));
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        http::response res = ok_json(json::object().str("content", text).done());
        return res;
    }

    http::response health() {
        return eng_.read([](const engine_state& st) {
            json::object o;
            o.raw("metadatabase", json::object().str("status", st.metadb_ok ? "healthy" : "unhealthy").done());
            json::object s;
            s.str("status", st.lock_held ? "healthy" : "unhealthy");
            s.raw("latest_scheduler_heartbeat", st.heartbeat_ms ? opt_time(st.heartbeat_ms) : "null");
            if (!st.lock_message.empty()) s.str("detail", st.lock_message);
            o.raw("scheduler", s.done());
            return ok_json(o.done());
        });
    }

    http::response import_errors(const http::request& req) {
        auto p = read_paging(req);
        if (!p) return bad_paging(p.err());
        return eng_.read([&](const engine_state& st) {
            std::vector<std::string> items;
            for (const auto& e : st.import_errors) {
                items.push_back(json::object()
                                    .num("import_error_id", e.id)
                                    .str("filename", e.filename)
                                    .str("stack_trace", e.message)
                                    .str("timestamp", format_ms(e.timestamp_ms))
                                    .done());
            }
            return ok_json(page(items, *p, "import_errors"));
        });
    }

    http::response list_dags(const http::request& req) {
        auto p = read_paging(req);
        if (!p) return bad_paging(p.err());
        std::optional<bool> paused;
        if (const auto* v = req.param("paused")) {
            if (*v != "true" && *v != "false") return problem(400, "query parameter 'paused' must be true or false", "paused");
            paused = *v == "true";
        }
        std::vector<std::string> tags;
        for (const auto& [name, value] : req.query) {
            if (name == "tags") tags.push_back(value);
        }
        bool only_active = !(req.param("only_active") && *req.param("only_active") == "false");
        return eng_.read([&](const engine_state& st) {
            std::vector<std::string> items;
            for (const auto& [dag_id, entry] : st.dags) {
                if (only_active && !entry.is_active) continue;
                if (paused && entry.is_paused != *paused) continue;
                if (!tags.empty()) {
                    bool any = false;
                    for (const auto& t : tags) {
                        any = any || (entry.spec && std::count(entry.spec->tags.begin(), entry.spec->tags.end(), t));
                    }
                    if (!any) continue;
                }
                items.push_back(dag_json(st, dag_id, entry));
            }
            return ok_json(page(items, *p, "dags"));
        });
    }

    http::response get_dag(const std::string& dag_id) {
        return eng_.read([&](const engine_state& st) {
            auto it = st.dags.find(dag_id);
            if (it == st.dags.end()) return problem(404, fmt::format("DAG with dag_id: '{}' not found", dag_id));
            return ok_json(dag_json(st, dag_id, it->second));
        });
    }

    http::response patch_dag(const std::string& dag_id, const http::request& req) {
        if (const auto* mask = req.param("update_mask"); mask && *mask != "is_paused") {
            return problem(400, fmt::format("only is_paused can be updated, not '{}'", *mask), "update_mask");
        }
        auto body = json::parse_object(req.body);
        if (!body) return problem(400, body.err().message());
        auto node = body->find("is_paused");
        if (node == body->end() || !node->is_boolean()) return problem(400, "is_paused must be true or false", "is_paused");
        bool paused = node->get<bool>();
        for (const auto& [key, value] : body->items()) {
            if (key != "is_paused") return problem(400, fmt::format("'{}' cannot be updated; only is_paused", key), key);
        }
        if (auto st = eng_.set_paused(dag_id, paused); !st) return problem(404, st.err().message());
        return get_dag(dag_id);
    }

    http::response list_tasks(const std::string& dag_id) {
        return eng_.read([&](const engine_state& st) {
            auto it = st.dags.find(dag_id);
            if (it == st.dags.end() || !it->second.spec) {
                return problem(404, fmt::format("DAG with dag_id: '{}' not found", dag_id));
            }
            std::vector<std::string> items;
            for (const auto& t : it->second.spec->tasks) items.push_back(task_json(*it->second.spec, t));
            return ok_json(json::object().raw("tasks", json::array(items)).num("total_entries", static_cast<int64_t>(items.size())).done());
        });
    }

    http::response list_runs(const std::string& dag_id, const http::request& req) {
        auto p = read_paging(req);
        if (!p) return bad_paging(p.err());
        std::string order = req.param("order_by") ? *req.param("order_by") : "-logical_date";
        if (order != "logical_date" && order != "-logical_date" && order != "execution_date" && order != "-execution_date") {
            return problem(400, fmt::format("order_by '{}' is not supported (logical_date or -logical_date)", order), "order_by");
        }
        std::optional<run_state> state;
        if (const auto* s = req.param("state")) {
            state = parse_run_state(*s);
            if (!state) return problem(400, fmt::format("state '{}' is not a DAG run state (queued, running, success, failed)", *s), "state");
        }
        return eng_.read([&](const engine_state& st) {
            if (!st.dags.count(dag_id)) return problem(404, fmt::format("DAG with dag_id: '{}' not found", dag_id));
            std::vector<std::string> items;
            auto it = st.runs.find(dag_id);
            if (it != st.runs.end()) {
                for (const auto& run : it->second) {
                    if (!state || run.state == *state) items.push_back(run_json(run));
                }
            }
            if (order[0] == '-') std::reverse(items.begin(), items.end());
            return ok_json(page(items, *p, "dag_runs"));
        });
    }

    http::response trigger(const std::string& dag_id, const http::request& req) {
        std::string body_text = req.body.find_first_not_of(" \t\r\n") == std::string::npos ? "{}" : req.body;
        auto body = json::parse_object(body_text);
        if (!body) return problem(400, body.err().message());
        std::optional<std::string> run_id;
        std::optional<int64_t> logical;
        std::string conf = "{}", note;
        static const std::vector<std::string> known = {"dag_run_id", "logical_date", "execution_date", "conf", "note",
                                                       "data_interval_start", "data_interval_end"};
        for (const auto& [key, v] : body->items()) {
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                return problem(400, fmt::format("unknown field '{}' (dag_run_id, logical_date, conf, note)", key), key);
            }
            if (key == "dag_run_id" && !v.is_null()) {
                if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 250 ||
                    v.get<std::string>().find('/') != std::string::npos) {
                    return problem(400, "dag_run_id must be a non-empty string of at most 250 characters without '/'", key);
                }
                run_id = v.get<std::string>();
            } else if ((key == "logical_date" || key == "execution_date") && !v.is_null()) {
                auto t = v.is_string() ? parse_iso(v.get<std::string>())
                                       : result<int64_t>(make_error(errc::invalid_argument, "not a string"));
                if (!t) return problem(400, fmt::format("{}: {}", key, t.err().message()), key);
                logical = *t;
            } else if (key == "conf" && !v.is_null()) {
                if (!v.is_object()) return problem(400, "conf must be a JSON object", "conf");
                conf = json::to_json(v);
            } else if (key == "note" && !v.is_null()) {
                if (!v.is_string()) return problem(400, "note must be a string", "note");
                note = v.get<std::string>();
            }
        }
        auto run = eng_.trigger(dag_id, run_id, logical, conf, note);
        if (!run) {
            int status = run.err().code() == errc::not_found ? 404 : run.err().code() == errc::already_exists ? 409 : 400;
            return problem(status, run.err().message(), run.err().message().rfind("conf", 0) == 0 ? "conf" : "");
        }
        return ok_json(run_json(*run));
    }

    http::response get_run(const std::string& dag_id, const std::string& run_id) {
        return eng_.read([&](const engine_state& st) {
            const dag_run* run = st.find_run(dag_id, run_id);
            if (run == nullptr) {
                return problem(404, fmt::format("DAGRun with DAG ID: '{}' and DagRun ID: '{}' not found", dag_id, run_id));
            }
            return ok_json(run_json(*run));
        });
    }

    http::response list_tis(const std::string& dag_id, const std::string& run_id) {
        return eng_.read([&](const engine_state& st) {
            const dag_run* run = st.find_run(dag_id, run_id);
            auto dag_it = st.dags.find(dag_id);
            if (run == nullptr || dag_it == st.dags.end() || !dag_it->second.spec) {
                return problem(404, fmt::format("DAGRun with DAG ID: '{}' and DagRun ID: '{}' not found", dag_id, run_id));
            }
            std::vector<std::string> items;
            for (const auto& task : dag_it->second.spec->tasks) {
                for (const task_instance* ti : listed_tis(*run, task.task_id)) items.push_back(ti_json(*run, task, ti));
            }
            return ok_json(json::object().raw("task_instances", json::array(items)).num("total_entries", static_cast<int64_t>(items.size())).done());
        });
    }

    // GET .../taskInstances/{task_id} and .../taskInstances/{task_id}/{map_index} (Airflow's get_mapped_task_instance).
    http::response get_ti(const std::string& dag_id, const std::string& run_id, const std::string& task_id,
                          std::optional<int> map_index) {
        return eng_.read([&](const engine_state& st) {
            const dag_run* run = st.find_run(dag_id, run_id);
            auto dag_it = st.dags.find(dag_id);
            const task_spec* task = dag_it != st.dags.end() && dag_it->second.spec ? dag_it->second.spec->find_task(task_id) : nullptr;
            if (run == nullptr || task == nullptr) {
                return problem(404, fmt::format("Task instance {} of DAGRun '{}' of DAG '{}' not found", task_id, run_id, dag_id));
            }
            auto ti = run->tasks.find(task_id);
            const int index = map_index.value_or(-1);
            const bool expanded = ti != run->tasks.end() && !ti->second.instances.empty();
            if (index >= 0 || expanded) {
                const task_instance* inst = index >= 0 ? find_ti(run->tasks, task_id, index) : nullptr;
                if (inst == nullptr) {
                    return problem(404, expanded && index < 0
                                            ? fmt::format("Task instance {} of run '{}' is mapped; add the map_index to the URL", task_id, run_id)
                                            : fmt::format("Task instance {} map_index {} of DAGRun '{}' of DAG '{}' not found", task_id,
                                                          index, run_id, dag_id));
                }
                return ok_json(ti_json(*run, *task, inst));
            }
            return ok_json(ti_json(*run, *task, ti == run->tasks.end() ? nullptr : &ti->second));
        });
    }

    // Airflow's GET .../taskInstances/{task_id}/listMapped: the instances of a mapped task, by map_index.
    http::response list_mapped(const std::string& dag_id, const std::string& run_id, const std::string& task_id) {
        return eng_.read([&](const engine_state& st) {
            const dag_run* run = st.find_run(dag_id, run_id);
            auto dag_it = st.dags.find(dag_id);
            const task_spec* task = dag_it != st.dags.end() && dag_it->second.spec ? dag_it->second.spec->find_task(task_id) : nullptr;
            if (run == nullptr || task == nullptr) {
                return problem(404, fmt::format("Task instance {} of DAGRun '{}' of DAG '{}' not found", task_id, run_id, dag_id));
            }
            if (!task->mapping) return problem(404, fmt::format("Task id {} is not mapped", task_id));
            std::vector<std::string> items;
            auto ti = run->tasks.find(task_id);
            if (ti != run->tasks.end()) {
                for (const auto& inst : ti->second.instances) items.push_back(ti_json(*run, *task, &inst));
            }
            return ok_json(json::object().raw("task_instances", json::array(items)).num("total_entries", static_cast<int64_t>(items.size())).done());
        });
    }

    // GET .../taskInstances/{task_id}[/{map_index}]/tries: every try of the instance, oldest first;
    // with `try_text`, that one try (Airflow's get_task_instance_try_details).
    http::response tries(const std::string& dag_id, const std::string& run_id, const std::string& task_id,
                         std::optional<int> map_index, const std::string* try_text) {
        int wanted = 0;
        if (try_text != nullptr) {
            try {
                size_t used = 0;
                wanted = std::stoi(*try_text, &used);
                if (used != try_text->size()) wanted = 0;
            } catch (const std::exception&) {
            }
            if (wanted < 1) return problem(400, fmt::format("try_number '{}' must be a whole number from 1", *try_text), "try_number");
        }
        return eng_.read([&](const engine_state& st) {
            const dag_run* run = st.find_run(dag_id, run_id);
            auto dag_it = st.dags.find(dag_id);
            const task_spec* task = dag_it != st.dags.end() && dag_it->second.spec ? dag_it->second.spec->find_task(task_id) : nullptr;
            if (run == nullptr || task == nullptr) {
                return problem(404, fmt::format("Task instance {} of DAGRun '{}' of DAG '{}' not found", task_id, run_id, dag_id));
            }
            const int index = map_index.value_or(-1);
            const task_instance* ti = find_ti(run->tasks, task_id, index);
            auto whole = run->tasks.find(task_id);
            if (index < 0 && whole != run->tasks.end() && !whole->second.instances.empty()) {
                return problem(404, fmt::format("Task instance {} of run '{}' is mapped; add the map_index", task_id, run_id));
            }
            const std::string where = fmt::format("task {}{} in run {} of DAG {}", task_id,
                                                  index >= 0 ? fmt::format(" map_index {}", index) : std::string(), run_id, dag_id);
            if (try_text != nullptr) {
                if (ti == nullptr || wanted > ti->try_number || (wanted < ti->try_number && !ti->tries.count(wanted))) {
                    return problem(404, fmt::format("try {} of {} not found ({} tries)", wanted, where, ti ? ti->try_number : 0));
                }
                return ok_json(try_json(*run, *task, *ti, wanted));
            }
            if (ti == nullptr && index >= 0) return problem(404, fmt::format("no {}", where));
            std::vector<std::string> items;
            if (ti != nullptr) {
                for (int n = 1; n <= ti->try_number; ++n) {
                    if (n == ti->try_number || ti->tries.count(n)) items.push_back(try_json(*run, *task, *ti, n));
                }
            }
            return ok_json(json::object().raw("task_instances", json::array(items)).num("total_entries", static_cast<int64_t>(items.size())).done());
        });
    }

    http::response get_log(const std::string& dag_id, const std::string& run_id, const std::string& task_id,
                           const std::string& try_text, const http::request& req) {
        int try_number = 0;
        try {
            size_t used = 0;
            try_number = std::stoi(try_text, &used);
            if (used != try_text.size()) try_number = 0;
        } catch (const std::exception&) {
        }
        if (try_number < 1) return problem(400, fmt::format("try_number '{}' must be a whole number from 1", try_text), "try_number");
        std::string path;
        auto missing = eng_.read([&](const engine_state& st) -> std::optional<http::response> {
            const dag_run* run = st.find_run(dag_id, run_id);
            if (run == nullptr) {
                return problem(404, fmt::format("DAGRun with DAG ID: '{}' and DagRun ID: '{}' not found", dag_id, run_id));
            }
            int map_index = -1;
            if (const auto* v = req.param("map_index")) map_index = parse_map_index(*v).value_or(-2);
            const task_instance* ti = find_ti(run->tasks, task_id, map_index);
            if (ti == nullptr || ti->try_number < try_number || ti->log_path.empty()) {
                return problem(404, fmt::format("no log for try {} of task {}{} in run {}", try_number, task_id,
                                                map_index != -1 ? fmt::format(" map_index {}", map_index) : std::string(), run_id));
            }
            // Try N's file sits next to the latest try's.
            path = ti->log_path;
            auto at = path.rfind("attempt=");
            path = path.substr(0, at) + fmt::format("attempt={}.log", try_number);
            return std::nullopt;
        });
        if (missing) return *missing;
        // A local file read, bounded: the tail of a long log.
        constexpr std::streamoff k_max_bytes = 1 << 20;
        std::ifstream in(path, std::ios::binary);
        std::string content;
        if (in) {
            in.seekg(0, std::ios::end);
            std::streamoff size = in.tellg();
            std::streamoff from = size > k_max_bytes ? size - k_max_bytes : 0;
            in.seekg(from);
            content.resize(static_cast<size_t>(size - from));
            in.read(content.data(), size - from);
        }
        std::string accept = req.header("accept");
        if (accept.find("application/json") != std::string::npos) {
            return ok_json(json::object().raw("continuation_token", "null").str("content", content).done());
        }
        return http::response::text(200, std::move(content));
    }

    engine& eng_;
};

}  // namespace

void add_api_routes(http::server& server, engine& eng) {
    auto handler = std::make_shared<api_handler>(eng);
    for (const char* method : {"GET", "POST", "PATCH", "PUT", "DELETE"}) {
        server.route(method, "/api/v1/", [handler](const http::request& req) { return handler->handle(req); });
    }
}

}  // namespace millrace::scheduler
