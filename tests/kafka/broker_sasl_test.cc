// The broker's SASL state machine on the wire, with hand-built requests: what
// a connection may send before authenticating, SaslHandshake and
// SaslAuthenticate answers (PLAIN here; SCRAM with real clients in
// tests/kafka_security), re-authentication and session expiry (KIP-368), and
// the answers of a broker without security.enabled.
#include <thread>

#include <gtest/gtest.h>

#include "harness/process.h"
#include "kafka_messages.h"
#include "protocol/errors.h"
#include "protocol/wire.h"
#include "raw_client.h"

namespace millrace::kafka {
namespace {

using millrace::testing::start_server;
using millrace::testing::temp_dir;
using testing::raw_client;

constexpr int16_t k_metadata = 3;
constexpr int16_t k_sasl_handshake = 17;
constexpr int16_t k_sasl_authenticate = 36;
constexpr int16_t k_describe_acls = 29;
const std::string k_password = "s3cret-admin";

std::string metadata_all_v4() {
    std::string body;
    writer w(body);
    w.int32(-1);  // null: every topic
    w.boolean(false);
    return body;
}

template <typename Message>
std::string encode(const Message& m, int16_t version) {
    std::string body;
    writer w(body);
    m.encode(w, version);
    return body;
}

template <typename Message>
Message decode_response(const std::string& frame, int16_t version, bool flexible) {
    reader r(frame);
    r.int32();  // correlation id
    if (flexible) r.skip_tags(true);
    Message m;
    m.decode(r, version);
    return m;
}

messages::sasl_handshake_response handshake(raw_client& c, const std::string& mechanism) {
    messages::sasl_handshake_request request;
    request.mechanism = mechanism;
    c.send(k_sasl_handshake, 1, 1, encode(request, 1));
    return decode_response<messages::sasl_handshake_response>(c.receive(), 1, false);
}

messages::sasl_authenticate_response authenticate(raw_client& c, const std::string& token) {
    messages::sasl_authenticate_request request;
    request.auth_bytes = token;
    c.send(k_sasl_authenticate, 1, 2, encode(request, 1));
    return decode_response<messages::sasl_authenticate_response>(c.receive(), 1, false);
}

std::string plain(const std::string& user, const std::string& password) { return std::string("\0", 1) + user + '\0' + password; }

// True when the broker answers a Metadata request on `c`.
bool metadata_answers(raw_client& c) {
    c.send(k_metadata, 4, 3, metadata_all_v4());
    return !c.receive().empty();
}

class broker_sasl_test : public ::testing::Test {
protected:
    void start(std::vector<std::string> extra = {}) {
        // security.enabled serves only TLS, with a CA generated into <data_dir>/tls.
        extra.insert(extra.end(), {"--set", "security.enabled=true", "--set", "security.admin_password=" + k_password,
                                   "--set", "data_dir=" + dir_.file("root")});
        server_ = start_server("broker", dir_.file("data"), extra);
        ASSERT_TRUE(server_.proc);
        ca_ = dir_.file("root") + "/tls/ca.pem";
    }
    // A connection over TLS (SASL_SSL, as real clients of a secure broker use).
    raw_client connect() { return raw_client(server_.address, ca_); }
    temp_dir dir_;
    std::string ca_;
    millrace::testing::server server_;
};

TEST_F(broker_sasl_test, requests_before_authentication_close_the_connection) {
    start();
    raw_client c = connect();
    EXPECT_FALSE(metadata_answers(c));
    raw_client after_handshake = connect();
    EXPECT_EQ(handshake(after_handshake, "PLAIN").error_code, error_code::none);
    EXPECT_FALSE(metadata_answers(after_handshake));
}

TEST_F(broker_sasl_test, handshake_lists_mechanisms_and_refuses_unknown_ones) {
    start();
    raw_client c = connect();
    auto ok = handshake(c, "SCRAM-SHA-512");
    EXPECT_EQ(ok.error_code, error_code::none);
    EXPECT_EQ(ok.mechanisms, (std::vector<std::string>{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"}));
    raw_client bad = connect();
    auto refused = handshake(bad, "GSSAPI");
    EXPECT_EQ(refused.error_code, error_code::unsupported_sasl_mechanism);
    EXPECT_EQ(bad.receive(std::chrono::seconds(30)), "");  // closed after the reply
}

TEST_F(broker_sasl_test, plain_success_and_failure) {
    start();
    raw_client c = connect();
    ASSERT_EQ(handshake(c, "PLAIN").error_code, error_code::none);
    auto r = authenticate(c, plain("admin", k_password));
    EXPECT_EQ(r.error_code, error_code::none);
    EXPECT_EQ(r.session_lifetime_ms, 0);  // re-authentication off by default
    EXPECT_TRUE(metadata_answers(c));

    raw_client wrong = connect();
    ASSERT_EQ(handshake(wrong, "PLAIN").error_code, error_code::none);
    auto refused = authenticate(wrong, plain("admin", "not-it"));
    EXPECT_EQ(refused.error_code, error_code::sasl_authentication_failed);
    EXPECT_EQ(refused.error_message, "Authentication failed: Invalid username or password");
    EXPECT_FALSE(metadata_answers(wrong));  // closed

    raw_client early = connect();
    auto out_of_order = authenticate(early, plain("admin", k_password));
    EXPECT_EQ(out_of_order.error_code, error_code::illegal_sasl_state);
}

TEST_F(broker_sasl_test, expired_session_closes_unless_reauthenticated) {
    start({"--set", "broker.connections_max_reauth_ms=1500"});
    raw_client c = connect();
    ASSERT_EQ(handshake(c, "PLAIN").error_code, error_code::none);
    auto r = authenticate(c, plain("admin", k_password));
    ASSERT_EQ(r.error_code, error_code::none);
    EXPECT_EQ(r.session_lifetime_ms, 1500);
    // Re-authenticating keeps the connection serving (KIP-368).
    ASSERT_EQ(handshake(c, "PLAIN").error_code, error_code::none);
    ASSERT_EQ(authenticate(c, plain("admin", k_password)).error_code, error_code::none);
    EXPECT_TRUE(metadata_answers(c));
    // Without re-authentication the session ends: some Metadata request is the
    // last one answered (polled until then; no timing is asserted).
    bool closed = false;
    for (int attempt = 0; attempt < 600 && !closed; ++attempt) {
        closed = !metadata_answers(c);
        if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(closed);
}

TEST(broker_sasl_off_test, sasl_and_acl_apis_without_security) {
    temp_dir dir;
    auto server = start_server("broker", dir.file("data"));
    ASSERT_TRUE(server.proc);
    raw_client c(server.address);
    EXPECT_EQ(handshake(c, "PLAIN").error_code, error_code::illegal_sasl_state);
    messages::describe_acls_request request;
    request.resource_type_filter = 1;
    request.pattern_type_filter = 1;
    request.operation = 1;
    request.permission_type = 1;
    c.send(k_describe_acls, 1, 4, encode(request, 1));
    auto response = decode_response<messages::describe_acls_response>(c.receive(), 1, false);
    EXPECT_EQ(response.error_code, error_code::security_disabled);
    EXPECT_TRUE(metadata_answers(c));  // no authentication needed
}

}  // namespace
}  // namespace millrace::kafka
