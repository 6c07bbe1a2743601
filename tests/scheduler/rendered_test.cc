// Rendered template fields per try (issues 22 and 23), through the built
// `millrace scheduler` against a real PostgreSQL: what each try rendered is
// stored in task_instance_try, served as Airflow 2.10's `rendered_fields` on
// task instances and per try on .../tries/{n}, with Variables and keys of
// sensitive names masked as Airflow's secrets masker does; it survives a
// restart, and a metadata database without the table is migrated in place.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <signal.h>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "harness/process.h"
#include "pg_fixture.h"

namespace millrace::scheduler {
namespace {

using namespace std::chrono_literals;
using millrace::testing::http_request;
using json = nlohmann::json;

template <typename F>
bool eventually(F f, std::chrono::milliseconds timeout = 120s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (f()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return f();
}

json get(const std::string& address, const std::string& path, int expect = 200) {
    auto r = http_request(address, "GET", path);
    EXPECT_EQ(r.status, expect) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
}

// An Airflow DAG file: a BashOperator reading Variables (one of a sensitive name) and params,
// a retried task whose tries render differently, a mapped BashOperator, a PythonOperator
// with templates_dict and a kwarg of a sensitive name.
constexpr const char* k_python_dag = R"py(from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator


def show(templates_dict, n, secret_key):
    print("tomorrow is", templates_dict["tomorrow"], "for", n)


with DAG("rendered", schedule=None, start_date=datetime(2026, 1, 1), params={"who": "ada", "html": "plain"}):
    BashOperator(task_id="bash",
                 bash_command="echo {{ ds }} {{ params.who }} {{ var.value.region }} {{ var.value.db_password }}",
                 env={"REGION": "eu-{{ ds }}", "API_TOKEN": "t0k3n-value"}, cwd="/tmp")
    BashOperator(task_id="retried", bash_command="echo try {{ ti.try_number }}; test {{ ti.try_number }} -ge 2",
                 retries=1, retry_delay=timedelta(seconds=0))
    BashOperator.partial(task_id="mapped").expand(bash_command=["echo a-{{ ds }}", "echo b-{{ params.who }}"])
    PythonOperator(task_id="py", python_callable=show,
                   templates_dict={"tomorrow": "{{ macros.ds_add(ds, 1) }}", "html": "{{ params.html }}"},
                   op_kwargs={"n": "{{ params.who }}", "secret_key": "in-the-clear"})
)py";

constexpr const char* k_yaml_dag = "dag_id: rendered_yaml\nparams: {k: v}\ntasks:\n"
                                   "  sh: {kind: shell, command: 'echo {{ ds }} {{ params.k }}',\n"
                                   "       env: {PGPASSWORD: 'pw-{{ ds }}', PLAIN: '{{ ds_nodash }}'}}\n"
                                   "  nothing: {kind: shell, command: 'true', depends_on: [sh]}\n";

// The Python packages tests/scheduler/setup.sh installs (jinja2 renders the templates).
void use_test_pylibs() {
    const char* cache = std::getenv("XDG_CACHE_HOME");
    std::string base = cache != nullptr ? cache : std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") + "/.cache";
    ::setenv("PYTHONPATH", (base + "/millrace/scheduler-pylibs").c_str(), 1);
}

class rendered_test : public source::pg_fixture {
protected:
    void SetUp() override {
        pg_fixture::SetUp();
        use_test_pylibs();
        std::filesystem::create_directories(dir_.path() + "/dags");
        std::ofstream(dir_.path() + "/dags/rendered.py") << k_python_dag;
        std::ofstream(dir_.path() + "/dags/rendered_yaml.yaml") << k_yaml_dag;
    }

    millrace::testing::server start_scheduler(const std::string& data) {
        return millrace::testing::start_server(
            "scheduler", dir_.path() + "/" + data,
            {"--set", "postgres.dsn=" + dsn(), "--set", "scheduler.dags_dir=" + dir_.path() + "/dags", "--set",
             "scheduler.schema=rendered_test", "--set", "scheduler.dag_scan_interval=200ms"});
    }

    static void stop(millrace::testing::server& s) {
        s.proc->send_signal(SIGTERM);
        ASSERT_TRUE(s.proc->wait().has_value());
    }

    bool wait_dags(const std::string& address) {
        return eventually([&] {
            auto r = http_request(address, "GET", "/api/v1/dags");
            auto b = json::parse(r.body, nullptr, false);
            return r.status == 200 && b.is_object() && b.value("total_entries", 0) == 2;
        });
    }

    std::string run_state(const std::string& address, const std::string& dag, const std::string& run) {
        auto b = json::parse(http_request(address, "GET", "/api/v1/dags/" + dag + "/dagRuns/" + run).body, nullptr, false);
        return b.is_object() ? b.value("state", "") : "";
    }

    std::string sql(const std::string& query) {
        PGconn* conn = PQconnectdb(dsn().c_str());
        PGresult* res = PQexec(conn, query.c_str());
        std::string out = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0)
                                                                                        : std::string("ERROR ") + PQerrorMessage(conn);
        PQclear(res);
        PQfinish(conn);
        return out;
    }

    millrace::testing::temp_dir dir_;
};

const std::string k_tis = "/api/v1/dags/rendered/dagRuns/r1/taskInstances/";

TEST_F(rendered_test, every_try_stores_its_rendered_fields_with_secrets_masked) {
    auto s = start_scheduler("s1");
    ASSERT_TRUE(s.proc);
    ASSERT_TRUE(wait_dags(s.address)) << http_request(s.address, "GET", "/api/v1/importErrors").body;
    for (auto [key, value] : {std::pair{"region", "eu-west-1"}, std::pair{"db_password", "hunter2-pw"}}) {
        auto r = http_request(s.address, "POST", "/api/v1/variables", json({{"key", key}, {"value", value}}).dump());
        ASSERT_EQ(r.status, 200) << r.body;
    }
    auto created = http_request(s.address, "POST", "/api/v1/dags/rendered/dagRuns",
                                R"({"dag_run_id": "r1", "logical_date": "2026-03-04T05:00:00Z", "conf": {"who": "grace"}})");
    ASSERT_EQ(created.status, 200) << created.body;
    ASSERT_TRUE(eventually([&] {
        auto state = run_state(s.address, "rendered", "r1");
        return state == "success" || state == "failed";
    }));
    ASSERT_EQ(run_state(s.address, "rendered", "r1"), "success")
        << http_request(s.address, "GET", "/api/v1/dags/rendered/dagRuns/r1/taskInstances/bash/logs/1").body;

    // The BashOperator: Airflow's template fields; the sensitive Variable's value and the
    // env key of a sensitive name are "***", the others in the clear.
    auto bash = get(s.address, k_tis + "bash");
    EXPECT_EQ(bash["rendered_fields"],
              json({{"bash_command", "echo 2026-03-04 grace eu-west-1 ***"},
                    {"env", {{"REGION", "eu-2026-03-04"}, {"API_TOKEN", "***"}}},
                    {"cwd", "/tmp"}}))
        << bash.dump();
    // The log's rendered lines are masked too.
    std::ifstream log_file(bash["log_path"].get<std::string>());
    std::string log((std::istreambuf_iterator<char>(log_file)), {});
    EXPECT_NE(log.find("rendered bash_command {{ var.value.db_password }}: ***"), std::string::npos) << log;
    EXPECT_EQ(log.find("rendered bash_command {{ var.value.db_password }}: hunter2"), std::string::npos) << log;
    EXPECT_NE(log.find("MILLRACE_TEMPLATE_4=***"), std::string::npos) << log;
    EXPECT_EQ(log.find("MILLRACE_TEMPLATE_4=hunter2"), std::string::npos) << log;

    // A retried task: each try keeps what it rendered; the instance shows its latest try's.
    auto retried = get(s.address, k_tis + "retried");
    EXPECT_EQ(retried["try_number"], 2);
    EXPECT_EQ(retried["rendered_fields"]["bash_command"], "echo try 2; test 2 -ge 2");
    auto tries = get(s.address, k_tis + "retried/tries");
    ASSERT_EQ(tries["total_entries"], 2) << tries.dump();
    EXPECT_EQ(tries["task_instances"][0]["try_number"], 1);
    EXPECT_EQ(tries["task_instances"][0]["state"], "failed");
    EXPECT_EQ(tries["task_instances"][0]["rendered_fields"]["bash_command"], "echo try 1; test 1 -ge 2");
    EXPECT_EQ(tries["task_instances"][1]["state"], "success");
    EXPECT_EQ(tries["task_instances"][1]["rendered_fields"]["bash_command"], "echo try 2; test 2 -ge 2");
    auto first = get(s.address, k_tis + "retried/tries/1");
    EXPECT_EQ(first["rendered_fields"]["bash_command"], "echo try 1; test 1 -ge 2");
    EXPECT_EQ(first["state"], "failed");
    EXPECT_FALSE(first["end_date"].is_null());

    // A mapped task: each instance its own, by map_index in the path or the query.
    EXPECT_EQ(get(s.address, k_tis + "mapped/0")["rendered_fields"]["bash_command"], "echo a-2026-03-04");
    EXPECT_EQ(get(s.address, k_tis + "mapped/1/tries/1")["rendered_fields"]["bash_command"], "echo b-grace");
    EXPECT_EQ(get(s.address, k_tis + "mapped/tries/1?map_index=1")["rendered_fields"]["bash_command"], "echo b-grace");
    auto listed = get(s.address, k_tis + "mapped/listMapped");
    ASSERT_EQ(listed["total_entries"], 2);
    EXPECT_EQ(listed["task_instances"][1]["rendered_fields"]["bash_command"], "echo b-grace");
    EXPECT_EQ(get(s.address, k_tis + "mapped/1/tries")["task_instances"][0]["map_index"], 1);

    // A PythonOperator: templates_dict, op_args, op_kwargs; a kwarg of a sensitive name is masked.
    auto py = get(s.address, k_tis + "py");
    EXPECT_EQ(py["rendered_fields"],
              json({{"templates_dict", {{"tomorrow", "2026-03-05"}, {"html", "plain"}}},
                    {"op_args", json::array()},
                    {"op_kwargs", {{"n", "grace"}, {"secret_key", "***"}}}}))
        << py.dump();

    // Error paths: no such try, not a number, a mapped task without its index, an unknown task.
    auto missing = http_request(s.address, "GET", k_tis + "retried/tries/3");
    EXPECT_EQ(missing.status, 404) << missing.body;
    EXPECT_NE(missing.body.find("try 3 of task retried"), std::string::npos) << missing.body;
    EXPECT_EQ(http_request(s.address, "GET", k_tis + "retried/tries/0").status, 400);
    EXPECT_EQ(http_request(s.address, "GET", k_tis + "retried/tries/two").status, 400);
    EXPECT_EQ(http_request(s.address, "GET", k_tis + "mapped/tries/1").status, 404);
    EXPECT_EQ(http_request(s.address, "GET", k_tis + "mapped/7/tries/1").status, 404);
    EXPECT_EQ(http_request(s.address, "GET", k_tis + "nope/tries").status, 404);

    // Stored in PostgreSQL, one row per try, the secret absent.
    EXPECT_EQ(sql("SELECT count(*) FROM rendered_test.task_instance_try WHERE task_id = 'retried'"), "2");
    EXPECT_EQ(sql("SELECT rendered_fields->>'bash_command' FROM rendered_test.task_instance_try "
                  "WHERE task_id = 'retried' AND try_number = 1"),
              "echo try 1; test 1 -ge 2");
    EXPECT_EQ(sql("SELECT count(*) FROM rendered_test.task_instance_try WHERE rendered_fields::text LIKE '%hunter2%'"), "0");

    // A YAML task: its own keys, an env key of a sensitive name masked.
    ASSERT_EQ(http_request(s.address, "POST", "/api/v1/dags/rendered_yaml/dagRuns",
                           R"({"dag_run_id": "y1", "logical_date": "2026-03-04T05:00:00Z"})").status, 200);
    ASSERT_TRUE(eventually([&] { return run_state(s.address, "rendered_yaml", "y1") == "success"; }))
        << http_request(s.address, "GET", "/api/v1/dags/rendered_yaml/dagRuns/y1/taskInstances").body;
    auto sh = get(s.address, "/api/v1/dags/rendered_yaml/dagRuns/y1/taskInstances/sh");
    EXPECT_EQ(sh["rendered_fields"]["command"], "echo 2026-03-04 v") << sh.dump();
    EXPECT_EQ(sh["rendered_fields"]["env"], json({{"PGPASSWORD", "***"}, {"PLAIN", "20260304"}})) << sh.dump();

    // After a restart, served from the metadata database.
    stop(s);
    auto again = start_scheduler("s2");
    ASSERT_TRUE(again.proc);
    ASSERT_TRUE(wait_dags(again.address));
    EXPECT_EQ(get(again.address, k_tis + "retried/tries/1")["rendered_fields"]["bash_command"], "echo try 1; test 1 -ge 2");
    EXPECT_EQ(get(again.address, k_tis + "mapped/1")["rendered_fields"]["bash_command"], "echo b-grace");
    EXPECT_EQ(get(again.address, k_tis + "bash")["rendered_fields"]["env"]["API_TOKEN"], "***");
}

// A metadata database from before task_instance_try: the scheduler creates the table in
// place, serves the old runs without rendered fields, and stores the new runs'.
TEST_F(rendered_test, an_existing_metadata_database_is_migrated_in_place) {
    auto s = start_scheduler("s1");
    ASSERT_TRUE(s.proc);
    ASSERT_TRUE(wait_dags(s.address));
    ASSERT_EQ(http_request(s.address, "POST", "/api/v1/dags/rendered_yaml/dagRuns",
                           R"({"dag_run_id": "old", "logical_date": "2026-03-01T00:00:00Z"})").status, 200);
    ASSERT_TRUE(eventually([&] { return run_state(s.address, "rendered_yaml", "old") == "success"; }));
    stop(s);
    ASSERT_EQ(sql("DROP TABLE rendered_test.task_instance_try; SELECT 'dropped'"), "dropped");
    EXPECT_NE(sql("SELECT count(*) FROM rendered_test.task_instance_try").rfind("ERROR", 0), std::string::npos);

    auto again = start_scheduler("s2");
    ASSERT_TRUE(again.proc);
    ASSERT_TRUE(wait_dags(again.address));
    EXPECT_EQ(sql("SELECT count(*) FROM rendered_test.task_instance_try"), "0");
    auto old = get(again.address, "/api/v1/dags/rendered_yaml/dagRuns/old/taskInstances/sh");
    EXPECT_EQ(old["state"], "success");
    EXPECT_EQ(old["rendered_fields"], json::object());
    auto old_tries = get(again.address, "/api/v1/dags/rendered_yaml/dagRuns/old/taskInstances/sh/tries");
    ASSERT_EQ(old_tries["total_entries"], 1) << old_tries.dump();
    EXPECT_EQ(old_tries["task_instances"][0]["rendered_fields"], json::object());
    ASSERT_EQ(http_request(again.address, "POST", "/api/v1/dags/rendered_yaml/dagRuns",
                           R"({"dag_run_id": "new", "logical_date": "2026-03-02T00:00:00Z"})").status, 200);
    ASSERT_TRUE(eventually([&] { return run_state(again.address, "rendered_yaml", "new") == "success"; }));
    EXPECT_EQ(get(again.address, "/api/v1/dags/rendered_yaml/dagRuns/new/taskInstances/sh")["rendered_fields"]["command"],
              "echo 2026-03-02 v");
    EXPECT_EQ(sql("SELECT count(*) FROM rendered_test.task_instance_try"), "2");
}

}  // namespace
}  // namespace millrace::scheduler
