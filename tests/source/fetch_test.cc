#include "millrace/source/fetcher.h"

#include <atomic>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "api.h"
#include "harness/process.h"
#include "pg_fixture.h"

namespace millrace::source {
namespace {

class fetch_test : public pg_fixture {
protected:
    void SetUp() override {
        pg_fixture::SetUp();
        if (HasFatalFailure()) return;
        writer_ = std::make_unique<pg_writer>(dsn(), raw_storage::json);
        auto st = writer_->migrate();
        ASSERT_TRUE(st.ok()) << st.err().message();
        api_.add_routes(http_.server());
        options_.url = "http://" + http_.start() + "/api/";
        options_.seed = "fetch-test";
        options_.backoff_ms = 5;
        options_.backoff_max_ms = 50;
        options_.timeout_ms = 10'000;
    }
    void TearDown() override {
        writer_.reset();
        pg_fixture::TearDown();
    }
    int64_t rows() {
        auto n = writer_->count_users();
        EXPECT_TRUE(n.ok()) << n.err().message();
        return n.ok() ? *n : -1;
    }

    millrace::manual_clock clock_;
    metrics::registry registry_;
    api api_{clock_, registry_};
    http_thread http_;
    fetch_options options_;
    std::unique_ptr<pg_writer> writer_;
};

TEST_F(fetch_test, ten_thousand_users_land_exactly_and_refetch_adds_none) {
    options_.count = 10'000;
    options_.batch_size = 1000;
    auto first = run_fetch(options_, *writer_);
    ASSERT_TRUE(first.ok()) << first.err().message();
    EXPECT_EQ(first->fetched, 10'000);
    EXPECT_EQ(first->stored, 10'000);
    EXPECT_EQ(first->duplicates, 0);
    EXPECT_EQ(rows(), 10'000);

    auto again = run_fetch(options_, *writer_);
    ASSERT_TRUE(again.ok()) << again.err().message();
    EXPECT_EQ(again->stored, 0);
    EXPECT_EQ(again->duplicates, 10'000);
    EXPECT_EQ(rows(), 10'000);
}

TEST_F(fetch_test, should_stop_ends_the_fetch_between_batches_keeping_what_was_stored) {
    options_.count = 1000;
    options_.batch_size = 100;
    fetch_hooks hooks;
    int batches = 0;
    hooks.on_progress = [&](const fetch_summary&) { ++batches; };
    hooks.should_stop = [&]() -> std::optional<std::string> {
        if (batches < 3) return std::nullopt;
        return std::string("execution_timeout of 5 ms exceeded");
    };
    auto summary = run_fetch(options_, *writer_, hooks);
    ASSERT_FALSE(summary.ok());
    EXPECT_EQ(summary.err().code(), errc::cancelled);
    EXPECT_EQ(summary.err().message(), "fetch stopped: execution_timeout of 5 ms exceeded; 300 users stored before it");
    EXPECT_EQ(rows(), 300);
}

TEST_F(fetch_test, server_answering_500_twice_is_retried_to_success) {
    http_thread flaky;
    std::atomic<int> calls{0};
    flaky.server().route("GET", "/api/", [&](const http::request& req) {
        if (calls.fetch_add(1) < 2) return http::response::text(500, "try later");
        return api_.handle(req);
    });
    options_.url = "http://" + flaky.start() + "/api/";
    options_.count = 300;
    options_.batch_size = 300;
    auto summary = run_fetch(options_, *writer_);
    ASSERT_TRUE(summary.ok()) << summary.err().message();
    EXPECT_EQ(summary->http_retries, 2);
    EXPECT_EQ(summary->stored, 300);
    EXPECT_EQ(calls.load(), 3);
    EXPECT_EQ(rows(), 300);
}

TEST_F(fetch_test, too_many_failures_is_a_clear_error) {
    http_thread broken;
    broken.server().route("GET", "/api/", [](const http::request&) { return http::response::text(503, "down"); });
    options_.url = "http://" + broken.start() + "/api/";
    options_.count = 10;
    options_.max_retries = 2;
    auto summary = run_fetch(options_, *writer_);
    ASSERT_FALSE(summary.ok());
    EXPECT_NE(summary.err().message().find("after 3 attempts: HTTP 503"), std::string::npos) << summary.err().message();
}

TEST_F(fetch_test, pages_fetched_before_an_http_failure_are_stored_and_counted_in_the_error) {
    // Pages 1..3 answer, then every call fails: the fetching thread stops at
    // page 4 while the storing one still has pages queued; all three land.
    http_thread failing_later;
    failing_later.server().route("GET", "/api/", [&](const http::request& req) {
        for (const auto& [name, value] : req.query) {
            if (name == "page" && value == "4") return http::response::text(503, "down");
        }
        return api_.handle(req);
    });
    options_.url = "http://" + failing_later.start() + "/api/";
    options_.count = 1000;
    options_.batch_size = 200;
    options_.max_retries = 1;
    auto summary = run_fetch(options_, *writer_);
    ASSERT_FALSE(summary.ok());
    EXPECT_EQ(summary.err().code(), errc::unavailable);
    EXPECT_NE(summary.err().message().find("page=4 failed after 2 attempts: HTTP 503; 600 users stored before it"),
              std::string::npos)
        << summary.err().message();
    EXPECT_EQ(rows(), 600);
}

TEST_F(fetch_test, should_stop_while_the_fetching_side_waits_ends_promptly) {
    // A rate limit of one call per 10 s: the fetching thread sleeps between
    // pages and must be woken when the run is stopped.
    options_.count = 300;
    options_.batch_size = 100;
    options_.rate_limit = 0.1;
    fetch_hooks hooks;
    int batches = 0;
    hooks.on_progress = [&](const fetch_summary&) { ++batches; };
    hooks.should_stop = [&]() -> std::optional<std::string> {
        if (batches < 1) return std::nullopt;
        return std::string("the scheduler is stopping");
    };
    auto summary = run_fetch(options_, *writer_, hooks);
    ASSERT_FALSE(summary.ok());
    EXPECT_EQ(summary.err().code(), errc::cancelled);
    EXPECT_EQ(summary.err().message(), "fetch stopped: the scheduler is stopping; 100 users stored before it");
    EXPECT_EQ(rows(), 100);
}

TEST_F(fetch_test, postgres_stopped_mid_run_is_retried_and_resumes) {
    options_.count = 5000;
    options_.batch_size = 500;
    options_.store_retry_ms = 60'000;
    int batches = 0;
    std::vector<std::string> store_errors;
    fetch_hooks hooks;
    hooks.on_progress = [&](const fetch_summary&) {
        if (++batches == 2) stop_postgres();
    };
    hooks.on_store_error = [&](const error& err) {
        store_errors.push_back(err.message());
        if (store_errors.size() == 2) start_postgres();  // back after a few failed attempts
    };
    auto summary = run_fetch(options_, *writer_, hooks);
    ASSERT_TRUE(summary.ok()) << summary.err().message();
    ASSERT_GE(store_errors.size(), 2u);
    EXPECT_NE(store_errors.front().find("PostgreSQL unavailable"), std::string::npos) << store_errors.front();
    EXPECT_EQ(summary->stored, 5000);
    EXPECT_EQ(rows(), 5000);
}

TEST_F(fetch_test, postgres_down_fails_clearly_without_a_partial_batch) {
    options_.count = 5000;
    options_.batch_size = 500;
    options_.store_retry_ms = 0;
    int batches = 0;
    fetch_hooks hooks;
    hooks.on_progress = [&](const fetch_summary&) {
        if (++batches == 2) stop_postgres();
    };
    auto summary = run_fetch(options_, *writer_, hooks);
    ASSERT_FALSE(summary.ok());
    EXPECT_EQ(summary.err().code(), errc::unavailable);
    EXPECT_NE(summary.err().message().find("storing page 3 (500 users) failed: PostgreSQL unavailable"), std::string::npos)
        << summary.err().message();
    EXPECT_NE(summary.err().message().find("1000 users stored before it"), std::string::npos) << summary.err().message();

    start_postgres();
    EXPECT_EQ(rows(), 1000);  // the failed batch left nothing behind
    auto resumed = run_fetch(options_, *writer_);
    ASSERT_TRUE(resumed.ok()) << resumed.err().message();
    EXPECT_EQ(resumed->stored, 4000);
    EXPECT_EQ(resumed->duplicates, 1000);
    EXPECT_EQ(rows(), 5000);
}

TEST_F(fetch_test, migrations_are_applied_once) {
    ASSERT_TRUE(writer_->migrate().ok());  // SetUp migrated already: nothing to do again
    PGconn* conn = PQconnectdb(dsn().c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    PGresult* res = PQexec(conn, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations");
    ASSERT_EQ(PQresultStatus(res), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    EXPECT_STREQ(PQgetvalue(res, 0, 0), "1");
    PQclear(res);
    res = PQexec(conn, "SELECT data_type FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'raw'");
    ASSERT_EQ(PQresultStatus(res), PGRES_TUPLES_OK);
    EXPECT_STREQ(PQgetvalue(res, 0, 0), "json");
    PQclear(res);
    PQfinish(conn);
}

TEST_F(fetch_test, rate_limit_spaces_the_calls) {
    options_.count = 50;
    options_.batch_size = 10;  // five calls
    options_.rate_limit = 20;  // one call per 50 ms
    auto summary = run_fetch(options_, *writer_);
    ASSERT_TRUE(summary.ok()) << summary.err().message();
    EXPECT_EQ(summary->stored, 50);
    EXPECT_GE(summary->seconds, 0.2);  // four gaps of 50 ms at least
}

TEST_F(fetch_test, raw_document_is_stored) {
    options_.count = 20;
    options_.batch_size = 20;
    auto summary = run_fetch(options_, *writer_);
    ASSERT_TRUE(summary.ok()) << summary.err().message();
    // Each row keeps its own user's document (PostgreSQL validated it: the column is json).
    PGconn* conn = PQconnectdb(dsn().c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    PGresult* res = PQexec(conn, "SELECT count(*) FROM users WHERE raw->'login'->>'uuid' = id::text "
                                 "AND raw->>'email' = email AND address LIKE (raw->'location'->'street'->>'number') || ' %'");
    ASSERT_EQ(PQresultStatus(res), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    EXPECT_STREQ(PQgetvalue(res, 0, 0), "20");
    PQclear(res);
    PQfinish(conn);
}

TEST_F(fetch_test, external_dsn_with_logical_wal_level_is_accepted) {
    postgres_options external;
    external.dsn = dsn();
    postgres_server server(external);
    auto st = server.start();
    EXPECT_TRUE(st.ok()) << st.err().message();
}

TEST(parse_users_test, user_missing_a_field_is_skipped) {
    std::string body =
        R"({"results":[{"gender":"male","name":{"title":"Mr","first":"A","last":"B"},"location":{"street":{"number":1,"name":"S"},)"
        R"("city":"C","state":"D","country":"E","postcode":123},"email":"a@b","login":{"uuid":"7a0eed16-9430-4d68-901f-c0d4c1c3bf00",)"
        R"("username":"u"},"dob":{"date":"1990-01-01T00:00:00.000Z"},"registered":{"date":"2010-01-01T00:00:00.000Z"},)"
        R"("phone":"1","picture":{"medium":"m"},"nat":"US"},{"gender":"female"}]})";
    int64_t errors = 0;
    auto rows = parse_users(body, true, errors);
    ASSERT_TRUE(rows.ok()) << rows.err().message();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(errors, 1);
    EXPECT_EQ((*rows)[0].address, "1 S, C, D, E");
    EXPECT_EQ((*rows)[0].post_code, "123");
    EXPECT_EQ((*rows)[0].raw.substr(0, 19), R"({"gender":"male","n)");
}

TEST(parse_users_test, body_that_is_not_json_is_an_error) {
    int64_t errors = 0;
    auto rows = parse_users("<html>", false, errors);
    ASSERT_FALSE(rows.ok());
    EXPECT_NE(rows.err().message().find("not JSON"), std::string::npos);
}

TEST(parse_users_test, error_document_is_reported) {
    int64_t errors = 0;
    auto rows = parse_users(R"({"error":"Uh oh, something has gone wrong."})", false, errors);
    ASSERT_FALSE(rows.ok());
    EXPECT_NE(rows.err().message().find("Uh oh"), std::string::npos);
}

}  // namespace
}  // namespace millrace::source
