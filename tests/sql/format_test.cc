// Formats: avro-confluent decoding (writer schemas by id, resolution by field
// name, every reject), JSON and Avro encoding for Kafka sinks, the derived Avro
// schema, columns from a registry schema, the Flink -> CQL mapping.
#include <gtest/gtest.h>

#include <random>

#include "millrace/avro/codec.h"
#include "millrace/avro/schema.h"
#include "millrace/avro/wire.h"
#include "millrace/sql/decoder.h"
#include "millrace/sql/encoder.h"
#include "millrace/sql/pipeline.h"
#include "millrace/sql/program.h"

namespace millrace::sql {
namespace {

job_program compile(const std::string& text) {
    auto c = compile_job(text, "job.sql");
    if (auto* e = std::get_if<std::vector<diagnostic>>(&c)) {
        ADD_FAILURE() << to_string(*e);
        std::abort();
    }
    return std::get<job_program>(c);
}

const char* const k_avro_job =
    "CREATE TABLE users (id STRING NOT NULL, post_code STRING, dob STRING, born TIMESTAMP(3), n BIGINT)\n"
    "WITH ('connector' = 'kafka', 'topic' = 'users', 'format' = 'avro-confluent');\n"
    "CREATE TABLE out_users (id STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'o', 'format' = 'avro-confluent');\n"
    "INSERT INTO out_users SELECT id, n FROM users;\n";

const char* const k_writer =
    R"({"type":"record","name":"users","fields":[{"name":"id","type":"string"},{"name":"post_code","type":["null","int"]},)"
    R"({"name":"dob","type":["null",{"type":"long","logicalType":"timestamp-micros"}]},)"
    R"({"name":"born","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"raw","type":"string"}]})";

std::string framed(int32_t id, const std::string& schema_text, const std::string& json) {
    auto s = avro::schema::parse(schema_text);
    EXPECT_TRUE(s.ok());
    auto datum = avro::json::parse(json);
    EXPECT_TRUE(datum.ok());
    auto bytes = avro::encode(s->root(), *datum);
    EXPECT_TRUE(bytes.ok()) << (bytes.ok() ? "" : bytes.err().message());
    return avro::wire::frame(id, *bytes);
}

class format_test : public ::testing::Test {
protected:
    decode_status decode(source_decoder& d, std::string_view value, row& r, record_error& e) {
        record_metadata m;
        m.topic = "users";
        return d.decode(value, std::nullopt, m, r, e);
    }
};

TEST_F(format_test, avro_asks_for_the_writer_schema_then_decodes_by_field_name) {
    auto p = compile(k_avro_job);
    auto d = p.make_decoder(0).value();
    std::string value = framed(7, k_writer, R"({"id":"u1","post_code":4711,"dob":641617445500000,"born":1000,"raw":"x"})");
    row r;
    record_error e;
    ASSERT_EQ(decode(*d, value, r, e), decode_status::need_schema);
    EXPECT_EQ(d->schema_id(), 7);
    ASSERT_TRUE(d->add_writer_schema(7, k_writer).ok());
    ASSERT_EQ(decode(*d, value, r, e), decode_status::ok) << e.message;
    EXPECT_EQ(r[0], value::from_string("u1"));
    EXPECT_EQ(r[1], value::from_string("4711"));                      // int into STRING: its text
    EXPECT_EQ(r[2], value::from_string("1990-05-02T03:04:05.5Z"));    // timestamp-micros into STRING: ISO-8601
    EXPECT_EQ(r[3], value::from_int(1000));                           // timestamp-millis into TIMESTAMP(3)
    EXPECT_TRUE(r[4].is_null());                                      // the writer has no n
}

TEST_F(format_test, avro_truncated_payload_is_malformed_avro) {
    auto p = compile(k_avro_job);
    auto d = p.make_decoder(0).value();
    ASSERT_TRUE(d->add_writer_schema(7, k_writer).ok());
    std::string value = framed(7, k_writer, R"({"id":"u1","post_code":null,"dob":null,"born":1,"raw":"x"})");
    value.resize(value.size() - 2);
    row r;
    record_error e;
    ASSERT_EQ(decode(*d, value, r, e), decode_status::rejected);
    EXPECT_EQ(e.code, error_code::malformed_avro);
    EXPECT_NE(e.message.find("does not decode"), std::string::npos) << e.message;
}

TEST_F(format_test, avro_unframed_value_is_malformed_avro) {
    auto p = compile(k_avro_job);
    auto d = p.make_decoder(0).value();
    row r;
    record_error e;
    ASSERT_EQ(decode(*d, "{\"id\":1}", r, e), decode_status::rejected);
    EXPECT_EQ(e.code, error_code::malformed_avro);
}

TEST_F(format_test, avro_writer_that_cannot_be_read_is_unknown_schema) {
    auto p = compile(k_avro_job);
    auto d = p.make_decoder(0).value();
    const char* writer = R"({"type":"record","name":"u","fields":[{"name":"id","type":"string"},{"name":"n","type":"string"}]})";
    ASSERT_TRUE(d->add_writer_schema(3, writer).ok());
    row r;
    record_error e;
    ASSERT_EQ(decode(*d, framed(3, writer, R"({"id":"a","n":"b"})"), r, e), decode_status::rejected);
    EXPECT_EQ(e.code, error_code::unknown_schema);
    EXPECT_EQ(e.message, "schema id 3 cannot be read as the table's columns: field n is string in the writer schema, the column is BIGINT");
}

TEST_F(format_test, avro_writer_that_is_not_a_record_is_unknown_schema) {
    auto p = compile(k_avro_job);
    auto d = p.make_decoder(0).value();
    ASSERT_TRUE(d->add_writer_schema(4, "\"string\"").ok());
    row r;
    record_error e;
    ASSERT_EQ(decode(*d, framed(4, "\"string\"", "\"x\""), r, e), decode_status::rejected);
    EXPECT_EQ(e.code, error_code::unknown_schema);
    EXPECT_FALSE(d->add_writer_schema(5, "{not a schema").ok());
}

TEST_F(format_test, avro_missing_not_null_field_is_missing_field) {
    auto p = compile(k_avro_job);
    auto d = p.make_decoder(0).value();
    const char* writer = R"({"type":"record","name":"u","fields":[{"name":"id","type":["null","string"]}]})";
    ASSERT_TRUE(d->add_writer_schema(9, writer).ok());
    row r;
    record_error e;
    ASSERT_EQ(decode(*d, framed(9, writer, R"({"id":null})"), r, e), decode_status::rejected);
    EXPECT_EQ(e.code, error_code::missing_field);
    EXPECT_EQ(e.field, "id");
}

TEST_F(format_test, avro_encoder_round_trips_with_the_derived_schema) {
    auto p = compile(k_avro_job);
    std::string schema = avro_schema_for(p.tables()[1].persisted_columns());
    EXPECT_EQ(schema,
              R"({"type":"record","name":"record","namespace":"org.apache.flink.avro.generated","fields":[)"
              R"({"name":"id","type":["null","string"],"default":null},{"name":"n","type":["null","long"],"default":null}]})");
    EXPECT_EQ(avro_schema_for(p.tables()[1]), schema);
    auto enc = p.make_encoder(1, 12, schema);
    ASSERT_TRUE(enc.ok()) << enc.err().message();
    std::string out;
    ASSERT_TRUE((*enc)->encode_value({value::from_string("a"), value::from_int(5)}, out).ok());
    auto un = avro::wire::unframe(out);
    ASSERT_TRUE(un.ok());
    EXPECT_EQ(un->schema_id, 12);
    auto s = avro::schema::parse(schema);
    auto back = avro::decode(un->payload, s->root());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(avro::json::dump(*back), R"({"id":"a","n":5})");
    EXPECT_FALSE(p.make_encoder(1).ok());  // avro-confluent needs the schema
}

TEST_F(format_test, columns_from_a_registry_schema) {
    auto cols = columns_from_avro(k_writer);
    ASSERT_TRUE(cols.ok()) << cols.err().message();
    ASSERT_EQ(cols->size(), 5u);
    EXPECT_EQ((*cols)[1].type.to_string(), "INT");
    EXPECT_EQ((*cols)[0].type.to_string(), "STRING NOT NULL");
    EXPECT_EQ((*cols)[3].type.to_string(), "TIMESTAMP_LTZ(3) NOT NULL");
    EXPECT_FALSE(columns_from_avro(R"({"type":"record","name":"r","fields":[{"name":"u","type":["int","string"]}]})").ok());
    EXPECT_FALSE(columns_from_avro("\"int\"").ok());
}

TEST_F(format_test, source_without_columns_takes_them_from_the_registry) {
    const char* job = "CREATE TABLE users WITH ('connector' = 'kafka', 'topic' = 'users', 'format' = 'avro-confluent');\n"
                      "CREATE TABLE o (id STRING) WITH ('connector' = 'kafka', 'topic' = 'o', 'format' = 'json');\n"
                      "INSERT INTO o SELECT id FROM users;\n";
    auto without = compile_job(job, "job.sql");
    ASSERT_TRUE(std::holds_alternative<std::vector<diagnostic>>(without));
    EXPECT_NE(std::get<std::vector<diagnostic>>(without)[0].message.find("no schema registry"), std::string::npos);
    compile_options o;
    std::string asked;
    o.latest_schema = [&](const std::string& subject) -> result<std::string> {
        asked = subject;
        return std::string(k_writer);
    };
    auto with = compile_job(job, "job.sql", o);
    ASSERT_TRUE(std::holds_alternative<job_program>(with));
    EXPECT_EQ(asked, "users-value");
    EXPECT_TRUE(std::get<job_program>(with).tables()[0].columns_from_registry);
}

TEST_F(format_test, json_encoder_writes_flink_json) {
    auto p = compile(
        "CREATE TABLE s (a INT) WITH ('connector' = 'kafka', 'topic' = 's', 'format' = 'json');\n"
        "CREATE TABLE o (k STRING, t TIMESTAMP(3), l TIMESTAMP_LTZ(3), d DOUBLE, b BYTES, m DECIMAL(5, 2), x ARRAY<INT>, ok BOOLEAN)\n"
        "WITH ('connector' = 'kafka', 'topic' = 'o', 'format' = 'json', 'key.format' = 'raw', 'key.fields' = 'k');\n"
        "INSERT INTO o SELECT 'key', CAST(NULL AS TIMESTAMP(3)), CAST(NULL AS TIMESTAMP_LTZ(3)), 1e0, CAST(NULL AS BYTES), 1.5, CAST(NULL AS ARRAY<INT>), TRUE FROM s;\n");
    auto enc = p.make_encoder(1);
    ASSERT_TRUE(enc.ok()) << enc.err().message();
    row r = {value::from_string("k\"1"), value::from_int(1704067200500), value::from_int(1704067200000), value::from_double(1e10),
             value::from_string("\x01\x02"), value::from_int(150), value::from_list({value::from_int(1), value::null()}), value::from_bool(true)};
    std::string out;
    ASSERT_TRUE((*enc)->encode_value(r, out).ok());
    EXPECT_EQ(out, R"({"k":"k\"1","t":"2024-01-01 00:00:00.5","l":"2024-01-01 00:00:00Z","d":1.0E10,"b":"AQI=","m":1.50,"x":[1,null],"ok":true})");
    auto key = (*enc)->encode_key(r);
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key->value_or(""), "k\"1");
}

TEST_F(format_test, headers_and_timestamp_type_metadata) {
    auto p = compile(
        "CREATE TABLE s (a INT, h MAP<STRING, BYTES> METADATA FROM 'headers', tt STRING METADATA FROM 'timestamp-type')\n"
        "WITH ('connector' = 'kafka', 'topic' = 's', 'format' = 'json');\n"
        "CREATE TABLE o (a INT) WITH ('connector' = 'kafka', 'topic' = 'o', 'format' = 'json');\n"
        "INSERT INTO o SELECT a FROM s;\n");
    auto d = p.make_decoder(0).value();
    std::vector<kafka_header> headers = {{"trace", std::string("t1")}, {"empty", std::nullopt}};
    record_metadata m;
    m.headers = &headers;
    m.timestamp_type = 1;
    row r;
    record_error e;
    ASSERT_EQ(d->decode(std::string_view("{\"a\": 1}"), std::nullopt, m, r, e), decode_status::ok);
    EXPECT_EQ(r[1], value::from_list({value::from_string("trace"), value::from_string("t1"), value::from_string("empty"), value::null()}));
    EXPECT_EQ(r[2], value::from_string("LogAppendTime"));
    EXPECT_FALSE(d->add_writer_schema(1, "\"int\"").ok());  // json has no writer schemas
}

TEST_F(format_test, json_key_fields_from_a_json_key) {
    auto p = compile(
        "CREATE TABLE s (k INT, v STRING) WITH ('connector' = 'kafka', 'topic' = 's', 'format' = 'json',\n"
        "  'key.format' = 'json', 'key.fields' = 'k');\n"
        "CREATE TABLE o (k INT, v STRING) WITH ('connector' = 'kafka', 'topic' = 'o', 'format' = 'json');\n"
        "INSERT INTO o SELECT k, v FROM s;\n");
    auto d = p.make_decoder(0).value();
    record_metadata m;
    row r;
    record_error e;
    ASSERT_EQ(d->decode(std::string_view("{\"v\": \"x\"}"), std::string_view("{\"k\": 5}"), m, r, e), decode_status::ok);
    EXPECT_EQ(r[0], value::from_int(5));
    ASSERT_EQ(d->decode(std::string_view("{\"v\": \"x\"}"), std::string_view("{\"k\": \"no\"}"), m, r, e), decode_status::rejected);
    EXPECT_EQ(e.code, error_code::invalid_value);
    EXPECT_EQ(e.message.rfind("key: ", 0), 0u) << e.message;
}

TEST_F(format_test, cql_mapping_and_ddl) {
    EXPECT_EQ(*cql_type_for(sql_type::string()), "text");
    EXPECT_EQ(*cql_type_for(sql_type::bigint()), "bigint");
    EXPECT_EQ(*cql_type_for(sql_type::int_()), "int");
    EXPECT_EQ(*cql_type_for(sql_type::double_()), "double");
    EXPECT_EQ(*cql_type_for(sql_type::boolean()), "boolean");
    EXPECT_EQ(*cql_type_for(sql_type::timestamp(3)), "timestamp");
    EXPECT_EQ(*cql_type_for(sql_type::timestamp_ltz(3)), "timestamp");
    EXPECT_EQ(*cql_type_for(sql_type::of(type_id::date)), "date");
    EXPECT_EQ(*cql_type_for(sql_type::of(type_id::decimal, 10, 2)), "decimal");
    EXPECT_EQ(*cql_type_for(sql_type::of(type_id::varbinary, k_max_varchar)), "blob");
    EXPECT_FALSE(cql_type_for(sql_type::of(type_id::interval_day_time)).ok());
    auto p = compile(
        "CREATE TABLE s (a STRING) WITH ('connector' = 'kafka', 'topic' = 's', 'format' = 'json');\n"
        "CREATE TABLE c (id STRING, n BIGINT, \"Mixed\" INT, PRIMARY KEY (id, n) NOT ENFORCED)\n"
        "WITH ('connector' = 'cassandra', 'keyspace' = 'ks', 'table' = 't', 'cql.type.id' = 'uuid');\n"
        "INSERT INTO c SELECT a, 1, 2 FROM s;\n");
    const table_def& c = p.tables()[1];
    EXPECT_EQ(*cql_create_table(c), "CREATE TABLE IF NOT EXISTS ks.t (id uuid, n bigint, \"Mixed\" int, PRIMARY KEY (id, n))");
    EXPECT_EQ(*cql_create_keyspace(c), "CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}");
    EXPECT_EQ(*cql_upsert(c), "INSERT INTO ks.t (id, n, \"Mixed\") VALUES (?, ?, ?)");
    EXPECT_FALSE(cql_create_table(p.tables()[0]).ok());
}

}  // namespace
}  // namespace millrace::sql

namespace millrace::sql {
namespace {

// Seeded mutations of valid records and job texts: decoders and the compiler
// reject or accept them, never crash (run under ASan/UBSan in `make test`).
TEST(robustness_test, mutated_json_records_never_crash_the_decoder) {
    auto c = compile_job(
        "CREATE TABLE s (id BIGINT, name STRING, tags ARRAY<STRING>, m MAP<STRING, INT>, r ROW<a INT, b STRING>, t TIMESTAMP(3), d DECIMAL(8, 3))\n"
        "WITH ('connector' = 'kafka', 'topic' = 's', 'format' = 'json');\n"
        "CREATE TABLE o (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'o', 'format' = 'json');\n"
        "INSERT INTO o SELECT id FROM s;\n", "job.sql");
    ASSERT_TRUE(std::holds_alternative<job_program>(c));
    auto d = std::get<job_program>(c).make_decoder(0).value();
    const std::string base = R"({"id": 12, "name": "x\u00e9y", "tags": ["a", "b"], "m": {"k": 1}, "r": {"a": 1, "b": "z"}, "t": "2024-01-01 00:00:00.5", "d": 12.345})";
    std::mt19937 rnd(301);
    const std::string alphabet = "{}[]\",:0123456789.eE-+ntrufals\\ \x01\xff";
    int ok = 0;
    for (int round = 0; round < 5000; ++round) {
        std::string doc = base;
        int edits = 1 + static_cast<int>(rnd() % 4);
        for (int k = 0; k < edits; ++k) {
            size_t at = rnd() % doc.size();
            switch (rnd() % 3) {
                case 0: doc[at] = alphabet[rnd() % alphabet.size()]; break;
                case 1: doc.erase(at, 1 + rnd() % 3); break;
                default: doc.insert(at, 1, alphabet[rnd() % alphabet.size()]); break;
            }
            if (doc.empty()) doc = "{";
        }
        record_metadata m;
        row r;
        record_error e;
        auto s = d->decode(std::string_view(doc), std::nullopt, m, r, e);
        if (s == decode_status::ok) ++ok;
        else EXPECT_FALSE(to_string(e.code).empty());
    }
    EXPECT_GT(ok, 0);
}

TEST(robustness_test, mutated_job_texts_never_crash_the_compiler) {
    const std::string base =
        "SET 'table.exec.emit.early-fire.enabled' = 'true';\nSET 'table.exec.emit.early-fire.delay' = '1 s';\n"
        "CREATE TABLE s (k STRING, n INT, ts TIMESTAMP(3), c AS UPPER(k), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)\n"
        "WITH ('connector' = 'kafka', 'topic' = 's', 'format' = 'json');\n"
        "CREATE TABLE o (w TIMESTAMP(3), k STRING, c BIGINT, PRIMARY KEY (w, k) NOT ENFORCED)\n"
        "WITH ('connector' = 'cassandra', 'keyspace' = 'ks', 'table' = 'o');\n"
        "EXECUTE STATEMENT SET BEGIN\n"
        "INSERT INTO o SELECT window_start, CASE WHEN k LIKE 'a%' THEN k ELSE 'b' END, COUNT(DISTINCT n) "
        "FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) WHERE n BETWEEN 1 AND 9 "
        "GROUP BY window_start, window_end, CASE WHEN k LIKE 'a%' THEN k ELSE 'b' END;\nEND;\n";
    ASSERT_TRUE(std::holds_alternative<job_program>(compile_job(base, "job.sql")));
    std::mt19937 rnd(301);
    const std::string alphabet = "(),;'\"`-*/%=<>|. \nabcSELECTFROMWHERE0123456789";
    for (int round = 0; round < 2000; ++round) {
        std::string text = base;
        int edits = 1 + static_cast<int>(rnd() % 3);
        for (int k = 0; k < edits; ++k) {
            size_t at = rnd() % text.size();
            switch (rnd() % 3) {
                case 0: text[at] = alphabet[rnd() % alphabet.size()]; break;
                case 1: text.erase(at, 1 + rnd() % 5); break;
                default: text.insert(at, 1, alphabet[rnd() % alphabet.size()]); break;
            }
        }
        auto c = compile_job(text, "job.sql");
        if (auto* errors = std::get_if<std::vector<diagnostic>>(&c)) {
            ASSERT_FALSE(errors->empty());
            for (const auto& d : *errors) {
                EXPECT_GE(d.line, 1);
                EXPECT_GE(d.column, 1);
                EXPECT_FALSE(d.message.empty());
            }
        } else {
            EXPECT_FALSE(std::get<job_program>(c).explain().empty());
        }
    }
}

// REGEXP_* on user patterns: a long input with a pattern that std::regex evaluated by recursion (one
// stack frame per character: it overflowed the stack and killed the process) runs in linear time on RE2.
TEST_F(format_test, regexp_on_a_long_input_does_not_overflow_the_stack) {
    auto p = compile(
        "CREATE TABLE src (s STRING) WITH ('connector' = 'kafka', 'topic' = 'src', 'format' = 'json');\n"
        "CREATE TABLE dst (a STRING, b STRING, c BOOLEAN, l BOOLEAN) WITH ('connector' = 'kafka', 'topic' = 'dst', 'format' = 'json');\n"
        "INSERT INTO dst SELECT REGEXP_REPLACE(s, '(a|b)*c', '<$1>'), REGEXP_EXTRACT(s, '(a|b)*(c)', 2), REGEXP(s, '^(a|b)*c$'),\n"
        "  s LIKE '%a%b%c' FROM src;\n");
    auto d = p.make_decoder(0).value();
    auto s = p.make_stateless(0).value();
    std::string text(2'000'000, 'a');
    for (size_t idx = 1; idx < text.size(); idx += 2) text[idx] = 'b';
    text += 'c';
    row in, out;
    record_error e;
    record_metadata m;
    m.topic = "src";
    ASSERT_EQ(d->decode(R"({"s": ")" + text + R"("})", std::nullopt, m, in, e), decode_status::ok) << e.message;
    ASSERT_EQ(s->process(in, out, e), process_status::emitted) << e.message;
    EXPECT_EQ(out[0], value::from_string("<b>"));
    EXPECT_EQ(out[1], value::from_string("c"));
    EXPECT_EQ(out[2], value::from_bool(true));
    EXPECT_EQ(out[3], value::from_bool(true));
}

}  // namespace

TEST(cql_names, identifiers_are_quoted_unless_lower_case_simple_names) {
    EXPECT_EQ(cql_identifier("first_name1"), "first_name1");
    EXPECT_EQ(cql_identifier("firstName"), "\"firstName\"");
    EXPECT_EQ(cql_identifier("a b"), "\"a b\"");
    EXPECT_EQ(cql_identifier("a\"b"), "\"a\"\"b\"");
    EXPECT_EQ(cql_identifier("select"), "\"select\"");
    EXPECT_EQ(cql_identifier("1a"), "\"1a\"");
}

TEST(cql_names, cql_type_options_must_be_cql_types) {
    for (const char* ok : {"uuid", "TEXT", "timeuuid", "list<int>", "map<text, frozen<list<int>>>", "set < inet >",
                           "tuple<int, text, bigint>", "vector<float, 3>", "frozen<map<text,int>>"}) {
        EXPECT_TRUE(valid_cql_type(ok)) << ok;
    }
    for (const char* bad : {"", "uuid, x int", "text); DROP TABLE t; --", "list<int", "map<int>", "string", "int int",
                            "vector<float, x>", "list<>"}) {
        EXPECT_FALSE(valid_cql_type(bad)) << bad;
    }
    auto c = compile_job(
        "CREATE TABLE s (a STRING) WITH ('connector' = 'kafka', 'topic' = 's', 'format' = 'json');\n"
        "CREATE TABLE c (id STRING, PRIMARY KEY (id) NOT ENFORCED)\n"
        "WITH ('connector' = 'cassandra', 'keyspace' = 'ks', 'table' = 't', 'cql.type.id' = 'uuid, x int');\n"
        "INSERT INTO c SELECT a FROM s;\n",
        "job.sql");
    ASSERT_TRUE(std::holds_alternative<std::vector<diagnostic>>(c));
    EXPECT_NE(to_string(std::get<std::vector<diagnostic>>(c)).find("'cql.type.id' = 'uuid, x int' is not a CQL type"), std::string::npos)
        << to_string(std::get<std::vector<diagnostic>>(c));
}

}  // namespace millrace::sql
