// The REST API of `millrace registry` against a real broker: paths, status
// codes, Confluent error codes and bodies, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "fixture.h"

namespace millrace::testing {
namespace {

const std::string k_v1 = R"({"type":"record","name":"User","namespace":"demo","fields":[{"name":"id","type":"long"}]})";
const std::string k_v1_reordered = R"({ "namespace" : "demo", "fields" : [ { "type" : "long", "name" : "id" } ], "type" : "record", "name" : "User" })";
const std::string k_v2 =
    R"({"type":"record","name":"User","namespace":"demo","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null}]})";

class registry_api_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() { cluster_ = new registry_cluster(); }
    static void TearDownTestSuite() {
        delete cluster_;
        cluster_ = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(cluster_->registry.proc) << "registry did not start"; }
    static reply api(const std::string& method, const std::string& target, const std::string& body = {}) {
        return call(cluster_->registry.address, method, target, body);
    }
    static int register_schema(const std::string& subject, const std::string& text, const std::string& type = "AVRO") {
        reply r = api("POST", "/subjects/" + subject + "/versions", schema_body(text, type));
        EXPECT_EQ(r.status, 200) << r.body;
        const avro::json::value* id = r.json.find("id");
        return id != nullptr ? static_cast<int>(id->integer) : -1;
    }
    static registry_cluster* cluster_;
};
registry_cluster* registry_api_test::cluster_ = nullptr;

TEST_F(registry_api_test, register_then_read_back_every_way) {
    int id = register_schema("users-value", k_v1);
    ASSERT_GT(id, 0);
    // Same schema, other whitespace and attribute order: same id, no new version.
    EXPECT_EQ(register_schema("users-value", k_v1_reordered), id);
    // Same schema under another subject: same id.
    EXPECT_EQ(register_schema("users-copy", k_v1), id);

    reply versions = api("GET", "/subjects/users-value/versions");
    EXPECT_EQ(versions.status, 200);
    EXPECT_EQ(versions.body, "[1]");
    EXPECT_NE(versions.headers.find("application/vnd.schemaregistry.v1+json"), std::string::npos) << versions.headers;

    reply latest = api("GET", "/subjects/users-value/versions/latest");
    ASSERT_EQ(latest.status, 200);
    EXPECT_EQ(latest.json.find("subject")->text, "users-value");
    EXPECT_EQ(latest.json.find("version")->integer, 1);
    EXPECT_EQ(latest.json.find("id")->integer, id);
    EXPECT_EQ(latest.json.find("schemaType"), nullptr);  // AVRO is implied, as Confluent does
    EXPECT_EQ(api("GET", "/subjects/users-value/versions/1").body, latest.body);
    EXPECT_EQ(api("GET", "/subjects/users-value/versions/-1").body, latest.body);

    reply by_id = api("GET", "/schemas/ids/" + std::to_string(id));
    ASSERT_EQ(by_id.status, 200);
    EXPECT_EQ(by_id.json.find("schema")->text, latest.json.find("schema")->text);
    EXPECT_EQ(api("GET", "/schemas/ids/" + std::to_string(id) + "/schema").body, by_id.json.find("schema")->text);
    EXPECT_EQ(api("GET", "/subjects/users-value/versions/1/schema").body, by_id.json.find("schema")->text);
    EXPECT_EQ(api("GET", "/schemas/ids/" + std::to_string(id) + "/versions").body,
              R"([{"subject":"users-copy","version":1},{"subject":"users-value","version":1}])");
    EXPECT_EQ(api("GET", "/schemas/ids/" + std::to_string(id) + "/subjects").body, R"(["users-copy","users-value"])");

    reply lookup = api("POST", "/subjects/users-value", schema_body(k_v1_reordered));
    ASSERT_EQ(lookup.status, 200) << lookup.body;
    EXPECT_EQ(lookup.json.find("version")->integer, 1);
    EXPECT_EQ(lookup.json.find("id")->integer, id);

    int id2 = register_schema("users-value", k_v2);
    EXPECT_EQ(id2, id + 1);
    EXPECT_EQ(api("GET", "/subjects/users-value/versions").body, "[1,2]");
    reply subjects = api("GET", "/subjects");
    EXPECT_NE(subjects.body.find("\"users-value\""), std::string::npos);
    EXPECT_EQ(api("GET", "/subjects?subjectPrefix=users-c").body, R"(["users-copy"])");
    EXPECT_EQ(api("GET", "/schemas/types").body, R"(["JSON","AVRO"])");
    reply all = api("GET", "/schemas?subjectPrefix=users-value&latestOnly=true");
    ASSERT_EQ(all.status, 200);
    ASSERT_EQ(all.json.items.size(), 1u) << all.body;
    EXPECT_EQ(all.json.items[0].find("version")->integer, 2);
    EXPECT_EQ(api("GET", "/schemas?subjectPrefix=users-value").json.items.size(), 2u);
    EXPECT_EQ(api("GET", "/").body, "{}");
}

TEST_F(registry_api_test, not_found_codes) {
    reply r = api("GET", "/subjects/nope/versions");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.error_code(), 40401);
    EXPECT_EQ(r.message(), "Subject 'nope' not found.");
    EXPECT_EQ(api("GET", "/subjects/nope/versions/1").error_code(), 40401);
    register_schema("nf-value", R"("string")");
    r = api("GET", "/subjects/nf-value/versions/7");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.error_code(), 40402);
    r = api("GET", "/schemas/ids/999999");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.error_code(), 40403);
    EXPECT_EQ(api("GET", "/schemas/ids/abc").error_code(), 40403);
    r = api("POST", "/subjects/nf-value", schema_body(R"("long")"));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.error_code(), 40403);
    EXPECT_EQ(api("POST", "/subjects/nope", schema_body(R"("long")")).error_code(), 40401);
    r = api("GET", "/no/such/path");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.error_code(), 404);
    r = api("PUT", "/subjects");
    EXPECT_EQ(r.status, 405);
}

TEST_F(registry_api_test, bad_input_gets_one_clear_error) {
    reply r = api("GET", "/subjects/bad-value/versions/abc");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.error_code(), 42202);
    EXPECT_EQ(api("GET", "/subjects/bad-value/versions/0").error_code(), 42202);

    r = api("POST", "/subjects/bad-value/versions", schema_body(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]})"));
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.error_code(), 42201);
    EXPECT_NE(r.message().find("invalid default \"x\""), std::string::npos) << r.message();

    r = api("POST", "/subjects/bad-value/versions", schema_body(R"({"type":"recor)"));
    EXPECT_EQ(r.error_code(), 42201);
    EXPECT_NE(r.message().find("schema is not JSON"), std::string::npos) << r.message();

    r = api("POST", "/subjects/bad-value/versions", R"({"schema":)");
    EXPECT_EQ(r.status, 400);
    r = api("POST", "/subjects/bad-value/versions", R"({"nothing":1})");
    EXPECT_EQ(r.error_code(), 42201);
    r = api("POST", "/subjects/bad-value/versions", R"({"schema":"\"int\"","schemaType":"PROTOBUF"})");
    EXPECT_EQ(r.error_code(), 42201);
    EXPECT_NE(r.message().find("PROTOBUF is not supported"), std::string::npos) << r.message();
    r = api("POST", "/subjects/bad-value/versions",
            R"({"schema":"\"int\"","references":[{"name":"x","subject":"missing","version":1}]})");
    EXPECT_EQ(r.error_code(), 42201);
    EXPECT_NE(r.message().find("subject 'missing' version 1 not found"), std::string::npos) << r.message();

    r = api("PUT", "/config", R"({"compatibility":"SIDEWAYS"})");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.error_code(), 42203);
    r = api("PUT", "/mode", R"({"mode":"WRITEONLY"})");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.error_code(), 42204);
    // The server keeps serving after all of that.
    EXPECT_EQ(api("GET", "/config").status, 200);
    EXPECT_EQ(api("GET", "/subjects/bad-value/versions").error_code(), 40401);
}

TEST_F(registry_api_test, cross_site_shaped_requests_are_refused) {
    const std::string& address = cluster_->registry.address;
    const std::string port = address.substr(address.rfind(':') + 1);
    register_schema("xsite-value", k_v1);
    auto origin = http_request(address, "DELETE", "/subjects/xsite-value", "", {{"Origin", "http://evil.example"}});
    EXPECT_EQ(origin.status, 403) << origin.body;
    EXPECT_NE(origin.body.find("\"error_code\":403"), std::string::npos) << origin.body;
    auto rebinding = http_request(address, "PUT", "/mode", R"({"mode":"READONLY"})", {{"Host", "attacker.example:" + port}});
    EXPECT_EQ(rebinding.status, 403) << rebinding.body;
    auto text = http_request(address, "PUT", "/mode", R"({"mode":"READONLY"})", {{"Content-Type", "text/plain"}});
    EXPECT_EQ(text.status, 415) << text.body;
    auto form = http_request(address, "POST", "/subjects/xsite2-value/versions", schema_body(k_v1),
                             {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(form.status, 415) << form.body;
    // Nothing changed.
    EXPECT_EQ(api("GET", "/subjects/xsite-value/versions").status, 200);
    EXPECT_EQ(api("GET", "/subjects/xsite2-value/versions").error_code(), 40401);
    EXPECT_NE(api("GET", "/mode").body.find("READWRITE"), std::string::npos);
    // Confluent's own media types are bodies too.
    for (const char* type : {"application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json"}) {
        auto ok = http_request(address, "POST", "/subjects/xsite-value", schema_body(k_v1), {{"Content-Type", type}});
        EXPECT_EQ(ok.status, 200) << type << ": " << ok.body;
    }
}

TEST_F(registry_api_test, incompatible_registration_is_409_with_reasons) {
    register_schema("inc-value", R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})");
    reply r = api("POST", "/subjects/inc-value/versions",
                  schema_body(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]})"));
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(r.error_code(), 409);
    EXPECT_NE(r.message().find("Schema being registered is incompatible with an earlier schema for subject \"inc-value\""), std::string::npos);
    EXPECT_NE(r.message().find("READER_FIELD_MISSING_DEFAULT_VALUE"), std::string::npos) << r.message();
    EXPECT_EQ(api("GET", "/subjects/inc-value/versions").body, "[1]");

    reply verbose = api("POST", "/compatibility/subjects/inc-value/versions/latest?verbose=true",
                        schema_body(R"({"type":"record","name":"R","fields":[{"name":"a","type":"string"}]})"));
    ASSERT_EQ(verbose.status, 200);
    EXPECT_FALSE(verbose.json.find("is_compatible")->boolean);
    ASSERT_NE(verbose.json.find("messages"), nullptr);
    EXPECT_FALSE(verbose.json.find("messages")->items.empty());
    reply missing = api("POST", "/compatibility/subjects/inc-value/versions/9", schema_body(R"("int")"));
    EXPECT_EQ(missing.error_code(), 40402);
}

TEST_F(registry_api_test, config_per_subject_and_global) {
    reply r = api("GET", "/config");
    EXPECT_EQ(r.body, R"({"compatibilityLevel":"BACKWARD"})");
    r = api("GET", "/config/cfg-value");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.error_code(), 40408);
    EXPECT_EQ(api("GET", "/config/cfg-value?defaultToGlobal=true").body, R"({"compatibilityLevel":"BACKWARD"})");
    r = api("PUT", "/config/cfg-value", R"({"compatibility":"none"})");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"compatibility":"NONE"})");
    EXPECT_EQ(api("GET", "/config/cfg-value").body, R"({"compatibilityLevel":"NONE"})");
    // NONE lets anything through.
    register_schema("cfg-value", R"("int")");
    register_schema("cfg-value", R"("string")");
    r = api("DELETE", "/config/cfg-value");
    EXPECT_EQ(r.body, R"({"compatibilityLevel":"NONE"})");
    EXPECT_EQ(api("GET", "/config/cfg-value").error_code(), 40408);
    EXPECT_EQ(api("POST", "/subjects/cfg-value/versions", schema_body(R"("boolean")")).status, 409);
}

TEST_F(registry_api_test, soft_and_permanent_deletes) {
    int id1 = register_schema("del-value", R"({"type":"record","name":"D","fields":[]})");
    register_schema("del-value", R"({"type":"record","name":"D","fields":[{"name":"x","type":"int","default":0}]})");
    // Permanent delete first is refused.
    reply r = api("DELETE", "/subjects/del-value/versions/1?permanent=true");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.error_code(), 40407);
    r = api("DELETE", "/subjects/del-value/versions/1");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "1");
    EXPECT_EQ(api("GET", "/subjects/del-value/versions").body, "[2]");
    EXPECT_EQ(api("GET", "/subjects/del-value/versions?deleted=true").body, "[1,2]");
    EXPECT_EQ(api("GET", "/subjects/del-value/versions/1").error_code(), 40402);
    EXPECT_EQ(api("GET", "/subjects/del-value/versions/1?deleted=true").status, 200);
    EXPECT_EQ(api("GET", "/schemas/ids/" + std::to_string(id1)).status, 200);  // soft-deleted schemas stay readable by id
    EXPECT_EQ(api("DELETE", "/subjects/del-value/versions/1").error_code(), 40406);
    r = api("DELETE", "/subjects/del-value/versions/1?permanent=true");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(api("GET", "/subjects/del-value/versions?deleted=true").body, "[2]");
    EXPECT_EQ(api("GET", "/schemas/ids/" + std::to_string(id1)).error_code(), 40403);

    r = api("DELETE", "/subjects/del-value?permanent=true");
    EXPECT_EQ(r.error_code(), 40405);
    r = api("DELETE", "/subjects/del-value");
    EXPECT_EQ(r.body, "[2]");
    EXPECT_EQ(api("DELETE", "/subjects/del-value").error_code(), 40404);
    EXPECT_EQ(api("GET", "/subjects/del-value/versions").error_code(), 40401);
    EXPECT_EQ(api("GET", "/subjects?deleted=true").body.find("del-value") != std::string::npos, true);
    EXPECT_EQ(api("DELETE", "/subjects/del-value?permanent=true").body, "[2]");
    EXPECT_EQ(api("DELETE", "/subjects/del-value").error_code(), 40401);
    EXPECT_EQ(api("DELETE", "/subjects/never-there").error_code(), 40401);
    // Ids never repeat: the next new schema gets a fresh id.
    int fresh = register_schema("del-value", R"({"type":"record","name":"Z","fields":[]})");
    EXPECT_GT(fresh, id1 + 1);
}

TEST_F(registry_api_test, references_and_referenced_by) {
    int address_id = register_schema("address", R"({"type":"record","name":"Address","namespace":"x","fields":[{"name":"city","type":"string"}]})");
    reply r = api("POST", "/subjects/person-value/versions",
                  R"({"schema":"{\"type\":\"record\",\"name\":\"x.Person\",\"fields\":[{\"name\":\"home\",\"type\":\"x.Address\"}]}",)"
                  R"("references":[{"name":"x.Address","subject":"address","version":1}]})");
    ASSERT_EQ(r.status, 200) << r.body;
    int person_id = static_cast<int>(r.json.find("id")->integer);
    EXPECT_NE(person_id, address_id);
    reply got = api("GET", "/schemas/ids/" + std::to_string(person_id));
    EXPECT_EQ(avro::json::dump(*got.json.find("references")), R"([{"name":"x.Address","subject":"address","version":1}])");
    EXPECT_EQ(api("GET", "/subjects/address/versions/1/referencedby").body, "[" + std::to_string(person_id) + "]");
    r = api("DELETE", "/subjects/address/versions/1");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.error_code(), 42206);
}

TEST_F(registry_api_test, reference_version_beyond_int_range_is_refused_not_truncated) {
    register_schema("big-address", R"({"type":"record","name":"BigAddress","namespace":"x","fields":[{"name":"city","type":"string"}]})");
    const std::string person = R"({"schema":"{\"type\":\"record\",\"name\":\"x.Person\",\"fields\":[{\"name\":\"home\",\"type\":\"x.BigAddress\"}]}",)";
    // 2^32 + 1 once became version 1 (an existing one) through a 32-bit read.
    for (const char* version : {"4294967297", "2147483648", "18446744073709551615", "0", "-2"}) {
        reply r = api("POST", "/subjects/big-person-value/versions",
                      person + R"("references":[{"name":"x.BigAddress","subject":"big-address","version":)" + version + "}]}");
        EXPECT_EQ(r.status, 422) << version << ": " << r.body;
        EXPECT_EQ(r.error_code(), 42201) << version;
        EXPECT_NE(r.message().find(std::string("version ") + version), std::string::npos) << r.message();
    }
    EXPECT_EQ(api("GET", "/subjects/big-person-value/versions").error_code(), 40401);
    // The largest valid version is read as itself (and not found), -1 means the latest.
    reply r = api("POST", "/subjects/big-person-value/versions",
                  person + R"("references":[{"name":"x.BigAddress","subject":"big-address","version":2147483647}]})");
    EXPECT_NE(r.message().find("version 2147483647 not found"), std::string::npos) << r.body;
    r = api("POST", "/subjects/big-person-value/versions", person + R"("references":[{"name":"x.BigAddress","subject":"big-address","version":-1}]})");
    EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(registry_api_test, json_schema_type) {
    std::string v1 = R"({"type":"object","properties":{"n":{"type":"integer"}}})";
    reply r = api("POST", "/subjects/js-value/versions", schema_body(v1, "JSON"));
    ASSERT_EQ(r.status, 200) << r.body;
    reply latest = api("GET", "/subjects/js-value/versions/latest");
    EXPECT_EQ(latest.json.find("schemaType")->text, "JSON");
    // integer widened to number: still backward compatible.
    EXPECT_EQ(api("POST", "/subjects/js-value/versions", schema_body(R"({"type":"object","properties":{"n":{"type":"number"}}})", "JSON")).status,
              200);
    r = api("POST", "/subjects/js-value/versions",
            schema_body(R"({"type":"object","properties":{"n":{"type":"number"}},"required":["n"]})", "JSON"));
    EXPECT_EQ(r.status, 409);
    EXPECT_NE(r.message().find("REQUIRED_PROPERTY_ADDED"), std::string::npos) << r.message();
    r = api("POST", "/subjects/js-value/versions", schema_body(R"({"type":"thing"})", "JSON"));
    EXPECT_EQ(r.error_code(), 42201);
}

TEST_F(registry_api_test, modes) {
    EXPECT_EQ(api("GET", "/mode").body, R"({"mode":"READWRITE"})");
    EXPECT_EQ(api("PUT", "/mode/ro-value", R"({"mode":"READONLY"})").body, R"({"mode":"READONLY"})");
    reply r = api("POST", "/subjects/ro-value/versions", schema_body(R"("int")"));
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.error_code(), 42205);
    EXPECT_EQ(api("GET", "/mode/ro-value").body, R"({"mode":"READONLY"})");
    EXPECT_EQ(api("DELETE", "/mode/ro-value").status, 200);
    EXPECT_EQ(api("POST", "/subjects/ro-value/versions", schema_body(R"("int")")).status, 200);
    // IMPORT on a registry with schemas needs force=true; then ids may be given.
    EXPECT_EQ(api("PUT", "/mode/imp-value", R"({"mode":"IMPORT"})").status, 200);
    r = api("POST", "/subjects/imp-value/versions", R"({"schema":"\"double\"","id":5000,"version":3})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"id":5000})");
    EXPECT_EQ(api("GET", "/subjects/imp-value/versions").body, "[3]");
    EXPECT_EQ(api("POST", "/subjects/rw-value/versions", R"({"schema":"\"double\"","id":77})").error_code(), 42205);
}

TEST_F(registry_api_test, concurrent_registrations_get_distinct_ids_and_ordered_versions) {
    // 6 clients at once, each registering 8 schemas under one shared subject (NONE) and its own.
    ASSERT_EQ(api("PUT", "/config/shared-value", R"({"compatibility":"NONE"})").status, 200);
    std::vector<std::thread> clients;
    std::mutex mutex;
    std::vector<int> ids;
    for (int client = 0; client < 6; ++client) {
        clients.emplace_back([&, client] {
            for (int idx = 0; idx < 8; ++idx) {
                std::string schema = fmt::format(R"({{"type":"fixed","name":"F{}_{}","size":{}}})", client, idx, idx);
                reply shared = api("POST", "/subjects/shared-value/versions", schema_body(schema));
                reply own = api("POST", fmt::format("/subjects/own-{}-value/versions", client),
                                schema_body(fmt::format(R"({{"type":"enum","name":"E{}","symbols":["S{}"]}})", client, idx)));
                std::lock_guard lock(mutex);
                EXPECT_EQ(shared.status, 200) << shared.body;
                if (const avro::json::value* id = shared.json.find("id")) ids.push_back(static_cast<int>(id->integer));
                (void)own;
            }
        });
    }
    for (auto& c : clients) c.join();
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids.size(), 48u);
    EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "an id was given twice";
    reply versions = api("GET", "/subjects/shared-value/versions");
    std::string expected = "[";
    for (int v = 1; v <= 48; ++v) expected += (v > 1 ? "," : "") + std::to_string(v);
    EXPECT_EQ(versions.body, expected + "]");
}

}  // namespace
}  // namespace millrace::testing
