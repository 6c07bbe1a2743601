#include "millrace/avro/codec.h"

#include <gtest/gtest.h>

#include <random>

#include "millrace/avro/wire.h"

namespace millrace::avro {
namespace {

schema parse_schema(std::string_view text) {
    auto s = schema::parse(text);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.err().message());
    return *s;
}

json::value parse_json(std::string_view text) {
    auto v = json::parse(text);
    EXPECT_TRUE(v.ok());
    return *v;
}

std::string hex(std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
    return out;
}

const char* k_user = R"({"type":"record","name":"User","fields":[
    {"name":"id","type":"long"},
    {"name":"name","type":"string"},
    {"name":"email","type":["null","string"],"default":null},
    {"name":"score","type":"double","default":0},
    {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]},"default":"A"},
    {"name":"tags","type":{"type":"array","items":"string"},"default":[]},
    {"name":"attrs","type":{"type":"map","values":"int"},"default":{}},
    {"name":"raw","type":"bytes","default":""},
    {"name":"ok","type":"boolean","default":true},
    {"name":"f","type":"float","default":0},
    {"name":"digest","type":{"type":"fixed","name":"D","size":2},"default":"\u0000\u00ff"}]})";

TEST(codec_test, zigzag_varints_match_the_spec) {
    std::string out;
    for (int64_t v : {0, -1, 1, -2, 2, -64, 64, 8192}) write_long(out, v);
    EXPECT_EQ(hex(out), "00010203047f8001808001");
}

TEST(codec_test, record_round_trip) {
    schema s = parse_schema(k_user);
    auto doc = parse_json(R"({"id":7,"name":"ann","email":"a@b","score":1.5,"kind":"B","tags":["x","y"],"attrs":{"k":3},
        "raw":"\u0001\u00ff","ok":false,"f":0.5,"digest":"ab"})");
    auto bytes = encode(s.root(), doc);
    ASSERT_TRUE(bytes.ok()) << bytes.err().message();
    auto back = decode(*bytes, s.root());
    ASSERT_TRUE(back.ok()) << back.err().message();
    EXPECT_EQ(json::dump(*back), json::dump(doc));
}

TEST(codec_test, spec_example_bytes) {
    // The spec's record example: {"a": 27, "b": "foo"} encodes as 36 06 66 6f 6f.
    schema s = parse_schema(R"({"type":"record","name":"test","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]})");
    auto bytes = encode(s.root(), parse_json(R"({"a":27,"b":"foo"})"));
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(hex(*bytes), "3606666f6f");
    // Union ["null","string"]: null is 00, "a" is 02 02 61.
    schema u = parse_schema(R"(["null","string"])");
    EXPECT_EQ(hex(*encode(u.root(), parse_json("null"))), "00");
    EXPECT_EQ(hex(*encode(u.root(), parse_json("\"a\""))), "020261");
    EXPECT_EQ(hex(*encode(u.root(), parse_json(R"({"string":"a"})"))), "020261");
    // Array [3, 27] of long: 04 06 36 00.
    schema a = parse_schema(R"({"type":"array","items":"long"})");
    EXPECT_EQ(hex(*encode(a.root(), parse_json("[3,27]"))), "04063600");
}

TEST(codec_test, missing_fields_take_defaults) {
    schema s = parse_schema(k_user);
    auto bytes = encode(s.root(), parse_json(R"({"id":1,"name":"n"})"));
    ASSERT_TRUE(bytes.ok()) << bytes.err().message();
    auto back = decode(*bytes, s.root());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(json::dump(*back->find("email")), "null");
    EXPECT_EQ(back->find("kind")->text, "A");
}

TEST(codec_test, wrapped_unions_on_request) {
    schema s = parse_schema(R"({"type":"record","name":"R","fields":[{"name":"u","type":["null","string","R"]}]})");
    auto bytes = encode(s.root(), parse_json(R"({"u":{"R":{"u":"x"}}})"));
    ASSERT_TRUE(bytes.ok()) << bytes.err().message();
    auto back = decode(*bytes, s.root(), decode_options{.wrap_unions = true});
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(json::dump(*back), R"({"u":{"R":{"u":{"string":"x"}}}})");
}

TEST(codec_test, encode_errors_name_the_path) {
    schema s = parse_schema(k_user);
    struct bad_case {
        const char* doc;
        const char* message;
    };
    for (const auto& c : {bad_case{R"({"name":"n"})", "id: missing"}, bad_case{R"({"id":"x","name":"n"})", "id: \"x\" is not a valid long"},
                          bad_case{R"({"id":1,"name":"n","kind":"Z"})", "kind: \"Z\" is not a valid enum"},
                          bad_case{R"({"id":1,"name":"n","tags":[1]})", "tags[0]"},
                          bad_case{R"({"id":1,"name":"n","email":5})", "email: 5 is not a valid union"},
                          bad_case{R"({"id":1,"name":"n","digest":"abc"})", "3 bytes for fixed \"D\" of size 2"},
                          bad_case{R"([])", "is not a valid record"}}) {
        auto bytes = encode(s.root(), parse_json(c.doc));
        ASSERT_FALSE(bytes.ok()) << c.doc;
        EXPECT_NE(bytes.err().message().find(c.message), std::string::npos) << c.doc << " -> " << bytes.err().message();
    }
    schema i = parse_schema("\"int\"");
    EXPECT_FALSE(encode(i.root(), parse_json("2147483648")).ok());
}

// One test per decoder error branch.
std::string decode_error(std::string_view schema_text, std::string bytes) {
    schema s = parse_schema(schema_text);
    auto v = decode(bytes, s.root());
    return v.ok() ? "<decoded>" : v.err().message();
}

TEST(codec_test, truncated_varint) { EXPECT_EQ(decode_error("\"long\"", "\x80"), "at byte 1: unexpected end of data inside a varint"); }

TEST(codec_test, varint_too_long) {
    EXPECT_EQ(decode_error("\"long\"", std::string(11, '\xff')), "at byte 10: varint longer than 10 bytes");
}

TEST(codec_test, int_out_of_range) {
    std::string big;
    write_long(big, int64_t{1} << 40);
    EXPECT_NE(decode_error("\"int\"", big).find("out of the 32-bit range"), std::string::npos);
}

TEST(codec_test, negative_length) { EXPECT_EQ(decode_error("\"string\"", "\x01"), "at byte 0: negative length -1"); }

TEST(codec_test, length_beyond_the_data) {
    EXPECT_EQ(decode_error("\"bytes\"", std::string("\x08" "ab", 3)), "at byte 1: length 4 exceeds the 2 bytes left");
}

TEST(codec_test, truncated_fixed_float_double) {
    EXPECT_NE(decode_error(R"({"type":"fixed","name":"F","size":4})", "ab").find("fixed \"F\" (4 bytes needed, 2 left)"), std::string::npos);
    EXPECT_NE(decode_error("\"float\"", "abc").find("a float"), std::string::npos);
    EXPECT_NE(decode_error("\"double\"", "abc").find("a double"), std::string::npos);
}

TEST(codec_test, bad_boolean_byte) { EXPECT_EQ(decode_error("\"boolean\"", "\x02"), "at byte 0: boolean byte 2 is neither 0 nor 1"); }

TEST(codec_test, union_branch_out_of_range) {
    EXPECT_EQ(decode_error(R"(["null","int"])", "\x04"), "at byte 0: union branch 2 out of range (2 branches)");
    EXPECT_EQ(decode_error(R"(["null","int"])", "\x01"), "at byte 0: union branch -1 out of range (2 branches)");
}

TEST(codec_test, enum_index_out_of_range) {
    EXPECT_EQ(decode_error(R"({"type":"enum","name":"E","symbols":["A"]})", "\x02"), "at byte 0: enum \"E\" index 1 out of range (1 symbols)");
}

TEST(codec_test, trailing_bytes) { EXPECT_EQ(decode_error("\"int\"", std::string("\x02\x00", 2)), "at byte 1: 1 trailing bytes after the datum"); }

TEST(codec_test, block_count_larger_than_the_data) {
    std::string bytes;
    write_long(bytes, 1'000'000);
    EXPECT_NE(decode_error(R"({"type":"array","items":"int"})", bytes).find("block of 1000000 items cannot fit"), std::string::npos);
}

TEST(codec_test, negative_block_count_carries_a_size) {
    std::string bytes;
    write_long(bytes, -2);
    write_long(bytes, 2);
    write_long(bytes, 5);
    write_long(bytes, 6);
    write_long(bytes, 0);
    schema s = parse_schema(R"({"type":"array","items":"int"})");
    auto v = decode(bytes, s.root());
    ASSERT_TRUE(v.ok()) << v.err().message();
    EXPECT_EQ(json::dump(*v), "[5,6]");
}

TEST(codec_test, empty_input) { EXPECT_EQ(decode_error("\"int\"", ""), "at byte 0: unexpected end of data inside a varint"); }

TEST(codec_test, resolution_promotes_adds_defaults_and_skips) {
    schema w = parse_schema(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"gone","type":"string"},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y","Z"]}},{"name":"u","type":"int"}]})");
    schema r = parse_schema(R"({"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["X"],"default":"X"}},
        {"name":"a","type":"double"},{"name":"added","type":"string","default":"d"},{"name":"u","type":["null","long"]}]})");
    auto bytes = encode(w.root(), parse_json(R"({"a":3,"gone":"zzz","e":"Z","u":4})"));
    ASSERT_TRUE(bytes.ok());
    auto v = decode(*bytes, w.root(), r.root());
    ASSERT_TRUE(v.ok()) << v.err().message();
    EXPECT_EQ(json::dump(*v), R"({"e":"X","a":3.0,"added":"d","u":4})");
}

TEST(codec_test, resolution_errors) {
    schema w = parse_schema(R"({"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}}]})");
    schema r = parse_schema(R"({"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["X"]}}]})");
    auto v = decode(*encode(w.root(), parse_json(R"({"e":"Y"})")), w.root(), r.root());
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.err().message().find("symbol \"Y\" is not in the reader's enum"), std::string::npos);
    schema r2 = parse_schema(R"({"type":"record","name":"R","fields":[{"name":"x","type":"int"}]})");
    auto v2 = decode(*encode(w.root(), parse_json(R"({"e":"X"})")), w.root(), r2.root());
    ASSERT_FALSE(v2.ok());
    EXPECT_NE(v2.err().message().find("reader's field \"x\""), std::string::npos);
    schema s = parse_schema("\"string\"");
    schema i = parse_schema("\"int\"");
    auto v3 = decode(*encode(s.root(), parse_json("\"a\"")), s.root(), i.root());
    ASSERT_FALSE(v3.ok());
    EXPECT_NE(v3.err().message().find("cannot be read as int"), std::string::npos);
}

TEST(codec_test, random_and_mutated_bytes_never_crash) {
    // Seeded: every run feeds the same 20,000 inputs. Each must decode or fail with a message.
    schema s = parse_schema(k_user);
    std::mt19937 rng(301);
    auto valid = encode(s.root(), parse_json(R"({"id":7,"name":"ann","tags":["x"],"attrs":{"k":3}})"));
    ASSERT_TRUE(valid.ok());
    int decoded = 0;
    for (int round = 0; round < 20'000; ++round) {
        std::string input;
        if (round % 2 == 0) {
            input = *valid;
            for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips) input[rng() % input.size()] = static_cast<char>(rng());
            if (rng() % 4 == 0) input.resize(rng() % input.size());
        } else {
            input.resize(rng() % 64);
            for (auto& c : input) c = static_cast<char>(rng());
        }
        auto v = decode(input, s.root());
        if (v.ok()) {
            ++decoded;
        } else {
            EXPECT_EQ(v.err().message().rfind("at byte ", 0), 0u) << v.err().message();
        }
    }
    EXPECT_GT(decoded, 0);  // some mutations stay valid (a changed string byte)
}

TEST(codec_test, wire_framing) {
    std::string framed = wire::frame(258, "xy");
    EXPECT_EQ(hex(framed), "00000001027879");
    auto back = wire::unframe(framed);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->schema_id, 258);
    EXPECT_EQ(back->payload, "xy");
    EXPECT_TRUE(wire::looks_framed(framed));
    EXPECT_FALSE(wire::looks_framed("{\"a\":1}"));
    EXPECT_EQ(wire::unframe(std::string("\0\0\0", 3)).err().message(), "framed message of 3 bytes is shorter than the 5-byte header");
    EXPECT_EQ(wire::unframe("\x01" "abcd").err().message(), "unknown magic byte 1 (expected 0)");
}

}  // namespace
}  // namespace millrace::avro
