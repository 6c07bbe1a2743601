#include "user_record.h"

#include <cstring>

#include <gtest/gtest.h>

namespace millrace::processor {
namespace {

// What millrace cdc writes: the PostgreSQL users row as flat JSON.
const char* const k_cdc_record = R"({"id":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","first_name":"Ana","last_name":"Lima",)"
    R"("gender":"female","address":"12 Rua A, Recife, PE, Brazil","post_code":"50000","email":"ana@example.com",)"
    R"("username":"bluecat1","dob":"1990-01-02T03:04:05+00:00","registered_date":"2015-06-07T08:09:10+00:00",)"
    R"("phone":"(81) 5555-1234","picture":"https://randomuser.me/api/portraits/women/1.jpg","nat":"BR",)"
    R"("raw":{"gender":"female","name":{"first":"Ana"}},"ingested_at":"2026-11-25T06:00:00.123+00:00"})";

// What the classic pipeline's Python producer writes: no nat, post_code a number.
const char* const k_python_record = R"({"id": "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9", "first_name": "John", )"
    R"("last_name": "Smith", "gender": "male", "address": "1 Main St, Leeds, England, United Kingdom", )"
    R"("post_code": 12345, "email": "john.smith@example.com", "username": "smallfish7", )"
    R"("dob": "1980-05-06T07:08:09.000Z", "registered_date": "2010-01-01T00:00:00.000Z", )"
    R"("phone": "017684 12345", "picture": "https://randomuser.me/api/portraits/med/men/2.jpg"})";

class user_record_test : public ::testing::Test {
protected:
    bool parse(std::string_view json) { return parser_.parse(json, row_, why_); }
    record_parser parser_;
    user_row row_;
    rejection why_;
};

TEST_F(user_record_test, cdc_record_parses_every_column) {
    ASSERT_TRUE(parse(k_cdc_record)) << why_.message;
    EXPECT_EQ(format_uuid(row_.id), "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b");
    EXPECT_EQ(row_.first_name, "Ana");
    EXPECT_EQ(row_.last_name, "Lima");
    EXPECT_EQ(row_.gender, "female");
    EXPECT_EQ(row_.address, "12 Rua A, Recife, PE, Brazil");
    EXPECT_EQ(row_.post_code, "50000");
    EXPECT_EQ(row_.email, "ana@example.com");
    EXPECT_EQ(row_.username, "bluecat1");
    EXPECT_EQ(row_.registered_date, "2015-06-07T08:09:10+00:00");
    EXPECT_EQ(row_.phone, "(81) 5555-1234");
    EXPECT_EQ(row_.picture, "https://randomuser.me/api/portraits/women/1.jpg");
    EXPECT_TRUE(row_.has_dob);
    EXPECT_EQ(row_.dob, "1990-01-02T03:04:05+00:00");
    EXPECT_TRUE(row_.has_nat);
    EXPECT_EQ(row_.nat, "BR");
}

TEST_F(user_record_test, python_producer_record_with_numeric_post_code_and_no_nat) {
    ASSERT_TRUE(parse(k_python_record)) << why_.message;
    EXPECT_EQ(format_uuid(row_.id), "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9");
    EXPECT_EQ(row_.post_code, "12345");
    EXPECT_FALSE(row_.has_nat);
    EXPECT_TRUE(row_.has_dob);
}

TEST_F(user_record_test, parser_reuse_clears_optional_fields) {
    ASSERT_TRUE(parse(k_cdc_record));
    ASSERT_TRUE(parse(k_python_record));
    EXPECT_FALSE(row_.has_nat);
}

TEST_F(user_record_test, escaped_and_unicode_strings_are_unescaped) {
    std::string json = k_python_record;
    json.replace(json.find("\"Smith\""), 7, R"("O\"Brien \u00e9\u4e2d")");
    ASSERT_TRUE(parse(json)) << why_.message;
    EXPECT_EQ(row_.last_name, "O\"Brien \xc3\xa9\xe4\xb8\xad");
}

TEST_F(user_record_test, null_optional_fields_are_absent) {
    std::string json = k_cdc_record;
    json.replace(json.find("\"BR\""), 4, "null");
    ASSERT_TRUE(parse(json)) << why_.message;
    EXPECT_FALSE(row_.has_nat);
}

TEST_F(user_record_test, empty_value_is_rejected) {
    EXPECT_FALSE(parse(""));
    EXPECT_EQ(why_.code, reject_code::empty_value);
}

TEST_F(user_record_test, malformed_json_is_rejected) {
    for (const char* bad : {"{", "{\"id\": }", "not json", "{\"a\":1} trailing", "{\"id\":\"x\",}", "\xff\xfe"}) {
        EXPECT_FALSE(parse(bad)) << bad;
        EXPECT_EQ(why_.code, reject_code::malformed_json) << bad;
        EXPECT_NE(why_.message.find("not valid JSON"), std::string::npos) << why_.message;
    }
}

TEST_F(user_record_test, invalid_utf8_inside_a_string_is_malformed) {
    std::string json = k_python_record;
    json.replace(json.find("John"), 4, "J\xc3\x28n");
    EXPECT_FALSE(parse(json));
    EXPECT_EQ(why_.code, reject_code::malformed_json);
}

TEST_F(user_record_test, non_object_json_is_rejected) {
    EXPECT_FALSE(parse("[1, 2]"));
    EXPECT_EQ(why_.code, reject_code::not_an_object);
    EXPECT_NE(why_.message.find("an array"), std::string::npos);
    EXPECT_FALSE(parse("\"text\""));
    EXPECT_EQ(why_.code, reject_code::not_an_object);
}

TEST_F(user_record_test, each_missing_required_field_is_named) {
    for (const char* field : {"id", "first_name", "last_name", "gender", "address", "post_code", "email", "username",
                              "registered_date", "phone", "picture"}) {
        std::string json = k_python_record;
        std::string key = std::string("\"") + field + "\":";
        auto pos = json.find(key);
        ASSERT_NE(pos, std::string::npos) << field;
        json.replace(pos, key.size(), "\"renamed_" + std::string(field) + "\":");
        EXPECT_FALSE(parse(json)) << field;
        EXPECT_EQ(why_.code, reject_code::missing_field) << field;
        EXPECT_EQ(why_.field, field);
        EXPECT_NE(why_.message.find(field), std::string::npos);
    }
}

TEST_F(user_record_test, null_required_field_is_missing) {
    std::string json = k_python_record;
    json.replace(json.find("\"john.smith@example.com\""), 24, "null");
    EXPECT_FALSE(parse(json));
    EXPECT_EQ(why_.code, reject_code::missing_field);
    EXPECT_EQ(why_.field, "email");
}

TEST_F(user_record_test, wrong_types_are_rejected_with_the_field) {
    struct bad_case {
        const char* from;
        const char* to;
        const char* field;
    };
    for (const auto& c : {bad_case{"\"male\"", "7", "gender"}, bad_case{"\"smallfish7\"", "[\"a\"]", "username"},
                          bad_case{"12345", "true", "post_code"}, bad_case{"\"John\"", "{\"x\":1}", "first_name"},
                          bad_case{"\"0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9\"", "42", "id"}}) {
        std::string json = k_python_record;
        json.replace(json.find(c.from), std::strlen(c.from), c.to);
        EXPECT_FALSE(parse(json)) << c.field;
        EXPECT_EQ(why_.code, reject_code::wrong_type) << c.field;
        EXPECT_EQ(why_.field, c.field);
    }
}

TEST_F(user_record_test, id_that_is_not_a_uuid_is_invalid) {
    std::string json = k_python_record;
    json.replace(json.find("0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9"), 36, "not-a-uuid");
    EXPECT_FALSE(parse(json));
    EXPECT_EQ(why_.code, reject_code::invalid_value);
    EXPECT_EQ(why_.field, "id");
    EXPECT_NE(why_.message.find("not-a-uuid"), std::string::npos);
}

TEST(uuid_test, parse_and_format_round_trip) {
    uuid_bytes id;
    ASSERT_TRUE(parse_uuid("00112233-4455-6677-8899-AABBCCDDEEFF", id));
    EXPECT_EQ(id[0], 0x00);
    EXPECT_EQ(id[15], 0xff);
    EXPECT_EQ(format_uuid(id), "00112233-4455-6677-8899-aabbccddeeff");
    EXPECT_FALSE(parse_uuid("00112233-4455-6677-8899-AABBCCDDEEF", id));    // short
    EXPECT_FALSE(parse_uuid("00112233_4455-6677-8899-AABBCCDDEEFF", id));   // separator
    EXPECT_FALSE(parse_uuid("0011223g-4455-6677-8899-AABBCCDDEEFF", id));   // digit
    EXPECT_FALSE(parse_uuid("001122334455667788990AABBCCDDEEFF1234", id));  // no dashes
}

}  // namespace
}  // namespace millrace::processor
