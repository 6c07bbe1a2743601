// The C++ CQL client with credentials (SASL PLAIN against the roles of a real
// `millrace cql` with cql.authenticator=password) and TLS verified against a
// CA (client_options::tls_ca). Until the server's own TLS listener lands, TLS
// is terminated by a small OpenSSL front in this test (a real TLS server that
// forwards bytes to the real CQL server); certificates are made with the
// openssl command line in a temporary directory.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include "harness/process.h"
#include "millrace/cql_client/client.h"

namespace millrace::cql_client {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
using testing::start_server;
using testing::temp_dir;

void run(const std::string& command) {
    int rc = std::system((command + " >/dev/null 2>&1").c_str());
    ASSERT_EQ(rc, 0) << command;
}

// ca.pem/ca.key; server.pem/server.key for IP 127.0.0.1 signed by it;
// other.pem/other.key for DNS elsewhere.example signed by it; rogue_ca.pem unrelated.
void make_pki(const temp_dir& dir) {
    auto f = [&](const char* name) { return dir.file(name); };
    run(fmt::format("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout {} -out {}", f("ca.key"), f("ca.pem")));
    run(fmt::format("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue-ca -keyout {} -out {}", f("rogue.key"),
                    f("rogue_ca.pem")));
    for (auto [name, san] : {std::pair{"server", "IP:127.0.0.1"}, std::pair{"other", "DNS:elsewhere.example"}}) {
        std::string key = dir.file(std::string(name) + ".key"), csr = dir.file(std::string(name) + ".csr"),
                    pem = dir.file(std::string(name) + ".pem"), ext = dir.file(std::string(name) + ".ext");
        std::ofstream(ext) << "subjectAltName=" << san << "\n";
        run(fmt::format("openssl req -newkey rsa:2048 -nodes -subj /CN={} -keyout {} -out {}", name, key, csr));
        run(fmt::format("openssl x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -days 2 -extfile {} -out {}", csr, f("ca.pem"),
                        f("ca.key"), ext, pem));
    }
}

// Terminates TLS with `cert`/`key` and forwards each connection to `upstream`.
class tls_front {
public:
    tls_front(const std::string& cert, const std::string& key, const std::string& upstream)
        : ssl_(asio::ssl::context::tls_server), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        ssl_.use_certificate_chain_file(cert);
        ssl_.use_private_key_file(key, asio::ssl::context::pem);
        auto colon = upstream.rfind(':');
        upstream_ = tcp::endpoint(asio::ip::make_address(upstream.substr(0, colon)),
                                  static_cast<uint16_t>(std::stoi(upstream.substr(colon + 1))));
        asio::co_spawn(io_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~tls_front() {
        io_.stop();
        thread_.join();
    }
    std::string address() const { return fmt::format("127.0.0.1:{}", acceptor_.local_endpoint().port()); }

private:
    using tls_socket = asio::ssl::stream<tcp::socket>;

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
            asio::co_spawn(io_, serve(std::make_shared<tls_socket>(std::move(socket), ssl_)), asio::detached);
        }
    }

    template <typename From, typename To>
    static asio::awaitable<void> pump(std::shared_ptr<From> from, std::shared_ptr<To> to) {
        char buf[16384];
        try {
            for (;;) {
                size_t n = co_await from->async_read_some(asio::buffer(buf), asio::use_awaitable);
                co_await asio::async_write(*to, asio::buffer(buf, n), asio::use_awaitable);
            }
        } catch (const std::exception&) {
            asio::error_code ignored;
            from->lowest_layer().close(ignored);
            to->lowest_layer().close(ignored);
        }
    }

    asio::awaitable<void> serve(std::shared_ptr<tls_socket> client) {
        try {
            co_await client->async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
            auto server = std::make_shared<tcp::socket>(io_);
            co_await server->async_connect(upstream_, asio::use_awaitable);
            asio::co_spawn(io_, pump(client, server), asio::detached);
            asio::co_spawn(io_, pump(server, client), asio::detached);
        } catch (const std::exception&) {
        }
    }

    asio::io_context io_;
    asio::ssl::context ssl_;
    tcp::acceptor acceptor_;
    tcp::endpoint upstream_;
    std::thread thread_;
};

class tls_auth_test : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(make_pki(pki_));
        server_ = start_server("cql", dir_.file("data"),
                               {"--set", "cql.authenticator=password", "--set", "cql.username=app", "--set", "cql.password=app-pw"});
        ASSERT_TRUE(server_.proc);
    }
    void TearDown() override {
        if (server_.proc) {
            EXPECT_EQ(server_.proc->stop(SIGTERM), 0) << server_.proc->stderr_text();
        }
    }

    client_options options(const std::string& address) {
        client_options o;
        o.contact_points = {address};
        o.username = "app";
        o.password = "app-pw";
        o.tls_ca = pki_.file("ca.pem");
        o.connect_timeout = 20s;
        o.request_timeout = 30s;
        o.max_retries = 0;
        return o;
    }

    temp_dir pki_, dir_;
    testing::server server_;
};

TEST_F(tls_auth_test, tls_and_credentials_reach_the_server) {
    tls_front front(pki_.file("server.pem"), pki_.file("server.key"), server_.address);
    auto s = session::connect(options(front.address()));
    ASSERT_TRUE(s.ok()) << s.err().message();
    auto r = (*s)->query("SELECT role, is_superuser FROM system_auth.roles");
    ASSERT_TRUE(r.ok()) << r.err().message();
    ASSERT_EQ(r->data.size(), 1u);
    EXPECT_EQ(r->at(0, "role").as_text(), "app");
    // A role created over the TLS session logs in too; its missing grant is Unauthorized (0x2100).
    auto created = (*s)->query("CREATE ROLE viewer WITH PASSWORD = 'v' AND LOGIN = true");
    ASSERT_TRUE(created.ok()) << created.err().message();
    auto o = options(front.address());
    o.username = "viewer";
    o.password = "v";
    auto viewer = session::connect(o);
    ASSERT_TRUE(viewer.ok()) << viewer.err().message();
    auto refused = (*viewer)->query("SELECT * FROM system_auth.roles");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(server_error_code(refused.err()), 0x2100) << refused.err().message();
    EXPECT_NE(refused.err().message().find("User viewer has no SELECT permission on <table system_auth.roles>"), std::string::npos)
        << refused.err().message();
    (*viewer)->close();
    (*s)->close();
}

TEST_F(tls_auth_test, wrong_password_is_refused) {
    auto o = options(server_.address);
    o.tls_ca.clear();  // plaintext straight to the server
    o.password = "nope";
    auto s = session::connect(o);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.err().message().find("Provided username app and/or password are incorrect"), std::string::npos) << s.err().message();
    o.password = "app-pw";
    auto good = session::connect(o);
    ASSERT_TRUE(good.ok()) << good.err().message();
    (*good)->close();
}

TEST_F(tls_auth_test, certificate_from_another_ca_is_refused) {
    tls_front front(pki_.file("server.pem"), pki_.file("server.key"), server_.address);
    auto o = options(front.address());
    o.tls_ca = pki_.file("rogue_ca.pem");
    auto s = session::connect(o);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.err().code(), errc::invalid_argument) << s.err().message();
    EXPECT_NE(s.err().message().find("TLS handshake failed"), std::string::npos) << s.err().message();
    EXPECT_NE(s.err().message().find("certificate verify failed"), std::string::npos) << s.err().message();
}

TEST_F(tls_auth_test, certificate_for_another_host_is_refused) {
    tls_front front(pki_.file("other.pem"), pki_.file("other.key"), server_.address);
    auto s = session::connect(options(front.address()));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.err().message().find("TLS handshake failed"), std::string::npos) << s.err().message();
}

TEST_F(tls_auth_test, plaintext_server_with_tls_configured_fails_clearly) {
    auto s = session::connect(options(server_.address));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.err().message().find("TLS handshake failed"), std::string::npos) << s.err().message();
}

TEST_F(tls_auth_test, unreadable_ca_file_is_named) {
    auto o = options(server_.address);
    o.tls_ca = pki_.file("missing.pem");
    auto s = session::connect(o);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.err().code(), errc::invalid_argument);
    EXPECT_NE(s.err().message().find(pki_.file("missing.pem")), std::string::npos) << s.err().message();
}

}  // namespace
}  // namespace millrace::cql_client
