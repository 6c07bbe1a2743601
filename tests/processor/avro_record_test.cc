// Confluent-framed Avro user records: writer schemas fetched by id (cached),
// resolved against the job's reader shape, validated like JSON; unknown ids,
// unreadable schemas and corrupt payloads rejected; registry outages retried.
#include <map>

#include <gtest/gtest.h>

#include "avro_record.h"
#include "millrace/avro/codec.h"
#include "millrace/avro/schema.h"
#include "millrace/avro/wire.h"

namespace millrace::processor {
namespace {

namespace json = avro::json;

// What `millrace cdc --set cdc.format=avro` registers for public.users (trimmed).
const char* k_cdc_schema = R"({"type":"record","name":"users","namespace":"millrace.cdc.public","fields":[
 {"name":"id","type":{"type":"string","logicalType":"uuid"}},
 {"name":"first_name","type":["null","string"],"default":null},
 {"name":"last_name","type":["null","string"],"default":null},
 {"name":"gender","type":["null","string"],"default":null},
 {"name":"address","type":["null","string"],"default":null},
 {"name":"post_code","type":["null","string"],"default":null},
 {"name":"email","type":["null","string"],"default":null},
 {"name":"username","type":["null","string"],"default":null},
 {"name":"dob","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null},
 {"name":"registered_date","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null},
 {"name":"phone","type":["null","string"],"default":null},
 {"name":"picture","type":["null","string"],"default":null},
 {"name":"nat","type":["null","string"],"default":null},
 {"name":"raw","type":["null","string"],"default":null},
 {"name":"loyalty","type":["null","int"],"default":null}]})";

// A Python-style producer: millis, numeric post code, no nat, other record name.
const char* k_other_schema = R"({"type":"record","name":"User","fields":[
 {"name":"id","type":"string"},{"name":"first_name","type":"string"},{"name":"last_name","type":"string"},
 {"name":"gender","type":"string"},{"name":"address","type":"string"},{"name":"post_code","type":"int"},
 {"name":"email","type":"string"},{"name":"username","type":"string"},
 {"name":"dob","type":{"type":"long","logicalType":"local-timestamp-millis"}},
 {"name":"registered_date","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"phone","type":"string"},{"name":"picture","type":"string"}]})";

json::value user_json(const std::string& extra = "") {
    auto doc = json::parse(
        R"({"id":"0B6F6A6E-1c4d-4e5a-9a8b-6f2d0a1b2c3d","first_name":"Ann","last_name":"Lee","gender":"female",)"
        R"("address":"1 Main St","post_code":"0042","email":"a@x","username":"ann","dob":631249445000000,)"
        R"("registered_date":1588748889500000,"phone":"555","picture":"http://p","nat":"US","raw":"{}")" + extra + "}");
    EXPECT_TRUE(doc.ok()) << doc.err().message();
    return *doc;
}

std::string framed(int32_t id, const char* schema_text, const json::value& datum) {
    auto schema = avro::schema::parse(schema_text);
    EXPECT_TRUE(schema.ok()) << schema.err().message();
    auto bytes = avro::encode(schema->root(), datum);
    EXPECT_TRUE(bytes.ok()) << bytes.err().message();
    return avro::wire::frame(id, *bytes);
}

struct fake_registry {
    std::map<int32_t, avro_record_decoder::writer_schema> schemas;
    int fetches = 0;
    bool down = false;
    avro_record_decoder::fetch_fn fn() {
        return [this](int32_t id) -> result<avro_record_decoder::writer_schema> {
            ++fetches;
            if (down) return make_error(errc::unavailable, "registry at http://127.0.0.1:1: connection refused");
            auto it = schemas.find(id);
            if (it == schemas.end()) return make_error(errc::not_found, "schema id {} not found (40403)", id);
            return it->second;
        };
    }
};

TEST(avro_record, cdc_record_decodes_to_a_user_row) {
    fake_registry reg;
    reg.schemas[1] = {"AVRO", k_cdc_schema};
    avro_record_decoder decoder(reg.fn());
    user_row row;
    rejection why;
    std::optional<error> transient;
    std::string value = framed(1, k_cdc_schema, user_json(R"(,"loyalty":7)"));
    ASSERT_EQ(decoder.decode(value, row, why, transient), avro_record_decoder::outcome::ok) << why.message;
    EXPECT_EQ(format_uuid(row.id), "0b6f6a6e-1c4d-4e5a-9a8b-6f2d0a1b2c3d");
    EXPECT_EQ(row.first_name, "Ann");
    EXPECT_EQ(row.post_code, "0042");
    EXPECT_EQ(row.dob, "1990-01-02T03:04:05Z");
    EXPECT_EQ(row.registered_date, "2020-05-06T07:08:09.5Z");
    EXPECT_TRUE(row.has_dob);
    EXPECT_TRUE(row.has_nat);
    EXPECT_EQ(row.nat, "US");
    // The schema is fetched once per id.
    ASSERT_EQ(decoder.decode(value, row, why, transient), avro_record_decoder::outcome::ok);
    EXPECT_EQ(reg.fetches, 1);
    EXPECT_EQ(decoder.cached(), 1u);
}

TEST(avro_record, another_writer_resolves_with_promotions_and_millis) {
    fake_registry reg;
    reg.schemas[5] = {"AVRO", k_other_schema};
    avro_record_decoder decoder(reg.fn());
    auto datum = json::parse(
        R"({"id":"0b6f6a6e-1c4d-4e5a-9a8b-6f2d0a1b2c3d","first_name":"Bo","last_name":"K","gender":"male",)"
        R"("address":"a","post_code":4711,"email":"e","username":"u","dob":-86400001,"registered_date":1000,)"
        R"("phone":"p","picture":"q"})");
    ASSERT_TRUE(datum.ok());
    user_row row;
    rejection why;
    std::optional<error> transient;
    ASSERT_EQ(decoder.decode(framed(5, k_other_schema, *datum), row, why, transient), avro_record_decoder::outcome::ok)
        << why.message;
    EXPECT_EQ(row.post_code, "4711");
    EXPECT_EQ(row.dob, "1969-12-30T23:59:59.999");  // local: no zone
    EXPECT_EQ(row.registered_date, "1970-01-01T00:00:01Z");
    EXPECT_FALSE(row.has_nat);
}

TEST(avro_record, missing_and_invalid_fields_are_rejected_like_json) {
    fake_registry reg;
    reg.schemas[1] = {"AVRO", k_cdc_schema};
    avro_record_decoder decoder(reg.fn());
    user_row row;
    rejection why;
    std::optional<error> transient;
    json::value no_email = user_json();
    *no_email.find("email") = json::value{};
    ASSERT_EQ(decoder.decode(framed(1, k_cdc_schema, no_email), row, why, transient),
              avro_record_decoder::outcome::rejected);
    EXPECT_EQ(why.code, reject_code::missing_field);
    EXPECT_EQ(why.field, "email");
    json::value bad_id = user_json();
    bad_id.find("id")->text = "not-a-uuid";
    ASSERT_EQ(decoder.decode(framed(1, k_cdc_schema, bad_id), row, why, transient),
              avro_record_decoder::outcome::rejected);
    EXPECT_EQ(why.code, reject_code::invalid_value);
    EXPECT_EQ(why.field, "id");
}

TEST(avro_record, unknown_ids_unreadable_schemas_and_corrupt_payloads_are_rejected) {
    fake_registry reg;
    reg.schemas[1] = {"AVRO", k_cdc_schema};
    reg.schemas[2] = {"AVRO", R"({"type":"record","name":"users","fields":[{"name":"first_name","type":"int"}]})"};
    reg.schemas[3] = {"JSON", R"({"type":"object"})"};
    reg.schemas[4] = {"AVRO", R"("string")"};
    avro_record_decoder decoder(reg.fn());
    user_row row;
    rejection why;
    std::optional<error> transient;
    auto decode = [&](const std::string& v) { return decoder.decode(v, row, why, transient); };

    ASSERT_EQ(decode(avro::wire::frame(99, "\x02")), avro_record_decoder::outcome::rejected);
    EXPECT_EQ(why.code, reject_code::unknown_schema);
    EXPECT_NE(why.message.find("schema id 99"), std::string::npos) << why.message;

    ASSERT_EQ(decode(avro::wire::frame(2, "\x02")), avro_record_decoder::outcome::rejected);
    EXPECT_EQ(why.code, reject_code::unknown_schema);
    EXPECT_NE(why.message.find("cannot be read as a user"), std::string::npos) << why.message;
    EXPECT_NE(why.message.find("first_name"), std::string::npos) << why.message;

    ASSERT_EQ(decode(avro::wire::frame(3, "{}")), avro_record_decoder::outcome::rejected);
    EXPECT_NE(why.message.find("JSON schema, not Avro"), std::string::npos) << why.message;
    ASSERT_EQ(decode(avro::wire::frame(4, "\x02x")), avro_record_decoder::outcome::rejected);
    EXPECT_NE(why.message.find("expected a record"), std::string::npos) << why.message;

    std::string good = framed(1, k_cdc_schema, user_json());
    ASSERT_EQ(decode(good.substr(0, good.size() - 3)), avro_record_decoder::outcome::rejected);
    EXPECT_EQ(why.code, reject_code::malformed_avro);
    EXPECT_NE(why.message.find("schema id 1"), std::string::npos) << why.message;
    ASSERT_EQ(decode(good + "x"), avro_record_decoder::outcome::rejected);
    EXPECT_EQ(why.code, reject_code::malformed_avro);
    EXPECT_EQ(decode(good), avro_record_decoder::outcome::ok);
}

TEST(avro_record, registry_outage_is_retried_and_not_cached) {
    fake_registry reg;
    reg.schemas[1] = {"AVRO", k_cdc_schema};
    reg.down = true;
    avro_record_decoder decoder(reg.fn());
    user_row row;
    rejection why;
    std::optional<error> transient;
    std::string value = framed(1, k_cdc_schema, user_json());
    ASSERT_EQ(decoder.decode(value, row, why, transient), avro_record_decoder::outcome::retry);
    ASSERT_TRUE(transient);
    EXPECT_NE(transient->message().find("connection refused"), std::string::npos);
    EXPECT_EQ(decoder.cached(), 0u);
    reg.down = false;
    EXPECT_EQ(decoder.decode(value, row, why, transient), avro_record_decoder::outcome::ok) << why.message;
}

}  // namespace
}  // namespace millrace::processor
