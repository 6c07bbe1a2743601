#include "python_dags.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

extern char** environ;

namespace millrace::scheduler {
namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;
constexpr int64_t k_default_max_retry_delay_ms = 24 * 3600 * 1000;  // Airflow's MAX_RETRY_DELAY

struct process_result {
    int status = 0;
    bool timed_out = false;
    std::string output;  // stdout and stderr, the last 16 KiB
};

// Runs argv with `env` added, its own process group, output captured; after
// `timeout_ms` the group gets SIGTERM, and SIGKILL 2 s later.
result<process_result> run_process(const std::vector<std::string>& argv_in,
                                   const std::vector<std::string>& env_add, int64_t timeout_ms) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    for (const auto& e : env_add) env_strings.push_back(e);
    std::vector<char*> envp, argv;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv_in;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return make_error(errc::io_error, "pipe: {}", std::strerror(errno));
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        ::close(null_fd);
        return make_error(errc::io_error, "fork: {}", std::strerror(errno));
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(null_fd, 0);
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        ::execvpe(argv[0], argv.data(), envp.data());
        const char msg[] = "millrace: cannot run the Python interpreter (scheduler.python)\n";
        (void)!::write(2, msg, sizeof msg - 1);
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    ::close(fds[1]);
    ::close(null_fd);
    process_result out;
    const auto deadline = steady::now() + std::chrono::milliseconds(timeout_ms);
    auto kill_at = steady::time_point::max();
    bool open = true;
    char buffer[4096];
    for (;;) {
        auto now = steady::now();
        if (!out.timed_out && now >= deadline) {
            out.timed_out = true;
            ::kill(-pid, SIGTERM);
            kill_at = now + std::chrono::seconds(2);
        }
        if (now >= kill_at) ::kill(-pid, SIGKILL);
        if (open) {
            pollfd pfd{fds[0], POLLIN, 0};
            ::poll(&pfd, 1, 50);
            if (pfd.revents != 0) {
                ssize_t n = ::read(fds[0], buffer, sizeof buffer);
                if (n > 0) {
                    out.output.append(buffer, static_cast<size_t>(n));
                    if (out.output.size() > 16384) out.output.erase(0, out.output.size() - 16384);
                } else if (n == 0 || errno != EINTR) {
                    open = false;
                }
            }
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        pid_t done = ::waitpid(pid, &out.status, WNOHANG);
        if (done == pid) break;
    }
    ::close(fds[0]);
    ::kill(-pid, SIGKILL);  // stragglers of the group
    return out;
}

std::string trim_tail(std::string text, size_t max) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (text.size() > max) text = "..." + text.substr(text.size() - max);
    for (char& c : text) {
        if (c == '\n') c = ' ';
    }
    return text;
}

int64_t seconds_ms(const nlohmann::json& value, int64_t fallback) {
    if (!value.is_number()) return fallback;
    return static_cast<int64_t>(std::llround(value.get<double>() * 1000.0));
}

}  // namespace

status install_python_package(const std::string& dir) {
    for (const auto& file : embedded_python_files()) {
        fs::path path = fs::path(dir) / file.path;
        std::error_code ec;
        fs::create_directories(path.parent_path(), ec);
        if (ec) return make_error(errc::io_error, "creating {}: {}", path.parent_path().string(), ec.message());
        std::ifstream in(path, std::ios::binary);
        std::string current((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (in && current == file.text) continue;
        fs::path tmp = path;
        tmp += ".tmp";
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out.write(file.text.data(), static_cast<std::streamsize>(file.text.size()));
            if (!out) return make_error(errc::io_error, "writing {}", tmp.string());
        }
        fs::rename(tmp, path, ec);
        if (ec) return make_error(errc::io_error, "renaming {}: {}", tmp.string(), ec.message());
    }
    return {};
}

std::string python_runner(const std::string& dir) { return (fs::path(dir) / "millrace_airflow_runner.py").string(); }

result<std::vector<dag_spec>> dags_from_runner_json(std::string_view text, const std::string& path) {
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return make_error(errc::invalid_argument, "{}: the parser's output is not JSON", path);
    if (doc.contains("error")) {
        const auto& e = doc["error"];
        int line = e.value("line", 0);
        std::string message = e.value("message", std::string("unknown error"));
        if (line > 0) return make_error(errc::invalid_argument, "{}:{}: {}", path, line, message);
        return make_error(errc::invalid_argument, "{}: {}", path, message);
    }
    std::vector<dag_spec> out;
    try {
        for (const auto& d : doc.at("dags")) {
            dag_spec dag;
            dag.python = true;
            dag.fileloc = path;
            dag.dag_id = d.at("dag_id").get<std::string>();
            int line = d.value("line", 0);
            auto fail = [&](const std::string& message) {
                return make_error(errc::invalid_argument, "{}:{}: DAG '{}': {}", path, line, dag.dag_id, message);
            };
            dag.description = d.value("description", std::string());
            dag.doc_md = d.value("doc_md", std::string());
            auto zone = time_zone::load(d.value("timezone", std::string("UTC")));
            if (!zone) return fail(zone.err().message());
            dag.zone = *zone;
            if (d.contains("start_date") && d["start_date"].is_number()) dag.start_date = d["start_date"].get<int64_t>();
            if (d.contains("end_date") && d["end_date"].is_number()) dag.end_date = d["end_date"].get<int64_t>();
            const auto& s = d.at("schedule");
            if (s.contains("interval")) {
                dag.sched = schedule::every(static_cast<int64_t>(s["interval"].get<double>()), dag.start_date.value_or(0),
                                            s.value("text", std::string()));
            } else {
                auto parsed = schedule::parse(s.value("cron", std::string()));
                if (!parsed) return fail(fmt::format("schedule: {}", parsed.err().message()));
                dag.sched = *parsed;
            }
            dag.catchup = d.value("catchup", true);
            dag.max_active_runs = d.value("max_active_runs", 16);
            dag.is_paused_upon_creation = d.value("is_paused_upon_creation", false);
            dag.tags = d.value("tags", std::vector<std::string>{});
            dag.owners = d.value("owners", std::vector<std::string>{});
            for (const auto& [name, p] : d.at("params").items()) {
                const auto& value = p.at("value");
                dag.params[name] = value.is_string() ? value.get<std::string>() : value.dump();
                dag.param_types[name] = p.value("type", std::string("string"));
            }
            for (const auto& t : d.at("tasks")) {
                task_spec task;
                task.task_id = t.at("task_id").get<std::string>();
                task.operator_name = t.value("operator", std::string());
                task.line = t.value("line", 0);
                task.upstream = t.at("upstream").get<std::vector<std::string>>();
                task.trigger_rule = t.value("trigger_rule", std::string("all_success"));
                task.retries = t.value("retries", 0);
                task.retry_delay_ms = seconds_ms(t["retry_delay"], 300'000);
                task.retry_exponential_backoff = t.value("retry_exponential_backoff", false);
                task.max_retry_delay_ms = seconds_ms(t["max_retry_delay"], k_default_max_retry_delay_ms);
                task.execution_timeout_ms = seconds_ms(t["execution_timeout"], 0);
                task.depends_on_past = t.value("depends_on_past", false);
                task.wait_for_downstream = t.value("wait_for_downstream", false);
                if (t.contains("max_active_tis_per_dag") && t["max_active_tis_per_dag"].is_number_integer()) {
                    task.max_active_tis_per_dag = std::max(0, t["max_active_tis_per_dag"].get<int>());
                }
                if (t.contains("expand") && t["expand"].is_object()) {
                    const auto& e = t["expand"];
                    task_mapping mapping;
                    mapping.kwargs = e.value("mode", std::string("product")) == "kwargs";
                    mapping.taskflow = e.value("taskflow", false);
                    for (const auto& a : e.at("args")) {
                        map_source source;
                        source.name = a.value("name", std::string());
                        if (a.contains("literal")) {
                            source.literal_json = a["literal"].dump();
                        } else {
                            source.task_id = a.at("task_id").get<std::string>();
                            source.key = a.value("key", std::string("return_value"));
                        }
                        mapping.sources.push_back(std::move(source));
                    }
                    task.mapping = std::move(mapping);
                }
                std::string kind = t.value("kind", std::string("python"));
                if (kind == "shell") {
                    task.kind = task_kind::shell;
                    task.params["command"] = t.at("command").get<std::string>();
                    task.params["shell"] = "bash";
                    if (!t.value("cwd", std::string()).empty()) task.params["cwd"] = t["cwd"].get<std::string>();
                    task.params["append_env"] = t.value("append_env", true) ? "true" : "false";
                    task.params["skip_on_exit_code"] = std::to_string(t.value("skip_on_exit_code", 99));
                    task.params["xcom_push"] = t.value("xcom_push", true) ? "true" : "false";
                    for (const auto& [k, v] : t.at("env").items()) task.maps["env"][k] = v.get<std::string>();
                } else if (kind == "empty") {
                    task.kind = task_kind::empty;
                } else {
                    task.kind = task_kind::python;
                }
                dag.tasks.push_back(std::move(task));
            }
            out.push_back(std::move(dag));
        }
    } catch (const std::exception& e) {
        return make_error(errc::invalid_argument, "{}: the parser's output is malformed: {}", path, e.what());
    }
    return out;
}

result<std::vector<dag_spec>> load_python_dag_file(const std::string& path, const python_options& options) {
    std::string out_path = (fs::temp_directory_path() / "millrace-dag-parse-XXXXXX").string();
    int fd = ::mkstemp(out_path.data());
    if (fd < 0) return make_error(errc::io_error, "{}: creating a temporary file: {}", path, std::strerror(errno));
    ::close(fd);
    struct remove_file {
        std::string p;
        ~remove_file() { ::unlink(p.c_str()); }
    } cleanup{out_path};
    std::string abs = fs::absolute(path).lexically_normal().string();
    // The runner raises at the deadline itself (naming the line it was on); the kill is the backstop.
    auto proc = run_process({options.python, python_runner(options.package_dir), "parse", abs, out_path},
                            {"MILLRACE_PARSE_TIMEOUT_MS=" + std::to_string(options.parse_timeout_ms)},
                            options.parse_timeout_ms + 1000);
    if (!proc) return make_error(errc::io_error, "{}: {}", path, proc.err().message());
    std::ifstream in(out_path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (proc->timed_out && text.empty()) {
        return make_error(errc::invalid_argument, "{}: parsing took longer than scheduler.dag_parse_timeout ({} ms); killed",
                          path, options.parse_timeout_ms);
    }
    if (text.empty()) {
        std::string how = WIFSIGNALED(proc->status) ? fmt::format("was killed by signal {}", WTERMSIG(proc->status))
                                                    : fmt::format("exited with code {}", WEXITSTATUS(proc->status));
        return make_error(errc::invalid_argument, "{}: the Python parser ({}) {} without a result: {}", path,
                          options.python, how, trim_tail(proc->output, 600));
    }
    return dags_from_runner_json(text, path);
}

}  // namespace millrace::scheduler
