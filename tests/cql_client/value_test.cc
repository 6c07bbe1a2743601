// Unit tests of the client's value codec, response decoders and option parsing
// (no network). Every decoder error branch has its own case.
#include <gtest/gtest.h>

#include "messages.h"
#include "millrace/cql_client/client.h"
#include "wire.h"

namespace millrace::cql_client {
namespace {

data_type of(type_id id, std::vector<data_type> params = {}) {
    data_type t;
    t.id = id;
    t.params = std::move(params);
    return t;
}

std::string hex(const std::string& bytes) {
    std::string out;
    for (char c : bytes) out += fmt::format("{:02x}", uint8_t(c));
    return out;
}

// Encodes `v` as `t`, decodes it back and checks equality.
void round_trip(const value& v, const data_type& t) {
    auto bytes = v.encode(&t);
    ASSERT_TRUE(bytes.ok()) << bytes.err().message();
    auto back = value::decode(t, *bytes);
    ASSERT_TRUE(back.ok()) << back.err().message();
    EXPECT_EQ(back->type().id, t.id);
    EXPECT_EQ(*back, v) << v.to_string() << " came back as " << back->to_string();
}

TEST(value_test, every_type_round_trips) {
    round_trip(value::boolean(true), of(type_id::boolean));
    round_trip(value::boolean(false), of(type_id::boolean));
    round_trip(value::tinyint(-128), of(type_id::tinyint));
    round_trip(value::smallint(-32768), of(type_id::smallint));
    round_trip(value::int32(-2147483647 - 1), of(type_id::int_));
    round_trip(value::bigint(INT64_MIN), of(type_id::bigint));
    round_trip(value::float32(1.5f), of(type_id::float_));
    round_trip(value::float64(-2.25e300), of(type_id::double_));
    round_trip(value::text("héllo 'world'"), of(type_id::varchar));
    round_trip(value::ascii("plain"), of(type_id::ascii));
    round_trip(value::blob(std::string("\0\1\2\xff", 4)), of(type_id::blob));
    round_trip(*value::uuid_from_string("123e4567-e89b-12d3-a456-426614174000"), of(type_id::uuid));
    round_trip(value::timestamp(1732500000123), of(type_id::timestamp));
    round_trip(value::date(-1), of(type_id::date));
    round_trip(value::date(20000), of(type_id::date));
    round_trip(value::time(86399999999999), of(type_id::time));
    round_trip(*value::inet_from_string("10.1.2.3"), of(type_id::inet));
    round_trip(*value::inet_from_string("::1"), of(type_id::inet));
    round_trip(value::varint(-129), of(type_id::varint));
    round_trip(value::decimal(2, 12345), of(type_id::decimal));
    round_trip(value::list({value::int32(1), value::int32(2)}), of(type_id::list, {of(type_id::int_)}));
    round_trip(value::set({value::text("a"), value::text("b")}), of(type_id::set, {of(type_id::varchar)}));
    round_trip(value::map({{value::text("k"), value::bigint(7)}}),
               of(type_id::map, {of(type_id::varchar), of(type_id::bigint)}));
    round_trip(value::list({}), of(type_id::list, {of(type_id::int_)}));
}

TEST(value_test, wire_bytes_match_the_protocol) {
    EXPECT_EQ(hex(*value::int32(1).encode()), "00000001");
    EXPECT_EQ(hex(*value::date(0).encode()), "80000000");
    EXPECT_EQ(hex(*value::varint(127).encode()), "7f");
    EXPECT_EQ(hex(*value::varint(128).encode()), "0080");
    EXPECT_EQ(hex(*value::varint(-1).encode()), "ff");
    EXPECT_EQ(hex(*value::varint(-129).encode()), "ff7f");
    EXPECT_EQ(hex(*value::decimal(2, 5).encode()), "0000000205");
    EXPECT_EQ(hex(*value::list({value::tinyint(1)}).encode()), "000000010000000101");
    EXPECT_EQ(value::uuid_from_string("123E4567-E89B-12D3-A456-426614174000")->uuid_string(),
              "123e4567-e89b-12d3-a456-426614174000");
}

TEST(value_test, integers_convert_to_the_bound_width) {
    data_type bigint = of(type_id::bigint);
    auto bytes = value::int32(5).encode(&bigint);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(hex(*bytes), "0000000000000005");
    data_type dbl = of(type_id::double_);
    EXPECT_EQ(value::decode(dbl, *value::int32(3).encode(&dbl))->as_double(), 3.0);
}

TEST(value_test, out_of_range_integer_is_refused) {
    data_type tiny = of(type_id::tinyint);
    auto bytes = value::int32(300).encode(&tiny);
    ASSERT_FALSE(bytes.ok());
    EXPECT_NE(bytes.err().message().find("300 does not fit in tinyint"), std::string::npos) << bytes.err().message();
}

TEST(value_test, mismatched_type_is_refused) {
    data_type uuid = of(type_id::uuid);
    auto bytes = value::text("not a uuid").encode(&uuid);
    ASSERT_FALSE(bytes.ok());
    EXPECT_NE(bytes.err().message().find("as uuid"), std::string::npos) << bytes.err().message();
}

TEST(value_test, non_ascii_text_into_ascii_is_refused) {
    data_type ascii = of(type_id::ascii);
    EXPECT_FALSE(value::text("é").encode(&ascii).ok());
}

TEST(value_test, null_inside_collection_is_refused) {
    auto bytes = value::list({value::int32(1), value::null()}).encode();
    ASSERT_FALSE(bytes.ok());
    EXPECT_NE(bytes.err().message().find("element 1 is null"), std::string::npos) << bytes.err().message();
}

TEST(value_test, bad_uuid_text) {
    EXPECT_FALSE(value::uuid_from_string("123e4567").ok());
    EXPECT_FALSE(value::uuid_from_string("123e4567-e89b-12d3-a456-42661417400g").ok());
    EXPECT_FALSE(value::uuid_from_string("123e4567e89b-12d3-a456-4266141740000").ok());
}

TEST(value_test, bad_inet_text) {
    auto v = value::inet_from_string("300.1.1.1");
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.err().message().find("300.1.1.1"), std::string::npos);
}

TEST(value_test, null_cell_decodes_as_null) {
    auto v = value::decode(of(type_id::int_), std::nullopt);
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->is_null());
}

TEST(value_test, cell_of_wrong_size) {
    auto v = value::decode(of(type_id::int_), std::string_view("\0\0\1", 3));
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.err().code(), errc::corruption);
    EXPECT_NE(v.err().message().find("int cell of 3 bytes, expected 4"), std::string::npos) << v.err().message();
    EXPECT_FALSE(value::decode(of(type_id::uuid), std::string_view("abc")).ok());
    EXPECT_FALSE(value::decode(of(type_id::inet), std::string_view("abcde")).ok());
    EXPECT_FALSE(value::decode(of(type_id::decimal), std::string_view("ab")).ok());
    EXPECT_FALSE(value::decode(of(type_id::boolean), std::string_view("ab")).ok());
}

TEST(value_test, collection_claiming_too_many_elements) {
    std::string cell;
    wire::wire_writer(cell).int32(1000);
    auto v = value::decode(of(type_id::list, {of(type_id::int_)}), cell);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.err().message().find("claims 1000 elements"), std::string::npos) << v.err().message();
}

TEST(value_test, collection_truncated_element) {
    std::string cell;
    wire::wire_writer w(cell);
    w.int32(1);
    w.int32(4);
    cell += "ab";
    auto v = value::decode(of(type_id::list, {of(type_id::int_)}), cell);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.err().message().find("truncated"), std::string::npos) << v.err().message();
}

TEST(value_test, collection_trailing_bytes) {
    std::string cell = *value::list({value::int32(1)}).encode() + "x";
    EXPECT_FALSE(value::decode(of(type_id::list, {of(type_id::int_)}), cell).ok());
}

TEST(messages_test, decode_rows_result) {
    std::string body;
    wire::wire_writer w(body);
    w.int32(2);                 // rows
    w.int32(0x0001 | 0x0002);   // global spec, more pages
    w.int32(2);                 // columns
    w.bytes(std::string("state"));
    w.string("ks");
    w.string("t");
    w.string("id");
    w.int16(0x0009);
    w.string("tags");
    w.int16(0x0022);
    w.int16(0x000D);
    w.int32(1);                 // one row
    w.bytes(*value::int32(42).encode());
    w.bytes(std::nullopt);
    auto r = messages::decode_result(body, "");
    ASSERT_TRUE(r.ok()) << r.err().message();
    ASSERT_EQ(r->page.columns.size(), 2u);
    EXPECT_EQ(r->page.columns[1].type.to_string(), "set<text>");
    EXPECT_EQ(r->page.columns[0].keyspace, "ks");
    EXPECT_EQ(*r->page.paging_state, "state");
    ASSERT_EQ(r->page.size(), 1u);
    EXPECT_EQ(r->page.at(0, "id").as_int(), 42);
    EXPECT_TRUE(r->page.at(0, "tags").is_null());
    EXPECT_EQ(r->page.index_of("nope"), -1);
}

TEST(messages_test, rows_claiming_more_rows_than_bytes) {
    std::string body;
    wire::wire_writer w(body);
    w.int32(2);
    w.int32(0x0001);
    w.int32(1);
    w.string("ks");
    w.string("t");
    w.string("id");
    w.int16(0x0009);
    w.int32(1000000);
    auto r = messages::decode_result(body, "");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code(), errc::corruption);
    EXPECT_NE(r.err().message().find("claims 1000000 rows"), std::string::npos) << r.err().message();
}

TEST(messages_test, truncated_result) {
    std::string body;
    wire::wire_writer w(body);
    w.int32(2);
    w.int32(0);
    auto r = messages::decode_result(body, "");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message().find("truncated"), std::string::npos) << r.err().message();
}

TEST(messages_test, unknown_result_kind) {
    std::string body;
    wire::wire_writer(body).int32(99);
    auto r = messages::decode_result(body, "");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message().find("unknown kind 0x0063"), std::string::npos) << r.err().message();
}

TEST(messages_test, unknown_column_type) {
    std::string body;
    wire::wire_writer w(body);
    w.int32(2);
    w.int32(0x0001);
    w.int32(1);
    w.string("ks");
    w.string("t");
    w.string("id");
    w.int16(0x0777);
    w.int32(0);
    auto r = messages::decode_result(body, "");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message().find("unknown type id 0x0777"), std::string::npos) << r.err().message();
}

TEST(messages_test, decode_prepared_result) {
    std::string body;
    wire::wire_writer w(body);
    w.int32(4);
    w.short_bytes("ID12");
    w.int32(0x0001);  // bind metadata: global spec
    w.int32(2);
    w.int32(1);
    w.int16(0);
    w.string("ks");
    w.string("t");
    w.string("id");
    w.int16(0x000C);
    w.string("name");
    w.int16(0x000D);
    w.int32(0x0004);  // result metadata: no metadata
    w.int32(0);
    auto r = messages::decode_result(body, "INSERT INTO t (id, name) VALUES (?, ?)");
    ASSERT_TRUE(r.ok()) << r.err().message();
    ASSERT_TRUE(r->prepared);
    EXPECT_EQ(r->prepared->id(), "ID12");
    ASSERT_EQ(r->prepared->bind_columns().size(), 2u);
    EXPECT_EQ(r->prepared->bind_columns()[0].type.id, type_id::uuid);
    EXPECT_EQ(r->prepared->partition_key_indexes(), std::vector<uint16_t>{0});
}

TEST(messages_test, error_body_and_code) {
    std::string body;
    wire::wire_writer w(body);
    w.int32(0x2500);
    w.string("Prepared query with ID 0a not found");
    w.short_bytes("\x0a");
    auto e = messages::decode_error(body);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->unprepared_id, "\x0a");
    auto err = messages::to_error(*e, "127.0.0.1:9042").with_context("executing");
    EXPECT_EQ(server_error_code(err), 0x2500);
    EXPECT_NE(err.message().find("127.0.0.1:9042"), std::string::npos);
    EXPECT_FALSE(server_error_code(error(errc::timed_out, "no answer")).has_value());
    EXPECT_FALSE(messages::decode_error(std::string_view("\0\0", 2)).ok());
}

TEST(messages_test, value_count_must_match_markers) {
    std::vector<column_spec> bind(2);
    auto v = messages::encode_values({value::int32(1)}, &bind);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.err().message().find("2 bind markers, 1 values"), std::string::npos);
}

TEST(messages_test, response_prefix_warnings) {
    std::string body;
    wire::wire_writer w(body);
    w.int16(1);
    w.string("batch too large");
    w.int32(1);
    wire::wire_reader r(body);
    auto warnings = messages::skip_response_prefix(r, wire::frame_flag::warning);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(warnings[0], "batch too large");
    EXPECT_EQ(r.remaining(), 4u);
}

TEST(wire_test, lz4_round_trip_and_bad_input) {
    std::string text(10000, 'a');
    auto back = wire::lz4_decompress(wire::lz4_compress(text));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, text);
    EXPECT_FALSE(wire::lz4_decompress("ab").ok());
    std::string huge;
    wire::wire_writer(huge).int32(0x7fffffff);
    auto e = wire::lz4_decompress(huge + "xx");
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.err().message().find("limit"), std::string::npos);
    std::string lie;
    wire::wire_writer(lie).int32(100);
    EXPECT_FALSE(wire::lz4_decompress(lie + "garbage").ok());
}

TEST(options_test, contact_points) {
    auto points = parse_contact_points(" a:1, b ,[::1]:9043,");
    ASSERT_TRUE(points.ok()) << points.err().message();
    EXPECT_EQ(*points, (std::vector<std::string>{"a:1", "b", "[::1]:9043"}));
    auto bad = parse_contact_points("a:99999");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message().find("'99999' is not a port"), std::string::npos) << bad.err().message();
    EXPECT_FALSE(parse_contact_points(" , ").ok());
    EXPECT_FALSE(parse_contact_points("host:").ok());
    auto opts = options_from_contact_points("127.0.0.1:9042");
    ASSERT_TRUE(opts.ok());
    EXPECT_EQ(opts->contact_points.size(), 1u);
}

}  // namespace
}  // namespace millrace::cql_client
