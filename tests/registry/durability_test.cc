// State lives in the _schemas topic: a restarted registry keeps ids and
// versions, never reuses an id, and skips a corrupt record naming its offset.
#include <gtest/gtest.h>

#include <thread>

#include "fixture.h"

namespace millrace::testing {
namespace {

int register_schema(const std::string& address, const std::string& subject, const std::string& text) {
    reply r = call(address, "POST", "/subjects/" + subject + "/versions", schema_body(text));
    EXPECT_EQ(r.status, 200) << r.body;
    const avro::json::value* id = r.json.find("id");
    return id != nullptr ? static_cast<int>(id->integer) : -1;
}

TEST(registry_durability_test, restart_keeps_ids_versions_and_config) {
    registry_cluster cluster("_schemas_restart");
    ASSERT_TRUE(cluster.registry.proc);
    int a = register_schema(cluster.registry.address, "r-value", R"({"type":"record","name":"R","fields":[]})");
    int b = register_schema(cluster.registry.address, "r-value", R"({"type":"record","name":"R","fields":[{"name":"x","type":"int","default":1}]})");
    int c = register_schema(cluster.registry.address, "s-value", R"("string")");
    ASSERT_EQ(call(cluster.registry.address, "PUT", "/config/s-value", R"({"compatibility":"FULL"})").status, 200);
    // Permanently delete the newest schema: its id must not come back after a restart.
    ASSERT_EQ(call(cluster.registry.address, "DELETE", "/subjects/s-value").status, 200);
    ASSERT_EQ(call(cluster.registry.address, "DELETE", "/subjects/s-value?permanent=true").status, 200);
    std::string before = call(cluster.registry.address, "GET", "/subjects/r-value/versions/2").body;

    cluster.restart_registry();
    ASSERT_TRUE(cluster.registry.proc);
    EXPECT_EQ(call(cluster.registry.address, "GET", "/subjects/r-value/versions").body, "[1,2]");
    EXPECT_EQ(call(cluster.registry.address, "GET", "/subjects/r-value/versions/2").body, before);
    EXPECT_EQ(call(cluster.registry.address, "GET", "/schemas/ids/" + std::to_string(a)).status, 200);
    EXPECT_EQ(call(cluster.registry.address, "GET", "/schemas/ids/" + std::to_string(b)).status, 200);
    EXPECT_EQ(call(cluster.registry.address, "GET", "/config/s-value").body, R"({"compatibilityLevel":"FULL"})");
    // The same schema keeps its id; a new one gets an id never used before.
    EXPECT_EQ(register_schema(cluster.registry.address, "r-value", R"({"type":"record","name":"R","fields":[]})"), a);
    int d = register_schema(cluster.registry.address, "t-value", R"("bytes")");
    EXPECT_GT(d, c);
}

TEST(registry_durability_test, corrupt_record_is_skipped_with_its_offset) {
    registry_cluster cluster("_schemas_corrupt");
    ASSERT_TRUE(cluster.registry.proc);
    int a = register_schema(cluster.registry.address, "c-value", R"("int")");
    int64_t bad_key = produce_raw(cluster.broker.address, cluster.topic, "this is not json", std::string("{}"));
    int64_t bad_value = produce_raw(cluster.broker.address, cluster.topic, R"({"keytype":"SCHEMA","subject":"c-value","version":2,"magic":1})",
                                    std::string(R"({"subject":"c-value","version":2,"schema":"\"long\""})"));
    ASSERT_GE(bad_key, 0);
    ASSERT_GE(bad_value, 0);

    cluster.restart_registry();
    ASSERT_TRUE(cluster.registry.proc);
    EXPECT_EQ(call(cluster.registry.address, "GET", "/subjects/c-value/versions").body, "[1]");
    EXPECT_EQ(call(cluster.registry.address, "GET", "/schemas/ids/" + std::to_string(a)).status, 200);
    // The registry keeps working: the next version and id follow the good records.
    reply r = call(cluster.registry.address, "POST", "/subjects/c-value/versions", schema_body(R"("long")"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(call(cluster.registry.address, "GET", "/subjects/c-value/versions").body, "[1,2]");
    cluster.registry.proc->stop(SIGTERM);
    std::string log = cluster.registry.proc->stderr_text();
    EXPECT_NE(log.find(fmt::format("skipping corrupt record at offset {} of _schemas_corrupt: key is not JSON", bad_key)), std::string::npos)
        << log;
    EXPECT_NE(log.find(fmt::format("skipping corrupt record at offset {} of _schemas_corrupt: SCHEMA value needs", bad_value)),
              std::string::npos)
        << log;
}

TEST(registry_durability_test, requests_wait_for_kafka_then_succeed) {
    // A registry whose Kafka is not up yet answers once it is: start it first against a port nobody serves.
    temp_dir dir;
    server broker = start_server("broker", dir.file("broker"));
    ASSERT_TRUE(broker.proc);
    std::string bootstrap = broker.address;
    ASSERT_EQ(broker.proc->stop(SIGTERM), 0);
    server registry = start_server("registry", dir.file("registry"), {"--set", "kafka.bootstrap=" + bootstrap});
    ASSERT_TRUE(registry.proc);
    std::string port = bootstrap.substr(bootstrap.rfind(':') + 1);
    server again = start_server("broker", dir.file("broker"), {"--port", port}, false);
    ASSERT_TRUE(again.proc);
    reply r = call(registry.address, "POST", "/subjects/late-value/versions", schema_body(R"("int")"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(call(registry.address, "GET", "/subjects").body, R"(["late-value"])");
}

TEST(registry_durability_test, stop_answers_waiting_requests_with_50003) {
    // No Kafka at all: the request waits for the topic to be read, then SIGTERM answers it.
    temp_dir dir;
    server registry = start_server("registry", dir.file("registry"), {"--set", "kafka.bootstrap=127.0.0.1:1"});
    ASSERT_TRUE(registry.proc);
    reply answer;
    std::thread client([&] { answer = call(registry.address, "GET", "/subjects"); });
    // Wait until the registry has received the request (its counter says so), then stop it.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline &&
           http_request(registry.admin, "GET", "/metrics").body.find("millrace_registry_requests_total 1") == std::string::npos) {
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(registry.proc->stop(SIGTERM), 0);
    client.join();
    EXPECT_EQ(answer.status, 503) << answer.body;
    EXPECT_EQ(answer.error_code(), 50003);
}

}  // namespace
}  // namespace millrace::testing
