#include "json_schema.h"

#include <gtest/gtest.h>

namespace millrace::registry::json_schema {
namespace {

std::string verdict(const char* writer, const char* reader) {
    auto w = parse(writer);
    auto r = parse(reader);
    EXPECT_TRUE(w.ok() && r.ok());
    std::string out;
    for (const auto& reason : check_can_read(*w, *r)) out += reason + "\n";
    return out;
}

TEST(json_schema_test, structure_errors) {
    EXPECT_NE(parse(R"({"type":"thing"})").err().message().find("/type: \"thing\" is not a JSON Schema type"), std::string::npos);
    EXPECT_NE(parse(R"({"properties":[]})").err().message().find("/properties: must be an object"), std::string::npos);
    EXPECT_NE(parse(R"({"required":[1]})").err().message().find("/required"), std::string::npos);
    EXPECT_NE(parse(R"({"properties":{"a":{"type":5}}})").err().message().find("/properties/a/type"), std::string::npos);
    EXPECT_NE(parse("42").err().message().find("object or a boolean"), std::string::npos);
    EXPECT_NE(parse("{").err().message().find("schema is not JSON"), std::string::npos);
    EXPECT_TRUE(parse("true").ok());
}

TEST(json_schema_test, types) {
    EXPECT_EQ(verdict(R"({"type":"integer"})", R"({"type":"number"})"), "");
    EXPECT_NE(verdict(R"({"type":"number"})", R"({"type":"integer"})").find("TYPE_CHANGED at /type"), std::string::npos);
    EXPECT_EQ(verdict(R"({"type":"string"})", R"({"type":["string","null"]})"), "");
    EXPECT_NE(verdict(R"({})", R"({"type":"string"})").find("TYPE_NARROWED"), std::string::npos);
    EXPECT_EQ(verdict(R"({"type":"string"})", R"({})"), "");
}

TEST(json_schema_test, properties_and_content_models) {
    EXPECT_NE(verdict(R"({"properties":{"a":{}}})", R"({"properties":{"a":{}},"required":["a"]})").find("REQUIRED_PROPERTY_ADDED"),
              std::string::npos);
    EXPECT_NE(verdict(R"({"properties":{}})", R"({"properties":{"b":{"type":"string"}}})").find("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at /properties/b"),
              std::string::npos);
    EXPECT_EQ(verdict(R"({"properties":{},"additionalProperties":false})", R"({"properties":{"b":{"type":"string"}}})"), "");
    EXPECT_NE(verdict(R"({"properties":{"a":{}}})", R"({"properties":{},"additionalProperties":false})").find("ADDITIONAL_PROPERTIES_REMOVED"),
              std::string::npos);
    EXPECT_NE(verdict(R"({"properties":{"a":{}}})", R"({"properties":{},"additionalProperties":false})").find("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
              std::string::npos);
    EXPECT_NE(verdict(R"({"properties":{"a":{"type":"string"}}})", R"({"properties":{"a":{"type":"integer"}}})").find("/properties/a/type"),
              std::string::npos);
}

TEST(json_schema_test, bounds_enums_items) {
    EXPECT_NE(verdict(R"({"maxLength":10})", R"({"maxLength":5})").find("MAX_LENGTH_DECREASED"), std::string::npos);
    EXPECT_EQ(verdict(R"({"maxLength":5})", R"({"maxLength":10})"), "");
    EXPECT_NE(verdict(R"({"minimum":0})", R"({"minimum":1})").find("MINIMUM_INCREASED"), std::string::npos);
    EXPECT_NE(verdict(R"({"enum":["a","b"]})", R"({"enum":["a"]})").find("ENUM_ARRAY_NARROWED"), std::string::npos);
    EXPECT_EQ(verdict(R"({"enum":["a"]})", R"({"enum":["a","b"]})"), "");
    EXPECT_NE(verdict(R"({"type":"array","items":{"type":"number"}})", R"({"type":"array","items":{"type":"integer"}})").find("/items/type"),
              std::string::npos);
    EXPECT_NE(verdict("true", "false").find("TYPE_NARROWED"), std::string::npos);
}

}  // namespace
}  // namespace millrace::registry::json_schema
