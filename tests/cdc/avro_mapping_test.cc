// The PostgreSQL → Avro mapping of cdc.format avro: derived schemas parse,
// encoded rows decode to the values PostgreSQL had, bad text names its column.
#include <gtest/gtest.h>

#include "millrace/avro/codec.h"
#include "millrace/avro/schema.h"
#include "millrace/cdc/avro_mapping.h"

namespace millrace::cdc {
namespace {

namespace json = avro::json;

std::string hex(const std::string& bytes) {
    std::string out;
    for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
    return out;
}

TEST(avro_mapping, decimal_bytes_are_minimal_twos_complement) {
    EXPECT_EQ(hex(*decimal_bytes("-12.50", 2)), "fb1e");  // -1250
    EXPECT_EQ(hex(*decimal_bytes("127", 0)), "7f");
    EXPECT_EQ(hex(*decimal_bytes("128", 0)), "0080");
    EXPECT_EQ(hex(*decimal_bytes("-128", 0)), "80");
    EXPECT_EQ(hex(*decimal_bytes("-129", 0)), "ff7f");
    EXPECT_EQ(hex(*decimal_bytes("0.00", 2)), "00");
    EXPECT_EQ(hex(*decimal_bytes("-0.01", 2)), "ff");
    EXPECT_EQ(hex(*decimal_bytes("1.5", 3)), "05dc");  // 1500: fewer fraction digits than the scale
    EXPECT_FALSE(decimal_bytes("1.234", 2).ok());
    EXPECT_FALSE(decimal_bytes("NaN", 2).ok());
    EXPECT_FALSE(decimal_bytes("", 2).ok());
}

TEST(avro_mapping, timestamps_and_dates) {
    EXPECT_EQ(*timestamp_micros("1970-01-01 00:00:00+00"), 0);
    EXPECT_EQ(*timestamp_micros("1990-01-02 03:04:05+00"), 631249445000000LL);
    EXPECT_EQ(*timestamp_micros("2024-02-29 11:14:15.5+00"), 1709205255500000LL);
    EXPECT_EQ(*timestamp_micros("2024-02-29 16:44:15.5+05:30"), 1709205255500000LL);
    EXPECT_EQ(*timestamp_micros("1969-12-31 23:59:59.999999"), -1);
    EXPECT_EQ(*date_days("1970-01-02"), 1);
    EXPECT_EQ(*date_days("2024-02-29"), 19782);
    EXPECT_EQ(*date_days("1969-12-31"), -1);
    EXPECT_FALSE(timestamp_micros("yesterday").ok());
    EXPECT_FALSE(date_days("2024-13-01").ok());
}

TEST(avro_mapping, derived_schema_parses_with_logical_types_and_nullable_unions) {
    std::vector<avro_column> cols = {
        {"id", 2950, -1, false},          {"n", 23, -1, true},        {"big", 20, -1, true},
        {"ok", 16, -1, true},             {"ratio", 701, -1, true},   {"price", 1700, (10 << 16 | 2) + 4, true},
        {"free", 1700, -1, true},         {"born", 1082, -1, true},   {"at", 1184, -1, true},
        {"local", 1114, -1, true},        {"doc", 3802, -1, true},    {"tags", 1009, -1, true},
        {"blob", 17, -1, true},           {"weird name", 25, -1, true},
    };
    std::string text = avro_record_schema("users", "millrace.cdc.public", cols);
    auto schema = avro::schema::parse(text);
    ASSERT_TRUE(schema.ok()) << schema.err().message() << "\n" << text;
    const avro::node& root = schema->root();
    EXPECT_EQ(root.name, "millrace.cdc.public.users");
    EXPECT_EQ(root.fields[0].type->type, avro::type::string);
    EXPECT_EQ(root.fields[0].type->logical_type, "uuid");
    ASSERT_EQ(root.fields[1].type->type, avro::type::union_);
    EXPECT_EQ(root.fields[1].type->branches[0]->type, avro::type::null);
    EXPECT_TRUE(root.fields[1].default_value && root.fields[1].default_value->is_null());
    EXPECT_EQ(root.fields[5].type->branches[1]->logical_type, "decimal");
    EXPECT_EQ(root.fields[5].type->branches[1]->precision, 10);
    EXPECT_EQ(root.fields[5].type->branches[1]->scale, 2);
    EXPECT_EQ(root.fields[6].type->branches[1]->type, avro::type::string);  // numeric without precision
    EXPECT_EQ(root.fields[7].type->branches[1]->logical_type, "date");
    EXPECT_EQ(root.fields[8].type->branches[1]->logical_type, "timestamp-micros");
    EXPECT_EQ(root.fields[9].type->branches[1]->logical_type, "local-timestamp-micros");
    EXPECT_EQ(root.fields[10].type->branches[1]->type, avro::type::string);
    EXPECT_EQ(root.fields[11].type->branches[1]->type, avro::type::array);
    EXPECT_EQ(root.fields[13].name, "weird_name");

    std::vector<std::optional<std::string>> values = {
        "0b6f6a6e-1c4d-4e5a-9a8b-6f2d0a1b2c3d", "-7", "9223372036854775807", "t", "0.25", "-12.50",
        "12345678901234567890.5", "2024-02-29", "2024-02-29 11:14:15.5+00", "2024-02-29 11:14:15.5",
        "{\"k\": [1, \"v\"]}", "{a,\"b c\",NULL}", "\\x00ff", std::nullopt,
    };
    std::string datum;
    for (size_t idx = 0; idx < cols.size(); ++idx) {
        std::optional<std::string_view> v;
        if (values[idx]) v = *values[idx];
        auto st = append_avro_value(datum, cols[idx], v);
        ASSERT_TRUE(st.ok()) << st.err().message();
    }
    auto doc = avro::decode(datum, root);
    ASSERT_TRUE(doc.ok()) << doc.err().message();
    auto field = [&](const char* name) { return doc->find(name); };
    EXPECT_EQ(field("id")->text, "0b6f6a6e-1c4d-4e5a-9a8b-6f2d0a1b2c3d");
    EXPECT_EQ(field("n")->integer, -7);
    EXPECT_EQ(field("big")->integer, 9223372036854775807LL);
    EXPECT_TRUE(field("ok")->boolean);
    EXPECT_EQ(field("ratio")->number, 0.25);
    EXPECT_EQ(field("price")->text, "\xc3\xbb\x1e");  // bytes fb 1e as code points U+00FB U+001E (UTF-8)
    EXPECT_EQ(field("free")->text, "12345678901234567890.5");
    EXPECT_EQ(field("born")->integer, 19782);
    EXPECT_EQ(field("at")->integer, 1709205255500000LL);
    EXPECT_EQ(field("local")->integer, 1709205255500000LL);
    EXPECT_EQ(field("doc")->text, "{\"k\": [1, \"v\"]}");
    ASSERT_EQ(field("tags")->items.size(), 3u);
    EXPECT_EQ(field("tags")->items[1].text, "b c");
    EXPECT_TRUE(field("tags")->items[2].is_null());
    EXPECT_TRUE(field("weird_name")->is_null());
}

TEST(avro_mapping, bad_text_names_the_column_and_nulls_need_a_nullable_column) {
    std::string out;
    auto st = append_avro_value(out, {"age", 23, -1, true}, std::string_view("abc"));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message().find("column age"), std::string::npos) << st.err().message();
    st = append_avro_value(out, {"id", 2950, -1, false}, std::nullopt);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message().find("column id"), std::string::npos) << st.err().message();
    st = append_avro_value(out, {"m", 1007, -1, true}, std::string_view("{{1,2},{3,4}}"));
    EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace millrace::cdc
