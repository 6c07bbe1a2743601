// DESCRIBE's CREATE statements (and the statements around them in the parser):
// exact text for the classic table, quoting, and that the text parses back
// into the same definition.
#include "describe.h"

#include <gtest/gtest.h>

#include "parser.h"
#include "schema.h"

namespace millrace::cql {
namespace {

column_def_full column(const char* name, const char* type, column_kind kind = column_kind::regular, int position = -1,
                       bool descending = false) {
    column_def_full c;
    c.name = name;
    c.type = parse_type(type).value();
    c.type_text = c.type.name();
    c.kind = kind;
    c.position = position;
    c.descending = descending;
    return c;
}

table_def events_table() {
    table_def t;
    t.keyspace = "ks";
    t.name = "Events";
    t.columns = {column("day", "text", column_kind::partition_key, 0), column("seq", "int", column_kind::partition_key, 1),
                 column("at", "timestamp", column_kind::clustering, 0, true), column("Mixed \"q\"", "set<text>"),
                 column("attrs", "frozen<map<text, int>>")};
    t.partition_key = {0, 1};
    t.clustering = {2};
    t.comment = "it's";
    t.default_time_to_live = 60;
    return t;
}

TEST(describe_test, quoting) {
    EXPECT_EQ(quote_identifier("created_users"), "created_users");
    EXPECT_EQ(quote_identifier("Users"), "\"Users\"");
    EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
    EXPECT_EQ(quote_identifier("1abc"), "\"1abc\"");
    EXPECT_EQ(quote_string("it's"), "'it''s'");
}

TEST(describe_test, keyspace_statement) {
    keyspace_def k{"spark_streams", {{"class", "SimpleStrategy"}, {"replication_factor", "1"}}, true};
    EXPECT_EQ(create_keyspace_statement(k),
              "CREATE KEYSPACE spark_streams WITH replication = {'class': 'org.apache.cassandra.locator.SimpleStrategy', "
              "'replication_factor': '1'}  AND durable_writes = true;");
    auto p = parse_statement(create_keyspace_statement(k));
    ASSERT_TRUE(p.ok()) << p.err().message();
    EXPECT_EQ(std::get<create_keyspace_stmt>(p->stmt).replication.at("replication_factor"), "1");
}

TEST(describe_test, table_statement_parses_back) {
    auto text = create_table_statement(events_table());
    EXPECT_NE(text.find("CREATE TABLE ks.\"Events\" (\n    day text,\n    seq int,\n    at timestamp,\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("    PRIMARY KEY ((day, seq), at)\n) WITH CLUSTERING ORDER BY (at DESC)\n    AND "), std::string::npos)
        << text;
    EXPECT_NE(text.find("AND comment = 'it''s'"), std::string::npos);
    EXPECT_NE(text.find("AND default_time_to_live = 60"), std::string::npos);
    auto p = parse_statement(text);
    ASSERT_TRUE(p.ok()) << p.err().message() << "\n" << text;
    const auto& c = std::get<create_table_stmt>(p->stmt);
    EXPECT_EQ(c.keyspace, "ks");
    EXPECT_EQ(c.table, "Events");
    EXPECT_EQ(c.partition_key, (std::vector<std::string>{"day", "seq"}));
    EXPECT_EQ(c.clustering, std::vector<std::string>{"at"});
    EXPECT_TRUE(c.descending.at("at"));
    EXPECT_EQ(c.comment, std::optional<std::string>("it's"));
    EXPECT_EQ(c.default_time_to_live, std::optional<int64_t>(60));
    ASSERT_EQ(c.columns.size(), 5u);
    EXPECT_EQ(c.columns[3].name, "Mixed \"q\"");
    EXPECT_EQ(c.columns[4].type, "frozen<map<text, int>>");
}

TEST(describe_test, simple_key_is_inline) {
    table_def t;
    t.keyspace = "ks";
    t.name = "kv";
    t.columns = {column("k", "text", column_kind::partition_key, 0), column("v", "text")};
    t.partition_key = {0};
    auto text = create_table_statement(t);
    EXPECT_EQ(text.substr(0, text.find(") WITH")), "CREATE TABLE ks.kv (\n    k text PRIMARY KEY,\n    v text\n");
    EXPECT_EQ(text.find("CLUSTERING"), std::string::npos);
}

TEST(describe_test, parses_describe_statements) {
    using w = describe_stmt::what;
    auto d = [](const char* text) {
        auto p = parse_statement(text);
        EXPECT_TRUE(p.ok()) << text << ": " << (p.ok() ? "" : p.err().message());
        return p.ok() ? std::get<describe_stmt>(p->stmt) : describe_stmt{};
    };
    EXPECT_EQ(d("DESCRIBE KEYSPACES").target, w::keyspaces);
    EXPECT_EQ(d("desc tables;").target, w::tables);
    auto t = d("DESCRIBE TABLE spark_streams.created_users");
    EXPECT_EQ(t.target, w::table);
    EXPECT_EQ(t.keyspace, "spark_streams");
    EXPECT_EQ(t.name, "created_users");
    auto k = d("DESCRIBE ONLY KEYSPACE ks WITH INTERNALS");
    EXPECT_EQ(k.target, w::keyspace);
    EXPECT_TRUE(k.only);
    EXPECT_EQ(k.keyspace, "ks");
    EXPECT_EQ(d("DESCRIBE KEYSPACE").keyspace, "");
    EXPECT_TRUE(d("DESCRIBE FULL SCHEMA").full);
    auto n = d("DESCRIBE something");
    EXPECT_EQ(n.target, w::name);
    EXPECT_EQ(n.keyspace, "something");
    EXPECT_EQ(d("DESCRIBE MATERIALIZED VIEW ks.v").kind, "MATERIALIZED VIEW");
    EXPECT_FALSE(parse_statement("DESCRIBE FULL KEYSPACES").ok());
}

TEST(describe_test, parses_alter_table_options) {
    auto p = parse_statement("ALTER TABLE ks.t WITH comment = 'c' AND gc_grace_seconds = 10 AND caching = {'keys': 'ALL'}");
    ASSERT_TRUE(p.ok()) << p.err().message();
    const auto& a = std::get<alter_table_stmt>(p->stmt);
    EXPECT_EQ(a.comment, std::optional<std::string>("c"));
    EXPECT_EQ(a.gc_grace_seconds, std::optional<int64_t>(10));
    EXPECT_FALSE(a.default_time_to_live.has_value());
    EXPECT_FALSE(parse_statement("ALTER TABLE ks.t WITH gc_grace_seconds = 'x'").ok());
}

TEST(describe_test, parses_collection_updates) {
    auto p = parse_statement("UPDATE t SET s = s + {'a'}, l = [1] + l, m['k'] = ?, n = n - ?, plain = ? WHERE k = 1");
    ASSERT_TRUE(p.ok()) << p.err().message();
    const auto& u = std::get<update_stmt>(p->stmt);
    ASSERT_EQ(u.assignments.size(), 5u);
    EXPECT_EQ(u.assignments[0].op, assign_op::append);
    EXPECT_EQ(u.assignments[1].op, assign_op::prepend);
    EXPECT_EQ(u.assignments[2].op, assign_op::put);
    EXPECT_TRUE(u.assignments[2].key.has_value());
    EXPECT_EQ(u.assignments[3].op, assign_op::remove);
    EXPECT_EQ(u.assignments[4].op, assign_op::set);
    ASSERT_EQ(p->markers.size(), 3u);
    EXPECT_EQ(p->markers[0].name, "value(m)");
    EXPECT_EQ(p->markers[0].role, marker_role::map_value);
    EXPECT_EQ(p->markers[1].role, marker_role::collection_remove);
    EXPECT_FALSE(parse_statement("UPDATE t SET l = [1] + other WHERE k = 1").ok());
}

TEST(describe_test, static_columns_say_static_and_parse_back) {
    table_def t;
    t.keyspace = "ks";
    t.name = "st";
    t.columns = {column("p", "int", column_kind::partition_key, 0), column("c", "int", column_kind::clustering, 0),
                 column("v", "int"), column("s", "text", column_kind::static_)};
    t.partition_key = {0};
    t.clustering = {1};
    auto text = create_table_statement(t);
    // Cassandra's order: key columns, statics, then the regular columns.
    EXPECT_NE(text.find("    p int,\n    c int,\n    s text static,\n    v int,\n    PRIMARY KEY (p, c)\n"), std::string::npos) << text;
    auto p = parse_statement(text);
    ASSERT_TRUE(p.ok()) << p.err().message();
    const auto& c = std::get<create_table_stmt>(p->stmt);
    ASSERT_EQ(c.columns.size(), 4u);
    EXPECT_TRUE(c.columns[2].is_static);
    EXPECT_FALSE(c.columns[3].is_static);
    auto alter = parse_statement("ALTER TABLE ks.st ADD u int static");
    ASSERT_TRUE(alter.ok()) << alter.err().message();
    EXPECT_TRUE(std::get<alter_table_stmt>(alter->stmt).add.at(0).is_static);
}

TEST(describe_test, indexes_kept_in_the_table_record_and_described) {
    auto t = events_table();
    t.indexes = {{"events_attrs_idx", "attrs", "full"}, {"by_mixed", "Mixed \"q\"", "values"}};
    auto back = decode_table(encode_table(t));
    ASSERT_TRUE(back.ok()) << back.err().message();
    ASSERT_EQ(back->indexes.size(), 2u);
    EXPECT_EQ(back->indexes[1].name, "by_mixed");
    EXPECT_EQ(back->indexes[1].column, "Mixed \"q\"");
    EXPECT_EQ(back->indexes[1].target_text(), "values(Mixed \"q\")");
    EXPECT_EQ(create_index_statement(t, t.indexes[1]), "CREATE INDEX by_mixed ON ks.\"Events\" (values(\"Mixed \"\"q\"\"\"));");
    EXPECT_EQ(create_index_statement(t, t.indexes[0]), "CREATE INDEX events_attrs_idx ON ks.\"Events\" (full(attrs));");
    // A record written before indexes existed has none.
    t.indexes.clear();
    auto old = encode_table(t);
    old.resize(old.size() - 2);
    auto without = decode_table(old);
    ASSERT_TRUE(without.ok()) << without.err().message();
    EXPECT_TRUE(without->indexes.empty());
}

}  // namespace
}  // namespace millrace::cql
