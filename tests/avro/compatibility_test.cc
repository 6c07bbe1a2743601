#include "millrace/avro/compatibility.h"

#include <gtest/gtest.h>

namespace millrace::avro {
namespace {

// Reasons `reader` cannot read `writer`, joined; "" when compatible.
std::string verdict(const std::string& writer, const std::string& reader) {
    auto w = schema::parse(writer);
    auto r = schema::parse(reader);
    EXPECT_TRUE(w.ok()) << writer;
    EXPECT_TRUE(r.ok()) << reader;
    if (!w.ok() || !r.ok()) return "<parse error>";
    std::string out;
    for (const auto& reason : check_can_read(w->root(), r->root())) out += reason.to_string() + "\n";
    return out;
}

std::string record(const std::string& fields, const std::string& name = "R") {
    return R"({"type":"record","name":")" + name + R"(","fields":[)" + fields + "]}";
}

TEST(compatibility_test, identical_schemas) {
    EXPECT_EQ(verdict(record(R"({"name":"a","type":"int"})"), record(R"({"name":"a","type":"int"})")), "");
}

TEST(compatibility_test, promotions) {
    const std::pair<const char*, const char*> ok[] = {{"int", "long"}, {"int", "float"}, {"int", "double"}, {"long", "float"},
                                                      {"long", "double"}, {"float", "double"}, {"string", "bytes"}, {"bytes", "string"}};
    for (const auto& [w, r] : ok) EXPECT_EQ(verdict(std::string("\"") + w + "\"", std::string("\"") + r + "\""), "") << w << "->" << r;
    const std::pair<const char*, const char*> bad[] = {{"long", "int"}, {"double", "float"}, {"float", "long"}, {"string", "int"},
                                                       {"boolean", "int"}, {"null", "string"}};
    for (const auto& [w, r] : bad) {
        EXPECT_NE(verdict(std::string("\"") + w + "\"", std::string("\"") + r + "\"").find("TYPE_MISMATCH at /"), std::string::npos)
            << w << "->" << r;
    }
}

TEST(compatibility_test, field_added_needs_a_default) {
    std::string v1 = record(R"({"name":"a","type":"int"})");
    std::string with_default = record(R"({"name":"a","type":"int"},{"name":"b","type":"string","default":""})");
    std::string without_default = record(R"({"name":"a","type":"int"},{"name":"b","type":"string"})");
    EXPECT_EQ(verdict(v1, with_default), "");
    std::string reasons = verdict(v1, without_default);
    EXPECT_NE(reasons.find("READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1"), std::string::npos) << reasons;
    EXPECT_NE(reasons.find("\"b\""), std::string::npos);
}

TEST(compatibility_test, field_removed_is_readable) {
    EXPECT_EQ(verdict(record(R"({"name":"a","type":"int"},{"name":"b","type":"string"})"), record(R"({"name":"a","type":"int"})")), "");
}

TEST(compatibility_test, field_renamed_through_an_alias) {
    EXPECT_EQ(verdict(record(R"({"name":"old","type":"int"})"), record(R"({"name":"new","type":"int","aliases":["old"]})")), "");
    EXPECT_NE(verdict(record(R"({"name":"old","type":"int"})"), record(R"({"name":"new","type":"int"})")), "");
}

TEST(compatibility_test, field_type_changed) {
    std::string reasons = verdict(record(R"({"name":"a","type":"string"})"), record(R"({"name":"a","type":"int"})"));
    EXPECT_NE(reasons.find("TYPE_MISMATCH at /fields/0/type"), std::string::npos) << reasons;
}

TEST(compatibility_test, record_names) {
    EXPECT_NE(verdict(record("", "A"), record("", "B")).find("NAME_MISMATCH"), std::string::npos);
    EXPECT_EQ(verdict(record("", "A"), R"({"type":"record","name":"B","aliases":["A"],"fields":[]})"), "");
    // Namespaces may differ: unqualified names are compared.
    EXPECT_EQ(verdict(record("", "x.A"), record("", "y.A")), "");
}

TEST(compatibility_test, enum_symbols) {
    std::string ab = R"({"type":"enum","name":"E","symbols":["A","B"]})";
    std::string abc = R"({"type":"enum","name":"E","symbols":["A","B","C"]})";
    std::string ab_default = R"({"type":"enum","name":"E","symbols":["A","B"],"default":"A"})";
    EXPECT_EQ(verdict(ab, abc), "");
    std::string reasons = verdict(abc, ab);
    EXPECT_NE(reasons.find("MISSING_ENUM_SYMBOLS at /symbols"), std::string::npos) << reasons;
    EXPECT_NE(reasons.find("[C]"), std::string::npos) << reasons;
    EXPECT_EQ(verdict(abc, ab_default), "");
}

TEST(compatibility_test, fixed_size) {
    EXPECT_NE(verdict(R"({"type":"fixed","name":"F","size":4})", R"({"type":"fixed","name":"F","size":8})").find("FIXED_SIZE_MISMATCH"),
              std::string::npos);
    EXPECT_EQ(verdict(R"({"type":"fixed","name":"F","size":4})", R"({"type":"fixed","name":"F","size":4})"), "");
}

TEST(compatibility_test, unions) {
    // Writer non-union into a reader union: some branch must fit (with promotion).
    EXPECT_EQ(verdict("\"int\"", R"(["null","long"])"), "");
    EXPECT_NE(verdict("\"string\"", R"(["null","long"])").find("MISSING_UNION_BRANCH"), std::string::npos);
    // Writer union: every branch must be readable.
    EXPECT_EQ(verdict(R"(["null","int"])", R"(["null","long","string"])"), "");
    EXPECT_NE(verdict(R"(["null","string"])", R"(["null","int"])").find("MISSING_UNION_BRANCH"), std::string::npos);
    EXPECT_NE(verdict(R"(["null","int"])", "\"int\"").find("TYPE_MISMATCH"), std::string::npos);
    EXPECT_EQ(verdict(R"(["int"])", "\"long\""), "");
    // Making a field nullable is backward compatible; the reverse is not.
    EXPECT_EQ(verdict(record(R"({"name":"a","type":"int"})"), record(R"({"name":"a","type":["null","int"],"default":null})")), "");
    EXPECT_NE(verdict(record(R"({"name":"a","type":["null","int"],"default":null})"), record(R"({"name":"a","type":"int"})")), "");
}

TEST(compatibility_test, arrays_and_maps) {
    EXPECT_EQ(verdict(R"({"type":"array","items":"int"})", R"({"type":"array","items":"long"})"), "");
    EXPECT_NE(verdict(R"({"type":"array","items":"long"})", R"({"type":"array","items":"int"})").find("/items"), std::string::npos);
    EXPECT_NE(verdict(R"({"type":"map","values":"long"})", R"({"type":"map","values":"int"})").find("/values"), std::string::npos);
    EXPECT_NE(verdict(R"({"type":"map","values":"int"})", R"({"type":"array","items":"int"})").find("TYPE_MISMATCH"), std::string::npos);
}

TEST(compatibility_test, recursive_records_terminate) {
    std::string list = record(R"({"name":"v","type":"int"},{"name":"next","type":["null","R"]})");
    std::string wider = record(R"({"name":"v","type":"long"},{"name":"next","type":["null","R"]})");
    EXPECT_EQ(verdict(list, wider), "");
    EXPECT_NE(verdict(wider, list), "");
}

TEST(compatibility_test, nested_paths_point_into_the_reader) {
    std::string w = record(R"({"name":"x","type":"int"},{"name":"inner","type":)" + record(R"({"name":"a","type":"int"})", "I") + "}");
    std::string r = record(R"({"name":"x","type":"int"},{"name":"inner","type":)" + record(R"({"name":"a","type":"int"},{"name":"b","type":"int"})", "I") + "}");
    EXPECT_NE(verdict(w, r).find("at /fields/1/type/fields/1"), std::string::npos) << verdict(w, r);
}

}  // namespace
}  // namespace millrace::avro
