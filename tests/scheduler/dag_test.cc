// DAG files: the parsed model, and every error naming the file, line and column.
#include <gtest/gtest.h>

#include "millrace/scheduler/dag.h"

namespace millrace::scheduler {
namespace {

std::string error_of(const std::string& text) {
    auto dag = parse_dag(text, "dags/x.yaml");
    return dag ? std::string("parsed") : dag.err().message();
}

TEST(dag_test, parses_a_full_dag_in_topological_order) {
    auto dag = parse_dag(R"yaml(dag_id: etl
description: extract and load
schedule: "0 3 * * *"
timezone: Europe/Berlin
start_date: 2026-01-01
catchup: false
max_active_runs: 2
tags: [demo, etl]
params: {count: 5}
default_args: {retries: 2, retry_delay: 10s, retry_exponential_backoff: true}
tasks:
  load:
    kind: sql
    sql: "insert into t values ('{{ ds }}')"
    depends_on: [transform]
  extract: {kind: shell, command: "echo {{ params.count }}", env: {A: "1"}, execution_timeout: 1m}
  transform: {kind: http, url: "http://127.0.0.1/x", expected_status: [200, 204], retries: 0}
edges: ["extract >> transform"]
)yaml", "dags/etl.yaml");
    ASSERT_TRUE(dag.ok()) << dag.err().message();
    EXPECT_EQ(dag->dag_id, "etl");
    EXPECT_EQ(dag->sched.text(), "0 3 * * *");
    EXPECT_EQ(dag->zone.name(), "Europe/Berlin");
    EXPECT_EQ(format_iso(*dag->start_date), "2025-12-31T23:00:00+00:00");
    EXPECT_FALSE(dag->catchup);
    EXPECT_EQ(dag->max_active_runs, 2);
    ASSERT_EQ(dag->tasks.size(), 3u);
    EXPECT_EQ(dag->tasks[0].task_id, "extract");
    EXPECT_EQ(dag->tasks[1].task_id, "transform");
    EXPECT_EQ(dag->tasks[2].task_id, "load");
    EXPECT_EQ(dag->tasks[0].retries, 2);
    EXPECT_EQ(dag->tasks[0].retry_delay_ms, 10'000);
    EXPECT_EQ(dag->tasks[0].execution_timeout_ms, 60'000);
    EXPECT_EQ(dag->tasks[0].maps.at("env").at("A"), "1");
    EXPECT_EQ(dag->tasks[1].retries, 0);
    EXPECT_EQ(dag->tasks[1].lists.at("expected_status"), (std::vector<std::string>{"200", "204"}));
    EXPECT_EQ(dag->tasks[2].upstream, (std::vector<std::string>{"transform"}));
    EXPECT_EQ(dag->downstream("extract"), (std::vector<std::string>{"transform"}));
    EXPECT_EQ(dag->params.at("count"), "5");
}

TEST(dag_test, cycle_is_reported_with_file_and_line) {
    EXPECT_EQ(error_of("dag_id: d\ntasks:\n  a: {kind: shell, command: x, depends_on: [c]}\n"
                       "  b: {kind: shell, command: x, depends_on: [a]}\n  c: {kind: shell, command: x, depends_on: [b]}\n"),
              "dags/x.yaml:4:44: dependency cycle: b >> c >> a >> b");
    EXPECT_EQ(error_of("dag_id: d\ntasks:\n  a: {kind: shell, command: x}\nedges: [\"a >> a\"]\n"),
              "dags/x.yaml:3:6: dependency cycle: a >> a");
}

TEST(dag_test, unknown_dependency_is_reported_with_file_and_line) {
    EXPECT_EQ(error_of("dag_id: d\ntasks:\n  a: {kind: shell, command: x}\n  b:\n    kind: shell\n    command: y\n"
                       "    depends_on: [a, z]\n"),
              "dags/x.yaml:7:17: task 'b' depends on unknown task 'z'");
    EXPECT_EQ(error_of("dag_id: d\ntasks:\n  a: {kind: shell, command: x}\nedges:\n  - a >> q\n"),
              "dags/x.yaml:5:5: edge 'a >> q' names unknown task 'q'");
}

TEST(dag_test, bad_fields_are_reported_where_they_are) {
    EXPECT_EQ(error_of("dag_id: d\nschedule: \"0 25 * * *\"\nstart_date: 2026-01-01\ntasks:\n  a: {kind: shell, command: x}\n"),
              "dags/x.yaml:2:11: cron field 2 (hour): 25 is outside 0..23");
    EXPECT_EQ(error_of("dag_id: d\ntasks:\n  a: {kind: shel, command: x}\n"),
              "dags/x.yaml:3:13: task 'a': unknown kind 'shel' (shell, sql, http, kafka_produce, randomuser_fetch)");
    EXPECT_EQ(error_of("dag_id: d\ntasks:\n  a: {kind: shell}\n"), "dags/x.yaml:3:6: task 'a' (shell) needs 'command'");
    EXPECT_EQ(error_of("dag_id: d\ntasks:\n  a: {kind: shell, command: x, retries: many}\n"),
              "dags/x.yaml:3:41: retries must be a whole number in 0..1000, got 'many'");
    EXPECT_EQ(error_of("dag_id: d\nschedul: \"@daily\"\ntasks:\n  a: {kind: shell, command: x}\n"),
              "dags/x.yaml:2:1: unknown key 'schedul'");
    EXPECT_EQ(error_of("dag_id: d\nschedule: \"@daily\"\ntasks:\n  a: {kind: shell, command: x}\n"),
              "dags/x.yaml:2:11: a scheduled DAG needs a start_date");
    EXPECT_EQ(error_of("dag_id: d\ntasks: [\n"), "dags/x.yaml:3:1: invalid YAML: end of sequence flow not found");
    EXPECT_EQ(error_of("dag_id: 'a b'\ntasks:\n  a: {kind: shell, command: x}\n"),
              "dags/x.yaml:1:9: dag_id 'a b' may only hold letters, digits, '_', '-' and '.'");
    EXPECT_EQ(error_of("dag_id: d\ntimezone: Mars/Base\ntasks:\n  a: {kind: shell, command: x}\n").substr(0, 43),
              "dags/x.yaml:2:11: time zone 'Mars/Base': no");
}

TEST(dag_test, depends_on_past_from_default_args_or_the_task_and_wait_for_downstream_implies_it) {
    auto dag = parse_dag("dag_id: d\ndefault_args: {depends_on_past: true}\ntasks:\n  a: {kind: shell, command: x}\n"
                         "  b: {kind: shell, command: x, depends_on_past: false}\n"
                         "  c: {kind: shell, command: x, depends_on_past: false, wait_for_downstream: true}\n",
                         "dags/x.yaml");
    ASSERT_TRUE(dag.ok()) << dag.err().message();
    EXPECT_TRUE(dag->find_task("a")->depends_on_past);
    EXPECT_FALSE(dag->find_task("a")->wait_for_downstream);
    EXPECT_FALSE(dag->find_task("b")->depends_on_past);
    EXPECT_TRUE(dag->find_task("c")->depends_on_past);
    EXPECT_TRUE(dag->find_task("c")->wait_for_downstream);
    EXPECT_EQ(error_of("dag_id: d\ntasks:\n  a: {kind: shell, command: x, depends_on_past: sometimes}\n"),
              "dags/x.yaml:3:49: depends_on_past must be true or false, got 'sometimes'");
}

TEST(dag_test, params_declare_their_types_from_their_defaults) {
    auto dag = parse_dag("dag_id: p\nparams: {count: 100, ratio: 0.5, full: true, seed: millrace, code: '007', neg: -3}\n"
                         "tasks:\n  t: {kind: shell, command: 'true'}\n",
                         "dags/p.yaml");
    ASSERT_TRUE(dag.ok()) << dag.err().message();
    EXPECT_EQ(dag->param_types.at("count"), "integer");
    EXPECT_EQ(dag->param_types.at("ratio"), "number");
    EXPECT_EQ(dag->param_types.at("full"), "boolean");
    EXPECT_EQ(dag->param_types.at("seed"), "string");
    EXPECT_EQ(dag->param_types.at("code"), "string");
    EXPECT_EQ(dag->param_types.at("neg"), "integer");
    EXPECT_EQ(dag->params.at("code"), "007");
}

TEST(dag_test, templates_and_durations) {
    std::map<std::string, std::string> vars = {{"ds", "2026-01-02"}, {"params.n", "7"}};
    EXPECT_EQ(render_template("day={{ ds }} n={{params.n}}", vars).value(), "day=2026-01-02 n=7");
    EXPECT_NE(render_template("{{ nope }}", vars).err().message().find("unknown variable 'nope'"), std::string::npos);
    EXPECT_NE(render_template("{{ ds", vars).err().message().find("is not closed"), std::string::npos);
    EXPECT_EQ(parse_duration_ms("250ms").value(), 250);
    EXPECT_EQ(parse_duration_ms("1.5").value(), 1500);
    EXPECT_EQ(parse_duration_ms("2h").value(), 7'200'000);
    EXPECT_FALSE(parse_duration_ms("soon").ok());
}

}  // namespace
}  // namespace millrace::scheduler
