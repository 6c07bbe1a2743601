// `millrace cdc` end to end: a real PostgreSQL (pg_fixture), the real millrace
// broker and the real cdc binary as processes, and a librdkafka consumer that
// reads what arrived in the topic.
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "../source/pg_fixture.h"
#include "harness/process.h"
#include "json.h"
#include "millrace/source/pg_writer.h"

namespace millrace::cdc {
namespace {

using namespace std::chrono_literals;
using millrace::testing::process;
using millrace::testing::server;
using millrace::testing::start_server;
using millrace::testing::temp_dir;

struct record {
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::map<std::string, std::string> headers;
};

// Reads a topic from the beginning with a fresh consumer group.
class topic_reader {
public:
    topic_reader(const std::string& bootstrap, const std::string& topic) {
        char errstr[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        static int group_seq = 0;
        std::string group = "cdc-test-" + std::to_string(::getpid()) + "-" + std::to_string(++group_seq);
        rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof errstr);
        rd_kafka_conf_set(conf, "group.id", group.c_str(), errstr, sizeof errstr);
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof errstr);
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
        rd_kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "1000", errstr, sizeof errstr);
        rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
        consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        EXPECT_NE(consumer_, nullptr) << errstr;
        rd_kafka_poll_set_consumer(consumer_);
        rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(consumer_, topics);
        rd_kafka_topic_partition_list_destroy(topics);
    }
    ~topic_reader() {
        rd_kafka_consumer_close(consumer_);
        rd_kafka_destroy(consumer_);
    }

    // Reads until `done(records)` holds or `timeout` passes.
    template <typename Pred>
    bool read_until(Pred done, std::chrono::milliseconds timeout = 90s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done(records) && std::chrono::steady_clock::now() < deadline) poll_once(200);
        return done(records);
    }
    // Reads until `n` distinct keys arrived or `timeout` passes.
    bool read_keys(size_t n, std::chrono::milliseconds timeout = 90s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (keys_.size() < n && std::chrono::steady_clock::now() < deadline) poll_once(200);
        return keys_.size() >= n;
    }
    // Reads until nothing new arrives for `quiet`.
    void drain(std::chrono::milliseconds quiet = 3s) {
        auto last = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - last < quiet) {
            if (poll_once(200)) last = std::chrono::steady_clock::now();
        }
    }

    const std::set<std::string>& distinct_keys() const { return keys_; }

    std::vector<record> records;

private:
    bool poll_once(int ms) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, ms);
        if (m == nullptr) return false;
        bool got = false;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            record r;
            if (m->key) r.key = std::string(static_cast<const char*>(m->key), m->key_len);
            if (m->payload) r.value = std::string(static_cast<const char*>(m->payload), m->len);
            rd_kafka_headers_t* headers = nullptr;
            if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char* name;
                const void* value;
                size_t size;
                for (size_t idx = 0; rd_kafka_header_get_all(headers, idx, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++idx) {
                    r.headers[name] = std::string(static_cast<const char*>(value), size);
                }
            }
            if (r.key) keys_.insert(*r.key);
            records.push_back(std::move(r));
            got = true;
        }
        rd_kafka_message_destroy(m);
        return got;
    }
    rd_kafka_t* consumer_ = nullptr;
    std::set<std::string> keys_;
};

class cdc_test : public source::pg_fixture {
protected:
    void SetUp() override {
        pg_fixture::SetUp();
        if (HasFatalFailure()) return;
        source::pg_writer writer(dsn(), source::raw_storage::jsonb);
        auto st = writer.migrate();
        ASSERT_TRUE(st.ok()) << st.err().message();
        if (apache_kafka()) {
            // compat: the same capture against a real Apache Kafka (scripts/peers/kafka).
            broker_.proc = std::make_unique<process>(std::vector<std::string>{
                testing::source_dir() + "/scripts/peers/kafka", "--data-dir", broker_dir_.path()});
            auto line = broker_.proc->wait_for_line("ready kafka ", 180s);
            ASSERT_TRUE(line) << "Apache Kafka did not start:\n" << broker_.proc->stderr_text();
            broker_.address = line->substr(std::string("ready kafka ").size());
        } else {
            broker_ = start_server("broker", broker_dir_.path());
        }
        ASSERT_TRUE(broker_.proc);
    }
    static bool apache_kafka() {
        const char* kind = std::getenv("CDC_TEST_BROKER");
        return kind != nullptr && std::string_view(kind) == "apache-kafka";
    }
    void TearDown() override {
        cdc_.reset();
        second_.reset();
        broker_.proc.reset();
        pg_fixture::TearDown();
    }

    std::vector<std::string> cdc_args(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"--set", "postgres.dsn=" + dsn(), "--set", "kafka.bootstrap=" + broker_.address,
                                         "--set", "cdc.backoff=100ms", "--set", "cdc.backoff_max=1s",
                                         "--set", "cdc.status_interval=200ms"};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    std::unique_ptr<process> start_cdc(std::vector<std::string> extra = {}) {
        auto s = start_server("cdc", cdc_dir_.path(), cdc_args(std::move(extra)), false);
        return std::move(s.proc);
    }

    // Runs SQL on a fresh connection; fails the test on error.
    void sql(const std::string& text) {
        PGconn* conn = PQconnectdb(dsn().c_str());
        ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
        PGresult* res = PQexec(conn, text.c_str());
        auto st = PQresultStatus(res);
        EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << text << ": " << PQerrorMessage(conn);
        PQclear(res);
        PQfinish(conn);
    }
    // Inserts `count` users numbered from `first` in one transaction.
    void insert_users(int first, int count) {
        sql(fmt::format(
            "INSERT INTO users (id, first_name, last_name, gender, address, post_code, email, username, dob, "
            "registered_date, phone, picture, nat, raw) SELECT md5('user' || n)::uuid, 'First' || n, 'Last', 'female', "
            "n || ' Main St', '0000', 'u' || n || '@example.com', 'user' || n, '1990-01-02 03:04:05+00', "
            "'2020-05-06 07:08:09.5+00', '555', 'http://p/' || n, 'US', jsonb_build_object('n', n) "
            "FROM generate_series({}, {}) AS n",
            first, first + count - 1));
    }
    // Waits until a cdc streams from the slot (after its snapshot), so that rows
    // written from now on arrive as stream events, not snapshot rows.
    void wait_streaming() {
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < deadline) {
            PGconn* conn = PQconnectdb(dsn().c_str());
            PGresult* res = PQexec(conn, "SELECT 1 FROM pg_stat_replication WHERE application_name = 'millrace-cdc:millrace_cdc' "
                                         "AND state = 'streaming'");
            bool streaming = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
            PQclear(res);
            PQfinish(conn);
            if (streaming) return;
            std::this_thread::sleep_for(50ms);
        }
        ADD_FAILURE() << "cdc did not start streaming; stderr:\n" << (cdc_ ? cdc_->stderr_text() : "");
    }
    std::string slot_confirmed() {
        PGconn* conn = PQconnectdb(dsn().c_str());
        PGresult* res = PQexec(conn, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'millrace_cdc'");
        std::string out = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "";
        PQclear(res);
        PQfinish(conn);
        return out;
    }

    temp_dir broker_dir_;
    temp_dir cdc_dir_;
    server broker_;
    std::unique_ptr<process> cdc_;
    std::unique_ptr<process> second_;
};

TEST_F(cdc_test, snapshot_and_stream_with_concurrent_inserts_lands_every_row_exactly_once) {
    insert_users(1, 3000);  // before the slot exists: the snapshot's part
    std::thread writer([this] {
        for (int batch = 0; batch < 30; ++batch) insert_users(3001 + batch * 100, 100);
    });
    cdc_ = start_cdc();
    writer.join();
    ASSERT_TRUE(cdc_);
    topic_reader reader(broker_.address, "users_created");
    ASSERT_TRUE(reader.read_keys(6000)) << reader.distinct_keys().size() << " keys; cdc stderr:\n"
                                                        << cdc_->stderr_text();
    reader.drain();
    EXPECT_EQ(reader.records.size(), 6000u) << "duplicates in a clean run";
    EXPECT_EQ(reader.distinct_keys().size(), 6000u);
    size_t snapshot_rows = 0;
    for (const auto& r : reader.records) {
        ASSERT_TRUE(r.value);
        ASSERT_EQ(r.headers.count("lsn"), 1u);
        snapshot_rows += r.headers.at("op") == "r";
    }
    EXPECT_GE(snapshot_rows, 3000u);
    // The key is the uuid's text; the value is the flat row.
    auto doc = source::json::parse(*reader.records.front().value);
    ASSERT_TRUE(doc.ok()) << doc.err().message();
    ASSERT_NE(doc->find("id"), nullptr);
    EXPECT_EQ(doc->find("id")->text, *reader.records.front().key);
    EXPECT_EQ(doc->find("dob")->text, "1990-01-02T03:04:05Z");
    EXPECT_EQ(doc->find("registered_date")->text, "2020-05-06T07:08:09.5Z");
    ASSERT_TRUE(doc->find("raw")->is_object());
    // A clean stop confirms everything it delivered: a restart redelivers nothing.
    auto code = cdc_->stop(SIGTERM);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0) << cdc_->stderr_text();
    EXPECT_NE(slot_confirmed(), "");
    insert_users(7001, 10);
    cdc_ = start_cdc();
    ASSERT_TRUE(cdc_);
    topic_reader again(broker_.address, "users_created");
    ASSERT_TRUE(again.read_keys(6010)) << cdc_->stderr_text();
    again.drain();
    EXPECT_EQ(again.records.size(), 6010u) << "a restart after a clean stop redelivered rows";
}

// A takeover: another instance, with a data directory of its own, resumes the
// slot. The snapshot marker is in PostgreSQL, so it does not snapshot again; the
// rows the first one produced after the slot's confirmed position are found in
// the topic and not produced twice.
TEST_F(cdc_test, another_instance_resumes_the_slot_without_snapshotting_or_producing_twice) {
    insert_users(1, 2000);  // the snapshot's part
    // No status update in the test's time: what it streams stays unconfirmed.
    cdc_ = start_cdc({"--set", "cdc.status_interval=600s"});
    ASSERT_TRUE(cdc_);
    wait_streaming();
    insert_users(2001, 3000);
    {
        topic_reader progress(broker_.address, "users_created");
        ASSERT_TRUE(progress.read_keys(5000)) << cdc_->stderr_text();
    }
    auto code = cdc_->stop(SIGKILL);
    ASSERT_TRUE(code);
    temp_dir other;
    auto second = start_server("cdc", other.path(), cdc_args(), false);
    ASSERT_TRUE(second.proc);
    second_ = std::move(second.proc);
    insert_users(5001, 1000);
    topic_reader reader(broker_.address, "users_created");
    ASSERT_TRUE(reader.read_keys(6000)) << reader.distinct_keys().size() << " keys; cdc stderr:\n"
                                        << second_->stderr_text();
    reader.drain();
    size_t snapshot_rows = 0, with_commit_lsn = 0;
    for (const auto& r : reader.records) {
        snapshot_rows += r.headers.at("op") == "r";
        with_commit_lsn += r.headers.count("commit_lsn");
    }
    EXPECT_EQ(with_commit_lsn, reader.records.size());
    EXPECT_EQ(snapshot_rows, 2000u) << "the second instance snapshotted again:\n" << second_->stderr_text();
    EXPECT_EQ(reader.records.size(), 6000u) << "rows produced twice after the takeover:\n" << second_->stderr_text();
    std::string log = second_->stderr_text();
    EXPECT_EQ(log.find("created replication slot"), std::string::npos) << log;
    EXPECT_NE(log.find("resuming slot millrace_cdc after"), std::string::npos) << log;

    PGconn* conn = PQconnectdb(dsn().c_str());
    PGresult* res = PQexec(conn, "SELECT rows FROM millrace_cdc.snapshots WHERE slot = 'millrace_cdc'");
    ASSERT_EQ(PQresultStatus(res), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    ASSERT_EQ(PQntuples(res), 1);
    EXPECT_STREQ(PQgetvalue(res, 0, 0), "2000");
    PQclear(res);
    PQfinish(conn);
}

// Without its row in millrace_cdc.snapshots a slot's snapshot is taken again
// (it may have died midway); the marker file of an older version counts.
TEST_F(cdc_test, a_slot_without_its_snapshot_marker_is_snapshotted_again_unless_an_old_marker_file_says_done) {
    insert_users(1, 100);
    cdc_ = start_cdc();
    ASSERT_TRUE(cdc_);
    {
        topic_reader reader(broker_.address, "users_created");
        ASSERT_TRUE(reader.read_keys(100)) << cdc_->stderr_text();
    }
    wait_streaming();
    ASSERT_EQ(*cdc_->stop(SIGTERM), 0) << cdc_->stderr_text();

    // An older version's marker file in the data directory: recorded, no snapshot.
    sql("DELETE FROM millrace_cdc.snapshots");
    temp_dir upgraded;
    std::ofstream(upgraded.path() + "/snapshot-done.millrace_cdc") << "0/1\n";
    auto second = start_server("cdc", upgraded.path(), cdc_args(), false);
    ASSERT_TRUE(second.proc);
    second_ = std::move(second.proc);
    insert_users(101, 10);
    {
        topic_reader reader(broker_.address, "users_created");
        ASSERT_TRUE(reader.read_keys(110)) << second_->stderr_text();
        reader.drain();
        EXPECT_EQ(reader.records.size(), 110u) << second_->stderr_text();
    }
    ASSERT_EQ(*second_->stop(SIGTERM), 0) << second_->stderr_text();
    EXPECT_NE(second_->stderr_text().find("snapshot marker"), std::string::npos) << second_->stderr_text();

    // No row and no file: the slot is dropped, recreated and the tables read again.
    sql("DELETE FROM millrace_cdc.snapshots");
    cdc_ = start_cdc();
    ASSERT_TRUE(cdc_);
    topic_reader reader(broker_.address, "users_created");
    ASSERT_TRUE(reader.read_until([](const std::vector<record>& rs) {
        size_t snapshot_rows = 0;
        for (const auto& r : rs) snapshot_rows += r.headers.at("op") == "r";
        return snapshot_rows >= 210;
    })) << cdc_->stderr_text();
    EXPECT_NE(cdc_->stderr_text().find("exists but its initial snapshot did not complete"), std::string::npos)
        << cdc_->stderr_text();
}

TEST_F(cdc_test, waits_for_postgres_and_the_table_then_captures) {
    sql("ALTER TABLE users RENAME TO users_later");
    stop_postgres();
    cdc_ = start_cdc();  // starts: PostgreSQL being down is retried, not fatal
    ASSERT_TRUE(cdc_);
    start_postgres();
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (cdc_->stderr_text().find("table public.users does not exist in database millrace_test") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_NE(cdc_->stderr_text().find("table public.users does not exist in database millrace_test (cdc.tables)"),
              std::string::npos) << cdc_->stderr_text();
    sql("ALTER TABLE users_later RENAME TO users");
    insert_users(1, 100);
    topic_reader reader(broker_.address, "users_created");
    ASSERT_TRUE(reader.read_keys(100)) << cdc_->stderr_text();
    EXPECT_NE(cdc_->stderr_text().find("PostgreSQL unavailable"), std::string::npos) << cdc_->stderr_text();
}

TEST_F(cdc_test, kill_during_large_insert_then_restart_delivers_every_row) {
    constexpr int k_rows = 50'000;
    constexpr int k_batch = 1000;
    cdc_ = start_cdc();
    ASSERT_TRUE(cdc_);
    // The first half is written while cdc captures; it is killed mid-run; the
    // second half is committed while no cdc runs.
    std::thread writer([this] {
        for (int batch = 0; batch < k_rows / 2 / k_batch; ++batch) insert_users(1 + batch * k_batch, k_batch);
    });
    {
        topic_reader progress(broker_.address, "users_created");
        EXPECT_TRUE(progress.read_keys(5000));
    }
    auto code = cdc_->stop(SIGKILL);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 128 + SIGKILL);
    writer.join();
    for (int batch = k_rows / 2 / k_batch; batch < k_rows / k_batch; ++batch) insert_users(1 + batch * k_batch, k_batch);
    cdc_ = start_cdc();
    ASSERT_TRUE(cdc_);
    topic_reader reader(broker_.address, "users_created");
    ASSERT_TRUE(reader.read_keys(k_rows))
        << reader.distinct_keys().size() << " of " << k_rows << " keys; cdc stderr:\n" << cdc_->stderr_text();
    EXPECT_EQ(reader.distinct_keys().size(), static_cast<size_t>(k_rows));
    std::printf("kill -9 redelivered %zu duplicates\n", reader.records.size() - reader.distinct_keys().size());
}

TEST_F(cdc_test, postgres_restart_mid_stream) {
    cdc_ = start_cdc();
    ASSERT_TRUE(cdc_);
    wait_streaming();
    insert_users(1, 500);
    topic_reader reader(broker_.address, "users_created");
    ASSERT_TRUE(reader.read_keys(500));
    stop_postgres();
    start_postgres();
    insert_users(501, 500);
    ASSERT_TRUE(reader.read_keys(1000)) << reader.distinct_keys().size() << " keys; cdc stderr:\n"
                                                        << cdc_->stderr_text();
    EXPECT_NE(cdc_->stderr_text().find("reconnecting"), std::string::npos);
}

TEST_F(cdc_test, broker_restart_mid_stream) {
    // A small buffer: while the broker is down the replication stream pauses.
    cdc_ = start_cdc({"--set", "cdc.max_buffered_bytes=64KiB"});
    ASSERT_TRUE(cdc_);
    wait_streaming();
    insert_users(1, 500);
    {
        topic_reader reader(broker_.address, "users_created");
        ASSERT_TRUE(reader.read_keys(500));
    }
    std::string port = broker_.address.substr(broker_.address.rfind(':') + 1);
    ASSERT_TRUE(broker_.proc->stop(SIGKILL));
    insert_users(501, 1000);  // ~600 KB captured while the broker is down: paused, not dropped
    broker_ = start_server("broker", broker_dir_.path(), {"--set", "broker.port=" + port}, false);
    ASSERT_TRUE(broker_.proc);
    insert_users(1501, 500);
    topic_reader reader(broker_.address, "users_created");
    ASSERT_TRUE(reader.read_keys(2000)) << reader.distinct_keys().size() << " keys; cdc stderr:\n"
                                                        << cdc_->stderr_text();
    EXPECT_NE(cdc_->stderr_text().find("pausing the replication stream"), std::string::npos) << cdc_->stderr_text();
}

TEST_F(cdc_test, update_and_delete_events_in_both_formats) {
    sql("CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2)); "
        "ALTER TABLE accounts REPLICA IDENTITY FULL; "
        "CREATE TABLE notes (a int, b text, body text, PRIMARY KEY (a, b))");
    cdc_ = start_cdc({"--set", "cdc.tables=public.accounts,public.notes", "--set", "cdc.format=envelope", "--set",
                      "cdc.topics=public.accounts=accounts,public.notes=notes"});
    ASSERT_TRUE(cdc_);
    wait_streaming();
    sql("INSERT INTO accounts VALUES (1, 'ann', 10.50)");
    sql("UPDATE accounts SET balance = 20.25 WHERE id = 1");
    sql("DELETE FROM accounts WHERE id = 1");
    sql("INSERT INTO notes VALUES (7, 'x', 'hello')");
    sql("UPDATE notes SET body = 'bye' WHERE a = 7");
    sql("DELETE FROM notes WHERE a = 7");
    topic_reader accounts(broker_.address, "accounts");
    ASSERT_TRUE(accounts.read_until([](const auto& rs) { return rs.size() >= 3; }))
        << accounts.records.size() << " records; cdc stderr:\n" << cdc_->stderr_text();
    ASSERT_EQ(accounts.records.size(), 3u);
    std::vector<std::string> ops;
    for (const auto& r : accounts.records) {
        ASSERT_TRUE(r.key);
        EXPECT_EQ(*r.key, "1");
        ops.push_back(r.headers.at("op"));
        EXPECT_EQ(r.headers.at("table"), "public.accounts");
    }
    EXPECT_EQ(ops, (std::vector<std::string>{"c", "u", "d"}));
    auto update = source::json::parse(*accounts.records[1].value);
    ASSERT_TRUE(update.ok()) << update.err().message();
    EXPECT_EQ(update->find("op")->text, "u");
    ASSERT_TRUE(update->find("before")->is_object());  // REPLICA IDENTITY FULL: the old row
    EXPECT_EQ(update->find("before")->find("balance")->text, "10.50");
    EXPECT_EQ(update->find("after")->find("balance")->text, "20.25");
    EXPECT_EQ(update->find("source")->find("table")->text, "accounts");
    EXPECT_TRUE(update->find("source")->find("lsn")->is_number());
    auto del = source::json::parse(*accounts.records[2].value);
    ASSERT_TRUE(del.ok());
    EXPECT_EQ(del->find("after")->type, source::json::value::kind::null);
    EXPECT_EQ(del->find("before")->find("owner")->text, "ann");

    topic_reader notes(broker_.address, "notes");
    ASSERT_TRUE(notes.read_until([](const auto& rs) { return rs.size() >= 3; }));
    for (const auto& r : notes.records) EXPECT_EQ(*r.key, "{\"a\":7,\"b\":\"x\"}");  // composite key as JSON
    auto note_update = source::json::parse(*notes.records[1].value);
    ASSERT_TRUE(note_update.ok());
    EXPECT_EQ(note_update->find("before")->type, source::json::value::kind::null);  // default identity: no old row
    auto note_delete = source::json::parse(*notes.records[2].value);
    ASSERT_TRUE(note_delete.ok());
    EXPECT_EQ(note_delete->find("before")->find("a")->text, "7");  // the key of the deleted row
    EXPECT_EQ(note_delete->find("before")->find("body")->type, source::json::value::kind::null);
}

TEST_F(cdc_test, delete_is_a_tombstone_in_the_flat_format) {
    cdc_ = start_cdc();
    ASSERT_TRUE(cdc_);
    wait_streaming();
    insert_users(1, 1);
    sql("UPDATE users SET first_name = 'Changed'");
    sql("DELETE FROM users");
    topic_reader reader(broker_.address, "users_created");
    ASSERT_TRUE(reader.read_until([](const auto& rs) { return rs.size() >= 3; }))
        << reader.records.size() << " records; cdc stderr:\n" << cdc_->stderr_text();
    ASSERT_EQ(reader.records.size(), 3u);
    EXPECT_EQ(reader.records[1].headers.at("op"), "u");
    auto updated = source::json::parse(*reader.records[1].value);
    ASSERT_TRUE(updated.ok());
    EXPECT_EQ(updated->find("first_name")->text, "Changed");
    EXPECT_EQ(reader.records[2].headers.at("op"), "d");
    EXPECT_FALSE(reader.records[2].value) << "a delete is a tombstone";
    EXPECT_EQ(reader.records[2].key, reader.records[0].key);
}

// Every mapped type, once from the snapshot and once from the stream: both
// must be exactly the JSON docs/cdc.md documents.
TEST_F(cdc_test, every_mapped_type_round_trips_to_the_documented_json) {
    sql("CREATE TYPE mood AS ENUM ('sad', 'happy'); "
        "CREATE TABLE typed (id int PRIMARY KEY, b bool, i2 smallint, i4 int, i8 bigint, f4 real, f8 double precision, "
        "n numeric(30,10), t text, vc varchar(10), c char(3), u uuid, ts timestamp, tstz timestamptz, d date, "
        "tm time, iv interval, j json, jb jsonb, by bytea, ai int[], at text[], an numeric[], m mood, nul text)");
    const std::string values =
        "true, -32768, 2147483647, 9223372036854775807, 1.5, 0.1, 12345678901234567890.0123456789, "
        "E'quote\" back\\\\ nl\\n é', 'short', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
        "'2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.5+02', '2024-02-29', '23:59:59', '1 day 2 hours', "
        "'{\"k\": [1, \"v\"]}', '{\"k\": {\"z\": null}}', '\\x00ff', '{1,NULL,3}', '{\"a b\",c}', '{1.50,2}', "
        "'happy', NULL";
    sql("INSERT INTO typed VALUES (1, " + values + ")");
    cdc_ = start_cdc({"--set", "cdc.tables=public.typed", "--set", "cdc.topics=public.typed=typed"});
    ASSERT_TRUE(cdc_);
    wait_streaming();
    sql("INSERT INTO typed VALUES (2, " + values + ")");
    topic_reader reader(broker_.address, "typed");
    ASSERT_TRUE(reader.read_until([](const auto& rs) { return rs.size() >= 2; })) << cdc_->stderr_text();
    const std::string expected_tail =
        ",\"b\":true,\"i2\":-32768,\"i4\":2147483647,\"i8\":9223372036854775807,\"f4\":1.5,\"f8\":0.1,"
        "\"n\":\"12345678901234567890.0123456789\",\"t\":\"quote\\\" back\\\\ nl\\n é\",\"vc\":\"short\",\"c\":\"ab \","
        "\"u\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"ts\":\"2024-02-29T13:14:15.123456\","
        "\"tstz\":\"2024-02-29T11:14:15.5Z\",\"d\":\"2024-02-29\",\"tm\":\"23:59:59\",\"iv\":\"P1DT2H\","
        "\"j\":{\"k\": [1, \"v\"]},\"jb\":{\"k\": {\"z\": null}},\"by\":\"AP8=\",\"ai\":[1,null,3],"
        "\"at\":[\"a b\",\"c\"],\"an\":[\"1.50\",\"2\"],\"m\":\"happy\",\"nul\":null}";
    ASSERT_EQ(reader.records.size(), 2u);
    EXPECT_EQ(reader.records[0].headers.at("op"), "r");
    EXPECT_EQ(*reader.records[0].value, "{\"id\":1" + expected_tail);
    EXPECT_EQ(reader.records[1].headers.at("op"), "c");
    EXPECT_EQ(*reader.records[1].value, "{\"id\":2" + expected_tail);
}

TEST_F(cdc_test, second_cdc_on_the_same_slot_exits_with_a_clear_message) {
    cdc_ = start_cdc();
    ASSERT_TRUE(cdc_);
    temp_dir other;
    std::vector<std::string> argv = {testing::millrace_binary(), "cdc", "--admin-port", "0", "--data-dir", other.path()};
    auto args = cdc_args();
    argv.insert(argv.end(), args.begin(), args.end());
    second_ = std::make_unique<process>(argv);
    auto code = second_->wait(60s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 2);
    EXPECT_NE(second_->stderr_text().find("replication slot 'millrace_cdc' is already owned by another millrace cdc"),
              std::string::npos)
        << second_->stderr_text();
    // The first one keeps capturing.
    insert_users(1, 10);
    topic_reader reader(broker_.address, "users_created");
    EXPECT_TRUE(reader.read_keys(10));
}

TEST_F(cdc_test, bad_table_name_is_a_config_error) {
    std::vector<std::string> argv = {testing::millrace_binary(), "cdc", "--admin-port", "0", "--data-dir",
                                     cdc_dir_.path(), "--set", "cdc.tables=a.b.c"};
    process p(argv);
    auto code = p.wait(30s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 2);
    EXPECT_NE(p.stderr_text().find("cdc.tables: 'a.b.c' is not a table name"), std::string::npos) << p.stderr_text();
}

}  // namespace
}  // namespace millrace::cdc
