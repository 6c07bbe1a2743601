// Avro on the wire, end to end with real processes: PostgreSQL (pg_fixture) →
// `millrace cdc --set cdc.format=avro` → `millrace broker`, schemas in
// `millrace registry` → `millrace process` → `millrace cql`. The topic is read
// back with librdkafka and decoded here with the avro library and the
// registry's schemas; the CQL table with millrace's CQL client.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "../source/pg_fixture.h"
#include "harness/process.h"
#include "millrace/avro/codec.h"
#include "millrace/avro/json.h"
#include "millrace/avro/schema.h"
#include "millrace/avro/wire.h"
#include "millrace/cql_client/client.h"
#include "millrace/registry/client.h"
#include "millrace/source/pg_writer.h"

namespace millrace::cdc {
namespace {

using namespace std::chrono_literals;
using millrace::testing::server;
using millrace::testing::start_server;
using millrace::testing::temp_dir;
namespace cc = millrace::cql_client;
namespace json = avro::json;

struct record {
    std::string key;
    std::optional<std::string> value;
    std::map<std::string, std::string> headers;
};

// Reads topics from the beginning with a fresh group.
class reader {
public:
    reader(const std::string& bootstrap, const std::string& topic) {
        char err[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        static int seq = 0;
        std::string group = "avro-test-" + std::to_string(::getpid()) + "-" + std::to_string(++seq);
        rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
        rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
        rd_kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "500", err, sizeof err);
        rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
        rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
        rd_kafka_poll_set_consumer(rk_);
        auto* list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(rk_, list);
        rd_kafka_topic_partition_list_destroy(list);
    }
    ~reader() {
        rd_kafka_consumer_close(rk_);
        rd_kafka_destroy(rk_);
    }
    // Reads until `n` records arrived or `timeout` passed.
    bool read(size_t n, std::chrono::milliseconds timeout = 60s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (records.size() < n && std::chrono::steady_clock::now() < deadline) {
            rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 200);
            if (m == nullptr) continue;
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                record r;
                if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
                if (m->payload) r.value = std::string(static_cast<const char*>(m->payload), m->len);
                rd_kafka_headers_t* headers = nullptr;
                if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                    const char* name;
                    const void* value;
                    size_t size;
                    for (size_t idx = 0;
                         rd_kafka_header_get_all(headers, idx, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++idx) {
                        r.headers[name] = std::string(static_cast<const char*>(value), size);
                    }
                }
                records.push_back(std::move(r));
            }
            rd_kafka_message_destroy(m);
        }
        return records.size() >= n;
    }
    std::vector<record> records;

private:
    rd_kafka_t* rk_ = nullptr;
};

void produce(const std::string& bootstrap, const std::string& topic, const std::string& key, const std::string& value) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(rk, nullptr) << err;
    auto e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_KEY(key.data(), key.size()),
                               RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
    EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

class avro_pipeline_test : public source::pg_fixture {
protected:
    void SetUp() override {
        pg_fixture::SetUp();
        if (HasFatalFailure()) return;
        source::pg_writer writer(dsn(), source::raw_storage::jsonb);
        auto st = writer.migrate();
        ASSERT_TRUE(st.ok()) << st.err().message();
        broker_ = start_server("broker", dirs_.file("broker"), {"--set", "broker.num_partitions=2"});
        ASSERT_TRUE(broker_.proc);
        registry_ = start_server("registry", dirs_.file("registry"), {"--set", "kafka.bootstrap=" + broker_.address});
        ASSERT_TRUE(registry_.proc);
        cql_ = start_server("cql", dirs_.file("cql"));
        ASSERT_TRUE(cql_.proc);
    }
    void TearDown() override {
        process_.proc.reset();
        cdc_.proc.reset();
        cql_.proc.reset();
        registry_.proc.reset();
        broker_.proc.reset();
        pg_fixture::TearDown();
    }

    void sql(const std::string& text) {
        PGconn* conn = PQconnectdb(dsn().c_str());
        ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
        PGresult* res = PQexec(conn, text.c_str());
        auto st = PQresultStatus(res);
        EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << text << ": " << PQerrorMessage(conn);
        PQclear(res);
        PQfinish(conn);
    }
    // Inserts users numbered first .. first+count-1 in one transaction.
    void insert_users(int first, int count, const std::string& extra_columns = "", const std::string& extra_values = "") {
        sql(fmt::format(
            "INSERT INTO users (id, first_name, last_name, gender, address, post_code, email, username, dob, "
            "registered_date, phone, picture, nat, raw{}) SELECT md5('user' || n)::uuid, 'First' || n, 'Last', "
            "'female', n || ' Main St', '0000', 'u' || n || '@example.com', 'user' || n, '1990-01-02 03:04:05+00', "
            "'2020-05-06 07:08:09.5+00', '555', 'http://p/' || n, 'US', jsonb_build_object('n', n){} "
            "FROM generate_series({}, {}) AS n",
            extra_columns, extra_values, first, first + count - 1));
    }
    void start_cdc() {
        cdc_ = start_server("cdc", dirs_.file("cdc"),
                            {"--set", "postgres.dsn=" + dsn(), "--set", "kafka.bootstrap=" + broker_.address, "--set",
                             "cdc.format=avro", "--set", "cdc.registry_url=http://" + registry_.address, "--set",
                             "cdc.backoff=100ms", "--set", "cdc.backoff_max=1s", "--set", "cdc.status_interval=200ms"},
                            false);
        ASSERT_TRUE(cdc_.proc);
    }
    // The default pipeline's job (jobs/created_users.sql) reading Confluent-framed Avro.
    void start_process() {
        std::ifstream in(testing::source_dir() + "/jobs/created_users.sql");
        std::string job((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::string json_format = "'format' = 'json'";
        auto at = job.find(json_format);
        ASSERT_NE(at, std::string::npos);
        job.replace(at, json_format.size(), "'format' = 'avro-confluent'");
        std::filesystem::create_directories(dirs_.file("jobs"));
        std::ofstream(dirs_.file("jobs") + "/created_users.sql") << job;
        process_ = start_server("process", dirs_.file("process"),
                                {"--set", "kafka.bootstrap=" + broker_.address, "--set",
                                 "cql.contact_points=" + cql_.address, "--set", "processor.jobs_dir=" + dirs_.file("jobs"),
                                 "--set", "processor.registry_url=" + registry_.address, "--set",
                                 "processor.commit_interval=200ms"},
                                false);
        ASSERT_TRUE(process_.proc);
    }
    std::shared_ptr<cc::session> cql_session() {
        auto options = cc::options_from_contact_points(cql_.address);
        EXPECT_TRUE(options.ok());
        auto s = cc::session::connect(*options);
        EXPECT_TRUE(s.ok()) << s.err().message();
        return s.ok() ? *s : nullptr;
    }
    int64_t wait_for_rows(cc::session& s, int64_t n) {
        auto deadline = std::chrono::steady_clock::now() + 60s;
        int64_t count = -1;
        while (std::chrono::steady_clock::now() < deadline) {
            auto r = s.query("SELECT count(*) FROM spark_streams.created_users");
            if (r.ok() && !r->empty()) count = r->data[0][0].as_int();
            if (count >= n) break;
            std::this_thread::sleep_for(200ms);
        }
        return count;
    }
    // The value of `v` decoded with the registry's schema of its id.
    json::value decode(registry::client& client, const std::string& v) {
        EXPECT_TRUE(avro::wire::looks_framed(v));
        auto frame = avro::wire::unframe(v);
        EXPECT_TRUE(frame.ok());
        if (!frame.ok()) return {};
        auto schema = client.schema_by_id(frame->schema_id);
        EXPECT_TRUE(schema.ok()) << schema.err().message();
        if (!schema.ok() || !(*schema)->avro) return {};
        auto doc = avro::decode(frame->payload, (*schema)->avro->root());
        EXPECT_TRUE(doc.ok()) << doc.err().message();
        return doc.ok() ? *doc : json::value{};
    }
    std::vector<int> versions(const std::string& subject) {
        auto r = testing::http_request(registry_.address, "GET", "/subjects/" + subject + "/versions");
        std::vector<int> out;
        if (r.status != 200) return out;
        auto doc = json::parse(r.body);
        if (doc.ok()) {
            for (const auto& v : doc->items) out.push_back(static_cast<int>(v.integer));
        }
        return out;
    }

    temp_dir dirs_;
    server broker_, registry_, cql_, cdc_, process_;
};

TEST_F(avro_pipeline_test, users_flow_through_avro_and_a_new_column_registers_version_two) {
    insert_users(1, 20);  // read by the initial snapshot
    start_cdc();
    start_process();
    insert_users(21, 30);  // streamed
    auto session = cql_session();
    ASSERT_TRUE(session);
    ASSERT_EQ(wait_for_rows(*session, 50), 50) << "cdc:\n" << cdc_.proc->stderr_text() << "process:\n"
                                               << process_.proc->stderr_text();

    // Rows in CQL carry what PostgreSQL had, timestamps in the JSON path's ISO form.
    auto rows = session->query_all("SELECT id, first_name, dob, registered_date, nat, post_code FROM spark_streams.created_users");
    ASSERT_TRUE(rows.ok()) << rows.err().message();
    int checked = 0;
    for (size_t idx = 0; idx < rows->size(); ++idx) {
        std::string first = rows->at(idx, "first_name").as_text();
        ASSERT_TRUE(first.starts_with("First"));
        EXPECT_EQ(rows->at(idx, "dob").as_text(), "1990-01-02T03:04:05Z");
        EXPECT_EQ(rows->at(idx, "registered_date").as_text(), "2020-05-06T07:08:09.5Z");
        EXPECT_EQ(rows->at(idx, "nat").as_text(), "US");
        EXPECT_EQ(rows->at(idx, "post_code").as_text(), "0000");
        ++checked;
    }
    EXPECT_EQ(checked, 50);

    // The topic holds Confluent-framed keys and values that decode with the registry's schemas.
    EXPECT_EQ(versions("users_created-value"), std::vector<int>{1});
    EXPECT_EQ(versions("users_created-key"), std::vector<int>{1});
    registry::client client({.url = "http://" + registry_.address});
    {
        reader r(broker_.address, "users_created");
        ASSERT_TRUE(r.read(50));
        for (const auto& rec : r.records) {
            ASSERT_TRUE(rec.value);
            json::value value = decode(client, *rec.value);
            json::value key = decode(client, rec.key);
            ASSERT_TRUE(value.is_object());
            ASSERT_TRUE(key.is_object());
            ASSERT_NE(key.find("id"), nullptr);
            EXPECT_EQ(key.find("id")->text, value.find("id")->text);
            EXPECT_EQ(value.find("dob")->integer, 631249445000000LL);  // timestamp-micros
            EXPECT_TRUE(value.find("first_name")->text.starts_with("First"));
            EXPECT_EQ(value.find("raw")->text.substr(0, 5), "{\"n\":");  // jsonb as a string
            EXPECT_EQ(value.find("loyalty"), nullptr);
        }
        auto schema = client.latest("users_created-value");
        ASSERT_TRUE(schema.ok());
        EXPECT_NE(schema->text.find(R"("logicalType":"uuid")"), std::string::npos) << schema->text;
        EXPECT_NE(schema->text.find(R"("logicalType":"timestamp-micros")"), std::string::npos) << schema->text;
    }

    // A column added in PostgreSQL: version 2 of the value schema, and the stream goes on.
    sql("ALTER TABLE users ADD COLUMN loyalty integer");
    insert_users(51, 10, ", loyalty", ", n * 10");
    ASSERT_EQ(wait_for_rows(*session, 60), 60) << "cdc:\n" << cdc_.proc->stderr_text() << "process:\n"
                                               << process_.proc->stderr_text();
    EXPECT_EQ(versions("users_created-value"), (std::vector<int>{1, 2}));
    EXPECT_EQ(versions("users_created-key"), std::vector<int>{1});
    {
        reader r(broker_.address, "users_created");
        ASSERT_TRUE(r.read(60));
        int with_loyalty = 0;
        for (const auto& rec : r.records) {
            json::value value = decode(client, *rec.value);
            const json::value* loyalty = value.find("loyalty");
            if (loyalty == nullptr) continue;
            ++with_loyalty;
            int n = std::atoi(value.find("first_name")->text.substr(5).c_str());
            EXPECT_EQ(loyalty->integer, n * 10);
        }
        EXPECT_EQ(with_loyalty, 10);
    }
    // The real Confluent client reads the same records: confluent-kafka's AvroDeserializer.
    {
        millrace::testing::process python({testing::source_dir() + "/tests/cdc/confluent_avro_read.py",
                                           broker_.address, "http://" + registry_.address, "users_created", "60"});
        auto code = python.wait(180s);
        ASSERT_TRUE(code.has_value()) << "confluent_avro_read.py did not finish";
        EXPECT_EQ(*code, 0) << python.stdout_text() << python.stderr_text();
        EXPECT_EQ(python.stdout_text(), "ok 60 10\n") << python.stderr_text();
    }

    // Framed records the processor cannot use go to the DLQ with a clear error.
    std::string unknown = avro::wire::frame(987654, std::string("\x02", 1));
    produce(broker_.address, "users_created", "bad-id", unknown);
    auto latest = client.latest("users_created-value");
    ASSERT_TRUE(latest.ok());
    std::string garbage = avro::wire::frame(latest->id, std::string("\x02\xff\xff\xff", 4));
    produce(broker_.address, "users_created", "bad-payload", garbage);
    reader dlq(broker_.address, "users_created.dlq");
    ASSERT_TRUE(dlq.read(2)) << process_.proc->stderr_text();
    std::map<std::string, record> by_key;
    for (auto& rec : dlq.records) by_key[rec.key] = rec;
    EXPECT_EQ(by_key["bad-id"].headers["error.code"], "unknown_schema");
    EXPECT_NE(by_key["bad-id"].headers["error.message"].find("schema id 987654"), std::string::npos)
        << by_key["bad-id"].headers["error.message"];
    EXPECT_EQ(by_key["bad-id"].value, unknown);
    EXPECT_EQ(by_key["bad-payload"].headers["error.code"], "malformed_avro");
    EXPECT_NE(by_key["bad-payload"].headers["error.message"].find("does not decode"), std::string::npos)
        << by_key["bad-payload"].headers["error.message"];
    // The processor keeps serving: one more user arrives.
    insert_users(61, 1, ", loyalty", ", 1");
    EXPECT_EQ(wait_for_rows(*session, 61), 61);

    // A registry outage is waited out, not dead-lettered: a record of a schema id the processor has
    // not seen arrives while the registry is down, and lands once it is back (same port, same topic).
    const char* other = R"({"type":"record","name":"User","namespace":"example","fields":[
        {"name":"id","type":"string"},{"name":"first_name","type":"string"},{"name":"last_name","type":"string"},
        {"name":"gender","type":"string"},{"name":"address","type":"string"},{"name":"post_code","type":"int"},
        {"name":"email","type":"string"},{"name":"username","type":"string"},{"name":"registered_date","type":"string"},
        {"name":"phone","type":"string"},{"name":"picture","type":"string"}]})";
    auto other_id = client.register_schema("python-users-value", avro::schema::parse(other)->normalized());
    ASSERT_TRUE(other_id.ok()) << other_id.err().message();
    auto datum = json::parse(R"({"id":"00000000-0000-4000-8000-000000000062","first_name":"Py","last_name":"Thon",)"
                             R"("gender":"male","address":"a","post_code":4711,"email":"e","username":"py",)"
                             R"("registered_date":"2021-01-01T00:00:00Z","phone":"p","picture":"q"})");
    ASSERT_TRUE(datum.ok());
    auto encoded = avro::encode(avro::schema::parse(other)->root(), *datum);
    ASSERT_TRUE(encoded.ok()) << encoded.err().message();
    std::string port = registry_.address.substr(registry_.address.rfind(':') + 1);
    ASSERT_EQ(registry_.proc->stop(SIGTERM), 0);
    produce(broker_.address, "users_created", "outage", avro::wire::frame(*other_id, *encoded));
    auto retries = [&] {
        auto res = testing::http_request(process_.admin, "GET", "/metrics");
        auto at = res.body.find("\nmillrace_processor_registry_retries_total ");
        return at == std::string::npos ? 0 : std::atoi(res.body.c_str() + at + 43);
    };
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (retries() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
    ASSERT_GE(retries(), 2) << process_.proc->stderr_text();
    registry_ = start_server("registry", dirs_.file("registry"),
                             {"--set", "kafka.bootstrap=" + broker_.address, "--port", port}, false);
    ASSERT_TRUE(registry_.proc);
    EXPECT_EQ(wait_for_rows(*session, 62), 62) << process_.proc->stderr_text();
    auto py = session->query("SELECT post_code FROM spark_streams.created_users WHERE id = 00000000-0000-4000-8000-000000000062");
    ASSERT_TRUE(py.ok() && !py->empty());
    EXPECT_EQ(py->data[0][0].as_text(), "4711");
    reader dlq_after(broker_.address, "users_created.dlq");
    dlq_after.read(3, 3s);
    EXPECT_EQ(dlq_after.records.size(), 2u);  // only the two bad records of before
}

}  // namespace
}  // namespace millrace::cdc

namespace millrace::cdc {
namespace {

// A change the registry refuses (409) stalls the capture with a log line naming the subject and the
// registry's reasons — no row is produced with an unregistered schema — and resumes once allowed.
TEST_F(avro_pipeline_test, incompatible_change_waits_for_the_registry_then_resumes) {
    insert_users(1, 3);
    start_cdc();
    registry::client client({.url = "http://" + registry_.address});
    {
        reader r(broker_.address, "users_created");
        ASSERT_TRUE(r.read(3)) << cdc_.proc->stderr_text();
    }
    sql("ALTER TABLE users ALTER COLUMN post_code TYPE integer USING post_code::integer");
    insert_users(4, 2);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    auto refused = [&] {
        std::string log = cdc_.proc->stderr_text();
        return log.find("registering a schema under subject 'users_created-value'") != std::string::npos;
    };
    while (!refused() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
    std::string log = cdc_.proc->stderr_text();
    ASSERT_TRUE(refused()) << log;
    EXPECT_NE(log.find("HTTP 409"), std::string::npos) << log;
    EXPECT_NE(log.find("(columns: post_code)"), std::string::npos) << log;
    EXPECT_EQ(versions("users_created-value"), std::vector<int>{1});
    {
        reader r(broker_.address, "users_created");
        r.read(4, 2s);
        EXPECT_EQ(r.records.size(), 3u);  // nothing produced with an unregistered schema
    }
    auto put = testing::http_request(registry_.address, "PUT", "/config/users_created-value",
                                     R"({"compatibility":"NONE"})");
    ASSERT_EQ(put.status, 200) << put.body;
    reader r(broker_.address, "users_created");
    ASSERT_TRUE(r.read(5)) << cdc_.proc->stderr_text();
    EXPECT_EQ(versions("users_created-value"), (std::vector<int>{1, 2}));
    json::value last = decode(client, *r.records.back().value);
    ASSERT_TRUE(last.is_object());
    EXPECT_EQ(last.find("post_code")->integer, 0);  // '0000' as an integer
}

}  // namespace
}  // namespace millrace::cdc
