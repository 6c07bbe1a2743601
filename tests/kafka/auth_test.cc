// SCRAM exchanges (RFC 7677's test vector, wrong proofs, malformed messages),
// SASL sessions (PLAIN, SCRAM, re-authentication expiry), ACL matching
// (literal, wildcard, prefixed, deny precedence, implied operations, filters)
// and the persistence of credentials and ACLs across a crash.
#include "auth/acl.h"
#include "auth/credentials.h"
#include "auth/scram.h"
#include "auth/security.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "harness/process.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace millrace::kafka::auth {
namespace {

// RFC 7677 section 3: user "user", password "pencil", 4096 iterations.
constexpr std::string_view k_client_first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view k_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view k_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view k_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view k_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

scram_credential rfc7677_credential() {
    std::string salt = *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
    return credential_from_salted(scram_mechanism::sha_256, salt,
                                  salted_password(scram_mechanism::sha_256, "pencil", salt, 4096), 4096);
}

TEST(scram_test, rfc7677_test_vector) {
    scram_server server(scram_mechanism::sha_256, std::string(k_server_nonce));
    ASSERT_TRUE(server.client_first(k_client_first).ok());
    EXPECT_EQ(server.user(), "user");
    auto first = server.server_first(rfc7677_credential());
    ASSERT_TRUE(first.ok()) << first.err().message();
    EXPECT_EQ(*first, k_server_first);
    auto final_message = server.client_final(k_client_final);
    ASSERT_TRUE(final_message.ok()) << final_message.err().message();
    EXPECT_EQ(*final_message, k_server_final);
}

TEST(scram_test, wrong_proof_is_refused) {
    scram_server server(scram_mechanism::sha_256, std::string(k_server_nonce));
    ASSERT_TRUE(server.client_first(k_client_first).ok());
    std::string salt = *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
    auto other = credential_from_salted(scram_mechanism::sha_256, salt,
                                        salted_password(scram_mechanism::sha_256, "crayon", salt, 4096), 4096);
    ASSERT_TRUE(server.server_first(other).ok());
    auto final_message = server.client_final(k_client_final);
    ASSERT_FALSE(final_message.ok());
    EXPECT_EQ(final_message.err().message(), "Invalid client credentials");
}

TEST(scram_test, unknown_user_is_refused) {
    scram_server server(scram_mechanism::sha_256);
    ASSERT_TRUE(server.client_first(k_client_first).ok());
    EXPECT_FALSE(server.server_first(std::nullopt).ok());
}

TEST(scram_test, replayed_nonce_and_bad_binding_are_refused) {
    scram_server server(scram_mechanism::sha_256, "other-nonce");
    ASSERT_TRUE(server.client_first(k_client_first).ok());
    ASSERT_TRUE(server.server_first(rfc7677_credential()).ok());
    EXPECT_FALSE(server.client_final(k_client_final).ok());  // nonce of another exchange

    scram_server binding(scram_mechanism::sha_256, std::string(k_server_nonce));
    ASSERT_TRUE(binding.client_first(k_client_first).ok());
    ASSERT_TRUE(binding.server_first(rfc7677_credential()).ok());
    std::string tampered(k_client_final);
    tampered.replace(0, 6, "c=eSws");  // "y,," instead of "n,,"
    EXPECT_FALSE(binding.client_final(tampered).ok());
}

TEST(scram_test, librdkafka_doubled_client_nonce_is_accepted) {
    // librdkafka < 2.6.1 puts its nonce in front of the combined one again.
    for (bool doubled : {false, true}) {
        scram_server server(scram_mechanism::sha_512, "SERVER");
        ASSERT_TRUE(server.client_first("n,,n=alice,r=CLIENT").ok());
        ASSERT_TRUE(server.server_first(make_credential(scram_mechanism::sha_512, "pw", 4096)).ok());
        std::string nonce = doubled ? "CLIENTCLIENTSERVER" : "CLIENTSERVER";
        // A wrong proof either way: what matters is that the nonce check passes.
        auto r = server.client_final("c=biws,r=" + nonce + ",p=" + base64_encode(std::string(64, 'x')));
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.err().message(), "Invalid client credentials");
        EXPECT_EQ(server.repeated_client_nonce(), doubled);
    }
    scram_server server(scram_mechanism::sha_512, "SERVER");
    ASSERT_TRUE(server.client_first("n,,n=alice,r=CLIENT").ok());
    ASSERT_TRUE(server.server_first(make_credential(scram_mechanism::sha_512, "pw", 4096)).ok());
    auto r = server.client_final("c=biws,r=OTHERCLIENTSERVER,p=" + base64_encode(std::string(64, 'x')));
    EXPECT_EQ(r.err().message(), "Invalid client nonce in the final client message.");
}

TEST(scram_test, malformed_client_first_messages) {
    for (std::string_view bad : {"", "n,", "x,,n=user,r=abc", "n,,r=abc,n=user", "n,,n=us=er,r=abc", "n,,n=user,r=",
                                 "n,a=other,n=user,r=abc", "n,,n=user,r=abc,tokenauth=true"}) {
        scram_server server(scram_mechanism::sha_512);
        EXPECT_FALSE(server.client_first(bad).ok()) << bad;
    }
    scram_server escaped(scram_mechanism::sha_512);
    ASSERT_TRUE(escaped.client_first("n,a=a=2Cb,n=a=2Cb,r=abc").ok());
    EXPECT_EQ(escaped.user(), "a,b");
}

TEST(scram_test, client_final_without_proof_is_refused) {
    scram_server server(scram_mechanism::sha_256, std::string(k_server_nonce));
    ASSERT_TRUE(server.client_first(k_client_first).ok());
    ASSERT_TRUE(server.server_first(rfc7677_credential()).ok());
    EXPECT_FALSE(server.client_final("c=biws,r=x").ok());
    EXPECT_FALSE(server.client_final("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=@@@").ok());
}

TEST(scram_test, base64_round_trip_and_rejects) {
    for (std::string_view text : {"", "a", "ab", "abc", "abcd"}) {
        EXPECT_EQ(*base64_decode(base64_encode(text)), text);
    }
    EXPECT_FALSE(base64_decode("abc").has_value());
    EXPECT_FALSE(base64_decode("ab!=").has_value());
}

// A client side of SCRAM for the session tests, from RFC 5802's formulas.
struct scram_client {
    scram_mechanism m;
    std::string user, password, nonce = "clientnonce";
    std::string first_bare;
    std::string first() {
        first_bare = "n=" + user + ",r=" + nonce;
        return "n,," + first_bare;
    }
    std::string final_message(std::string_view server_first) {
        auto r = server_first.substr(2, server_first.find(',') - 2);
        auto s_at = server_first.find(",s=") + 3;
        auto salt = *base64_decode(server_first.substr(s_at, server_first.find(",i=") - s_at));
        int iterations = std::stoi(std::string(server_first.substr(server_first.find(",i=") + 3)));
        std::string without_proof = "c=biws,r=" + std::string(r);
        std::string auth_message = first_bare + "," + std::string(server_first) + "," + without_proof;
        std::string salted = salted_password(m, password, salt, iterations);
        auto c = credential_from_salted(m, salt, salted, iterations);
        // ClientKey = HMAC(salted, "Client Key"); proof = ClientKey XOR HMAC(StoredKey, AuthMessage)
        unsigned char key[EVP_MAX_MD_SIZE];
        unsigned int key_len = 0;
        const EVP_MD* md = m == scram_mechanism::sha_512 ? EVP_sha512() : EVP_sha256();
        HMAC(md, salted.data(), int(salted.size()), reinterpret_cast<const unsigned char*>("Client Key"), 10, key, &key_len);
        unsigned char sig[EVP_MAX_MD_SIZE];
        unsigned int sig_len = 0;
        HMAC(md, c.stored_key.data(), int(c.stored_key.size()), reinterpret_cast<const unsigned char*>(auth_message.data()),
             auth_message.size(), sig, &sig_len);
        std::string proof(key_len, '\0');
        for (unsigned idx = 0; idx < key_len; ++idx) proof[idx] = static_cast<char>(key[idx] ^ sig[idx]);
        return without_proof + ",p=" + base64_encode(proof);
    }
};

struct session_fixture : ::testing::Test {
    memory_file_system fs;
    std::unique_ptr<security_manager> manager;
    void SetUp() override { make({}); }
    void make(security_config cfg) {
        cfg.enabled = true;
        cfg.admin_password = "admin-secret";
        manager = std::make_unique<security_manager>(fs, "/data", cfg);
        ASSERT_TRUE(fs.create_directories("/data").ok());
        ASSERT_TRUE(manager->open().ok());
        ASSERT_TRUE(manager->credentials()
                        .apply({{"alice", scram_mechanism::sha_512, make_credential(scram_mechanism::sha_512, "alice-secret", 4096)}})
                        .ok());
    }
};

using sasl_session_test = session_fixture;

TEST_F(sasl_session_test, only_sasl_apis_before_authentication) {
    sasl_session session(*manager);
    EXPECT_TRUE(session.admit(18, 0));
    EXPECT_TRUE(session.admit(17, 0));
    EXPECT_TRUE(session.admit(36, 0));
    EXPECT_FALSE(session.admit(3, 0));   // Metadata
    EXPECT_FALSE(session.admit(0, 0));   // Produce
}

TEST_F(sasl_session_test, scram_sha_512_logs_in_and_wrong_password_fails) {
    for (std::string password : {"alice-secret", "wrong"}) {
        sasl_session session(*manager);
        EXPECT_EQ(session.handshake("SCRAM-SHA-512").error, 0);
        scram_client client{scram_mechanism::sha_512, "alice", password};
        auto first = session.authenticate(client.first(), 0);
        ASSERT_EQ(first.error, 0) << first.message.value_or("");
        auto last = session.authenticate(client.final_message(first.bytes), 0);
        if (password == "alice-secret") {
            EXPECT_EQ(last.error, 0);
            EXPECT_EQ(session.principal(), "User:alice");
            EXPECT_TRUE(session.admit(3, 0));
        } else {
            EXPECT_EQ(last.error, 58);
            EXPECT_EQ(last.message, "Authentication failed during authentication due to invalid credentials with SASL "
                                    "mechanism SCRAM-SHA-512");
            EXPECT_TRUE(last.close);
            EXPECT_FALSE(session.authenticated());
        }
    }
}

TEST_F(sasl_session_test, admin_logs_in_with_every_mechanism) {
    for (auto m : {scram_mechanism::sha_256, scram_mechanism::sha_512}) {
        sasl_session session(*manager);
        EXPECT_EQ(session.handshake(mechanism_name(m)).error, 0);
        scram_client client{m, "admin", "admin-secret"};
        auto first = session.authenticate(client.first(), 0);
        ASSERT_EQ(first.error, 0);
        EXPECT_EQ(session.authenticate(client.final_message(first.bytes), 0).error, 0);
        EXPECT_TRUE(manager->is_super_user(session.principal()));
    }
    sasl_session plain(*manager);
    EXPECT_EQ(plain.handshake("PLAIN").error, 0);
    EXPECT_EQ(plain.authenticate(std::string("\0admin\0admin-secret", 19), 0).error, 0);
    EXPECT_EQ(plain.principal(), "User:admin");
}

TEST_F(sasl_session_test, plain_errors_use_kafka_messages) {
    auto attempt = [&](std::string token) {
        sasl_session session(*manager);
        EXPECT_EQ(session.handshake("PLAIN").error, 0);
        return session.authenticate(token, 0);
    };
    EXPECT_EQ(attempt(std::string("\0alice\0nope", 11)).message, "Authentication failed: Invalid username or password");
    EXPECT_EQ(attempt(std::string("\0nobody\0x", 9)).message, "Authentication failed: Invalid username or password");
    EXPECT_EQ(attempt(std::string("\0\0x", 3)).message, "Authentication failed: username not specified");
    EXPECT_EQ(attempt(std::string("alice-only")).message, "Invalid SASL/PLAIN response: expected 3 tokens, got 1");
    EXPECT_EQ(attempt(std::string("\0alice\0alice-secret", 19)).error, 0);
}

TEST_F(sasl_session_test, unsupported_mechanism_and_out_of_order_tokens) {
    sasl_session session(*manager);
    auto r = session.handshake("GSSAPI");
    EXPECT_EQ(r.error, 33);
    EXPECT_TRUE(r.close);
    sasl_session early(*manager);
    EXPECT_EQ(early.authenticate("n,,n=alice,r=x", 0).error, 34);
}

TEST_F(sasl_session_test, reauthentication_extends_the_session_and_expiry_closes) {
    security_config cfg;
    cfg.reauth_ms = 1000;
    make(cfg);
    sasl_session session(*manager);
    ASSERT_EQ(session.handshake("PLAIN").error, 0);
    auto r = session.authenticate(std::string("\0alice\0alice-secret", 19), 5000);
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.session_lifetime_ms, 1000);
    EXPECT_TRUE(session.admit(3, 5999));
    EXPECT_FALSE(session.admit(3, 6000));  // expired: only re-authentication
    EXPECT_TRUE(session.admit(17, 6000));
    EXPECT_EQ(session.handshake("SCRAM-SHA-512").error, 33);  // must keep the mechanism
    sasl_session again(*manager);
    ASSERT_EQ(again.handshake("PLAIN").error, 0);
    ASSERT_EQ(again.authenticate(std::string("\0alice\0alice-secret", 19), 5000).error, 0);
    ASSERT_EQ(again.handshake("PLAIN").error, 0);
    ASSERT_EQ(again.authenticate(std::string("\0alice\0alice-secret", 19), 5900).error, 0);
    EXPECT_TRUE(again.admit(3, 6800));
    ASSERT_EQ(again.handshake("PLAIN").error, 0);
    auto other = again.authenticate(std::string("\0admin\0admin-secret", 19), 6800);
    EXPECT_EQ(other.error, 58);  // a different principal
}

acl_binding acl(resource_type type, std::string name, pattern_type pattern, std::string principal, acl_operation op,
                acl_permission permission) {
    return {type, std::move(name), pattern, std::move(principal), "*", op, permission};
}

TEST(acl_test, literal_prefixed_wildcard_and_deny_precedence) {
    memory_file_system fs;
    ASSERT_TRUE(fs.create_directories("/d").ok());
    acl_store store(fs, "/d/acls");
    ASSERT_TRUE(store.add({acl(resource_type::topic, "orders", pattern_type::literal, "User:alice", acl_operation::read, acl_permission::allow),
                           acl(resource_type::topic, "pay-", pattern_type::prefixed, "User:alice", acl_operation::write, acl_permission::allow),
                           acl(resource_type::topic, "pay-secret", pattern_type::literal, "User:alice", acl_operation::write, acl_permission::deny),
                           acl(resource_type::topic, "*", pattern_type::literal, "User:bob", acl_operation::all, acl_permission::allow),
                           acl(resource_type::topic, "private", pattern_type::literal, "User:*", acl_operation::all, acl_permission::deny)})
                    .ok());
    auto can = [&](std::string_view p, acl_operation op, std::string_view topic) {
        return store.authorize(p, "127.0.0.1", op, resource_type::topic, topic);
    };
    EXPECT_TRUE(can("User:alice", acl_operation::read, "orders"));
    EXPECT_FALSE(can("User:alice", acl_operation::write, "orders"));
    EXPECT_FALSE(can("User:alice", acl_operation::read, "orders2"));      // literal is not a prefix
    EXPECT_TRUE(can("User:alice", acl_operation::describe, "orders"));    // READ implies DESCRIBE
    EXPECT_TRUE(can("User:alice", acl_operation::write, "pay-eu"));
    EXPECT_FALSE(can("User:alice", acl_operation::write, "pay-secret"));  // DENY wins
    EXPECT_TRUE(can("User:alice", acl_operation::describe, "pay-secret")); // the deny is WRITE only
    EXPECT_FALSE(can("User:alice", acl_operation::write, "pa"));
    EXPECT_TRUE(can("User:bob", acl_operation::remove, "anything"));
    EXPECT_FALSE(can("User:bob", acl_operation::read, "private"));
    EXPECT_FALSE(can("User:carol", acl_operation::read, "orders"));       // no ACL: denied
    EXPECT_FALSE(store.authorize("User:alice", "h", acl_operation::read, resource_type::group, "orders"));
    EXPECT_TRUE(store.authorize_any("User:alice", "h", acl_operation::write, resource_type::topic));
    EXPECT_FALSE(store.authorize_any("User:carol", "h", acl_operation::write, resource_type::topic));
}

TEST(acl_test, stores_on_disk_are_private_files) {
    // The ACL and SCRAM credential stores hold secrets (StoredKey, ServerKey)
    // or the authorization policy: mode 0600 whatever the umask.
    testing::temp_dir dir;
    mode_t old_umask = ::umask(0);
    acl_store acls(file_system::disk(), dir.file("acls"));
    auto added = acls.add({acl(resource_type::topic, "orders", pattern_type::literal, "User:alice", acl_operation::read,
                               acl_permission::allow)});
    credential_store credentials(file_system::disk(), dir.file("scram_credentials"));
    auto applied = credentials.apply(
        {{"alice", scram_mechanism::sha_512, make_credential(scram_mechanism::sha_512, "alice-secret", 4096)}});
    ::umask(old_umask);
    ASSERT_TRUE(added.ok()) << added.err().message();
    ASSERT_TRUE(applied.ok()) << applied.err().message();
    for (const char* name : {"acls", "scram_credentials"}) {
        struct stat st {};
        ASSERT_EQ(::lstat(dir.file(name).c_str(), &st), 0) << name;
        EXPECT_TRUE(S_ISREG(st.st_mode)) << name;
        EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
    }
}

TEST(acl_test, host_and_implied_describe_configs) {
    memory_file_system fs;
    ASSERT_TRUE(fs.create_directories("/d").ok());
    acl_store store(fs, "/d/acls");
    auto b = acl(resource_type::topic, "t", pattern_type::literal, "User:alice", acl_operation::alter_configs, acl_permission::allow);
    b.host = "10.0.0.1";
    ASSERT_TRUE(store.add({b}).ok());
    EXPECT_TRUE(store.authorize("User:alice", "10.0.0.1", acl_operation::describe_configs, resource_type::topic, "t"));
    EXPECT_FALSE(store.authorize("User:alice", "10.0.0.2", acl_operation::describe_configs, resource_type::topic, "t"));
    EXPECT_FALSE(store.authorize("User:alice", "10.0.0.1", acl_operation::describe, resource_type::topic, "t"));
}

TEST(acl_test, filters_match_as_kafka_does) {
    auto lit = acl(resource_type::topic, "orders", pattern_type::literal, "User:alice", acl_operation::read, acl_permission::allow);
    auto wild = acl(resource_type::topic, "*", pattern_type::literal, "User:bob", acl_operation::read, acl_permission::allow);
    auto pre = acl(resource_type::topic, "ord", pattern_type::prefixed, "User:bob", acl_operation::read, acl_permission::allow);
    acl_filter any;
    EXPECT_TRUE(any.matches(lit) && any.matches(wild) && any.matches(pre));
    acl_filter match;
    match.pattern = pattern_type::match;
    match.name = "orders";
    EXPECT_TRUE(match.matches(lit) && match.matches(wild) && match.matches(pre));
    acl_filter literal;
    literal.pattern = pattern_type::literal;
    literal.name = "orders";
    EXPECT_TRUE(literal.matches(lit));
    EXPECT_FALSE(literal.matches(wild) || literal.matches(pre));
    acl_filter by_principal;
    by_principal.principal = "User:bob";
    by_principal.type = resource_type::topic;
    EXPECT_FALSE(by_principal.matches(lit));
    EXPECT_TRUE(by_principal.matches(pre));
    acl_filter group;
    group.type = resource_type::group;
    EXPECT_FALSE(group.matches(lit));
    acl_filter unknown;
    unknown.operation = acl_operation::unknown;
    EXPECT_TRUE(unknown.invalid_reason().has_value());
}

TEST(acl_test, invalid_bindings_are_named) {
    auto good = acl(resource_type::topic, "t", pattern_type::literal, "User:alice", acl_operation::read, acl_permission::allow);
    EXPECT_FALSE(invalid_reason(good).has_value());
    auto bad = good;
    bad.principal = "alice";
    EXPECT_EQ(*invalid_reason(bad), "Could not parse principal from `alice` (no colon is present separating the "
                                    "principal type from the principal name)");
    bad = good;
    bad.pattern = pattern_type::match;
    EXPECT_TRUE(invalid_reason(bad).has_value());
    bad = good;
    bad.type = resource_type::cluster;
    EXPECT_TRUE(invalid_reason(bad).has_value());
    bad.name = "kafka-cluster";
    EXPECT_FALSE(invalid_reason(bad).has_value());
    bad = good;
    bad.operation = acl_operation::any;
    EXPECT_TRUE(invalid_reason(bad).has_value());
}

TEST(acl_test, acls_survive_a_crash_and_removal_reports_matches) {
    memory_file_system fs;
    ASSERT_TRUE(fs.create_directories("/d").ok());
    {
        acl_store store(fs, "/d/acls");
        ASSERT_TRUE(store.add({acl(resource_type::group, "g 1%", pattern_type::literal, "User:al ice", acl_operation::read, acl_permission::allow),
                               acl(resource_type::topic, "t", pattern_type::prefixed, "User:bob", acl_operation::write, acl_permission::deny)})
                        .ok());
    }
    fs.simulate_crash();
    acl_store reopened(fs, "/d/acls");
    ASSERT_TRUE(reopened.load().ok());
    ASSERT_EQ(reopened.all().size(), 2u);
    EXPECT_TRUE(reopened.authorize("User:al ice", "h", acl_operation::read, resource_type::group, "g 1%"));
    acl_filter deny;
    deny.permission = acl_permission::deny;
    auto removed = reopened.remove({deny});
    ASSERT_TRUE(removed.ok());
    ASSERT_EQ((*removed)[0].size(), 1u);
    EXPECT_EQ((*removed)[0][0].principal, "User:bob");
    acl_store again(fs, "/d/acls");
    ASSERT_TRUE(again.load().ok());
    EXPECT_EQ(again.all().size(), 1u);
}

TEST(acl_test, corrupt_acl_file_names_the_line) {
    memory_file_system fs;
    ASSERT_TRUE(fs.create_directories("/d").ok());
    ASSERT_TRUE(write_file_atomic(fs, "/d/acls", "# header\nTOPIC LITERAL t User:a * READ\n").ok());
    acl_store store(fs, "/d/acls");
    auto st = store.load();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.err().code(), errc::corruption);
    EXPECT_NE(st.err().message().find("/d/acls:2"), std::string::npos);
}

TEST(credential_store_test, credentials_survive_a_crash_without_passwords) {
    memory_file_system fs;
    ASSERT_TRUE(fs.create_directories("/d").ok());
    {
        credential_store store(fs, "/d/creds");
        ASSERT_TRUE(store.apply({{"alice", scram_mechanism::sha_512, make_credential(scram_mechanism::sha_512, "s3cret", 8192)},
                                 {"bob x", scram_mechanism::sha_256, make_credential(scram_mechanism::sha_256, "pw", 4096)}})
                        .ok());
    }
    fs.simulate_crash();
    auto text = read_file(fs, "/d/creds");
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(text->find("s3cret"), std::string::npos);
    credential_store store(fs, "/d/creds");
    ASSERT_TRUE(store.load().ok());
    auto alice = store.find("alice", scram_mechanism::sha_512);
    ASSERT_TRUE(alice.has_value());
    EXPECT_EQ(alice->iterations, 8192);
    EXPECT_FALSE(store.find("alice", scram_mechanism::sha_256).has_value());
    EXPECT_TRUE(store.has_user("bob x"));
    EXPECT_EQ(store.describe().size(), 2u);
    ASSERT_TRUE(store.apply({{"alice", scram_mechanism::sha_512, std::nullopt}}).ok());
    EXPECT_FALSE(store.has_user("alice"));
}

TEST(credential_store_test, corrupt_credentials_are_reported) {
    memory_file_system fs;
    ASSERT_TRUE(fs.create_directories("/d").ok());
    ASSERT_TRUE(write_file_atomic(fs, "/d/creds", "alice SCRAM-SHA-512 4096 !!! a b\n").ok());
    credential_store store(fs, "/d/creds");
    auto st = store.load();
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message().find("/d/creds:1"), std::string::npos);
}

}  // namespace
}  // namespace millrace::kafka::auth
