// A table of compatibility cases, each rule and each level, with the verdicts
// Confluent Schema Registry documents for them ("Schema Evolution and
// Compatibility"), checked through the REST API: the compatibility endpoint
// and the registration (200 or 409) must agree with the expected verdict.
#include <gtest/gtest.h>

#include "fixture.h"

namespace millrace::testing {
namespace {

std::string rec(const std::string& fields) { return R"({"type":"record","name":"R","fields":[)" + fields + "]}"; }
const std::string k_a = R"({"name":"a","type":"int"})";
const std::string k_b = R"({"name":"b","type":"string"})";
const std::string k_b_default = R"({"name":"b","type":"string","default":"x"})";
const std::string k_c = R"({"name":"c","type":"int"})";
const std::string k_c_default = R"({"name":"c","type":"int","default":0})";

struct compat_case {
    const char* name;
    const char* level;
    std::vector<std::string> existing;  // registered in order under NONE first
    std::string candidate;
    bool compatible;
    const char* type = "AVRO";
};

std::vector<compat_case> cases() {
    return {
        {"backward_add_field_with_default", "BACKWARD", {rec(k_a)}, rec(k_a + "," + k_b_default), true},
        {"backward_add_field_without_default", "BACKWARD", {rec(k_a)}, rec(k_a + "," + k_b), false},
        {"backward_remove_field", "BACKWARD", {rec(k_a + "," + k_b)}, rec(k_a), true},
        {"forward_remove_field_without_default", "FORWARD", {rec(k_a + "," + k_b)}, rec(k_a), false},
        {"forward_remove_field_with_default", "FORWARD", {rec(k_a + "," + k_b_default)}, rec(k_a), true},
        {"forward_add_field", "FORWARD", {rec(k_a)}, rec(k_a + "," + k_c), true},
        {"full_add_field_with_default", "FULL", {rec(k_a)}, rec(k_a + "," + k_c_default), true},
        {"full_add_field_without_default", "FULL", {rec(k_a)}, rec(k_a + "," + k_c), false},
        {"full_remove_field_without_default", "FULL", {rec(k_a + "," + k_b)}, rec(k_a), false},
        {"none_anything_goes", "NONE", {rec(k_a)}, R"("string")", true},
        {"backward_int_to_long", "BACKWARD", {rec(k_a)}, rec(R"({"name":"a","type":"long"})"), true},
        {"backward_long_to_int", "BACKWARD", {rec(R"({"name":"a","type":"long"})")}, rec(k_a), false},
        {"backward_int_to_double", "BACKWARD", {R"("int")"}, R"("double")", true},
        {"backward_float_to_double", "BACKWARD", {R"("float")"}, R"("double")", true},
        {"backward_double_to_float", "BACKWARD", {R"("double")"}, R"("float")", false},
        {"backward_string_to_bytes", "BACKWARD", {R"("string")"}, R"("bytes")", true},
        {"backward_bytes_to_string", "BACKWARD", {R"("bytes")"}, R"("string")", true},
        {"backward_type_changed", "BACKWARD", {rec(k_a)}, rec(R"({"name":"a","type":"string"})"), false},
        {"backward_enum_symbol_added", "BACKWARD", {R"({"type":"enum","name":"E","symbols":["A"]})"},
         R"({"type":"enum","name":"E","symbols":["A","B"]})", true},
        {"backward_enum_symbol_removed", "BACKWARD", {R"({"type":"enum","name":"E","symbols":["A","B"]})"},
         R"({"type":"enum","name":"E","symbols":["A"]})", false},
        {"backward_enum_symbol_removed_with_default", "BACKWARD", {R"({"type":"enum","name":"E","symbols":["A","B"]})"},
         R"({"type":"enum","name":"E","symbols":["A"],"default":"A"})", true},
        {"forward_enum_symbol_added", "FORWARD", {R"({"type":"enum","name":"E","symbols":["A"]})"},
         R"({"type":"enum","name":"E","symbols":["A","B"]})", false},
        {"backward_union_branch_added", "BACKWARD", {R"(["null","string"])"}, R"(["null","string","int"])", true},
        {"backward_union_branch_removed", "BACKWARD", {R"(["null","string","int"])"}, R"(["null","string"])", false},
        {"backward_made_nullable", "BACKWARD", {rec(k_a)}, rec(R"({"name":"a","type":["null","int"],"default":null})"), true},
        {"backward_field_renamed_with_alias", "BACKWARD", {rec(k_a)}, rec(R"({"name":"z","type":"int","aliases":["a"]})"), true},
        {"backward_record_renamed", "BACKWARD", {rec(k_a)}, R"({"type":"record","name":"S","fields":[{"name":"a","type":"int"}]})", false},
        {"backward_fixed_size_changed", "BACKWARD", {R"({"type":"fixed","name":"F","size":4})"}, R"({"type":"fixed","name":"F","size":8})",
         false},
        // Transitive levels: compatible with the latest version but not with the first.
        {"backward_checks_latest_only", "BACKWARD", {rec(k_a), rec(k_a + "," + k_b_default)}, rec(k_a + "," + k_b), true},
        {"backward_transitive_checks_all", "BACKWARD_TRANSITIVE", {rec(k_a), rec(k_a + "," + k_b_default)}, rec(k_a + "," + k_b), false},
        {"forward_checks_latest_only", "FORWARD", {rec(k_a + "," + k_b), rec(k_a + "," + k_b_default)}, rec(k_a), true},
        {"forward_transitive_checks_all", "FORWARD_TRANSITIVE", {rec(k_a + "," + k_b), rec(k_a + "," + k_b_default)}, rec(k_a), false},
        {"full_checks_latest_only", "FULL", {rec(k_a), rec(k_a + "," + k_b_default)}, rec(k_a + "," + k_b), true},
        {"full_transitive_checks_all", "FULL_TRANSITIVE", {rec(k_a), rec(k_a + "," + k_b_default)}, rec(k_a + "," + k_b), false},
        // JSON Schema.
        {"json_backward_property_type_widened", "BACKWARD", {R"({"type":"object","properties":{"n":{"type":"integer"}}})"},
         R"({"type":"object","properties":{"n":{"type":"number"}}})", true, "JSON"},
        {"json_backward_property_type_narrowed", "BACKWARD", {R"({"type":"object","properties":{"n":{"type":"number"}}})"},
         R"({"type":"object","properties":{"n":{"type":"integer"}}})", false, "JSON"},
        {"json_backward_required_added", "BACKWARD", {R"({"type":"object","properties":{"n":{"type":"string"}}})"},
         R"({"type":"object","properties":{"n":{"type":"string"}},"required":["n"]})", false, "JSON"},
        {"json_backward_property_added_to_closed_model", "BACKWARD",
         {R"({"type":"object","properties":{"n":{"type":"string"}},"additionalProperties":false})"},
         R"({"type":"object","properties":{"n":{"type":"string"},"m":{"type":"string"}},"additionalProperties":false})", true, "JSON"},
        {"json_backward_property_added_to_open_model", "BACKWARD", {R"({"type":"object","properties":{"n":{"type":"string"}}})"},
         R"({"type":"object","properties":{"n":{"type":"string"},"m":{"type":"string"}}})", false, "JSON"},
        {"json_backward_enum_narrowed", "BACKWARD", {R"({"type":"string","enum":["a","b"]})"}, R"({"type":"string","enum":["a"]})", false,
         "JSON"},
        {"json_forward_required_added", "FORWARD", {R"({"type":"object","properties":{"n":{"type":"string"}}})"},
         R"({"type":"object","properties":{"n":{"type":"string"}},"required":["n"]})", true, "JSON"},
    };
}

class compatibility_table_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() { cluster_ = new registry_cluster(); }
    static void TearDownTestSuite() {
        delete cluster_;
        cluster_ = nullptr;
    }
    static registry_cluster* cluster_;
};
registry_cluster* compatibility_table_test::cluster_ = nullptr;

TEST_F(compatibility_table_test, every_case_gets_its_expected_verdict) {
    ASSERT_TRUE(cluster_->registry.proc);
    const std::string& address = cluster_->registry.address;
    for (const auto& c : cases()) {
        SCOPED_TRACE(c.name);
        std::string subject = std::string("compat-") + c.name;
        ASSERT_EQ(call(address, "PUT", "/config/" + subject, R"({"compatibility":"NONE"})").status, 200);
        for (const auto& existing : c.existing) {
            reply r = call(address, "POST", "/subjects/" + subject + "/versions", schema_body(existing, c.type));
            ASSERT_EQ(r.status, 200) << r.body;
        }
        ASSERT_EQ(call(address, "PUT", "/config/" + subject, std::string(R"({"compatibility":")") + c.level + "\"}").status, 200);
        reply check = call(address, "POST", "/compatibility/subjects/" + subject + "/versions?verbose=true", schema_body(c.candidate, c.type));
        ASSERT_EQ(check.status, 200) << check.body;
        EXPECT_EQ(check.json.find("is_compatible")->boolean, c.compatible) << check.body;
        reply reg = call(address, "POST", "/subjects/" + subject + "/versions", schema_body(c.candidate, c.type));
        EXPECT_EQ(reg.status, c.compatible ? 200 : 409) << reg.body;
        if (!c.compatible) {
            EXPECT_FALSE(check.json.find("messages")->items.empty());
        }
    }
}

}  // namespace
}  // namespace millrace::testing
