#include "millrace/scheduler/dag.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace millrace::scheduler {
namespace {

// The type a param's default declares: a plain (unquoted) YAML scalar that
// reads as a whole number, a number or true/false; anything else is a string.
std::string scalar_type(const YAML::Node& node) {
    if (!node.IsScalar() || node.Tag() == "!") return "string";
    const std::string& text = node.Scalar();
    if (text == "true" || text == "false") return "boolean";
    if (text.empty()) return "string";
    size_t used = 0;
    try {
        (void)std::stoll(text, &used);
        if (used == text.size()) return "integer";
    } catch (const std::exception&) {
    }
    try {
        (void)std::stod(text, &used);
        if (used == text.size() && text.find_first_of("0123456789") != std::string::npos &&
            text.find_first_not_of("0123456789+-.eE") == std::string::npos) {
            return "number";
        }
    } catch (const std::exception&) {
    }
    return "string";
}


struct kind_info {
    task_kind kind;
    const char* name;
    std::vector<std::string> scalars;   // allowed scalar keys
    std::vector<std::string> required;
    std::vector<std::string> maps;
    std::vector<std::string> lists;
};

const std::vector<kind_info>& kinds() {
    static const std::vector<kind_info> all = {
        {task_kind::shell, "shell", {"command", "cwd"}, {"command"}, {"env"}, {}},
        {task_kind::sql, "sql", {"sql", "dsn"}, {"sql"}, {}, {}},
        {task_kind::http, "http", {"url", "method", "body"}, {"url"}, {"headers"}, {"expected_status"}},
        {task_kind::kafka_produce, "kafka_produce", {"topic", "key", "value", "count", "bootstrap"}, {"topic"}, {}, {"messages"}},
        {task_kind::randomuser_fetch, "randomuser_fetch", {"count", "batch_size", "nat", "seed", "url", "first_page"}, {}, {}, {}},
    };
    return all;
}

// Kinds only Airflow DAG files declare (not accepted in YAML).
const std::vector<kind_info>& python_kinds() {
    static const std::vector<kind_info> all = {
        {task_kind::python, "python", {}, {}, {}, {}},
        {task_kind::empty, "empty", {}, {}, {}, {}},
    };
    return all;
}

const std::set<std::string>& common_task_keys() {
    static const std::set<std::string> keys = {"kind", "depends_on", "retries", "retry_delay",
                                               "retry_exponential_backoff", "max_retry_delay", "execution_timeout",
                                               "depends_on_past", "wait_for_downstream"};
    return keys;
}

class dag_parser {
public:
    explicit dag_parser(std::string file) : file_(std::move(file)) {}

    error fail(const YAML::Node& node, std::string message) const {
        const auto mark = node.Mark();
        if (mark.is_null()) return error(errc::invalid_argument, fmt::format("{}: {}", file_, message));
        return error(errc::invalid_argument, fmt::format("{}:{}:{}: {}", file_, mark.line + 1, mark.column + 1, message));
    }

    result<std::string> scalar(const YAML::Node& node, std::string_view what) const {
        if (!node.IsScalar()) return fail(node, fmt::format("{} must be a single value", what));
        return node.Scalar();
    }
    result<bool> boolean(const YAML::Node& node, std::string_view what) const {
        bool value = false;
        if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
            return fail(node, fmt::format("{} must be true or false, got '{}'", what, node.IsScalar() ? node.Scalar() : "?"));
        }
        return value;
    }
    result<int64_t> integer(const YAML::Node& node, std::string_view what, int64_t min, int64_t max) const {
        int64_t value = 0;
        if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value) || value < min || value > max) {
            return fail(node, fmt::format("{} must be a whole number in {}..{}, got '{}'", what, min, max,
                                          node.IsScalar() ? node.Scalar() : "?"));
        }
        return value;
    }
    result<int64_t> duration(const YAML::Node& node, std::string_view what) const {
        if (!node.IsScalar()) return fail(node, fmt::format("{} must be a duration like 30s", what));
        auto ms = parse_duration_ms(node.Scalar());
        if (!ms) return fail(node, fmt::format("{}: {}", what, ms.err().message()));
        return *ms;
    }
    result<std::vector<std::string>> strings(const YAML::Node& node, std::string_view what) const {
        std::vector<std::string> out;
        if (node.IsScalar()) {
            out.push_back(node.Scalar());
            return out;
        }
        if (!node.IsSequence()) return fail(node, fmt::format("{} must be a list", what));
        for (const auto& item : node) {
            auto s = scalar(item, what);
            if (!s) return s.err();
            out.push_back(*s);
        }
        return out;
    }

    // Task-level retry and depends_on_past settings, from default_args or the task itself.
    status apply_retry_keys(const YAML::Node& map, task_spec& task) const {
        if (auto n = map["retries"]) {
            auto v = integer(n, "retries", 0, 1000);
            if (!v) return v.err();
            task.retries = static_cast<int>(*v);
        }
        if (auto n = map["retry_delay"]) {
            auto v = duration(n, "retry_delay");
            if (!v) return v.err();
            task.retry_delay_ms = *v;
        }
        if (auto n = map["retry_exponential_backoff"]) {
            auto v = boolean(n, "retry_exponential_backoff");
            if (!v) return v.err();
            task.retry_exponential_backoff = *v;
        }
        if (auto n = map["max_retry_delay"]) {
            auto v = duration(n, "max_retry_delay");
            if (!v) return v.err();
            task.max_retry_delay_ms = *v;
        }
        if (auto n = map["execution_timeout"]) {
            auto v = duration(n, "execution_timeout");
            if (!v) return v.err();
            task.execution_timeout_ms = *v;
        }
        if (auto n = map["depends_on_past"]) {
            auto v = boolean(n, "depends_on_past");
            if (!v) return v.err();
            task.depends_on_past = *v;
        }
        if (auto n = map["wait_for_downstream"]) {
            auto v = boolean(n, "wait_for_downstream");
            if (!v) return v.err();
            task.wait_for_downstream = *v;
            if (*v) task.depends_on_past = true;  // as Airflow: it implies depends_on_past
        }
        return {};
    }

    result<dag_spec> parse(std::string_view text) {
        YAML::Node root;
        try {
            root = YAML::Load(std::string(text));
        } catch (const YAML::Exception& e) {
            return error(errc::invalid_argument,
                         fmt::format("{}:{}:{}: invalid YAML: {}", file_, e.mark.line + 1, e.mark.column + 1, e.msg));
        }
        if (!root.IsMap()) return fail(root, "a DAG file must be a mapping with dag_id and tasks");
        static const std::set<std::string> top_keys = {
            "dag_id", "description", "schedule", "schedule_interval", "timezone", "start_date", "end_date", "catchup",
            "max_active_runs", "is_paused_upon_creation", "tags", "owner", "params", "default_args", "tasks", "edges"};
        for (const auto& kv : root) {
            std::string key = kv.first.Scalar();
            if (!top_keys.count(key)) return fail(kv.first, fmt::format("unknown key '{}'", key));
        }
        dag_spec dag;
        dag.fileloc = file_;
        auto id_node = root["dag_id"];
        if (!id_node) return fail(root, "dag_id is missing");
        auto id = scalar(id_node, "dag_id");
        if (!id) return id.err();
        if (auto st = check_id(id_node, *id, "dag_id"); !st) return st.err();
        dag.dag_id = *id;
        if (auto n = root["description"]) {
            auto v = scalar(n, "description");
            if (!v) return v.err();
            dag.description = *v;
        }
        if (auto n = root["timezone"]) {
            auto v = scalar(n, "timezone");
            if (!v) return v.err();
            auto zone = time_zone::load(*v);
            if (!zone) return fail(n, zone.err().message());
            dag.zone = std::move(*zone);
        }
        YAML::Node sched_node = root["schedule"] ? root["schedule"] : root["schedule_interval"];
        if (sched_node && !sched_node.IsNull()) {
            auto v = scalar(sched_node, "schedule");
            if (!v) return v.err();
            auto s = schedule::parse(*v);
            if (!s) return fail(sched_node, s.err().message());
            dag.sched = std::move(*s);
        }
        for (const char* key : {"start_date", "end_date"}) {
            if (auto n = root[key]) {
                auto v = scalar(n, key);
                if (!v) return v.err();
                auto t = parse_iso(*v, dag.zone);
                if (!t) return fail(n, fmt::format("{}: {}", key, t.err().message()));
                (std::string_view(key) == "start_date" ? dag.start_date : dag.end_date) = *t;
            }
        }
        if (dag.sched.type() != schedule::kind::none && !dag.start_date) {
            return fail(sched_node, "a scheduled DAG needs a start_date");
        }
        if (auto n = root["catchup"]) {
            auto v = boolean(n, "catchup");
            if (!v) return v.err();
            dag.catchup = *v;
        }
        if (auto n = root["is_paused_upon_creation"]) {
            auto v = boolean(n, "is_paused_upon_creation");
            if (!v) return v.err();
            dag.is_paused_upon_creation = *v;
        }
        if (auto n = root["max_active_runs"]) {
            auto v = integer(n, "max_active_runs", 1, 10000);
            if (!v) return v.err();
            dag.max_active_runs = static_cast<int>(*v);
        }
        if (auto n = root["tags"]) {
            auto v = strings(n, "tags");
            if (!v) return v.err();
            dag.tags = *v;
        }
        if (auto n = root["owner"]) {
            auto v = strings(n, "owner");
            if (!v) return v.err();
            dag.owners = *v;
        }
        if (auto n = root["params"]) {
            if (!n.IsMap()) return fail(n, "params must be a mapping of names to values");
            for (const auto& kv : n) {
                auto v = scalar(kv.second, fmt::format("params.{}", kv.first.Scalar()));
                if (!v) return v.err();
                dag.params[kv.first.Scalar()] = *v;
                dag.param_types[kv.first.Scalar()] = scalar_type(kv.second);
            }
        }
        task_spec defaults;
        if (auto n = root["default_args"]) {
            if (!n.IsMap()) return fail(n, "default_args must be a mapping");
            for (const auto& kv : n) {
                std::string key = kv.first.Scalar();
                if (key == "owner") {
                    auto v = strings(kv.second, "default_args.owner");
                    if (!v) return v.err();
                    if (dag.owners.empty()) dag.owners = *v;
                } else if (!common_task_keys().count(key) || key == "kind" || key == "depends_on") {
                    return fail(kv.first, fmt::format("unknown key '{}' in default_args (retries, retry_delay, "
                                                      "retry_exponential_backoff, max_retry_delay, execution_timeout, depends_on_past, "
                                                      "wait_for_downstream, owner)",
                                                      key));
                }
            }
            if (auto st = apply_retry_keys(n, defaults); !st) return st.err();
        }
        auto tasks_node = root["tasks"];
        if (!tasks_node || !tasks_node.IsMap() || tasks_node.size() == 0) {
            return fail(tasks_node ? tasks_node : root, "tasks must be a non-empty mapping of task_id to task");
        }
        std::map<std::string, YAML::Node> dep_nodes;
        std::vector<task_spec> tasks;
        std::map<std::string, size_t> index;
        for (const auto& kv : tasks_node) {
            task_spec task = defaults;
            task.task_id = kv.first.Scalar();
            task.line = kv.first.Mark().line + 1;
            if (auto st = check_id(kv.first, task.task_id, "task_id"); !st) return st.err();
            if (index.count(task.task_id)) return fail(kv.first, fmt::format("task '{}' is declared twice", task.task_id));
            if (auto st = parse_task(kv.second, task); !st) return st.err();
            if (auto deps = kv.second["depends_on"]) dep_nodes[task.task_id] = deps;
            index[task.task_id] = tasks.size();
            tasks.push_back(std::move(task));
        }
        // Dependencies: depends_on lists, then >> edges.
        for (auto& [task_id, node] : dep_nodes) {
            auto deps = strings(node, "depends_on");
            if (!deps) return deps.err();
            auto& task = tasks[index[task_id]];
            for (const auto& dep : *deps) {
                if (!index.count(dep)) {
                    return fail(node, fmt::format("task '{}' depends on unknown task '{}'", task_id, dep));
                }
                task.upstream.push_back(dep);
            }
        }
        if (auto n = root["edges"]) {
            auto edges = strings(n, "edges");
            if (!edges) return edges.err();
            size_t edge_idx = 0;
            for (const auto& edge : *edges) {
                YAML::Node where = n.IsSequence() ? n[edge_idx] : n;
                ++edge_idx;
                std::vector<std::string> chain;
                std::string rest = edge;
                for (;;) {
                    size_t at = rest.find(">>");
                    std::string part = rest.substr(0, at);
                    part.erase(0, part.find_first_not_of(" \t"));
                    part.erase(part.find_last_not_of(" \t") + 1);
                    if (part.empty()) return fail(where, fmt::format("edge '{}' has an empty side of '>>'", edge));
                    if (!index.count(part)) return fail(where, fmt::format("edge '{}' names unknown task '{}'", edge, part));
                    chain.push_back(part);
                    if (at == std::string::npos) break;
                    rest = rest.substr(at + 2);
                }
                if (chain.size() < 2) return fail(where, fmt::format("edge '{}' needs 'a >> b'", edge));
                for (size_t idx = 1; idx < chain.size(); ++idx) tasks[index[chain[idx]]].upstream.push_back(chain[idx - 1]);
            }
        }
        for (auto& task : tasks) {
            std::sort(task.upstream.begin(), task.upstream.end());
            task.upstream.erase(std::unique(task.upstream.begin(), task.upstream.end()), task.upstream.end());
        }
        // Topological order (Kahn); what is left over lies on a cycle.
        std::map<std::string, int> pending;
        for (const auto& task : tasks) pending[task.task_id] = static_cast<int>(task.upstream.size());
        std::vector<bool> placed(tasks.size());
        for (size_t round = 0; round < tasks.size(); ++round) {
            bool progressed = false;
            for (size_t idx = 0; idx < tasks.size(); ++idx) {
                if (placed[idx] || pending[tasks[idx].task_id] != 0) continue;
                placed[idx] = true;
                progressed = true;
                dag.tasks.push_back(tasks[idx]);
                for (const auto& other : tasks) {
                    if (std::find(other.upstream.begin(), other.upstream.end(), tasks[idx].task_id) != other.upstream.end()) {
                        --pending[other.task_id];
                    }
                }
            }
            if (!progressed) break;
        }
        if (dag.tasks.size() != tasks.size()) {
            // Walk upstream from a leftover task until a task repeats: that is the cycle.
            size_t start = 0;
            while (placed[start]) ++start;
            std::vector<std::string> path{tasks[start].task_id};
            for (;;) {
                const auto& cur = tasks[index[path.back()]];
                std::string next;
                for (const auto& up : cur.upstream) {
                    if (!placed[index[up]]) {
                        next = up;
                        break;
                    }
                }
                auto seen = std::find(path.begin(), path.end(), next);
                if (seen != path.end()) {
                    std::vector<std::string> cycle(seen, path.end());
                    std::reverse(cycle.begin(), cycle.end());
                    std::string text;
                    for (const auto& t : cycle) text += t + " >> ";
                    text += cycle.front();
                    const auto& first = tasks[index[cycle.front()]];
                    YAML::Node where = dep_nodes.count(first.task_id) ? dep_nodes[first.task_id] : tasks_node[first.task_id];
                    return fail(where, fmt::format("dependency cycle: {}", text));
                }
                path.push_back(next);
            }
        }
        return dag;
    }

private:
    status check_id(const YAML::Node& node, const std::string& id, std::string_view what) const {
        bool ok = !id.empty() && id.size() <= 250;
        for (char ch : id) {
            if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.')) ok = false;
        }
        if (!ok) return fail(node, fmt::format("{} '{}' may only hold letters, digits, '_', '-' and '.'", what, id));
        return {};
    }

    status parse_task(const YAML::Node& node, task_spec& task) const {
        if (!node.IsMap()) return fail(node, fmt::format("task '{}' must be a mapping with a kind", task.task_id));
        auto kind_node = node["kind"];
        if (!kind_node) return fail(node, fmt::format("task '{}' has no kind", task.task_id));
        auto kind_name = scalar(kind_node, "kind");
        if (!kind_name) return kind_name.err();
        const kind_info* info = nullptr;
        for (const auto& k : kinds()) {
            if (*kind_name == k.name) info = &k;
        }
        if (info == nullptr) {
            return fail(kind_node, fmt::format("task '{}': unknown kind '{}' (shell, sql, http, kafka_produce, "
                                               "randomuser_fetch)", task.task_id, *kind_name));
        }
        task.kind = info->kind;
        auto has = [](const std::vector<std::string>& v, const std::string& k) {
            return std::find(v.begin(), v.end(), k) != v.end();
        };
        for (const auto& kv : node) {
            std::string key = kv.first.Scalar();
            if (common_task_keys().count(key)) continue;
            if (has(info->scalars, key)) {
                auto v = scalar(kv.second, key);
                if (!v) return v.err();
                task.params[key] = *v;
            } else if (has(info->maps, key)) {
                if (!kv.second.IsMap()) return fail(kv.second, fmt::format("{} must be a mapping", key));
                for (const auto& entry : kv.second) {
                    auto v = scalar(entry.second, key + "." + entry.first.Scalar());
                    if (!v) return v.err();
                    task.maps[key][entry.first.Scalar()] = *v;
                }
            } else if (has(info->lists, key)) {
                auto v = strings(kv.second, key);
                if (!v) return v.err();
                task.lists[key] = *v;
            } else {
                std::string allowed;
                for (const auto& k : info->scalars) allowed += (allowed.empty() ? "" : ", ") + k;
                for (const auto& k : info->maps) allowed += ", " + k;
                for (const auto& k : info->lists) allowed += ", " + k;
                return fail(kv.first, fmt::format("task '{}': unknown key '{}' for kind {} ({})", task.task_id, key,
                                                  info->name, allowed));
            }
        }
        for (const auto& key : info->required) {
            if (!task.params.count(key)) return fail(node, fmt::format("task '{}' ({}) needs '{}'", task.task_id, info->name, key));
        }
        if (task.kind == task_kind::kafka_produce && !task.params.count("value") && !task.lists.count("messages")) {
            return fail(node, fmt::format("task '{}' (kafka_produce) needs 'messages' or 'value'", task.task_id));
        }
        return apply_retry_keys(node, task);
    }

    std::string file_;
};

}  // namespace

std::string_view to_string(task_kind kind) {
    for (const auto& k : kinds()) {
        if (k.kind == kind) return k.name;
    }
    for (const auto& k : python_kinds()) {
        if (k.kind == kind) return k.name;
    }
    return "?";
}

const task_spec* dag_spec::find_task(std::string_view task_id) const {
    for (const auto& t : tasks) {
        if (t.task_id == task_id) return &t;
    }
    return nullptr;
}

std::vector<std::string> dag_spec::downstream(std::string_view task_id) const {
    std::vector<std::string> out;
    for (const auto& t : tasks) {
        if (std::find(t.upstream.begin(), t.upstream.end(), task_id) != t.upstream.end()) out.push_back(t.task_id);
    }
    return out;
}

result<dag_spec> parse_dag(std::string_view text, const std::string& file) { return dag_parser(file).parse(text); }

result<dag_spec> load_dag_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return make_error(errc::io_error, "{}: cannot read the file", path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return parse_dag(buffer.str(), path);
}

result<int64_t> parse_duration_ms(std::string_view text) {
    size_t pos = 0;
    double value = 0;
    bool digits = false;
    double scale = 0;
    while (pos < text.size() && ((text[pos] >= '0' && text[pos] <= '9') || text[pos] == '.')) {
        if (text[pos] == '.') {
            if (scale != 0) break;
            scale = 0.1;
        } else if (scale == 0) {
            value = value * 10 + (text[pos] - '0');
        } else {
            value += (text[pos] - '0') * scale;
            scale /= 10;
        }
        digits = true;
        ++pos;
    }
    std::string_view unit = text.substr(pos);
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    double ms = 0;
    if (unit.empty() || unit == "s") ms = value * 1000;
    else if (unit == "ms") ms = value;
    else if (unit == "m" || unit == "min") ms = value * 60'000;
    else if (unit == "h") ms = value * 3'600'000;
    else if (unit == "d") ms = value * 86'400'000;
    else digits = false;
    if (!digits || ms > 1e15) {
        return make_error(errc::invalid_argument, "'{}' is not a duration (seconds, or e.g. 250ms, 5s, 10m, 2h, 1d)", text);
    }
    return static_cast<int64_t>(ms);
}

result<std::string> render_template(std::string_view text, const std::map<std::string, std::string>& vars) {
    std::string out;
    size_t pos = 0;
    for (;;) {
        size_t open = text.find("{{", pos);
        if (open == std::string_view::npos) {
            out.append(text.substr(pos));
            return out;
        }
        out.append(text.substr(pos, open - pos));
        size_t close = text.find("}}", open + 2);
        if (close == std::string_view::npos) {
            return make_error(errc::invalid_argument, "template '{}': '{{{{' at offset {} is not closed", text, open);
        }
        std::string name(text.substr(open + 2, close - open - 2));
        name.erase(0, name.find_first_not_of(" \t"));
        name.erase(name.find_last_not_of(" \t") + 1);
        auto it = vars.find(name);
        if (it == vars.end()) {
            return make_error(errc::invalid_argument, "template '{}': unknown variable '{}' (ds, ds_nodash, ts, "
                              "logical_date, data_interval_start, data_interval_end, run_id, dag_id, task_id, "
                              "try_number, params.<name>, dag_run.conf.<name>)", text, name);
        }
        out += it->second;
        pos = close + 2;
    }
}

}  // namespace millrace::scheduler
