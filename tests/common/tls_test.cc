// tls.h (generated certificate material: SANs, modes, reuse, renewal) and
// stream.h (TLS and plain streams through net::tcp_server, on ephemeral ports).
#include "millrace/common/tls.h"

#include <filesystem>
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "harness/process.h"
#include "millrace/common/net.h"
#include "millrace/common/stream.h"

namespace millrace::tls {
namespace {

using millrace::testing::temp_dir;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

// Re-signs `cert_path` with `key_path` after moving its notAfter `seconds`
// from now (an expired certificate for the renewal test).
void set_not_after(const std::string& cert_path, const std::string& key_path, long seconds) {
    FILE* cf = std::fopen(cert_path.c_str(), "r");
    ASSERT_NE(cf, nullptr);
    X509* cert = PEM_read_X509(cf, nullptr, nullptr, nullptr);
    std::fclose(cf);
    FILE* kf = std::fopen(key_path.c_str(), "r");
    ASSERT_NE(kf, nullptr);
    EVP_PKEY* key = PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr);
    std::fclose(kf);
    ASSERT_NE(cert, nullptr);
    ASSERT_NE(key, nullptr);
    X509_gmtime_adj(X509_getm_notBefore(cert), seconds - 7200);
    X509_gmtime_adj(X509_getm_notAfter(cert), seconds);
    // The CA's key signs server.pem; for the test any key of the right
    // kind keeps the file loadable: the check under test is the date.
    X509_sign(cert, key, EVP_sha256());
    FILE* out = std::fopen(cert_path.c_str(), "w");
    PEM_write_X509(out, cert);
    std::fclose(out);
    X509_free(cert);
    EVP_PKEY_free(key);
}

class tls_material_test : public ::testing::Test {
protected:
    temp_dir dir_;
    settings settings_{"", "", "", dir_.path() + "/tls", {"broker.example.test", "10.11.12.13", "0.0.0.0", ""}};
};

TEST_F(tls_material_test, generates_ca_and_server_certificate_with_every_name) {
    auto m = ensure_material(settings_);
    ASSERT_TRUE(m) << m.err().message();
    EXPECT_EQ(m->action, "generated");
    EXPECT_EQ(m->ca_path, settings_.dir + "/ca.pem");
    EXPECT_EQ(m->cert_path, settings_.dir + "/server.pem");
    EXPECT_EQ(m->key_path, settings_.dir + "/server.key");
    auto names = certificate_names(m->cert_path);
    ASSERT_TRUE(names) << names.err().message();
    for (const char* wanted : {"DNS:localhost", "IP:127.0.0.1", "IP:::1", "DNS:broker.example.test", "IP:10.11.12.13"}) {
        EXPECT_TRUE(has(*names, wanted)) << wanted;
    }
    char host[256] = {};
    ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
    EXPECT_TRUE(has(*names, std::string("DNS:") + host) || has(*names, std::string("IP:") + host));
    EXPECT_FALSE(has(*names, "IP:0.0.0.0")) << "a wildcard bind is no name";
    for (const char* file : {"ca.pem", "ca.key", "server.pem", "server.key"}) {
        EXPECT_EQ(mode_of(settings_.dir + "/" + file), 0600u) << file;
    }
    EXPECT_EQ(mode_of(settings_.dir), 0700u);
    EXPECT_TRUE(make_server_context(*m)) << "the generated pair loads";
    EXPECT_TRUE(make_client_context(m->ca_path));
    // No temp files left behind.
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(settings_.dir)) ++entries;
    EXPECT_EQ(entries, 4u);
}

TEST_F(tls_material_test, second_start_reuses_the_files) {
    auto first = ensure_material(settings_);
    ASSERT_TRUE(first) << first.err().message();
    std::string ca = slurp(first->ca_path), cert = slurp(first->cert_path), key = slurp(first->key_path);
    auto second = ensure_material(settings_);
    ASSERT_TRUE(second) << second.err().message();
    EXPECT_EQ(second->action, "reused");
    EXPECT_EQ(slurp(second->ca_path), ca);
    EXPECT_EQ(slurp(second->cert_path), cert);
    EXPECT_EQ(slurp(second->key_path), key);
}

TEST_F(tls_material_test, a_new_listener_host_reissues_the_server_certificate_under_the_same_ca) {
    auto first = ensure_material(settings_);
    ASSERT_TRUE(first) << first.err().message();
    std::string ca = slurp(first->ca_path), cert = slurp(first->cert_path);
    settings_.hosts.push_back("cql.example.test");
    auto second = ensure_material(settings_);
    ASSERT_TRUE(second) << second.err().message();
    EXPECT_EQ(second->action, "renewed");
    EXPECT_EQ(slurp(second->ca_path), ca) << "clients keep trusting the same CA";
    EXPECT_NE(slurp(second->cert_path), cert);
    auto names = certificate_names(second->cert_path);
    ASSERT_TRUE(names);
    EXPECT_TRUE(has(*names, "DNS:cql.example.test"));
    EXPECT_TRUE(has(*names, "DNS:broker.example.test"));
}

TEST_F(tls_material_test, an_expired_server_certificate_is_reissued) {
    auto first = ensure_material(settings_);
    ASSERT_TRUE(first) << first.err().message();
    set_not_after(first->cert_path, settings_.dir + "/ca.key", -3600);
    auto second = ensure_material(settings_);
    ASSERT_TRUE(second) << second.err().message();
    EXPECT_EQ(second->action, "renewed");
    EXPECT_TRUE(make_server_context(*second));
}

TEST_F(tls_material_test, a_server_certificate_not_signed_by_the_ca_is_reissued) {
    auto first = ensure_material(settings_);
    ASSERT_TRUE(first) << first.err().message();
    // Self-signed with its own key: still valid dates and names, wrong issuer.
    set_not_after(first->cert_path, first->key_path, 3600 * 24 * 365);
    auto second = ensure_material(settings_);
    ASSERT_TRUE(second) << second.err().message();
    EXPECT_EQ(second->action, "renewed");
}

TEST_F(tls_material_test, a_missing_ca_key_regenerates_everything) {
    auto first = ensure_material(settings_);
    ASSERT_TRUE(first) << first.err().message();
    std::string ca = slurp(first->ca_path);
    ASSERT_EQ(::unlink((settings_.dir + "/ca.key").c_str()), 0);
    auto second = ensure_material(settings_);
    ASSERT_TRUE(second) << second.err().message();
    EXPECT_EQ(second->action, "generated");
    EXPECT_NE(slurp(second->ca_path), ca);
    EXPECT_EQ(mode_of(settings_.dir + "/ca.key"), 0600u);
}

TEST_F(tls_material_test, a_symlinked_key_file_is_replaced_not_followed) {
    auto first = ensure_material(settings_);
    ASSERT_TRUE(first) << first.err().message();
    std::string victim = dir_.path() + "/victim";
    { std::ofstream(victim) << "precious\n"; }
    ASSERT_EQ(::unlink(first->key_path.c_str()), 0);
    ASSERT_EQ(::symlink(victim.c_str(), first->key_path.c_str()), 0);
    auto second = ensure_material(settings_);
    ASSERT_TRUE(second) << second.err().message();
    EXPECT_EQ(slurp(victim), "precious\n") << "the symlink's target is never written";
    struct stat st {};
    ASSERT_EQ(::lstat(first->key_path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(tls_material_test, configured_paths_are_used_as_given) {
    auto generated = ensure_material(settings_);
    ASSERT_TRUE(generated);
    settings configured{generated->cert_path, generated->key_path, generated->ca_path, dir_.path() + "/unused", {}};
    auto m = ensure_material(configured);
    ASSERT_TRUE(m) << m.err().message();
    EXPECT_EQ(m->action, "configured");
    EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/unused"));
}

TEST_F(tls_material_test, configured_errors_name_the_key_or_file) {
    settings only_cert{"/nonexistent/cert.pem", "", "", "", {}};
    auto m = ensure_material(only_cert);
    ASSERT_FALSE(m);
    EXPECT_NE(m.err().message().find("security.tls_key"), std::string::npos) << m.err().message();
    settings missing{"/nonexistent/cert.pem", "/nonexistent/key.pem", "", "", {}};
    m = ensure_material(missing);
    ASSERT_FALSE(m);
    EXPECT_NE(m.err().message().find("/nonexistent/cert.pem"), std::string::npos) << m.err().message();
}

TEST_F(tls_material_test, a_key_that_does_not_match_is_refused_by_the_server_context) {
    auto m = ensure_material(settings_);
    ASSERT_TRUE(m);
    material wrong = *m;
    wrong.key_path = settings_.dir + "/ca.key";
    auto ctx = make_server_context(wrong);
    ASSERT_FALSE(ctx);
    EXPECT_NE(ctx.err().message().find(wrong.key_path), std::string::npos) << ctx.err().message();
    EXPECT_NE(ctx.err().message().find("mismatch"), std::string::npos) << ctx.err().message();
}

// ---- net::stream through net::tcp_server ----

// An echo server: every byte read is written back until the peer closes.
class stream_test : public ::testing::Test {
protected:
    void SetUp() override {
        auto m = ensure_material(settings{"", "", "", dir_.path() + "/tls", {}});
        ASSERT_TRUE(m) << m.err().message();
        files_ = *m;
        server_context_ = make_server_context(files_).value();
    }

    void start(bool tls) {
        if (tls) server_.set_tls(server_context_);
        else server_.set_tls(nullptr);
        auto ep = server_.start("127.0.0.1", 0);
        ASSERT_TRUE(ep) << ep.err().message();
        port_ = ep->port;
    }

    static asio::awaitable<void> echo(net::stream& s) {
        char buf[1024];
        for (;;) {
            std::error_code ec;
            size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            co_await asio::async_write(s, asio::buffer(buf, n), asio::use_awaitable);
        }
    }

    // Runs `body` as a client coroutine against the server until it finishes.
    void run_client(std::function<asio::awaitable<void>()> body) {
        bool done = false;
        asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
            co_await body();
            done = true;
        }, [&](std::exception_ptr e) {
            done = true;
            if (e) std::rethrow_exception(e);
        });
        for (int round = 0; round < 200 && !done; ++round) io_.run_for(std::chrono::milliseconds(50));
        ASSERT_TRUE(done) << "client did not finish";
    }

    asio::awaitable<std::unique_ptr<net::stream>> connect(asio::ssl::context* ctx) {
        asio::ip::tcp::socket socket(io_);
        co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port_}, asio::use_awaitable);
        if (ctx == nullptr) co_return std::make_unique<net::stream>(std::move(socket));
        co_return std::make_unique<net::stream>(std::move(socket), *ctx);
    }

    temp_dir dir_;
    material files_;
    std::shared_ptr<asio::ssl::context> server_context_;
    asio::io_context io_;
    net::tcp_server server_{io_, "echo", [](net::stream& s) { return echo(s); }};
    uint16_t port_ = 0;
};

TEST_F(stream_test, tls_echo_with_the_generated_ca) {
    start(true);
    auto client_ctx = make_client_context(files_.ca_path).value();
    std::string got;
    std::error_code handshake;
    run_client([&]() -> asio::awaitable<void> {
        auto s = co_await connect(client_ctx.get());
        EXPECT_FALSE(s->set_verify_host("localhost"));
        handshake = co_await s->handshake(asio::ssl::stream_base::client, std::chrono::seconds(10));
        if (handshake) co_return;
        std::string message = "hello over TLS";
        co_await asio::async_write(*s, asio::buffer(message), asio::use_awaitable);
        got.resize(message.size());
        co_await asio::async_read(*s, asio::buffer(got), asio::use_awaitable);
        EXPECT_TRUE(s->is_tls());
        s->close();
    });
    EXPECT_FALSE(handshake) << net::describe_tls_error(handshake);
    EXPECT_EQ(got, "hello over TLS");
    server_.stop();
    io_.run_for(std::chrono::milliseconds(100));
}

TEST_F(stream_test, a_client_that_does_not_trust_the_ca_fails_verification) {
    start(true);
    temp_dir other;
    auto foreign = ensure_material(settings{"", "", "", other.path() + "/tls", {}});
    ASSERT_TRUE(foreign);
    auto client_ctx = make_client_context(foreign->ca_path).value();
    std::error_code handshake;
    run_client([&]() -> asio::awaitable<void> {
        auto s = co_await connect(client_ctx.get());
        (void)s->set_verify_host("localhost");
        handshake = co_await s->handshake(asio::ssl::stream_base::client, std::chrono::seconds(10));
    });
    ASSERT_TRUE(handshake);
    EXPECT_NE(net::describe_tls_error(handshake).find("certificate verify failed"), std::string::npos)
        << net::describe_tls_error(handshake);
}

TEST_F(stream_test, a_wrong_host_name_fails_verification) {
    start(true);
    auto client_ctx = make_client_context(files_.ca_path).value();
    std::error_code handshake;
    run_client([&]() -> asio::awaitable<void> {
        auto s = co_await connect(client_ctx.get());
        (void)s->set_verify_host("not-this-server.example.test");
        handshake = co_await s->handshake(asio::ssl::stream_base::client, std::chrono::seconds(10));
    });
    EXPECT_TRUE(handshake);
}

TEST_F(stream_test, a_plaintext_client_is_refused_and_the_server_keeps_serving) {
    start(true);
    std::error_code read_error;
    size_t read_bytes = 0;
    run_client([&]() -> asio::awaitable<void> {
        auto s = co_await connect(nullptr);
        // A Kafka ApiVersions request, as a plaintext client would send it.
        const char request[] = "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00";
        co_await asio::async_write(*s, asio::buffer(request, sizeof(request) - 1), asio::use_awaitable);
        char buf[256];
        for (;;) {
            size_t n = co_await s->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, read_error));
            if (read_error) break;
            read_bytes += n;  // at most a TLS alert
        }
    });
    EXPECT_TRUE(read_error == asio::error::eof || read_error == asio::error::connection_reset) << read_error.message();
    EXPECT_LT(read_bytes, 64u) << "no echo of the plaintext";
    // The listener still serves TLS clients.
    auto client_ctx = make_client_context(files_.ca_path).value();
    std::string got;
    run_client([&]() -> asio::awaitable<void> {
        auto s = co_await connect(client_ctx.get());
        (void)s->set_verify_host("127.0.0.1");
        auto ec = co_await s->handshake(asio::ssl::stream_base::client, std::chrono::seconds(10));
        EXPECT_FALSE(ec) << net::describe_tls_error(ec);
        if (ec) co_return;
        co_await asio::async_write(*s, asio::buffer(std::string("again")), asio::use_awaitable);
        got.resize(5);
        co_await asio::async_read(*s, asio::buffer(got), asio::use_awaitable);
    });
    EXPECT_EQ(got, "again");
}

TEST_F(stream_test, plain_listener_echoes_plain_bytes) {
    start(false);
    std::string got;
    run_client([&]() -> asio::awaitable<void> {
        auto s = co_await connect(nullptr);
        auto ec = co_await s->handshake(asio::ssl::stream_base::client, std::chrono::seconds(1));
        EXPECT_FALSE(ec) << "a plain stream's handshake is a no-op";
        EXPECT_FALSE(s->is_tls());
        co_await asio::async_write(*s, asio::buffer(std::string("plain")), asio::use_awaitable);
        got.resize(5);
        co_await asio::async_read(*s, asio::buffer(got), asio::use_awaitable);
    });
    EXPECT_EQ(got, "plain");
}

TEST_F(stream_test, a_client_that_never_handshakes_times_out_on_its_own_side) {
    // The client-side deadline: a server that accepts but never answers.
    asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
    port_ = silent.local_endpoint().port();
    auto client_ctx = make_client_context(files_.ca_path).value();
    std::error_code handshake;
    run_client([&]() -> asio::awaitable<void> {
        auto s = co_await connect(client_ctx.get());
        handshake = co_await s->handshake(asio::ssl::stream_base::client, std::chrono::milliseconds(200));
    });
    EXPECT_EQ(handshake, asio::error::timed_out);
}

}  // namespace
}  // namespace millrace::tls
