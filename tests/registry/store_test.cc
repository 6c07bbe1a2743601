#include "store.h"

#include <gtest/gtest.h>

namespace millrace::registry {
namespace {

schema_content avro_text(std::string text) { return schema_content{"AVRO", std::move(text), {}}; }

TEST(store_test, schema_records_build_subjects_and_ids) {
    store s;
    ASSERT_TRUE(s.apply(store::schema_key("a", 1), store::schema_value("a", 1, 1, avro_text("\"int\""), false)).ok());
    ASSERT_TRUE(s.apply(store::schema_key("b", 1), store::schema_value("b", 1, 1, avro_text("\"int\""), false)).ok());
    ASSERT_TRUE(s.apply(store::schema_key("a", 2), store::schema_value("a", 2, 2, avro_text("\"long\""), false)).ok());
    EXPECT_EQ(s.max_id(), 2);
    EXPECT_EQ(s.id_of(avro_text("\"int\"")), 1);
    EXPECT_EQ(s.id_of(avro_text("\"string\"")), 0);
    EXPECT_EQ(s.subject_names(false), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(s.uses_of(1, false).size(), 2u);
}

TEST(store_test, soft_delete_then_tombstone) {
    store s;
    ASSERT_TRUE(s.apply(store::schema_key("a", 1), store::schema_value("a", 1, 3, avro_text("\"int\""), false)).ok());
    ASSERT_TRUE(s.apply(store::schema_key("a", 1), store::schema_value("a", 1, 3, avro_text("\"int\""), true)).ok());
    EXPECT_TRUE(s.subject_names(false).empty());
    EXPECT_EQ(s.subject_names(true), std::vector<std::string>{"a"});
    EXPECT_NE(s.schema_by_id(3), nullptr);
    ASSERT_TRUE(s.apply(store::schema_key("a", 1), std::nullopt).ok());
    EXPECT_EQ(s.schema_by_id(3), nullptr);
    EXPECT_EQ(s.id_of(avro_text("\"int\"")), 0);
    EXPECT_EQ(s.max_id(), 3);  // in memory; the watermark record carries it across restarts
}

TEST(store_test, watermark_keeps_ids_from_repeating) {
    store s;
    ASSERT_TRUE(s.apply(store::watermark_key(), store::watermark_value(41)).ok());
    EXPECT_EQ(s.max_id(), 41);
    ASSERT_TRUE(s.apply(store::schema_key("a", 1), store::schema_value("a", 1, 7, avro_text("\"int\""), false)).ok());
    EXPECT_EQ(s.max_id(), 41);
}

TEST(store_test, config_and_mode_records) {
    store s;
    ASSERT_TRUE(s.apply(store::config_key(std::nullopt), store::config_value("FULL")).ok());
    ASSERT_TRUE(s.apply(store::config_key(std::string("a")), store::config_value("NONE")).ok());
    ASSERT_TRUE(s.apply(store::mode_key(std::nullopt), store::mode_value("READONLY")).ok());
    EXPECT_EQ(s.global_compatibility(), "FULL");
    EXPECT_EQ(s.subject("a")->compatibility, "NONE");
    EXPECT_EQ(s.global_mode(), "READONLY");
    ASSERT_TRUE(s.apply(store::config_key(std::string("a")), std::nullopt).ok());
    EXPECT_FALSE(s.subject("a")->compatibility.has_value());
}

TEST(store_test, confluent_records_are_understood) {
    // Records as Confluent Schema Registry writes them, including key types we ignore.
    store s;
    ASSERT_TRUE(s.apply(R"({"keytype":"SCHEMA","subject":"t-value","version":1,"magic":1})",
                        std::string(R"({"subject":"t-value","version":1,"id":21,"schemaType":"JSON","schema":"{}","deleted":false})"))
                    .ok());
    ASSERT_TRUE(s.apply(R"({"keytype":"NOOP","magic":0})", std::nullopt).ok());
    ASSERT_TRUE(s.apply(R"({"keytype":"DELETE_SUBJECT","subject":"t-value","magic":0})", std::string(R"({"subject":"t-value","version":1})")).ok());
    EXPECT_EQ(s.schema_by_id(21)->type, "JSON");
    EXPECT_EQ(s.max_id(), 21);
}

TEST(store_test, corrupt_records_are_errors_that_change_nothing) {
    store s;
    const std::pair<std::string, std::optional<std::string>> bad[] = {
        {"not json", std::string("{}")},
        {R"({"magic":1})", std::string("{}")},
        {R"({"keytype":"SCHEMA","version":1})", std::string("{}")},
        {R"({"keytype":"SCHEMA","subject":"a","version":1})", std::string("{oops")},
        {R"({"keytype":"SCHEMA","subject":"a","version":1})", std::string(R"({"id":1})")},
        {R"({"keytype":"SCHEMA","subject":"a","version":1})", std::string(R"({"id":-4,"schema":"\"int\""})")},
        {R"({"keytype":"SCHEMA","subject":"a","version":1})", std::string(R"({"id":1,"schema":"\"int\"","references":[{"name":"x"}]})")},
        {R"({"keytype":"CONFIG","subject":null})", std::string(R"({"level":"FULL"})")},
        {R"({"keytype":"MODE","subject":5})", std::string(R"({"mode":"READONLY"})")},
        {R"({"keytype":"ID_WATERMARK"})", std::string(R"({"max":3})")},
    };
    for (const auto& [key, value] : bad) {
        status st = s.apply(key, value);
        EXPECT_FALSE(st.ok()) << key << " " << value.value_or("null");
        if (!st.ok()) {
            EXPECT_EQ(st.err().code(), errc::corruption);
        }
    }
    EXPECT_TRUE(s.subject_names(true).empty());
    EXPECT_EQ(s.max_id(), 0);
}

}  // namespace
}  // namespace millrace::registry
