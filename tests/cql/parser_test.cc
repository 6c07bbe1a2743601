// The CQL subset parser: the classic pipeline's statements, markers, and syntax errors.
#include "parser.h"

#include <gtest/gtest.h>

namespace millrace::cql {
namespace {

parsed_statement parse(const char* text) {
    auto p = parse_statement(text);
    EXPECT_TRUE(p.ok()) << text << ": " << (p.ok() ? "" : p.err().message());
    return p.ok() ? std::move(*p) : parsed_statement{use_stmt{}, {}};
}

TEST(parser_test, classic_create_keyspace) {
    auto p = parse("CREATE KEYSPACE IF NOT EXISTS spark_streams WITH replication = {'class': 'SimpleStrategy', "
                   "'replication_factor': '1'} AND durable_writes = false;");
    const auto& c = std::get<create_keyspace_stmt>(p.stmt);
    EXPECT_EQ(c.keyspace, "spark_streams");
    EXPECT_TRUE(c.if_not_exists);
    EXPECT_EQ(c.replication.at("class"), "SimpleStrategy");
    EXPECT_EQ(c.replication.at("replication_factor"), "1");
    EXPECT_FALSE(c.durable_writes);
}

TEST(parser_test, classic_create_table) {
    auto p = parse("CREATE TABLE IF NOT EXISTS spark_streams.created_users (id UUID PRIMARY KEY, first_name TEXT, "
                   "last_name TEXT, gender TEXT, address TEXT, post_code TEXT, email TEXT, username TEXT, "
                   "registered_date TEXT, phone TEXT, picture TEXT)");
    const auto& c = std::get<create_table_stmt>(p.stmt);
    EXPECT_EQ(c.keyspace, "spark_streams");
    EXPECT_EQ(c.table, "created_users");
    EXPECT_EQ(c.columns.size(), 11u);
    EXPECT_EQ(c.partition_key, std::vector<std::string>{"id"});
    EXPECT_EQ(c.columns[0].type, "uuid");
}

TEST(parser_test, composite_key_and_clustering_order) {
    auto p = parse("CREATE TABLE t (a int, b text, c timestamp, d map<text, frozen<list<int>>>, "
                   "PRIMARY KEY ((a, b), c)) WITH CLUSTERING ORDER BY (c DESC) AND comment = 'x'");
    const auto& c = std::get<create_table_stmt>(p.stmt);
    EXPECT_EQ(c.partition_key, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(c.clustering, std::vector<std::string>{"c"});
    EXPECT_TRUE(c.descending.at("c"));
    EXPECT_EQ(c.columns[3].type, "map<text, frozen<list<int>>>");
}

TEST(parser_test, insert_with_literals_and_options) {
    auto p = parse("INSERT INTO ks.t (id, name, n, f, ok, b, l) VALUES (123e4567-e89b-12d3-a456-426614174000, "
                   "'O''Neil', -3, 1.5e3, true, 0xCAFE, [1, 2]) IF NOT EXISTS USING TTL 10 AND TIMESTAMP 5");
    const auto& s = std::get<insert_stmt>(p.stmt);
    EXPECT_TRUE(s.if_not_exists);
    ASSERT_EQ(s.values.size(), 7u);
    EXPECT_EQ(s.values[0].lit.kind, literal_kind::uuid);
    EXPECT_EQ(s.values[1].lit.text, "O'Neil");
    EXPECT_EQ(s.values[2].lit.text, "-3");
    EXPECT_EQ(s.values[3].lit.kind, literal_kind::floating);
    EXPECT_EQ(s.values[5].lit.kind, literal_kind::hex);
    EXPECT_EQ(s.values[6].lit.elements.size(), 2u);
    EXPECT_TRUE(s.options.ttl.has_value());
    EXPECT_TRUE(s.options.timestamp.has_value());
}

TEST(parser_test, markers_remember_their_receivers) {
    auto p = parse("SELECT a, count(*) AS n FROM t WHERE k = ? AND c IN ? AND d > :low LIMIT ?");
    ASSERT_EQ(p.markers.size(), 4u);
    EXPECT_EQ(p.markers[0].column, "k");
    EXPECT_EQ(p.markers[1].role, marker_role::in_list);
    EXPECT_EQ(p.markers[2].name, "low");
    EXPECT_EQ(p.markers[3].role, marker_role::limit);
    const auto& s = std::get<select_stmt>(p.stmt);
    EXPECT_TRUE(s.selectors[1].count);
    EXPECT_EQ(s.selectors[1].alias, "n");
}

// The Spark Cassandra connector (Java driver 4) prepares INSERT ... VALUES (:"id", :"Name").
TEST(parser_test, quoted_named_markers_keep_their_case) {
    auto p = parse(R"(INSERT INTO "ks"."t" ("id", "Name") VALUES (:"id", :"Na""me"))");
    ASSERT_EQ(p.markers.size(), 2u);
    EXPECT_EQ(p.markers[0].name, "id");
    EXPECT_EQ(p.markers[0].column, "id");
    EXPECT_EQ(p.markers[1].name, "Na\"me");
    EXPECT_EQ(p.markers[1].column, "Name");
}

TEST(parser_test, select_with_token_order_and_filtering) {
    auto p = parse("SELECT * FROM ks.t WHERE token(id) > -100 AND token(id) <= 100 ORDER BY c DESC PER PARTITION LIMIT 2 "
                   "LIMIT 10 ALLOW FILTERING");
    const auto& s = std::get<select_stmt>(p.stmt);
    EXPECT_TRUE(s.star);
    EXPECT_TRUE(s.where[0].token);
    EXPECT_EQ(s.where[1].op, relation_op::le);
    EXPECT_TRUE(s.order_by[0].second);
    EXPECT_TRUE(s.allow_filtering);
    EXPECT_TRUE(s.per_partition_limit.has_value());
}

TEST(parser_test, batch_update_delete) {
    auto p = parse("BEGIN UNLOGGED BATCH USING TIMESTAMP 9 INSERT INTO t (k) VALUES (1); UPDATE t SET v = 'x' WHERE k = 2; "
                   "DELETE v FROM t WHERE k = 3 APPLY BATCH");
    const auto& b = std::get<batch_stmt>(p.stmt);
    EXPECT_FALSE(b.logged);
    EXPECT_EQ(b.statements.size(), 3u);
    EXPECT_EQ(std::get<delete_stmt>(b.statements[2]).columns, std::vector<std::string>{"v"});
}

TEST(parser_test, quoted_identifiers_keep_case) {
    auto p = parse("SELECT \"MyCol\" FROM \"Ks\".tbl");
    const auto& s = std::get<select_stmt>(p.stmt);
    EXPECT_EQ(s.selectors[0].column, "MyCol");
    EXPECT_EQ(s.keyspace, "Ks");
}

TEST(parser_test, syntax_errors_name_the_position) {
    auto bad = parse_statement("SELEC * FROM t");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message().find("line 1:0"), std::string::npos) << bad.err().message();
    EXPECT_FALSE(parse_statement("SELECT * FROM").ok());
    EXPECT_FALSE(parse_statement("INSERT INTO t (a) VALUES ('unterminated)").ok());
    EXPECT_FALSE(parse_statement("SELECT * FROM t extra").ok());
    EXPECT_FALSE(parse_statement("SELECT * FROM t WHERE a ~ 1").ok());
}

}  // namespace
TEST(parser_test, select_distinct_and_json) {
    auto p = parse("SELECT DISTINCT p FROM t");
    const auto& s = std::get<select_stmt>(p.stmt);
    EXPECT_TRUE(s.distinct);
    ASSERT_EQ(s.selectors.size(), 1u);
    EXPECT_EQ(s.selectors[0].column, "p");
    // A column named distinct / json is a column, not the keyword.
    EXPECT_FALSE(std::get<select_stmt>(parse("SELECT distinct FROM t").stmt).distinct);
    EXPECT_EQ(std::get<select_stmt>(parse("SELECT json, x FROM t").stmt).selectors.size(), 2u);
    EXPECT_TRUE(std::get<select_stmt>(parse("SELECT JSON a FROM t").stmt).json);
}

TEST(parser_test, selector_functions_and_their_column_names) {
    auto p = parse("SELECT token(a, b), ttl(v), CAST(n AS text), toJson(v), now(), "
                   "toUnixTimestamp(minTimeuuid('2024-01-02 03:04:05+0000')), writetime(v) AS w, \"Quoted\" FROM t");
    const auto& sel = std::get<select_stmt>(p.stmt).selectors;
    ASSERT_EQ(sel.size(), 8u);
    EXPECT_EQ(sel[0].expr->display(), "system.token(a, b)");
    EXPECT_EQ(sel[1].expr->display(), "ttl(v)");
    EXPECT_EQ(sel[2].expr->display(), "cast(n as text)");
    EXPECT_EQ(sel[3].expr->display(), "system.tojson(v)");
    EXPECT_EQ(sel[4].expr->display(), "system.now()");
    EXPECT_EQ(sel[5].expr->display(), "system.tounixtimestamp(system.mintimeuuid('2024-01-02 03:04:05+0000'))");
    EXPECT_TRUE(sel[6].writetime);
    EXPECT_EQ(sel[6].alias, "w");
    EXPECT_EQ(sel[7].column, "Quoted");
    EXPECT_FALSE(parse_statement("SELECT cast(n text) FROM t").ok());
}

TEST(parser_test, update_and_delete_conditions) {
    auto u = std::get<update_stmt>(parse("UPDATE t SET w = 'x' WHERE k = 'a' IF v = 1 AND w != ?").stmt);
    ASSERT_EQ(u.conditions.size(), 2u);
    EXPECT_EQ(u.conditions[0].columns[0], "v");
    EXPECT_EQ(u.conditions[1].op, relation_op::neq);
    auto d = std::get<delete_stmt>(parse("DELETE FROM t WHERE k = 'a' IF w IN ('x', 'y')").stmt);
    ASSERT_EQ(d.conditions.size(), 1u);
    EXPECT_EQ(d.conditions[0].values.size(), 2u);
    EXPECT_TRUE(std::get<delete_stmt>(parse("DELETE FROM t WHERE k = 'a' IF EXISTS").stmt).if_exists);
}

}  // namespace millrace::cql

namespace millrace::cql {
namespace {

TEST(parser_json_test, insert_json_and_from_json) {
    auto a = parse_statement("INSERT INTO ks.t JSON '{\"k\": 1}' DEFAULT UNSET IF NOT EXISTS USING TTL 5");
    ASSERT_TRUE(a.ok()) << a.err().message();
    const auto& ins = std::get<insert_stmt>(a->stmt);
    ASSERT_TRUE(ins.json.has_value());
    EXPECT_EQ(ins.json->lit.text, "{\"k\": 1}");
    EXPECT_TRUE(ins.json_default_unset);
    EXPECT_TRUE(ins.if_not_exists);
    EXPECT_TRUE(ins.options.ttl.has_value());

    auto b = parse_statement("INSERT INTO t JSON ? DEFAULT NULL");
    ASSERT_TRUE(b.ok()) << b.err().message();
    EXPECT_FALSE(std::get<insert_stmt>(b->stmt).json_default_unset);
    ASSERT_EQ(b->markers.size(), 1u);
    EXPECT_EQ(b->markers[0].name, "[json]");
    EXPECT_EQ(b->markers[0].role, marker_role::json);

    auto c = parse_statement("UPDATE t SET v = fromJson(?) WHERE k = 1");
    ASSERT_TRUE(c.ok()) << c.err().message();
    const auto& upd = std::get<update_stmt>(c->stmt);
    EXPECT_EQ(upd.assignments[0].value.function, "fromjson");
    ASSERT_EQ(upd.assignments[0].value.args.size(), 1u);
    EXPECT_EQ(c->markers[0].role, marker_role::json);

    EXPECT_FALSE(parse_statement("INSERT INTO t JSON '{}' DEFAULT SOMETHING").ok());
}

}  // namespace
}  // namespace millrace::cql

namespace millrace::cql {
namespace {

TEST(parser_udt_test, type_statements_literals_fields_and_map_relations) {
    auto c = std::get<type_stmt>(parse("CREATE TYPE IF NOT EXISTS ks.addr (street text, tags frozen<list<text>>)").stmt);
    EXPECT_EQ(c.act, type_stmt::action::create);
    EXPECT_TRUE(c.if_not_exists);
    EXPECT_EQ(c.keyspace, "ks");
    EXPECT_EQ(c.name, "addr");
    ASSERT_EQ(c.fields.size(), 2u);
    EXPECT_EQ(c.fields[1].type, "frozen<list<text>>");
    auto a = std::get<type_stmt>(parse("ALTER TYPE addr RENAME a TO b AND c TO d").stmt);
    EXPECT_EQ(a.act, type_stmt::action::rename);
    EXPECT_EQ(a.renames.size(), 2u);
    EXPECT_EQ(std::get<type_stmt>(parse("ALTER TYPE addr ADD zip int").stmt).fields.at(0).name, "zip");
    auto d = std::get<type_stmt>(parse("DROP TYPE IF EXISTS addr").stmt);
    EXPECT_TRUE(d.if_exists);
    EXPECT_EQ(d.act, type_stmt::action::drop);
    EXPECT_FALSE(parse_statement("CREATE TYPE ks.text (a int)").ok());  // a built-in type's name
    // A udt column of another keyspace, a tuple type, a udt literal, a tuple literal.
    auto t = std::get<create_table_stmt>(parse("CREATE TABLE t (k int PRIMARY KEY, a frozen<other.addr>, b tuple<int, text>)").stmt);
    EXPECT_EQ(t.columns[1].type, "frozen<other.addr>");
    EXPECT_EQ(t.columns[2].type, "tuple<int, text>");
    auto i = std::get<insert_stmt>(parse("INSERT INTO t (k, a, b) VALUES (1, {street: 'x', \"Num\": 2}, (1, 'a'))").stmt);
    EXPECT_EQ(i.values[1].lit.kind, literal_kind::udt);
    ASSERT_EQ(i.values[1].lit.elements.size(), 4u);
    EXPECT_EQ(i.values[1].lit.elements[2].text, "Num");
    EXPECT_EQ(i.values[2].lit.kind, literal_kind::tuple);
    EXPECT_EQ(std::get<insert_stmt>(parse("INSERT INTO t (k, m) VALUES (1, {'a': 1})").stmt).values[1].lit.kind, literal_kind::map);
    // Field selection, field updates and deletes with their markers.
    auto s = std::get<select_stmt>(parse("SELECT a.street, a FROM t").stmt);
    ASSERT_TRUE(s.selectors[0].expr.has_value());
    EXPECT_EQ(s.selectors[0].expr->display(), "a.street");
    auto u = parse("UPDATE t SET a.street = ? WHERE k = 1");
    const auto& set = std::get<update_stmt>(u.stmt).assignments[0];
    EXPECT_EQ(set.op, assign_op::field);
    EXPECT_EQ(set.field, "street");
    EXPECT_EQ(u.markers[0].role, marker_role::udt_field);
    EXPECT_EQ(u.markers[0].name, "a.street");
    EXPECT_EQ(std::get<delete_stmt>(parse("DELETE a.street FROM t WHERE k = 1").stmt).columns[0], "a.street");
    // CONTAINS KEY and m[k] = v.
    auto w = std::get<select_stmt>(parse("SELECT * FROM t WHERE m CONTAINS KEY ? AND m['a'] = 1 AND n['b'] > 2").stmt).where;
    ASSERT_EQ(w.size(), 3u);
    EXPECT_EQ(w[0].op, relation_op::contains_key);
    EXPECT_EQ(w[1].op, relation_op::map_entry);
    EXPECT_EQ(w[1].values.size(), 2u);
    EXPECT_FALSE(w[1].entry_not_eq);
    EXPECT_TRUE(w[2].entry_not_eq);
}

}  // namespace
}  // namespace millrace::cql
