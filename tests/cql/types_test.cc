// Type names, value validation, literal conversion and the order-preserving encoding.
#include "types.h"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

namespace millrace::cql {
namespace {

cql_type type(const char* name) { return parse_type(name).value(); }

std::string literal_value(const char* t, literal_kind kind, const char* text) {
    literal lit{kind, text, {}};
    auto v = literal_to_value(type(t), lit);
    EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.err().message());
    return v.ok() && v->has_value() ? **v : std::string();
}

TEST(types_test, parses_and_prints_names) {
    EXPECT_EQ(type("varchar").name(), "text");
    EXPECT_EQ(type("map<text, frozen<list<int>>>").name(), "map<text, frozen<list<int>>>");
    EXPECT_EQ(type("SET<uuid>").name(), "set<uuid>");
    EXPECT_FALSE(parse_type("nosuch").ok());
    EXPECT_FALSE(parse_type("list<int").ok());
}

TEST(types_test, validates_fixed_sizes) {
    EXPECT_TRUE(validate_value(type("int"), std::string(4, '\0')).ok());
    auto bad = validate_value(type("int"), std::string(3, '\0'));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.err().message(), "expected 4 bytes for a int value, got 3");
    EXPECT_FALSE(validate_value(type("uuid"), std::string(15, '\0')).ok());
    EXPECT_FALSE(validate_value(type("list<int>"), std::string("\x00\x00\x00\x05", 4)).ok());
}

TEST(types_test, converts_literals) {
    EXPECT_EQ(literal_value("int", literal_kind::integer, "-2"), std::string("\xff\xff\xff\xfe", 4));
    EXPECT_EQ(literal_value("timestamp", literal_kind::string, "1970-01-01T00:00:01.5Z"), bigint_value(1500));
    EXPECT_EQ(literal_value("timestamp", literal_kind::string, "1970-01-01 01:00:00+0100"), bigint_value(0));
    EXPECT_EQ(literal_value("date", literal_kind::string, "1970-01-02"), std::string("\x80\x00\x00\x01", 4));
    EXPECT_EQ(literal_value("varint", literal_kind::integer, "128"), std::string("\x00\x80", 2));
    EXPECT_EQ(literal_value("decimal", literal_kind::floating, "1.25"), std::string("\x00\x00\x00\x02\x7d", 5));
    EXPECT_EQ(literal_value("blob", literal_kind::hex, "0x00ff"), std::string("\x00\xff", 2));
    EXPECT_EQ(literal_value("inet", literal_kind::string, "10.0.0.1"), std::string("\x0a\x00\x00\x01", 4));
    EXPECT_FALSE(literal_to_value(type("int"), literal{literal_kind::integer, "3000000000", {}}).ok());
    EXPECT_FALSE(literal_to_value(type("uuid"), literal{literal_kind::integer, "1", {}}).ok());
    auto null = literal_to_value(type("text"), literal{literal_kind::null, "null", {}});
    ASSERT_TRUE(null.ok());
    EXPECT_FALSE(null->has_value());
}

TEST(types_test, sets_are_sorted_and_deduplicated) {
    literal set{literal_kind::set, "", {{literal_kind::integer, "3", {}}, {literal_kind::integer, "1", {}}, {literal_kind::integer, "3", {}}}};
    auto v = literal_to_value(type("set<int>"), set);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(**v, list_value({int_value(1), int_value(3)}));
}

// memcmp order of encodings equals value order, ascending and descending, and decoding round-trips.
TEST(types_test, ordered_encoding_preserves_order) {
    std::mt19937_64 rnd(301);
    struct sample {
        const char* t;
        std::vector<std::string> values;
    };
    std::vector<sample> samples = {
        {"int", {int_value(-5), int_value(-1), int_value(0), int_value(7), int_value(1 << 30)}},
        {"bigint", {bigint_value(INT64_MIN), bigint_value(-1), bigint_value(0), bigint_value(INT64_MAX)}},
        {"double", {double_value(-1e9), double_value(-0.5), double_value(0.0), double_value(0.25), double_value(3e10)}},
        {"text", {"", std::string("\0", 1), std::string("\0a", 2), "a", "ab", "b"}},
        {"timeuuid", {uuid_value_from_string("00000001-0000-1000-8000-000000000000"),
                      uuid_value_from_string("00000000-0001-1000-8000-000000000000"),
                      uuid_value_from_string("00000000-0000-1001-8000-000000000000")}},
    };
    for (const auto& s : samples) {
        for (bool desc : {false, true}) {
            std::vector<std::string> encoded;
            for (const auto& v : s.values) {
                std::string e;
                append_ordered(e, type(s.t), v, desc);
                std::string_view in = e;
                auto back = read_ordered(in, type(s.t), desc);
                ASSERT_TRUE(back.has_value()) << s.t;
                EXPECT_EQ(*back, v) << s.t;
                EXPECT_TRUE(in.empty()) << s.t;
                encoded.push_back(e);
            }
            for (size_t idx = 1; idx < encoded.size(); ++idx) {
                EXPECT_EQ(encoded[idx - 1] < encoded[idx], !desc) << s.t << " at " << idx;
            }
        }
    }
    // Random ints: sorting encodings sorts values.
    std::vector<int32_t> ints(500);
    for (auto& v : ints) v = static_cast<int32_t>(rnd());
    std::vector<std::string> enc;
    for (auto v : ints) {
        std::string e;
        append_ordered(e, type("int"), int_value(v), false);
        enc.push_back(e);
    }
    std::sort(enc.begin(), enc.end());
    std::sort(ints.begin(), ints.end());
    for (size_t idx = 0; idx < ints.size(); ++idx) {
        std::string_view in = enc[idx];
        EXPECT_EQ(*read_ordered(in, type("int"), false), int_value(ints[idx]));
    }
}

std::string literal_of(const char* t, const char* text) {
    return literal_value(t, std::string_view(text).find_first_of(".eE") == std::string_view::npos ? literal_kind::integer
                                                                                                 : literal_kind::floating,
                         text);
}

TEST(types_test, varint_and_decimal_keys_sort_numerically) {
    struct sample {
        const char* t;
        std::vector<const char*> ascending;
    };
    std::vector<sample> samples = {
        {"varint", {"-100000000000000000000", "-65536", "-256", "-255", "-129", "-128", "-1", "0", "1", "127", "128",
                    "255", "256", "65536", "99999999999999999999"}},
        {"decimal", {"-1e10", "-100.25", "-12.5", "-1.05", "-1", "-0.001", "0", "0.001", "0.5", "1", "1.05", "1.5",
                     "10", "100.25", "1e10"}},
    };
    for (const auto& s : samples) {
        for (bool desc : {false, true}) {
            std::vector<std::string> encoded;
            for (const char* text : s.ascending) {
                std::string v = literal_of(s.t, text), e;
                append_ordered(e, type(s.t), v, desc);
                e += "tail";  // components are prefix-free
                std::string_view in = e;
                auto back = read_ordered(in, type(s.t), desc);
                ASSERT_TRUE(back.has_value()) << s.t << " " << text;
                EXPECT_EQ(*back, v) << s.t << " " << text;
                EXPECT_EQ(in, "tail") << s.t << " " << text;
                encoded.push_back(e);
            }
            for (size_t idx = 1; idx < encoded.size(); ++idx) {
                EXPECT_EQ(encoded[idx - 1] < encoded[idx], !desc) << s.t << " " << s.ascending[idx];
            }
        }
    }
    // Equal numbers with different scales compare equal; their exact bytes still round-trip.
    EXPECT_EQ(compare_values(type("decimal"), literal_of("decimal", "1.5"), literal_of("decimal", "1.50")), 0);
    EXPECT_LT(compare_values(type("decimal"), literal_of("decimal", "1.49"), literal_of("decimal", "1.5")), 0);
    EXPECT_GT(compare_values(type("varint"), literal_of("varint", "256"), literal_of("varint", "-300")), 0);
}

TEST(types_test, truncated_ordered_component_is_rejected) {
    std::string_view in("ab", 2);  // no terminator
    EXPECT_FALSE(read_ordered(in, type("text"), false).has_value());
    std::string_view short_int("\x80\x00", 2);
    EXPECT_FALSE(read_ordered(short_int, type("int"), false).has_value());
    std::string_view no_digit_end("\x03\x80\x00\x00\x00\x00\x00\x00\x01" "12", 11);
    EXPECT_FALSE(read_ordered(no_digit_end, type("varint"), false).has_value());
    std::string_view bad_class("\x07", 1);
    EXPECT_FALSE(read_ordered(bad_class, type("decimal"), false).has_value());
}

TEST(types_test, tuples_are_frozen_and_sort_by_component) {
    auto t = type("tuple<int, text>");
    EXPECT_EQ(t.name(), "frozen<tuple<int, text>>");
    EXPECT_EQ(type("tuple<int, list<int>>").name(), "frozen<tuple<int, frozen<list<int>>>>");
    EXPECT_FALSE(parse_type("tuple<>").ok());
    // Wire option: 0x0031, [short] 2, then the two options.
    std::string option;
    write_type_option(option, t);
    EXPECT_EQ(option, std::string("\x00\x31\x00\x02\x00\x09\x00\x0d", 8));
    auto value_of = [&](std::optional<int> a, std::optional<std::string> b) {
        std::vector<std::optional<std::string>> parts{a ? std::optional<std::string>(int_value(*a)) : std::nullopt, b};
        return join_components(parts);
    };
    // (1, null) < (1, 'a') < (1, 'b') < (2, null); each decodes back to its bytes, ascending and descending.
    std::vector<std::string> values{value_of(-1, "z"), value_of(1, std::nullopt), value_of(1, "a"), value_of(1, "b"), value_of(2, std::nullopt)};
    for (bool desc : {false, true}) {
        std::vector<std::string> keys;
        for (const auto& v : values) {
            std::string key;
            append_ordered(key, t, v, desc);
            key += "tail";
            std::string_view in = key;
            auto back = read_ordered(in, t, desc);
            ASSERT_TRUE(back.has_value());
            EXPECT_EQ(*back, v);
            EXPECT_EQ(in, "tail");
            keys.push_back(key);
        }
        EXPECT_TRUE(desc ? std::is_sorted(keys.rbegin(), keys.rend()) : std::is_sorted(keys.begin(), keys.end()));
    }
    // Literals: short ones are padded with nulls; too many elements, or a wrong one, are refused with the column's name.
    literal one{literal_kind::tuple, "", {literal{literal_kind::integer, "1", {}}}};
    EXPECT_EQ(**literal_to_value(t, one, "t"), value_of(1, std::nullopt));
    literal three{literal_kind::tuple, "", {literal{literal_kind::integer, "1", {}}, literal{literal_kind::string, "a", {}},
                                            literal{literal_kind::integer, "3", {}}}};
    auto bad = literal_to_value(t, three, "t");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.err().message(), "Invalid tuple literal for t: too many elements. Type frozen<tuple<int, text>> expects 2 but got 3");
    EXPECT_FALSE(validate_value(t, value_of(1, "a") + std::string("\x00\x00\x00\x01x", 5)).ok());  // a third component
    EXPECT_FALSE(validate_value(t, std::string("\x00\x00\x00\x05", 4)).ok());                     // truncated
}

TEST(types_test, user_types_resolve_and_keep_their_keys_across_added_fields) {
    cql_type addr{type_kind::udt, {type("text"), type("int")}, false};
    addr.keyspace = "ks";
    addr.udt_name = "addr";
    addr.field_names = {"street", "num"};
    udt_resolver resolve = [&](const std::string& name) -> std::optional<cql_type> {
        if (name == "addr" || name == "ks.addr") return addr;
        return std::nullopt;
    };
    auto f = parse_type("frozen<addr>", resolve);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->name(), "frozen<addr>");
    EXPECT_TRUE(f->references("ks", "addr"));
    EXPECT_EQ(parse_type("list<frozen<ks.addr>>", resolve)->name(), "list<frozen<addr>>");
    EXPECT_FALSE(parse_type("nosuch", resolve).ok());
    // Wire option 0x0030: keyspace, name, field count, then each field's name and option.
    std::string option;
    write_type_option(option, *f);
    EXPECT_EQ(option, std::string("\x00\x30\x00\x02ks\x00\x04" "addr\x00\x02\x00\x06street\x00\x0d\x00\x03num\x00\x09", 31));
    literal lit{literal_kind::udt, "", {literal{literal_kind::ident, "num", {}}, literal{literal_kind::integer, "7", {}}}};
    auto v = literal_to_value(*f, lit, "f");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(**v, join_components({std::nullopt, int_value(7)}));
    literal unknown{literal_kind::udt, "", {literal{literal_kind::ident, "zip", {}}, literal{literal_kind::integer, "7", {}}}};
    EXPECT_EQ(literal_to_value(*f, unknown, "f").err().message(), "Unknown field 'zip' in value of user defined type addr");
    // After ALTER TYPE ADD the same value (its new field null) has the same clustering key.
    std::string before;
    append_ordered(before, *f, join_components({text_value("main"), int_value(1)}), false);
    cql_type wider = *f;
    wider.params.push_back(type("int"));
    wider.field_names.push_back("zip");
    std::string after;
    append_ordered(after, wider, join_components({text_value("main"), int_value(1), std::nullopt}), false);
    EXPECT_EQ(before, after);
    std::string_view in = before;
    EXPECT_EQ(*read_ordered(in, wider, false), join_components({text_value("main"), int_value(1), std::nullopt}));
}

}  // namespace
}  // namespace millrace::cql
