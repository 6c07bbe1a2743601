// `millrace up` on ephemeral ports, as a user runs it: the status block's
// totals come from the stores (true after a restart), a clean stop logs no
// warning or error, and busy ports are reported together as the last line.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <regex>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/process.h"

namespace millrace::testing {
namespace {

const std::vector<std::string> k_ephemeral_ports = {
    "--set", "broker.port=0",    "--set", "cql.port=0",      "--set", "source.port=0",  "--set", "postgres.port=0",
    "--set", "scheduler.port=0", "--set", "registry.port=0", "--set", "console.port=0"};

struct totals {
    long fetched = -1, kafka = -1, table = -1, lag = -1;
};

// The "pipeline" object of /status.
std::optional<totals> status_totals(const std::string& admin) {
    auto r = http_request(admin, "GET", "/status");
    if (r.status != 200) return std::nullopt;
    std::smatch m;
    static const std::regex pipeline(
        R"re("pipeline":\{"users_fetched":(\d+),"records_in_kafka":(\d+),"rows_in_table":(\d+),"processor_lag":(\d+)\})re");
    if (!std::regex_search(r.body, m, pipeline)) return std::nullopt;
    return totals{std::stol(m[1]), std::stol(m[2]), std::stol(m[3]), std::stol(m[4])};
}

// Lines of `log` from the stop on that are warnings or errors.
std::vector<std::string> bad_lines_after_stop(const std::string& log) {
    std::vector<std::string> bad;
    size_t from = log.find("received: stopping");
    if (from == std::string::npos) return {"no 'received: stopping' line"};
    std::istringstream lines(log.substr(from));
    for (std::string line; std::getline(lines, line);) {
        if (line.find(" warn ") != std::string::npos || line.find(" error ") != std::string::npos) bad.push_back(line);
    }
    return bad;
}

// The repository's default DAG and stream job, whatever the working directory.
std::vector<std::string> up_args() {
    std::vector<std::string> args = k_ephemeral_ports;
    args.insert(args.end(), {"--set", "scheduler.dags_dir=" + source_dir() + "/dags", "--set",
                             "processor.jobs_dir=" + source_dir() + "/jobs"});
    return args;
}

TEST(up_status_test, totals_are_true_after_a_restart_and_a_clean_stop_logs_no_error) {
    temp_dir dir;
    totals before;
    {
        auto up = start_server("up", dir.file("data"), up_args(), false);
        ASSERT_TRUE(up.proc);
        // The default DAG runs its newest interval at once: wait until its
        // users are through the pipeline (readiness by polling, no sleep).
        auto deadline = std::chrono::steady_clock::now() + 120s;
        for (;;) {
            auto t = status_totals(up.admin);
            if (t && t->fetched > 0 && t->table == t->fetched && t->kafka == t->fetched && t->lag == 0) {
                before = *t;
                break;
            }
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the pipeline did not fill the table\n"
                                                                  << up.proc->stderr_text();
            std::this_thread::sleep_for(100ms);
        }
        ASSERT_EQ(up.proc->stop(SIGTERM), 0) << up.proc->stderr_text();
        auto bad = bad_lines_after_stop(up.proc->stderr_text());
        EXPECT_TRUE(bad.empty()) << "a clean stop logged:\n" << ::testing::PrintToString(bad);
    }
    auto again = start_server("up", dir.file("data"), up_args(), false);
    ASSERT_TRUE(again.proc);
    // The block printed before the ready line already has the totals.
    std::string expected = fmt::format("users: {} fetched · {} in Kafka · {} in the table · processor lag 0", before.fetched,
                                       before.fetched, before.fetched);
    EXPECT_NE(again.proc->stdout_text().find(expected), std::string::npos) << again.proc->stdout_text();
    auto now = status_totals(again.admin);
    ASSERT_TRUE(now);
    EXPECT_EQ(now->table, before.table);
    EXPECT_EQ(now->kafka, before.kafka);
    EXPECT_EQ(now->lag, 0);
    ASSERT_EQ(again.proc->stop(SIGINT), 0) << again.proc->stderr_text();
    auto bad = bad_lines_after_stop(again.proc->stderr_text());
    EXPECT_TRUE(bad.empty()) << "a clean stop logged:\n" << ::testing::PrintToString(bad);
}

// The address of a part from /status ("scheduler" -> "127.0.0.1:41234").
std::string part_address(const std::string& admin, const std::string& name) {
    auto r = http_request(admin, "GET", "/status");
    std::smatch m;
    std::regex part("\\{\"name\":\"" + name + "\",\"address\":\"([^\"]+)\"");
    return std::regex_search(r.body, m, part) ? m[1].str() : "";
}

// Triggers user_automation by hand and waits for its fetch task; returns the task's note.
std::string manual_run_note(const std::string& scheduler, int count) {
    auto r = http_request(scheduler, "POST", "/api/v1/dags/user_automation/dagRuns",
                          fmt::format(R"({{"conf": {{"count": {}}}}})", count));
    EXPECT_EQ(r.status, 200) << r.body;
    std::smatch m;
    if (!std::regex_search(r.body, m, std::regex(R"re("dag_run_id":"([^"]+)")re"))) return "no dag_run_id in " + r.body;
    std::string run_id = m[1].str();
    std::string encoded;
    for (char c : run_id) encoded += c == '+' ? std::string("%2B") : c == ':' ? std::string("%3A") : std::string(1, c);
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
        auto ti = http_request(scheduler, "GET",
                               "/api/v1/dags/user_automation/dagRuns/" + encoded + "/taskInstances/stream_data_from_api");
        if (ti.body.find("\"state\":\"success\"") != std::string::npos ||
            ti.body.find("\"state\":\"failed\"") != std::string::npos) {
            std::smatch note;
            return std::regex_search(ti.body, note, std::regex(R"re("note":"([^"]*)")re")) ? note[1].str() : ti.body;
        }
        std::this_thread::sleep_for(100ms);
    }
    return "run " + run_id + " did not end";
}

TEST(up_status_test, each_manual_run_fetches_new_users_and_says_how_many) {
    temp_dir dir;
    auto up = start_server("up", dir.file("data"), up_args(), false);
    ASSERT_TRUE(up.proc);
    std::string scheduler = part_address(up.admin, "scheduler");
    ASSERT_FALSE(scheduler.empty());
    // The DAG folder is read in the background: wait for the DAG.
    auto dag_deadline = std::chrono::steady_clock::now() + 60s;
    while (http_request(scheduler, "GET", "/api/v1/dags/user_automation").status != 200) {
        ASSERT_LT(std::chrono::steady_clock::now(), dag_deadline) << "user_automation never appeared";
        std::this_thread::sleep_for(100ms);
    }
    // Two manual runs the same day: each one's users are new (a seed per run).
    for (int round = 0; round < 2; ++round) {
        std::string note = manual_run_note(scheduler, 25);
        EXPECT_EQ(note.rfind("25 new users, 0 duplicates already stored (seed millrace-manual__", 0), 0) << note;
    }
    // And the status counts all of them from PostgreSQL.
    auto deadline = std::chrono::steady_clock::now() + 60s;
    std::optional<totals> t;
    while (std::chrono::steady_clock::now() < deadline) {
        t = status_totals(up.admin);
        if (t && t->fetched >= 50 && t->table == t->fetched) break;
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(t);
    EXPECT_GE(t->fetched, 50);
    EXPECT_EQ(t->table, t->fetched);
    EXPECT_EQ(up.proc->stop(SIGTERM), 0) << up.proc->stderr_text();
}

// A socket listening on a free loopback port, closed with the object.
struct held_port {
    int fd = -1;
    uint16_t port = 0;
    held_port() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1) != 0) return;
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
    }
    ~held_port() { ::close(fd); }
};

TEST(up_status_test, busy_ports_are_reported_together_as_the_last_line) {
    temp_dir dir;
    held_port broker, cql, console;
    ASSERT_NE(broker.port, 0);
    std::vector<std::string> args = {millrace_binary(), "up", "--data-dir", dir.file("data"), "--admin-port", "0"};
    args.insert(args.end(), k_ephemeral_ports.begin(), k_ephemeral_ports.end());
    // Later --set flags win: three parts on the held ports.
    args.insert(args.end(), {"--set", fmt::format("broker.port={}", broker.port), "--set", fmt::format("cql.port={}", cql.port),
                             "--set", fmt::format("console.port={}", console.port)});
    process p(args);
    ASSERT_EQ(p.wait(60s), 2);
    std::string err = p.stderr_text();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line, nothing after it:\n" << err;
    for (const auto& expected : {fmt::format("broker 127.0.0.1:{} (broker.port)", broker.port),
                                 fmt::format("cql 127.0.0.1:{} (cql.port)", cql.port),
                                 fmt::format("console 127.0.0.1:{} (console.port)", console.port)}) {
        EXPECT_NE(err.find(expected), std::string::npos) << err;
    }
    EXPECT_NE(err.find("3 ports are in use"), std::string::npos) << err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("data") + "/broker")) << "nothing started";
    // One busy port: that part's own line, still the only one.
    held_port admin;
    process single({millrace_binary(), "broker", "--data-dir", dir.file("b"), "--port", "0", "--admin-port",
                    std::to_string(admin.port)});
    ASSERT_EQ(single.wait(60s), 2);
    EXPECT_EQ(single.stderr_text(), fmt::format("millrace: admin: cannot listen on 127.0.0.1:{}: Address already in use; "
                                                "is another instance running? set broker.admin_port to a free port\n",
                                                admin.port));
}

}  // namespace
}  // namespace millrace::testing
