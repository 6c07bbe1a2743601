// The message encoder on its own: the exact keys, values and headers of the
// three cdc.format values, as the capture produces them (no PostgreSQL, no broker).
#include "millrace/cdc/encoder.h"

#include <gtest/gtest.h>

namespace millrace::cdc {
namespace {

constexpr uint32_t k_int4 = 23;
constexpr uint32_t k_text = 25;

tuple_value text(std::string v) { return {tuple_value::kind::text, std::move(v)}; }
tuple_value null() { return {tuple_value::kind::null, {}}; }
tuple_value unchanged() { return {tuple_value::kind::unchanged, {}}; }

class encoder_test : public ::testing::Test {
protected:
    encoder_test() {
        rel_.schema = "public";
        rel_.name = "accounts";
        rel_.topic = "accounts_topic";
        rel_.columns = {{"id", k_int4, true, -1}, {"owner", k_text, false, -1}};
        derive_avro(rel_);
        options_.slot = "millrace_cdc";
        options_.database = "app";
        options_.version = "1.2.3";
    }

    change make(char op, const tuple_data* before, const tuple_data* after) const {
        return change{op, &rel_, before, after, lsn{0x16B374D848}, 731, 1'700'000'000'123'456, false, lsn{0x16B374D900}};
    }

    message encode_ok(const change& ch, int64_t now_us = 1'700'000'001'000'000) const {
        auto m = encode(options_, ch, now_us);
        EXPECT_TRUE(m) << m.err().message();
        EXPECT_TRUE(m->has_value());
        return **m;
    }

    relation rel_;
    encoder_options options_;
    tuple_data row_{text("7"), text("ann")};
};

TEST_F(encoder_test, json_insert_is_the_row_keyed_by_its_one_column_key) {
    auto m = encode_ok(make('c', nullptr, &row_));
    EXPECT_EQ(m.key, "7");
    EXPECT_EQ(m.value, R"({"id":7,"owner":"ann"})");
}

TEST_F(encoder_test, json_delete_is_a_tombstone_with_the_key) {
    tuple_data old{text("7"), null()};
    auto m = encode_ok(make('d', &old, nullptr));
    EXPECT_EQ(m.key, "7");
    EXPECT_FALSE(m.value.has_value());
}

TEST_F(encoder_test, json_truncate_says_nothing) {
    auto m = encode(options_, make('t', nullptr, nullptr), 0);
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->has_value());
}

TEST_F(encoder_test, json_keys_and_composite_keys_are_objects) {
    options_.json_keys = true;
    EXPECT_EQ(encode_ok(make('c', nullptr, &row_)).key, R"({"id":7})");
    options_.json_keys = false;
    rel_.columns[1].key = true;
    EXPECT_EQ(encode_ok(make('c', nullptr, &row_)).key, R"({"id":7,"owner":"ann"})");
    tuple_data null_part{text("7"), null()};
    EXPECT_EQ(encode_ok(make('c', nullptr, &null_part)).key, R"({"id":7,"owner":null})");
}

TEST_F(encoder_test, no_key_columns_no_key_and_a_null_one_column_key_none) {
    rel_.columns[0].key = false;
    EXPECT_FALSE(encode_ok(make('c', nullptr, &row_)).key.has_value());
    rel_.columns[0].key = true;
    tuple_data null_key{null(), text("ann")};
    EXPECT_FALSE(encode_ok(make('c', nullptr, &null_key)).key.has_value());
}

TEST_F(encoder_test, unchanged_toasted_columns_are_left_out_and_nulls_are_null) {
    tuple_data partial{text("7"), unchanged()};
    EXPECT_EQ(encode_ok(make('u', nullptr, &partial)).value, R"({"id":7})");
    tuple_data with_null{text("7"), null()};
    EXPECT_EQ(encode_ok(make('u', nullptr, &with_null)).value, R"({"id":7,"owner":null})");
}

TEST_F(encoder_test, headers_name_position_commit_op_table_txid_and_commit_time) {
    auto m = encode_ok(make('u', nullptr, &row_));
    std::vector<std::pair<std::string, std::string>> want = {
        {"lsn", "16/B374D848"}, {"commit_lsn", "16/B374D900"}, {"op", "u"},
        {"table", "public.accounts"}, {"txid", "731"}, {"commit_us", "1700000000123456"}};
    EXPECT_EQ(m.headers, want);
    auto snapshot = make('r', nullptr, &row_);
    snapshot.commit_us = 0;
    EXPECT_EQ(encode_ok(snapshot).headers.size(), 5u) << "no commit_us header without a commit time";
}

TEST_F(encoder_test, envelope_has_before_after_source_op_and_time) {
    options_.format = message_format::envelope;
    tuple_data old{text("7"), text("bob")};
    auto m = encode_ok(make('u', &old, &row_));
    EXPECT_EQ(m.key, "7");
    EXPECT_EQ(m.value,
              R"({"before":{"id":7,"owner":"bob"},"after":{"id":7,"owner":"ann"},)"
              R"("source":{"connector":"millrace","version":"1.2.3","name":"millrace_cdc","db":"app",)"
              R"("schema":"public","table":"accounts","lsn":97500059720,"txId":731,"ts_ms":1700000000123,"snapshot":false},)"
              R"("op":"u","ts_ms":1700000001000})");
    auto created = encode_ok(make('c', nullptr, &row_));
    EXPECT_TRUE(created.value->starts_with(R"({"before":null,"after":{"id":7,"owner":"ann"},)")) << *created.value;
    auto truncated = encode_ok(make('t', nullptr, nullptr));
    EXPECT_FALSE(truncated.key.has_value());
    EXPECT_TRUE(truncated.value->starts_with(R"({"before":null,"after":null,)")) << *truncated.value;
    EXPECT_NE(truncated.value->find(R"("op":"t")"), std::string::npos);
}

TEST_F(encoder_test, avro_key_and_value_in_confluent_framing) {
    options_.format = message_format::avro;
    rel_.key_schema_id = 5;
    rel_.value_schema_id = 6;
    auto m = encode_ok(make('c', nullptr, &row_));
    // magic 0, schema id big-endian, then the datum: id int 7 (zigzag 14), owner union branch 1, string "ann".
    EXPECT_EQ(m.key, std::string("\x00\x00\x00\x00\x05\x0e", 6));
    EXPECT_EQ(m.value, std::string("\x00\x00\x00\x00\x06\x0e\x02\x06" "ann", 11));
    tuple_data with_null{text("7"), null()};
    EXPECT_EQ(encode_ok(make('u', nullptr, &with_null)).value, std::string("\x00\x00\x00\x00\x06\x0e\x00", 7));
}

TEST_F(encoder_test, avro_delete_is_a_tombstone_and_truncate_says_nothing) {
    options_.format = message_format::avro;
    rel_.key_schema_id = 5;
    rel_.value_schema_id = 6;
    tuple_data old{text("7"), null()};
    auto m = encode_ok(make('d', &old, nullptr));
    EXPECT_EQ(m.key, std::string("\x00\x00\x00\x00\x05\x0e", 6));
    EXPECT_FALSE(m.value.has_value());
    auto t = encode(options_, make('t', nullptr, nullptr), 0);
    ASSERT_TRUE(t);
    EXPECT_FALSE(t->has_value());
}

TEST_F(encoder_test, avro_value_that_does_not_encode_names_table_and_position) {
    options_.format = message_format::avro;
    rel_.key_schema_id = 5;
    rel_.value_schema_id = 6;
    tuple_data bad{text("seven"), text("ann")};
    auto m = encode(options_, make('c', nullptr, &bad), 0);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.err().code(), errc::invalid_argument);
    EXPECT_NE(m.err().message().find("public.accounts at 16/B374D848"), std::string::npos) << m.err().message();
}

TEST_F(encoder_test, derived_avro_schemas_make_keys_plain_and_other_columns_nullable) {
    EXPECT_EQ(rel_.avro_key.size(), 1u);
    EXPECT_FALSE(rel_.avro_value[0].nullable);
    EXPECT_TRUE(rel_.avro_value[1].nullable);
    EXPECT_NE(rel_.key_schema.find(R"("name":"accounts_key")"), std::string::npos) << rel_.key_schema;
    EXPECT_NE(rel_.value_schema.find(R"("namespace":"millrace.cdc.public")"), std::string::npos) << rel_.value_schema;
    rel_.columns[0].key = false;
    derive_avro(rel_);
    EXPECT_EQ(rel_.key_schema, "");
}

}  // namespace
}  // namespace millrace::cdc
