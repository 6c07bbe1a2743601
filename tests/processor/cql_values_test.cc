// Values on their way to a CQL column: the sql library's values by their
// Flink type, and the coercion to the table's real column types.
#include <gtest/gtest.h>

#include "cql_table_sink.h"
#include "sql_values.h"
#include "window_store.h"

namespace millrace::processor {
namespace {

namespace cc = millrace::cql_client;

cc::data_type type_of(cc::type_id id) { return cc::data_type{id, {}, {}, {}, {}, {}}; }

TEST(cql_values_test, sql_values_take_the_cql_type_of_their_flink_type) {
    EXPECT_EQ(*to_cql_value(sql::value::from_string("a"), sql::sql_type::string()), cc::value::text("a"));
    EXPECT_EQ(*to_cql_value(sql::value::from_int(7), sql::sql_type::bigint()), cc::value::bigint(7));
    EXPECT_EQ(*to_cql_value(sql::value::from_int(7), sql::sql_type::int_()), cc::value::int32(7));
    EXPECT_EQ(*to_cql_value(sql::value::from_double(1.5), sql::sql_type::double_()), cc::value::float64(1.5));
    EXPECT_EQ(*to_cql_value(sql::value::from_bool(true), sql::sql_type::boolean()), cc::value::boolean(true));
    EXPECT_EQ(*to_cql_value(sql::value::from_int(1700000000123), sql::sql_type::timestamp(3)),
              cc::value::timestamp(1700000000123));
    EXPECT_TRUE(to_cql_value(sql::value::null(), sql::sql_type::string())->is_null());
}

TEST(cql_values_test, arrays_become_lists) {
    sql::sql_type t = sql::sql_type::of(sql::type_id::array);
    t.children.push_back(sql::sql_type::bigint());
    auto v = to_cql_value(sql::value::from_list({sql::value::from_int(1), sql::value::from_int(2)}), t);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, cc::value::list({cc::value::bigint(1), cc::value::bigint(2)}));
}

TEST(cql_values_test, text_is_parsed_into_a_uuid_column) {
    auto v = coerce_cql_value(cc::value::text("0E8B2C1A-1111-4222-a333-444455556666"), type_of(cc::type_id::uuid), "id");
    ASSERT_TRUE(v.ok()) << v.err().message();
    EXPECT_EQ(v->type().id, cc::type_id::uuid);
    EXPECT_EQ(v->to_string(), "0e8b2c1a-1111-4222-a333-444455556666");
}

TEST(cql_values_test, text_that_is_not_a_uuid_names_the_column_and_both_types) {
    auto v = coerce_cql_value(cc::value::text("nope"), type_of(cc::type_id::uuid), "id");
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.err().message().find("column id"), std::string::npos) << v.err().message();
    EXPECT_NE(v.err().message().find("uuid"), std::string::npos) << v.err().message();
    EXPECT_NE(v.err().message().find("text"), std::string::npos) << v.err().message();
}

TEST(cql_values_test, integers_are_narrowed_when_they_fit) {
    auto v = coerce_cql_value(cc::value::bigint(42), type_of(cc::type_id::int_), "n");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, cc::value::int32(42));
    auto big = coerce_cql_value(cc::value::bigint(int64_t{1} << 40), type_of(cc::type_id::int_), "n");
    ASSERT_FALSE(big.ok());
    EXPECT_NE(big.err().message().find("out of range"), std::string::npos);
}

TEST(cql_values_test, scalars_become_text_in_a_text_column) {
    EXPECT_EQ(*coerce_cql_value(cc::value::bigint(12345), type_of(cc::type_id::varchar), "post_code"), cc::value::text("12345"));
    EXPECT_EQ(*coerce_cql_value(cc::value::text("x"), type_of(cc::type_id::varchar), "c"), cc::value::text("x"));
}

TEST(cql_values_test, nulls_stay_null_in_any_column) {
    EXPECT_TRUE(coerce_cql_value(cc::value::null(), type_of(cc::type_id::uuid), "id")->is_null());
}

TEST(cql_values_test, create_table_puts_the_first_key_column_in_the_partition_key) {
    cql_table_options o;
    o.keyspace = "ks";
    o.table = "t";
    o.columns = {{"a", "text"}, {"b", "bigint"}, {"c", "int"}};
    o.partition_key = {"a"};
    o.clustering_key = {"b"};
    EXPECT_EQ(create_table_cql(o), "CREATE TABLE IF NOT EXISTS ks.t (a text, b bigint, c int, PRIMARY KEY (a, b))");
    o.partition_key = {"a", "b"};
    o.clustering_key = {};
    EXPECT_EQ(create_table_cql(o), "CREATE TABLE IF NOT EXISTS ks.t (a text, b bigint, c int, PRIMARY KEY ((a, b)))");
}

}  // namespace

// CQL folds unquoted names to lower case: a declared firstName must be quoted,
// or the table gets firstname and the column check never finds firstName.
TEST(cql_values_test, create_table_quotes_names_that_are_not_lower_case_simple_names) {
    cql_table_options o;
    o.keyspace = "Ks";
    o.table = "t";
    o.columns = {{"firstName", "text"}, {"my \"col\"", "int"}, {"select", "int"}, {"n_1", "bigint"}};
    o.partition_key = {"firstName"};
    o.clustering_key = {"n_1"};
    EXPECT_EQ(create_table_cql(o),
              "CREATE TABLE IF NOT EXISTS \"Ks\".t (\"firstName\" text, \"my \"\"col\"\"\" int, \"select\" int, n_1 bigint, "
              "PRIMARY KEY (\"firstName\", n_1))");
}

// window_state rows expire well after their window's end: the table does not only grow.
TEST(window_state_ttl, rows_expire_seven_days_after_the_window_end) {
    const int64_t now = 1'700'000'000'000;
    EXPECT_EQ(state_ttl_seconds(now - 60'000, now), 7 * 24 * 3600);
    EXPECT_EQ(state_ttl_seconds(now + 60'000, now), 7 * 24 * 3600 + 60);
    EXPECT_EQ(state_ttl_seconds(now + 1000LL * 630720000 * 2, now), 630720000);
}

}  // namespace millrace::processor
