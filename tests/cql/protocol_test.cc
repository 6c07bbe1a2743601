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
    raw_client c(server_.address);
    std::string body;
    writer w(body);
    w.uint16(1);
    w.string("CQL_VERSION");
    w.string("3.0.0");
    c.send(5, 0, opcode::startup, body);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    auto [code, message] = error_of(*r);
    EXPECT_EQ(code, 0x000A);
    EXPECT_NE(message.find("unsupported protocol version"), std::string::npos) << message;
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

}  // namespace
}  // namespace millrace::cql
