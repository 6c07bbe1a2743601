// The engine in-process against a real PostgreSQL: catchup exactness with a
// manual clock, retries with exponential backoff, execution timeout kills,
// and state transitions recorded in the metadata tables.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <signal.h>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "engine.h"
#include "executor.h"
#include "store.h"
#include "harness/process.h"
#include "pg_fixture.h"

namespace millrace::scheduler {
namespace {

using namespace std::chrono_literals;

template <typename F>
bool eventually(F f, std::chrono::milliseconds timeout = 60s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (f()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return f();
}

clock::wall_time at(std::string_view iso) { return clock::wall_time(std::chrono::seconds(parse_iso(iso).value())); }

class engine_test : public source::pg_fixture {
protected:
    void SetUp() override {
        pg_fixture::SetUp();
        std::filesystem::create_directories(dags_.path() + "/dags");
    }
    void TearDown() override {
        engine_.reset();
        pg_fixture::TearDown();
    }

    void write_dag(const std::string& name, const std::string& text) {
        std::ofstream(dags_.path() + "/dags/" + name) << text;
    }

    std::unique_ptr<engine> make(millrace::clock& clock, const std::string& schema = "sched_test") {
        engine_options options;
        options.dags_dir = dags_.path() + "/dags";
        options.logs_dir = dags_.path() + "/logs";
        options.dsn = dsn();
        options.schema = schema;
        options.workers = 2;
        options.dag_scan_interval_ms = 100;
        options.env.postgres_dsn = dsn();
        options.env.hostname = "test";
        auto e = std::make_unique<engine>(options, clock, metrics_);
        e->start();
        return e;
    }

    std::vector<std::string> logical_dates(engine& e, const std::string& dag_id) {
        return e.read([&](const engine_state& st) {
            std::vector<std::string> out;
            if (auto it = st.runs.find(dag_id); it != st.runs.end()) {
                for (const auto& run : it->second) out.push_back(format_iso(run.logical_date));
            }
            return out;
        });
    }

    std::optional<task_instance> ti(engine& e, const std::string& dag_id, const std::string& task_id, size_t run_idx = 0) {
        return e.read([&](const engine_state& st) -> std::optional<task_instance> {
            auto it = st.runs.find(dag_id);
            if (it == st.runs.end() || it->second.size() <= run_idx) return std::nullopt;
            auto t = it->second[run_idx].tasks.find(task_id);
            if (t == it->second[run_idx].tasks.end()) return std::nullopt;
            return t->second;
        });
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

    // The engine's threads read the clock: it must outlive engine_.
    manual_clock& manual(clock::wall_time start) {
        manual_ = std::make_unique<manual_clock>(start);
        return *manual_;
    }

    testing::temp_dir dags_;
    metrics::registry metrics_;
    std::unique_ptr<manual_clock> manual_;
    std::unique_ptr<engine> engine_;
};

TEST_F(engine_test, catchup_creates_exactly_the_missed_runs_once) {
    write_dag("c.yaml", "dag_id: daily\nschedule: '@daily'\nstart_date: 2026-01-05\ncatchup: true\n"
                        "tasks:\n  t: {kind: shell, command: 'true'}\n");
    write_dag("n.yaml", "dag_id: nocatch\nschedule: '0 6 * * *'\nstart_date: 2026-01-05\ncatchup: false\n"
                        "tasks:\n  t: {kind: shell, command: 'true'}\n");
    auto& clock = manual(at("2026-01-10T12:34:00Z"));
    engine_ = make(clock);
    const std::vector<std::string> missed = {"2026-01-05T00:00:00+00:00", "2026-01-06T00:00:00+00:00",
                                             "2026-01-07T00:00:00+00:00", "2026-01-08T00:00:00+00:00",
                                             "2026-01-09T00:00:00+00:00"};
    ASSERT_TRUE(eventually([&] { return logical_dates(*engine_, "daily").size() >= 5; }));
    EXPECT_EQ(logical_dates(*engine_, "daily"), missed);
    // Without catchup only the newest complete interval runs: 01-09 06:00 (01-10 06:00 ended it).
    ASSERT_TRUE(eventually([&] { return !logical_dates(*engine_, "nocatch").empty(); }));
    EXPECT_EQ(logical_dates(*engine_, "nocatch"), (std::vector<std::string>{"2026-01-09T06:00:00+00:00"}));
    ASSERT_TRUE(eventually([&] {
        return engine_->read([](const engine_state& st) {
            for (const auto& run : st.runs.at("daily")) {
                if (run.state != run_state::success) return false;
            }
            return true;
        });
    }));

    // A restart on the same database creates none of them again.
    engine_.reset();
    engine_ = make(clock);
    ASSERT_TRUE(eventually([&] { return engine_->read([](const engine_state& st) { return st.lock_held && st.dags.size() == 2; }); }));
    engine_->poke();
    std::this_thread::sleep_for(200ms);  // a few loop passes: nothing new may appear
    EXPECT_EQ(logical_dates(*engine_, "daily"), missed);

    // A day later exactly one more.
    clock.advance(24h);
    engine_->poke();
    ASSERT_TRUE(eventually([&] { return logical_dates(*engine_, "daily").size() == 6; }));
    EXPECT_EQ(logical_dates(*engine_, "daily").back(), "2026-01-10T00:00:00+00:00");
    ASSERT_TRUE(eventually([&] {
        return query("SELECT count(*) FROM sched_test.dag_run WHERE dag_id = 'daily'")[0][0] == "6";
    }));
    EXPECT_EQ(query("SELECT count(DISTINCT logical_date) FROM sched_test.dag_run WHERE dag_id = 'daily'")[0][0], "6");
}

TEST_F(engine_test, retry_with_exponential_backoff_then_success) {
    std::string counter = dags_.path() + "/count";
    write_dag("r.yaml", "dag_id: flaky\ntasks:\n  t:\n    kind: shell\n    command: 'n=$(cat " + counter +
                            " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + counter +
                            "; echo try {{ try_number }}; [ $n -ge 3 ]'\n    retries: 3\n    retry_delay: 100ms\n"
                            "    retry_exponential_backoff: true\n");
    auto& clock = manual(at("2026-03-01T00:00:00Z"));
    engine_ = make(clock);
    ASSERT_TRUE(eventually([&] { return engine_->read([](const engine_state& st) { return st.dags.count("flaky") == 1; }); }));
    ASSERT_TRUE(engine_->trigger("flaky", std::nullopt, std::nullopt, "{}", "").ok());

    // Try 1 fails: retried 100 ms later (on the manual clock, so exactly).
    ASSERT_TRUE(eventually([&] { auto t = ti(*engine_, "flaky", "t"); return t && t->state == ti_state::up_for_retry; }));
    auto first = *ti(*engine_, "flaky", "t");
    EXPECT_EQ(first.try_number, 1);
    EXPECT_EQ(*first.next_retry_ms - *first.end_ms, 100);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(ti(*engine_, "flaky", "t")->try_number, 1) << "retried before its delay passed";

    clock.advance(100ms);
    engine_->poke();
    ASSERT_TRUE(eventually([&] { auto t = ti(*engine_, "flaky", "t"); return t && t->try_number == 2 && t->state == ti_state::up_for_retry; }));
    auto second = *ti(*engine_, "flaky", "t");
    EXPECT_EQ(*second.next_retry_ms - *second.end_ms, 200) << "the delay doubles";

    clock.advance(200ms);
    engine_->poke();
    ASSERT_TRUE(eventually([&] { auto t = ti(*engine_, "flaky", "t"); return t && t->state == ti_state::success; }));
    auto done = *ti(*engine_, "flaky", "t");
    EXPECT_EQ(done.try_number, 3);
    ASSERT_TRUE(eventually([&] {
        return engine_->read([](const engine_state& st) { return st.runs.at("flaky")[0].state == run_state::success; });
    }));
    // Every transition is in task_event, in order, with its try number.
    ASSERT_TRUE(eventually([&] {
        return query("SELECT count(*) FROM sched_test.task_event WHERE dag_id = 'flaky'")[0][0] == "9";
    }));
    auto events = query("SELECT try_number, state FROM sched_test.task_event WHERE dag_id = 'flaky' ORDER BY id");
    std::vector<std::string> seen;
    for (const auto& row : events) seen.push_back(row[0] + ":" + row[1]);
    EXPECT_EQ(seen, (std::vector<std::string>{"1:queued", "1:running", "1:up_for_retry", "2:queued", "2:running",
                                              "2:up_for_retry", "3:queued", "3:running", "3:success"}));
    // One log file per try, each with its own output.
    for (int attempt = 1; attempt <= 3; ++attempt) {
        std::string path = done.log_path.substr(0, done.log_path.rfind("attempt=")) + fmt::format("attempt={}.log", attempt);
        std::ifstream in(path);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        EXPECT_NE(text.find(fmt::format("try {}\n", attempt)), std::string::npos) << path << ":\n" << text;
    }
}

TEST_F(engine_test, execution_timeout_kills_a_hanging_shell_task) {
    std::string pid_file = dags_.path() + "/grandchild.pid";
    write_dag("h.yaml", "dag_id: hang\ntasks:\n  stuck:\n    kind: shell\n    command: 'sleep 600 & echo $! > " + pid_file +
                            "; wait'\n    execution_timeout: 1s\n  after: {kind: shell, command: 'true', depends_on: [stuck]}\n");
    engine_ = make(millrace::clock::system());
    ASSERT_TRUE(eventually([&] { return engine_->read([](const engine_state& st) { return st.dags.count("hang") == 1; }); }));
    ASSERT_TRUE(engine_->trigger("hang", std::string("r1"), std::nullopt, "{}", "").ok());
    ASSERT_TRUE(eventually([&] { auto t = ti(*engine_, "hang", "stuck"); return t && t->state == ti_state::failed; }));
    auto t = *ti(*engine_, "hang", "stuck");
    EXPECT_NE(t.note.find("execution_timeout of 1000 ms exceeded: killed process group"), std::string::npos) << t.note;
    ASSERT_TRUE(eventually([&] { auto a = ti(*engine_, "hang", "after"); return a && a->state == ti_state::upstream_failed; }));
    ASSERT_TRUE(eventually([&] {
        return engine_->read([](const engine_state& st) { return st.runs.at("hang")[0].state == run_state::failed; });
    }));
    // The whole process group died, grandchildren included.
    std::ifstream in(pid_file);
    pid_t grandchild = 0;
    in >> grandchild;
    ASSERT_GT(grandchild, 0);
    EXPECT_TRUE(eventually([&] {
        std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
        std::string pid, comm, state;
        return !(stat >> pid >> comm >> state) || state == "Z";
    }, 20s)) << "sleep " << grandchild << " survived the timeout";
}

TEST_F(engine_test, templates_render_run_values_and_trigger_conf) {
    std::string out = dags_.path() + "/out";
    write_dag("t.yaml", "dag_id: tpl\nparams: {who: world, n: 1, extra: ''}\ntasks:\n  t:\n    kind: shell\n"
                        "    command: 'echo \"$GREETING {{ params.who }} {{ params.n }} {{ ds }} {{ run_id }} {{ dag_run.conf.extra }}\" > " + out + "'\n"
                        "    env: {GREETING: 'hello {{ ds_nodash }}'}\n"
                        "  bad: {kind: shell, command: 'echo {{ nope }}'}\n");
    engine_ = make(millrace::clock::system());
    ASSERT_TRUE(eventually([&] { return engine_->read([](const engine_state& st) { return st.dags.count("tpl") == 1; }); }));
    ASSERT_TRUE(engine_->trigger("tpl", std::string("run-1"), parse_iso("2026-02-03T04:05:06Z").value(),
                                 R"({"n":7,"extra":"x"})", "").ok());
    ASSERT_TRUE(eventually([&] { auto t = ti(*engine_, "tpl", "t"); return t && finished(t->state); }));
    std::ifstream in(out);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "hello 20260203 world 7 2026-02-03 run-1 x");
    ASSERT_TRUE(eventually([&] { auto t = ti(*engine_, "tpl", "bad"); return t && t->state == ti_state::failed; }));
    EXPECT_NE(ti(*engine_, "tpl", "bad")->note.find("unknown variable 'nope'"), std::string::npos);
}


// ---- injection (issue 19): templated values arrive as data ------------------

// Text that runs commands or adds SQL/JSON/URL structure if pasted raw.
const std::string k_hostile = "x; touch MARKER_1 && $(touch MARKER_2) `touch MARKER_3` ' \" \\ \n')--";

class injection_test : public engine_test {
protected:
    // Triggers `dag_id` with conf {"msg": text} and waits for `task_id` to finish.
    std::optional<task_instance> run_with(const std::string& dag_id, const std::string& task_id, const std::string& text) {
        engine_ = make(millrace::clock::system());
        EXPECT_TRUE(eventually([&] { return engine_->read([&](const engine_state& st) { return st.dags.count(dag_id) == 1; }); }));
        nlohmann::json conf = {{"msg", text}};
        auto run = engine_->trigger(dag_id, std::string("inj"), std::nullopt, conf.dump(), "");
        EXPECT_TRUE(run.ok()) << (run.ok() ? "" : run.err().message());
        EXPECT_TRUE(eventually([&] { auto t = ti(*engine_, dag_id, task_id); return t && finished(t->state); }));
        return ti(*engine_, dag_id, task_id);
    }
    bool marker_made() const {
        for (const char* m : {"MARKER_1", "MARKER_2", "MARKER_3"}) {
            if (std::filesystem::exists(dags_.path() + "/work/" + m)) return true;
        }
        return false;
    }
    std::string read_file(const std::string& path) {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
};

TEST_F(injection_test, shell_task_gets_the_value_as_one_word_in_every_quoting) {
    std::filesystem::create_directories(dags_.path() + "/work");
    const std::string work = dags_.path() + "/work";
    write_dag("s.yaml", "dag_id: inj_shell\nparams: {msg: hello}\ntasks:\n  t:\n    kind: shell\n    cwd: " + work + "\n"
                        "    command: |\n"
                        "      printf '%s|' {{ params.msg }} > bare\n"
                        "      printf '%s' \"{{ params.msg }}\" > dq\n"
                        "      printf '%s' \"[{{ dag_run.conf.msg }}]\" > conf\n"
                        "      printf '%s' \"${UNSET_X:-{{ params.msg }}}\" > dflt\n"
                        "      printf '%s' ${UNSET_X:-{{ params.msg }}} > dflt_bare\n"
                        "      printf '%s' \"$(echo ok)\"'-'\"{{ params.msg }}\" > after_sub\n");
    auto t = run_with("inj_shell", "t", k_hostile);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->state, ti_state::success) << t->note;
    EXPECT_FALSE(marker_made()) << "a templated value ran as a command";
    EXPECT_EQ(read_file(work + "/bare"), k_hostile + "|") << "unquoted: exactly one word";
    EXPECT_EQ(read_file(work + "/dq"), k_hostile);
    EXPECT_EQ(read_file(work + "/dflt"), k_hostile);
    EXPECT_EQ(read_file(work + "/dflt_bare"), k_hostile);
    EXPECT_EQ(read_file(work + "/after_sub"), "ok-" + k_hostile);
    EXPECT_EQ(read_file(work + "/conf"), "[" + k_hostile + "]");
}

TEST_F(injection_test, shell_placeholders_a_shell_would_parse_again_are_refused) {
    std::filesystem::create_directories(dags_.path() + "/work");
    const std::string work = dags_.path() + "/work";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"sh -c 'echo \"{{ params.msg }}\"'", "inside single quotes"},
        {"echo '{{ params.msg }}'", "inside single quotes"},
        {"echo $(echo {{ params.msg }})", "inside a command substitution $(...)"},
        {"echo \"$(printf %s {{ params.msg }})\"", "inside a command substitution $(...)"},
        {"echo `echo {{ params.msg }}`", "inside a command substitution `...`"},
        {"echo $(( {{ params.msg }} + 1 ))", "inside an arithmetic expression"},
        {"(( {{ params.msg }} > 1 )) && echo big", "inside an arithmetic expression"},
        {"[[ {{ params.msg }} -eq 1 ]] && echo one", "inside [[ ... ]]"},
        {"cat <<EOF\n{{ params.msg }}\nEOF", "in a here-document"},
    };
    std::string dag = "dag_id: inj_shell_refused\nparams: {msg: hello}\ntasks:\n";
    for (size_t idx = 0; idx < cases.size(); ++idx) {
        dag += "  t" + std::to_string(idx) + ":\n    kind: shell\n    cwd: " + work + "\n    command: " +
               nlohmann::json(cases[idx].first).dump() + "\n";
    }
    write_dag("sr.yaml", dag);
    run_with("inj_shell_refused", "t0", "a[$(touch MARKER_1)]");
    for (size_t idx = 0; idx < cases.size(); ++idx) {
        std::string task = "t" + std::to_string(idx);
        ASSERT_TRUE(eventually([&] { auto t = ti(*engine_, "inj_shell_refused", task); return t && finished(t->state); })) << task;
        auto t = ti(*engine_, "inj_shell_refused", task);
        EXPECT_EQ(t->state, ti_state::failed) << cases[idx].first;
        EXPECT_NE(t->note.find(cases[idx].second), std::string::npos) << cases[idx].first << ": " << t->note;
        EXPECT_NE(t->note.find("task '" + task + "'"), std::string::npos) << t->note;
        EXPECT_NE(t->note.find("{{ params.msg }}"), std::string::npos) << t->note;
        EXPECT_NE(t->note.find("MILLRACE_TEMPLATE_1"), std::string::npos) << t->note;
    }
    EXPECT_FALSE(marker_made());
}

TEST_F(injection_test, sql_task_binds_values_as_parameters) {
    write_dag("q.yaml", "dag_id: inj_sql\nparams: {msg: hello}\ntasks:\n  t:\n    kind: sql\n"
                        "    sql: \"CREATE TABLE IF NOT EXISTS inj (v text, w text); "
                        "INSERT INTO inj VALUES ('{{ params.msg }}', 'pre-{{ params.msg }}-post'); "
                        "-- a comment: {{ params.msg }}\\n"
                        "SELECT count(*) FROM inj WHERE v = {{ params.msg }}\"\n");
    const std::string hostile = "x'); CREATE TABLE pwned (a int); COPY (SELECT 1) TO PROGRAM 'true'; --" + k_hostile;
    auto t = run_with("inj_sql", "t", hostile);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->state, ti_state::success) << t->note;
    auto rows = query("SELECT v, w FROM inj");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][0], hostile);
    EXPECT_EQ(rows[0][1], "pre-" + hostile + "-post");
    EXPECT_EQ(query("SELECT count(*) FROM pg_tables WHERE tablename = 'pwned'")[0][0], "0") << "injected SQL ran";
}

TEST_F(injection_test, templated_multi_statement_sql_runs_in_one_transaction) {
    write_dag("tx.yaml", "dag_id: inj_sql_tx\nparams: {msg: hello}\ntasks:\n  t:\n    kind: sql\n"
                         "    sql: \"CREATE TABLE tx_first (v text); INSERT INTO tx_first VALUES ('{{ params.msg }}'); "
                         "INSERT INTO tx_missing_table VALUES (1)\"\n");
    auto t = run_with("inj_sql_tx", "t", "value");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->state, ti_state::failed);
    EXPECT_EQ(query("SELECT count(*) FROM pg_tables WHERE tablename = 'tx_first'")[0][0], "0")
        << "the first statements' effect was not rolled back";
}

TEST_F(injection_test, sql_dsn_may_not_be_templated) {
    write_dag("dsn.yaml", "dag_id: inj_sql_dsn\nparams: {msg: hello}\ntasks:\n  t:\n    kind: sql\n"
                          "    dsn: 'dbname={{ params.msg }}'\n    sql: SELECT 1\n");
    auto t = run_with("inj_sql_dsn", "t", "x host=attacker.net");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->state, ti_state::failed);
    EXPECT_NE(t->note.find("dsn: the placeholder {{ params.msg }}"), std::string::npos) << t->note;
}

TEST_F(injection_test, http_task_encodes_values_in_url_and_json_body) {
    source::http_thread capture;
    std::mutex mutex;
    std::vector<http::request> seen;
    capture.server().route("POST", "/capture", [&](const http::request& req) {
        std::lock_guard lock(mutex);
        seen.push_back(req);
        return http::response::json(200, "{}");
    });
    std::string address = capture.start();
    write_dag("h.yaml", "dag_id: inj_http\nparams: {msg: hello}\ntasks:\n"
                        "  t:\n    kind: http\n    method: POST\n"
                        "    url: 'http://" + address + "/capture?q={{ params.msg }}&fixed=1'\n"
                        "    headers: {Content-Type: application/json}\n"
                        "    body: '{\"m\": \"{{ params.msg }}\", \"bare\": {{ params.msg }}}'\n");
    const std::string hostile = "a&admin=true#\"}, \"admin\": true, \"z\": \"" + k_hostile;
    auto t = run_with("inj_http", "t", hostile);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->state, ti_state::success) << t->note;
    std::lock_guard lock(mutex);
    ASSERT_EQ(seen.size(), 1u);
    const auto& req = seen[0];
    ASSERT_NE(req.param("q"), nullptr);
    EXPECT_EQ(*req.param("q"), hostile);
    EXPECT_EQ(req.param("admin"), nullptr) << req.target;
    ASSERT_NE(req.param("fixed"), nullptr);
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << req.body;
    EXPECT_EQ(body["m"], hostile);
    EXPECT_EQ(body["bare"], hostile);
    EXPECT_FALSE(body.contains("admin")) << req.body;
}

TEST_F(injection_test, http_values_in_scheme_host_or_port_are_refused_unless_plain) {
    source::http_thread capture;
    std::atomic<int> requests{0};
    capture.server().route("GET", "/capture", [&](const http::request&) {
        ++requests;
        return http::response::json(200, "{}");
    });
    std::string address = capture.start();
    std::string host = address.substr(0, address.find(':')), port = address.substr(address.find(':') + 1);
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        {"sub", "http://{{ params.msg }}.api.corp/v1", "attacker.net/"},
        {"port", "http://" + host + ":{{ params.msg }}/capture", port + "@attacker.net"},
        {"base", "{{ params.msg }}/capture", "file:///etc/passwd#"}};
    for (const auto& [name, url, value] : cases) {
        write_dag(name + ".yaml", "dag_id: inj_http_" + name + "\nparams: {msg: hello}\ntasks:\n"
                                  "  t: {kind: http, url: '" + url + "'}\n");
        engine_.reset();
        auto t = run_with("inj_http_" + name, "t", value);
        ASSERT_TRUE(t) << name;
        EXPECT_EQ(t->state, ti_state::failed) << name;
        EXPECT_NE(t->note.find("{{ params.msg }} stands in the"), std::string::npos) << name << ": " << t->note;
    }
    // Only http and https: a file: URL fails in libcurl.
    write_dag("file.yaml", "dag_id: inj_http_file\nparams: {msg: hello}\ntasks:\n"
                           "  t: {kind: http, url: 'file:///etc/{{ params.msg }}'}\n");
    engine_.reset();
    auto t = run_with("inj_http_file", "t", "passwd");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->state, ti_state::failed);
    EXPECT_NE(t->note.find("Unsupported protocol"), std::string::npos) << t->note;
    EXPECT_EQ(requests.load(), 0);
}

TEST(kafka_message_test, json_message_values_are_json_escaped) {
    std::map<std::string, std::string> vars = {{"params.n", "x\",\"admin\":true,\"y\":\""}, {"params.k", "5"}};
    auto json_msg = millrace::scheduler::render_message(R"({"u":"{{ params.n }}", "k": {{ params.k }}, "bare": {{ params.n }}})", vars);
    ASSERT_TRUE(json_msg.ok());
    auto parsed = nlohmann::json::parse(*json_msg, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << *json_msg;
    EXPECT_FALSE(parsed.contains("admin")) << *json_msg;
    EXPECT_EQ(parsed["u"], vars["params.n"]);
    EXPECT_EQ(parsed["bare"], vars["params.n"]);
    EXPECT_EQ(parsed["k"], 5);
    auto plain = millrace::scheduler::render_message("a-{{ params.n }}", vars);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(*plain, "a-" + vars["params.n"]);
}

TEST_F(injection_test, http_header_value_with_cr_lf_fails_the_try) {
    source::http_thread capture;
    std::atomic<int> requests{0};
    capture.server().route("GET", "/capture", [&](const http::request&) {
        ++requests;
        return http::response::json(200, "{}");
    });
    std::string address = capture.start();
    write_dag("hh.yaml", "dag_id: inj_header\nparams: {msg: hello}\ntasks:\n"
                         "  t:\n    kind: http\n    url: 'http://" + address + "/capture'\n"
                         "    headers: {X-Note: '{{ params.msg }}'}\n");
    auto t = run_with("inj_header", "t", "fine\r\nX-Admin: true");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->state, ti_state::failed);
    EXPECT_NE(t->note.find("headers.X-Note"), std::string::npos) << t->note;
    EXPECT_EQ(requests.load(), 0);
}

TEST_F(injection_test, values_where_they_cannot_be_data_fail_the_try_clearly) {
    write_dag("e.yaml", "dag_id: inj_errors\nparams: {msg: hello}\ntasks:\n"
                        "  ident: {kind: sql, sql: 'SELECT 1 AS \"{{ params.msg }}\"'}\n"
                        "  dollar: {kind: sql, sql: 'DO $x$ BEGIN PERFORM {{ params.msg }}; END $x$'}\n"
                        "  host: {kind: http, url: 'http://{{ params.msg }}/x'}\n"
                        "  method: {kind: http, method: '{{ params.msg }}', url: 'http://127.0.0.1:1/'}\n");
    run_with("inj_errors", "ident", "a b\r\nc");
    for (const auto& [task, text] : std::vector<std::pair<std::string, std::string>>{
             {"ident", "inside a quoted identifier"}, {"dollar", "inside a dollar-quoted string"},
             {"host", "stands in the host part"}, {"method", "is not an HTTP method"}}) {
        ASSERT_TRUE(eventually([&] { auto t = ti(*engine_, "inj_errors", task); return t && finished(t->state); })) << task;
        auto t = ti(*engine_, "inj_errors", task);
        EXPECT_EQ(t->state, ti_state::failed) << task;
        EXPECT_NE(t->note.find(text), std::string::npos) << task << ": " << t->note;
    }
}

TEST_F(engine_test, conf_may_set_only_declared_params_of_their_type) {
    write_dag("c.yaml", "dag_id: typed\nparams: {count: 5, ratio: 0.5, on: true, name: x, quoted: '7'}\n"
                        "tasks:\n  t: {kind: shell, command: 'true'}\n");
    engine_ = make(millrace::clock::system());
    ASSERT_TRUE(eventually([&] { return engine_->read([](const engine_state& st) { return st.dags.count("typed") == 1; }); }));
    EXPECT_TRUE(engine_->trigger("typed", std::nullopt, std::nullopt,
                                 R"({"count": 9, "ratio": 2, "on": false, "name": "y", "quoted": "8"})", "").ok());
    auto undeclared = engine_->trigger("typed", std::nullopt, std::nullopt, R"({"cmd": "id"})", "");
    ASSERT_FALSE(undeclared.ok());
    EXPECT_NE(undeclared.err().message().find("'cmd' is not a param of DAG 'typed'"), std::string::npos)
        << undeclared.err().message();
    EXPECT_NE(undeclared.err().message().find("count (integer)"), std::string::npos) << undeclared.err().message();
    for (const auto& [conf, name] : std::vector<std::pair<std::string, std::string>>{
             {R"({"count": "9; id"})", "'count'"}, {R"({"count": 1.5})", "'count'"}, {R"({"on": "yes"})", "'on'"},
             {R"({"name": {"a": 1}})", "'name'"}, {R"({"quoted": 8})", "'quoted'"}}) {
        auto wrong = engine_->trigger("typed", std::nullopt, std::nullopt, conf, "");
        ASSERT_FALSE(wrong.ok()) << conf;
        EXPECT_NE(wrong.err().message().find("param " + name), std::string::npos) << wrong.err().message();
        EXPECT_NE(wrong.err().message().find("declared"), std::string::npos) << wrong.err().message();
    }
}

// A metadata database made before dynamic task mapping (no map_index) is upgraded in place:
// its rows load as unmapped instances, and mapped instances can be written beside them.
TEST_F(engine_test, a_metadata_database_from_before_task_mapping_is_upgraded_in_place) {
    PGconn* conn = PQconnectdb(dsn().c_str());
    // The schema as it was (store.cc before map_index), with one run, task instance, event and XCom.
    PGresult* res = PQexec(conn, R"sql(
CREATE SCHEMA old_meta;
CREATE TABLE old_meta.dag (dag_id text PRIMARY KEY, is_paused boolean NOT NULL, fileloc text, last_parsed_time timestamptz,
  next_dagrun timestamptz);
CREATE TABLE old_meta.dag_run (dag_id text NOT NULL, run_id text NOT NULL, run_type text NOT NULL, logical_date timestamptz NOT NULL,
  data_interval_start timestamptz, data_interval_end timestamptz, state text NOT NULL, conf text NOT NULL,
  queued_at timestamptz, start_date timestamptz, end_date timestamptz, note text,
  PRIMARY KEY (dag_id, run_id), UNIQUE (dag_id, logical_date));
CREATE TABLE old_meta.task_instance (dag_id text NOT NULL, run_id text NOT NULL, task_id text NOT NULL, state text NOT NULL,
  try_number int NOT NULL, max_tries int NOT NULL, start_date timestamptz, end_date timestamptz,
  next_retry_at timestamptz, hostname text, pid int, log_path text, note text, PRIMARY KEY (dag_id, run_id, task_id));
CREATE TABLE old_meta.task_event (id bigserial PRIMARY KEY, dag_id text NOT NULL, run_id text NOT NULL, task_id text NOT NULL,
  try_number int NOT NULL, state text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp(), log_path text, detail text);
CREATE TABLE old_meta.xcom (dag_id text NOT NULL, run_id text NOT NULL, task_id text NOT NULL, key text NOT NULL, value jsonb NOT NULL,
  timestamp timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (dag_id, run_id, task_id, key));
CREATE TABLE old_meta.variable (key text PRIMARY KEY, val text NOT NULL, description text);
CREATE TABLE old_meta.connection (conn_id text PRIMARY KEY, uri text NOT NULL);
INSERT INTO old_meta.dag_run VALUES ('d', 'r', 'manual', '2026-01-01Z', '2026-01-01Z', '2026-01-01Z', 'success', '{}', now(), now(), now(), '');
INSERT INTO old_meta.task_instance (dag_id, run_id, task_id, state, try_number, max_tries) VALUES ('d', 'r', 't', 'success', 1, 1);
INSERT INTO old_meta.task_event (dag_id, run_id, task_id, try_number, state) VALUES ('d', 'r', 't', 1, 'success');
INSERT INTO old_meta.xcom (dag_id, run_id, task_id, key, value) VALUES ('d', 'r', 't', 'return_value', '42');
)sql");
    ASSERT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn);

    store st(dsn(), "old_meta");
    ASSERT_TRUE(st.migrate().ok());
    ASSERT_TRUE(st.migrate().ok()) << "migrating twice changes nothing";
    auto runs = st.load_runs(10);
    ASSERT_TRUE(runs.ok()) << runs.err().message();
    ASSERT_EQ(runs->size(), 1u);
    const task_instance& t = runs->at(0).tasks.at("t");
    EXPECT_EQ(t.map_index, -1);
    EXPECT_EQ(t.state, ti_state::success);
    EXPECT_EQ(t.xcoms.at("return_value"), "42");
    EXPECT_TRUE(t.instances.empty());
    // Instances of a mapped task beside it, with their own XComs.
    dag_run header = runs->at(0);
    header.tasks.clear();
    for (int index : {0, 1}) {
        task_instance inst;
        inst.task_id = "m";
        inst.map_index = index;
        inst.state = index == 0 ? ti_state::success : ti_state::failed;
        inst.try_number = 1;
        ASSERT_TRUE(st.record_ti(header, inst, "").ok());
        ASSERT_TRUE(st.set_xcoms("d", "r", "m", index, {{"return_value", std::to_string(index * 10)}}).ok());
    }
    runs = st.load_runs(10);
    ASSERT_TRUE(runs.ok()) << runs.err().message();
    const task_instance& m = runs->at(0).tasks.at("m");
    ASSERT_EQ(m.instances.size(), 2u);
    EXPECT_EQ(m.instances[1].map_index, 1);
    EXPECT_EQ(m.instances[1].xcoms.at("return_value"), "10");
    EXPECT_EQ(m.state, ti_state::failed) << "the summary of success and failed";
    EXPECT_EQ(query("SELECT count(*) FROM old_meta.task_event WHERE map_index = 1"), std::vector<std::vector<std::string>>{{"1"}});
    ASSERT_TRUE(st.delete_instances("d", "r", "m").ok());
    EXPECT_EQ(query("SELECT task_id, map_index FROM old_meta.task_instance ORDER BY task_id"),
              (std::vector<std::vector<std::string>>{{"t", "-1"}}));
    EXPECT_EQ(query("SELECT task_id, map_index FROM old_meta.xcom ORDER BY task_id"),
              (std::vector<std::vector<std::string>>{{"t", "-1"}}));
}

// ---- dynamic task mapping: the expansion rules (no database) ----------------

task_spec mapped(const std::string& id, bool kwargs, std::vector<map_source> sources) {
    task_spec t;
    t.task_id = id;
    t.kind = task_kind::python;
    t.mapping = task_mapping{kwargs, true, std::move(sources)};
    return t;
}

TEST(task_mapping, literals_expand_as_a_cartesian_product_with_the_last_argument_fastest) {
    dag_run run;
    auto t = mapped("p", false, {{"a", "[1,2]", "", ""}, {"b", R"(["x","y","z"])", "", ""}});
    auto values = expand_mapping(t, run);
    ASSERT_TRUE(values.ok()) << values.err().message();
    ASSERT_EQ(values->size(), 6u);
    EXPECT_EQ(values->at(0).dump(), R"({"a":1,"b":"x"})");
    EXPECT_EQ(values->at(1).dump(), R"({"a":1,"b":"y"})");
    EXPECT_EQ(values->at(3).dump(), R"({"a":2,"b":"x"})");
    auto empty = expand_mapping(mapped("e", false, {{"a", "[1,2]", "", ""}, {"b", "[]", "", ""}}), run);
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->empty()) << "one empty argument: no instance";
    auto kw = expand_mapping(mapped("k", true, {{"", R"([{"a":1},{"a":2,"b":3}])", "", ""}}), run);
    ASSERT_TRUE(kw.ok());
    EXPECT_EQ(kw->at(1).dump(), R"({"a":2,"b":3})");
    auto not_dicts = expand_mapping(mapped("k", true, {{"", "[1]", "", ""}}), run);
    ASSERT_FALSE(not_dicts.ok());
    EXPECT_NE(not_dicts.err().message().find("expects a list of dicts"), std::string::npos) << not_dicts.err().message();
    std::string big = "[";
    for (int i = 0; i < 33; ++i) big += (i ? "," : "") + std::to_string(i);
    big += "]";
    auto too_many = expand_mapping(mapped("big", false, {{"a", big, "", ""}, {"b", big, "", ""}}), run);
    ASSERT_FALSE(too_many.ok()) << "33 x 33 > 1024";
    EXPECT_NE(too_many.err().message().find("more than 1024"), std::string::npos) << too_many.err().message();
}

TEST(task_mapping, an_upstreams_xcom_a_mapped_upstreams_results_and_what_cannot_be_mapped) {
    dag_run run;
    run.tasks["up"].task_id = "up";
    run.tasks["up"].xcoms["return_value"] = R"({"k1":1,"k2":2})";
    run.tasks["up"].xcoms["scalar"] = "7";
    auto t = mapped("m", false, {{"kv", "", "up", "return_value"}});
    auto values = expand_mapping(t, run);
    ASSERT_TRUE(values.ok()) << values.err().message();
    ASSERT_EQ(values->size(), 2u);
    EXPECT_EQ(values->at(0).dump(), R"({"kv":["k1",1]})") << "a dict maps as its (key, value) pairs";
    auto scalar = expand_mapping(mapped("m", false, {{"x", "", "up", "scalar"}}), run);
    ASSERT_FALSE(scalar.ok());
    EXPECT_NE(scalar.err().message().find("unmappable return type 'integer'"), std::string::npos) << scalar.err().message();
    auto missing = expand_mapping(mapped("m", false, {{"x", "", "up", "nope"}}), run);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.err().message().find("did not push"), std::string::npos) << missing.err().message();
    // A mapped upstream: pulling gives its instances' values in map_index order (one pushed nothing).
    auto& up = run.tasks["mapped_up"];
    up.task_id = "mapped_up";
    for (int index = 0; index < 3; ++index) {
        task_instance inst;
        inst.task_id = "mapped_up";
        inst.map_index = index;
        inst.state = index == 1 ? ti_state::failed : ti_state::success;
        if (index != 1) inst.xcoms["return_value"] = std::to_string(index + 1);
        up.instances.push_back(inst);
    }
    EXPECT_EQ(pulled_xcom(run, "mapped_up", "return_value")->dump(), "[1,3]");
    auto over_mapped = expand_mapping(mapped("m2", false, {{"x", "", "mapped_up", "return_value"}}), run);
    ASSERT_TRUE(over_mapped.ok());
    EXPECT_EQ(over_mapped->size(), 2u);
    // Trigger rules see each instance.
    task_spec down;
    down.task_id = "down";
    down.upstream = {"mapped_up", "up"};
    auto states = upstream_states(run, down);
    ASSERT_EQ(states.size(), 4u);
    EXPECT_EQ(evaluate_trigger_rule("all_success", states), trigger_decision::upstream_failed);
    EXPECT_EQ(evaluate_trigger_rule("one_failed", states), trigger_decision::run);
    EXPECT_EQ(mapped_summary(up.instances), ti_state::failed);
    up.instances[1].state = ti_state::up_for_retry;
    EXPECT_EQ(mapped_summary(up.instances), ti_state::up_for_retry);
    EXPECT_EQ(evaluate_trigger_rule("all_done", upstream_states(run, down)), trigger_decision::wait)
        << "a downstream waits for every instance";
}

TEST_F(engine_test, a_broken_dag_file_is_reported_and_the_others_keep_running) {
    write_dag("good.yaml", "dag_id: good\ntasks:\n  t: {kind: shell, command: 'true'}\n");
    write_dag("bad.yaml", "dag_id: bad\ntasks:\n  a: {kind: shell, command: x, depends_on: [b]}\n"
                          "  b: {kind: shell, command: x, depends_on: [a]}\n");
    engine_ = make(millrace::clock::system());
    ASSERT_TRUE(eventually([&] { return engine_->read([](const engine_state& st) { return !st.import_errors.empty() && st.dags.count("good"); }); }));
    std::string message = engine_->read([](const engine_state& st) { return st.import_errors[0].message; });
    EXPECT_NE(message.find("bad.yaml:4:"), std::string::npos) << message;
    EXPECT_NE(message.find("dependency cycle"), std::string::npos) << message;
    ASSERT_TRUE(engine_->trigger("good", std::nullopt, std::nullopt, "{}", "").ok());
    ASSERT_TRUE(eventually([&] { auto t = ti(*engine_, "good", "t"); return t && t->state == ti_state::success; }));
    // Fixing the file clears the error.
    write_dag("bad.yaml", "dag_id: bad\ntasks:\n  a: {kind: shell, command: x}\n");
    ASSERT_TRUE(eventually([&] { return engine_->read([](const engine_state& st) { return st.import_errors.empty() && st.dags.count("bad"); }); }));
}

}  // namespace
}  // namespace millrace::scheduler
