// The C++ CQL client against a real server: `millrace cql` started by the test,
// or, when MILLRACE_CQL_TARGET=host:port is set (the compat suite), a real
// Apache Cassandra started by scripts/peers/cassandra. Tests that restart the
// server run against millrace only. Fake servers (a thread with a socket) cover
// what a real server will not do: garbage, silence.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <future>
#include <random>
#include <set>
#include <thread>

#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include "harness/process.h"
#include "millrace/cql_client/client.h"

namespace millrace::cql_client {
namespace {

using namespace std::chrono_literals;
using testing::start_server;
using testing::temp_dir;

std::optional<std::string> external_target() {
    const char* target = std::getenv("MILLRACE_CQL_TARGET");
    if (target == nullptr || *target == '\0') return std::nullopt;
    return std::string(target);
}

class session_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto target = external_target()) {
            address_ = *target;
        } else {
            start();
        }
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        keyspace_ = std::string("client_") + info->name();
        for (auto& c : keyspace_) c = static_cast<char>(std::tolower(c));
        keyspace_ = keyspace_.substr(0, 48);
    }

    void TearDown() override {
        if (server_.proc) {
            EXPECT_EQ(server_.proc->stop(SIGTERM), 0) << server_.proc->stderr_text();
        }
    }

    void start(std::vector<std::string> extra = {}) {
        bool with_port = true;
        if (!port_.empty()) {
            extra.insert(extra.begin(), {"--port", port_});
            with_port = false;
        }
        server_ = start_server("cql", dir_.file("data"), extra, with_port);
        ASSERT_TRUE(server_.proc);
        address_ = server_.address;
        port_ = address_.substr(address_.rfind(':') + 1);
    }

    // Stops the server (kill -9 when `crash`) and starts it again on the same port.
    void restart(bool crash) {
        ASSERT_TRUE(server_.proc) << "restart needs a millrace server";
        if (crash) {
            server_.proc->stop(SIGKILL);
        } else {
            EXPECT_EQ(server_.proc->stop(SIGTERM), 0);
        }
        server_.proc.reset();
        start();
    }

    client_options options() {
        client_options o;
        o.contact_points = {address_};
        o.request_timeout = 30s;
        o.connect_timeout = 20s;
        return o;
    }

    std::shared_ptr<session> connect(client_options o) {
        auto s = session::connect(std::move(o));
        EXPECT_TRUE(s.ok()) << s.err().message();
        return s.ok() ? *s : nullptr;
    }

    std::shared_ptr<session> connect() { return connect(options()); }

    void create_keyspace(session& s) {
        auto dropped = s.query("DROP KEYSPACE IF EXISTS " + keyspace_);
        ASSERT_TRUE(dropped.ok()) << dropped.err().message();
        auto r = s.query("CREATE KEYSPACE " + keyspace_ +
                         " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}");
        ASSERT_TRUE(r.ok()) << r.err().message();
    }

    void ok(const result<rows>& r) { ASSERT_TRUE(r.ok()) << r.err().message(); }

    temp_dir dir_;
    testing::server server_;
    std::string address_;
    std::string port_;
    std::string keyspace_;
};

bool restartable() { return !external_target().has_value(); }

TEST_F(session_test, connect_create_and_use_keyspace) {
    auto s = connect();
    ASSERT_TRUE(s);
    create_keyspace(*s);
    ok(s->query("CREATE TABLE " + keyspace_ + ".t (id int PRIMARY KEY, name text)"));
    // A second session that USEs the keyspace on every connection reads unqualified names.
    auto o = options();
    o.keyspace = keyspace_;
    o.connections_per_host = 3;
    auto s2 = connect(o);
    ASSERT_TRUE(s2);
    ok(s2->query("INSERT INTO t (id, name) VALUES (1, 'one')"));
    for (int attempt = 0; attempt < 6; ++attempt) {  // lands on every connection of the pool
        auto r = s2->query("SELECT name FROM t WHERE id = 1");
        ASSERT_TRUE(r.ok()) << r.err().message();
        ASSERT_EQ(r->size(), 1u);
        EXPECT_EQ(r->at(0, "name").as_text(), "one");
    }
    auto local = s->query("SELECT release_version FROM system.local");
    ASSERT_TRUE(local.ok()) << local.err().message();
    EXPECT_EQ(local->size(), 1u);
}

TEST_F(session_test, prepared_insert_of_every_type_reads_back) {
    auto s = connect();
    ASSERT_TRUE(s);
    create_keyspace(*s);
    ok(s->query("CREATE TABLE " + keyspace_ +
                ".types (id uuid PRIMARY KEY, tu timeuuid, t text, a ascii, b boolean, ti tinyint, si smallint, "
                "i int, bi bigint, vi varint, f float, d double, dec decimal, ts timestamp, dt date, tm time, "
                "bl blob, ip inet, l list<int>, st set<text>, m map<text, bigint>, fl frozen<list<text>>)"));
    auto insert = s->prepare("INSERT INTO " + keyspace_ +
                             ".types (id, tu, t, a, b, ti, si, i, bi, vi, f, d, dec, ts, dt, tm, bl, ip, l, st, m, fl) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ASSERT_TRUE(insert.ok()) << insert.err().message();
    ASSERT_EQ((*insert)->bind_columns().size(), 22u);
    EXPECT_EQ((*insert)->bind_columns()[18].type.to_string(), "list<int>");
    auto id = *value::uuid_from_string("6f1c2a4e-0d3b-4e5f-9a8b-7c6d5e4f3a2b");
    auto tu = value::timeuuid(value::uuid_from_string("d2177dd0-eaa2-11de-a572-001b779c76e3")->as_uuid());
    std::vector<value> values = {
        id, tu, value::text("Grüße, 'quoted'"), value::ascii("ascii"), value::boolean(true), value::tinyint(-7),
        value::smallint(1234), value::int32(-123456), value::bigint(9007199254740993LL), value::varint(-1234567890123LL),
        value::float32(2.5f), value::float64(-1e-300), value::decimal(3, 1234567), value::timestamp(1732500000123),
        value::date(20052), value::time(45296789000000LL), value::blob(std::string("\0\x01\xfe", 3)),
        *value::inet_from_string("2001:db8::7"), value::list({value::int32(3), value::int32(1), value::int32(2)}),
        value::set({value::text("x"), value::text("y")}),
        value::map({{value::text("a"), value::bigint(1)}, {value::text("b"), value::bigint(-2)}}),
        value::list({value::text("frozen")})};
    ok(s->execute(*insert, values));
    auto select = s->prepare("SELECT id, tu, t, a, b, ti, si, i, bi, vi, f, d, dec, ts, dt, tm, bl, ip, l, st, m, fl "
                             "FROM " + keyspace_ + ".types WHERE id = ?");
    ASSERT_TRUE(select.ok()) << select.err().message();
    auto r = s->execute(*select, {id});
    ASSERT_TRUE(r.ok()) << r.err().message();
    ASSERT_EQ(r->size(), 1u);
    const row& got = r->data[0];
    ASSERT_EQ(got.size(), values.size());
    for (size_t idx = 0; idx < values.size(); ++idx) {
        EXPECT_EQ(got[idx], values[idx]) << "column " << r->columns[idx].name << ": sent " << values[idx].to_string()
                                         << ", read " << got[idx].to_string();
    }
    EXPECT_EQ(r->at(0, "ip").inet_string(), "2001:db8::7");
    EXPECT_EQ(r->columns[r->index_of("m")].type.to_string(), "map<text, bigint>");

    // Nulls bind and read back as nulls; integer widths convert to the column's.
    auto partial = s->prepare("INSERT INTO " + keyspace_ + ".types (id, t, bi) VALUES (?, ?, ?)");
    ASSERT_TRUE(partial.ok());
    auto id2 = *value::uuid_from_string("00000000-0000-0000-0000-000000000002");
    ok(s->execute(*partial, {id2, value::null(), value::int32(5)}));
    auto r2 = s->execute(*select, {id2});
    ASSERT_TRUE(r2.ok());
    ASSERT_EQ(r2->size(), 1u);
    EXPECT_TRUE(r2->at(0, "t").is_null());
    EXPECT_EQ(r2->at(0, "bi").as_int(), 5);

    // A value that does not fit its marker fails before anything is sent.
    auto wrong = s->execute(*partial, {id2, value::text("x"), value::text("not a bigint")});
    ASSERT_FALSE(wrong.ok());
    EXPECT_NE(wrong.err().message().find("bind marker 2 (bi)"), std::string::npos) << wrong.err().message();
}

TEST_F(session_test, paging_through_ten_thousand_rows) {
    auto s = connect();
    ASSERT_TRUE(s);
    create_keyspace(*s);
    ok(s->query("CREATE TABLE " + keyspace_ + ".users (id int PRIMARY KEY, payload text)"));
    auto insert = s->prepare("INSERT INTO " + keyspace_ + ".users (id, payload) VALUES (?, ?)");
    ASSERT_TRUE(insert.ok()) << insert.err().message();
    constexpr int k_rows = 10000;
    // In chunks of 500 in flight: a real Cassandra on a loaded 2-core machine
    // answers WRITE_TIMEOUT when 10k writes arrive at once.
    constexpr int k_chunk = 500;
    std::atomic<int> failures{0};
    std::string first_error;
    std::mutex mu;
    for (int chunk_start = 0; chunk_start < k_rows; chunk_start += k_chunk) {
        std::promise<void> chunk_done;
        std::atomic<int> remaining{k_chunk};
        for (int id = chunk_start; id < chunk_start + k_chunk; ++id) {
            s->execute_async(*insert, {value::int32(id), value::text(fmt::format("user {}", id))},
                             [&](result<rows> r) {
                                 if (!r.ok()) {
                                     std::lock_guard lock(mu);
                                     if (failures++ == 0) first_error = r.err().message();
                                 }
                                 if (--remaining == 0) chunk_done.set_value();
                             });
        }
        chunk_done.get_future().wait();
    }
    ASSERT_EQ(failures.load(), 0) << first_error;

    query_options opts;
    opts.page_size = 1000;
    std::set<int64_t> seen;
    int pages = 0;
    for (;;) {
        auto page = s->query("SELECT id, payload FROM " + keyspace_ + ".users", {}, opts);
        ASSERT_TRUE(page.ok()) << page.err().message();
        ++pages;
        EXPECT_LE(page->size(), 1000u);
        for (const auto& r : page->data) {
            EXPECT_EQ(r[1].as_text(), fmt::format("user {}", r[0].as_int()));
            EXPECT_TRUE(seen.insert(r[0].as_int()).second) << "row " << r[0].as_int() << " twice";
        }
        if (!page->paging_state) break;
        opts.paging_state = page->paging_state;
        ASSERT_LT(pages, 100);
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(k_rows));
    EXPECT_GE(pages, 10);
    auto all = s->query_all("SELECT id FROM " + keyspace_ + ".users", {}, query_options{.page_size = 3000});
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), static_cast<size_t>(k_rows));
}

TEST_F(session_test, logged_and_unlogged_batches) {
    auto s = connect();
    ASSERT_TRUE(s);
    create_keyspace(*s);
    ok(s->query("CREATE TABLE " + keyspace_ + ".b (id int PRIMARY KEY, v text)"));
    auto insert = s->prepare("INSERT INTO " + keyspace_ + ".b (id, v) VALUES (?, ?)");
    ASSERT_TRUE(insert.ok());
    std::vector<batch_statement> statements;
    for (int id = 0; id < 50; ++id) statements.emplace_back(*insert, std::vector<value>{value::int32(id), value::text("u")});
    ok(s->batch(batch_kind::unlogged, statements));
    std::vector<batch_statement> mixed;
    mixed.emplace_back(*insert, std::vector<value>{value::int32(100), value::text("prepared")});
    mixed.emplace_back("INSERT INTO " + keyspace_ + ".b (id, v) VALUES (101, 'literal')");
    mixed.emplace_back("INSERT INTO " + keyspace_ + ".b (id, v) VALUES (?, ?)",
                       std::vector<value>{value::int32(102), value::text("bound")});
    mixed.emplace_back("DELETE FROM " + keyspace_ + ".b WHERE id = 0");
    ok(s->batch(batch_kind::logged, mixed));
    auto all = s->query_all("SELECT id, v FROM " + keyspace_ + ".b");
    ASSERT_TRUE(all.ok()) << all.err().message();
    EXPECT_EQ(all->size(), 52u);
    auto one = s->query("SELECT v FROM " + keyspace_ + ".b WHERE id = 102");
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one->size(), 1u);
    EXPECT_EQ(one->at(0, "v").as_text(), "bound");

    std::promise<result<rows>> done;
    s->batch_async(batch_kind::unlogged, {batch_statement(*insert, {value::int32(200), value::text("async")})},
                   [&](result<rows> r) { done.set_value(std::move(r)); });
    ok(done.get_future().get());

    auto bad = s->batch(batch_kind::logged, {batch_statement("INSERT INTO " + keyspace_ + ".missing (id) VALUES (1)")});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(server_error_code(bad.err()), 0x2200) << bad.err().message();
}

TEST_F(session_test, server_errors_carry_code_and_message) {
    auto s = connect();
    ASSERT_TRUE(s);
    auto syntax = s->query("SELEC nonsense");
    ASSERT_FALSE(syntax.ok());
    EXPECT_EQ(server_error_code(syntax.err()), 0x2000) << syntax.err().message();
    EXPECT_NE(syntax.err().message().find(address_), std::string::npos) << syntax.err().message();
    auto missing = s->query("SELECT * FROM no_such_keyspace.t");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(server_error_code(missing.err()), 0x2200) << missing.err().message();
    create_keyspace(*s);
    auto again = s->query("CREATE KEYSPACE " + keyspace_ +
                          " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(server_error_code(again.err()), 0x2400) << again.err().message();
    EXPECT_EQ(again.err().code(), errc::already_exists);
    auto prep = s->prepare("SELECT * FROM " + keyspace_ + ".nope WHERE id = ?");
    ASSERT_FALSE(prep.ok());
    EXPECT_NE(prep.err().message().find("preparing"), std::string::npos);
    // The session keeps working after errors.
    ok(s->query("SELECT release_version FROM system.local"));
}

TEST_F(session_test, prepare_is_cached_and_lz4_compression_works) {
    auto o = options();
    o.compression = "lz4";
    auto s = connect(o);
    ASSERT_TRUE(s);
    create_keyspace(*s);
    ok(s->query("CREATE TABLE " + keyspace_ + ".c (id int PRIMARY KEY, v text)"));
    auto a = s->prepare("INSERT INTO " + keyspace_ + ".c (id, v) VALUES (?, ?)");
    auto b = s->prepare("INSERT INTO " + keyspace_ + ".c (id, v) VALUES (?, ?)");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->get(), b->get());
    std::string big(100000, 'z');
    ok(s->execute(*a, {value::int32(1), value::text(big)}));
    auto r = s->query("SELECT v FROM " + keyspace_ + ".c WHERE id = 1");
    ASSERT_TRUE(r.ok()) << r.err().message();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0, "v").as_text(), big);
}

TEST_F(session_test, reprepares_after_server_restart) {
    if (!restartable()) GTEST_SKIP() << "needs a server the test can restart";
    auto s = connect();
    ASSERT_TRUE(s);
    create_keyspace(*s);
    ok(s->query("CREATE TABLE " + keyspace_ + ".r (id int PRIMARY KEY, v text)"));
    auto insert = s->prepare("INSERT INTO " + keyspace_ + ".r (id, v) VALUES (?, ?)");
    ASSERT_TRUE(insert.ok());
    ok(s->execute(*insert, {value::int32(1), value::text("before")}));
    restart(false);
    // The restarted server has forgotten the statement: the session reconnects,
    // gets UNPREPARED, prepares again and retries.
    ok(s->execute(*insert, {value::int32(2), value::text("after")}));
    ok(s->execute(*insert, {value::int32(3), value::text("after")}));
    EXPECT_GE(s->stats().reprepares, 1u);
    EXPECT_GE(s->stats().reconnects, 1u);
    auto all = s->query_all("SELECT id FROM " + keyspace_ + ".r");
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 3u);
}

TEST_F(session_test, server_killed_mid_stream_requests_retry_on_reconnect) {
    if (!restartable()) GTEST_SKIP() << "needs a server the test can restart";
    auto o = options();
    o.max_retries = 20;
    o.request_timeout = 90s;
    auto s = connect(o);
    ASSERT_TRUE(s);
    create_keyspace(*s);
    ok(s->query("CREATE TABLE " + keyspace_ + ".k (id int PRIMARY KEY, v text)"));
    auto insert = s->prepare("INSERT INTO " + keyspace_ + ".k (id, v) VALUES (?, ?)");
    ASSERT_TRUE(insert.ok());
    constexpr int k_rows = 2000;
    std::atomic<int> remaining{k_rows};
    std::atomic<int> failures{0};
    std::mutex mu;
    std::string first_error;
    std::promise<void> all_done;
    std::atomic<int> issued{0};
    std::thread writer([&] {
        for (int id = 0; id < k_rows; ++id) {
            s->execute_async(*insert, {value::int32(id), value::text("v")}, [&](result<rows> r) {
                if (!r.ok()) {
                    std::lock_guard lock(mu);
                    if (failures++ == 0) first_error = r.err().message();
                }
                if (--remaining == 0) all_done.set_value();
            });
            ++issued;
            if (id % 100 == 0) std::this_thread::yield();
        }
    });
    while (issued < k_rows / 4) std::this_thread::yield();
    restart(true);
    writer.join();
    all_done.get_future().wait();
    EXPECT_EQ(failures.load(), 0) << first_error;
    EXPECT_GE(s->stats().reconnects, 1u);
    auto all = s->query_all("SELECT id FROM " + keyspace_ + ".k");
    ASSERT_TRUE(all.ok()) << all.err().message();
    EXPECT_EQ(all->size(), static_cast<size_t>(k_rows));
}

TEST_F(session_test, close_fails_pending_requests_and_later_ones) {
    auto s = connect();
    ASSERT_TRUE(s);
    s->close();
    auto r = s->query("SELECT release_version FROM system.local");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code(), errc::cancelled);
}

// ---- fake servers ----

// Accepts connections on an ephemeral port and runs `script` for each on its own thread.
class fake_server {
public:
    using script = std::function<void(asio::ip::tcp::socket&)>;
    explicit fake_server(script s)
        : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), script_(std::move(s)) {
        thread_ = std::thread([this] {
            for (;;) {
                asio::ip::tcp::socket socket(io_);
                asio::error_code ec;
                acceptor_.accept(socket, ec);
                if (ec || stopping_) return;
                auto shared = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
                sockets_.push_back(shared);
                workers_.emplace_back([this, shared] {
                    try {
                        script_(*shared);
                    } catch (const std::exception&) {
                    }
                });
            }
        });
    }
    ~fake_server() {
        stopping_ = true;
        asio::error_code ec;
        // Wake the blocking accept with a connection of our own, then close everything.
        asio::ip::tcp::socket poke(io_);
        poke.connect(acceptor_.local_endpoint(), ec);
        thread_.join();
        for (auto& socket : sockets_) {
            socket->shutdown(asio::ip::tcp::socket::shutdown_both, ec);
        }
        for (auto& worker : workers_) worker.join();
    }
    std::string address() const { return fmt::format("127.0.0.1:{}", acceptor_.local_endpoint().port()); }

private:
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    script script_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    std::vector<std::shared_ptr<asio::ip::tcp::socket>> sockets_;
    std::vector<std::thread> workers_;
};

struct frame {
    uint8_t op = 0;
    int16_t stream = 0;
};

frame read_request(asio::ip::tcp::socket& socket) {
    uint8_t header[9];
    asio::read(socket, asio::buffer(header));
    uint32_t length = (uint32_t(header[5]) << 24) | (uint32_t(header[6]) << 16) | (uint32_t(header[7]) << 8) | header[8];
    std::string body(length, '\0');
    if (length) asio::read(socket, asio::buffer(body));
    return {header[4], static_cast<int16_t>((header[2] << 8) | header[3])};
}

void reply(asio::ip::tcp::socket& socket, int16_t stream, uint8_t op, const std::string& body) {
    std::string out;
    out.push_back(static_cast<char>(0x84));
    out.push_back(0);
    out.push_back(static_cast<char>(stream >> 8));
    out.push_back(static_cast<char>(stream & 0xFF));
    out.push_back(static_cast<char>(op));
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((body.size() >> shift) & 0xFF));
    out += body;
    asio::write(socket, asio::buffer(out));
}

// Answers STARTUP with READY, then runs `after`.
fake_server::script ready_then(std::function<void(asio::ip::tcp::socket&)> after) {
    return [after](asio::ip::tcp::socket& socket) {
        frame startup = read_request(socket);
        reply(socket, startup.stream, 0x02, "");
        after(socket);
    };
}

client_options fake_options(const std::string& address) {
    client_options o;
    o.contact_points = {address};
    o.connections_per_host = 1;
    o.connect_timeout = 2s;
    o.request_timeout = 1s;
    o.max_retries = 1;
    o.retry_backoff = 10ms;
    return o;
}

TEST(session_fake_test, garbage_instead_of_a_handshake_is_a_clear_error) {
    fake_server server([](asio::ip::tcp::socket& socket) {
        read_request(socket);
        asio::write(socket, asio::buffer(std::string("HTTP/1.1 400 Bad Request\r\n\r\n")));
    });
    auto s = session::connect(fake_options(server.address()));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.err().code(), errc::corruption);
    EXPECT_NE(s.err().message().find("version byte 0x48"), std::string::npos) << s.err().message();
    EXPECT_NE(s.err().message().find(server.address()), std::string::npos) << s.err().message();
}

TEST(session_fake_test, garbage_answer_to_a_query_fails_that_request) {
    fake_server server(ready_then([](asio::ip::tcp::socket& socket) {
        read_request(socket);
        std::string junk("\x84\x00\x00\x00\x08\x7f\xff\xff\xff", 9);  // a RESULT claiming a 2 GiB body
        asio::write(socket, asio::buffer(junk));
        std::this_thread::sleep_for(100ms);
    }));
    auto s = session::connect(fake_options(server.address()));
    ASSERT_TRUE(s.ok()) << s.err().message();
    auto r = (*s)->query("SELECT 1");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code(), errc::corruption) << r.err().message();
    EXPECT_NE(r.err().message().find("claims a body of 2147483647 bytes"), std::string::npos) << r.err().message();
}

TEST(session_fake_test, answer_on_unknown_stream_is_a_protocol_error) {
    fake_server server(ready_then([](asio::ip::tcp::socket& socket) {
        frame q = read_request(socket);
        reply(socket, static_cast<int16_t>(q.stream + 77), 0x08, std::string("\0\0\0\1", 4));
        std::this_thread::sleep_for(100ms);
    }));
    auto s = session::connect(fake_options(server.address()));
    ASSERT_TRUE(s.ok()) << s.err().message();
    auto r = (*s)->query("SELECT 1");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message().find("which has no request"), std::string::npos) << r.err().message();
}

TEST(session_fake_test, silent_server_times_out_the_request) {
    std::atomic<bool> stop{false};
    fake_server server(ready_then([&](asio::ip::tcp::socket& socket) {
        try {
            for (;;) read_request(socket);  // never answers
        } catch (...) {
        }
    }));
    auto s = session::connect(fake_options(server.address()));
    ASSERT_TRUE(s.ok()) << s.err().message();
    auto r = (*s)->query("SELECT 1", {}, query_options{.timeout = 300ms});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code(), errc::timed_out) << r.err().message();
    EXPECT_NE(r.err().message().find("no answer within 300 ms"), std::string::npos) << r.err().message();
    EXPECT_GE((*s)->stats().timeouts, 1u);
    (*s)->close();
}

TEST(session_fake_test, silent_handshake_times_out_connect) {
    fake_server server([](asio::ip::tcp::socket& socket) {
        try {
            for (;;) read_request(socket);
        } catch (...) {
        }
    });
    auto o = fake_options(server.address());
    o.connect_timeout = 300ms;
    auto s = session::connect(o);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.err().code(), errc::timed_out) << s.err().message();
    EXPECT_NE(s.err().message().find("STARTUP timed out after 300 ms"), std::string::npos) << s.err().message();
}

TEST(session_fake_test, authentication_required_without_credentials) {
    fake_server server([](asio::ip::tcp::socket& socket) {
        frame startup = read_request(socket);
        std::string body;
        std::string name = "org.apache.cassandra.auth.PasswordAuthenticator";
        body.push_back(0);
        body.push_back(static_cast<char>(name.size()));
        body += name;
        reply(socket, startup.stream, 0x03, body);
        std::this_thread::sleep_for(100ms);
    });
    auto s = session::connect(fake_options(server.address()));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.err().message().find("requires authentication (org.apache.cassandra.auth.PasswordAuthenticator)"),
              std::string::npos)
        << s.err().message();
}

TEST(session_fake_test, sasl_plain_credentials_are_sent) {
    std::promise<std::string> token;
    fake_server server([&](asio::ip::tcp::socket& socket) {
        frame startup = read_request(socket);
        std::string name = "org.apache.cassandra.auth.PasswordAuthenticator";
        std::string body;
        body.push_back(0);
        body.push_back(static_cast<char>(name.size()));
        body += name;
        reply(socket, startup.stream, 0x03, body);
        uint8_t header[9];
        asio::read(socket, asio::buffer(header));
        uint32_t length = (uint32_t(header[7]) << 8) | header[8];
        std::string response(length, '\0');
        asio::read(socket, asio::buffer(response));
        token.set_value(response.substr(4));
        reply(socket, static_cast<int16_t>((header[2] << 8) | header[3]), 0x10, std::string("\xff\xff\xff\xff", 4));
        try {
            for (;;) read_request(socket);
        } catch (...) {
        }
    });
    auto o = fake_options(server.address());
    o.username = "cassandra";
    o.password = "secret";
    auto s = session::connect(o);
    ASSERT_TRUE(s.ok()) << s.err().message();
    EXPECT_EQ(token.get_future().get(), std::string("\0cassandra\0secret", 17));
    (*s)->close();
}

TEST(session_fake_test, nothing_listening_names_the_address) {
    std::string address;
    {
        asio::io_context io;
        asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        address = fmt::format("127.0.0.1:{}", a.local_endpoint().port());
    }
    auto s = session::connect(fake_options(address));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.err().code(), errc::unavailable) << s.err().message();
    EXPECT_NE(s.err().message().find(address), std::string::npos) << s.err().message();
}

TEST(session_fake_test, bad_options_are_refused) {
    auto o = fake_options("127.0.0.1:99999");
    auto s = session::connect(o);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.err().message().find("99999"), std::string::npos);
    EXPECT_FALSE(session::connect(client_options{}).ok());
}

}  // namespace
}  // namespace millrace::cql_client
