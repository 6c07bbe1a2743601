// Operating runs as Airflow users do: clear task instances (with their
// downstream or upstream, only the failed ones, across runs), mark a task or
// a run success or failed, and backfill a range of logical dates. Everything
// happens under the engine's mutex on the in-memory state, which the engine
// thread then schedules from; the metadata writes are queued like every other.
#include <algorithm>
#include <csignal>
#include <set>

#include "engine.h"
#include "millrace/common/log.h"

namespace millrace::scheduler {
namespace {

const log::logger k_log{"scheduler"};

// `roots` and, transitively, their downstream (or upstream) tasks.
std::set<std::string> closure(const dag_spec& dag, const std::vector<std::string>& roots, bool downstream, bool upstream) {
    std::set<std::string> out(roots.begin(), roots.end());
    std::vector<std::string> todo(roots.begin(), roots.end());
    while (!todo.empty()) {
        std::string id = todo.back();
        todo.pop_back();
        std::vector<std::string> next;
        if (downstream) {
            auto down = dag.downstream(id);
            next.insert(next.end(), down.begin(), down.end());
        }
        if (upstream) {
            if (const task_spec* task = dag.find_task(id)) next.insert(next.end(), task->upstream.begin(), task->upstream.end());
        }
        for (auto& n : next) {
            if (out.insert(n).second) todo.push_back(n);
        }
    }
    return out;
}

// The DAG's parsed spec, or not_found in the API's words.
result<std::shared_ptr<const dag_spec>> find_dag(const engine_state& st, const std::string& dag_id) {
    auto it = st.dags.find(dag_id);
    if (it == st.dags.end() || !it->second.spec) return make_error(errc::not_found, "DAG with dag_id: '{}' not found", dag_id);
    return it->second.spec;
}

error run_not_found(const std::string& dag_id, const std::string& run_id) {
    return make_error(errc::not_found, "DAGRun with DAG ID: '{}' and DagRun ID: '{}' not found", dag_id, run_id);
}

dag_run* find_run(std::vector<dag_run>& runs, const std::string& run_id) {
    auto it = std::find_if(runs.begin(), runs.end(), [&](const dag_run& r) { return r.run_id == run_id; });
    return it == runs.end() ? nullptr : &*it;
}

// A try still waiting for a worker is taken out of the queue.
template <typename Jobs>
void drop_queued(Jobs& jobs, const dag_run& run, const task_instance& ti) {
    if (ti.state != ti_state::queued) return;
    jobs.erase(std::remove_if(jobs.begin(), jobs.end(),
                              [&](const auto& j) {
                                  return j.request.run.dag_id == run.dag_id && j.request.run.run_id == run.run_id &&
                                         j.request.task_id == ti.task_id && j.request.map_index == ti.map_index &&
                                         j.request.try_number == ti.try_number;
                              }),
               jobs.end());
}

void stop_try(const task_instance& ti) {
    // Tries that run a process do so in their own process group.
    if (ti.state == ti_state::running && ti.pid > 0) ::kill(-ti.pid, SIGTERM);
}

}  // namespace

result<std::vector<changed_ti>> engine::clear(const std::string& dag_id, const clear_request& req) {
    std::lock_guard lock(mutex_);
    auto spec = find_dag(state_, dag_id);
    if (!spec) return spec.err();
    const dag_spec& dag = **spec;
    for (const auto& id : req.task_ids) {
        if (dag.find_task(id) == nullptr) return make_error(errc::not_found, "task '{}' is not in DAG '{}'", id, dag_id);
    }
    std::vector<std::string> roots = req.task_ids;
    if (roots.empty()) {
        for (const auto& t : dag.tasks) roots.push_back(t.task_id);
    }
    const std::set<std::string> chosen = closure(dag, roots, req.include_downstream, req.include_upstream);
    auto& runs = state_.runs[dag_id];
    if (req.run_id && find_run(runs, *req.run_id) == nullptr) return run_not_found(dag_id, *req.run_id);
    std::vector<changed_ti> changed;
    for (auto& run : runs) {
        if (req.run_id && run.run_id != *req.run_id) continue;
        if (req.start_date && run.logical_date < *req.start_date) continue;
        if (req.end_date && run.logical_date > *req.end_date) continue;
        bool any = false;
        auto reset = [&](task_instance& ti, const task_spec& task) {
            ti.state = ti_state::none;
            ti.max_tries = ti.try_number + task.retries + 1;  // the task's retries again, as Airflow does
            ti.start_ms.reset();
            ti.end_ms.reset();
            ti.next_retry_ms.reset();
            ti.note.clear();
            ti.pid = 0;
        };
        for (const auto& task : dag.tasks) {
            if (!chosen.count(task.task_id)) continue;
            auto it = run.tasks.find(task.task_id);
            if (it != run.tasks.end() && !it->second.instances.empty()) {
                // A mapped task: each instance on its own. When all of them are cleared (none
                // running), the task expands again, over what its upstreams push next time.
                task_instance& parent = it->second;
                auto only = req.map_indexes.find(task.task_id);
                size_t cleared = 0;
                bool busy = false;
                std::vector<task_instance*> picked;
                for (auto& inst : parent.instances) {
                    busy = busy || inst.state == ti_state::queued || inst.state == ti_state::running;
                    if (only != req.map_indexes.end() && !only->second.count(inst.map_index)) continue;
                    if (inst.state == ti_state::none || inst.state == ti_state::queued || inst.state == ti_state::running) continue;
                    if (req.only_failed && inst.state != ti_state::failed && inst.state != ti_state::upstream_failed) continue;
                    changed.push_back({dag_id, run.run_id, task.task_id, run.logical_date, inst.state, inst.map_index});
                    picked.push_back(&inst);
                    ++cleared;
                }
                if (req.dry_run || picked.empty()) continue;
                any = true;
                if (!busy && cleared == parent.instances.size()) {
                    parent.instances.clear();
                    reset(parent, task);
                    parent.try_number = 0;
                    writes_.push_back([dag_id, run_id = run.run_id, task_id = task.task_id](store& st) {
                        return st.delete_instances(dag_id, run_id, task_id);
                    });
                    record(run, parent, "cleared: expands again");
                    continue;
                }
                for (task_instance* inst : picked) {
                    reset(*inst, task);
                    record(run, *inst, "cleared");
                }
                parent.state = mapped_summary(parent.instances);
                continue;
            }
            ti_state state = it == run.tasks.end() ? ti_state::none : it->second.state;
            // Nothing to clear in a task that has not run; a running try is left to end.
            if (state == ti_state::none || state == ti_state::queued || state == ti_state::running) continue;
            if (req.only_failed && state != ti_state::failed && state != ti_state::upstream_failed) continue;
            changed.push_back({dag_id, run.run_id, task.task_id, run.logical_date, state});
            if (req.dry_run) continue;
            task_instance& ti = it->second;
            reset(ti, task);
            record(run, ti, "cleared");
            any = true;
        }
        if (any) {
            run.state = run_state::queued;
            run.end_ms.reset();
            update_run(run);
        }
    }
    if (!req.dry_run && !changed.empty()) {
        k_log.info("cleared {} task instance(s) of {}", changed.size(), dag_id);
        wake_flag_ = true;
        wake_.notify_all();
    }
    return changed;
}

result<std::vector<changed_ti>> engine::set_task_state(const std::string& dag_id, const std::string& run_id,
                                                       const std::string& task_id, ti_state state, bool include_downstream,
                                                       bool dry_run, std::optional<int> map_index) {
    if (state != ti_state::success && state != ti_state::failed) {
        return make_error(errc::invalid_argument, "new_state must be success or failed, not {}", to_string(state));
    }
    std::lock_guard lock(mutex_);
    auto spec = find_dag(state_, dag_id);
    if (!spec) return spec.err();
    const dag_spec& dag = **spec;
    if (dag.find_task(task_id) == nullptr) return make_error(errc::not_found, "task '{}' is not in DAG '{}'", task_id, dag_id);
    dag_run* found = find_run(state_.runs[dag_id], run_id);
    if (found == nullptr) return run_not_found(dag_id, run_id);
    dag_run& run = *found;
    if (map_index && find_ti(run.tasks, task_id, *map_index) == nullptr) {
        return make_error(errc::not_found, "task instance {} map_index {} of run '{}' not found (not a mapped task, or not "
                          "expanded to that many instances)", task_id, *map_index, run_id);
    }
    const int64_t now_ms = clock_.wall_millis();
    std::vector<changed_ti> changed;
    auto mark = [&](task_instance& ti) {
        if (ti.state == state) return;
        changed.push_back({dag_id, run_id, ti.task_id, run.logical_date, ti.state, ti.map_index});
        if (dry_run) return;
        drop_queued(jobs_, run, ti);
        stop_try(ti);  // its completion is ignored: the state is final now
        ti.state = state;
        if (!ti.start_ms) ti.start_ms = now_ms;
        ti.end_ms = now_ms;
        ti.next_retry_ms.reset();
        ti.note = fmt::format("marked {} by a user", to_string(state));
        record(run, ti, ti.note);
    };
    for (const auto& id : closure(dag, {task_id}, include_downstream, false)) {
        task_instance& ti = run.tasks[id];
        ti.task_id = id;
        if (ti.instances.empty()) {
            mark(ti);
            continue;
        }
        // A mapped task: every instance, or the one asked for.
        for (auto& inst : ti.instances) {
            if (id == task_id && map_index && inst.map_index != *map_index) continue;
            mark(inst);
        }
        if (!dry_run) ti.state = mapped_summary(ti.instances);
    }
    if (!dry_run && !changed.empty()) {
        k_log.info("marked {} task instance(s) of {} run {} {}", changed.size(), dag_id, run_id, to_string(state));
        wake_flag_ = true;
        wake_.notify_all();
    }
    return changed;
}

result<dag_run> engine::set_run_state(const std::string& dag_id, const std::string& run_id, run_state state) {
    if (state == run_state::queued) {
        clear_request req;
        req.run_id = run_id;
        auto cleared = clear(dag_id, req);
        if (!cleared) return cleared.err();
        std::lock_guard lock(mutex_);
        const dag_run* run = state_.find_run(dag_id, run_id);
        if (run == nullptr) return run_not_found(dag_id, run_id);
        return *run;
    }
    if (state != run_state::success && state != run_state::failed) {
        return make_error(errc::invalid_argument, "state must be success, failed or queued, not {}", to_string(state));
    }
    std::lock_guard lock(mutex_);
    auto spec = find_dag(state_, dag_id);
    if (!spec) return spec.err();
    dag_run* found = find_run(state_.runs[dag_id], run_id);
    if (found == nullptr) return run_not_found(dag_id, run_id);
    dag_run& run = *found;
    const int64_t now_ms = clock_.wall_millis();
    std::vector<task_instance*> all;
    for (const auto& task : (*spec)->tasks) {
        task_instance& ti = run.tasks[task.task_id];
        ti.task_id = task.task_id;
        if (ti.instances.empty()) all.push_back(&ti);
        for (auto& inst : ti.instances) all.push_back(&inst);
    }
    for (task_instance* each : all) {
        task_instance& ti = *each;
        if (finished(ti.state)) continue;
        // Airflow: marking a run failed fails what runs and skips what has not started.
        ti_state next = state == run_state::success ? ti_state::success
                        : ti.state == ti_state::running || ti.state == ti_state::queued ? ti_state::failed
                                                                                          : ti_state::skipped;
        drop_queued(jobs_, run, ti);
        stop_try(ti);
        ti.state = next;
        ti.end_ms = now_ms;
        ti.next_retry_ms.reset();
        ti.note = fmt::format("run marked {} by a user", to_string(state));
        record(run, ti, ti.note);
    }
    for (auto& [id, ti] : run.tasks) {
        if (!ti.instances.empty()) ti.state = mapped_summary(ti.instances);
    }
    run.state = state;
    if (!run.start_ms) run.start_ms = now_ms;
    run.end_ms = now_ms;
    update_run(run);
    k_log.info("marked run {} of {} {}", run_id, dag_id, to_string(state));
    wake_flag_ = true;
    wake_.notify_all();
    return run;
}

result<std::vector<backfill_item>> engine::backfill(const std::string& dag_id, const backfill_request& req) {
    if (req.reprocess != "none" && req.reprocess != "failed" && req.reprocess != "completed") {
        return make_error(errc::invalid_argument, "reprocess_behavior must be none, failed or completed, not '{}'", req.reprocess);
    }
    if (req.to < req.from) return make_error(errc::invalid_argument, "to_date is before from_date");
    std::vector<std::pair<int64_t, std::string>> rerun;  // logical date, run id
    std::vector<backfill_item> items;
    {
        std::lock_guard lock(mutex_);
        auto spec = find_dag(state_, dag_id);
        if (!spec) return spec.err();
        const dag_spec& dag = **spec;
        if (dag.sched.type() != schedule::kind::cron && dag.sched.type() != schedule::kind::interval) {
            return make_error(errc::invalid_argument, "DAG '{}' has no schedule to backfill (a cron expression, preset or interval)", dag_id);
        }
        if (auto st = check_conf(dag, req.conf); !st) return st.err();
        auto& runs = state_.runs[dag_id];
        const int64_t now_ms = clock_.wall_millis();
        std::vector<dag_run> created;
        // As Airflow: no run before the DAG's start_date or after its end_date.
        const int64_t from = dag.start_date ? std::max(req.from, *dag.start_date) : req.from;
        const int64_t to = dag.end_date ? std::min(req.to, *dag.end_date) : req.to;
        for (auto tick = dag.sched.next_after(from - 1, dag.zone); tick && *tick <= to; tick = dag.sched.next_after(*tick, dag.zone)) {
            if (items.size() >= 10000) return make_error(errc::invalid_argument, "the range holds more than 10000 runs of '{}': backfill a shorter one", dag_id);
            auto existing = std::find_if(runs.begin(), runs.end(), [&](const dag_run& r) { return r.logical_date == *tick; });
            if (existing != runs.end()) {
                bool again = (req.reprocess == "completed" && (existing->state == run_state::success || existing->state == run_state::failed)) ||
                             (req.reprocess == "failed" && existing->state == run_state::failed);
                items.push_back({*tick, existing->run_id, again ? "rerun" : "skip"});
                if (again) rerun.emplace_back(*tick, existing->run_id);
                continue;
            }
            dag_run run;
            run.dag_id = dag_id;
            run.run_type = "backfill";
            run.logical_date = *tick;
            run.data_interval_start = *tick;
            run.data_interval_end = dag.sched.next_after(*tick, dag.zone).value_or(*tick);
            run.run_id = "backfill__" + format_iso(*tick);
            run.conf = req.conf;
            run.queued_ms = now_ms;
            items.push_back({*tick, run.run_id, "create"});
            created.push_back(std::move(run));
        }
        if (!req.dry_run) {
            for (auto& run : created) {
                writes_.push_back([run](store& s) { return s.insert_run(run); });
                runs.push_back(std::move(run));
            }
            std::sort(runs.begin(), runs.end(), [](const dag_run& a, const dag_run& b) { return a.logical_date < b.logical_date; });
            if (!created.empty()) k_log.info("backfill of {}: {} run(s) created", dag_id, created.size());
        }
    }
    if (!req.dry_run) {
        for (const auto& [logical, run_id] : rerun) {
            clear_request again;
            again.run_id = run_id;
            if (auto cleared = clear(dag_id, again); !cleared) return cleared.err();
        }
        std::lock_guard lock(mutex_);
        wake_flag_ = true;
        wake_.notify_all();
    }
    return items;
}

}  // namespace millrace::scheduler
