#include "millrace/avro/schema.h"

#include <gtest/gtest.h>

namespace millrace::avro {
namespace {

std::string error_of(std::string_view text) {
    auto s = schema::parse(text);
    return s.ok() ? std::string("<parsed>") : s.err().message();
}

TEST(schema_test, primitives_bare_and_wrapped) {
    for (const char* text : {"\"int\"", "int", "{\"type\":\"int\"}", " \"int\" "}) {
        auto s = schema::parse(text);
        ASSERT_TRUE(s.ok()) << text << ": " << s.err().message();
        EXPECT_EQ(s->root().type, type::int_);
        EXPECT_EQ(s->canonical_form(), "\"int\"");
    }
}

TEST(schema_test, canonical_form_follows_the_spec) {
    auto s = schema::parse(R"({"type":"record","namespace":"com.example","name":"User","doc":"a user",
        "fields":[{"name":"id","type":"long","doc":"key","default":0},
                  {"name":"tags","type":{"type":"array","items":"string"}},
                  {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
                  {"name":"next","type":["null","User"]},
                  {"name":"digest","type":{"type":"fixed","name":"md5","namespace":"h","size":16}},
                  {"name":"id2","type":{"type":"string","logicalType":"uuid"}}]})");
    ASSERT_TRUE(s.ok()) << s.err().message();
    // The same text as fastavro 1.9.7's to_parsing_canonical_form, fingerprint 964a48b752bfb7b4 there.
    EXPECT_EQ(s->fingerprint(), 0xb4b7bf52b7484a96ULL);
    EXPECT_EQ(s->canonical_form(),
              R"({"name":"com.example.User","type":"record","fields":[{"name":"id","type":"long"},)"
              R"({"name":"tags","type":{"type":"array","items":"string"}},)"
              R"({"name":"kind","type":{"name":"com.example.Kind","type":"enum","symbols":["A","B"]}},)"
              R"({"name":"next","type":["null","com.example.User"]},)"
              R"({"name":"digest","type":{"name":"h.md5","type":"fixed","size":16}},)"
              R"({"name":"id2","type":"string"}]})");
}

TEST(schema_test, fingerprint_is_crc64_avro) {
    // Values from the Avro specification's reference algorithm, computed independently with fastavro.
    EXPECT_EQ(fingerprint64(""), 0xc15d213aa4d7a795ULL);
    auto s = schema::parse("\"int\"");
    ASSERT_TRUE(s.ok());
    // fastavro 1.9.7: fingerprint(to_parsing_canonical_form("int"), "CRC-64-AVRO") == "8f5c393f1ad57572",
    // its hex being the fingerprint's bytes little-endian, as the specification writes them.
    EXPECT_EQ(s->fingerprint(), 0x7275d51a3f395c8fULL);
    EXPECT_NE(s->fingerprint(), schema::parse("\"long\"")->fingerprint());
}

TEST(schema_test, whitespace_and_attribute_order_do_not_change_the_normalized_form) {
    auto a = schema::parse(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1}]})");
    auto b = schema::parse(R"({ "fields" : [ { "default": 1, "type": "int", "name": "a" } ],
                                "name": "R", "type": "record" })");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->normalized(), b->normalized());
    auto c = schema::parse(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":2}]})");
    EXPECT_NE(a->normalized(), c->normalized());
    EXPECT_EQ(a->canonical_form(), c->canonical_form());
}

TEST(schema_test, normalized_form_reparses_to_itself) {
    auto a = schema::parse(R"({"type":"record","name":"a.R","fields":[
        {"name":"x","type":{"type":"record","name":"Inner","namespace":"","fields":[]}},
        {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
        {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"},"default":0},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"],"default":"X"}}]})");
    ASSERT_TRUE(a.ok()) << a.err().message();
    auto b = schema::parse(a->normalized());
    ASSERT_TRUE(b.ok()) << b.err().message() << "\n" << a->normalized();
    EXPECT_EQ(a->normalized(), b->normalized());
    EXPECT_NE(b->find_named("Inner"), nullptr);
    EXPECT_EQ(a->root().fields[1].type->logical_type, "decimal");
    EXPECT_EQ(a->root().fields[1].type->precision, 10);
}

TEST(schema_test, logical_types) {
    auto s = schema::parse(R"({"type":"record","name":"R","fields":[
        {"name":"u","type":{"type":"string","logicalType":"uuid"}},
        {"name":"d","type":{"type":"int","logicalType":"date"}},
        {"name":"tm","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"tu","type":{"type":"long","logicalType":"timestamp-micros"}},
        {"name":"dec","type":{"type":"fixed","name":"F","size":8,"logicalType":"decimal","precision":18,"scale":4}},
        {"name":"bad","type":{"type":"int","logicalType":"uuid"}},
        {"name":"toobig","type":{"type":"fixed","name":"G","size":2,"logicalType":"decimal","precision":10}},
        {"name":"scale","type":{"type":"bytes","logicalType":"decimal","precision":2,"scale":3}}]})");
    ASSERT_TRUE(s.ok()) << s.err().message();
    const auto& f = s->root().fields;
    EXPECT_EQ(f[0].type->logical_type, "uuid");
    EXPECT_EQ(f[1].type->logical_type, "date");
    EXPECT_EQ(f[2].type->logical_type, "timestamp-millis");
    EXPECT_EQ(f[3].type->logical_type, "timestamp-micros");
    EXPECT_EQ(f[4].type->logical_type, "decimal");
    // Invalid annotations are ignored, as the specification says.
    EXPECT_EQ(f[5].type->logical_type, "");
    EXPECT_EQ(f[6].type->logical_type, "");
    EXPECT_EQ(f[7].type->logical_type, "");
}

TEST(schema_test, namespaces_and_references_by_name) {
    auto s = schema::parse(R"({"type":"record","name":"Outer","namespace":"n1","fields":[
        {"name":"a","type":{"type":"record","name":"Inner","fields":[]}},
        {"name":"b","type":"Inner"},
        {"name":"c","type":"n1.Inner"},
        {"name":"d","type":{"type":"record","name":"n2.Other","fields":[{"name":"x","type":"n1.Inner"}]}}]})");
    ASSERT_TRUE(s.ok()) << s.err().message();
    EXPECT_NE(s->find_named("n1.Inner"), nullptr);
    EXPECT_NE(s->find_named("n2.Other"), nullptr);
    EXPECT_EQ(s->root().fields[1].type, s->root().fields[0].type);
}

TEST(schema_test, references_supply_named_types) {
    std::string address = R"({"type":"record","name":"Address","namespace":"x","fields":[{"name":"city","type":"string"}]})";
    auto s = schema::parse(R"({"type":"record","name":"x.User","fields":[{"name":"home","type":"x.Address"}]})", {address});
    ASSERT_TRUE(s.ok()) << s.err().message();
    EXPECT_EQ(s->normalized(), R"({"name":"x.User","type":"record","fields":[{"name":"home","type":"x.Address"}]})");
    EXPECT_NE(error_of(R"({"type":"record","name":"x.User","fields":[{"name":"home","type":"x.Address"}]})").find("unknown type name"),
              std::string::npos);
}

TEST(schema_test, invalid_schemas_name_what_is_wrong) {
    struct bad_case {
        const char* text;
        const char* message;
    };
    const bad_case cases[] = {
        {R"({"type":"record","name":"1R","fields":[]})", "is not a valid name"},
        {R"({"type":"record","name":"R","namespace":"a..b","fields":[]})", "not a valid namespace"},
        {R"({"type":"record","fields":[]})", "needs a string \"name\""},
        {R"({"type":"record","name":"R"})", "\"fields\" must be an array"},
        {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"long"}]})", "duplicate field name"},
        {R"({"type":"record","name":"R","fields":[{"name":"a"}]})", "missing \"type\""},
        {R"({"type":"record","name":"R","fields":[{"name":"a","type":"Nope"}]})", "unknown type name \"Nope\""},
        {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]})", "invalid default \"x\""},
        {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","default":4294967296}]})", "invalid default"},
        {R"({"type":"record","name":"R","fields":[{"name":"a","type":["null","int"],"default":1}]})", "invalid default 1"},
        {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int","order":"up"}]})", "order must be"},
        {R"({"type":"enum","name":"E","symbols":["A","A"]})", "appears twice"},
        {R"({"type":"enum","name":"E","symbols":["A","1B"]})", "not a valid name"},
        {R"({"type":"enum","name":"E","symbols":["A"],"default":"B"})", "not one of its symbols"},
        {R"({"type":"fixed","name":"F","size":-1})", "non-negative integer"},
        {R"({"type":"fixed","name":"F"})", "non-negative integer"},
        {R"({"type":"array"})", "array without \"items\""},
        {R"({"type":"map"})", "map without \"values\""},
        {R"(["int","int"])", "two branches of type int"},
        {R"(["null",["int"]])", "may not directly contain a union"},
        {R"([])", "at least one branch"},
        {R"({"type":"record","name":"int","fields":[]})", "redefines a primitive"},
        {R"({"type":"record","name":"R","fields":[{"name":"a","type":{"type":"enum","name":"R","symbols":["X"]}}]})", "defined twice"},
        {R"({"type":"nope"})", "unknown type name \"nope\""},
        {R"(42)", "must be a string, an object or an array"},
        {R"({"name":"x"})", "missing \"type\""},
        {R"({"type":"record","name":"R","fields":[}])", "schema is not JSON"},
    };
    for (const auto& c : cases) {
        std::string message = error_of(c.text);
        EXPECT_NE(message.find(c.message), std::string::npos) << c.text << " -> " << message;
    }
}

TEST(schema_test, defaults_of_every_type) {
    auto s = schema::parse(R"({"type":"record","name":"R","fields":[
        {"name":"n","type":"null","default":null},
        {"name":"b","type":"boolean","default":true},
        {"name":"l","type":"long","default":-5},
        {"name":"f","type":"float","default":1.5},
        {"name":"d","type":"double","default":2},
        {"name":"by","type":"bytes","default":"\u00ff"},
        {"name":"s","type":"string","default":"x"},
        {"name":"a","type":{"type":"array","items":"int"},"default":[1,2]},
        {"name":"m","type":{"type":"map","values":"int"},"default":{"k":1}},
        {"name":"fx","type":{"type":"fixed","name":"F","size":2},"default":"ab"},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["A"]},"default":"A"},
        {"name":"r","type":{"type":"record","name":"S","fields":[{"name":"x","type":"int","default":3}]},"default":{}},
        {"name":"u","type":["null","string"],"default":null}]})");
    ASSERT_TRUE(s.ok()) << s.err().message();
    EXPECT_NE(error_of(R"({"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"int"},"default":["x"]}]})")
                  .find("[0]"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"type":"record","name":"R","fields":[{"name":"r","type":{"type":"record","name":"S",
                 "fields":[{"name":"x","type":"int"}]},"default":{}}]})")
                  .find("x: missing"),
              std::string::npos);
}

}  // namespace
}  // namespace millrace::avro
