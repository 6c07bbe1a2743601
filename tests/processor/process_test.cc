// `millrace process` running SQL jobs as a real process between a real
// `millrace broker`, a real `millrace cql` and (for Avro) a real
// `millrace registry`, all started by the suite on ephemeral ports. Records
// are produced with librdkafka; tables are read back with millrace's CQL
// client, output topics with a librdkafka consumer. The jobs are the default
// pipeline's own jobs/created_users.sql, pointed at each test's topic and
// keyspace, and small jobs written by the tests.
#include <algorithm>
#include <csignal>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "harness/process.h"
#include "millrace/avro/codec.h"
#include "millrace/avro/json.h"
#include "millrace/avro/schema.h"
#include "millrace/avro/wire.h"
#include "millrace/cql_client/client.h"
#include "millrace/registry/client.h"

namespace millrace::processor {
namespace {

using namespace std::chrono_literals;
using millrace::testing::server;
using millrace::testing::start_server;
using millrace::testing::temp_dir;
namespace cc = millrace::cql_client;

// Users per test (PROCESSOR_TEST_USERS overrides; the compat run uses fewer).
const int k_users = [] {
    const char* n = std::getenv("PROCESSOR_TEST_USERS");
    return n ? std::atoi(n) : 50000;
}();

// PROCESSOR_TEST_PEERS=apache runs the suite against real Apache Kafka and
// Apache Cassandra (scripts/peers/kafka and scripts/peers/cassandra).
bool on_apache_peers() {
    const char* peers = std::getenv("PROCESSOR_TEST_PEERS");
    return peers != nullptr && std::string(peers) == "apache";
}

// Starts a peer script and waits for its "ready <name> <host:port>" line.
server start_peer(const std::string& name, std::chrono::seconds timeout) {
    server s;
    s.proc = std::make_unique<millrace::testing::process>(
        std::vector<std::string>{millrace::testing::source_dir() + "/scripts/peers/" + name});
    auto line = s.proc->wait_for_line("ready " + name, timeout);
    if (!line) {
        ADD_FAILURE() << name << " peer did not become ready; stderr:\n" << s.proc->stderr_text();
        s.proc.reset();
        return s;
    }
    std::istringstream words(*line);
    std::string ready, component;
    words >> ready >> component >> s.address;
    return s;
}
constexpr int k_partitions = 4;

struct user {
    std::string id, first_name, last_name, gender, address, post_code, email, username, registered_date, phone,
        picture, dob, nat;
    bool python_style = false;  // no nat, numeric post_code, upper-case id

    std::string json() const {
        auto q = [](const std::string& s) { return "\"" + s + "\""; };
        std::string out = "{";
        std::string shown_id = id;
        if (python_style) {
            for (auto& c : shown_id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        out += "\"id\":" + q(shown_id) + ",\"first_name\":" + q(first_name) + ",\"last_name\":" + q(last_name) +
               ",\"gender\":" + q(gender) + ",\"address\":" + q(address) +
               ",\"post_code\":" + (python_style ? post_code : q(post_code)) + ",\"email\":" + q(email) +
               ",\"username\":" + q(username) + ",\"dob\":" + q(dob) + ",\"registered_date\":" + q(registered_date) +
               ",\"phone\":" + q(phone) + ",\"picture\":" + q(picture);
        if (!python_style) {
            out += ",\"nat\":" + q(nat) + ",\"raw\":{\"nested\":[1,2,{\"x\":null}]},\"ingested_at\":\"2026-11-25T06:00:00Z\"";
        }
        return out + "}";
    }
};

std::vector<user> make_users(int count, uint32_t seed) {
    std::mt19937_64 rng(seed);
    const char* first[] = {"Ana", "John", "Lea", "Omar", "Mia", "Jos\\u00e9", "Yuki", "Eva"};
    const char* last[] = {"Lima", "Smith", "Dubois", "Haddad", "Muller", "Garcia", "Sato", "Novak"};
    const char* nats[] = {"BR", "US", "FR", "TR", "DE", "ES", "NZ", "CH"};
    std::vector<user> out;
    out.reserve(static_cast<size_t>(count));
    for (int idx = 0; idx < count; ++idx) {
        user u;
        uint64_t a = rng(), b = rng();
        u.id = fmt::format("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                           b >> 52, b & 0xffffffffffffULL);
        int pick = static_cast<int>(rng() % 8);
        u.first_name = first[pick];
        u.last_name = last[(pick + idx) % 8];
        u.gender = idx % 2 ? "male" : "female";
        u.address = fmt::format("{} Main St, Town {}, Region, Country", idx, idx % 97);
        u.post_code = std::to_string(10000 + idx % 89999);
        u.email = fmt::format("user{}@example.com", idx);
        u.username = fmt::format("user{}", idx);
        u.registered_date = fmt::format("2015-06-{:02}T08:09:10+00:00", 1 + idx % 28);
        u.dob = fmt::format("19{:02}-01-02T03:04:05+00:00", 50 + idx % 50);
        u.phone = fmt::format("(81) 555-{:04}", idx % 10000);
        u.picture = fmt::format("https://randomuser.me/api/portraits/med/{}/{}.jpg", idx % 2 ? "men" : "women", idx % 100);
        u.nat = nats[rng() % 8];
        u.python_style = idx % 5 == 0;
        out.push_back(std::move(u));
    }
    return out;
}

// The shown value of a first name with a JSON escape.
std::string unescaped(const std::string& s) { return s == "Jos\\u00e9" ? "Jos\xc3\xa9" : s; }

class kafka_client {
public:
    explicit kafka_client(const std::string& bootstrap, rd_kafka_type_t type = RD_KAFKA_PRODUCER,
                          const std::string& group = "") {
        char err[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
        if (type == RD_KAFKA_PRODUCER) {
            rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
            rd_kafka_conf_set(conf, "acks", "all", err, sizeof err);
        } else {
            rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
            rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
            rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
        }
        rk_ = rd_kafka_new(type, conf, err, sizeof err);
        if (rk_ == nullptr) ADD_FAILURE() << "rd_kafka_new: " << err;
    }
    ~kafka_client() {
        if (rk_) {
            rd_kafka_flush(rk_, 10000);
            rd_kafka_destroy(rk_);
        }
    }
    rd_kafka_t* get() const { return rk_; }

    void create_topic(const std::string& topic, int partitions) {
        char err[512];
        rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
        rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
        rd_kafka_CreateTopics(rk_, &nt, 1, nullptr, q);
        rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
        ASSERT_NE(ev, nullptr) << "CreateTopics timed out";
        const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
        size_t n = 0;
        const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
        ASSERT_EQ(n, 1u);
        EXPECT_EQ(rd_kafka_topic_result_error(results[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
            << rd_kafka_topic_result_error_string(results[0]);
        rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_NewTopic_destroy(nt);
    }

    void produce(const std::string& topic, int32_t partition, const std::string& key, const std::string* value) {
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
                RD_KAFKA_V_VALUE(value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk_, 10);
                continue;
            }
            ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
            return;
        }
    }

    void flush() { ASSERT_EQ(rd_kafka_flush(rk_, 60000), RD_KAFKA_RESP_ERR_NO_ERROR); }

private:
    rd_kafka_t* rk_ = nullptr;
};

void produce_users(kafka_client& producer, const std::string& topic, const std::vector<user>& users, size_t begin,
                   size_t end) {
    for (size_t idx = begin; idx < end; ++idx) {
        std::string value = users[idx].json();
        producer.produce(topic, static_cast<int32_t>(idx % k_partitions), users[idx].id, &value);
    }
    producer.flush();
}

struct dlq_record {
    std::string key;
    std::string value;
    std::map<std::string, std::string> headers;
};

// Reads `count` records of every partition of `topic` from the start.
std::vector<dlq_record> read_topic(const std::string& bootstrap, const std::string& topic, size_t count) {
    kafka_client consumer(bootstrap, RD_KAFKA_CONSUMER, "dlq-reader-" + topic);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    std::vector<dlq_record> out;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
        if (m == nullptr) continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            dlq_record r;
            r.value.assign(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
            r.key.assign(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
            rd_kafka_headers_t* headers = nullptr;
            if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char* name;
                const void* value;
                size_t size;
                for (size_t idx = 0; rd_kafka_header_get_all(headers, idx, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++idx) {
                    r.headers[name] = std::string(static_cast<const char*>(value), size);
                }
            }
            out.push_back(std::move(r));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer.get());
    return out;
}

// The default pipeline's job file, as in the source tree.
std::string default_job_text() {
    std::ifstream in(millrace::testing::source_dir() + "/jobs/created_users.sql");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path + ".tmp");
    out << text;
    out.close();
    std::rename((path + ".tmp").c_str(), path.c_str());  // the scanner never sees half a file
}

class process_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dirs_ = new temp_dir();
        if (on_apache_peers()) {
            broker_ = new server(start_peer("kafka", 180s));
            cql_ = new server(start_peer("cassandra", 300s));
            return;
        }
        broker_ = new server(start_server("broker", dirs_->file("broker"), {"--set", "broker.num_partitions=1"}));
        cql_ = new server(start_server("cql", dirs_->file("cql")));
    }
    static void TearDownTestSuite() {
        delete broker_;
        delete cql_;
        delete dirs_;
        broker_ = cql_ = nullptr;
        dirs_ = nullptr;
    }

    void SetUp() override {
        ASSERT_TRUE(broker_->proc) << "broker did not start";
        ASSERT_TRUE(cql_->proc) << "cql did not start";
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        name_ = info->name();
        topic_ = "users_" + name_;
        // Cassandra allows 48 characters in a keyspace name; "<keyspace>_state" holds the job's window state.
        keyspace_ = fmt::format("ks_{}_{:08x}", name_.substr(0, 28), std::hash<std::string>{}(name_) & 0xffffffffu);
        jobs_dir_ = dirs_->file("jobs_" + name_);
        std::filesystem::create_directories(jobs_dir_);
        auto options = cc::options_from_contact_points(cql_->address);
        ASSERT_TRUE(options.ok());
        auto s = cc::session::connect(*options);
        ASSERT_TRUE(s.ok()) << s.err().message();
        session_ = *s;
        producer_ = std::make_unique<kafka_client>(broker_->address);
        producer_->create_topic(topic_, k_partitions);
    }

    void TearDown() override {
        processors_.clear();
        producer_.reset();
        if (session_) session_->close();
    }

    // jobs/created_users.sql reading this test's topic into this test's keyspace, in group group_<test>.
    std::string default_job() {
        std::string text = default_job_text();
        replace_all(text, "'topic' = 'users_created'", "'topic' = '" + topic_ + "'");
        replace_all(text, "'keyspace' = 'spark_streams'", "'keyspace' = '" + keyspace_ + "'");
        return "SET 'properties.group.id' = 'group_" + name_ + "';\nSET 'dlq.topic' = '" + topic_ + ".dlq';\n" + text;
    }
    void write_job(const std::string& name, const std::string& text) { write_file(jobs_dir_ + "/" + name + ".sql", text); }

    // The exactly-once copy tests' input: record idx is {"id":"r<idx>","v":<idx % 7>} with key k<idx>.
    static std::vector<std::string> copy_values(int count) {
        std::vector<std::string> values;
        for (int idx = 0; idx < count; ++idx) values.push_back(fmt::format(R"({{"id":"r{}","v":{}}})", idx, idx % 7));
        return values;
    }
    void produce_copy_range(const std::vector<std::string>& values, int begin, int end) {
        for (int idx = begin; idx < end; ++idx) producer_->produce(topic_, idx % k_partitions, fmt::format("k{}", idx), &values[idx]);
        producer_->flush();
    }
    // Waits until a read_committed reader of <topic>.out sees `count` distinct ids (values' "id"), for as
    // long as that number keeps growing within 180 s; the caller asserts on what is there then.
    void wait_for_committed_ids(int count);

    // Job "eos": the topic copied exactly-once to <topic>.out (created with `out_partitions`);
    // `sink_options` adds to the sink's WITH clause.
    void write_copy_job(int out_partitions, const std::string& sink_options = "") {
        producer_->create_topic(topic_ + ".out", out_partitions);
        write_job("eos", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE src (id STRING NOT NULL, v INT) WITH ('connector' = 'kafka', 'topic' = '{1}', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset');
CREATE TABLE copied (id STRING, v INT) WITH ('connector' = 'kafka', 'topic' = '{1}.out', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'eos-{0}'{2});
INSERT INTO copied SELECT id, v FROM src;
)",
                                     name_, topic_, sink_options));
    }

    // Starts one `millrace process` on this test's job folder.
    server& start_processor(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"--set", "kafka.bootstrap=" + broker_->address,
                                         "--set", "cql.contact_points=" + cql_->address,
                                         "--set", "processor.jobs_dir=" + jobs_dir_,
                                         "--set", "processor.scan_interval=200ms",
                                         "--set", "processor.state_keyspace=" + keyspace_ + "_state",
                                         "--set", "processor.commit_interval=200ms",
                                         "--set", "processor.kafka_properties=session.timeout.ms=6000"};
        args.insert(args.end(), extra.begin(), extra.end());
        processors_.push_back(std::make_unique<server>(
            start_server("process", dirs_->file("process_" + name_ + std::to_string(processors_.size())), args, false)));
        return *processors_.back();
    }

    int64_t count_rows(const std::string& table) {
        auto r = session_->query(fmt::format("SELECT count(*) FROM {}.{}", keyspace_, table));
        if (!r.ok() || r->empty()) return -1;
        return r->data[0][0].as_int();
    }

    // The store's live-row counter (system.size_estimates): a map look-up,
    // where count(*) reads every row and, polled, slows the writes it waits for.
    // Apache Cassandra refreshes its estimates every few minutes: count there.
    int64_t estimated_rows(const std::string& table) {
        if (on_apache_peers()) return count_rows(table);
        auto r = session_->query(
            "SELECT partitions_count FROM system.size_estimates WHERE keyspace_name = ? AND table_name = ?",
            {cc::value::text(keyspace_), cc::value::text(table)});
        if (!r.ok() || r->empty()) return -1;
        return r->data[0][0].as_int();
    }

    // Waits until `table` holds `n` rows; returns the last count(*). Gives up
    // after `timeout` without progress (a busy machine is slow, not stuck).
    int64_t wait_for_rows(int64_t n, std::chrono::seconds timeout = 90s, const std::string& table = "created_users") {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        int64_t seen = -1;
        while (std::chrono::steady_clock::now() < deadline) {
            int64_t now = estimated_rows(table);
            if (now >= n) break;
            if (now > seen) {
                seen = now;
                deadline = std::chrono::steady_clock::now() + timeout;
            }
            std::this_thread::sleep_for(200ms);
        }
        return count_rows(table);
    }

    // Sum of users over the aggregate table, once it reaches `expected` (or the timeout).
    int64_t wait_for_aggregate(int64_t expected, std::chrono::seconds timeout = 60s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        int64_t sum = -1;
        while (std::chrono::steady_clock::now() < deadline) {
            auto r = session_->query_all(fmt::format("SELECT users FROM {}.users_per_nat_minute", keyspace_));
            if (r.ok()) {
                sum = 0;
                for (const auto& row : r->data) sum += row[0].as_int();
                if (sum == expected) break;
            }
            std::this_thread::sleep_for(200ms);
        }
        // It must also stay there: a window counted twice would overshoot a moment later.
        std::this_thread::sleep_for(1500ms);
        auto r = session_->query_all(fmt::format("SELECT users FROM {}.users_per_nat_minute", keyspace_));
        if (r.ok()) {
            sum = 0;
            for (const auto& row : r->data) sum += row[0].as_int();
        }
        return sum;
    }

    void expect_rows_match(const std::vector<user>& users) {
        auto r = session_->query_all(fmt::format("SELECT * FROM {}.created_users", keyspace_));
        ASSERT_TRUE(r.ok()) << r.err().message();
        ASSERT_EQ(r->size(), users.size());
        std::map<std::string, const user*> by_id;
        for (const auto& u : users) by_id[u.id] = &u;
        int mismatches = 0;
        for (size_t idx = 0; idx < r->size(); ++idx) {
            std::string id = r->at(idx, "id").uuid_string();
            auto it = by_id.find(id);
            if (it == by_id.end()) {
                ADD_FAILURE() << "unexpected id " << id;
                continue;
            }
            const user& u = *it->second;
            auto text = [&](const char* column) {
                const auto& v = r->at(idx, column);
                return v.is_null() ? std::string("<null>") : v.as_text();
            };
            std::string expected_nat = u.python_style ? "<null>" : u.nat;
            bool same = text("first_name") == unescaped(u.first_name) && text("last_name") == u.last_name &&
                        text("gender") == u.gender && text("address") == u.address && text("post_code") == u.post_code &&
                        text("email") == u.email && text("username") == u.username &&
                        text("registered_date") == u.registered_date && text("phone") == u.phone &&
                        text("picture") == u.picture && text("dob") == u.dob && text("nat") == expected_nat;
            if (!same && mismatches++ < 5) {
                ADD_FAILURE() << "row " << id << " differs: first_name=" << text("first_name")
                              << " post_code=" << text("post_code") << " nat=" << text("nat") << " expected "
                              << u.json();
            }
        }
        EXPECT_EQ(mismatches, 0);
    }

    std::string metric(const server& s, const std::string& name) {
        auto res = millrace::testing::http_request(s.admin, "GET", "/metrics");
        auto pos = res.body.find("\n" + name + " ");
        if (pos == std::string::npos) return "";
        auto end = res.body.find('\n', pos + 1);
        return res.body.substr(pos + name.size() + 2, end - pos - name.size() - 2);
    }
    int64_t metric_int(const server& s, const std::string& name) {
        std::string v = metric(s, name);
        return v.empty() ? 0 : static_cast<int64_t>(std::stod(v));
    }

    std::string jobs_json(const server& s) { return millrace::testing::http_request(s.admin, "GET", "/api/v1/jobs").body; }

    static temp_dir* dirs_;
    static server* broker_;
    static server* cql_;
    std::string name_, topic_, keyspace_, jobs_dir_;
    std::shared_ptr<cc::session> session_;
    std::unique_ptr<kafka_client> producer_;
    std::vector<std::unique_ptr<server>> processors_;
};

temp_dir* process_test::dirs_ = nullptr;
server* process_test::broker_ = nullptr;
server* process_test::cql_ = nullptr;

TEST_F(process_test, json_users_land_once_with_matching_fields) {
    auto users = make_users(k_users, 1);
    produce_users(*producer_, topic_, users, 0, users.size());
    write_job("created_users", default_job());
    auto& p = start_processor();
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(k_users), k_users) << p.proc->stderr_text();
    expect_rows_match(users);
    EXPECT_EQ(wait_for_aggregate(k_users), k_users) << p.proc->stderr_text();
    EXPECT_EQ(metric(p, "millrace_processor_rows_written_total"), std::to_string(k_users));

    // A graceful stop commits everything: a restart reads only what is new.
    ASSERT_EQ(p.proc->stop(SIGTERM), 0) << p.proc->stderr_text();
    auto more = make_users(10, 2);
    produce_users(*producer_, topic_, more, 0, more.size());
    auto& again = start_processor();
    ASSERT_TRUE(again.proc);
    EXPECT_EQ(wait_for_rows(k_users + 10), k_users + 10);
    EXPECT_EQ(wait_for_aggregate(k_users + 10), k_users + 10);
    EXPECT_EQ(metric(again, "millrace_processor_records_in_total"), "10") << "records read again after a clean stop";
}

// KIP-848: processor.kafka_properties=group.protocol=consumer (librdkafka >= 2.12,
// scripts/deps/librdkafka) puts the job's consumer in a `consumer` group
// (ConsumerGroupHeartbeat): every user lands once, and the admin API describes
// the group as a CONSUMER group, not a classic one.
TEST_F(process_test, consumer_group_protocol_kip848_lands_every_user_once) {
    auto users = make_users(k_users, 12);
    produce_users(*producer_, topic_, users, 0, users.size());
    write_job("created_users", default_job());
    auto& p = start_processor({"--set", "processor.kafka_properties=group.protocol=consumer"});
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(k_users), k_users) << p.proc->stderr_text();
    expect_rows_match(users);

    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", broker_->address.c_str(), errstr, sizeof errstr), RD_KAFKA_CONF_OK);
    std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> admin(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr),
                                                                   &rd_kafka_destroy);
    ASSERT_TRUE(admin) << errstr;
    std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue(rd_kafka_queue_new(admin.get()),
                                                                               &rd_kafka_queue_destroy);
    const std::string group = "group_" + name_;
    const char* groups[] = {group.c_str()};
    rd_kafka_DescribeConsumerGroups(admin.get(), groups, 1, nullptr, queue.get());
    std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> event(rd_kafka_queue_poll(queue.get(), 60000),
                                                                               &rd_kafka_event_destroy);
    ASSERT_TRUE(event) << "no DescribeConsumerGroups result within 60 s";
    ASSERT_EQ(rd_kafka_event_error(event.get()), RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_event_error_string(event.get());
    size_t count = 0;
    const rd_kafka_ConsumerGroupDescription_t** described =
        rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(event.get()), &count);
    ASSERT_EQ(count, 1u);
    ASSERT_EQ(rd_kafka_ConsumerGroupDescription_error(described[0]), nullptr)
        << rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(described[0]));
    EXPECT_EQ(rd_kafka_ConsumerGroupDescription_type(described[0]), RD_KAFKA_CONSUMER_GROUP_TYPE_CONSUMER);
    EXPECT_EQ(rd_kafka_ConsumerGroupDescription_member_count(described[0]), 1u);
    ASSERT_EQ(p.proc->stop(SIGTERM), 0) << p.proc->stderr_text();
}

// millrace's own CQL client logs in: the sink and the window state reach a
// store with cql.authenticator=password as cql.username, a role that may only
// create keyspaces (it owns what it creates, as in Cassandra).
TEST_F(process_test, sinks_log_in_to_a_password_protected_store) {
    if (on_apache_peers()) GTEST_SKIP() << "starts its own millrace cql";
    server secured = start_server("cql", dirs_->file("cql_secured"),
                                  {"--set", "cql.authenticator=password", "--set", "cql.username=admin", "--set", "cql.password=adm1n"});
    ASSERT_TRUE(secured.proc);
    auto options = cc::options_from_contact_points(secured.address);
    ASSERT_TRUE(options.ok());
    options->username = "admin";
    options->password = "adm1n";
    auto admin = cc::session::connect(*options);
    ASSERT_TRUE(admin.ok()) << admin.err().message();
    ASSERT_TRUE((*admin)->query("CREATE ROLE pipeline WITH PASSWORD = 'p1pe' AND LOGIN = true").ok());
    ASSERT_TRUE((*admin)->query("GRANT CREATE ON ALL KEYSPACES TO pipeline").ok());

    auto users = make_users(25, 9);
    produce_users(*producer_, topic_, users, 0, users.size());
    write_job("created_users", default_job());
    auto& p = start_processor({"--set", "cql.contact_points=" + secured.address, "--set", "cql.username=pipeline", "--set",
                               "cql.password=p1pe"});
    ASSERT_TRUE(p.proc);
    int64_t count = -1;
    for (auto deadline = std::chrono::steady_clock::now() + 90s; std::chrono::steady_clock::now() < deadline;) {
        auto r = (*admin)->query(fmt::format("SELECT count(*) FROM {}.created_users", keyspace_));
        count = r.ok() && !r->empty() ? r->data[0][0].as_int() : -1;
        if (count >= 25) break;
        std::this_thread::sleep_for(200ms);
    }
    EXPECT_EQ(count, 25) << p.proc->stderr_text();
    auto perms = (*admin)->query("LIST ALL PERMISSIONS OF pipeline");
    ASSERT_TRUE(perms.ok()) << perms.err().message();
    bool owns = false;
    for (size_t idx = 0; idx < perms->size(); ++idx) {
        owns = owns || perms->at(idx, "resource").as_text() == fmt::format("<table {}.created_users>", keyspace_);
    }
    EXPECT_TRUE(owns) << "the job's role owns the table it created";
    (*admin)->close();
    ASSERT_EQ(p.proc->stop(SIGTERM), 0) << p.proc->stderr_text();
    EXPECT_EQ(secured.proc->stop(SIGTERM), 0) << secured.proc->stderr_text();
}

TEST_F(process_test, rejects_go_to_the_dlq_with_headers_and_the_job_goes_on) {
    auto users = make_users(101, 3);
    struct bad {
        std::string value;
        bool null_value;
        std::string code;
        std::string field;
    };
    std::string missing = users[0].json();
    missing.replace(missing.find("\"email\""), 7, "\"mail\"");
    // (A JSON value of any type reads into a STRING column, as in Flink: the
    // default job has no wrong_type; the sql conformance suite covers it.)
    std::string bad_id = users[2].json();
    bad_id.replace(bad_id.find(users[2].id), users[2].id.size(), "42");
    std::vector<bad> bads = {
        {"{\"id\": \"broken", false, "malformed_json", ""},
        {missing, false, "missing_field", "email"},
        {bad_id, false, "sink_rejected", ""},  // not a UUID for the uuid column
        {"[1,2,3]", false, "not_an_object", ""},
        {"", true, "empty_value", ""},
    };
    // Valid users 3..100 around the rejects, all on partition 0 so offsets are known.
    std::map<std::string, int64_t> offset_of_code;
    int64_t offset = 0;
    for (size_t idx = 3; idx < users.size(); ++idx) {
        std::string value = users[idx].json();
        producer_->produce(topic_, 0, users[idx].id, &value);
        ++offset;
        if (idx % 10 == 0 && !bads.empty()) {
            const bad& b = bads.back();
            producer_->produce(topic_, 0, "bad-" + b.code, b.null_value ? nullptr : &b.value);
            offset_of_code[b.code] = offset++;
            bads.pop_back();
        }
    }
    producer_->flush();
    ASSERT_TRUE(bads.empty());
    write_job("created_users", default_job());
    auto& p = start_processor();
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(98), 98) << p.proc->stderr_text();
    auto dlq = read_topic(broker_->address, topic_ + ".dlq", offset_of_code.size());
    ASSERT_EQ(dlq.size(), offset_of_code.size()) << p.proc->stderr_text();
    std::set<std::string> codes;
    for (const auto& r : dlq) {
        auto h = [&](const char* name) {
            auto it = r.headers.find(name);
            return it == r.headers.end() ? std::string("<absent>") : it->second;
        };
        std::string code = h("error.code");
        codes.insert(code);
        ASSERT_TRUE(offset_of_code.count(code)) << code << ": " << h("error.message");
        EXPECT_EQ(r.key, "bad-" + code) << "the DLQ keeps the original key";
        EXPECT_EQ(h("source.topic"), topic_);
        EXPECT_EQ(h("source.partition"), "0");
        EXPECT_EQ(h("source.offset"), std::to_string(offset_of_code[code])) << code;
        EXPECT_EQ(h("processor.group"), "group_" + name_);
        EXPECT_EQ(h("processor.job"), "created_users");
        EXPECT_NE(h("error.message"), "<absent>");
        EXPECT_NE(h("source.timestamp"), "<absent>");
        if (code == "missing_field") {
            EXPECT_EQ(h("error.field"), "email") << h("error.message");
        }
        if (code == "wrong_type") {
            EXPECT_EQ(h("error.field"), "gender") << h("error.message");
        }
        if (code == "malformed_json") {
            EXPECT_EQ(r.value, "{\"id\": \"broken") << "the DLQ keeps the original bytes";
        }
    }
    EXPECT_EQ(codes.size(), offset_of_code.size());
    // The bad id decoded and was counted before the store refused its user row.
    EXPECT_EQ(wait_for_aggregate(99), 99) << "decode rejects are not counted";
    EXPECT_EQ(metric(p, "millrace_processor_dlq_records_total{code=\"missing_field\"}"), "1");
}

TEST_F(process_test, kill_9_mid_window_and_restart_counts_each_user_once) {
    auto users = make_users(k_users, 4);
    produce_users(*producer_, topic_, users, 0, users.size());
    write_job("created_users", default_job());
    // The first instance never commits: the restart replays from offset 0, so
    // every record whose window partial was stored is redelivered and must be
    // recognised as counted.
    // One row per request: 16 rows in flight keep it slow enough to be killed mid-way (with the default 64 rows per
    // request it wrote all 5,000 users of the Apache peers' run before the kill).
    auto& first = start_processor({"--set", "processor.max_in_flight=16", "--set", "processor.rows_per_request=1", "--set",
                                   "processor.commit_interval=1h"});
    ASSERT_TRUE(first.proc);
    int64_t seen = 0;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while ((seen < k_users / 10 || metric_int(first, "millrace_processor_aggregate_rows_written_total") == 0) &&
           std::chrono::steady_clock::now() < deadline) {
        seen = estimated_rows("created_users");
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_GE(seen, k_users / 10) << first.proc->stderr_text();
    ASSERT_EQ(first.proc->stop(SIGKILL), 128 + SIGKILL);
    int64_t at_kill = count_rows("created_users");
    EXPECT_LT(at_kill, k_users) << "killed too late to test anything";
    auto& second = start_processor();
    ASSERT_TRUE(second.proc);
    // The killed member holds its partitions until its session times out
    // (processor.kafka_properties sets session.timeout.ms=6000 in this suite).
    EXPECT_EQ(wait_for_rows(k_users), k_users) << second.proc->stderr_text();
    expect_rows_match(users);
    EXPECT_EQ(wait_for_aggregate(k_users), k_users) << "a window counted twice or a record lost after kill -9";
    EXPECT_GT(metric_int(second, "millrace_processor_aggregate_skipped_total"), 0)
        << "the replay recognised no record as already counted";
}

TEST_F(process_test, two_processes_in_one_group_rebalance_and_count_exactly) {
    auto users = make_users(k_users, 5);
    write_job("created_users", default_job());
    auto& a = start_processor();
    ASSERT_TRUE(a.proc);
    produce_users(*producer_, topic_, users, 0, users.size() / 2);
    EXPECT_GE(wait_for_rows(1), 1);
    // A second member joins mid-stream: the partitions are split (a rebalance
    // with a's in-flight writes drained and committed first).
    auto& b = start_processor();
    ASSERT_TRUE(b.proc);
    auto assigned = [&](server& s) { return metric_int(s, "millrace_processor_rebalances_total"); };
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (assigned(b) == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
    produce_users(*producer_, topic_, users, users.size() / 2, users.size());
    EXPECT_EQ(wait_for_rows(k_users), k_users) << a.proc->stderr_text() << b.proc->stderr_text();
    expect_rows_match(users);
    EXPECT_EQ(wait_for_aggregate(k_users), k_users) << a.proc->stderr_text() << b.proc->stderr_text();
    EXPECT_GT(metric_int(a, "millrace_processor_rows_written_total"), 0) << "instance a wrote nothing";
    EXPECT_GT(metric_int(b, "millrace_processor_rows_written_total"), 0) << "instance b got no partitions";
    EXPECT_GE(assigned(a), 2) << "a was never rebalanced";
}

TEST_F(process_test, a_job_file_edited_while_running_is_reloaded) {
    const std::string job_v1 = fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE src (id STRING, nat STRING) WITH ('connector' = 'kafka', 'topic' = '{1}', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset');
CREATE TABLE out_v1 (id STRING, nat STRING, PRIMARY KEY (id) NOT ENFORCED)
  WITH ('connector' = 'cassandra', 'keyspace' = '{2}', 'table' = 'out_v1');
INSERT INTO out_v1 SELECT id, nat FROM src;
)",
                                           name_, topic_, keyspace_);
    write_job("edited", job_v1);
    auto first = make_users(200, 9);
    produce_users(*producer_, topic_, first, 0, first.size());
    auto& p = start_processor();
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(200, 90s, "out_v1"), 200) << p.proc->stderr_text();
    // Version 2 writes only US users, in upper case, to another table; the
    // group (and so its committed offsets) stays: only new records go there.
    std::string job_v2 = job_v1;
    replace_all(job_v2, "INSERT INTO out_v1 SELECT id, nat FROM src;",
                "INSERT INTO out_v2 SELECT id, UPPER(nat) FROM src WHERE nat = 'US';");
    replace_all(job_v2, "CREATE TABLE out_v1", "CREATE TABLE out_v2");
    replace_all(job_v2, "'table' = 'out_v1'", "'table' = 'out_v2'");
    write_job("edited", job_v2);
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (jobs_json(p).find("out_v2") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_NE(jobs_json(p).find("out_v2"), std::string::npos) << jobs_json(p);
    // The new run starts only after the old one drained, committed and left the group.
    {
        deadline = std::chrono::steady_clock::now() + 30s;
        while (p.proc->stderr_text().find("reloading job edited") == std::string::npos &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(50ms);
        }
        std::string log = p.proc->stderr_text();
        auto stopped = log.find("stopped: ");
        auto reloading = log.find("reloading job edited");
        ASSERT_NE(stopped, std::string::npos) << log;
        ASSERT_NE(reloading, std::string::npos) << log;
        EXPECT_LT(stopped, reloading) << "the new run started before the old one had drained:\n" << log;
    }
    auto second = make_users(300, 10);
    produce_users(*producer_, topic_, second, 0, second.size());
    int64_t us = 0;
    for (const auto& u : second) us += !u.python_style && u.nat == "US";
    ASSERT_GT(us, 0);
    EXPECT_EQ(wait_for_rows(us, 90s, "out_v2"), us) << p.proc->stderr_text();
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(count_rows("out_v2"), us) << "records before the edit were read again, or non-US users passed";
    EXPECT_EQ(count_rows("out_v1"), 200) << "the old version kept running";
}

TEST_F(process_test, a_broken_file_is_reported_and_the_working_job_runs) {
    write_job("created_users", default_job());
    write_job("broken", "CREATE TABLE t (id STRING) WITH ('connector' = 'kafka');\nINSERT INTO nowhere SELECT nope FROM t;\n");
    auto users = make_users(300, 11);
    produce_users(*producer_, topic_, users, 0, users.size());
    auto& p = start_processor();
    ASSERT_TRUE(p.proc) << "one broken job file must not stop the process";
    EXPECT_EQ(wait_for_rows(300), 300) << p.proc->stderr_text();
    std::string json = jobs_json(p);
    EXPECT_NE(json.find("\"name\":\"broken\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"state\":\"error\""), std::string::npos) << json;
    EXPECT_NE(json.find("broken.sql:2:"), std::string::npos) << "errors name file:line:column: " << json;
    EXPECT_NE(json.find("\"state\":\"running\""), std::string::npos) << json;
    EXPECT_NE(p.proc->stderr_text().find("broken.sql:2:"), std::string::npos) << p.proc->stderr_text();
    std::string status = millrace::testing::http_request(p.admin, "GET", "/status").body;
    EXPECT_NE(status.find("\"details\":{\"process\":{\"jobs\":["), std::string::npos) << status;
    EXPECT_NE(status.find("\"name\":\"broken\""), std::string::npos) << status;

    // `millrace jobs list` reads the same from the running process.
    auto port = p.admin.substr(p.admin.rfind(':') + 1);
    millrace::testing::process list({millrace::testing::millrace_binary(), "jobs", "list", "--set",
                                     "processor.admin_port=" + port, "--set", "up.admin_port=1"});
    ASSERT_EQ(list.wait(30s), 0) << list.stderr_text();
    std::string out = list.stdout_text();
    EXPECT_NE(out.find("created_users"), std::string::npos) << out;
    EXPECT_NE(out.find("running"), std::string::npos) << out;
    EXPECT_NE(out.find("broken"), std::string::npos) << out;
    EXPECT_NE(out.find("error"), std::string::npos) << out;

    // Fixing the file starts the job.
    write_job("broken", fmt::format("SET 'properties.group.id' = 'fixed_{0}';\n"
                                    "CREATE TABLE t (id STRING) WITH ('connector' = 'kafka', 'topic' = '{1}', 'format' = 'json', "
                                    "'scan.startup.mode' = 'earliest-offset');\n"
                                    "CREATE TABLE ids (id STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'cassandra', "
                                    "'keyspace' = '{2}', 'table' = 'ids');\n"
                                    "INSERT INTO ids SELECT id FROM t;\n",
                                    name_, topic_, keyspace_));
    EXPECT_EQ(wait_for_rows(300, 90s, "ids"), 300) << p.proc->stderr_text();
}

TEST_F(process_test, avro_source_to_a_kafka_sink_in_json) {
    temp_dir dir;
    auto registry = start_server("registry", dir.file("registry"), {"--set", "kafka.bootstrap=" + broker_->address});
    ASSERT_TRUE(registry.proc);
    const char* schema_text = R"({"type":"record","name":"User","fields":[
        {"name":"id","type":"string"},{"name":"nat","type":["null","string"],"default":null},
        {"name":"age","type":"int"}]})";
    auto schema = avro::schema::parse(schema_text);
    ASSERT_TRUE(schema.ok()) << schema.err().message();
    registry::client client(registry::client_options{.url = "http://" + registry.address});
    auto id = client.register_schema(topic_ + "-value", schema->normalized());
    ASSERT_TRUE(id.ok()) << id.err().message();
    const int count = 500;
    for (int idx = 0; idx < count; ++idx) {
        auto datum = avro::json::parse(fmt::format(R"({{"id":"u{}","nat":{{"string":"{}"}},"age":{}}})", idx,
                                                   idx % 2 ? "US" : "FR", 20 + idx % 50));
        ASSERT_TRUE(datum.ok());
        auto encoded = avro::encode(schema->root(), *datum);
        ASSERT_TRUE(encoded.ok()) << encoded.err().message();
        std::string value = avro::wire::frame(*id, *encoded);
        producer_->produce(topic_, idx % k_partitions, fmt::format("u{}", idx), &value);
    }
    std::string garbage = avro::wire::frame(*id, std::string("\x02\xff\xff\xff", 4));
    producer_->produce(topic_, 0, "garbage", &garbage);
    producer_->flush();
    producer_->create_topic(topic_ + ".out", 1);
    write_job("avro_to_json", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE users_avro (id STRING, nat STRING, age INT) WITH ('connector' = 'kafka', 'topic' = '{1}',
  'format' = 'avro-confluent', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE adults (id STRING, nat STRING, age_next_year INT) WITH ('connector' = 'kafka', 'topic' = '{1}.out',
  'format' = 'json');
INSERT INTO adults SELECT id, nat, age + 1 FROM users_avro WHERE nat = 'US';
)",
                                          name_, topic_));
    auto& p = start_processor({"--set", "processor.registry_url=" + registry.address});
    ASSERT_TRUE(p.proc);
    auto out = read_topic(broker_->address, topic_ + ".out", count / 2);
    ASSERT_EQ(out.size(), static_cast<size_t>(count / 2)) << p.proc->stderr_text();
    std::set<std::string> ids;
    for (const auto& r : out) {
        EXPECT_NE(r.value.find("\"nat\":\"US\""), std::string::npos) << r.value;
        EXPECT_NE(r.value.find("\"age_next_year\":"), std::string::npos) << r.value;
        auto at = r.value.find("\"id\":\"");
        ASSERT_NE(at, std::string::npos) << r.value;
        ids.insert(r.value.substr(at + 6, r.value.find('"', at + 6) - at - 6));
    }
    EXPECT_EQ(ids.size(), static_cast<size_t>(count / 2)) << "each record once";
    EXPECT_NE(std::find_if(out.begin(), out.end(), [](const dlq_record& r) { return r.value.find("\"id\":\"u1\"") != std::string::npos; })
                  ->value.find("\"age_next_year\":22"),
              std::string::npos);
    auto dlq = read_topic(broker_->address, topic_ + ".dlq", 1);
    ASSERT_EQ(dlq.size(), 1u) << p.proc->stderr_text();
    EXPECT_EQ(dlq[0].headers["error.code"], "malformed_avro");
    EXPECT_EQ(dlq[0].headers["processor.job"], "avro_to_json");
    // Offsets were committed after delivery: a restart of the job writes nothing again.
    ASSERT_EQ(p.proc->stop(SIGTERM), 0) << p.proc->stderr_text();
    auto& again = start_processor({"--set", "processor.registry_url=" + registry.address});
    ASSERT_TRUE(again.proc);
    std::this_thread::sleep_for(3s);
    EXPECT_EQ(metric_int(again, "millrace_processor_rows_written_total"), 0);
}

TEST_F(process_test, a_fired_window_goes_to_a_kafka_sink_and_a_late_record_to_the_dlq) {
    producer_->create_topic(topic_ + ".out", 1);
    write_job("clicks", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE clicks (user_id STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka',
  'topic' = '{1}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE counts (window_start TIMESTAMP(3), window_end TIMESTAMP(3), clicks BIGINT) WITH ('connector' = 'kafka',
  'topic' = '{1}.out', 'format' = 'json');
INSERT INTO counts
SELECT window_start, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;
)",
                                    name_, topic_));
    // All on partition 0, so its watermark is the job's: five clicks in [0 s, 10 s), one at 15 s that
    // passes the window's end, then one at 2 s: late.
    for (const char* at : {"01", "01", "01", "05", "05", "15", "02"}) {
        std::string value = fmt::format(R"({{"user_id":"u","ts":"2026-01-01 00:00:{}.000"}})", at);
        producer_->produce(topic_, 0, std::string("at-") + at, &value);
    }
    producer_->flush();
    auto& p = start_processor();
    ASSERT_TRUE(p.proc);
    auto out = read_topic(broker_->address, topic_ + ".out", 1);
    ASSERT_EQ(out.size(), 1u) << p.proc->stderr_text();
    EXPECT_NE(out[0].value.find("\"clicks\":5"), std::string::npos) << out[0].value;
    EXPECT_NE(out[0].value.find("2026-01-01 00:00:00"), std::string::npos) << out[0].value;
    auto dlq = read_topic(broker_->address, topic_ + ".dlq", 1);
    ASSERT_EQ(dlq.size(), 1u) << p.proc->stderr_text();
    EXPECT_EQ(dlq[0].headers["error.code"], "late_record") << dlq[0].headers["error.message"];
    EXPECT_EQ(dlq[0].headers["source.offset"], "6");
    EXPECT_EQ(dlq[0].key, "at-02");
    EXPECT_EQ(dlq[0].headers["processor.job"], "clicks");
}

// A window whose records were all counted, stored and committed before a kill -9,
// and that had not fired, fires after the restart when the watermark passes its
// end although none of its records is read again (Flink restores window state
// with its timers): the restart restores the open windows of every assigned
// partition. Its records sit on partitions 0 and 1; only partition 0 gets a
// record after the restart, so partition 1 is idle and must not hold the
// watermark back.
TEST_F(process_test, a_window_open_at_kill_9_fires_once_to_a_kafka_sink_after_the_restart) {
    producer_->create_topic(topic_ + ".out", 1);
    const std::string group = "group_" + name_;
    write_job("clicks", fmt::format(R"(
SET 'properties.group.id' = '{2}';
CREATE TABLE clicks (user_id STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka',
  'topic' = '{1}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE counts (window_start TIMESTAMP(3), window_end TIMESTAMP(3), clicks BIGINT) WITH ('connector' = 'kafka',
  'topic' = '{1}.out', 'format' = 'json');
INSERT INTO counts
SELECT window_start, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;
)",
                                    name_, topic_, group));
    auto click = [&](int32_t partition, const char* at) {
        std::string value = fmt::format(R"({{"user_id":"u","ts":"2026-01-01 00:00:{}.000"}})", at);
        producer_->produce(topic_, partition, std::string("at-") + at, &value);
    };
    // Seven clicks in [0 s, 10 s): four on partition 0, three on partition 1.
    for (const char* at : {"01", "02", "03", "04"}) click(0, at);
    for (const char* at : {"05", "06", "07"}) click(1, at);
    producer_->flush();
    auto& first = start_processor();
    ASSERT_TRUE(first.proc);
    // Wait until the group committed every offset: then the restart reads none of the window's records again.
    kafka_client offsets(broker_->address, RD_KAFKA_CONSUMER, group);
    auto committed_all = [&] {
        rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(list, topic_.c_str(), 0);
        rd_kafka_topic_partition_list_add(list, topic_.c_str(), 1);
        bool done = rd_kafka_committed(offsets.get(), list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    list->elems[0].offset == 4 && list->elems[1].offset == 3;
        rd_kafka_topic_partition_list_destroy(list);
        return done;
    };
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!committed_all() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(committed_all()) << "the first process did not commit the window's records\n" << first.proc->stderr_text();
    ASSERT_EQ(first.proc->stop(SIGKILL), 128 + SIGKILL);

    auto& second = start_processor();
    ASSERT_TRUE(second.proc);
    // Wait until the second process owns the partitions (the killed member's session times out first).
    deadline = std::chrono::steady_clock::now() + 60s;
    while (jobs_json(second).find("\"assigned_partitions\":4") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_NE(jobs_json(second).find("\"assigned_partitions\":4"), std::string::npos) << jobs_json(second);
    // A click at 15 s on partition 0 moves the watermark past the window's end;
    // clicks at 25 s and 35 s then fire [10 s, 20 s) and [20 s, 30 s), whose
    // rows close what the sink gets: one row per window, in order, nothing else.
    click(0, "15");
    click(0, "25");
    click(0, "35");
    producer_->flush();
    auto out = read_topic(broker_->address, topic_ + ".out", 3);
    std::string rows;
    for (const auto& r : out) rows += r.value + "\n";
    ASSERT_EQ(out.size(), 3u) << rows << second.proc->stderr_text();
    EXPECT_EQ(rows,
              "{\"window_start\":\"2026-01-01 00:00:00\",\"window_end\":\"2026-01-01 00:00:10\",\"clicks\":7}\n"
              "{\"window_start\":\"2026-01-01 00:00:10\",\"window_end\":\"2026-01-01 00:00:20\",\"clicks\":1}\n"
              "{\"window_start\":\"2026-01-01 00:00:20\",\"window_end\":\"2026-01-01 00:00:30\",\"clicks\":1}\n")
        << second.proc->stderr_text();
    EXPECT_EQ(metric_int(second, "millrace_processor_aggregate_skipped_total"), 0) << "no record was read again";
}

TEST_F(process_test, json_source_to_an_avro_confluent_kafka_sink) {
    temp_dir dir;
    auto registry = start_server("registry", dir.file("registry"), {"--set", "kafka.bootstrap=" + broker_->address});
    ASSERT_TRUE(registry.proc);
    producer_->create_topic(topic_ + ".avro", 1);
    write_job("to_avro", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE src (id STRING, nat STRING) WITH ('connector' = 'kafka', 'topic' = '{1}', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset');
CREATE TABLE out_avro (id STRING, nat_lower STRING) WITH ('connector' = 'kafka', 'topic' = '{1}.avro',
  'format' = 'avro-confluent');
INSERT INTO out_avro SELECT id, LOWER(nat) FROM src;
)",
                                     name_, topic_));
    auto users = make_users(100, 12);
    produce_users(*producer_, topic_, users, 0, users.size());
    auto& p = start_processor({"--set", "processor.registry_url=" + registry.address});
    ASSERT_TRUE(p.proc);
    auto out = read_topic(broker_->address, topic_ + ".avro", users.size());
    ASSERT_EQ(out.size(), users.size()) << p.proc->stderr_text();
    // Every value is Confluent-framed with the id the job registered as <topic>-value.
    registry::client client(registry::client_options{.url = "http://" + registry.address});
    auto latest = client.latest(topic_ + ".avro-value");
    ASSERT_TRUE(latest.ok()) << latest.err().message();
    std::map<std::string, std::string> nat_of;
    for (const auto& u : users) nat_of[u.id] = u.python_style ? "" : u.nat;
    auto schema = client.schema_by_id(latest->id);
    ASSERT_TRUE(schema.ok() && (*schema)->avro);
    int checked = 0;
    for (const auto& r : out) {
        auto frame = avro::wire::unframe(r.value);
        ASSERT_TRUE(frame.ok()) << frame.err().message();
        EXPECT_EQ(frame->schema_id, latest->id);
        auto doc = avro::decode(frame->payload, (*schema)->avro->root());
        ASSERT_TRUE(doc.ok()) << doc.err().message();
        std::string text = avro::json::dump(*doc);
        const auto* id = doc->find("id");
        ASSERT_NE(id, nullptr) << text;
        std::string id_text = id->type == avro::json::kind::string ? id->text : avro::json::dump(*id);
        for (auto& c : id_text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // python-style ids
        ASSERT_TRUE(nat_of.count(id_text)) << text;
        std::string lower = nat_of.count(id_text) ? nat_of[id_text] : "?";
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!lower.empty()) {
            EXPECT_NE(text.find("\"" + lower + "\""), std::string::npos) << text;
        }
        ++checked;
    }
    EXPECT_EQ(checked, 100);
}

TEST_F(process_test, slow_sink_pauses_partitions_and_loses_nothing) {
    auto users = make_users(5000, 7);
    produce_users(*producer_, topic_, users, 0, users.size());
    write_job("created_users", default_job());
    auto& p = start_processor({"--set", "processor.max_pending=200", "--set", "processor.max_in_flight=2",
                               "--set", "processor.batch_size=50"});
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(5000), 5000) << p.proc->stderr_text();
    expect_rows_match(users);
    EXPECT_EQ(wait_for_aggregate(5000), 5000);
    EXPECT_GT(metric_int(p, "millrace_processor_pauses_total"), 0) << "never paused with 200 records allowed unacknowledged";
}

TEST_F(process_test, table_created_by_the_classic_job_is_used_as_it_is) {
    // The classic pipeline's own statements (no dob, no nat).
    ASSERT_TRUE(session_->query(fmt::format("CREATE KEYSPACE IF NOT EXISTS {} WITH replication = "
                                            "{{'class': 'SimpleStrategy', 'replication_factor': '1'}}", keyspace_)).ok());
    ASSERT_TRUE(session_->query(fmt::format("CREATE TABLE IF NOT EXISTS {}.created_users (id UUID PRIMARY KEY, "
                                            "first_name TEXT, last_name TEXT, gender TEXT, address TEXT, post_code TEXT, "
                                            "email TEXT, username TEXT, registered_date TEXT, phone TEXT, picture TEXT)",
                                            keyspace_)).ok());
    auto users = make_users(200, 8);
    produce_users(*producer_, topic_, users, 0, users.size());
    write_job("created_users", default_job());
    auto& p = start_processor({"--set", "processor.rows_per_request=16"});
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(200), 200) << p.proc->stderr_text();
    expect_rows_match(users);
}

// Rows too large for one unlogged batch (100 rows of 3,000 bytes with 64 rows per request) go as several
// batches of at most 32 KiB each — Cassandra refuses batches above 50 KiB — and every row is written once.
TEST_F(process_test, large_rows_are_split_into_batches_under_cassandras_limit) {
    write_job("docs", fmt::format(R"(
SET 'properties.group.id' = 'docs_{0}';
CREATE TABLE src (id STRING, doc STRING) WITH ('connector' = 'kafka', 'topic' = '{1}', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset');
CREATE TABLE docs (id STRING, doc STRING, PRIMARY KEY (id) NOT ENFORCED)
  WITH ('connector' = 'cassandra', 'keyspace' = '{2}', 'table' = 'docs');
INSERT INTO docs SELECT id, doc FROM src;
)",
                                   name_, topic_, keyspace_));
    constexpr int k_rows = 100;
    for (int idx = 0; idx < k_rows; ++idx) {
        std::string doc(3000, static_cast<char>('a' + idx % 26));
        std::string value = fmt::format(R"({{"id":"doc{}","doc":"{}"}})", idx, doc);
        producer_->produce(topic_, 0, "k", &value);
    }
    producer_->flush();
    auto requests = [&] {
        return metric_int(*cql_, "millrace_cql_requests_total{opcode=\"BATCH\"}") +
               metric_int(*cql_, "millrace_cql_requests_total{opcode=\"EXECUTE\"}");
    };
    const int64_t before = on_apache_peers() ? 0 : requests();
    auto& p = start_processor({"--set", "processor.rows_per_request=64"});
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(k_rows, 90s, "docs"), k_rows) << p.proc->stderr_text();
    auto rows = session_->query(fmt::format("SELECT doc FROM {}.docs WHERE id = 'doc27'", keyspace_));
    ASSERT_TRUE(rows.ok()) << rows.err().message();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(rows->data[0][0].as_text(), std::string(3000, 'b'));
    // 300,000 bytes of values in batches of at most 32 KiB: at least 10 requests (one per row or per batch).
    if (!on_apache_peers()) {
        EXPECT_GE(requests() - before, 10) << "the rows were not split into batches under 32 KiB";
    }
}

// CQL folds unquoted names to lower case: a sink column firstName is created
// quoted, found again under its own name, and written (no ALTER TABLE loop).
TEST_F(process_test, a_mixed_case_cql_column_is_created_quoted_and_written) {
    write_job("camel", fmt::format(R"(
SET 'properties.group.id' = 'camel_{0}';
CREATE TABLE src (id STRING, first_name STRING) WITH ('connector' = 'kafka', 'topic' = '{1}', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset');
CREATE TABLE camel (id STRING, firstName STRING, PRIMARY KEY (id) NOT ENFORCED)
  WITH ('connector' = 'cassandra', 'keyspace' = '{2}', 'table' = 'camel');
INSERT INTO camel SELECT id, first_name FROM src;
)",
                                   name_, topic_, keyspace_));
    auto users = make_users(100, 12);
    produce_users(*producer_, topic_, users, 0, users.size());
    auto& p = start_processor();
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(100, 90s, "camel"), 100) << p.proc->stderr_text();
    auto rows = session_->query(fmt::format("SELECT \"firstName\" FROM {}.camel", keyspace_));
    ASSERT_TRUE(rows.ok()) << rows.err().message();
    EXPECT_EQ(rows->size(), 100u);
    EXPECT_EQ(p.proc->stderr_text().find("adding column"), std::string::npos) << p.proc->stderr_text();
}

// A window row with a NULL primary key column (a nullable GROUP BY column) is
// rejected alone; the other rows of the round are written.
TEST_F(process_test, a_window_row_with_a_null_key_is_rejected_and_the_others_written) {
    write_job("bynat", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE clicks (nat STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka',
  'topic' = '{1}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE bynat (window_start TIMESTAMP(3), nat STRING, clicks BIGINT, PRIMARY KEY (window_start, nat) NOT ENFORCED)
  WITH ('connector' = 'cassandra', 'keyspace' = '{2}', 'table' = 'bynat');
INSERT INTO bynat
SELECT window_start, nat, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, nat;
)",
                                   name_, topic_, keyspace_));
    for (const char* nat : {"\"US\"", "null", "\"US\"", "\"FR\"", "null", "\"US\""}) {
        std::string value = fmt::format(R"({{"nat":{},"ts":"2026-01-01 00:00:01.000"}})", nat);
        producer_->produce(topic_, 0, "k", &value);
    }
    producer_->flush();
    auto& p = start_processor({"--set", "processor.rows_per_request=16"});  // the rows share one request
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(2, 60s, "bynat"), 2) << p.proc->stderr_text();
    auto rows = session_->query(fmt::format("SELECT clicks FROM {}.bynat WHERE window_start = '2026-01-01 00:00:00+0000' AND nat = 'US'",
                                            keyspace_));
    ASSERT_TRUE(rows.ok()) << rows.err().message();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(rows->data[0][0].as_int(), 3);
    EXPECT_NE(p.proc->stderr_text().find("primary key column nat is NULL"), std::string::npos) << p.proc->stderr_text();
    EXPECT_EQ(p.proc->stderr_text().find("are dropped"), std::string::npos) << p.proc->stderr_text();
    // NULL is a group (as in Flink): its row counts both NULL records and goes to the DLQ, with headers naming
    // the error, the job and the last record counted into it (offset 4 of partition 0).
    auto dlq = read_topic(broker_->address, topic_ + ".dlq", 1);
    ASSERT_EQ(dlq.size(), 1u) << p.proc->stderr_text();
    EXPECT_EQ(dlq[0].headers["error.code"], "sink_rejected");
    EXPECT_NE(dlq[0].headers["error.message"].find("primary key column nat is NULL"), std::string::npos) << dlq[0].headers["error.message"];
    EXPECT_EQ(dlq[0].headers["processor.job"], "bynat");
    EXPECT_EQ(dlq[0].headers["processor.group"], "group_" + name_);
    EXPECT_EQ(dlq[0].headers["source.topic"], topic_);
    EXPECT_EQ(dlq[0].headers["source.partition"], "0");
    EXPECT_EQ(dlq[0].headers["source.offset"], "4");
    EXPECT_EQ(dlq[0].headers["window.partials"], "0:4");
    EXPECT_NE(dlq[0].value.find("clicks = 2"), std::string::npos) << dlq[0].value;
}

// A window row whose SELECT fails (integer division by zero over the aggregates) goes to the DLQ with the
// error, the job and its source partition and offset; the window's other rows reach the Kafka sink.
TEST_F(process_test, a_window_row_whose_select_fails_goes_to_the_dlq) {
    producer_->create_topic(topic_ + ".out", 1);
    write_job("ratio", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE clicks (u STRING, n INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka',
  'topic' = '{1}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE ratios (u STRING, r INT) WITH ('connector' = 'kafka', 'topic' = '{1}.out', 'format' = 'json');
INSERT INTO ratios
SELECT u, CAST(COUNT(*) / SUM(n) AS INT) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, u;
)",
                                   name_, topic_));
    for (const char* v : {R"({"u":"a","n":1,"ts":"2026-01-01 00:00:01.000"})", R"({"u":"b","n":0,"ts":"2026-01-01 00:00:02.000"})",
                          R"({"u":"a","n":1,"ts":"2026-01-01 00:00:03.000"})", R"({"u":"c","n":0,"ts":"2026-01-01 00:00:15.000"})"}) {
        std::string value = v;
        producer_->produce(topic_, 0, "k", &value);
    }
    producer_->flush();
    auto& p = start_processor();
    ASSERT_TRUE(p.proc);
    auto out = read_topic(broker_->address, topic_ + ".out", 1);
    ASSERT_EQ(out.size(), 1u) << p.proc->stderr_text();
    EXPECT_NE(out[0].value.find("\"u\":\"a\""), std::string::npos) << out[0].value;
    auto dlq = read_topic(broker_->address, topic_ + ".dlq", 1);
    ASSERT_EQ(dlq.size(), 1u) << p.proc->stderr_text();
    EXPECT_EQ(dlq[0].headers["error.code"], "eval_error");
    EXPECT_NE(dlq[0].headers["error.message"].find("division by zero"), std::string::npos) << dlq[0].headers["error.message"];
    EXPECT_EQ(dlq[0].headers["processor.job"], "ratio");
    EXPECT_EQ(dlq[0].headers["source.topic"], topic_);
    EXPECT_EQ(dlq[0].headers["source.partition"], "0");
    EXPECT_EQ(dlq[0].headers["source.offset"], "1");
}

// A job started before its topic exists shows the consumer's "Subscribed topic not available" as its last
// error; once the topic exists and records flow the error is gone (it was kept forever).
TEST_F(process_test, a_consumer_error_is_cleared_once_records_flow) {
    const std::string topic = topic_ + "_later";
    write_job("later", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE src (id STRING) WITH ('connector' = 'kafka', 'topic' = '{1}', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'properties.topic.metadata.refresh.interval.ms' = '500');
CREATE TABLE ids (id STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'cassandra', 'keyspace' = '{2}', 'table' = 'ids');
INSERT INTO ids SELECT id FROM src;
)",
                                   name_, topic, keyspace_));
    auto& p = start_processor();
    ASSERT_TRUE(p.proc);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (jobs_json(p).find("not available") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_NE(jobs_json(p).find("not available"), std::string::npos) << jobs_json(p) << p.proc->stderr_text();
    producer_->create_topic(topic, 1);
    for (int idx = 0; idx < 5; ++idx) {
        std::string value = fmt::format(R"({{"id":"u{}"}})", idx);
        producer_->produce(topic, 0, "k", &value);
    }
    producer_->flush();
    EXPECT_EQ(wait_for_rows(5, 60s, "ids"), 5) << p.proc->stderr_text();
    std::string json = jobs_json(p);
    EXPECT_NE(json.find("\"last_error\":\"\""), std::string::npos) << json;
    // The wait for the topic is logged once, as information, however often the consumer repeats it.
    int said = 0, warned = 0;
    std::istringstream log(p.proc->stderr_text());
    for (std::string line; std::getline(log, line);) {
        if (line.find("reading it once it is created") != std::string::npos) ++said;
        if (line.find("not available") != std::string::npos && line.find(" warn ") != std::string::npos) ++warned;
    }
    EXPECT_EQ(said, 1) << p.proc->stderr_text();
    EXPECT_EQ(warned, 0) << p.proc->stderr_text();
}

// On a broker that does not create topics on first use, the job creates its DLQ topic (CreateTopics)
// and a reject lands there; before, the DLQ produce waited for the topic forever and offsets stopped.
TEST_F(process_test, the_dlq_topic_is_created_on_a_broker_without_auto_creation) {
    if (on_apache_peers()) GTEST_SKIP() << "needs a second broker with auto-creation off";
    server strict = start_server("broker", dirs_->file("strict_broker_" + name_),
                                 {"--set", "broker.num_partitions=1", "--set", "broker.auto_create_topics=false"});
    ASSERT_TRUE(strict.proc) << "strict broker did not start";
    kafka_client client(strict.address);
    client.create_topic(topic_, 1);
    write_job("strict", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
SET 'dlq.topic' = '{1}.dlq';
CREATE TABLE src (id STRING NOT NULL) WITH ('connector' = 'kafka', 'topic' = '{1}', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'properties.bootstrap.servers' = '{3}');
CREATE TABLE ids (id STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'cassandra', 'keyspace' = '{2}', 'table' = 'ids');
INSERT INTO ids SELECT id FROM src;
)",
                                    name_, topic_, keyspace_, strict.address));
    std::string good = R"({"id":"u1"})", bad = R"({"id": broken)";
    client.produce(topic_, 0, "good", &good);
    client.produce(topic_, 0, "bad", &bad);
    client.flush();
    auto& p = start_processor({"--set", "kafka.bootstrap=" + strict.address});
    ASSERT_TRUE(p.proc);
    EXPECT_EQ(wait_for_rows(1, 60s, "ids"), 1) << p.proc->stderr_text();
    auto dlq = read_topic(strict.address, topic_ + ".dlq", 1);
    ASSERT_EQ(dlq.size(), 1u) << p.proc->stderr_text() << jobs_json(p);
    EXPECT_EQ(dlq[0].headers["error.code"], "malformed_json");
    EXPECT_EQ(dlq[0].key, "bad");
    EXPECT_NE(p.proc->stderr_text().find("created the DLQ topic " + topic_ + ".dlq"), std::string::npos) << p.proc->stderr_text();
}

// A windowed INSERT edited into another plan does not restore the old plan's window state (it would be
// decoded as the new plan's and counted into it): the new run starts its windows fresh and says so.
TEST_F(process_test, an_edited_window_plan_starts_its_state_fresh) {
    const std::string job_v1 = fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE clicks (nat STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka',
  'topic' = '{1}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE agg1 (window_start TIMESTAMP(3), nat STRING, n BIGINT, PRIMARY KEY (window_start, nat) NOT ENFORCED)
  WITH ('connector' = 'cassandra', 'keyspace' = '{2}', 'table' = 'agg1');
INSERT INTO agg1
SELECT window_start, nat, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' HOUR))
GROUP BY window_start, window_end, nat;
)",
                                           name_, topic_, keyspace_);
    write_job("edited", job_v1);
    auto produce = [&](int count) {
        for (int idx = 0; idx < count; ++idx) {
            std::string value = R"({"nat":"US","ts":"2026-01-01 00:00:01.000"})";
            producer_->produce(topic_, 0, "k", &value);
        }
        producer_->flush();
    };
    produce(3);
    auto& p = start_processor();
    ASSERT_TRUE(p.proc);
    auto sum_of = [&](const std::string& table, int64_t expected) {
        int64_t n = -1;
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < deadline) {
            auto r = session_->query(fmt::format("SELECT n FROM {}.{}", keyspace_, table));
            if (r.ok() && r->size() == 1) n = r->data[0][0].as_int();
            if (n == expected) break;
            std::this_thread::sleep_for(100ms);
        }
        return n;
    };
    ASSERT_EQ(sum_of("agg1", 3), 3) << p.proc->stderr_text();
    std::string job_v2 = job_v1;
    replace_all(job_v2, "agg1", "agg2");
    replace_all(job_v2, "COUNT(*) FROM", "COUNT(*) * 10 FROM");
    write_job("edited", job_v2);
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (jobs_json(p).find("agg2") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    produce(2);
    // The old plan's 3 would make it 50.
    EXPECT_EQ(sum_of("agg2", 20), 20) << p.proc->stderr_text();
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(sum_of("agg2", 20), 20) << p.proc->stderr_text();
    EXPECT_NE(jobs_json(p).find("the window plan of INSERT INTO agg2 changed"), std::string::npos) << jobs_json(p);
    EXPECT_NE(p.proc->stderr_text().find("the window plan of INSERT INTO agg2 changed"), std::string::npos);
}

// Two processes share the partitions of a windowed INSERT into a Kafka sink: each window is emitted once,
// with the count of every partition, when the watermark of all the job's partitions passes its end (before,
// each process emitted the rows of its own partitions: two partial rows per window).
TEST_F(process_test, two_processes_emit_each_kafka_window_once_with_the_full_count) {
    producer_->create_topic(topic_ + ".out", 1);
    write_job("clicks", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
CREATE TABLE clicks (u STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka',
  'topic' = '{1}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE counts (window_start TIMESTAMP(3), clicks BIGINT) WITH ('connector' = 'kafka', 'topic' = '{1}.out', 'format' = 'json');
INSERT INTO counts
SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;
)",
                                    name_, topic_));
    auto& a = start_processor();
    ASSERT_TRUE(a.proc);
    auto rebalances = [&](server& s) { return metric_int(s, "millrace_processor_rebalances_total"); };
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (rebalances(a) == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
    auto& b = start_processor();
    ASSERT_TRUE(b.proc);
    while ((rebalances(b) == 0 || rebalances(a) < 2) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_GE(rebalances(b), 1) << b.proc->stderr_text();
    ASSERT_GE(rebalances(a), 2) << a.proc->stderr_text();
    // Five clicks in [0 s, 10 s) on every partition; once all are read, one at 15 s on each (the window
    // [0, 10) fires), then one at 25 s on each (the window [10, 20) fires with 4). (A partition that has sent
    // nothing does not hold the watermark back: clicks it sent after another partition's 15 s would be late.)
    auto produce = [&](std::initializer_list<const char*> seconds) {
        for (int partition = 0; partition < k_partitions; ++partition) {
            for (const char* at : seconds) {
                std::string value = fmt::format(R"({{"u":"u","ts":"2026-01-01 00:00:{}.000"}})", at);
                producer_->produce(topic_, partition, "k", &value);
            }
        }
        producer_->flush();
    };
    produce({"01", "02", "03", "04", "05"});
    auto read_in = [&] {
        return metric_int(a, "millrace_processor_records_in_total") + metric_int(b, "millrace_processor_records_in_total");
    };
    deadline = std::chrono::steady_clock::now() + 60s;
    while (read_in() < 4 * 5 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
    ASSERT_EQ(read_in(), 4 * 5);
    produce({"15", "25"});
    auto out = read_topic(broker_->address, topic_ + ".out", 2);
    ASSERT_EQ(out.size(), 2u) << a.proc->stderr_text() << b.proc->stderr_text();
    EXPECT_NE(out[0].value.find("\"clicks\":20"), std::string::npos) << out[0].value << " / " << out[1].value;
    EXPECT_NE(out[0].value.find("2026-01-01 00:00:00"), std::string::npos) << out[0].value;
    EXPECT_NE(out[1].value.find("\"clicks\":4"), std::string::npos) << out[1].value;
    EXPECT_NE(out[1].value.find("2026-01-01 00:00:10"), std::string::npos) << out[1].value;
    EXPECT_GT(metric_int(a, "millrace_processor_records_in_total"), 0) << "a got no partitions";
    EXPECT_GT(metric_int(b, "millrace_processor_records_in_total"), 0) << "b got no partitions";
}

// Every record of every partition of `topic` up to its end, read with `isolation`
// ("read_committed": up to the last stable offset, aborted transactions skipped).
std::vector<dlq_record> read_to_end(const std::string& bootstrap, const std::string& topic, const std::string& isolation) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", ("end-reader-" + topic).c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "isolation.level", isolation.c_str(), err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    std::vector<dlq_record> out;
    if (rk == nullptr) {
        ADD_FAILURE() << "rd_kafka_new: " << err;
        return out;
    }
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    int partitions = 0;
    for (int attempt = 0; attempt < 100 && partitions == 0; ++attempt) {
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) partitions = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (partitions == 0) std::this_thread::sleep_for(100ms);
    }
    rd_kafka_topic_destroy(rkt);
    EXPECT_GT(partitions, 0) << "no metadata for " << topic;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int32_t partition = 0; partition < partitions; ++partition) {
        rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    std::set<int32_t> at_end;
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (static_cast<int>(at_end.size()) < partitions && std::chrono::steady_clock::now() < deadline) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
        if (m == nullptr) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end.insert(m->partition);
        } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            dlq_record r;
            r.value.assign(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
            r.key.assign(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
            out.push_back(std::move(r));
        }
        rd_kafka_message_destroy(m);
    }
    EXPECT_EQ(static_cast<int>(at_end.size()), partitions) << "did not reach the end of " << topic;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

// The "id" of a JSON row written by the sink.
std::string id_of(const std::string& json) {
    auto at = json.find("\"id\":\"");
    if (at == std::string::npos) return "";
    return json.substr(at + 6, json.find('"', at + 6) - at - 6);
}

void process_test::wait_for_committed_ids(int count) {
    auto deadline = std::chrono::steady_clock::now() + 180s;
    size_t seen = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        std::set<std::string> ids;
        for (const auto& r : read_to_end(broker_->address, topic_ + ".out", "read_committed")) ids.insert(id_of(r.value));
        if (ids.size() >= static_cast<size_t>(count)) return;
        if (ids.size() > seen) {
            seen = ids.size();
            deadline = std::chrono::steady_clock::now() + 180s;
        }
        std::this_thread::sleep_for(500ms);
    }
}

// A job writing topic A into topic B (and its rejects into the DLQ) exactly once, killed with kill -9
// three times mid-run: a read_committed reader sees each input record's output exactly once.
TEST_F(process_test, exactly_once_kafka_sink_survives_kill_9) {
    const int count = std::min(k_users, 20000);
    const int chunks = 4;
    std::mt19937 rng(1812);
    std::vector<std::string> values;
    std::set<std::string> good_ids, bad_keys;
    for (int idx = 0; idx < count; ++idx) {
        if (rng() % 50 == 0) {
            values.push_back("{\"id\": broken " + std::to_string(idx));
            bad_keys.insert(fmt::format("k{}", idx));
        } else {
            values.push_back(fmt::format(R"({{"id":"r{}","v":{}}})", idx, static_cast<int>(rng() % 1000)));
            good_ids.insert(fmt::format("r{}", idx));
        }
    }
    auto produce_chunk = [&](int chunk) {
        for (int idx = chunk * count / chunks; idx < (chunk + 1) * count / chunks; ++idx) {
            producer_->produce(topic_, idx % k_partitions, fmt::format("k{}", idx), &values[idx]);
        }
        producer_->flush();
    };
    producer_->create_topic(topic_ + ".out", 2);
    write_job("eos", fmt::format(R"(
SET 'properties.group.id' = 'group_{0}';
SET 'dlq.topic' = '{1}.dlq';
CREATE TABLE src (id STRING NOT NULL, v INT) WITH ('connector' = 'kafka', 'topic' = '{1}', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset');
CREATE TABLE doubled (id STRING, v2 INT) WITH ('connector' = 'kafka', 'topic' = '{1}.out', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'eos-{0}');
INSERT INTO doubled SELECT id, v * 2 FROM src;
)",
                                 name_, topic_));
    // The first instance never commits (its whole transaction is cut by the kill); the next two
    // commit every 200 ms and are killed as soon as they have written something of a new chunk.
    for (int chunk = 0; chunk < chunks - 1; ++chunk) {
        produce_chunk(chunk);
        std::vector<std::string> extra = {"--set", "processor.batch_size=100"};
        if (chunk == 0) extra = {"--set", "processor.commit_interval=1h"};
        auto& p = start_processor(extra);
        ASSERT_TRUE(p.proc);
        auto deadline = std::chrono::steady_clock::now() + 120s;
        while (metric_int(p, "millrace_processor_rows_written_total") == 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
        }
        ASSERT_GT(metric_int(p, "millrace_processor_rows_written_total"), 0) << p.proc->stderr_text() << jobs_json(p);
        ASSERT_EQ(p.proc->stop(SIGKILL), 128 + SIGKILL);
    }
    produce_chunk(chunks - 1);
    auto& last = start_processor();
    ASSERT_TRUE(last.proc);
    // Done when every good record's output is committed; then a clean stop settles the last transaction.
    auto deadline = std::chrono::steady_clock::now() + 180s;
    size_t seen = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        std::set<std::string> ids;
        for (const auto& r : read_to_end(broker_->address, topic_ + ".out", "read_committed")) ids.insert(id_of(r.value));
        if (ids.size() >= good_ids.size()) break;
        if (ids.size() > seen) {
            seen = ids.size();
            deadline = std::chrono::steady_clock::now() + 180s;
        }
        std::this_thread::sleep_for(500ms);
    }
    std::string log = last.proc->stderr_text();
    ASSERT_EQ(last.proc->stop(SIGTERM), 0) << log;

    auto committed = read_to_end(broker_->address, topic_ + ".out", "read_committed");
    std::map<std::string, int> times;
    for (const auto& r : committed) ++times[id_of(r.value)];
    int duplicated = 0, missing = 0;
    for (const auto& id : good_ids) {
        if (times[id] == 0) ++missing;
        if (times[id] > 1) ++duplicated;
    }
    EXPECT_EQ(missing, 0) << log;
    EXPECT_EQ(duplicated, 0) << "outputs seen more than once by read_committed";
    EXPECT_EQ(committed.size(), good_ids.size());
    auto all = read_to_end(broker_->address, topic_ + ".out", "read_uncommitted");
    EXPECT_GT(all.size(), committed.size()) << "no kill cut an open transaction: nothing was aborted";

    auto dlq = read_to_end(broker_->address, topic_ + ".dlq", "read_committed");
    std::map<std::string, int> rejected;
    for (const auto& r : dlq) ++rejected[r.key];
    EXPECT_EQ(rejected.size(), bad_keys.size());
    EXPECT_EQ(dlq.size(), bad_keys.size()) << "a reject seen more than once by read_committed";
    for (const auto& key : bad_keys) EXPECT_EQ(rejected[key], 1) << key;
}

// Two processes in one group share an exactly-once job through a join and a leave (each rebalance commits
// the transaction before the partitions move; the instances' transactional ids differ): each output once.
TEST_F(process_test, exactly_once_kafka_sink_across_rebalances) {
    const int count = std::min(k_users, 12000);
    const auto values = copy_values(count);
    auto produce_range = [&](int begin, int end) { produce_copy_range(values, begin, end); };
    write_copy_job(3);
    auto rebalances = [&](server& s) { return metric_int(s, "millrace_processor_rebalances_total"); };
    auto& a = start_processor({"--set", "processor.batch_size=100"});
    ASSERT_TRUE(a.proc);
    produce_range(0, count / 3);
    auto& b = start_processor({"--set", "processor.batch_size=100"});
    ASSERT_TRUE(b.proc);
    produce_range(count / 3, 2 * count / 3);
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (rebalances(b) == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
    ASSERT_GT(rebalances(b), 0) << "b never got partitions: " << b.proc->stderr_text();
    ASSERT_EQ(a.proc->stop(SIGTERM), 0) << a.proc->stderr_text();  // leaves: b takes every partition
    produce_range(2 * count / 3, count);
    wait_for_committed_ids(count);
    std::string log = b.proc->stderr_text();
    ASSERT_EQ(b.proc->stop(SIGTERM), 0) << log;
    auto committed = read_to_end(broker_->address, topic_ + ".out", "read_committed");
    std::map<std::string, int> times;
    for (const auto& r : committed) ++times[id_of(r.value)];
    int duplicated = 0, missing = 0;
    for (int idx = 0; idx < count; ++idx) {
        int n = times[fmt::format("r{}", idx)];
        if (n == 0) ++missing;
        if (n > 1) ++duplicated;
    }
    EXPECT_EQ(missing, 0) << log;
    EXPECT_EQ(duplicated, 0);
    EXPECT_EQ(committed.size(), static_cast<size_t>(count));
    EXPECT_NE(log.find("transactional id eos-" + name_ + "-eos-"), std::string::npos) << log;
}

// Two processes share an exactly-once job and one is killed with kill -9 mid-run: the survivor takes its
// partitions under another transactional id, so the dead one's open transaction is not fenced by id; it
// is aborted by its transaction.timeout.ms (10 s here), and the survivor's offset fetch waits for that
// (require_stable). Each output is committed once.
TEST_F(process_test, exactly_once_kafka_sink_when_one_of_two_processes_is_killed) {
    const int count = std::min(k_users, 12000);
    const auto values = copy_values(count);
    auto produce_range = [&](int begin, int end) { produce_copy_range(values, begin, end); };
    write_copy_job(2, ",\n  'properties.transaction.timeout.ms' = '10000'");
    auto rebalances = [&](server& s) { return metric_int(s, "millrace_processor_rebalances_total"); };
    auto& a = start_processor({"--set", "processor.batch_size=100"});
    ASSERT_TRUE(a.proc);
    auto& b = start_processor({"--set", "processor.batch_size=100", "--set", "processor.commit_interval=1h"});
    ASSERT_TRUE(b.proc);
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (rebalances(b) == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
    ASSERT_GT(rebalances(b), 0) << "b never got partitions: " << b.proc->stderr_text();
    // b never commits (commit_interval 1h): whatever it writes is in its open transaction when it dies.
    produce_range(0, count / 2);
    deadline = std::chrono::steady_clock::now() + 120s;
    while (metric_int(b, "millrace_processor_rows_written_total") == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_GT(metric_int(b, "millrace_processor_rows_written_total"), 0) << b.proc->stderr_text() << jobs_json(b);
    ASSERT_EQ(b.proc->stop(SIGKILL), 128 + SIGKILL);
    const int64_t before = rebalances(a);
    produce_range(count / 2, count);
    wait_for_committed_ids(count);
    std::string log = a.proc->stderr_text();
    EXPECT_GT(rebalances(a), before) << "a never took b's partitions";
    ASSERT_EQ(a.proc->stop(SIGTERM), 0) << log;
    auto committed = read_to_end(broker_->address, topic_ + ".out", "read_committed");
    std::map<std::string, int> times;
    for (const auto& r : committed) ++times[id_of(r.value)];
    EXPECT_EQ(times.size(), static_cast<size_t>(count)) << log;
    EXPECT_EQ(committed.size(), static_cast<size_t>(count)) << "an output committed twice";
    auto all = read_to_end(broker_->address, topic_ + ".out", "read_uncommitted");
    EXPECT_GT(all.size(), committed.size()) << "b's open transaction was not aborted (nothing of it in the log)";
}

// Another producer takes the job's transactional id (as a second instance given the same partitions
// would): the job's transaction fails as fenced, the run ends without committing and the job restarts from
// its committed offsets, fencing the intruder in turn; every output is still committed once.
TEST_F(process_test, exactly_once_job_fenced_by_its_transactional_id_restarts) {
    if (on_apache_peers()) GTEST_SKIP() << "covered on millrace's broker; the peers run the kill -9 test";
    const int count = std::min(k_users, 6000);
    const auto values = copy_values(count);
    auto produce_range = [&](int begin, int end) { produce_copy_range(values, begin, end); };
    write_copy_job(1);
    auto& p = start_processor({"--set", "processor.batch_size=100"});
    ASSERT_TRUE(p.proc);
    produce_range(0, count / 2);
    const std::string marker = "transactional id ";
    std::string txn_id;
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while ((txn_id.empty() || metric_int(p, "millrace_processor_rows_written_total") == 0) &&
           std::chrono::steady_clock::now() < deadline) {
        std::string log = p.proc->stderr_text();
        if (auto at = log.find(marker); at != std::string::npos) {
            txn_id = log.substr(at + marker.size(), log.find(' ', at + marker.size()) - at - marker.size());
        }
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_FALSE(txn_id.empty()) << p.proc->stderr_text();
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", broker_->address.c_str(), err, sizeof err);
    ASSERT_EQ(rd_kafka_conf_set(conf, "transactional.id", txn_id.c_str(), err, sizeof err), RD_KAFKA_CONF_OK) << err;
    rd_kafka_t* intruder = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(intruder, nullptr) << err;
    rd_kafka_error_t* e = rd_kafka_init_transactions(intruder, 60000);
    EXPECT_EQ(e, nullptr) << rd_kafka_error_string(e);
    if (e) rd_kafka_error_destroy(e);
    produce_range(count / 2, count);
    const std::string restarted = "restarting job eos after its transaction failed";
    deadline = std::chrono::steady_clock::now() + 120s;
    while (p.proc->stderr_text().find(restarted) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_NE(p.proc->stderr_text().find(restarted), std::string::npos) << p.proc->stderr_text();
    wait_for_committed_ids(count);
    std::string log = p.proc->stderr_text();
    ASSERT_EQ(p.proc->stop(SIGTERM), 0) << log;
    rd_kafka_destroy(intruder);
    auto committed = read_to_end(broker_->address, topic_ + ".out", "read_committed");
    std::map<std::string, int> times;
    for (const auto& r : committed) ++times[id_of(r.value)];
    EXPECT_EQ(times.size(), static_cast<size_t>(count)) << log;
    EXPECT_EQ(committed.size(), static_cast<size_t>(count)) << "an output committed twice";
}

// Bad exactly-once settings are job errors that name the table and the option.
TEST_F(process_test, exactly_once_option_errors_name_the_table) {
    if (on_apache_peers()) GTEST_SKIP() << "no broker behaviour involved";
    const std::string source = fmt::format(
        "CREATE TABLE src (id STRING, ts TIMESTAMP(3) METADATA FROM 'timestamp', WATERMARK FOR ts AS ts) WITH "
        "('connector' = 'kafka', 'topic' = '{}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');\n",
        topic_);
    auto sink = [&](const std::string& name, const std::string& options) {
        return fmt::format("CREATE TABLE {} (id STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = '{}.{}', "
                           "'format' = 'json'{});\n",
                           name, topic_, name, options);
    };
    write_job("twice", "SET 'properties.group.id' = 'g1_" + name_ + "';\n" + source +
                           sink("out_twice", ", 'sink.delivery-guarantee' = 'twice'") +
                           "INSERT INTO out_twice SELECT id, 1 FROM src;\n");
    write_job("no_prefix", "SET 'properties.group.id' = 'g2_" + name_ + "';\n" + source +
                               sink("out_np", ", 'sink.delivery-guarantee' = 'exactly-once'") +
                               "INSERT INTO out_np SELECT id, 1 FROM src;\n");
    write_job("windowed", "SET 'properties.group.id' = 'g3_" + name_ + "';\n" + source +
                              sink("out_w", ", 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'w'") +
                              "INSERT INTO out_w SELECT id, COUNT(*) FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
                              "INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, id;\n");
    write_job("two_prefixes", "SET 'properties.group.id' = 'g4_" + name_ + "';\n" + source +
                                  sink("out_a", ", 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'a'") +
                                  sink("out_b", ", 'sink.delivery-guarantee' = 'EXACTLY-ONCE', 'sink.transactional-id-prefix' = 'b'") +
                                  "EXECUTE STATEMENT SET BEGIN INSERT INTO out_a SELECT id, 1 FROM src; "
                                  "INSERT INTO out_b SELECT id, 2 FROM src; END;\n");
    auto& p = start_processor();
    ASSERT_TRUE(p.proc);
    const std::vector<std::string> expected = {
        "sink table out_twice: 'sink.delivery-guarantee' = 'twice' is not 'at-least-once', 'exactly-once' or 'none'",
        "sink table out_np: 'sink.delivery-guarantee' = 'exactly-once' needs 'sink.transactional-id-prefix'",
        "the INSERT INTO out_w is windowed",
        "sink table out_b: 'sink.transactional-id-prefix' = 'b', but another exactly-once sink of the job says 'a'"};
    auto deadline = std::chrono::steady_clock::now() + 60s;
    auto all_reported = [&] {
        std::string text = jobs_json(p);
        return std::all_of(expected.begin(), expected.end(), [&](const std::string& e) { return text.find(e) != std::string::npos; });
    };
    while (!all_reported() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(all_reported()) << jobs_json(p) << p.proc->stderr_text();
}

TEST(process_config_test, bad_settings_are_one_line_and_exit_2) {
    temp_dir dir;
    millrace::testing::process p({millrace::testing::millrace_binary(), "process", "--admin-port", "0", "--data-dir",
                                  dir.file("p"), "--set", "processor.kafka_properties=novalue"});
    EXPECT_EQ(p.wait(30s), 2);
    std::string err = p.stderr_text();
    EXPECT_NE(err.find("processor.kafka_properties"), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace
}  // namespace millrace::processor
