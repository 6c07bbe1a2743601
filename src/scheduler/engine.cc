#include "engine.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <sys/stat.h>
#include <unistd.h>

#include "millrace/common/log.h"
#include "json.h"
#include "python_dags.h"

namespace millrace::scheduler {
namespace {

namespace fs = std::filesystem;
const log::logger k_log{"scheduler"};
// Airflow's core.max_map_length: more instances fail the mapped task.
constexpr size_t k_max_map_length = 1024;

// Latest tick L with next(L) <= now (the newest complete data interval), or nullopt.
std::optional<int64_t> latest_complete(const dag_spec& dag, int64_t now) {
    for (int64_t step = 3600; step < int64_t(20) * 366 * 86400; step *= 2) {
        auto first = dag.sched.next_after(now - step, dag.zone);
        if (!first) continue;
        auto second = dag.sched.next_after(*first, dag.zone);
        if (!second || *second > now) continue;
        int64_t tick = *first;
        for (;;) {
            auto next = dag.sched.next_after(tick, dag.zone);
            auto after = next ? dag.sched.next_after(*next, dag.zone) : std::nullopt;
            if (!after || *after > now) return tick;
            tick = *next;
        }
    }
    return std::nullopt;
}

std::string sanitize(std::string text) {
    for (char& ch : text) {
        if (ch == '/') ch = '_';
    }
    return text;
}


// Airflow's PrevDagrunDep: a depends_on_past task waits for its instance in
// the previous run (nearest earlier logical date, any run type) to have
// succeeded or been skipped; with wait_for_downstream, also that instance's
// direct downstreams. No previous run (the first, or one that left memory):
// exempt. True when the task may run.
bool past_allows(const std::vector<dag_run>& runs, const dag_run& run, const dag_spec& spec, const task_spec& task) {
    if (!task.depends_on_past) return true;
    const dag_run* previous = nullptr;
    for (const auto& r : runs) {
        if (r.logical_date < run.logical_date && (previous == nullptr || r.logical_date > previous->logical_date)) previous = &r;
    }
    if (previous == nullptr) return true;
    auto done = [&](const std::string& task_id) {
        auto it = previous->tasks.find(task_id);
        return it != previous->tasks.end() && (it->second.state == ti_state::success || it->second.state == ti_state::skipped);
    };
    if (!done(task.task_id)) return false;
    if (task.wait_for_downstream) {
        for (const auto& d : spec.downstream(task.task_id)) {
            if (!done(d)) return false;
        }
    }
    return true;
}

}  // namespace

std::optional<nlohmann::json> pulled_xcom(const dag_run& run, const std::string& task_id, const std::string& key) {
    auto it = run.tasks.find(task_id);
    if (it == run.tasks.end()) return std::nullopt;
    const task_instance& ti = it->second;
    if (!ti.instances.empty()) {
        // Airflow: pulling from a mapped task gives its instances' values in map_index order.
        nlohmann::json all = nlohmann::json::array();
        for (const auto& inst : ti.instances) {
            if (auto x = inst.xcoms.find(key); x != inst.xcoms.end()) all.push_back(nlohmann::json::parse(x->second, nullptr, false));
        }
        return all;
    }
    auto x = ti.xcoms.find(key);
    if (x == ti.xcoms.end()) return std::nullopt;
    return nlohmann::json::parse(x->second, nullptr, false);
}

result<std::vector<nlohmann::json>> expand_mapping(const task_spec& task, const dag_run& run) {
    std::vector<nlohmann::json> none;
    if (!task.mapping) return none;
    const task_mapping& mapping = *task.mapping;
    std::vector<std::pair<std::string, nlohmann::json>> sources;  // name → array
    for (const auto& source : mapping.sources) {
        nlohmann::json values;
        if (source.task_id.empty()) {
            values = nlohmann::json::parse(source.literal_json, nullptr, false);
        } else {
            auto found = pulled_xcom(run, source.task_id, source.key);
            if (!found || found->is_null()) {
                return make_error(errc::invalid_argument, "task '{}' maps over XCom '{}' of task '{}', which it did not push",
                                  task.task_id, source.key, source.task_id);
            }
            values = std::move(*found);
            if (values.is_object()) {
                // Airflow maps a dict as its (key, value) pairs.
                nlohmann::json pairs = nlohmann::json::array();
                for (const auto& [k, v] : values.items()) pairs.push_back(nlohmann::json::array({k, v}));
                values = std::move(pairs);
            }
            if (!values.is_array()) {
                return make_error(errc::invalid_argument,
                                  "task '{}' maps over XCom '{}' of task '{}': unmappable return type '{}' (a list or dict is needed)",
                                  task.task_id, source.key, source.task_id, json::type_name(values));
            }
        }
        if (!values.is_array()) return make_error(errc::invalid_argument, "task '{}': the values to map over are not a list", task.task_id);
        sources.emplace_back(source.name, std::move(values));
    }
    std::vector<nlohmann::json> out;
    if (mapping.kwargs) {
        if (sources.size() != 1) return make_error(errc::invalid_argument, "task '{}': expand_kwargs takes one source", task.task_id);
        for (const auto& item : sources[0].second) {
            if (!item.is_object()) {
                return make_error(errc::invalid_argument, "task '{}': expand_kwargs() expects a list of dicts, got an element {}",
                                  task.task_id, item.dump());
            }
            out.push_back(item);
        }
    } else {
        size_t total = sources.empty() ? 0 : 1;
        for (const auto& [name, values] : sources) {
            total *= values.size();
            if (total > k_max_map_length) break;
        }
        if (total > k_max_map_length) {
            return make_error(errc::invalid_argument, "task '{}' would have more than {} mapped instances (Airflow's max_map_length)",
                              task.task_id, k_max_map_length);
        }
        for (size_t index = 0; index < total; ++index) {
            // Airflow's order: the last argument varies fastest (itertools.product).
            nlohmann::json args = nlohmann::json::object();
            size_t rest = index;
            for (auto it = sources.rbegin(); it != sources.rend(); ++it) {
                args[it->first] = it->second[rest % it->second.size()];
                rest /= it->second.size();
            }
            out.push_back(std::move(args));
        }
    }
    if (out.size() > k_max_map_length) {
        return make_error(errc::invalid_argument, "task '{}' would have more than {} mapped instances (Airflow's max_map_length)",
                          task.task_id, k_max_map_length);
    }
    return out;
}

std::vector<ti_state> upstream_states(const dag_run& run, const task_spec& task) {
    std::vector<ti_state> states;
    for (const auto& up : task.upstream) {
        auto it = run.tasks.find(up);
        if (it == run.tasks.end()) {
            states.push_back(ti_state::none);
        } else if (!it->second.instances.empty()) {
            // Airflow's trigger rules count each instance of a mapped upstream.
            for (const auto& inst : it->second.instances) states.push_back(inst.state);
        } else {
            states.push_back(it->second.state);
        }
    }
    return states;
}

trigger_decision evaluate_trigger_rule(const std::string& rule, const std::vector<ti_state>& upstream) {
    int total = static_cast<int>(upstream.size()), success = 0, skipped = 0, failed = 0, up_failed = 0;
    for (ti_state s : upstream) {
        if (s == ti_state::success) ++success;
        else if (s == ti_state::skipped) ++skipped;
        else if (s == ti_state::failed) ++failed;
        else if (s == ti_state::upstream_failed) ++up_failed;
    }
    const bool done = success + skipped + failed + up_failed == total;
    const bool any_failed = failed + up_failed > 0;
    using d = trigger_decision;
    if (total == 0 || rule == "always") return d::run;
    if (rule == "all_success") {
        if (any_failed) return d::upstream_failed;
        if (skipped > 0) return d::skip;
        return done ? d::run : d::wait;
    }
    if (rule == "all_failed") {
        if (success + skipped > 0) return d::skip;
        return done ? d::run : d::wait;
    }
    if (rule == "all_done") return done ? d::run : d::wait;
    if (rule == "all_skipped") {
        if (success + failed + up_failed > 0) return d::skip;
        return done ? d::run : d::wait;
    }
    if (rule == "one_success") {
        if (success > 0) return d::run;
        if (!done) return d::wait;
        return skipped == total ? d::skip : d::upstream_failed;
    }
    if (rule == "one_failed") {
        if (any_failed) return d::run;
        return done ? d::skip : d::wait;
    }
    if (rule == "one_done") {
        if (success + failed + up_failed > 0) return d::run;
        return done ? d::skip : d::wait;
    }
    if (rule == "none_failed") {
        if (any_failed) return d::upstream_failed;
        return done ? d::run : d::wait;
    }
    if (rule == "none_failed_min_one_success") {
        if (any_failed) return d::upstream_failed;
        if (!done) return d::wait;
        return skipped == total ? d::skip : d::run;
    }
    if (rule == "none_skipped") {
        if (skipped > 0) return d::skip;
        return done ? d::run : d::wait;
    }
    return d::wait;  // parse_dag/python_dags accept only the rules above
}

const dag_run* engine_state::find_run(const std::string& dag_id, const std::string& run_id) const {
    auto it = runs.find(dag_id);
    if (it == runs.end()) return nullptr;
    for (const auto& run : it->second) {
        if (run.run_id == run_id) return &run;
    }
    // Run ids hold "+00:00"; a client that did not percent-encode '+' sends a space.
    if (run_id.find(' ') != std::string::npos) {
        std::string plus = run_id;
        std::replace(plus.begin(), plus.end(), ' ', '+');
        return find_run(dag_id, plus);
    }
    return nullptr;
}

engine::engine(engine_options options, millrace::clock& clock, metrics::registry& metrics)
    : options_(std::move(options)),
      clock_(clock),
      store_(options_.dsn, options_.schema),
      tries_started_(metrics.make_counter("millrace_scheduler_task_tries_total", "Task tries started.")),
      tries_failed_(metrics.make_counter("millrace_scheduler_task_tries_failed_total", "Task tries that failed.")),
      latency_(metrics.make_histogram("millrace_scheduler_scheduling_latency_seconds",
                                      "From the last upstream's end to the task's start.", metrics::latency_buckets())),
      running_(metrics.make_gauge("millrace_scheduler_running_tasks", "Tries running now.")) {}

engine::~engine() { stop(); }

void engine::start() {
    python_.python = options_.env.python;
    python_.parse_timeout_ms = options_.dag_parse_timeout_ms;
    if (options_.env.python_dir.empty()) {
        options_.env.python_dir = (fs::temp_directory_path() / fmt::format("millrace-python-{}", ::getpid())).string();
    }
    python_.package_dir = options_.env.python_dir;
    if (auto st = install_python_package(options_.env.python_dir); !st) {
        k_log.error("writing the airflow package for *.py DAG files: {}", st.err().message());
    }
    thread_ = std::thread([this] { loop(); });
    for (int idx = 0; idx < options_.workers; ++idx) workers_.emplace_back([this] { worker_loop(); });
}

void engine::stop() {
    if (stopping_.exchange(true)) return;
    cancel_ = true;
    {
        std::lock_guard lock(mutex_);
        wake_flag_ = true;
    }
    wake_.notify_all();
    job_ready_.notify_all();
    for (auto& w : workers_) {
        if (w.joinable()) w.join();
    }
    if (thread_.joinable()) thread_.join();
}

void engine::poke() {
    {
        std::lock_guard lock(mutex_);
        wake_flag_ = true;
    }
    wake_.notify_all();
}

std::string engine::log_path(const dag_run& run, const std::string& task_id, int map_index, int try_number) const {
    // Airflow's layout: a mapped instance's tries under map_index=N/.
    return fmt::format("{}/dag_id={}/run_id={}/task_id={}/{}attempt={}.log", options_.logs_dir, sanitize(run.dag_id),
                       sanitize(run.run_id), sanitize(task_id),
                       map_index >= 0 ? fmt::format("map_index={}/", map_index) : std::string(), try_number);
}

// Both under mutex_.
void engine::record(const dag_run& run, const task_instance& ti, std::string detail) {
    dag_run header = run;
    header.tasks.clear();
    task_instance row = ti;
    row.instances.clear();
    writes_.push_back([header, row, detail = std::move(detail)](store& s) { return s.record_ti(header, row, detail); });
}

void engine::update_run(const dag_run& run) {
    dag_run header = run;
    header.tasks.clear();
    writes_.push_back([header](store& s) { return s.update_run(header); });
}

void engine::flush_writes() {
    for (;;) {
        std::function<status(store&)> op;
        {
            std::lock_guard lock(mutex_);
            if (writes_.empty()) return;
            op = writes_.front();
        }
        status st = op(store_);
        if (!st && st.err().code() == errc::unavailable) {
            k_log.warn("{} (will retry)", st.err().message());
            std::lock_guard lock(mutex_);
            state_.metadb_ok = false;
            state_.lock_held = false;
            return;
        }
        if (!st) k_log.error("{}", st.err().message());
        std::lock_guard lock(mutex_);
        writes_.pop_front();
    }
}

// Leadership lost: no new try starts here, the running ones are cancelled (their
// processes killed) and, once they ended, this engine waits as a standby; the
// leader that takes over re-runs them from the recorded state.
void engine::step_down(const std::string& why) {
    k_log.warn("{}; stopping every try of this scheduler and standing by", why);
    leading_ = false;
    {
        std::lock_guard lock(mutex_);
        jobs_.clear();
        state_.lock_held = false;
        state_.lock_message = why;
        writes_.clear();  // the new leader owns the records now
    }
    cancel_ = true;
    while (active_tries_.load() > 0 && !stopping_) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(50));
    }
    if (!stopping_) cancel_ = false;
    std::lock_guard lock(mutex_);
    completions_.clear();
}

bool engine::ensure_driving() {
    {
        std::unique_lock lock(mutex_);
        if (state_.lock_held && store_.connected()) {
            lock.unlock();
            // Fencing: each pass of the loop (runs, queued tries, writes) is a unit of work.
            if (lease_->held()) return true;
            step_down(fmt::format("lost the scheduler lease of schema {} ({} backend)", options_.schema,
                                  options_.coordinator ? options_.coordinator->backend() : "postgres"));
            return false;
        }
    }
    if (!lease_) {
        auto* coordinator = options_.coordinator;
        if (coordinator == nullptr) {
            auto own = coordination::make_coordinator(coordination::options{});
            if (!own) return false;  // the PostgreSQL backend cannot fail
            own_coordinator_ = std::move(*own);
            coordinator = own_coordinator_.get();
        }
        lease_ = coordinator->make_lease("scheduler." + options_.schema, options_.dsn);
    }
    auto fail = [&](std::string message, bool db_ok) {
        std::lock_guard lock(mutex_);
        if (state_.lock_message != message) k_log.warn("{}", message);
        state_.lock_message = std::move(message);
        state_.metadb_ok = db_ok;
        return false;
    };
    if (auto st = store_.connect(); !st) return fail(st.err().message(), false);
    if (auto st = store_.migrate(); !st) return fail(st.err().message(), false);
    auto locked = lease_->try_acquire();
    if (!locked) return fail(locked.err().message(), false);
    if (!*locked) {
        std::string holder = lease_->holder();
        std::string message = fmt::format("another scheduler drives schema {} of this database (lease held{}); {}",
                                          options_.schema, holder.empty() ? "" : " by " + holder,
                                          options_.wait_for_lock ? "waiting for it to stop" : "exiting");
        fail(message, true);
        if (!options_.wait_for_lock) stopping_ = true;
        return false;
    }
    k_log.info("took the scheduler lock of schema {}; driving this database", options_.schema);
    recover();
    leading_ = true;
    std::lock_guard lock(mutex_);
    state_.metadb_ok = true;
    state_.lock_held = true;
    state_.lock_message.clear();
    return true;
}

void engine::recover() {
    auto runs = store_.load_runs(options_.recent_runs);
    auto paused = store_.load_paused();
    if (!runs || !paused) {
        k_log.error("loading scheduler state: {}", (!runs ? runs.err() : paused.err()).message());
        return;
    }
    auto variables = store_.load_variables();
    auto connections = store_.load_connections();
    const int64_t now = clock_.wall_millis();
    std::lock_guard lock(mutex_);
    if (variables) state_.variables = std::move(*variables);
    if (connections) state_.connections = std::move(*connections);
    std::map<std::string, bool> paused_by_dag(paused->begin(), paused->end());
    for (auto& [dag_id, entry] : state_.dags) {
        if (auto it = paused_by_dag.find(dag_id); it != paused_by_dag.end()) entry.is_paused = it->second;
    }
    state_.runs.clear();
    for (auto& run : *runs) {
        std::vector<task_instance*> all;
        for (auto& [task_id, ti] : run.tasks) {
            all.push_back(&ti);
            for (auto& inst : ti.instances) all.push_back(&inst);
        }
        for (task_instance* each : all) {
            task_instance& ti = *each;
            const std::string& task_id = ti.task_id;
            if (!ti.instances.empty()) continue;  // a mapped task's summary: its instances are recovered
            if (ti.state == ti_state::queued) {
                ti.state = ti_state::none;
                record(run, ti, "re-queued: the scheduler restarted before this try started");
            } else if (ti.state == ti_state::running) {
                // The process died with the previous scheduler (PR_SET_PDEATHSIG); the try is lost.
                ti.end_ms = now;
                ti.note = fmt::format("the scheduler stopped while try {} ran (pid {})", ti.try_number, ti.pid);
                if (ti.try_number < ti.max_tries) {
                    ti.state = ti_state::up_for_retry;
                    ti.next_retry_ms = now;
                } else {
                    ti.state = ti_state::failed;
                }
                k_log.warn("{}.{}.{}: {}; now {}", run.dag_id, run.run_id, task_id, ti.note, to_string(ti.state));
                record(run, ti, ti.note);
            }
        }
        for (auto& [task_id, ti] : run.tasks) {
            if (!ti.instances.empty()) ti.state = mapped_summary(ti.instances);
        }
        state_.runs[run.dag_id].push_back(std::move(run));
    }
}

void engine::scan_dags(int64_t now_ms) {
    std::error_code ec;
    std::map<std::string, int64_t> seen;
    if (fs::is_directory(options_.dags_dir, ec)) {
        for (const auto& entry : fs::directory_iterator(options_.dags_dir, ec)) {
            auto ext = entry.path().extension().string();
            if (ext != ".yaml" && ext != ".yml" && ext != ".py") continue;
            struct stat st {};
            if (::stat(entry.path().c_str(), &st) != 0) continue;
            seen[entry.path().string()] = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
        }
    }
    bool changed = seen.size() != file_mtimes_.size();
    for (const auto& [path, mtime] : seen) {
        auto it = file_mtimes_.find(path);
        if (it == file_mtimes_.end() || it->second != mtime) changed = true;
    }
    if (!changed) return;
    // A file declares one DAG (YAML) or any number (an Airflow *.py file).
    std::vector<std::pair<std::string, result<std::vector<dag_spec>>>> parsed;
    for (const auto& [path, mtime] : seen) {
        auto it = file_mtimes_.find(path);
        if (it != file_mtimes_.end() && it->second == mtime) continue;
        if (path.size() > 3 && path.compare(path.size() - 3, 3, ".py") == 0) {
            parsed.emplace_back(path, load_python_dag_file(path, python_));
        } else {
            auto dag = load_dag_file(path);
            if (dag) {
                std::vector<dag_spec> one;
                one.push_back(std::move(*dag));
                parsed.emplace_back(path, std::move(one));
            } else {
                parsed.emplace_back(path, dag.err());
            }
        }
    }
    // Register new DAGs (reads is_paused) before taking the lock.
    std::map<std::string, bool> paused;
    for (auto& [path, dags] : parsed) {
        if (!dags) continue;
        for (const auto& dag : *dags) {
            auto p = store_.register_dag(dag.dag_id, dag.is_paused_upon_creation, path);
            if (!p) {
                k_log.warn("{}", p.err().message());
                return;  // retried at the next scan
            }
            paused[dag.dag_id] = *p;
        }
    }
    std::lock_guard lock(mutex_);
    for (auto& [path, dags] : parsed) {
        std::vector<std::string> old_ids = file_dag_.count(path) ? file_dag_[path] : std::vector<std::string>();
        std::erase_if(state_.import_errors, [&](const import_error& e) { return e.filename == path; });
        auto deactivate_old = [&](const std::vector<std::string>& keep) {
            for (const auto& old_id : old_ids) {
                if (std::find(keep.begin(), keep.end(), old_id) == keep.end() && state_.dags.count(old_id)) {
                    state_.dags[old_id].is_active = false;
                }
            }
        };
        if (!dags) {
            k_log.error("DAG file {}", dags.err().message());
            state_.import_errors.push_back({state_.next_import_error_id++, path, dags.err().message(), now_ms});
            deactivate_old({});
            file_dag_.erase(path);
            continue;
        }
        std::vector<std::string> ids;
        for (auto& dag : *dags) {
            if (auto clash = state_.dags.find(dag.dag_id);
                clash != state_.dags.end() && clash->second.fileloc != path && clash->second.is_active &&
                seen.count(clash->second.fileloc)) {
                std::string message = fmt::format("{}: dag_id '{}' is already defined in {}", path, dag.dag_id, clash->second.fileloc);
                k_log.error("DAG file {}", message);
                state_.import_errors.push_back({state_.next_import_error_id++, path, message, now_ms});
                continue;
            }
            ids.push_back(dag.dag_id);
            auto& entry = state_.dags[dag.dag_id];
            bool is_new = entry.spec == nullptr;
            entry.spec = std::make_shared<const dag_spec>(std::move(dag));
            entry.fileloc = path;
            entry.is_active = true;
            entry.last_parsed_ms = now_ms;
            entry.is_paused = paused[entry.spec->dag_id];
            k_log.info("{} DAG {} from {} ({} tasks, schedule {})", is_new ? "loaded" : "reloaded", entry.spec->dag_id, path,
                       entry.spec->tasks.size(), entry.spec->sched.text().empty() ? "none" : entry.spec->sched.text());
        }
        deactivate_old(ids);
        file_dag_[path] = ids;
    }
    for (const auto& [path, mtime] : file_mtimes_) {
        if (seen.count(path)) continue;
        std::erase_if(state_.import_errors, [&](const import_error& e) { return e.filename == path; });
        if (auto it = file_dag_.find(path); it != file_dag_.end()) {
            for (const auto& dag_id : it->second) {
                if (state_.dags.count(dag_id)) state_.dags[dag_id].is_active = false;
                k_log.info("DAG file {} was removed; DAG {} is inactive", path, dag_id);
            }
            file_dag_.erase(it);
        }
    }
    file_mtimes_ = seen;
}

void engine::create_scheduled_runs(int64_t now_ms) {
    const int64_t now = now_ms / 1000;
    std::map<std::string, int64_t> last;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [dag_id, runs] : state_.runs) {
            for (const auto& run : runs) {
                if (run.run_type == "scheduled") last[dag_id] = std::max(last[dag_id], run.logical_date);
            }
        }
    }
    std::lock_guard lock(mutex_);
    for (auto& [dag_id, entry] : state_.dags) {
        if (!entry.spec || !entry.is_active) continue;
        const dag_spec& dag = *entry.spec;
        if (dag.sched.type() == schedule::kind::none || !dag.start_date) {
            entry.next_dagrun.reset();
            continue;
        }
        std::vector<int64_t> due;
        std::optional<int64_t> next;
        auto last_it = last.find(dag_id);
        if (dag.sched.type() == schedule::kind::once) {
            if (last_it == last.end() && !entry.is_paused && now >= *dag.start_date) due.push_back(*dag.start_date);
            if (last_it == last.end() && due.empty()) next = *dag.start_date;
        } else {
            std::optional<int64_t> tick = last_it != last.end() ? dag.sched.next_after(last_it->second, dag.zone)
                                                                : dag.sched.next_after(*dag.start_date - 1, dag.zone);
            if (!dag.catchup && tick) {
                // Only the newest complete interval, never older ones.
                auto newest = latest_complete(dag, now);
                if (newest && *newest > *tick) tick = newest;
            }
            while (tick && (!dag.end_date || *tick <= *dag.end_date)) {
                auto end = dag.sched.next_after(*tick, dag.zone);
                if (!end || *end > now) break;
                if (entry.is_paused) break;
                due.push_back(*tick);
                tick = end;
                if (due.size() >= 1000) break;  // the rest at the next pass
            }
            next = tick;
        }
        if (entry.next_dagrun != next) {
            entry.next_dagrun = next;
            writes_.push_back([dag_id = dag_id, next](store& s) { return s.set_next_dagrun(dag_id, next); });
        }
        auto& runs = state_.runs[dag_id];
        for (int64_t logical : due) {
            bool taken = std::any_of(runs.begin(), runs.end(), [&](const dag_run& r) { return r.logical_date == logical; });
            if (taken) continue;
            dag_run run;
            run.dag_id = dag_id;
            run.run_type = "scheduled";
            run.logical_date = logical;
            run.data_interval_start = logical;
            run.data_interval_end = dag.sched.next_after(logical, dag.zone).value_or(logical);
            run.run_id = "scheduled__" + format_iso(logical);
            run.queued_ms = now_ms;
            k_log.info("created run {} of {}", run.run_id, dag_id);
            writes_.push_back([run](store& s) { return s.insert_run(run); });
            runs.push_back(std::move(run));
        }
        std::sort(runs.begin(), runs.end(), [](const dag_run& a, const dag_run& b) { return a.logical_date < b.logical_date; });
    }
}

void engine::schedule_tasks(int64_t now_ms) {
    std::lock_guard lock(mutex_);
    for (auto& [dag_id, runs] : state_.runs) {
        auto dag_it = state_.dags.find(dag_id);
        if (dag_it == state_.dags.end() || !dag_it->second.spec || dag_it->second.is_paused) continue;
        auto spec = dag_it->second.spec;
        int active = static_cast<int>(std::count_if(runs.begin(), runs.end(),
                                                    [](const dag_run& r) { return r.state == run_state::running; }));
        for (auto& run : runs) {
            if (run.state == run_state::queued) {
                if (active >= spec->max_active_runs) continue;
                run.state = run_state::running;
                run.start_ms = now_ms;
                ++active;
                update_run(run);
            }
            if (run.state != run_state::running) continue;
            bool all_done = true, any_failed = false;
            // One task instance (or one instance of a mapped task): queued when its trigger rule lets it
            // run, or ended skipped / upstream_failed right away.
            auto consider = [&](const task_spec& task, task_instance& ti, const std::vector<ti_state>& up_states) {
                if (!(ti.state == ti_state::none || ti.state == ti_state::scheduled ||
                      (ti.state == ti_state::up_for_retry && ti.next_retry_ms.value_or(0) <= now_ms))) {
                    return;
                }
                auto decision = evaluate_trigger_rule(task.trigger_rule, up_states);
                // A retry waits for its delay, whatever its upstreams did since.
                if (ti.state == ti_state::up_for_retry) decision = trigger_decision::run;
                bool ready = decision == trigger_decision::run;
                // depends_on_past holds back a first try only (a retry's past was already checked).
                if (ready && ti.state != ti_state::up_for_retry && !past_allows(runs, run, *spec, task)) ready = false;
                if (decision == trigger_decision::skip || decision == trigger_decision::upstream_failed) {
                    bool upstream_failed = decision == trigger_decision::upstream_failed;
                    ti.state = upstream_failed ? ti_state::upstream_failed : ti_state::skipped;
                    ti.end_ms = now_ms;
                    if (ti.try_number == 0) ti.max_tries = task.retries + 1;
                    record(run, ti, upstream_failed ? fmt::format("upstream tasks failed (trigger rule {})", task.trigger_rule)
                                                    : fmt::format("skipped by trigger rule {}", task.trigger_rule));
                    return;
                }
                if (!ready) return;
                if (task.max_active_tis_per_dag > 0) {
                    // Airflow's max_active_tis_per_dag: queued or running instances of this task in all runs.
                    int active_tis = 0;
                    for (const auto& other_run : runs) {
                        auto other = other_run.tasks.find(task.task_id);
                        if (other == other_run.tasks.end()) continue;
                        auto busy = [](const task_instance& t) { return t.state == ti_state::queued || t.state == ti_state::running; };
                        if (other->second.instances.empty()) active_tis += busy(other->second) ? 1 : 0;
                        for (const auto& inst : other->second.instances) active_tis += busy(inst) ? 1 : 0;
                    }
                    if (active_tis >= task.max_active_tis_per_dag) return;
                }
                nlohmann::json mapped_kwargs;
                if (ti.map_index >= 0) {
                    // The instance's own values, from the same sources as at the expansion.
                    auto values = expand_mapping(task, run);
                    if (!values || static_cast<size_t>(ti.map_index) >= values->size()) {
                        ti.state = ti_state::failed;
                        ti.end_ms = now_ms;
                        ti.note = !values ? values.err().message()
                                          : fmt::format("the values task '{}' maps over have {} elements now; map_index {} is gone",
                                                        task.task_id, values->size(), ti.map_index);
                        record(run, ti, ti.note);
                        return;
                    }
                    mapped_kwargs = (*values)[ti.map_index];
                }
                ti.state = ti_state::queued;
                ti.try_number += 1;
                // A cleared task keeps the max_tries its clear gave it (its retries again).
                if (ti.try_number == 1) ti.max_tries = task.retries + 1;
                ti.log_path = log_path(run, task.task_id, ti.map_index, ti.try_number);
                ti.next_retry_ms.reset();
                ti.pid = 0;
                ti.start_ms.reset();
                ti.end_ms.reset();
                ti.note.clear();
                record(run, ti, "");
                try_request req;
                req.dag = spec;
                req.task_id = task.task_id;
                req.map_index = ti.map_index;
                if (!mapped_kwargs.is_null()) req.mapped_kwargs_json = mapped_kwargs.dump();
                req.run = run;
                req.run.tasks.clear();
                req.try_number = ti.try_number;
                req.max_tries = ti.max_tries;
                req.log_path = ti.log_path;
                // Python tasks, mapped ones, and an Airflow DAG file's BashOperator (its {{ }}
                // placeholders are evaluated by the runner, var.value.X among them).
                if (task.kind == task_kind::python || !req.mapped_kwargs_json.empty() || spec->python) {
                    nlohmann::json xcoms = nlohmann::json::array();
                    for (const auto& [other_id, other] : run.tasks) {
                        std::set<std::string> keys;
                        for (const auto& [key, value] : other.xcoms) keys.insert(key);
                        for (const auto& inst : other.instances) {
                            for (const auto& [key, value] : inst.xcoms) keys.insert(key);
                        }
                        for (const auto& key : keys) {
                            if (auto value = pulled_xcom(run, other_id, key)) {
                                xcoms.push_back({{"task_id", other_id}, {"key", key}, {"value", std::move(*value)}});
                            }
                        }
                    }
                    req.xcoms_json = xcoms.dump();
                    req.variables_json = nlohmann::json(state_.variables).dump();
                    req.connections_json = nlohmann::json(state_.connections).dump();
                }
                if (!ti.xcoms.empty()) {
                    ti.xcoms.clear();  // as Airflow clears a task's XComs when it runs again
                    writes_.push_back([header = run, task_id = task.task_id, map_index = ti.map_index](store& st) {
                        return st.set_xcoms(header.dag_id, header.run_id, task_id, map_index, {});
                    });
                }
                jobs_.push_back({std::move(req)});
                job_ready_.notify_one();
            };
            for (const auto& task : spec->tasks) {
                auto& ti = run.tasks[task.task_id];
                ti.task_id = task.task_id;
                const auto up_states = upstream_states(run, task);
                if (!task.mapping) {
                    consider(task, ti, up_states);
                } else {
                    if (ti.instances.empty() && (ti.state == ti_state::none || ti.state == ti_state::scheduled)) {
                        // Expanded once the number of instances is known: at once over literals, when the
                        // upstreams are done (and the trigger rule lets it run) over an upstream's XCom.
                        bool literal = std::all_of(task.mapping->sources.begin(), task.mapping->sources.end(),
                                                   [](const map_source& m) { return m.task_id.empty(); });
                        bool ready = literal;
                        if (!literal) {
                            auto decision = evaluate_trigger_rule(task.trigger_rule, up_states);
                            if (decision == trigger_decision::skip || decision == trigger_decision::upstream_failed) {
                                consider(task, ti, up_states);  // ends it skipped or upstream_failed
                            } else {
                                ready = decision == trigger_decision::run && past_allows(runs, run, *spec, task);
                            }
                        }
                        if (ready) {
                            auto values = expand_mapping(task, run);
                            ti.max_tries = task.retries + 1;
                            if (!values) {
                                ti.state = ti_state::failed;
                                ti.end_ms = now_ms;
                                ti.note = values.err().message();
                                record(run, ti, ti.note);
                            } else if (values->empty()) {
                                // Airflow: a task mapped over nothing is skipped.
                                ti.state = ti_state::skipped;
                                ti.end_ms = now_ms;
                                ti.note = "mapped over zero elements";
                                record(run, ti, ti.note);
                            } else {
                                ti.state = ti_state::none;
                                for (size_t index = 0; index < values->size(); ++index) {
                                    task_instance inst;
                                    inst.task_id = task.task_id;
                                    inst.map_index = static_cast<int>(index);
                                    inst.max_tries = task.retries + 1;
                                    ti.instances.push_back(inst);
                                    record(run, inst, "expanded");
                                }
                                k_log.info("run {} of {}: task {} expanded to {} instance(s)", run.run_id, dag_id,
                                           task.task_id, values->size());
                            }
                        }
                    }
                    for (auto& inst : ti.instances) consider(task, inst, up_states);
                    if (!ti.instances.empty()) ti.state = mapped_summary(ti.instances);
                }
                if (!finished(ti.state)) all_done = false;
                if (ti.state == ti_state::failed || ti.state == ti_state::upstream_failed) any_failed = true;
            }
            if (all_done) {
                // Airflow: a run fails when one of its leaves failed (an all_done cleanup task can rescue it).
                any_failed = false;
                for (const auto& task : spec->tasks) {
                    if (!spec->downstream(task.task_id).empty()) continue;
                    ti_state s = run.tasks[task.task_id].state;
                    if (s == ti_state::failed || s == ti_state::upstream_failed) any_failed = true;
                }
                run.state = any_failed ? run_state::failed : run_state::success;
                run.end_ms = now_ms;
                k_log.info("run {} of {} ended: {}", run.run_id, dag_id, to_string(run.state));
                update_run(run);
            }
        }
        // Keep memory bounded: drop the oldest finished runs beyond recent_runs.
        while (static_cast<int>(runs.size()) > options_.recent_runs) {
            auto it = std::find_if(runs.begin(), runs.end(), [](const dag_run& r) {
                return r.state == run_state::success || r.state == run_state::failed;
            });
            if (it == runs.end()) break;
            runs.erase(it);
        }
    }
}

void engine::apply_completions() {
    std::lock_guard lock(mutex_);
    const int64_t now_ms = clock_.wall_millis();
    while (!completions_.empty()) {
        completion c = std::move(completions_.front());
        completions_.pop_front();
        auto runs_it = state_.runs.find(c.dag_id);
        if (runs_it == state_.runs.end()) continue;
        auto run_it = std::find_if(runs_it->second.begin(), runs_it->second.end(),
                                   [&](const dag_run& r) { return r.run_id == c.run_id; });
        if (run_it == runs_it->second.end()) continue;
        dag_run& run = *run_it;
        task_instance* found = find_ti(run.tasks, c.task_id, c.map_index);
        if (found == nullptr) continue;  // a mapped task cleared meanwhile (its instances dropped)
        auto& ti = *found;
        if (ti.try_number != c.try_number) continue;
        if (!c.started) {
            // The try's own outcome and rendered fields, kept even when a user marked the
            // task meanwhile (that state stands for the task instance, not for this try).
            try_record tr;
            tr.state = c.outcome.skipped ? ti_state::skipped : c.outcome.success ? ti_state::success : ti_state::failed;
            tr.start_ms = ti.start_ms;
            tr.end_ms = now_ms;
            tr.hostname = ti.hostname;
            if (!c.outcome.rendered_fields.empty()) tr.rendered_fields = c.outcome.rendered_fields;
            ti.tries[c.try_number] = tr;
            writes_.push_back([run_id = run.run_id, dag_id = run.dag_id, task_id = c.task_id, map_index = c.map_index,
                               try_number = c.try_number, tr](store& st) {
                return st.record_try(dag_id, run_id, task_id, map_index, try_number, tr);
            });
        }
        if (finished(ti.state)) continue;  // marked success or failed by a user while it ran: that stands
        if (c.started) {
            ti.state = ti_state::running;
            ti.start_ms = now_ms;
            ti.hostname = options_.env.hostname;
            // Scheduling latency: the newest upstream end to this start.
            auto dag_it = state_.dags.find(c.dag_id);
            if (dag_it != state_.dags.end() && dag_it->second.spec) {
                if (const auto* task = dag_it->second.spec->find_task(c.task_id); task && !task->upstream.empty()) {
                    int64_t newest = 0;
                    for (const auto& up : task->upstream) newest = std::max(newest, run.tasks[up].end_ms.value_or(0));
                    if (newest > 0) latency_.observe(static_cast<double>(now_ms - newest) / 1000.0);
                }
            }
            record(run, ti, "");
            continue;
        }
        ti.end_ms = now_ms;
        ti.note = c.outcome.note;
        if (!c.outcome.xcoms.empty()) {
            for (const auto& [key, value] : c.outcome.xcoms) ti.xcoms[key] = value;
            writes_.push_back([run_id = run.run_id, dag_id = run.dag_id, task_id = c.task_id, map_index = c.map_index,
                               xcoms = ti.xcoms](store& st) { return st.set_xcoms(dag_id, run_id, task_id, map_index, xcoms); });
        }
        for (const auto& [key, value] : c.outcome.variables) {
            state_.variables[key] = value;
            writes_.push_back([key, value](store& st) { return st.set_variable(key, value, ""); });
        }
        for (const auto& other_id : c.outcome.skip_tasks) {
            auto& other = run.tasks[other_id];
            other.task_id = other_id;
            // A mapped task expanded already (over literals): each instance is skipped.
            std::vector<task_instance*> targets;
            if (other.instances.empty()) targets.push_back(&other);
            for (auto& inst : other.instances) targets.push_back(&inst);
            for (task_instance* target : targets) {
                if (finished(target->state) || target->state == ti_state::queued || target->state == ti_state::running) continue;
                target->state = ti_state::skipped;
                target->end_ms = now_ms;
                record(run, *target, fmt::format("skipped by {}", c.task_id));
            }
            if (!other.instances.empty()) other.state = mapped_summary(other.instances);
        }
        if (c.outcome.skipped) {
            ti.state = ti_state::skipped;
        } else if (c.outcome.success) {
            ti.state = ti_state::success;
        } else {
            tries_failed_.inc();
            const task_spec* task = nullptr;
            if (auto dag_it = state_.dags.find(c.dag_id); dag_it != state_.dags.end() && dag_it->second.spec) {
                task = dag_it->second.spec->find_task(c.task_id);
            }
            if (task != nullptr && ti.try_number < ti.max_tries && !stopping_ && !c.outcome.no_retry) {
                int64_t delay = task->retry_delay_ms;
                if (task->retry_exponential_backoff) {
                    for (int idx = 1; idx < ti.try_number && delay < task->max_retry_delay_ms; ++idx) delay *= 2;
                    delay = std::min(delay, task->max_retry_delay_ms);
                }
                ti.state = ti_state::up_for_retry;
                ti.next_retry_ms = now_ms + delay;
            } else {
                ti.state = ti_state::failed;
            }
        }
        record(run, ti, ti.note);
        if (c.map_index >= 0) {
            auto& parent = run.tasks[c.task_id];
            parent.state = mapped_summary(parent.instances);
        }
    }
}

void engine::worker_loop() {
    for (;;) {
        job j;
        {
            std::unique_lock lock(mutex_);
            job_ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
            if (stopping_) return;
            j = std::move(jobs_.front());
            jobs_.pop_front();
            if (!leading_) continue;  // fenced: leadership was lost since it was queued
            ++active_tries_;
            completion started;
            started.dag_id = j.request.run.dag_id;
            started.run_id = j.request.run.run_id;
            started.task_id = j.request.task_id;
            started.map_index = j.request.map_index;
            started.try_number = j.request.try_number;
            started.started = true;
            completions_.push_back(std::move(started));
            wake_flag_ = true;
        }
        wake_.notify_all();
        tries_started_.inc();
        running_.add(1);
        try_outcome outcome = run_try(j.request, options_.env, cancel_, [&](int pid) {
            std::lock_guard lock(mutex_);
            auto* run = const_cast<dag_run*>(state_.find_run(j.request.run.dag_id, j.request.run.run_id));
            if (run == nullptr) return;
            task_instance* ti = find_ti(run->tasks, j.request.task_id, j.request.map_index);
            if (ti == nullptr || ti->try_number != j.request.try_number) return;
            ti->pid = pid;
            dag_run header = j.request.run;
            writes_.push_back([header, task_id = j.request.task_id, map_index = j.request.map_index,
                               try_number = j.request.try_number, pid](store& s) {
                return s.set_pid(header, task_id, map_index, try_number, pid);
            });
            wake_flag_ = true;
            wake_.notify_all();
        });
        running_.add(-1);
        --active_tries_;
        {
            std::lock_guard lock(mutex_);
            completion done;
            done.dag_id = j.request.run.dag_id;
            done.run_id = j.request.run.run_id;
            done.task_id = j.request.task_id;
            done.map_index = j.request.map_index;
            done.try_number = j.request.try_number;
            done.outcome = std::move(outcome);
            completions_.push_back(std::move(done));
            wake_flag_ = true;
        }
        wake_.notify_all();
    }
}

void engine::loop() {
    while (!stopping_) {
        if (!ensure_driving()) {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_.load(); });
            continue;
        }
        const int64_t now_ms = clock_.wall_millis();
        apply_completions();
        if (now_ms - last_scan_ms_ >= options_.dag_scan_interval_ms || last_scan_ms_ == 0) {
            // Variables and connections changed by SQL meanwhile (before the scan: a DAG the API
            // lists right after its scan has its next_dagrun already).
            auto variables = store_.load_variables();
            auto connections = store_.load_connections();
            {
                // Pending writes (an API set not yet flushed) would be undone: keep memory then.
                std::lock_guard lock(mutex_);
                if (variables && writes_.empty()) state_.variables = std::move(*variables);
                if (connections && writes_.empty()) state_.connections = std::move(*connections);
            }
            scan_dags(now_ms);
            last_scan_ms_ = now_ms;
        }
        create_scheduled_runs(now_ms);
        schedule_tasks(now_ms);
        flush_writes();
        {
            std::lock_guard lock(mutex_);
            state_.heartbeat_ms = now_ms;
        }
        // Sleep until work arrives, a retry is due, or the next scan.
        std::unique_lock lock(mutex_);
        int64_t wait_ms = 1000;
        for (const auto& [dag_id, runs] : state_.runs) {
            for (const auto& run : runs) {
                if (run.state != run_state::running) continue;
                for (const auto& [task_id, ti] : run.tasks) {
                    if (ti.state == ti_state::up_for_retry && ti.next_retry_ms) {
                        wait_ms = std::min(wait_ms, std::max<int64_t>(0, *ti.next_retry_ms - clock_.wall_millis()));
                    }
                }
            }
        }
        if (!writes_.empty()) wait_ms = std::min<int64_t>(wait_ms, 200);
        wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return wake_flag_ || stopping_.load(); });
        wake_flag_ = false;
    }
    // Cancelled tries end as failed; record what can be recorded.
    if (leading_) {
        apply_completions();
        flush_writes();
    }
    if (lease_) lease_->release();
}

status check_conf(const dag_spec& dag, const std::string& conf_json) {
    if (conf_json.empty()) return {};
    nlohmann::json conf = nlohmann::json::parse(conf_json, nullptr, false);
    if (conf.is_discarded() || !conf.is_object()) return make_error(errc::invalid_argument, "conf must be a JSON object");
    for (const auto& [name, value] : conf.items()) {
        auto type = dag.param_types.find(name);
        if (type == dag.param_types.end()) {
            std::string declared;
            for (const auto& [p, t] : dag.param_types) declared += (declared.empty() ? "" : ", ") + p + " (" + t + ")";
            return make_error(errc::invalid_argument, "conf: '{}' is not a param of DAG '{}' (declared params: {})", name,
                              dag.dag_id, declared.empty() ? std::string("none") : declared);
        }
        const std::string& want = type->second;
        bool ok = (want == "string" && value.is_string()) || (want == "boolean" && value.is_boolean()) ||
                  (want == "integer" && value.is_number_integer()) || (want == "number" && value.is_number()) ||
                  (want == "array" && value.is_array()) || (want == "object" && value.is_object()) ||
                  (want == "null" && value.is_null());
        if (!ok) {
            return make_error(errc::invalid_argument, "conf: param '{}' of DAG '{}' is declared {}, got {} {}", name,
                              dag.dag_id, want, json::type_name(value), value.dump());
        }
    }
    return {};
}

result<dag_run> engine::trigger(const std::string& dag_id, std::optional<std::string> run_id,
                                std::optional<int64_t> logical_date, std::string conf_json, std::string note) {
    std::lock_guard lock(mutex_);
    auto it = state_.dags.find(dag_id);
    if (it == state_.dags.end() || !it->second.spec) {
        return make_error(errc::not_found, "DAG with dag_id: '{}' not found", dag_id);
    }
    const dag_spec& dag = *it->second.spec;
    if (auto st = check_conf(dag, conf_json); !st) return st.err();
    auto& runs = state_.runs[dag_id];
    int64_t now_ms = clock_.wall_millis();
    int64_t logical = logical_date.value_or(now_ms / 1000);
    auto taken = [&](int64_t t) {
        return std::any_of(runs.begin(), runs.end(), [&](const dag_run& r) { return r.logical_date == t; });
    };
    if (logical_date && taken(logical)) {
        return make_error(errc::already_exists, "DAGRun with DAG ID: '{}' and DAGRun logical date: '{}' already exists",
                          dag_id, format_iso(logical));
    }
    while (taken(logical)) ++logical;  // two triggers in one second get distinct logical dates
    dag_run run;
    run.dag_id = dag_id;
    run.run_type = "manual";
    run.run_id = run_id.value_or("manual__" + format_iso(logical));
    if (state_.find_run(dag_id, run.run_id) != nullptr) {
        return make_error(errc::already_exists, "DAGRun with DAG ID: '{}' and DAGRun ID: '{}' already exists", dag_id,
                          run.run_id);
    }
    run.logical_date = logical;
    run.data_interval_start = logical;
    run.data_interval_end = logical;
    if (dag.sched.type() == schedule::kind::cron) {
        // Airflow: a manual run's interval is the one its logical date falls in.
        run.data_interval_end = dag.sched.next_after(logical, dag.zone).value_or(logical);
    }
    run.conf = std::move(conf_json);
    run.note = std::move(note);
    run.queued_ms = now_ms;
    writes_.push_back([run](store& s) { return s.insert_run(run); });
    runs.push_back(run);
    std::sort(runs.begin(), runs.end(), [](const dag_run& a, const dag_run& b) { return a.logical_date < b.logical_date; });
    wake_flag_ = true;
    wake_.notify_all();
    k_log.info("triggered run {} of {}", run.run_id, dag_id);
    return run;
}

status engine::set_variable(const std::string& key, const std::string& value) {
    if (key.empty()) return make_error(errc::invalid_argument, "a variable needs a key");
    std::lock_guard lock(mutex_);
    state_.variables[key] = value;
    writes_.push_back([key, value](store& s) { return s.set_variable(key, value, ""); });
    wake_flag_ = true;
    wake_.notify_all();
    return {};
}

status engine::set_connection(const std::string& conn_id, const std::string& uri) {
    if (conn_id.empty()) return make_error(errc::invalid_argument, "a connection needs a connection_id");
    std::lock_guard lock(mutex_);
    state_.connections[conn_id] = uri;
    writes_.push_back([conn_id, uri](store& s) { return s.set_connection(conn_id, uri); });
    wake_flag_ = true;
    wake_.notify_all();
    return {};
}

status engine::set_paused(const std::string& dag_id, bool paused) {
    std::lock_guard lock(mutex_);
    auto it = state_.dags.find(dag_id);
    if (it == state_.dags.end()) return make_error(errc::not_found, "DAG with dag_id: '{}' not found", dag_id);
    it->second.is_paused = paused;
    writes_.push_back([dag_id, paused](store& s) { return s.set_paused(dag_id, paused); });
    wake_flag_ = true;
    wake_.notify_all();
    return {};
}

}  // namespace millrace::scheduler
