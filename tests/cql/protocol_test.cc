// Raw native-protocol frames against a running `millrace cql`: the handshake,
// version negotiation, and every framing error path (absurd length, truncated
// body, malformed body, unknown opcode), each closing only its connection.
#include <csignal>
#include <fstream>
#include <random>
#include <set>
#include <tuple>
#include <sys/socket.h>
#include <sys/time.h>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include "harness/process.h"
#include "protocol/compression.h"
#include "protocol/segment.h"
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
        if (segments) {
            std::string wire;
            encode_segments(wire, frame, lz4);
            frame = std::move(wire);
        }
        send_raw(frame);
    }

    // Reads one frame (from segments once `segments` is set); nullopt when the
    // server closed the connection or a segment did not decode.
    std::optional<reply> receive() {
        if (segments) {
            while (pending_.size() < k_header_size || pending_.size() < k_header_size + decode_header(pending_.data()).length) {
                std::string header(segment_header_size(lz4), '\0');
                std::error_code ec;
                asio::read(socket_, asio::buffer(header.data(), header.size()), ec);
                if (ec) return std::nullopt;
                auto h = decode_segment_header(header, lz4);
                if (!h) return std::nullopt;
                std::string body(h->payload_length + k_segment_crc32_size, '\0');
                asio::read(socket_, asio::buffer(body.data(), body.size()), ec);
                if (ec) return std::nullopt;
                auto payload = decode_segment_payload(*h, body, lz4);
                if (!payload) return std::nullopt;
                pending_ += *payload;
            }
            reply r{decode_header(pending_.data()), {}};
            r.body = pending_.substr(k_header_size, r.header.length);
            pending_.erase(0, k_header_size + r.header.length);
            return r;
        }
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

    // Reads exactly n bytes (nullopt when the connection closed first).
    std::optional<std::string> receive_bytes(size_t n) {
        std::string out(n, '\0');
        std::error_code ec;
        asio::read(socket_, asio::buffer(out.data(), n), ec);
        if (ec) return std::nullopt;
        return out;
    }

    // v5: STARTUP (optionally with lz4), READY in the v4 framing, then segments.
    void startup_v5(bool with_lz4) {
        std::string body;
        writer w(body);
        w.uint16(with_lz4 ? 2 : 1);
        w.string("CQL_VERSION");
        w.string("3.0.0");
        if (with_lz4) {
            w.string("COMPRESSION");
            w.string("lz4");
        }
        send(5, 1, opcode::startup, body);
        auto r = receive();
        ASSERT_TRUE(r.has_value());
        ASSERT_EQ(r->header.op, static_cast<uint8_t>(opcode::ready));
        ASSERT_EQ(r->header.version, 5);
        segments = true;
        lz4 = with_lz4;
    }

    bool segments = false;
    bool lz4 = false;

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
        if (segments) w.int32(0);  // v5 flags are an [int]
        else w.byte(0);
        send(segments ? 5 : 4, stream, opcode::query, body);
        auto r = receive();
        EXPECT_TRUE(r.has_value());
        return r.value_or(reply{});
    }

private:
    asio::io_context io_;
    asio::ip::tcp::socket socket_;
    std::string pending_;  // decoded segment bytes not yet returned as frames
};

std::pair<int32_t, std::string> error_of(const reply& r) {
    EXPECT_EQ(r.header.op, static_cast<uint8_t>(opcode::error));
    reader in(r.body);
    int32_t code = in.int32();
    return {code, in.string()};
}

// Every protocol test runs twice: with the connections on the component's
// thread (cql.io_threads=0, the default) and spread over two io threads,
// where each request is handed to the component's thread and its answer back.
class cql_protocol_test : public ::testing::TestWithParam<int> {
protected:
    void SetUp() override {
        server_ = start_server("cql", dir_.file("data"), {"--set", "cql.io_threads=" + std::to_string(GetParam())});
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

TEST_P(cql_protocol_test, options_lists_versions_and_compression) {
    raw_client c(server_.address);
    c.send(4, 0, opcode::options, "");
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->header.op, static_cast<uint8_t>(opcode::supported));
    EXPECT_EQ(r->header.version, 4);
    EXPECT_NE(r->body.find("CQL_VERSION"), std::string::npos);
    EXPECT_NE(r->body.find("COMPRESSION"), std::string::npos);
}

TEST_P(cql_protocol_test, unsupported_versions_get_cassandras_protocol_error) {
    // As Cassandra 4.0/5.0: a version newer than ours (v6, 7) or a DSE one
    // (0x41/0x42, the Node.js driver's first try) is answered in our newest
    // version (v5); an older one (3) in that version. Each names the supported
    // versions in the message drivers match on, then the server closes.
    for (uint8_t version : {6, 7, 0x41, 0x42, 3}) {
        raw_client c(server_.address);
        std::string body;
        writer w(body);
        w.uint16(1);
        w.string("CQL_VERSION");
        w.string("3.0.0");
        c.send(version, 7, opcode::startup, body, version == 6 ? frame_flag::use_beta : 0);
        auto r = c.receive();
        ASSERT_TRUE(r.has_value()) << int(version);
        EXPECT_EQ(r->header.version, version == 3 ? 3 : 5) << int(version);  // decode_header strips the response bit
        EXPECT_EQ(r->header.stream, 7);
        auto [code, message] = error_of(*r);
        EXPECT_EQ(code, 0x000A);
        EXPECT_EQ(message, "Invalid or unsupported protocol version (" + std::to_string(version) +
                               "); supported versions are (4/v4, 5/v5)");
        EXPECT_TRUE(c.closed_by_server()) << int(version);
    }
    // v1/v2 have an 8-byte header with a one-byte stream id, and get their answer in it.
    for (uint8_t version : {1, 2}) {
        raw_client c(server_.address);
        c.send_raw(std::string{static_cast<char>(version), 0, 9, 1, 0, 0, 0, 2, 0, 0});
        auto header = c.receive_bytes(8);
        ASSERT_TRUE(header.has_value()) << int(version);
        EXPECT_EQ(uint8_t((*header)[0]), 0x80 | version);
        EXPECT_EQ((*header)[2], 9);  // stream
        EXPECT_EQ((*header)[3], 0);  // ERROR
        uint32_t length = (uint8_t((*header)[6]) << 8) | uint8_t((*header)[7]);
        auto body = c.receive_bytes(length);
        ASSERT_TRUE(body.has_value());
        reader in(*body);
        EXPECT_EQ(in.int32(), 0x000A);
        EXPECT_NE(in.string().find("unsupported protocol version (" + std::to_string(version) + ")"), std::string::npos);
    }
    expect_still_serving();
}

TEST_P(cql_protocol_test, v5_options_then_startup_then_segments) {
    raw_client c(server_.address);
    c.send(5, 0, opcode::options, "");
    auto supported = c.receive();
    ASSERT_TRUE(supported.has_value());
    EXPECT_EQ(supported->header.version, 5);
    EXPECT_NE(supported->body.find("5/v5"), std::string::npos);
    c.startup_v5(false);
    auto r = c.query("SELECT release_version FROM system.local", 11);
    EXPECT_EQ(r.header.version, 5);
    EXPECT_EQ(r.header.stream, 11);
    ASSERT_EQ(r.header.op, static_cast<uint8_t>(opcode::result));
    reader in(r.body);
    EXPECT_EQ(in.int32(), 2);  // Rows
    // A frame of another version on a v5 connection closes it.
    raw_client mixed(server_.address);
    mixed.send(5, 0, opcode::options, "");
    ASSERT_TRUE(mixed.receive().has_value());
    std::string startup;
    writer sw(startup);
    sw.uint16(1);
    sw.string("CQL_VERSION");
    sw.string("3.0.0");
    mixed.send(4, 2, opcode::startup, startup);
    auto refused = mixed.receive();
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->header.version, 5);
    auto [code, message] = error_of(*refused);
    EXPECT_EQ(code, 0x000A);
    EXPECT_EQ(message, "Invalid message version. Got 4/v4 but previous messages on this connection had version 5/v5");
    EXPECT_TRUE(mixed.closed_by_server());
}

TEST_P(cql_protocol_test, v5_several_frames_in_one_segment_and_large_frames_over_several) {
    for (bool lz4 : {false, true}) {
        raw_client c(server_.address);
        c.startup_v5(lz4);
        ASSERT_EQ(c.query("CREATE KEYSPACE IF NOT EXISTS big WITH replication = {'class': 'SimpleStrategy', "
                          "'replication_factor': 1}").header.op,
                  static_cast<uint8_t>(opcode::result));
        ASSERT_EQ(c.query("CREATE TABLE IF NOT EXISTS big.t (k int PRIMARY KEY, v text)").header.op,
                  static_cast<uint8_t>(opcode::result));
        // Three QUERY frames in one self-contained segment: three answers.
        std::string frames;
        for (int16_t stream : {21, 22, 23}) {
            std::string body;
            writer w(body);
            w.long_string("SELECT release_version FROM system.local");
            w.int16(1);
            w.int32(0);
            writer f(frames);
            f.byte(5);
            f.byte(0);
            f.int16(stream);
            f.byte(static_cast<uint8_t>(opcode::query));
            f.int32(static_cast<int32_t>(body.size()));
            frames += body;
        }
        std::string wire;
        encode_segments(wire, frames, lz4);
        c.send_raw(wire);
        std::set<int16_t> streams;
        for (int idx = 0; idx < 3; ++idx) {
            auto r = c.receive();
            ASSERT_TRUE(r.has_value());
            EXPECT_EQ(r->header.op, static_cast<uint8_t>(opcode::result));
            streams.insert(r->header.stream);
        }
        EXPECT_EQ(streams, (std::set<int16_t>{21, 22, 23}));
        // A 400 KB value goes in over four segments and comes back over four.
        std::mt19937 rng(301);
        std::string value(400 * 1024, 'x');
        for (auto& ch : value) ch = static_cast<char>('a' + rng() % 26);
        auto inserted = c.query("INSERT INTO big.t (k, v) VALUES (1, '" + value + "')");
        ASSERT_EQ(inserted.header.op, static_cast<uint8_t>(opcode::result)) << error_of(inserted).second;
        auto selected = c.query("SELECT v FROM big.t WHERE k = 1");
        ASSERT_EQ(selected.header.op, static_cast<uint8_t>(opcode::result));
        EXPECT_NE(selected.body.find(value), std::string::npos);
    }
}

TEST_P(cql_protocol_test, v5_corrupt_segment_closes_the_connection) {
    raw_client c(server_.address);
    c.startup_v5(false);
    std::string body;
    writer w(body);
    w.long_string("SELECT release_version FROM system.local");
    w.int16(1);
    w.int32(0);
    std::string frame;
    encode_header(frame, 4, opcode::query, static_cast<uint32_t>(body.size()), 0, 5);
    frame[0] = 5;  // a request
    frame += body;
    std::string wire;
    encode_segments(wire, frame, false);
    wire[10] ^= 0x20;  // inside the payload: the CRC32 no longer matches
    c.send_raw(wire);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    auto [code, message] = error_of(*r);
    EXPECT_EQ(code, 0x000A);
    EXPECT_NE(message.find("CRC32 mismatch"), std::string::npos) << message;
    EXPECT_TRUE(c.closed_by_server());
    auto log = server_.proc->stderr_text();
    EXPECT_NE(log.find("segment payload CRC32 mismatch"), std::string::npos) << log;
    expect_still_serving();
}

TEST_P(cql_protocol_test, v5_refuses_snappy) {
    raw_client c(server_.address);
    std::string body;
    writer w(body);
    w.uint16(2);
    w.string("CQL_VERSION");
    w.string("3.0.0");
    w.string("COMPRESSION");
    w.string("snappy");
    c.send(5, 1, opcode::startup, body);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    auto [code, message] = error_of(*r);
    EXPECT_EQ(code, 0x000A);
    EXPECT_NE(message.find("Snappy"), std::string::npos) << message;
}

TEST_P(cql_protocol_test, tracing_flag_answers_with_a_session_id_recorded_in_system_traces) {
    for (bool v5 : {false, true}) {
        raw_client c(server_.address);
        if (v5) c.startup_v5(false);
        else c.startup();
        std::string body;
        writer w(body);
        w.long_string("SELECT release_version FROM system.local");
        w.int16(1);
        if (v5) w.int32(0);
        else w.byte(0);
        c.send(v5 ? 5 : 4, 6, opcode::query, body, frame_flag::tracing);
        auto r = c.receive();
        ASSERT_TRUE(r.has_value());
        ASSERT_TRUE(r->header.flags & frame_flag::tracing);
        ASSERT_GE(r->body.size(), 20u);
        std::string session_id = r->body.substr(0, 16);
        EXPECT_EQ((uint8_t(session_id[6]) >> 4), 1);  // a version-1 (time) UUID
        reader after_id(std::string_view(r->body).substr(16));
        EXPECT_EQ(after_id.int32(), 2);  // Rows
        // Untraced: no flag, no id.
        auto plain = c.query("SELECT release_version FROM system.local", 7);
        EXPECT_FALSE(plain.header.flags & frame_flag::tracing);
        // The session row, by session_id as drivers ask for it.
        std::string hex;
        for (char ch : session_id) hex += fmt::format("{:02x}", uint8_t(ch));
        std::string uuid = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" + hex.substr(20);
        auto session = c.query("SELECT request, duration FROM system_traces.sessions WHERE session_id = " + uuid, 8);
        ASSERT_EQ(session.header.op, static_cast<uint8_t>(opcode::result)) << error_of(session).second;
        EXPECT_NE(session.body.find("Execute CQL3 query"), std::string::npos);
        auto events = c.query("SELECT activity FROM system_traces.events WHERE session_id = " + uuid, 9);
        EXPECT_NE(events.body.find("Parsing SELECT release_version FROM system.local"), std::string::npos);
    }
}

TEST_P(cql_protocol_test, query_before_startup_is_refused) {
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

TEST_P(cql_protocol_test, absurd_length_closes_only_that_connection) {
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

TEST_P(cql_protocol_test, response_bit_in_a_request_closes_the_connection) {
    raw_client c(server_.address);
    c.startup();
    c.send(0x84, 3, opcode::query, "");
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
}

TEST_P(cql_protocol_test, truncated_body_then_disconnect_leaves_server_serving) {
    {
        raw_client c(server_.address);
        c.startup();
        c.send_raw(std::string("\x04\x00\x00\x05\x07\x00\x00\x00\x64", 9) + "only ten b");
    }
    expect_still_serving();
}

TEST_P(cql_protocol_test, malformed_bodies_get_an_error_and_the_connection_keeps_serving) {
    // As Cassandra 5.0: QUERY, EXECUTE and BATCH bodies that do not decode are
    // answered with a protocol error on their stream, and the same connection
    // answers the next request (never a half-dead socket).
    for (bool v5 : {false, true}) {
        raw_client c(server_.address);
        if (v5) c.startup_v5(true);
        else c.startup();
        uint8_t version = v5 ? 5 : 4;
        std::string query;
        writer(query).int32(1000);  // [long string] longer than the body
        query += "SELECT";
        std::string execute;
        writer(execute).uint16(16);  // [short bytes] id cut short
        execute += "abc";
        std::string batch;
        writer bw(batch);
        bw.byte(0);
        bw.uint16(1);
        bw.byte(7);  // no such statement kind
        for (auto [op, body, stream] : {std::tuple{opcode::query, query, int16_t(9)}, std::tuple{opcode::execute, execute, int16_t(10)},
                                        std::tuple{opcode::batch, batch, int16_t(11)}}) {
            c.send(version, stream, op, body);
            auto r = c.receive();
            ASSERT_TRUE(r.has_value()) << int(op);
            auto [code, message] = error_of(*r);
            EXPECT_EQ(code, 0x000A);
            EXPECT_NE(message.find("malformed"), std::string::npos) << message;
            EXPECT_EQ(r->header.stream, stream);
            auto next = c.query("SELECT release_version FROM system.local", 12);
            EXPECT_EQ(next.header.op, static_cast<uint8_t>(opcode::result)) << int(op);
            EXPECT_EQ(next.header.stream, 12);
        }
    }
    auto log = server_.proc->stderr_text();
    EXPECT_NE(log.find("malformed EXECUTE frame (5 body bytes, stream 10) from 127.0.0.1:"), std::string::npos) << log;
}

TEST_P(cql_protocol_test, announced_bodies_allocate_only_what_arrives) {
    // Three connections announce a body just under cql.max_frame_size (16 MiB
    // by default, as Cassandra's native_transport_max_frame_size) and send
    // nothing: the server's resident memory does not grow by their size.
    auto rss_kib = [&] {
        std::ifstream status("/proc/" + std::to_string(server_.proc->pid()) + "/status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
        }
        return -1L;
    };
    expect_still_serving();
    long before = rss_kib();
    std::vector<std::unique_ptr<raw_client>> clients;
    for (int idx = 0; idx < 3; ++idx) {
        clients.push_back(std::make_unique<raw_client>(server_.address));
        clients.back()->startup();
        clients.back()->send_raw(std::string("\x04\x00\x00\x05\x07\x00\xf0\x00\x00", 9) + "partial");
    }
    expect_still_serving();  // the server has read the headers by now: it answers in order of arrival
    long after = rss_kib();
    EXPECT_LT(after - before, 16 * 1024) << before << " KiB before, " << after << " KiB after";
    // Above the limit: refused before any body byte is read, with a log line naming both sizes.
    raw_client big(server_.address);
    big.startup();
    big.send_raw(std::string("\x04\x00\x00\x05\x07\x10\x00\x00\x00", 9));
    auto r = big.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_NE(error_of(*r).second.find("frame body of 268435456 bytes exceeds the limit of 16777216"), std::string::npos);
    EXPECT_TRUE(big.closed_by_server());
    auto log = server_.proc->stderr_text();
    EXPECT_NE(log.find("frame body of 268435456 bytes exceeds 16777216 (cql.max_frame_size)"), std::string::npos) << log;
}

TEST_P(cql_protocol_test, unknown_opcode_closes_the_connection) {
    raw_client c(server_.address);
    c.startup();
    c.send(4, 4, static_cast<opcode>(0x42), "");
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(error_of(*r).first, 0x000A);
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
}

TEST_P(cql_protocol_test, snappy_compressed_frames_after_startup) {
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

TEST_P(cql_protocol_test, compressed_frame_without_negotiation_closes_the_connection) {
    raw_client c(server_.address);
    c.startup();
    c.send(4, 2, opcode::query, "junk", frame_flag::compression);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(error_of(*r).first, 0x000A);
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
}

TEST_P(cql_protocol_test, errors_carry_codes_and_extras) {
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

TEST_P(cql_protocol_test, registered_connections_get_schema_change_events) {
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
INSTANTIATE_TEST_SUITE_P(cql_io_threads, cql_protocol_test, ::testing::Values(0, 2),
                         [](const ::testing::TestParamInfo<int>& info) { return "io_threads_" + std::to_string(info.param); });

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
