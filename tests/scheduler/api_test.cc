// The built `millrace scheduler` against a real PostgreSQL: the REST API's
// status codes and bodies, the CLI, and kill -9 during a run with a second
// scheduler waiting on the advisory lock that takes over and recovers.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <signal.h>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "harness/process.h"
#include "pg_fixture.h"

namespace millrace::scheduler {
namespace {

using namespace std::chrono_literals;
using millrace::testing::http_request;
using millrace::testing::http_result;

template <typename F>
bool eventually(F f, std::chrono::milliseconds timeout = 60s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (f()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return f();
}

YAML::Node body_of(const http_result& r) {
    try {
        return YAML::Load(r.body);
    } catch (const YAML::Exception&) {
        return YAML::Node();
    }
}

class api_test : public source::pg_fixture {
protected:
    void SetUp() override {
        pg_fixture::SetUp();
        std::filesystem::create_directories(dir_.path() + "/dags");
        write_dag("a.yaml", "dag_id: alpha\ndescription: first\nschedule: '0 3 * * *'\nstart_date: 2030-01-01\n"
                            "params: {k: a, n: 1, a: 0}\n"
                            "tags: [x]\ntasks:\n  one: {kind: shell, command: 'echo one-{{ ds }}'}\n"
                            "  two: {kind: shell, command: 'echo two', depends_on: [one], retries: 2}\n");
        write_dag("broken.yaml", "dag_id: broken\ntasks:\n  a: {kind: shell, command: x, depends_on: [zz]}\n");
    }
    void write_dag(const std::string& name, const std::string& text) { std::ofstream(dir_.path() + "/dags/" + name) << text; }

    millrace::testing::server start_scheduler(const std::string& data, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"--set", "postgres.dsn=" + dsn(), "--set", "scheduler.dags_dir=" + dir_.path() + "/dags",
                                         "--set", "scheduler.schema=api_test", "--set", "scheduler.dag_scan_interval=200ms"};
        args.insert(args.end(), extra.begin(), extra.end());
        return millrace::testing::start_server("scheduler", dir_.path() + "/" + data, args);
    }

    bool wait_dags(const std::string& address, size_t count) {
        return eventually([&] {
            auto r = http_request(address, "GET", "/api/v1/dags");
            return r.status == 200 && body_of(r)["total_entries"].as<size_t>() == count;
        });
    }

    millrace::testing::temp_dir dir_;
};

void expect_problem(const http_result& r, int status, const std::string& field, const std::string& detail_part) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_NE(r.headers.find("application/problem+json"), std::string::npos) << r.headers;
    auto b = body_of(r);
    ASSERT_TRUE(b.IsMap()) << r.body;
    EXPECT_EQ(b["status"].as<int>(), status);
    EXPECT_EQ(b["type"].as<std::string>(), "about:blank");
    if (!field.empty()) {
        EXPECT_EQ(b["field"].as<std::string>(""), field) << r.body;
    }
    EXPECT_NE(b["detail"].as<std::string>().find(detail_part), std::string::npos) << r.body;
}

TEST_F(api_test, status_codes_and_bodies) {
    auto s = start_scheduler("s");
    ASSERT_TRUE(s.proc);
    ASSERT_TRUE(wait_dags(s.address, 1));

    auto health = http_request(s.address, "GET", "/api/v1/health");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(body_of(health)["metadatabase"]["status"].as<std::string>(), "healthy");
    EXPECT_EQ(body_of(health)["scheduler"]["status"].as<std::string>(), "healthy");

    auto dags = body_of(http_request(s.address, "GET", "/api/v1/dags"));
    auto alpha = dags["dags"][0];
    EXPECT_EQ(alpha["dag_id"].as<std::string>(), "alpha");
    EXPECT_EQ(alpha["is_paused"].as<bool>(), false);
    EXPECT_EQ(alpha["schedule_interval"]["value"].as<std::string>(), "0 3 * * *");
    EXPECT_EQ(alpha["tags"][0]["name"].as<std::string>(), "x");
    EXPECT_EQ(alpha["next_dagrun"].as<std::string>(), "2030-01-01T03:00:00+00:00");

    // The broken file is an import error naming file and line.
    auto errors = body_of(http_request(s.address, "GET", "/api/v1/importErrors"));
    ASSERT_EQ(errors["total_entries"].as<int>(), 1);
    EXPECT_NE(errors["import_errors"][0]["stack_trace"].as<std::string>().find("broken.yaml:3:"), std::string::npos);
    EXPECT_NE(errors["import_errors"][0]["stack_trace"].as<std::string>().find("unknown task 'zz'"), std::string::npos);

    expect_problem(http_request(s.address, "GET", "/api/v1/dags/nope"), 404, "", "DAG with dag_id: 'nope' not found");
    expect_problem(http_request(s.address, "GET", "/api/v1/dags?limit=abc"), 400, "limit", "limit");
    expect_problem(http_request(s.address, "PATCH", "/api/v1/dags/alpha", R"({"is_paused": "yes"})"), 400, "is_paused",
                   "is_paused must be true or false");
    auto not_json = http_request(s.address, "PATCH", "/api/v1/dags/alpha", "not json");
    EXPECT_EQ(not_json.status, 400);
    EXPECT_NE(body_of(not_json)["detail"].as<std::string>("").find("not valid JSON"), std::string::npos) << not_json.body;
    expect_problem(http_request(s.address, "PATCH", "/api/v1/dags/alpha", "[1]"), 400, "", "JSON object");
    expect_problem(http_request(s.address, "PATCH", "/api/v1/dags/alpha?update_mask=description", R"({"is_paused": true})"),
                   400, "update_mask", "only is_paused");
    expect_problem(http_request(s.address, "DELETE", "/api/v1/dags/alpha"), 405, "", "not allowed");

    auto paused = http_request(s.address, "PATCH", "/api/v1/dags/alpha?update_mask=is_paused", R"({"is_paused": true})");
    EXPECT_EQ(paused.status, 200);
    EXPECT_EQ(body_of(paused)["is_paused"].as<bool>(), true);
    EXPECT_EQ(body_of(http_request(s.address, "GET", "/api/v1/dags?paused=true"))["total_entries"].as<int>(), 1);
    ASSERT_EQ(http_request(s.address, "PATCH", "/api/v1/dags/alpha", R"({"is_paused": false})").status, 200);

    const std::string runs = "/api/v1/dags/alpha/dagRuns";
    expect_problem(http_request(s.address, "POST", runs, R"({"conf": [1, 2]})"), 400, "conf", "conf must be a JSON object");
    expect_problem(http_request(s.address, "POST", runs, R"({"logical_date": "tomorrow"})"), 400, "logical_date",
                   "'tomorrow' is not an ISO 8601 date-time");
    expect_problem(http_request(s.address, "POST", runs, R"({"colour": "red"})"), 400, "colour", "unknown field 'colour'");
    expect_problem(http_request(s.address, "POST", "/api/v1/dags/nope/dagRuns", "{}"), 404, "", "'nope' not found");
    // conf sets declared params only, with their declared types.
    expect_problem(http_request(s.address, "POST", runs, R"({"conf": {"cmd": "id"}})"), 400, "conf",
                   "'cmd' is not a param of DAG 'alpha'");
    expect_problem(http_request(s.address, "POST", runs, R"({"conf": {"n": "1; id"}})"), 400, "conf",
                   "param 'n' of DAG 'alpha' is declared integer, got string");

    auto created = http_request(s.address, "POST", runs,
                                R"({"dag_run_id": "r1", "logical_date": "2026-05-06T07:08:09Z", "conf": {"k": "v", "n": 2}})");
    ASSERT_EQ(created.status, 200) << created.body;
    auto run = body_of(created);
    EXPECT_EQ(run["dag_run_id"].as<std::string>(), "r1");
    EXPECT_EQ(run["logical_date"].as<std::string>(), "2026-05-06T07:08:09+00:00");
    EXPECT_EQ(run["data_interval_end"].as<std::string>(), "2026-05-07T03:00:00+00:00");
    EXPECT_EQ(run["conf"]["n"].as<int>(), 2);
    EXPECT_EQ(run["run_type"].as<std::string>(), "manual");
    expect_problem(http_request(s.address, "POST", runs, R"({"dag_run_id": "r1"})"), 409, "", "already exists");
    expect_problem(http_request(s.address, "POST", runs, R"({"logical_date": "2026-05-06T07:08:09+00:00"})"), 409, "",
                   "already exists");

    ASSERT_TRUE(eventually([&] {
        return body_of(http_request(s.address, "GET", runs + "/r1"))["state"].as<std::string>("") == "success";
    }));
    auto tis = body_of(http_request(s.address, "GET", runs + "/r1/taskInstances"));
    ASSERT_EQ(tis["total_entries"].as<int>(), 2);
    EXPECT_EQ(tis["task_instances"][0]["task_id"].as<std::string>(), "one");
    EXPECT_EQ(tis["task_instances"][0]["state"].as<std::string>(), "success");
    EXPECT_EQ(tis["task_instances"][0]["try_number"].as<int>(), 1);
    EXPECT_EQ(tis["task_instances"][1]["max_tries"].as<int>(), 2);
    auto log = http_request(s.address, "GET", runs + "/r1/taskInstances/one/logs/1");
    EXPECT_EQ(log.status, 200);
    EXPECT_NE(log.body.find("one-2026-05-06"), std::string::npos) << log.body;
    expect_problem(http_request(s.address, "GET", runs + "/r1/taskInstances/one/logs/0"), 400, "try_number", "try_number");
    expect_problem(http_request(s.address, "GET", runs + "/r1/taskInstances/one/logs/2"), 404, "", "no log for try 2");
    expect_problem(http_request(s.address, "GET", runs + "/nope/taskInstances"), 404, "", "not found");
    auto listed = body_of(http_request(s.address, "GET", runs + "?order_by=-logical_date"));
    EXPECT_EQ(listed["total_entries"].as<int>(), 1);
    expect_problem(http_request(s.address, "GET", runs + "?order_by=colour"), 400, "order_by", "not supported");

    // The CLI talks to the same API.
    auto port = s.address.substr(s.address.rfind(':') + 1);
    millrace::testing::process list({millrace::testing::millrace_binary(), "dags", "list", "--port", port});
    ASSERT_EQ(list.wait(), 0) << list.stderr_text();
    EXPECT_NE(list.stdout_text().find("alpha"), std::string::npos);
    millrace::testing::process trig({millrace::testing::millrace_binary(), "dags", "trigger", "alpha", "--conf", R"({"a": 1})",
                                     "--port", port});
    ASSERT_EQ(trig.wait(), 0) << trig.stderr_text();
    EXPECT_NE(trig.stdout_text().find("triggered alpha run manual__"), std::string::npos);
    // --wait follows the run to its end: each task as it finishes, the exit code is the run's.
    millrace::testing::process waited({millrace::testing::millrace_binary(), "dags", "trigger", "alpha", "--wait", "--port", port});
    ASSERT_EQ(waited.wait(), 0) << waited.stdout_text() << waited.stderr_text();
    EXPECT_NE(waited.stdout_text().find("  one success"), std::string::npos) << waited.stdout_text();
    EXPECT_NE(waited.stdout_text().find("  two success"), std::string::npos) << waited.stdout_text();
    EXPECT_NE(waited.stdout_text().find(" success in "), std::string::npos) << waited.stdout_text();
    millrace::testing::process undeclared({millrace::testing::millrace_binary(), "dags", "trigger", "alpha", "--conf",
                                           R"({"msg": "x; id"})", "--port", port});
    EXPECT_EQ(undeclared.wait(), 1);
    EXPECT_NE(undeclared.stderr_text().find("'msg' is not a param of DAG 'alpha'"), std::string::npos) << undeclared.stderr_text();
    millrace::testing::process bad({millrace::testing::millrace_binary(), "dags", "pause", "nope", "--port", port});
    EXPECT_EQ(bad.wait(), 1);
    EXPECT_NE(bad.stderr_text().find("HTTP 404"), std::string::npos) << bad.stderr_text();

    // A run that fails: --wait names the failed task and exits 1.
    write_dag("failing.yaml", "dag_id: failing\nstart_date: 2030-01-01\ntasks:\n  bad: {kind: shell, command: 'exit 3'}\n");
    ASSERT_TRUE(wait_dags(s.address, 2));
    millrace::testing::process failed({millrace::testing::millrace_binary(), "dags", "trigger", "failing", "--wait", "--port", port});
    EXPECT_EQ(failed.wait(), 1) << failed.stdout_text() << failed.stderr_text();
    EXPECT_NE(failed.stdout_text().find("  bad failed"), std::string::npos) << failed.stdout_text();
    EXPECT_NE(failed.stdout_text().find(" failed in "), std::string::npos) << failed.stdout_text();
}

TEST_F(api_test, backfill_clear_and_mark_as_in_airflow) {
    write_dag("daily.yaml", "dag_id: daily\nschedule: '0 3 * * *'\nstart_date: 2026-01-01\ncatchup: false\nparams: {k: a}\n"
                            "tasks:\n  one: {kind: shell, command: 'echo one'}\n"
                            "  two: {kind: shell, command: 'echo two', depends_on: [one], retries: 2}\n");
    auto s = start_scheduler("s");
    ASSERT_TRUE(s.proc);
    ASSERT_TRUE(wait_dags(s.address, 2));
    const std::string runs = "/api/v1/dags/daily/dagRuns";
    auto backfills = [&] {
        int n = 0;
        for (const auto& run : body_of(http_request(s.address, "GET", runs))["dag_runs"]) n += run["run_type"].as<std::string>() == "backfill";
        return n;
    };
    auto all_done = [&] {
        auto listed = body_of(http_request(s.address, "GET", runs));
        for (const auto& run : listed["dag_runs"]) {
            auto state = run["state"].as<std::string>();
            if (state != "success" && state != "failed") return false;
        }
        return true;
    };

    // Backfill: a dry run lists the schedule's ticks in the range and creates nothing.
    const std::string range = R"("dag_id": "daily", "from_date": "2026-01-01", "to_date": "2026-01-03")";
    auto dry = http_request(s.address, "POST", "/api/v1/backfills/dry_run", "{" + std::string(range) + "}");
    ASSERT_EQ(dry.status, 200) << dry.body;
    auto plan = body_of(dry);
    ASSERT_EQ(plan["total_entries"].as<int>(), 2) << dry.body;  // 01-01 03:00 and 01-02 03:00; 01-03 03:00 is after to_date
    EXPECT_EQ(plan["backfills"][0]["logical_date"].as<std::string>(), "2026-01-01T03:00:00+00:00");
    EXPECT_EQ(plan["backfills"][0]["action"].as<std::string>(), "create");
    EXPECT_EQ(backfills(), 0) << "a dry run created runs";
    auto made = http_request(s.address, "POST", "/api/v1/backfills", "{" + std::string(range) + R"(, "dag_run_conf": {"k": "b"}})");
    ASSERT_EQ(made.status, 200) << made.body;
    EXPECT_EQ(body_of(made)["runs_to_run"].as<int>(), 2);
    ASSERT_EQ(backfills(), 2);
    auto backfilled = body_of(http_request(s.address, "GET", runs + "/backfill__2026-01-01T03:00:00%2B00:00"));
    ASSERT_TRUE(backfilled.IsMap());
    EXPECT_EQ(backfilled["run_type"].as<std::string>(""), "backfill");
    EXPECT_EQ(backfilled["data_interval_end"].as<std::string>(""), "2026-01-02T03:00:00+00:00");
    EXPECT_EQ(backfilled["conf"]["k"].as<std::string>(""), "b");
    ASSERT_TRUE(eventually(all_done));
    // Again: the runs exist, so nothing to do; with reprocess_behavior=completed both run again.
    auto again = body_of(http_request(s.address, "POST", "/api/v1/backfills", "{" + std::string(range) + "}"));
    EXPECT_EQ(again["runs_to_run"].as<int>(), 0);
    EXPECT_EQ(again["backfills"][1]["action"].as<std::string>(), "skip");
    auto rerun = body_of(http_request(s.address, "POST", "/api/v1/backfills", "{" + std::string(range) + R"(, "reprocess_behavior": "completed"})"));
    EXPECT_EQ(rerun["runs_to_run"].as<int>(), 2);
    const std::string first = runs + "/backfill__2026-01-01T03:00:00%2B00:00";
    ASSERT_TRUE(eventually([&] {
        auto ti = body_of(http_request(s.address, "GET", first + "/taskInstances/one"));
        return ti["try_number"].as<int>(0) == 2 && ti["state"].as<std::string>("") == "success";
    })) << http_request(s.address, "GET", first + "/taskInstances/one").body;
    ASSERT_TRUE(eventually(all_done));

    // Before the DAG's start_date: nothing to run (alpha starts in 2030).
    auto early = body_of(http_request(s.address, "POST", "/api/v1/backfills/dry_run",
                                      R"({"dag_id": "alpha", "from_date": "2026-01-01", "to_date": "2026-01-05"})"));
    EXPECT_EQ(early["total_entries"].as<int>(), 0);
    // Mark a task failed, clear it, mark its run failed, clear the run.
    auto marked = http_request(s.address, "PATCH", first + "/taskInstances/two", R"({"new_state": "failed"})");
    ASSERT_EQ(marked.status, 200) << marked.body;
    auto two = body_of(http_request(s.address, "GET", first + "/taskInstances/two"));
    EXPECT_EQ(two["state"].as<std::string>(), "failed");
    EXPECT_NE(two["note"].as<std::string>("").find("marked failed"), std::string::npos);
    // Clear: dry by default (Airflow's default), only the failed one with only_failed.
    auto preview = body_of(http_request(s.address, "POST", "/api/v1/dags/daily/clearTaskInstances", R"({"only_failed": true})"));
    ASSERT_EQ(preview["total_entries"].as<int>(), 1);
    EXPECT_EQ(preview["task_instances"][0]["task_id"].as<std::string>(), "two");
    EXPECT_EQ(body_of(http_request(s.address, "GET", first + "/taskInstances/two"))["state"].as<std::string>(), "failed");
    auto cleared = http_request(s.address, "POST", "/api/v1/dags/daily/clearTaskInstances", R"({"only_failed": true, "dry_run": false})");
    ASSERT_EQ(body_of(cleared)["total_entries"].as<int>(), 1) << cleared.body;
    ASSERT_TRUE(eventually([&] {
        auto ti = body_of(http_request(s.address, "GET", first + "/taskInstances/two"));
        return ti["state"].as<std::string>("") == "success" && ti["try_number"].as<int>(0) == 3;
    })) << http_request(s.address, "GET", first + "/taskInstances/two").body;
    EXPECT_EQ(body_of(http_request(s.address, "GET", first + "/taskInstances/two"))["max_tries"].as<int>(), 4)
        << "a clear gives the task its retries (2) again after try 2";
    ASSERT_TRUE(eventually([&] { return body_of(http_request(s.address, "GET", first))["state"].as<std::string>("") == "success"; }));
    auto failed_run = http_request(s.address, "PATCH", first, R"({"state": "failed"})");
    ASSERT_EQ(failed_run.status, 200) << failed_run.body;
    EXPECT_EQ(body_of(failed_run)["state"].as<std::string>(), "failed");
    auto clear_run = http_request(s.address, "POST", first + "/clear", R"({"dry_run": false})");
    ASSERT_EQ(clear_run.status, 200) << clear_run.body;
    ASSERT_TRUE(eventually([&] { return body_of(http_request(s.address, "GET", first))["state"].as<std::string>("") == "success"; }));

    // Errors name what is wrong.
    expect_problem(http_request(s.address, "PATCH", first + "/taskInstances/nope", R"({"new_state": "success"})"), 404, "", "task 'nope'");
    expect_problem(http_request(s.address, "PATCH", first + "/taskInstances/one", R"({"new_state": "running"})"), 400, "new_state", "success or failed");
    expect_problem(http_request(s.address, "PATCH", first, R"({"state": "running"})"), 400, "state", "success, failed or queued");
    expect_problem(http_request(s.address, "POST", "/api/v1/dags/daily/clearTaskInstances", R"({"colour": 1})"), 400, "colour", "unknown field");
    expect_problem(http_request(s.address, "POST", "/api/v1/backfills", R"({"dag_id": "daily", "from_date": "2026-02-01", "to_date": "2026-01-01"})"),
                   400, "", "before from_date");
    expect_problem(http_request(s.address, "POST", "/api/v1/backfills", R"({"dag_id": "nope", "from_date": "2026-01-01", "to_date": "2026-01-02"})"),
                   404, "", "'nope' not found");
    expect_problem(http_request(s.address, "POST", "/api/v1/backfills", "{" + std::string(range) + R"(, "dag_run_conf": {"zz": 1}})"),
                   400, "", "'zz' is not a param");

    // The CLI: backfill --dry-run and clear --only-failed.
    const std::string port = s.address.substr(s.address.rfind(':') + 1);
    millrace::testing::process cli_dry({millrace::testing::millrace_binary(), "dags", "backfill", "daily", "-s", "2026-03-01", "-e",
                                        "2026-03-02", "--dry-run", "--port", port});
    ASSERT_EQ(cli_dry.wait(), 0) << cli_dry.stderr_text();
    EXPECT_NE(cli_dry.stdout_text().find("create   2026-03-01T03:00:00+00:00"), std::string::npos) << cli_dry.stdout_text();
    EXPECT_NE(cli_dry.stdout_text().find("dry run: 1 run(s)"), std::string::npos) << cli_dry.stdout_text();
    millrace::testing::process cli_clear({millrace::testing::millrace_binary(), "dags", "clear", "daily", "--only-failed", "--dry-run", "--port", port});
    ASSERT_EQ(cli_clear.wait(), 0) << cli_clear.stderr_text();
    EXPECT_NE(cli_clear.stdout_text().find("dry run: 0 task instance(s)"), std::string::npos) << cli_clear.stdout_text();
    EXPECT_EQ(backfills(), 2) << "the CLI's dry run created runs";
}

TEST_F(api_test, cross_site_shaped_requests_are_refused) {
    auto s = start_scheduler("s");
    ASSERT_TRUE(s.proc);
    ASSERT_TRUE(wait_dags(s.address, 1));
    const std::string runs = "/api/v1/dags/alpha/dagRuns";
    const std::string port = s.address.substr(s.address.rfind(':') + 1);
    auto origin = http_request(s.address, "POST", runs, "{}", {{"Origin", "http://evil.example"}});
    EXPECT_EQ(origin.status, 403) << origin.body;
    EXPECT_NE(body_of(origin)["detail"].as<std::string>("").find("Origin 'http://evil.example'"), std::string::npos);
    auto rebinding = http_request(s.address, "POST", runs, "{}", {{"Host", "attacker.example:" + port}});
    EXPECT_EQ(rebinding.status, 403) << rebinding.body;
    auto text = http_request(s.address, "POST", runs, R"({"conf": {}})", {{"Content-Type", "text/plain"}});
    EXPECT_EQ(text.status, 415) << text.body;
    auto patch = http_request(s.address, "PATCH", "/api/v1/dags/alpha", R"({"is_paused": true})",
                              {{"Origin", "http://localhost:1"}});
    EXPECT_EQ(patch.status, 403) << patch.body;
    // None of them changed anything.
    EXPECT_EQ(body_of(http_request(s.address, "GET", runs))["total_entries"].as<int>(), 0);
    EXPECT_EQ(body_of(http_request(s.address, "GET", "/api/v1/dags/alpha"))["is_paused"].as<bool>(), false);
    // The UI's own requests (same origin, JSON) work.
    auto own = http_request(s.address, "POST", runs, "{}", {{"Origin", "http://" + s.address}});
    EXPECT_EQ(own.status, 200) << own.body;
}

// Resident memory of `pid` in KiB, from /proc.
long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

TEST_F(api_test, yaml_alias_bomb_and_deep_nesting_are_refused_fast_with_bounded_memory) {
    auto s = start_scheduler("s");
    ASSERT_TRUE(s.proc);
    ASSERT_TRUE(wait_dags(s.address, 1));
    // The body from issue 19: YAML aliases, exponential once expanded (9.7 s and +1.1 GB when parsed as YAML).
    std::string bomb = "{\"conf\": &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]}\n";
    const char* names = "abcdefghi";
    for (int level = 1; level < 9; ++level) {
        bomb += fmt::format("{}: &{} [", names[level], names[level]);
        for (int ref = 0; ref < 9; ++ref) bomb += fmt::format("{}*{}", ref ? "," : "", names[level - 1]);
        bomb += "]\n";
    }
    long before = rss_kib(s.proc->pid());
    auto begin = std::chrono::steady_clock::now();
    for (std::string type : {"application/json", "application/yaml"}) {
        auto r = http_request(s.address, "POST", "/api/v1/dags/alpha/dagRuns", bomb, {{"Content-Type", type}});
        EXPECT_EQ(r.status, type == "application/json" ? 400 : 415) << r.body;
    }
    std::string deep = "{\"conf\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    auto nested = http_request(s.address, "POST", "/api/v1/dags/alpha/dagRuns", deep);
    EXPECT_EQ(nested.status, 400);
    EXPECT_NE(nested.body.find("deeper than 64"), std::string::npos) << nested.body.substr(0, 300);
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
    long after = rss_kib(s.proc->pid());
    EXPECT_LT(after - before, 20 * 1024) << "RSS grew from " << before << " to " << after << " KiB";
    EXPECT_EQ(body_of(http_request(s.address, "GET", "/api/v1/dags/alpha/dagRuns"))["total_entries"].as<int>(), 0);
}

TEST_F(api_test, tasks_test_runs_one_task_in_the_foreground) {
    millrace::testing::process p({millrace::testing::millrace_binary(), "tasks", "test", "alpha", "one", "2026-07-08",
                                  "--set", "scheduler.dags_dir=" + dir_.path() + "/dags"});
    ASSERT_EQ(p.wait(), 0) << p.stderr_text();
    EXPECT_NE(p.stdout_text().find("one-2026-07-08"), std::string::npos) << p.stdout_text();
    millrace::testing::process missing({millrace::testing::millrace_binary(), "tasks", "test", "alpha", "zzz", "2026-07-08",
                                        "--set", "scheduler.dags_dir=" + dir_.path() + "/dags"});
    EXPECT_EQ(missing.wait(), 1);
    EXPECT_NE(missing.stderr_text().find("DAG 'alpha' has no task 'zzz'"), std::string::npos) << missing.stderr_text();
}

TEST_F(api_test, kafka_produce_and_http_tasks_against_real_servers) {
    auto broker = millrace::testing::start_server("broker", dir_.path() + "/broker");
    ASSERT_TRUE(broker.proc);
    write_dag("k.yaml", "dag_id: io\ntasks:\n"
                        "  produce: {kind: kafka_produce, topic: scheduled_events, messages: ['a-{{ ds }}', 'b'], key: k}\n"
                        "  ping: {kind: http, url: 'http://" + broker.admin + "/healthz'}\n"
                        "  wrong: {kind: http, url: 'http://" + broker.admin + "/healthz', expected_status: [204]}\n");
    std::vector<int> exit_codes;
    auto run_task = [&](const std::string& task) {
        auto p = std::make_unique<millrace::testing::process>(std::vector<std::string>{
            millrace::testing::millrace_binary(), "tasks", "test", "io", task, "2026-07-08", "--set",
            "scheduler.dags_dir=" + dir_.path() + "/dags", "--set", "kafka.bootstrap=" + broker.address});
        exit_codes.push_back(p->wait().value_or(-1));
        return p;
    };
    auto produce = run_task("produce");
    EXPECT_NE(produce->stdout_text().find("delivered 2, failed 0, unsent 0"), std::string::npos) << produce->stdout_text();
    EXPECT_NE(produce->stdout_text().find("try 1 succeeded"), std::string::npos);
    auto ping = run_task("ping");
    EXPECT_NE(ping->stdout_text().find("HTTP 200"), std::string::npos) << ping->stdout_text();
    auto wrong = run_task("wrong");
    EXPECT_NE(wrong->stdout_text().find("answered HTTP 200, not the expected status"), std::string::npos) << wrong->stdout_text();
    EXPECT_EQ(exit_codes, (std::vector<int>{0, 0, 1}));
}

TEST_F(api_test, kill_9_during_a_run_then_the_waiting_scheduler_recovers_it) {
    std::string marker = dir_.path() + "/try";
    write_dag("slow.yaml", "dag_id: slow\ntasks:\n  work:\n    kind: shell\n    command: 'echo {{ try_number }} >> " + marker +
                               "; if [ {{ try_number }} = 1 ]; then sleep 600; fi'\n    retries: 1\n    retry_delay: 0s\n"
                               "  next: {kind: shell, command: 'true', depends_on: [work]}\n");
    auto first = start_scheduler("s1");
    ASSERT_TRUE(first.proc);
    ASSERT_TRUE(wait_dags(first.address, 2));
    // A second scheduler on the same database waits on the advisory lock.
    auto second = start_scheduler("s2");
    ASSERT_TRUE(second.proc);
    ASSERT_TRUE(eventually([&] {
        auto h = body_of(http_request(second.address, "GET", "/api/v1/health"));
        return h["scheduler"]["status"].as<std::string>("") == "unhealthy" &&
               h["scheduler"]["detail"].as<std::string>("").find("another scheduler") != std::string::npos;
    }));

    ASSERT_EQ(http_request(first.address, "POST", "/api/v1/dags/slow/dagRuns", R"({"dag_run_id": "k"})").status, 200);
    const std::string ti = "/api/v1/dags/slow/dagRuns/k/taskInstances/work";
    int pid = 0;
    ASSERT_TRUE(eventually([&] {
        auto b = body_of(http_request(first.address, "GET", ti));
        if (b["state"].as<std::string>("") != "running" || b["pid"].IsNull()) return false;
        pid = b["pid"].as<int>();
        // Running is not enough: under load the shell may not have written
        // its try number yet, and the kill would leave only try 2's line.
        std::ifstream written(marker);
        std::string text((std::istreambuf_iterator<char>(written)), std::istreambuf_iterator<char>());
        return text == "1\n";
    }, 30s)) << http_request(first.address, "GET", ti).body << "\n" << first.proc->stderr_text();
    first.proc->send_signal(SIGKILL);
    ASSERT_TRUE(first.proc->wait().has_value());
    // The task's process died with its scheduler.
    EXPECT_TRUE(eventually([&] {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string p, comm, state;
        return !(stat >> p >> comm >> state) || state == "Z";
    }, 20s)) << "task process " << pid << " outlived the killed scheduler";

    // The waiting scheduler takes the lock, marks try 1 lost, retries it, and finishes the run.
    ASSERT_TRUE(eventually([&] {
        return body_of(http_request(second.address, "GET", "/api/v1/dags/slow/dagRuns/k"))["state"].as<std::string>("") == "success";
    }, 90s)) << second.proc->stderr_text();
    auto b = body_of(http_request(second.address, "GET", ti));
    EXPECT_EQ(b["state"].as<std::string>(), "success");
    EXPECT_EQ(b["try_number"].as<int>(), 2);
    EXPECT_NE(second.proc->stderr_text().find("the scheduler stopped while try 1 ran"), std::string::npos);
    std::ifstream in(marker);
    std::string tries((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(tries, "1\n2\n");
    EXPECT_EQ(body_of(http_request(second.address, "GET", "/api/v1/health"))["scheduler"]["status"].as<std::string>(), "healthy");
}

}  // namespace
}  // namespace millrace::scheduler
