// Airflow DAG files (*.py) in the scheduler (issue 22): the corpus in
// airflow_dags/ parsed by the stand-in airflow package, and run by the engine
// in-process against a real PostgreSQL — task states, log lines, XComs,
// files written, import errors with file and line.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "engine.h"
#include "harness/process.h"
#include "pg_fixture.h"
#include "python_dags.h"

namespace millrace::scheduler {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string k_corpus = MILLRACE_AIRFLOW_DAGS;

template <typename F>
bool eventually(F f, std::chrono::milliseconds timeout = 90s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (f()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return f();
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// The Python packages tests/scheduler/setup.sh installs (jinja2, requests, kafka-python).
void use_test_pylibs() {
    const char* cache = std::getenv("XDG_CACHE_HOME");
    std::string base = cache != nullptr ? cache : std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") + "/.cache";
    ::setenv("PYTHONPATH", (base + "/millrace/scheduler-pylibs").c_str(), 1);
}

// ---- parsing (no database) --------------------------------------------------

class airflow_parse_test : public ::testing::Test {
protected:
    void SetUp() override {
        use_test_pylibs();
        options_.package_dir = dir_.path() + "/python";
        ASSERT_TRUE(install_python_package(options_.package_dir).ok());
    }
    result<std::vector<dag_spec>> parse(const std::string& name) { return load_python_dag_file(k_corpus + "/" + name, options_); }
    static const task_spec& task(const dag_spec& dag, const std::string& id) {
        const task_spec* t = dag.find_task(id);
        if (t == nullptr) throw std::runtime_error("no task " + id);
        return *t;
    }

    testing::temp_dir dir_;
    python_options options_;
};

TEST_F(airflow_parse_test, airflow2_paths_settings_and_every_dependency_style) {
    auto dags = parse("a2_imports.py");
    ASSERT_TRUE(dags.ok()) << dags.err().message();
    ASSERT_EQ(dags->size(), 1u);
    const dag_spec& dag = dags->front();
    EXPECT_TRUE(dag.python);
    EXPECT_EQ(dag.dag_id, "a2_imports");
    EXPECT_EQ(dag.description, "every Airflow 2 import path");
    EXPECT_EQ(dag.doc_md, "# a2\nSome *markdown*.");
    EXPECT_EQ(dag.sched.text(), "30 2 * * *");
    EXPECT_EQ(dag.zone.name(), "Europe/Berlin");
    EXPECT_EQ(format_iso(*dag.start_date), "2026-02-28T23:00:00+00:00");  // midnight in Berlin (CET)
    EXPECT_EQ(format_iso(*dag.end_date), "2026-12-30T23:00:00+00:00");
    EXPECT_FALSE(dag.catchup);
    EXPECT_EQ(dag.max_active_runs, 2);
    EXPECT_EQ(dag.tags, (std::vector<std::string>{"corpus", "a2"}));
    EXPECT_EQ(dag.owners, (std::vector<std::string>{"data-team"}));
    EXPECT_EQ(dag.params.at("n"), "3");
    EXPECT_EQ(dag.param_types.at("n"), "integer");
    EXPECT_EQ(dag.params.at("who"), "world");
    EXPECT_EQ(dag.param_types.at("who"), "string");
    // default_args reach every task; an operator's own argument wins.
    const auto& a = task(dag, "a");
    EXPECT_EQ(a.kind, task_kind::shell);
    EXPECT_EQ(a.params.at("command"), "echo a");
    EXPECT_EQ(a.params.at("shell"), "bash");
    EXPECT_EQ(a.retries, 2);
    EXPECT_EQ(a.retry_delay_ms, 7000);
    EXPECT_TRUE(a.retry_exponential_backoff);
    EXPECT_EQ(a.max_retry_delay_ms, 180'000);
    EXPECT_EQ(a.execution_timeout_ms, 600'000);
    EXPECT_EQ(task(dag, "b").retries, 0);
    EXPECT_EQ(task(dag, "c").kind, task_kind::python);
    EXPECT_EQ(task(dag, "c").trigger_rule, "all_done");
    EXPECT_EQ(task(dag, "start").kind, task_kind::empty);
    EXPECT_EQ(task(dag, "legacy").operator_name, "EmptyOperator");
    EXPECT_EQ(task(dag, "sense").operator_name, "PythonSensor");
    using v = std::vector<std::string>;
    EXPECT_EQ(task(dag, "legacy").upstream, v{"start"});                 // >>
    EXPECT_EQ(task(dag, "a").upstream, v{"legacy"});                     // >> [list]
    EXPECT_EQ(task(dag, "c").upstream, (v{"a", "b"}));                   // << [list]
    EXPECT_EQ(task(dag, "d").upstream, v{"c"});                          // set_upstream
    EXPECT_EQ(task(dag, "e").upstream, v{"c"});                          // set_downstream
    EXPECT_EQ(task(dag, "f").upstream, v{"d"});                          // chain
    EXPECT_EQ(task(dag, "h").upstream, (v{"f", "g"}));
    EXPECT_EQ(task(dag, "sense").upstream, (v{"e", "h"}));               // cross_downstream
    EXPECT_EQ(task(dag, "grp.inner1").upstream, (v{"e", "h"}));          // ... into a TaskGroup's roots
    EXPECT_EQ(task(dag, "grp.inner2").upstream, v{"grp.inner1"});
    // Topological order: every upstream comes first.
    for (size_t idx = 0; idx < dag.tasks.size(); ++idx) {
        for (const auto& up : dag.tasks[idx].upstream) {
            auto pos = std::find_if(dag.tasks.begin(), dag.tasks.end(), [&](const task_spec& t) { return t.task_id == up; });
            EXPECT_LT(pos - dag.tasks.begin(), static_cast<long>(idx)) << up << " after " << dag.tasks[idx].task_id;
        }
    }
}

TEST_F(airflow_parse_test, airflow3_paths_taskflow_and_a_timedelta_schedule) {
    auto dags = parse("a3_sdk.py");
    ASSERT_TRUE(dags.ok()) << dags.err().message();
    const dag_spec& dag = dags->front();
    EXPECT_EQ(dag.dag_id, "a3_taskflow");
    EXPECT_EQ(dag.doc_md, "TaskFlow: values travel as XComs.");
    EXPECT_EQ(dag.sched.type(), schedule::kind::interval);
    EXPECT_EQ(dag.sched.interval_seconds(), 6 * 3600);
    EXPECT_EQ(format_iso(*dag.sched.next_after(parse_iso("2026-01-01T07:00:00Z").value(), dag.zone)), "2026-01-01T12:00:00+00:00");
    EXPECT_EQ(dag.param_types.at("factor"), "integer");
    EXPECT_EQ(task(dag, "combine").upstream, std::vector<std::string>{"split"});
    EXPECT_EQ(task(dag, "legacy").upstream, std::vector<std::string>{"write"});
    EXPECT_EQ(task(dag, "echo").kind, task_kind::shell);
}

TEST_F(airflow_parse_test, task_group_ids_are_prefixed_as_airflow_does) {
    auto dags = parse("task_groups.py");
    ASSERT_TRUE(dags.ok()) << dags.err().message();
    std::vector<std::string> ids;
    for (const auto& t : dags->front().tasks) ids.push_back(t.task_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"start", "outer.first", "outer.inner.deep", "loose", "numbers.one",
                                             "numbers.plus", "end"}));
    EXPECT_EQ(task(dags->front(), "numbers.one").upstream, std::vector<std::string>{"loose"});
}

TEST_F(airflow_parse_test, depends_on_past_from_default_args_an_explicit_false_wins_and_wait_for_downstream_implies_it) {
    auto dags = parse("depends_past.py");
    ASSERT_TRUE(dags.ok()) << dags.err().message();
    const dag_spec& dag = dags->front();
    EXPECT_TRUE(task(dag, "gate").depends_on_past);
    EXPECT_FALSE(task(dag, "gate").wait_for_downstream);
    EXPECT_TRUE(task(dag, "gate2").depends_on_past);
    EXPECT_FALSE(task(dag, "after").depends_on_past);
    EXPECT_FALSE(task(dag, "free").depends_on_past);
    EXPECT_TRUE(task(dag, "waits").depends_on_past);
    EXPECT_TRUE(task(dag, "waits").wait_for_downstream);
}

TEST_F(airflow_parse_test, errors_name_the_file_and_line) {
    auto syntax = parse("syntax_error.py");
    ASSERT_FALSE(syntax.ok());
    EXPECT_NE(syntax.err().message().find("syntax_error.py:5: SyntaxError"), std::string::npos) << syntax.err().message();
    auto unsupported = parse("unsupported_import.py");
    ASSERT_FALSE(unsupported.ok());
    EXPECT_NE(unsupported.err().message().find("unsupported_import.py:4: ModuleNotFoundError: No module named "
                                               "'airflow.providers.amazon'"), std::string::npos)
        << unsupported.err().message();
    options_.parse_timeout_ms = 500;
    auto slow = parse("slow_parse.py");
    ASSERT_FALSE(slow.ok());
    EXPECT_NE(slow.err().message().find("slow_parse.py:6: "), std::string::npos) << slow.err().message();
    EXPECT_NE(slow.err().message().find("dag_parse_timeout (500 ms)"), std::string::npos) << slow.err().message();

    // A cycle, an unknown trigger rule, a crashing interpreter.
    std::ofstream(dir_.path() + "/cycle.py") << "from datetime import datetime\nfrom airflow import DAG\n"
                                                "from airflow.operators.empty import EmptyOperator\n"
                                                "with DAG('cyc', start_date=datetime(2026, 1, 1)):\n"
                                                "    a = EmptyOperator(task_id='a')\n    b = EmptyOperator(task_id='b')\n"
                                                "    a >> b >> a\n";
    auto cycle = load_python_dag_file(dir_.path() + "/cycle.py", options_);
    ASSERT_FALSE(cycle.ok());
    EXPECT_NE(cycle.err().message().find("Cycle detected in DAG: a >> b >> a"), std::string::npos) << cycle.err().message();
    std::ofstream(dir_.path() + "/rule.py") << "from datetime import datetime\nfrom airflow import DAG\n"
                                               "from airflow.operators.empty import EmptyOperator\n"
                                               "with DAG('r', start_date=datetime(2026, 1, 1)):\n"
                                               "    EmptyOperator(task_id='a', trigger_rule='sometimes')\n";
    auto rule = load_python_dag_file(dir_.path() + "/rule.py", options_);
    ASSERT_FALSE(rule.ok());
    EXPECT_NE(rule.err().message().find("rule.py:5: "), std::string::npos) << rule.err().message();
    EXPECT_NE(rule.err().message().find("'sometimes'"), std::string::npos) << rule.err().message();
    std::ofstream(dir_.path() + "/crash.py") << "import os\nos.kill(os.getpid(), 9)\n";
    auto crash = load_python_dag_file(dir_.path() + "/crash.py", options_);
    ASSERT_FALSE(crash.ok());
    EXPECT_NE(crash.err().message().find("killed by signal 9"), std::string::npos) << crash.err().message();
    options_.python = "/nonexistent/python3";
    auto no_python = load_python_dag_file(k_corpus + "/a2_imports.py", options_);
    ASSERT_FALSE(no_python.ok());
    EXPECT_NE(no_python.err().message().find("scheduler.python"), std::string::npos) << no_python.err().message();
}

TEST_F(airflow_parse_test, mapped_tasks_record_what_they_map_over) {
    options_.parse_timeout_ms = 180'000;  // eight parses; a loaded machine starts Python slowly
    auto dags = parse("mapping.py");
    ASSERT_TRUE(dags.ok()) << dags.err().message();
    const dag_spec& dag = dags->at(0);
    const auto& echo = task(dag, "echo");
    ASSERT_TRUE(echo.mapping.has_value());
    EXPECT_EQ(echo.kind, task_kind::shell);
    EXPECT_FALSE(echo.mapping->taskflow);
    ASSERT_EQ(echo.mapping->sources.size(), 1u);
    EXPECT_EQ(echo.mapping->sources[0].name, "bash_command");
    EXPECT_EQ(nlohmann::json::parse(echo.mapping->sources[0].literal_json).size(), 3u);
    const auto& add = task(dag, "add");
    ASSERT_TRUE(add.mapping.has_value());
    EXPECT_TRUE(add.mapping->taskflow);
    EXPECT_EQ(add.mapping->sources[0].task_id, "numbers");
    EXPECT_EQ(add.mapping->sources[0].key, "return_value");
    EXPECT_EQ(add.upstream, std::vector<std::string>{"numbers"}) << "mapping over an XComArg makes it an upstream";
    EXPECT_TRUE(task(dag, "multiply").mapping->kwargs);
    EXPECT_EQ(task(dag, "pair").mapping->sources.size(), 2u);
    EXPECT_EQ(task(dag, "show").mapping->sources[0].literal_json, R"([["alpha",1],["beta",2]])");
    EXPECT_FALSE(task(dag, "total").mapping.has_value());

    // What Airflow refuses, and what millrace does not support, are import errors naming the line.
    auto write = [&](const std::string& name, const std::string& body) {
        std::ofstream(dir_.path() + "/" + name) << "from datetime import datetime\nfrom airflow import DAG\n"
                                                   "from airflow.decorators import task\n"
                                                   "from airflow.operators.bash import BashOperator\n"
                                                   "from airflow.operators.empty import EmptyOperator\n"
                                                   "with DAG('m', start_date=datetime(2026, 1, 1)):\n"
                                                   "    @task\n    def f(x, y=1):\n        return x\n"
                                                << body;
        return load_python_dag_file(dir_.path() + "/" + name, options_);
    };
    auto scalar = write("scalar.py", "    f.expand(x=3)\n");
    ASSERT_FALSE(scalar.ok());
    EXPECT_NE(scalar.err().message().find("scalar.py:10: "), std::string::npos) << scalar.err().message();
    EXPECT_NE(scalar.err().message().find("unexpected type 'int' for keyword argument 'x'"), std::string::npos)
        << scalar.err().message();
    auto both = write("both.py", "    f.partial(x=1).expand(x=[1, 2])\n");
    ASSERT_FALSE(both.ok());
    EXPECT_NE(both.err().message().find("both partial() and expand()"), std::string::npos) << both.err().message();
    auto no_task_id = write("no_task_id.py", "    BashOperator.partial().expand(bash_command=['true'])\n");
    ASSERT_FALSE(no_task_id.ok());
    EXPECT_NE(no_task_id.err().message().find("'task_id'"), std::string::npos) << no_task_id.err().message();
    auto other_field = write("other_field.py", "    BashOperator.partial(task_id='b').expand(retries=[1, 2])\n");
    ASSERT_FALSE(other_field.ok());
    EXPECT_NE(other_field.err().message().find("over 'retries' is not supported"), std::string::npos) << other_field.err().message();
    auto unsupported = write("unsupported.py", "    EmptyOperator.partial(task_id='e').expand(doc_md=['a'])\n");
    ASSERT_FALSE(unsupported.ok());
    EXPECT_NE(unsupported.err().message().find("mapping a EmptyOperator is not supported"), std::string::npos)
        << unsupported.err().message();
    auto nested = write("nested.py", "    f.expand(x=[f(1), f(2)])\n");
    ASSERT_FALSE(nested.ok());
    EXPECT_NE(nested.err().message().find("XComArg inside a literal"), std::string::npos) << nested.err().message();
}

// ---- running (real PostgreSQL) ----------------------------------------------

class airflow_test : public source::pg_fixture {
protected:
    void SetUp() override {
        pg_fixture::SetUp();
        use_test_pylibs();
        fs::create_directories(dir_.path() + "/dags");
        fs::create_directories(out());
        ::setenv("TEST_AIRFLOW_OUT", out().c_str(), 1);
    }
    void TearDown() override {
        engine_.reset();
        pg_fixture::TearDown();
    }
    std::string out() const { return dir_.path() + "/out"; }

    void add(const std::string& name) { fs::copy_file(k_corpus + "/" + name, dir_.path() + "/dags/" + name); }

    void start(const std::vector<std::string>& dag_ids) {
        engine_options options;
        options.dags_dir = dir_.path() + "/dags";
        options.logs_dir = dir_.path() + "/logs";
        options.dsn = dsn();
        options.schema = "af_test";
        options.workers = 3;
        options.dag_scan_interval_ms = 100;
        options.dag_parse_timeout_ms = 60'000;  // a loaded machine starts Python slowly
        options.env.postgres_dsn = dsn();
        options.env.hostname = "test";
        options.env.python_dir = dir_.path() + "/python";
        engine_ = std::make_unique<engine>(options, millrace::clock::system(), metrics_);
        engine_->start();
        ASSERT_TRUE(eventually([&] {
            return engine_->read([&](const engine_state& st) {
                for (const auto& id : dag_ids) {
                    if (!st.dags.count(id) || !st.dags.at(id).spec) return false;
                }
                return st.lock_held;
            });
        })) << "DAGs did not load; import errors: " << import_errors();
    }

    std::string import_errors() {
        if (!engine_) return "";
        return engine_->read([](const engine_state& st) {
            std::string text;
            for (const auto& e : st.import_errors) text += e.message + "\n";
            return text;
        });
    }

    // Triggers a run and waits for it to end; returns its task instances.
    std::map<std::string, task_instance> run(const std::string& dag_id, const std::string& conf = "{}",
                                             std::chrono::milliseconds timeout = 90s) {
        auto r = engine_->trigger(dag_id, std::string("r1"), parse_iso("2026-02-03T04:05:06Z").value(), conf, "");
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message());
        EXPECT_TRUE(eventually([&] {
            return engine_->read([&](const engine_state& st) {
                const auto* run = st.find_run(dag_id, "r1");
                return run != nullptr && (run->state == run_state::success || run->state == run_state::failed);
            });
        }, timeout)) << dag_id << " did not finish";
        return engine_->read([&](const engine_state& st) { return st.find_run(dag_id, "r1")->tasks; });
    }
    run_state run_state_of(const std::string& dag_id) {
        return engine_->read([&](const engine_state& st) { return st.find_run(dag_id, "r1")->state; });
    }

    std::vector<std::vector<std::string>> query(const std::string& sql) {
        PGconn* conn = PQconnectdb(dsn().c_str());
        PGresult* res = PQexec(conn, sql.c_str());
        std::vector<std::vector<std::string>> rows;
        EXPECT_EQ(PQresultStatus(res), PGRES_TUPLES_OK) << PQresultErrorMessage(res);
        for (int row = 0; row < PQntuples(res); ++row) {
            rows.emplace_back();
            for (int col = 0; col < PQnfields(res); ++col) rows.back().push_back(PQgetvalue(res, row, col));
        }
        PQclear(res);
        PQfinish(conn);
        return rows;
    }

    static std::string states(const std::map<std::string, task_instance>& tis) {
        std::string text;
        for (const auto& [id, ti] : tis) text += id + "=" + std::string(to_string(ti.state)) + " ";
        return text;
    }

    testing::temp_dir dir_;
    metrics::registry metrics_;
    std::unique_ptr<engine> engine_;
};

TEST_F(airflow_test, taskflow_values_travel_as_xcoms_stored_in_postgres) {
    add("a3_sdk.py");
    start({"a3_taskflow"});
    auto tis = run("a3_taskflow");
    ASSERT_EQ(run_state_of("a3_taskflow"), run_state::success) << states(tis);
    EXPECT_EQ(tis.at("extract").xcoms.at("return_value"), R"({"a":1,"b":[2,3]})");
    EXPECT_EQ(tis.at("split").xcoms.at("first"), "1");
    EXPECT_EQ(tis.at("split").xcoms.at("rest"), "[2,3]");
    EXPECT_EQ(tis.at("combine").xcoms.at("return_value"), "12");  // (1 + 2 + 3) * params.factor
    EXPECT_EQ(tis.at("legacy").xcoms.at("return_value"), "13");
    EXPECT_EQ(tis.at("write").xcoms.count("return_value"), 0u) << "None is not pushed";
    auto written = nlohmann::json::parse(slurp(out() + "/a3_total_r1"));
    EXPECT_EQ(written["total"], 12);
    EXPECT_EQ(written["run_id"], "r1");
    EXPECT_EQ(written["ds"], "2026-02-03");
    EXPECT_NE(slurp(tis.at("echo").log_path).find("a3 says hi"), std::string::npos);
    EXPECT_EQ(tis.at("echo").xcoms.at("return_value"), "\"a3 says hi\"") << "a BashOperator pushes its last line";
    EXPECT_EQ(tis.at("shout").xcoms.at("return_value"), "\"total is 12\"") << "@task.bash runs the returned command";
    EXPECT_NE(slurp(tis.at("combine").log_path).find("Done. Returned value was: 12"), std::string::npos)
        << slurp(tis.at("combine").log_path);
    ASSERT_TRUE(eventually([&] {
        return query("SELECT value::text FROM af_test.xcom WHERE dag_id = 'a3_taskflow' AND run_id = 'r1' "
                     "AND task_id = 'combine' AND key = 'return_value'") == std::vector<std::vector<std::string>>{{"12"}};
    }));
    // A second run with conf: the param changes the value.
    auto second = engine_->trigger("a3_taskflow", std::string("r2"), std::nullopt, R"({"factor": 10})", "");
    ASSERT_TRUE(second.ok());
    ASSERT_TRUE(eventually([&] {
        return engine_->read([&](const engine_state& st) {
            const auto* r = st.find_run("a3_taskflow", "r2");
            return r && r->state == run_state::success && r->tasks.at("combine").xcoms.at("return_value") == "60";
        });
    }));
}

TEST_F(airflow_test, trigger_rules_after_a_failed_and_a_successful_upstream) {
    add("trigger_rules.py");
    start({"trigger_rules"});
    auto tis = run("trigger_rules");
    std::map<std::string, ti_state> want = {
        {"ok", ti_state::success}, {"bad", ti_state::failed},
        {"after_all_success", ti_state::upstream_failed}, {"after_all_failed", ti_state::skipped},
        {"after_all_done", ti_state::success}, {"after_one_success", ti_state::success},
        {"after_one_failed", ti_state::success}, {"after_none_failed", ti_state::upstream_failed},
        {"after_always", ti_state::success}, {"after_none_failed_min_one_success", ti_state::upstream_failed},
        {"after_none_skipped", ti_state::success}, {"after_one_done", ti_state::success},
        {"only_ok_all_failed", ti_state::skipped}, {"cleanup", ti_state::success},
    };
    for (const auto& [id, state] : want) EXPECT_EQ(tis.at(id).state, state) << id << ": " << states(tis);
    EXPECT_EQ(run_state_of("trigger_rules"), run_state::failed) << "leaves after_all_success etc. failed";
}

TEST_F(airflow_test, branches_and_short_circuits_skip_as_airflow_does) {
    add("branching.py");
    start({"branching"});
    auto tis = run("branching");
    std::map<std::string, ti_state> want = {
        {"pick", ti_state::success}, {"path_a", ti_state::skipped}, {"after_a", ti_state::skipped},
        {"path_b", ti_state::success}, {"join", ti_state::success},
        {"choose", ti_state::success}, {"left", ti_state::success}, {"middle", ti_state::success},
        {"right", ti_state::skipped},
        {"gate", ti_state::success}, {"gated", ti_state::skipped}, {"gated_all_done", ti_state::skipped},
        {"open_gate", ti_state::success}, {"passed", ti_state::success},
    };
    for (const auto& [id, state] : want) EXPECT_EQ(tis.at(id).state, state) << id << ": " << states(tis);
    EXPECT_EQ(tis.at("pick").xcoms.at("return_value"), "\"path_b\"");
    EXPECT_EQ(run_state_of("branching"), run_state::success);
    EXPECT_NE(slurp(tis.at("gate").log_path).find("skipping downstream tasks ['gated', 'gated_all_done']"), std::string::npos)
        << slurp(tis.at("gate").log_path);
}

TEST_F(airflow_test, sensors_poke_until_true_or_time_out_without_retries) {
    add("sensors.py");
    start({"sensors"});
    auto tis = run("sensors");
    EXPECT_EQ(tis.at("wait_for_flag").state, ti_state::success) << states(tis);
    EXPECT_EQ(slurp(out() + "/sensor_pokes"), "3");
    EXPECT_EQ(tis.at("flag_seen").state, ti_state::success);
    EXPECT_EQ(tis.at("flag_seen").xcoms.at("return_value"), "\"seen\"");
    EXPECT_EQ(tis.at("after").state, ti_state::success);
    EXPECT_EQ(tis.at("never").state, ti_state::failed);
    EXPECT_EQ(tis.at("never").try_number, 1) << "a sensor timeout is not retried";
    EXPECT_EQ(tis.at("soft").state, ti_state::skipped) << "soft_fail: a timeout skips";
    EXPECT_NE(slurp(tis.at("never").log_path).find("AirflowSensorTimeout: Sensor has timed out"), std::string::npos)
        << slurp(tis.at("never").log_path);
}

TEST_F(airflow_test, task_groups_run_with_prefixed_ids) {
    add("task_groups.py");
    start({"task_groups"});
    auto tis = run("task_groups");
    EXPECT_EQ(run_state_of("task_groups"), run_state::success) << states(tis);
    EXPECT_EQ(tis.at("numbers.plus").xcoms.at("return_value"), "2");
    EXPECT_EQ(tis.at("outer.inner.deep").state, ti_state::success);
}

TEST_F(airflow_test, templates_render_and_values_stay_data) {
    add("templates.py");
    start({"templates"});
    const std::string hostile = "x; touch MARKER $(touch MARKER2)";
    auto tis = run("templates", nlohmann::json({{"msg", hostile}}).dump());
    EXPECT_EQ(tis.at("bash").state, ti_state::success) << tis.at("bash").note;
    EXPECT_EQ(slurp(out() + "/templates_bash.txt"), "2026-02-03|" + hostile + "|" + hostile + "|hi 20260203");
    EXPECT_FALSE(fs::exists(out() + "/MARKER") || fs::exists(out() + "/MARKER2")) << "a conf value ran as shell";
    EXPECT_EQ(slurp(out() + "/only_env.txt"), "HOME=unset X=1\n") << "env without append_env replaces the environment";
    EXPECT_EQ(tis.at("nested").state, ti_state::failed);
    EXPECT_NE(tis.at("nested").note.find("inside single quotes"), std::string::npos) << tis.at("nested").note;
    EXPECT_EQ(tis.at("py").state, ti_state::success) << slurp(tis.at("py").log_path);
    auto py = nlohmann::json::parse(slurp(out() + "/templates_py.json"));
    EXPECT_EQ(py["templates_dict"]["tomorrow"], "2026-02-04");
    EXPECT_EQ(py["templates_dict"]["run"], "r1");
    EXPECT_EQ(py["day"], "03");
    EXPECT_EQ(py["ds"], "2026-02-03");
    EXPECT_EQ(py["msg"], hostile);
    EXPECT_EQ(py["conf"]["msg"], hostile);
    EXPECT_EQ(py["try"], 1);
    EXPECT_EQ(py["year"], 2026);
    EXPECT_NE(slurp(tis.at("py").log_path).find("rendered templates_dict.tomorrow: 2026-02-04"), std::string::npos);
}

// A BashOperator's {{ }} placeholders are Jinja expressions evaluated by jinja2 with Airflow's
// context; each result is passed to bash as an environment variable, so a run's conf stays data.
TEST_F(airflow_test, bash_command_jinja_expressions_render_and_stay_data) {
    add("bash_jinja.py");
    start({"bash_jinja"});
    const std::string hostile = "X; touch MARKER $(touch MARKER2)";
    auto tis = run("bash_jinja", nlohmann::json({{"msg", hostile}}).dump());
    EXPECT_EQ(tis.at("macros").state, ti_state::success) << slurp(tis.at("macros").log_path);
    EXPECT_EQ(slurp(out() + "/bash_jinja_macros.txt"), "2026-02-04 20260203\n");
    EXPECT_NE(slurp(tis.at("macros").log_path).find("rendered bash_command {{ macros.ds_add(ds, 1) }}: 2026-02-04"),
              std::string::npos) << slurp(tis.at("macros").log_path);
    EXPECT_EQ(tis.at("filters").state, ti_state::success) << slurp(tis.at("filters").log_path);
    EXPECT_EQ(slurp(out() + "/bash_jinja_filters.txt"), "ADA-1\n");
    EXPECT_EQ(tis.at("hostile").state, ti_state::success) << slurp(tis.at("hostile").log_path);
    EXPECT_EQ(slurp(out() + "/bash_jinja_hostile.txt"),
              "x; touch marker $(touch marker2)|" + hostile + " $(touch MARKER3)\n");
    for (const char* marker : {"MARKER", "MARKER2", "MARKER3", "marker", "marker2"}) {
        EXPECT_FALSE(fs::exists(out() + "/" + marker)) << "a conf value ran as shell: " << marker;
    }
    EXPECT_EQ(tis.at("statement").state, ti_state::failed);
    EXPECT_NE(tis.at("statement").note.find("Jinja statement '{% if params.name %}'"), std::string::npos)
        << tis.at("statement").note;
    EXPECT_EQ(tis.at("undefined").state, ti_state::failed);
    EXPECT_NE(tis.at("undefined").note.find("placeholders with jinja2 failed"), std::string::npos) << tis.at("undefined").note;
    EXPECT_NE(slurp(tis.at("undefined").log_path).find("UndefinedError: 'no_such_name' is undefined"), std::string::npos)
        << slurp(tis.at("undefined").log_path);
}

TEST_F(airflow_test, params_with_types_and_conf) {
    add("params_conf.py");
    start({"params_conf"});
    auto spec = engine_->read([](const engine_state& st) { return st.dags.at("params_conf").spec; });
    EXPECT_FALSE(check_conf(*spec, R"({"count": "7"})").ok());
    EXPECT_FALSE(check_conf(*spec, R"({"tags": "a"})").ok());
    EXPECT_FALSE(check_conf(*spec, R"({"undeclared": 1})").ok());
    auto tis = run("params_conf", R"({"count": 7, "tags": ["z"], "full": true})");
    ASSERT_EQ(tis.at("show").state, ti_state::success) << slurp(tis.at("show").log_path);
    auto params = nlohmann::json::parse(slurp(out() + "/params.json"));
    EXPECT_EQ(params, nlohmann::json::parse(R"({"count": 7, "full": true, "name": "x", "ratio": 0.5, "tags": ["z"]})"));
}

TEST_F(airflow_test, depends_on_past_waits_for_the_previous_runs_instance_and_wait_for_downstream_for_its_downstreams) {
    add("depends_past.py");
    start({"depends_past"});
    auto state_of = [&](const std::string& run_id, const std::string& task_id) {
        return engine_->read([&](const engine_state& st) {
            const auto* r = st.find_run("depends_past", run_id);
            if (r == nullptr || !r->tasks.count(task_id)) return ti_state::none;
            return r->tasks.at(task_id).state;
        });
    };
    auto run_state_at = [&](const std::string& run_id) {
        return engine_->read([&](const engine_state& st) { return st.find_run("depends_past", run_id)->state; });
    };
    auto trigger = [&](const std::string& run_id, const std::string& when) {
        ASSERT_TRUE(engine_->trigger("depends_past", run_id, parse_iso(when).value(), "{}", "").ok()) << run_id;
    };
    // The first run is exempt; the next logical date runs once the previous instances succeeded.
    auto first = run("depends_past");  // r1 at 2026-02-03
    ASSERT_EQ(run_state_of("depends_past"), run_state::success) << states(first);
    trigger("r2", "2026-02-04T04:05:06Z");
    ASSERT_TRUE(eventually([&] { return run_state_at("r2") != run_state::running && run_state_at("r2") != run_state::queued; }));
    EXPECT_EQ(run_state_at("r2"), run_state::success);
    EXPECT_TRUE(fs::exists(out() + "/gate2_2026-02-04"));

    // r3 fails its gates (told to); the previous instances succeeded, so they ran.
    std::ofstream(out() + "/depends_past_fail") << "1";
    trigger("r3", "2026-02-05T04:05:06Z");
    ASSERT_TRUE(eventually([&] { return run_state_at("r3") == run_state::failed; }));
    EXPECT_EQ(state_of("r3", "gate"), ti_state::failed);
    EXPECT_EQ(state_of("r3", "gate2"), ti_state::failed);
    EXPECT_EQ(state_of("r3", "after"), ti_state::upstream_failed);
    EXPECT_EQ(state_of("r3", "waits"), ti_state::success);
    fs::remove(out() + "/depends_past_fail");

    // r4: gate2 waits for r3's failed gate2; waits succeeded in r3 but waits for its downstream gate
    // there; free (depends_on_past=False) runs.
    trigger("r4", "2026-02-06T04:05:06Z");
    // free is scheduled in the same pass that considered gate2 and waits, so once it succeeded their verdict is in.
    ASSERT_TRUE(eventually([&] { return state_of("r4", "free") == ti_state::success; }));
    EXPECT_EQ(state_of("r4", "gate2"), ti_state::none);
    EXPECT_EQ(state_of("r4", "waits"), ti_state::none);
    EXPECT_EQ(state_of("r4", "gate"), ti_state::none);
    EXPECT_FALSE(fs::exists(out() + "/gate2_2026-02-06"));
    EXPECT_EQ(run_state_at("r4"), run_state::running) << "waiting on the past is not a deadlock";

    // An earlier logical date than any run has no previous run: exempt, runs through.
    trigger("r0", "2026-02-01T04:05:06Z");
    ASSERT_TRUE(eventually([&] { return run_state_at("r0") == run_state::success; }));
    EXPECT_TRUE(fs::exists(out() + "/gate2_2026-02-01"));
}

TEST_F(airflow_test, retries_follow_default_args_and_fail_exception_does_not_retry) {
    add("retries.py");
    start({"retries"});
    auto tis = run("retries");
    EXPECT_EQ(tis.at("flaky").state, ti_state::success) << states(tis);
    EXPECT_EQ(tis.at("flaky").try_number, 3);
    EXPECT_EQ(tis.at("flaky").xcoms.at("return_value"), "3");
    std::string first = tis.at("flaky").log_path;
    first = first.substr(0, first.rfind("attempt=")) + "attempt=1.log";
    EXPECT_NE(slurp(first).find("ValueError: flaky failure 1"), std::string::npos) << slurp(first);
    EXPECT_NE(slurp(first).find("attempt 1, try_number 1"), std::string::npos);
    EXPECT_EQ(tis.at("fatal").state, ti_state::failed);
    EXPECT_EQ(tis.at("fatal").try_number, 1);
    EXPECT_NE(slurp(tis.at("fatal").log_path).find("AirflowFailException: no point retrying"), std::string::npos);
}

TEST_F(airflow_test, execution_timeout_kills_python_and_bash_tasks) {
    add("timeouts.py");
    start({"timeouts"});
    auto tis = run("timeouts");
    for (const char* id : {"py_hang", "bash_hang"}) {
        EXPECT_EQ(tis.at(id).state, ti_state::failed) << id;
        EXPECT_NE(tis.at(id).note.find("execution_timeout of 1000 ms exceeded"), std::string::npos) << tis.at(id).note;
    }
}

TEST_F(airflow_test, xcom_push_pull_variables_and_connections) {
    add("xcom_vars.py");
    {
        store s(dsn(), "af_test");
        ASSERT_TRUE(s.migrate().ok());
        ASSERT_TRUE(s.set_variable("from_db", "db value", "").ok());
    }
    ::setenv("AIRFLOW_VAR_FROM_ENV", "env value", 1);
    ::setenv("AIRFLOW_VAR_JSON_ENV", R"({"k": [1, 2]})", 1);
    ::setenv("AIRFLOW_CONN_TEST_PG", "postgres://user:p%40ss@db.example:5433/analytics", 1);
    ::setenv("AIRFLOW_CONN_TEST_JSON", R"({"conn_type": "http", "host": "api.example", "extra": {"token": "t"}})", 1);
    start({"xcom_vars"});
    auto tis = run("xcom_vars");
    ASSERT_EQ(tis.at("pull").state, ti_state::success) << slurp(tis.at("pull").log_path);
    auto data = nlohmann::json::parse(slurp(out() + "/xcom_vars.json"));
    EXPECT_EQ(data["answer"], nlohmann::json::parse(R"({"n": 42, "list": [1, "two"]})"));
    EXPECT_EQ(data["returned"], "pushed");
    EXPECT_EQ(data["both"], nlohmann::json::parse(R"(["pushed", null])"));
    EXPECT_EQ(data["env_var"], "env value");
    EXPECT_EQ(data["db_var"], "db value");
    EXPECT_EQ(data["json_var"], nlohmann::json::parse(R"({"k": [1, 2]})"));
    EXPECT_EQ(data["default"], "fallback");
    EXPECT_EQ(data["conn"], nlohmann::json::parse(R"(["postgres", "db.example", 5433, "user", "p@ss", "analytics"])"));
    EXPECT_EQ(data["json_conn"], nlohmann::json::parse(R"(["http", "api.example", {"token": "t"}])"));
    EXPECT_EQ(tis.at("push").xcoms.at("answer"), R"({"list":[1,"two"],"n":42})");
    EXPECT_EQ(tis.at("bad_value").state, ti_state::failed);
    EXPECT_NE(slurp(tis.at("bad_value").log_path).find("XCom value for key 'return_value' of task 'bad_value' is not "
                                                       "JSON-serialisable (set)"), std::string::npos)
        << slurp(tis.at("bad_value").log_path);
    ASSERT_TRUE(eventually([&] {
        return query("SELECT val FROM af_test.variable WHERE key = 'written_by_task'") ==
               std::vector<std::vector<std::string>>{{"yes"}};
    }));
    for (const char* name : {"AIRFLOW_VAR_FROM_ENV", "AIRFLOW_VAR_JSON_ENV", "AIRFLOW_CONN_TEST_PG", "AIRFLOW_CONN_TEST_JSON"}) {
        ::unsetenv(name);
    }
}

TEST_F(airflow_test, import_errors_beside_good_files_and_reload_on_change) {
    add("a2_imports.py");
    add("syntax_error.py");
    add("unsupported_import.py");
    start({"a2_imports"});
    ASSERT_TRUE(eventually([&] { return engine_->read([](const engine_state& st) { return st.import_errors.size() == 2; }); }))
        << import_errors();
    std::string errors = import_errors();
    EXPECT_NE(errors.find("syntax_error.py:5: SyntaxError"), std::string::npos) << errors;
    EXPECT_NE(errors.find("unsupported_import.py:4: ModuleNotFoundError: No module named 'airflow.providers.amazon'"),
              std::string::npos) << errors;
    // Fixing a file makes its DAG appear and its error go; a file may declare several DAGs.
    std::ofstream(dir_.path() + "/dags/syntax_error.py")
        << "from datetime import datetime\nfrom airflow import DAG\nfrom airflow.operators.empty import EmptyOperator\n"
           "for n in (1, 2):\n    with DAG(f'fixed_{n}', schedule=None, start_date=datetime(2026, 1, 1)):\n"
           "        EmptyOperator(task_id='t')\n";
    ASSERT_TRUE(eventually([&] {
        return engine_->read([](const engine_state& st) {
            return st.dags.count("fixed_1") && st.dags.count("fixed_2") && st.import_errors.size() == 1;
        });
    })) << import_errors();
    auto tis = run("fixed_2");
    EXPECT_EQ(tis.at("t").state, ti_state::success);
    // Removing a file deactivates its DAGs.
    fs::remove(dir_.path() + "/dags/syntax_error.py");
    ASSERT_TRUE(eventually([&] {
        return engine_->read([](const engine_state& st) { return !st.dags.at("fixed_1").is_active && !st.dags.at("fixed_2").is_active; });
    }));
}

// The built binary: XComs and the DAG's source over Airflow's REST paths, variables
// and connections through the API and the CLI, `tasks test` of a Python task.
// The values of a mapped task's instances, in map_index order ("-" where none was pushed).
std::vector<std::string> mapped_values(const std::map<std::string, task_instance>& tis, const std::string& task_id) {
    std::vector<std::string> out;
    for (const auto& inst : tis.at(task_id).instances) {
        auto it = inst.xcoms.find("return_value");
        out.push_back(it == inst.xcoms.end() ? "-" : it->second);
    }
    return out;
}

TEST_F(airflow_test, dynamic_task_mapping_over_literals_and_an_upstreams_list_reduced_in_map_index_order) {
    add("mapping.py");
    start({"mapping"});
    auto tis = run("mapping", "{}", 300s);  // 25 Python tries
    ASSERT_EQ(run_state_of("mapping"), run_state::success) << states(tis);
    using v = std::vector<std::string>;
    EXPECT_EQ(mapped_values(tis, "echo"), (v{"\"one\"", "\"two\"", "\"map 2 of 2026-02-03\""}));
    EXPECT_EQ(mapped_values(tis, "squares"), (v{"1", "4", "9"}));
    EXPECT_EQ(mapped_values(tis, "greetings"), (v{"\"hello ada!\"", "\"hello bob.\""}));
    EXPECT_EQ(mapped_values(tis, "add"), (v{"11", "12", "13", "14"}));
    EXPECT_EQ(tis.at("total").xcoms.at("return_value"), "50");
    EXPECT_NE(slurp(tis.at("total").log_path).find("values [11, 12, 13, 14]"), std::string::npos) << slurp(tis.at("total").log_path);
    EXPECT_EQ(mapped_values(tis, "pair"), (v{"\"1x\"", "\"1y\"", "\"1z\"", "\"2x\"", "\"2y\"", "\"2z\""}))
        << "a cartesian product, the last argument varying fastest";
    EXPECT_EQ(mapped_values(tis, "show"), (v{"\"alpha=1\"", "\"beta=2\""}));
    EXPECT_EQ(mapped_values(tis, "multiply"), (v{"6", "20"}));
    for (const auto& inst : tis.at("add").instances) {
        EXPECT_EQ(inst.state, ti_state::success);
        EXPECT_EQ(inst.try_number, 1);
        EXPECT_NE(inst.log_path.find(fmt::format("/task_id=add/map_index={}/attempt=1.log", inst.map_index)), std::string::npos)
            << inst.log_path;
    }
    EXPECT_EQ(tis.at("add").state, ti_state::success) << "the task's summary";
    // Mapped over an empty list: the task is skipped without instances, and so is its downstream.
    EXPECT_EQ(tis.at("never").state, ti_state::skipped);
    EXPECT_TRUE(tis.at("never").instances.empty());
    EXPECT_EQ(tis.at("after_nothing").state, ti_state::skipped);
    // The metadata: one row per instance, XComs keyed by map_index.
    ASSERT_TRUE(eventually([&] {
        return query("SELECT map_index, state FROM af_test.task_instance WHERE dag_id = 'mapping' AND task_id = 'add' "
                     "ORDER BY map_index") ==
               std::vector<std::vector<std::string>>{{"0", "success"}, {"1", "success"}, {"2", "success"}, {"3", "success"}};
    }));
    ASSERT_TRUE(eventually([&] {
        return query("SELECT map_index, value::text FROM af_test.xcom WHERE dag_id = 'mapping' AND task_id = 'squares' "
                     "ORDER BY map_index") == std::vector<std::vector<std::string>>{{"0", "1"}, {"1", "4"}, {"2", "9"}};
    }));
    EXPECT_EQ(query("SELECT state FROM af_test.task_instance WHERE dag_id = 'mapping' AND task_id = 'never'"),
              std::vector<std::vector<std::string>>{{"skipped"}});
    // A restart reads the instances back.
    engine_.reset();
    start({"mapping"});
    auto again = engine_->read([&](const engine_state& st) { return st.find_run("mapping", "r1")->tasks; });
    EXPECT_EQ(mapped_values(again, "add"), (v{"11", "12", "13", "14"}));
    EXPECT_EQ(again.at("add").state, ti_state::success);
    EXPECT_EQ(again.at("never").state, ti_state::skipped);
}

TEST_F(airflow_test, a_failing_mapped_instance_is_retried_alone_cleared_and_marked_alone) {
    add("mapping_retries.py");
    start({"mapping_retries"});
    auto tis = run("mapping_retries", "{}", 300s);
    ASSERT_EQ(run_state_of("mapping_retries"), run_state::success) << states(tis);
    const auto& work = tis.at("work").instances;
    ASSERT_EQ(work.size(), 3u);
    EXPECT_EQ(work[0].try_number, 1);
    EXPECT_EQ(work[1].try_number, 2) << "the failing instance is retried";
    EXPECT_EQ(work[2].try_number, 1) << "the others are not";
    EXPECT_EQ(slurp(out() + "/mapping_retries_2_r1"), "try 1 map_index 1\ntry 2 map_index 1\n");
    EXPECT_EQ(slurp(out() + "/mapping_retries_1_r1"), "try 1 map_index 0\n");
    EXPECT_EQ(tis.at("reduce").xcoms.at("return_value"), "600");
    const std::string first_try = work[1].log_path.substr(0, work[1].log_path.rfind("attempt=")) + "attempt=1.log";
    EXPECT_NE(slurp(first_try).find("instance 1 fails its first try"), std::string::npos) << first_try;
    EXPECT_EQ(tis.at("always_fails").state, ti_state::failed);
    for (const auto& inst : tis.at("always_fails").instances) EXPECT_EQ(inst.state, ti_state::failed);
    EXPECT_EQ(tis.at("cleanup").state, ti_state::success) << "all_done waits for every instance, then runs";
    EXPECT_EQ(tis.at("chosen").state, ti_state::success);
    ASSERT_EQ(tis.at("not_chosen").instances.size(), 2u) << "expanded over its literal when the run started";
    for (const auto& inst : tis.at("not_chosen").instances) EXPECT_EQ(inst.state, ti_state::skipped) << "the branch skips each";
    EXPECT_EQ(tis.at("not_chosen").state, ti_state::skipped);
    ASSERT_EQ(tis.at("add_up").instances.size(), 1u);
    EXPECT_EQ(tis.at("add_up").instances[0].state, ti_state::failed);
    EXPECT_NE(slurp(tis.at("add_up").instances[0].log_path).find("unmappable or already specified argument: a"), std::string::npos)
        << slurp(tis.at("add_up").instances[0].log_path);

    // Clearing one instance ([task_id, map_index]) runs that one again.
    clear_request one;
    one.run_id = "r1";
    one.task_ids = {"work"};
    one.map_indexes["work"] = {2};
    auto cleared = engine_->clear("mapping_retries", one);
    ASSERT_TRUE(cleared.ok()) << cleared.err().message();
    ASSERT_EQ(cleared->size(), 1u);
    EXPECT_EQ(cleared->at(0).map_index, 2);
    ASSERT_TRUE(eventually([&] {
        return engine_->read([&](const engine_state& st) {
            const auto* r = st.find_run("mapping_retries", "r1");
            return r->state == run_state::success && r->tasks.at("work").instances.at(2).try_number == 2;
        });
    }, 300s));
    EXPECT_EQ(slurp(out() + "/mapping_retries_3_r1"), "try 1 map_index 2\ntry 2 map_index 2\n");
    EXPECT_EQ(slurp(out() + "/mapping_retries_1_r1"), "try 1 map_index 0\n") << "instance 0 was not cleared";

    // Marking one instance success leaves the other failed.
    auto marked = engine_->set_task_state("mapping_retries", "r1", "always_fails", ti_state::success, false, false, 1);
    ASSERT_TRUE(marked.ok()) << marked.err().message();
    ASSERT_EQ(marked->size(), 1u);
    auto after = engine_->read([&](const engine_state& st) { return st.find_run("mapping_retries", "r1")->tasks; });
    EXPECT_EQ(after.at("always_fails").instances.at(0).state, ti_state::failed);
    EXPECT_EQ(after.at("always_fails").instances.at(1).state, ti_state::success);
    EXPECT_EQ(after.at("always_fails").state, ti_state::failed);
    auto beyond = engine_->set_task_state("mapping_retries", "r1", "always_fails", ti_state::success, false, false, 7);
    ASSERT_FALSE(beyond.ok());
    EXPECT_NE(beyond.err().message().find("map_index 7"), std::string::npos) << beyond.err().message();

    // Clearing the whole mapped task expands it again.
    clear_request all;
    all.run_id = "r1";
    all.task_ids = {"work"};
    all.include_downstream = true;
    auto whole = engine_->clear("mapping_retries", all);
    ASSERT_TRUE(whole.ok()) << whole.err().message();
    EXPECT_EQ(whole->size(), 4u) << "three instances and the reduce";
    ASSERT_TRUE(eventually([&] {
        return engine_->read([&](const engine_state& st) {
            const auto* r = st.find_run("mapping_retries", "r1");
            return r->state == run_state::success && r->tasks.at("work").instances.size() == 3 &&
                   r->tasks.at("reduce").state == ti_state::success;
        });
    }, 300s));
    EXPECT_EQ(slurp(out() + "/mapping_retries_1_r1"), "try 1 map_index 0\ntry 1 map_index 0\n");
}

TEST_F(airflow_test, max_active_tis_per_dag_runs_mapped_instances_one_at_a_time) {
    add("mapping_limit.py");
    start({"mapping_limit"});
    EXPECT_EQ(engine_->read([](const engine_state& st) {
        return st.dags.at("mapping_limit").spec->find_task("one_at_a_time")->max_active_tis_per_dag;
    }), 1);
    auto tis = run("mapping_limit", "{}", 300s);
    ASSERT_EQ(run_state_of("mapping_limit"), run_state::success) << states(tis);
    EXPECT_EQ(mapped_values(tis, "one_at_a_time"), (std::vector<std::string>{"1", "2", "3", "4"}));
    for (const auto& inst : tis.at("one_at_a_time").instances) EXPECT_EQ(inst.try_number, 1) << "no instance met another";
}

TEST_F(airflow_test, rest_api_lists_patches_and_clears_mapped_instances_as_airflow_does) {
    using millrace::testing::http_request;
    add("mapping_retries.py");
    auto s = millrace::testing::start_server(
        "scheduler", dir_.path() + "/data",
        {"--set", "postgres.dsn=" + dsn(), "--set", "scheduler.dags_dir=" + dir_.path() + "/dags", "--set",
         "scheduler.schema=af_map_api", "--set", "scheduler.dag_scan_interval=200ms"});
    const std::vector<std::pair<std::string, std::string>> json_body = {{"Content-Type", "application/json"}};
    ASSERT_TRUE(eventually([&] { return http_request(s.address, "GET", "/api/v1/dags/mapping_retries").status == 200; }));
    auto tasks = nlohmann::json::parse(http_request(s.address, "GET", "/api/v1/dags/mapping_retries/tasks").body);
    std::map<std::string, bool> is_mapped;
    for (const auto& t : tasks["tasks"]) is_mapped[t["task_id"]] = t["is_mapped"];
    EXPECT_TRUE(is_mapped["work"]);
    EXPECT_FALSE(is_mapped["reduce"]);
    auto r = http_request(s.address, "POST", "/api/v1/dags/mapping_retries/dagRuns", R"({"dag_run_id": "api"})", json_body);
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(eventually([&] {
        return http_request(s.address, "GET", "/api/v1/dags/mapping_retries/dagRuns/api").body.find("\"state\":\"success\"") !=
               std::string::npos;
    }, 300s)) << http_request(s.address, "GET", "/api/v1/dags/mapping_retries/dagRuns/api/taskInstances").body;
    const std::string ti = "/api/v1/dags/mapping_retries/dagRuns/api/taskInstances";
    auto all = nlohmann::json::parse(http_request(s.address, "GET", ti).body);
    std::vector<std::string> rows;
    for (const auto& t : all["task_instances"]) rows.push_back(t["task_id"].get<std::string>() + "/" + std::to_string(t["map_index"].get<int>()));
    std::sort(rows.begin(), rows.end());
    EXPECT_EQ(rows, (std::vector<std::string>{"add_up/0", "always_fails/0", "always_fails/1", "choose/-1", "chosen/-1", "cleanup/-1",
                                              "not_chosen/0", "not_chosen/1", "reduce/-1", "work/0", "work/1", "work/2"}));
    EXPECT_EQ(all["total_entries"], 12);

    auto whole = http_request(s.address, "GET", ti + "/work");
    EXPECT_EQ(whole.status, 404) << "a mapped task is read by map_index";
    EXPECT_NE(whole.body.find("map_index"), std::string::npos) << whole.body;
    auto one = nlohmann::json::parse(http_request(s.address, "GET", ti + "/work/1").body);
    EXPECT_EQ(one["map_index"], 1);
    EXPECT_EQ(one["try_number"], 2);
    EXPECT_EQ(one["state"], "success");
    EXPECT_EQ(http_request(s.address, "GET", ti + "/work/3").status, 404);
    EXPECT_EQ(http_request(s.address, "GET", ti + "/reduce/0").status, 404);
    auto listed = nlohmann::json::parse(http_request(s.address, "GET", ti + "/work/listMapped").body);
    ASSERT_EQ(listed["total_entries"], 3);
    for (int index = 0; index < 3; ++index) EXPECT_EQ(listed["task_instances"][index]["map_index"], index);
    auto not_mapped = http_request(s.address, "GET", ti + "/reduce/listMapped");
    EXPECT_EQ(not_mapped.status, 404);
    EXPECT_NE(not_mapped.body.find("is not mapped"), std::string::npos) << not_mapped.body;

    auto entries = nlohmann::json::parse(http_request(s.address, "GET", ti + "/work/xcomEntries").body);
    ASSERT_EQ(entries["total_entries"], 3);
    EXPECT_EQ(entries["xcom_entries"][2]["map_index"], 2);
    EXPECT_EQ(entries["xcom_entries"][2]["value"], "300");
    auto entry = nlohmann::json::parse(http_request(s.address, "GET", ti + "/work/xcomEntries/return_value?map_index=1").body);
    EXPECT_EQ(entry["value"], "200");
    EXPECT_EQ(entry["map_index"], 1);
    EXPECT_EQ(http_request(s.address, "GET", ti + "/work/xcomEntries/return_value").status, 404) << "map_index defaults to -1";
    EXPECT_EQ(http_request(s.address, "GET", ti + "/work/xcomEntries?map_index=x").status, 400);
    auto reduce = nlohmann::json::parse(http_request(s.address, "GET", ti + "/reduce/xcomEntries/return_value").body);
    EXPECT_EQ(reduce["value"], "600");
    auto log = http_request(s.address, "GET", ti + "/work/logs/1?map_index=1");
    ASSERT_EQ(log.status, 200) << log.body;
    EXPECT_NE(log.body.find("instance 1 fails its first try"), std::string::npos) << log.body;

    // PATCH one instance; the other keeps its state.
    auto patched = http_request(s.address, "PATCH", ti + "/always_fails/0", R"({"new_state": "success"})", json_body);
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_EQ(nlohmann::json::parse(patched.body)["task_instances"].size(), 1u) << patched.body;
    EXPECT_EQ(nlohmann::json::parse(http_request(s.address, "GET", ti + "/always_fails/0").body)["state"], "success");
    EXPECT_EQ(nlohmann::json::parse(http_request(s.address, "GET", ti + "/always_fails/1").body)["state"], "failed");
    EXPECT_EQ(http_request(s.address, "PATCH", ti + "/always_fails/9", R"({"new_state": "success"})", json_body).status, 404);
    // clearTaskInstances with Airflow's [task_id, map_index] entries.
    auto dry = http_request(s.address, "POST", "/api/v1/dags/mapping_retries/clearTaskInstances",
                            R"({"dry_run": true, "dag_run_id": "api", "task_ids": [["work", 0], ["work", 2]]})", json_body);
    ASSERT_EQ(dry.status, 200) << dry.body;
    auto cleared = nlohmann::json::parse(dry.body);
    ASSERT_EQ(cleared["total_entries"], 2) << dry.body;
    EXPECT_EQ(cleared["task_instances"][0]["map_index"], 0);
    EXPECT_EQ(cleared["task_instances"][1]["map_index"], 2);
    EXPECT_EQ(http_request(s.address, "POST", "/api/v1/dags/mapping_retries/clearTaskInstances",
                           R"({"dry_run": true, "task_ids": [["work", "x"]]})", json_body).status, 400);
}

TEST_F(airflow_test, rest_api_xcoms_sources_variables_connections_and_cli) {
    using millrace::testing::http_request;
    add("xcom_vars.py");
    ::setenv("AIRFLOW_VAR_FROM_ENV", "env value", 1);
    ::setenv("AIRFLOW_VAR_JSON_ENV", "[1]", 1);
    ::setenv("AIRFLOW_CONN_TEST_PG", "postgres://u:p@h:1/d", 1);
    ::setenv("AIRFLOW_CONN_TEST_JSON", R"({"conn_type": "http"})", 1);
    auto s = millrace::testing::start_server(
        "scheduler", dir_.path() + "/data",
        {"--set", "postgres.dsn=" + dsn(), "--set", "scheduler.dags_dir=" + dir_.path() + "/dags", "--set",
         "scheduler.schema=af_api", "--set", "scheduler.dag_scan_interval=200ms"});
    const std::string port = s.address.substr(s.address.rfind(':') + 1);
    auto cli = [&](std::vector<std::string> args) {
        args.insert(args.begin(), millrace::testing::millrace_binary());
        args.insert(args.end(), {"--port", port});
        auto p = std::make_unique<millrace::testing::process>(args);
        p->wait();
        return p;
    };
    ASSERT_TRUE(eventually([&] { return http_request(s.address, "GET", "/api/v1/dags/xcom_vars").status == 200; }));
    // Airflow's CLI words at the top level: `millrace variables|connections ...`.
    auto set = cli({"variables", "set", "from_db", "set by cli"});
    ASSERT_EQ(set->wait(), 0) << set->stderr_text();
    ASSERT_NE(set->stdout_text().find("set variable from_db"), std::string::npos) << set->stderr_text();
    auto get = cli({"variables", "get", "from_db"});
    EXPECT_EQ(get->stdout_text(), "set by cli\n") << get->stderr_text();
    auto listed = cli({"variables", "list"});
    EXPECT_NE(listed->stdout_text().find("from_db\n"), std::string::npos) << listed->stderr_text();
    auto alias = cli({"dags", "variables", "get", "from_db"});
    EXPECT_EQ(alias->stdout_text(), "set by cli\n") << "the dags form stays an alias: " << alias->stderr_text();
    auto missing = cli({"variables", "get", "nope"});
    EXPECT_NE(missing->wait(), 0);
    EXPECT_NE(missing->stderr_text().find("HTTP 404"), std::string::npos) << missing->stderr_text();
    auto add_conn = cli({"connections", "add", "warehouse", "postgres://loader:secret@db:5432/dw"});
    ASSERT_NE(add_conn->stdout_text().find("added connection warehouse"), std::string::npos) << add_conn->stderr_text();
    auto conns = cli({"connections", "list"});
    EXPECT_NE(conns->stdout_text().find("warehouse"), std::string::npos);
    EXPECT_NE(conns->stdout_text().find("postgres"), std::string::npos);
    EXPECT_EQ(http_request(s.address, "GET", "/api/v1/connections").body.find("secret"), std::string::npos)
        << "the API never shows a connection's password";

    auto r = http_request(s.address, "POST", "/api/v1/dags/xcom_vars/dagRuns", R"({"dag_run_id": "api"})",
                          {{"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string ti = "/api/v1/dags/xcom_vars/dagRuns/api/taskInstances/";
    ASSERT_TRUE(eventually([&] {
        return http_request(s.address, "GET", ti + "pull").body.find("\"state\":\"success\"") != std::string::npos;
    }, 120s)) << http_request(s.address, "GET", ti + "pull").body;
    auto entries = nlohmann::json::parse(http_request(s.address, "GET", ti + "push/xcomEntries").body);
    EXPECT_EQ(entries["total_entries"], 2);
    auto answer = nlohmann::json::parse(http_request(s.address, "GET", ti + "push/xcomEntries/answer").body);
    EXPECT_EQ(answer["key"], "answer");
    EXPECT_EQ(nlohmann::json::parse(answer["value"].get<std::string>()), nlohmann::json::parse(R"({"n": 42, "list": [1, "two"]})"));
    EXPECT_EQ(http_request(s.address, "GET", ti + "push/xcomEntries/nope").status, 404);
    auto data = nlohmann::json::parse(slurp(out() + "/xcom_vars.json"));
    EXPECT_EQ(data["db_var"], "set by cli");
    auto vars = nlohmann::json::parse(http_request(s.address, "GET", "/api/v1/variables").body);
    EXPECT_NE(vars.dump().find("written_by_task"), std::string::npos) << vars.dump();

    auto dag = nlohmann::json::parse(http_request(s.address, "GET", "/api/v1/dags/xcom_vars").body);
    auto source = http_request(s.address, "GET", "/api/v1/dagSources/" + dag["file_token"].get<std::string>());
    ASSERT_EQ(source.status, 200);
    EXPECT_EQ(nlohmann::json::parse(source.body)["content"], slurp(k_corpus + "/xcom_vars.py"));
    EXPECT_EQ(http_request(s.address, "GET", "/api/v1/dagSources/2f6574632f706173737764").status, 404)
        << "only DAG files are served (that token is /etc/passwd)";
    auto tasks = nlohmann::json::parse(http_request(s.address, "GET", "/api/v1/dags/xcom_vars/tasks").body);
    EXPECT_EQ(tasks["tasks"][0]["operator_name"], "PythonOperator");

    // `tasks test` runs a Python task in the foreground.
    auto test = std::make_unique<millrace::testing::process>(std::vector<std::string>{
        millrace::testing::millrace_binary(), "tasks", "test", "xcom_vars", "push", "2026-07-08", "--set",
        "scheduler.dags_dir=" + dir_.path() + "/dags"});
    EXPECT_EQ(test->wait(120s), 0) << test->stdout_text() << test->stderr_text();
    EXPECT_NE(test->stdout_text().find("XCom answer = {\"list\":[1,\"two\"],\"n\":42}"), std::string::npos)
        << test->stdout_text();
    for (const char* name : {"AIRFLOW_VAR_FROM_ENV", "AIRFLOW_VAR_JSON_ENV", "AIRFLOW_CONN_TEST_PG", "AIRFLOW_CONN_TEST_JSON"}) {
        ::unsetenv(name);
    }
}

}  // namespace
}  // namespace millrace::scheduler
