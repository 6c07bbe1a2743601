// Raw native-protocol frames against a running `millrace cql`: the handshake,
// version negotiation, and every framing error path (absurd length, truncated
// body, malformed body, unknown opcode), each closing only its connection.
#include <csignal>
#include <sys/socket.h>
#include <sys/time.h>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include "harness/process.h"
#include "protocol/compression.h"
#include "protocol/wire.h"

namespace millrace::cql {
namespace {

using testing::start_server;
using testing::temp_dir;

struct reply {
    frame_header header;
    std::string body;
};

// A blocking connection speaking CQL framing, with a 10 s receive timeout.
class raw_client {
public:
    explicit raw_client(const std::string& address) : socket_(io_) {
        auto colon = address.rfind(':');
        asio::ip::tcp::resolver resolver(io_);
        asio::connect(socket_, resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
        timeval tv{10, 0};
        ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }

    void send_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

    void send(uint8_t version, int16_t stream, opcode op, const std::string& body, uint8_t flags = 0) {
        std::string frame;
        writer w(frame);
        w.byte(version);
        w.byte(flags);
        w.int16(stream);
        w.byte(static_cast<uint8_t>(op));
        w.int32(static_cast<int32_t>(body.size()));
        frame += body;
        send_raw(frame);
    }

    // Reads one frame; nullopt when the server closed the connection.
    std::optional<reply> receive() {
        char header[k_header_size];
        std::error_code ec;
        asio::read(socket_, asio::buffer(header, k_header_size), ec);
        if (ec) return std::nullopt;
        reply r{decode_header(header), {}};
        r.body.resize(r.header.length);
        asio::read(socket_, asio::buffer(r.body.data(), r.body.size()), ec);
        if (ec) return std::nullopt;
        return r;
    }

    bool closed_by_server() {
        char byte;
        std::error_code ec;
        asio::read(socket_, asio::buffer(&byte, 1), ec);
        return ec == asio::error::eof || ec == asio::error::connection_reset;
    }

    void startup() {
        std::string body;
        writer w(body);
        w.uint16(1);
        w.string("CQL_VERSION");
        w.string("3.0.0");
        send(4, 1, opcode::startup, body);
        auto r = receive();
        ASSERT_TRUE(r.has_value());
        ASSERT_EQ(r->header.op, static_cast<uint8_t>(opcode::ready));
    }

    reply query(const std::string& text, int16_t stream = 2) {
        std::string body;
        writer w(body);
        w.long_string(text);
        w.int16(1);  // consistency ONE
        w.byte(0);
        send(4, stream, opcode::query, body);
        auto r = receive();
        EXPECT_TRUE(r.has_value());
        return r.value_or(reply{});
    }

private:
    asio::io_context io_;
    asio::ip::tcp::socket socket_;
};

std::pair<int32_t, std::string> error_of(const reply& r) {
    EXPECT_EQ(r.header.op, static_cast<uint8_t>(opcode::error));
    reader in(r.body);
    int32_t code = in.int32();
    return {code, in.string()};
}

class cql_protocol_test : public ::testing::Test {
protected:
    void SetUp() override {
        server_ = start_server("cql", dir_.file("data"));
        ASSERT_TRUE(server_.proc);
    }
    void TearDown() override {
        if (server_.proc) {
            EXPECT_EQ(server_.proc->stop(SIGTERM), 0) << server_.proc->stderr_text();
        }
    }
    // The server still answers a fresh, well-behaved connection.
    void expect_still_serving() {
        raw_client c(server_.address);
        c.startup();
        auto r = c.query("SELECT release_version FROM system.local");
        EXPECT_EQ(r.header.op, static_cast<uint8_t>(opcode::result));
    }
    temp_dir dir_;
    testing::server server_;
};

TEST_F(cql_protocol_test, options_lists_versions_and_compression) {
    raw_client c(server_.address);
    c.send(4, 0, opcode::options, "");
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->header.op, static_cast<uint8_t>(opcode::supported));
    EXPECT_EQ(r->header.version, 4);
    EXPECT_NE(r->body.find("CQL_VERSION"), std::string::npos);
    EXPECT_NE(r->body.find("COMPRESSION"), std::string::npos);
}

TEST_F(cql_protocol_test, v5_startup_gets_the_fallback_protocol_error) {
    // v5 and v6 (Cassandra 4/5 drivers), DSE v1/v2 (0x41/0x42, the Node.js
    // driver's first try), v3: each gets the message drivers match on, in a v4 frame.
    for (uint8_t version : {5, 6, 0x41, 0x42, 3}) {
        raw_client c(server_.address);
        std::string body;
        writer w(body);
        w.uint16(1);
        w.string("CQL_VERSION");
        w.string("3.0.0");
        c.send(version, 7, opcode::startup, body);
        auto r = c.receive();
        ASSERT_TRUE(r.has_value()) << int(version);
        EXPECT_EQ(r->header.version, 4) << int(version);  // decode_header strips the response bit
        auto [code, message] = error_of(*r);
        EXPECT_EQ(code, 0x000A);
        EXPECT_NE(message.find("Invalid or unsupported protocol version (" + std::to_string(version) + ")"), std::string::npos)
            << message;
        EXPECT_TRUE(c.closed_by_server()) << int(version);
    }
    expect_still_serving();
}

TEST_F(cql_protocol_test, query_before_startup_is_refused) {
    raw_client c(server_.address);
    std::string body;
    writer w(body);
    w.long_string("SELECT * FROM system.local");
    w.int16(1);
    w.byte(0);
    c.send(4, 3, opcode::query, body);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(error_of(*r).first, 0x000A);
}

TEST_F(cql_protocol_test, absurd_length_closes_only_that_connection) {
    raw_client c(server_.address);
    c.startup();
    c.send_raw(std::string("\x04\x00\x00\x05\x07\x7f\xff\xff\xff", 9));
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    auto [code, message] = error_of(*r);
    EXPECT_EQ(code, 0x000A);
    EXPECT_NE(message.find("2147483647"), std::string::npos) << message;
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
    // The close is logged with the peer and the numbers.
    auto log = server_.proc->stderr_text();
    EXPECT_NE(log.find("frame body of 2147483647 bytes exceeds"), std::string::npos) << log;
}

TEST_F(cql_protocol_test, response_bit_in_a_request_closes_the_connection) {
    raw_client c(server_.address);
    c.startup();
    c.send(0x84, 3, opcode::query, "");
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
}

TEST_F(cql_protocol_test, truncated_body_then_disconnect_leaves_server_serving) {
    {
        raw_client c(server_.address);
        c.startup();
        c.send_raw(std::string("\x04\x00\x00\x05\x07\x00\x00\x00\x64", 9) + "only ten b");
    }
    expect_still_serving();
}

TEST_F(cql_protocol_test, malformed_body_closes_the_connection) {
    raw_client c(server_.address);
    c.startup();
    std::string body;
    writer w(body);
    w.int32(1000);  // [long string] longer than the body
    w.raw("SELECT");
    c.send(4, 9, opcode::query, body);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    auto [code, message] = error_of(*r);
    EXPECT_EQ(code, 0x000A);
    EXPECT_NE(message.find("truncated body"), std::string::npos) << message;
    EXPECT_EQ(r->header.stream, 9);
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
}

TEST_F(cql_protocol_test, unknown_opcode_closes_the_connection) {
    raw_client c(server_.address);
    c.startup();
    c.send(4, 4, static_cast<opcode>(0x42), "");
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(error_of(*r).first, 0x000A);
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
}

TEST_F(cql_protocol_test, snappy_compressed_frames_after_startup) {
    raw_client c(server_.address);
    std::string startup;
    writer sw(startup);
    sw.uint16(2);
    sw.string("CQL_VERSION");
    sw.string("3.0.0");
    sw.string("COMPRESSION");
    sw.string("snappy");
    c.send(4, 1, opcode::startup, startup);
    auto ready = c.receive();
    ASSERT_TRUE(ready.has_value());
    EXPECT_EQ(ready->header.op, static_cast<uint8_t>(opcode::ready));
    std::string body;
    writer w(body);
    w.long_string("SELECT release_version FROM system.local");
    w.int16(1);
    w.byte(0);
    c.send(4, 2, opcode::query, compress(compression::snappy, body), frame_flag::compression);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->header.op, static_cast<uint8_t>(opcode::result));
    ASSERT_TRUE(r->header.flags & frame_flag::compression);
    auto plain = decompress(compression::snappy, r->body, 1 << 20);
    ASSERT_TRUE(plain.ok());
    reader in(*plain);
    EXPECT_EQ(in.int32(), 2);  // Rows
}

TEST_F(cql_protocol_test, compressed_frame_without_negotiation_closes_the_connection) {
    raw_client c(server_.address);
    c.startup();
    c.send(4, 2, opcode::query, "junk", frame_flag::compression);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(error_of(*r).first, 0x000A);
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
}

TEST_F(cql_protocol_test, errors_carry_codes_and_extras) {
    raw_client c(server_.address);
    c.startup();
    EXPECT_EQ(error_of(c.query("SELEC 1")).first, 0x2000);
    EXPECT_EQ(error_of(c.query("SELECT * FROM nokeyspace.t")).first, 0x2200);
    auto created = c.query("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    EXPECT_EQ(created.header.op, static_cast<uint8_t>(opcode::result));
    auto again = c.query("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    reader in(again.body);
    EXPECT_EQ(in.int32(), 0x2400);
    in.string();
    EXPECT_EQ(in.string(), "k");  // keyspace
    EXPECT_EQ(in.string(), "");   // table
    // EXECUTE of an unknown id answers Unprepared with the id.
    std::string body;
    writer w(body);
    w.short_bytes("0123456789abcdef");
    w.int16(1);
    w.byte(0);
    c.send(4, 5, opcode::execute, body);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    reader ur(r->body);
    EXPECT_EQ(ur.int32(), 0x2500);
    ur.string();
    EXPECT_EQ(ur.short_bytes(), "0123456789abcdef");
}

TEST_F(cql_protocol_test, registered_connections_get_schema_change_events) {
    raw_client listener(server_.address);
    listener.startup();
    std::string events;
    writer(events).string_list({"SCHEMA_CHANGE", "TOPOLOGY_CHANGE"});
    listener.send(4, 3, opcode::register_, events);
    auto ready = listener.receive();
    ASSERT_TRUE(ready.has_value());
    EXPECT_EQ(ready->header.op, static_cast<uint8_t>(opcode::ready));
    raw_client other(server_.address);
    other.startup();  // not registered: gets no event
    auto created = other.query("CREATE KEYSPACE ev WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    EXPECT_EQ(created.header.op, static_cast<uint8_t>(opcode::result));
    other.query("CREATE TABLE ev.t (k int PRIMARY KEY)");
    other.query("DROP TABLE ev.t");
    struct expected {
        const char* change;
        const char* target;
        const char* table;
    };
    for (auto e : {expected{"CREATED", "KEYSPACE", nullptr}, expected{"CREATED", "TABLE", "t"}, expected{"DROPPED", "TABLE", "t"}}) {
        auto event = listener.receive();
        ASSERT_TRUE(event.has_value());
        EXPECT_EQ(event->header.op, static_cast<uint8_t>(opcode::event));
        EXPECT_EQ(event->header.stream, -1);
        reader in(event->body);
        EXPECT_EQ(in.string(), "SCHEMA_CHANGE");
        EXPECT_EQ(in.string(), e.change);
        EXPECT_EQ(in.string(), e.target);
        EXPECT_EQ(in.string(), "ev");
        if (e.table) {
            EXPECT_EQ(in.string(), e.table);
        }
        EXPECT_EQ(in.remaining(), 0u);
    }
    // The unregistered connection's next frame is its own answer, not an event.
    auto r = other.query("SELECT key FROM system.local", 11);
    EXPECT_EQ(r.header.stream, 11);
    EXPECT_EQ(r.header.op, static_cast<uint8_t>(opcode::result));
}

// A server with cql.authenticator=password: SASL PLAIN over AUTHENTICATE /
// AUTH_RESPONSE / AUTH_SUCCESS, and every way to get it wrong.
class cql_auth_test : public ::testing::Test {
protected:
    void SetUp() override {
        server_ = start_server("cql", dir_.file("data"),
                               {"--set", "cql.authenticator=password", "--set", "cql.username=pipeline", "--set",
                                "cql.password=s3cret"});
        ASSERT_TRUE(server_.proc);
    }
    void TearDown() override {
        if (server_.proc) {
            EXPECT_EQ(server_.proc->stop(SIGTERM), 0) << server_.proc->stderr_text();
        }
    }
    // STARTUP, expecting AUTHENTICATE with the PasswordAuthenticator class.
    void startup(raw_client& c) {
        std::string body;
        writer w(body);
        w.uint16(1);
        w.string("CQL_VERSION");
        w.string("3.0.0");
        c.send(4, 1, opcode::startup, body);
        auto r = c.receive();
        ASSERT_TRUE(r.has_value());
        ASSERT_EQ(r->header.op, static_cast<uint8_t>(opcode::authenticate));
        EXPECT_EQ(reader(r->body).string(), "org.apache.cassandra.auth.PasswordAuthenticator");
    }
    reply auth(raw_client& c, const std::string& token) {
        std::string body;
        writer(body).bytes(token);
        c.send(4, 2, opcode::auth_response, body);
        auto r = c.receive();
        EXPECT_TRUE(r.has_value());
        return r.value_or(reply{});
    }
    temp_dir dir_;
    testing::server server_;
};

TEST_F(cql_auth_test, right_credentials_then_queries) {
    raw_client c(server_.address);
    startup(c);
    auto r = auth(c, std::string("\0pipeline\0s3cret", 16));
    EXPECT_EQ(r.header.op, static_cast<uint8_t>(opcode::auth_success));
    EXPECT_EQ(c.query("SELECT key FROM system.local").header.op, static_cast<uint8_t>(opcode::result));
    // A second AUTH_RESPONSE after success is a protocol error.
    EXPECT_EQ(error_of(auth(c, std::string("\0pipeline\0s3cret", 16))).first, 0x000A);
}

TEST_F(cql_auth_test, wrong_credentials_and_queries_before_login_are_refused) {
    raw_client c(server_.address);
    startup(c);
    // A query before AUTH_RESPONSE is refused; the connection stays open.
    EXPECT_EQ(error_of(c.query("SELECT key FROM system.local")).first, 0x000A);
    auto [code, message] = error_of(auth(c, std::string("\0pipeline\0wrong", 15)));
    EXPECT_EQ(code, 0x0100);
    EXPECT_EQ(message, "Provided username pipeline and/or password are incorrect");
    EXPECT_EQ(error_of(auth(c, std::string("\0other\0s3cret", 13))).first, 0x0100);
    EXPECT_EQ(error_of(auth(c, "no separators")).first, 0x0100);
    EXPECT_EQ(error_of(auth(c, std::string("\0pipeline\0s3cre", 15))).first, 0x0100);
    EXPECT_EQ(error_of(c.query("SELECT key FROM system.local")).first, 0x000A);
    // Retrying on the same connection with the right password works.
    EXPECT_EQ(auth(c, std::string("\0pipeline\0s3cret", 16)).header.op, static_cast<uint8_t>(opcode::auth_success));
    EXPECT_EQ(c.query("SELECT key FROM system.local").header.op, static_cast<uint8_t>(opcode::result));
}

TEST(cql_auth_config_test, password_authenticator_without_password_does_not_start) {
    temp_dir dir;
    testing::process p({testing::millrace_binary(), "cql", "--port", "0", "--admin-port", "0", "--data-dir", dir.file("data"),
                        "--set", "cql.authenticator=password"});
    auto code = p.wait();
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
    EXPECT_NE(p.stderr_text().find("cql.password is empty"), std::string::npos) << p.stderr_text();
}

}  // namespace
}  // namespace millrace::cql
