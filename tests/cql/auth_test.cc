// Roles and permissions: the parser of the role statements, resources and their
// parents, permission resolution (inheritance through roles and parents,
// superusers), what each statement needs, records, and bcrypt.
#include "access.h"
#include "auth.h"
#include "parser.h"
#include "schema.h"
#include "storage/key_format.h"

#include <gtest/gtest.h>

namespace millrace::cql {
namespace {

statement parse(const char* text) {
    auto p = parse_statement(text);
    EXPECT_TRUE(p.ok()) << text << ": " << (p.ok() ? "" : p.err().message());
    return p.ok() ? std::move(p->stmt) : statement{use_stmt{}};
}

TEST(auth_parser_test, create_role_with_options) {
    auto st = parse("CREATE ROLE IF NOT EXISTS Alice WITH PASSWORD = 'it''s' AND LOGIN = true AND SUPERUSER = false;");
    auto c = std::get<create_role_stmt>(st);
    EXPECT_EQ(c.role, "alice");
    EXPECT_TRUE(c.if_not_exists);
    EXPECT_EQ(c.options.password, "it's");
    EXPECT_EQ(c.options.login, true);
    EXPECT_EQ(c.options.superuser, false);
}

TEST(auth_parser_test, role_names_quoted_and_string) {
    EXPECT_EQ(std::get<create_role_stmt>(parse("CREATE ROLE \"Bob\"")).role, "Bob");
    EXPECT_EQ(std::get<create_role_stmt>(parse("CREATE ROLE 'Carol'")).role, "Carol");
    EXPECT_FALSE(std::get<create_role_stmt>(parse("CREATE ROLE r")).options.login.has_value());
}

TEST(auth_parser_test, user_aliases) {
    auto c = std::get<create_role_stmt>(parse("CREATE USER u WITH PASSWORD 'p' SUPERUSER"));
    EXPECT_EQ(c.options.password, "p");
    EXPECT_EQ(c.options.login, true);
    EXPECT_EQ(c.options.superuser, true);
    auto a = std::get<alter_role_stmt>(parse("ALTER USER u WITH PASSWORD 'q' NOSUPERUSER"));
    EXPECT_EQ(a.options.password, "q");
    EXPECT_EQ(a.options.superuser, false);
    EXPECT_TRUE(std::get<list_roles_stmt>(parse("LIST USERS")).users);
    EXPECT_TRUE(std::get<drop_role_stmt>(parse("DROP USER IF EXISTS u")).if_exists);
}

TEST(auth_parser_test, alter_and_drop_role) {
    auto a = std::get<alter_role_stmt>(parse("ALTER ROLE r WITH LOGIN = false"));
    EXPECT_EQ(a.role, "r");
    EXPECT_EQ(a.options.login, false);
    EXPECT_FALSE(a.options.password.has_value());
    auto d = std::get<drop_role_stmt>(parse("DROP ROLE IF EXISTS r"));
    EXPECT_EQ(d.role, "r");
    EXPECT_TRUE(d.if_exists);
}

TEST(auth_parser_test, grant_permissions_on_each_resource) {
    auto g = std::get<grant_stmt>(parse("GRANT SELECT ON TABLE ks.t TO r"));
    EXPECT_EQ(g.permissions, bit(permission::select));
    EXPECT_EQ(g.on.k, resource::kind::table);
    EXPECT_EQ(g.on.keyspace, "ks");
    EXPECT_EQ(g.on.name, "t");
    EXPECT_EQ(g.role, "r");
    EXPECT_FALSE(g.revoke);
    g = std::get<grant_stmt>(parse("GRANT ALL PERMISSIONS ON ALL KEYSPACES TO r"));
    EXPECT_TRUE(g.all);
    EXPECT_EQ(g.on.k, resource::kind::all_keyspaces);
    g = std::get<grant_stmt>(parse("GRANT modify PERMISSION ON KEYSPACE ks TO r"));
    EXPECT_EQ(g.permissions, bit(permission::modify));
    EXPECT_EQ(g.on.k, resource::kind::keyspace);
    g = std::get<grant_stmt>(parse("GRANT ALL ON t TO r"));  // a bare name is a table of the session keyspace
    EXPECT_EQ(g.on.k, resource::kind::table);
    EXPECT_EQ(g.on.keyspace, "");
    g = std::get<grant_stmt>(parse("REVOKE DESCRIBE ON ALL ROLES FROM r"));
    EXPECT_TRUE(g.revoke);
    EXPECT_EQ(g.on.k, resource::kind::all_roles);
    g = std::get<grant_stmt>(parse("GRANT ALTER ON ROLE other TO r"));
    EXPECT_EQ(g.on.k, resource::kind::role);
    EXPECT_EQ(g.on.name, "other");
}

TEST(auth_parser_test, grant_role_to_role) {
    auto g = std::get<grant_role_stmt>(parse("GRANT reader TO alice"));
    EXPECT_EQ(g.role, "reader");
    EXPECT_EQ(g.grantee, "alice");
    g = std::get<grant_role_stmt>(parse("REVOKE reader FROM alice"));
    EXPECT_TRUE(g.revoke);
}

TEST(auth_parser_test, list_statements) {
    auto l = std::get<list_roles_stmt>(parse("LIST ROLES OF alice NORECURSIVE"));
    EXPECT_EQ(l.of, "alice");
    EXPECT_FALSE(l.recursive);
    auto p = std::get<list_permissions_stmt>(parse("LIST ALL PERMISSIONS"));
    EXPECT_TRUE(p.all);
    EXPECT_FALSE(p.on.has_value());
    p = std::get<list_permissions_stmt>(parse("LIST SELECT ON ks.t OF alice"));
    EXPECT_EQ(p.permissions, bit(permission::select));
    ASSERT_TRUE(p.on.has_value());
    EXPECT_EQ(p.on->name, "t");
    EXPECT_EQ(p.of, "alice");
}

TEST(auth_parser_test, syntax_errors) {
    for (const char* bad : {"CREATE ROLE r WITH LOGIN = maybe", "CREATE ROLE r WITH PASSWORD = 3", "CREATE ROLE r WITH COLOR = 'x'",
                            "GRANT SELECT ON ks.t alice", "GRANT SELECT ON FUNCTION ks.f TO r", "LIST BANANAS",
                            "GRANT SELECT ON ALL TABLES TO r", "REVOKE r TO x"}) {
        EXPECT_FALSE(parse_statement(bad).ok()) << bad;
    }
}

TEST(auth_resource_test, keys_display_and_parents) {
    auto t = resource::of_table("ks", "t");
    EXPECT_EQ(t.key(), "data/ks/t");
    EXPECT_EQ(t.display(), "<table ks.t>");
    EXPECT_EQ(t.parent()->display(), "<keyspace ks>");
    EXPECT_EQ(t.parent()->parent()->display(), "<all keyspaces>");
    EXPECT_FALSE(t.parent()->parent()->parent().has_value());
    EXPECT_EQ(resource::of_role("r").parent()->key(), "roles");
    for (const auto& r : {t, resource::of_keyspace("ks"), resource::all_keyspaces(), resource::all_roles(), resource::of_role("r")}) {
        EXPECT_EQ(resource_from_key(r.key()), r);
    }
    EXPECT_FALSE(resource_from_key("data/").has_value());
    EXPECT_FALSE(resource_from_key("data/a/b/c").has_value());
    EXPECT_FALSE(resource_from_key("functions/x").has_value());
    EXPECT_EQ(resource::of_table("ks", "t").applicable() & bit(permission::create), 0);
    EXPECT_NE(resource::of_keyspace("ks").applicable() & bit(permission::create), 0);
}

class auth_model_test : public ::testing::Test {
protected:
    void SetUp() override {
        model.put_role({"admin", true, true, {}, "h"});
        model.put_role({"reader", false, false, {}, ""});
        model.put_role({"alice", true, false, {"reader"}, "h"});
        model.put_role({"bob", true, false, {}, "h"});
        model.set_permissions("reader", "data/ks", bit(permission::select));
        model.set_permissions("bob", "data/ks/t", bit(permission::modify));
    }
    auth_model model;
};

TEST_F(auth_model_test, permissions_inherited_through_roles_and_parents) {
    EXPECT_TRUE(model.authorized("alice", permission::select, resource::of_table("ks", "t")));
    EXPECT_TRUE(model.authorized("alice", permission::select, resource::of_keyspace("ks")));
    EXPECT_FALSE(model.authorized("alice", permission::select, resource::all_keyspaces()));
    EXPECT_FALSE(model.authorized("alice", permission::select, resource::of_table("other", "t")));
    EXPECT_FALSE(model.authorized("alice", permission::modify, resource::of_table("ks", "t")));
    EXPECT_TRUE(model.authorized("bob", permission::modify, resource::of_table("ks", "t")));
    EXPECT_FALSE(model.authorized("bob", permission::modify, resource::of_table("ks", "u")));
    EXPECT_FALSE(model.authorized("bob", permission::select, resource::of_table("ks", "t")));
}

TEST_F(auth_model_test, superusers_bypass_and_unknown_roles_hold_nothing) {
    EXPECT_TRUE(model.authorized("admin", permission::drop, resource::of_table("any", "thing")));
    EXPECT_TRUE(model.authorized("admin", permission::create, resource::all_roles()));
    EXPECT_FALSE(model.authorized("ghost", permission::select, resource::of_table("ks", "t")));
    // Superuser status is inherited through a granted role.
    model.put_role({"carol", true, false, {"admin"}, "h"});
    EXPECT_TRUE(model.is_superuser("carol"));
}

TEST_F(auth_model_test, cyclic_membership_terminates) {
    model.put_role({"x", false, false, {"y"}, ""});
    model.put_role({"y", false, false, {"x"}, ""});
    EXPECT_EQ(model.roles_of("x"), (std::set<std::string>{"x", "y"}));
    EXPECT_FALSE(model.authorized("x", permission::select, resource::all_keyspaces()));
}

TEST_F(auth_model_test, revoke_and_erase) {
    model.set_permissions("reader", "data/ks", 0);
    EXPECT_FALSE(model.authorized("alice", permission::select, resource::of_table("ks", "t")));
    model.set_permissions("reader", "data/ks", bit(permission::select));
    model.erase_resource(resource::of_keyspace("ks"));  // also the table grant below it
    EXPECT_TRUE(model.permissions().empty());
    model.erase_role("reader");
    EXPECT_TRUE(model.find_role("alice")->member_of.empty());
    EXPECT_EQ(model.memberships().size(), 0u);
}

TEST_F(auth_model_test, required_access_and_messages) {
    auto needs = required_access(parse("SELECT * FROM t"), "ks");
    ASSERT_EQ(needs.size(), 1u);
    EXPECT_EQ(needs[0].perm, permission::select);
    EXPECT_EQ(needs[0].on, resource::of_table("ks", "t"));
    EXPECT_TRUE(required_access(parse("SELECT * FROM system.local"), "").empty());
    EXPECT_TRUE(required_access(parse("SELECT * FROM system_schema.tables"), "").empty());
    EXPECT_EQ(required_access(parse("SELECT * FROM system_auth.roles"), "").size(), 1u);
    EXPECT_TRUE(required_access(parse("USE ks"), "").empty());
    EXPECT_EQ(required_access(parse("TRUNCATE ks.t"), "")[0].perm, permission::modify);
    EXPECT_EQ(required_access(parse("DELETE FROM ks.t WHERE k = 1"), "")[0].perm, permission::modify);
    EXPECT_EQ(required_access(parse("UPDATE ks.t SET v = 1 WHERE k = 1"), "")[0].perm, permission::modify);
    auto create_ks = required_access(parse("CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy'}"), "");
    EXPECT_EQ(create_ks[0].on, resource::all_keyspaces());
    EXPECT_EQ(required_access(parse("CREATE TABLE k2.t (k int PRIMARY KEY)"), "")[0].on, resource::of_keyspace("k2"));
    EXPECT_EQ(required_access(parse("DROP KEYSPACE k2"), "")[0].on, resource::of_keyspace("k2"));
    EXPECT_EQ(required_access(parse("ALTER TABLE ks.t ADD x int"), "")[0].perm, permission::alter);
    auto batch = required_access(parse("BEGIN BATCH INSERT INTO ks.t (k) VALUES (1); INSERT INTO ks.t (k) VALUES (2); "
                                       "INSERT INTO ks.u (k) VALUES (1); APPLY BATCH"), "");
    EXPECT_EQ(batch.size(), 2u);

    EXPECT_FALSE(check_access(model, "alice", required_access(parse("SELECT * FROM ks.t"), "")).has_value());
    EXPECT_EQ(check_access(model, "alice", required_access(parse("INSERT INTO ks.t (k) VALUES (1)"), "")),
              "User alice has no MODIFY permission on <table ks.t> or any of its parents");
    EXPECT_EQ(check_access(model, "bob", required_access(parse("SELECT * FROM other.t"), "")),
              "User bob has no SELECT permission on <table other.t> or any of its parents");
}

TEST(auth_record_test, role_and_permission_records_round_trip) {
    role_record r{"alice", true, false, {"a", "b"}, "$2a$10$x"};
    auto back = decode_role(encode_role(r));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->name, "alice");
    EXPECT_TRUE(back->can_login);
    EXPECT_FALSE(back->is_superuser);
    EXPECT_EQ(back->member_of, r.member_of);
    EXPECT_EQ(back->salted_hash, r.salted_hash);
    EXPECT_FALSE(decode_role("").ok());
    EXPECT_FALSE(decode_role(std::string("\2")).ok());
    EXPECT_FALSE(decode_role(encode_role(r) + "x").ok());
    EXPECT_FALSE(decode_role(encode_role(r).substr(0, 5)).ok());
    auto set = decode_permissions(encode_permissions(bit(permission::select) | bit(permission::modify)));
    ASSERT_TRUE(set.ok());
    EXPECT_EQ(*set, bit(permission::select) | bit(permission::modify));
    EXPECT_FALSE(decode_permissions("\1\0").ok());
    EXPECT_FALSE(decode_permissions(std::string("\2\0\1", 3)).ok());
}

// Role records once shared 0x01 'r' with the live-row counters, so a store
// with both failed to load ("role record: unknown version"): every kind of
// schema record must own its second byte.
TEST(auth_record_test, role_and_permission_keys_do_not_collide_with_other_schema_records) {
    namespace kf = key_format;
    std::set<char> kinds;
    for (const std::string& key : {keyspace_key("ks"), table_key("ks", "t"), next_table_id_key(), kf::row_count_key(7),
                                   kf::row_counts_kept_key(), role_key("alice"), permission_key("alice", "data")}) {
        ASSERT_GE(key.size(), 2u);
        EXPECT_EQ(key[0], kf::k_schema_space);
        kinds.insert(key[1]);
    }
    EXPECT_EQ(kinds.size(), 7u);
}

TEST(auth_password_test, bcrypt_as_cassandra_stores_it) {
    auto h = hash_password("s3cret");
    ASSERT_TRUE(h.ok()) << h.err().message();
    EXPECT_TRUE(h->starts_with("$2a$10$")) << *h;
    EXPECT_EQ(h->size(), 60u);
    EXPECT_TRUE(check_password("s3cret", *h));
    EXPECT_FALSE(check_password("s3cret ", *h));
    EXPECT_FALSE(check_password("", *h));
    EXPECT_FALSE(check_password("s3cret", ""));
    EXPECT_FALSE(check_password("s3cret", "garbage"));
    EXPECT_NE(*hash_password("s3cret"), *h);  // salted
}

TEST(auth_password_test, bcrypt_known_vector) {
    // crypt_blowfish's published test vector for $2a$: "U*U" with salt CCCCCCCCCCCCCCCCCCCCC., cost 5.
    EXPECT_TRUE(check_password("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
    EXPECT_FALSE(check_password("U*V", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
}

}  // namespace
}  // namespace millrace::cql
