// The broker process on the wire: framing, version negotiation, malformed
// input, and durability across kill -9. Real clients are exercised by the
// suites in tests/kafka_clients; these tests send hand-built requests.
#include <csignal>
#include <poll.h>
#include <fstream>
#include <map>
#include <random>
#include <tuple>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include "batch_builder.h"
#include "harness/process.h"
#include "protocol/errors.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"
#include "protocol/wire.h"
#include "kafka_messages.h"
#include "raw_client.h"

namespace millrace::kafka {
namespace {

using millrace::testing::start_server;
using millrace::testing::temp_dir;

using testing::raw_client;

std::string api_versions_body_v3() {
    std::string body;
    writer w(body);
    w.string("raw-test", true);
    w.string("1.0", true);
    w.empty_tags(true);
    return body;
}

// Produce v3, acks=-1, one partition.
std::string produce_body(const std::string& topic, int32_t partition, const std::string& records) {
    std::string body;
    writer w(body);
    w.nullable_string(std::nullopt, false);
    w.int16(-1);
    w.int32(10'000);
    w.array_length(1, false);
    w.string(topic, false);
    w.array_length(1, false);
    w.int32(partition);
    w.bytes(records, false);
    return body;
}

std::string fetch_body_v4(const std::string& topic, int32_t partition, int64_t offset) {
    std::string body;
    writer w(body);
    w.int32(-1);     // replica
    w.int32(100);    // max wait
    w.int32(1);      // min bytes
    w.int32(1 << 20);
    w.int8(0);
    w.array_length(1, false);
    w.string(topic, false);
    w.array_length(1, false);
    w.int32(partition);
    w.int64(offset);
    w.int32(1 << 20);
    return body;
}

std::string metadata_body_v4(const std::string& topic) {
    std::string body;
    writer w(body);
    w.array_length(1, false);
    w.string(topic, false);
    w.boolean(true);
    return body;
}

// CreateTopics v4: one topic with `partitions` and `configs`.
std::string create_topics_body_v4(const std::string& topic, int32_t partitions,
                                  const std::vector<std::pair<std::string, std::string>>& configs) {
    std::string body;
    writer w(body);
    w.array_length(1, false);
    w.string(topic, false);
    w.int32(partitions);
    w.int16(1);
    w.array_length(0, false);
    w.array_length(static_cast<int32_t>(configs.size()), false);
    for (const auto& [name, value] : configs) {
        w.string(name, false);
        w.string(value, false);
    }
    w.int32(10'000);
    w.boolean(false);
    return body;
}

// Every (offset, key, value) of partition 0, read with Fetch v4 from offset 0.
std::vector<std::tuple<int64_t, std::string, std::string>> fetch_all(raw_client& c, const std::string& topic) {
    std::vector<std::tuple<int64_t, std::string, std::string>> out;
    int64_t offset = 0;
    for (int round = 0; round < 1000; ++round) {
        c.send(1, 4, 8, fetch_body_v4(topic, 0, offset));
        std::string response = c.receive();
        reader r(response);
        r.int32();
        r.int32();
        r.array_length(false);
        r.string(false);
        r.array_length(false);
        r.int32();
        EXPECT_EQ(r.int16(), 0);
        int64_t high_watermark = r.int64();
        r.int64();
        r.array_length(false);
        auto records = r.nullable_bytes(false);
        if (!records || records->empty()) break;
        EXPECT_TRUE(for_each_batch(*records, [&](std::string_view batch) -> status {
                        auto st = for_each_record(batch, [&](const record_view& rec) {
                            out.emplace_back(rec.offset, std::string(rec.key.value_or("")), std::string(rec.value.value_or("")));
                        });
                        offset = read_header(batch).last_offset() + 1;
                        return st;
                    }).ok());
        if (offset >= high_watermark) break;
    }
    return out;
}

class broker_protocol_test : public ::testing::Test {
protected:
    void start() {
        server_ = start_server("broker", dir_.file("data"));
        ASSERT_TRUE(server_.proc);
    }
    temp_dir dir_;
    millrace::testing::server server_;
};

TEST_F(broker_protocol_test, api_versions_v3_lists_supported_apis_with_header_v0) {
    start();
    raw_client c(server_.address);
    c.send(18, 3, 77, api_versions_body_v3(), true);
    std::string response_1 = c.receive();
    reader r(response_1);
    EXPECT_EQ(r.int32(), 77);  // response header v0: no tagged fields
    EXPECT_EQ(r.int16(), 0);
    int32_t count = r.array_length(true);
    bool has_produce = false;
    for (int32_t idx = 0; idx < count; ++idx) {
        int16_t key = r.int16();
        int16_t min = r.int16();
        int16_t max = r.int16();
        r.skip_tags(true);
        if (key == 0) {
            has_produce = true;
            EXPECT_LE(min, 3);
            EXPECT_GE(max, 7);
        }
    }
    EXPECT_TRUE(has_produce);
}

TEST_F(broker_protocol_test, unsupported_api_versions_version_gets_v0_error_reply) {
    start();
    raw_client c(server_.address);
    c.send(18, 99, 5, "");
    std::string response_2 = c.receive();
    reader r(response_2);
    EXPECT_EQ(r.int32(), 5);
    EXPECT_EQ(r.int16(), wire(error_code::unsupported_version));
    EXPECT_GT(r.array_length(false), 10);
}

TEST_F(broker_protocol_test, absurd_size_prefix_closes_only_that_connection) {
    start();
    raw_client bad(server_.address);
    bad.send_raw(std::string("\x7f\xff\xff\xff", 4));
    EXPECT_EQ(bad.receive(), "");
    raw_client good(server_.address);
    good.send(18, 3, 1, api_versions_body_v3(), true);
    EXPECT_FALSE(good.receive().empty());
    EXPECT_NE(server_.proc->stderr_text().find("request size 2147483647 is outside"), std::string::npos)
        << server_.proc->stderr_text();
}

TEST_F(broker_protocol_test, truncated_request_closes_connection_with_a_log_line) {
    start();
    raw_client bad(server_.address);
    std::string body;
    writer w(body);
    w.int32(1000);  // claims 1000 topics, carries none
    bad.send(3, 1, 9, body);
    EXPECT_EQ(bad.receive(), "");
    raw_client good(server_.address);
    good.send(3, 4, 2, metadata_body_v4("still-serving"));
    EXPECT_FALSE(good.receive().empty());
    EXPECT_NE(server_.proc->stderr_text().find("malformed Metadata v1 request"), std::string::npos)
        << server_.proc->stderr_text();
}

TEST_F(broker_protocol_test, unknown_api_key_closes_connection) {
    start();
    raw_client bad(server_.address);
    bad.send(9999, 0, 1, "");
    EXPECT_EQ(bad.receive(), "");
    EXPECT_NE(server_.proc->stderr_text().find("is not supported"), std::string::npos);
}

TEST_F(broker_protocol_test, metadata_advertises_the_port_actually_bound) {
    start();
    raw_client c(server_.address);
    c.send(3, 4, 3, metadata_body_v4("advertised"));
    std::string response_3 = c.receive();
    reader r(response_3);
    EXPECT_EQ(r.int32(), 3);
    r.int32();  // throttle
    ASSERT_EQ(r.array_length(false), 1);
    EXPECT_EQ(r.int32(), 1);  // node id
    std::string host = r.string(false);
    int32_t port = r.int32();
    EXPECT_EQ(host + ":" + std::to_string(port), server_.address);
}

TEST_F(broker_protocol_test, compacted_topic_keeps_the_newest_value_of_each_key) {
    server_ = start_server("broker", dir_.file("data"), {"--retention-check-interval", "100ms"});
    ASSERT_TRUE(server_.proc);
    raw_client c(server_.address);
    c.send(19, 4, 1, create_topics_body_v4("compacted", 1, {{"cleanup.policy", "compact"}, {"segment.bytes", "1024"}}));
    {
        std::string response = c.receive();
        reader r(response);
        r.int32();
        r.int32();
        ASSERT_EQ(r.array_length(false), 1);
        EXPECT_EQ(r.string(false), "compacted");
        ASSERT_EQ(r.int16(), 0);
    }
    constexpr int k_rounds = 40;
    for (int round = 0; round < k_rounds; ++round) {
        for (int key = 0; key < 3; ++key) {
            auto batch = testing::build_batch({{"key-" + std::to_string(key), "round-" + std::to_string(round)}});
            c.send(0, 3, 2, produce_body("compacted", 0, batch));
            std::string response = c.receive();
            ASSERT_FALSE(response.empty());
        }
    }
    // Wait (bounded) for the broker's cleaner to rewrite the closed segments.
    std::vector<std::tuple<int64_t, std::string, std::string>> records;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    do {
        records = fetch_all(c, "compacted");
    } while (records.size() == 3 * k_rounds && std::chrono::steady_clock::now() < deadline);
    ASSERT_LT(records.size(), 3u * k_rounds) << "no compaction within 60 s";
    std::map<std::string, std::string> last;
    int64_t previous = -1;
    for (const auto& [offset, key, value] : records) {
        EXPECT_GT(offset, previous);  // offsets ascend, with gaps
        previous = offset;
        last[key] = value;
    }
    ASSERT_EQ(last.size(), 3u);
    for (const auto& [key, value] : last) EXPECT_EQ(value, "round-" + std::to_string(k_rounds - 1)) << key;
    EXPECT_NE(server_.proc->stderr_text().find("compacted"), std::string::npos);
}

// Valid requests of several APIs, each mutated at random (seeded): the broker
// must answer or close that connection, and keep serving a fresh one.
TEST_F(broker_protocol_test, mutated_requests_never_take_the_broker_down) {
    start();
    std::vector<std::pair<int16_t, std::pair<int16_t, std::string>>> seeds = {
        {3, {4, metadata_body_v4("fuzz")}},
        {0, {3, produce_body("fuzz", 0, testing::build_batch({{"k", "v"}}))}},
        {1, {4, fetch_body_v4("fuzz", 0, 0)}},
        {19, {4, create_topics_body_v4("fuzz-created", 2, {{"retention.ms", "1000"}})}},
    };
    std::mt19937 rng(301);
    int closed = 0, answered = 0;
    for (int round = 0; round < 300; ++round) {
        const auto& [key, versioned] = seeds[rng() % seeds.size()];
        std::string body = versioned.second;
        int mutations = 1 + static_cast<int>(rng() % 4);
        for (int m = 0; m < mutations && !body.empty(); ++m) {
            switch (rng() % 3) {
                case 0: body[rng() % body.size()] = static_cast<char>(rng()); break;   // flip a byte
                case 1: body.resize(rng() % body.size()); break;                       // truncate
                case 2: body.insert(rng() % body.size(), 1, static_cast<char>(rng())); break;  // insert
            }
        }
        raw_client c(server_.address);
        c.send(key, versioned.first, round, body);
        // A mutation may legitimately ask for no answer (acks=0) or a long poll.
        std::string response = c.receive(std::chrono::milliseconds(500));
        if (response.empty()) {
            ++closed;
        } else {
            ++answered;
            reader r(response);
            EXPECT_EQ(r.int32(), round) << "a response must carry its request's correlation id";
        }
    }
    EXPECT_GT(closed, 0);
    EXPECT_GT(answered, 0);
    raw_client after(server_.address);
    after.send(18, 3, 1, api_versions_body_v3(), true);
    EXPECT_FALSE(after.receive().empty()) << "the broker still serves after 300 mutated requests";
}

TEST_F(broker_protocol_test, acknowledged_records_survive_kill_9) {
    start();
    std::vector<std::string> acknowledged;
    {
        raw_client c(server_.address);
        c.send(3, 4, 1, metadata_body_v4("durable"));  // auto-creates the topic
        ASSERT_FALSE(c.receive().empty());
        for (int idx = 0; idx < 50; ++idx) {
            auto batch = testing::build_batch({{"key-" + std::to_string(idx), "value-" + std::to_string(idx)}});
            c.send(0, 3, 100 + idx, produce_body("durable", 0, batch));
            std::string response_4 = c.receive();
            reader r(response_4);
            EXPECT_EQ(r.int32(), 100 + idx);
            ASSERT_EQ(r.array_length(false), 1);
            r.string(false);
            ASSERT_EQ(r.array_length(false), 1);
            EXPECT_EQ(r.int32(), 0);
            ASSERT_EQ(r.int16(), 0) << "produce " << idx << " failed";
            EXPECT_EQ(r.int64(), idx);  // base offset
            acknowledged.push_back(batch);
        }
    }
    ASSERT_EQ(server_.proc->stop(SIGKILL), 128 + SIGKILL);
    server_ = start_server("broker", dir_.file("data"));
    ASSERT_TRUE(server_.proc);
    raw_client c(server_.address);
    int64_t offset = 0;
    while (offset < 50) {
        c.send(1, 4, 7, fetch_body_v4("durable", 0, offset));
        std::string response_5 = c.receive();
        reader r(response_5);
        r.int32();  // correlation
        r.int32();  // throttle
        ASSERT_EQ(r.array_length(false), 1);
        r.string(false);
        ASSERT_EQ(r.array_length(false), 1);
        r.int32();
        ASSERT_EQ(r.int16(), 0);
        EXPECT_EQ(r.int64(), 50);  // high watermark
        r.int64();
        r.array_length(false);
        auto records = r.nullable_bytes(false);
        ASSERT_TRUE(records && !records->empty()) << "offset " << offset;
        ASSERT_TRUE(for_each_batch(*records, [&](std::string_view batch) -> status {
                        auto h = read_header(batch);
                        EXPECT_EQ(h.base_offset, offset);
                        EXPECT_TRUE(validate_batch(batch).ok());
                        // Same records as produced: compare everything from the attributes on.
                        EXPECT_EQ(batch.substr(batch_format::k_attributes),
                                  std::string_view(acknowledged[offset]).substr(batch_format::k_attributes));
                        offset = h.last_offset() + 1;
                        return {};
                    }).ok());
    }
    EXPECT_EQ(offset, 50);
}

}  // namespace
}  // namespace millrace::kafka

namespace millrace::kafka {
namespace {

TEST(broker_start_test, unusable_data_directory_is_one_line_and_exit_2) {
    temp_dir dir;
    std::string not_a_dir = dir.file("file");
    std::ofstream(not_a_dir) << "x";
    millrace::testing::process p({millrace::testing::millrace_binary(), "broker", "--port", "0", "--admin-port", "0",
                                  "--data-dir", not_a_dir + "/data"});
    EXPECT_EQ(p.wait(), 2);
    std::string err = p.stderr_text();
    EXPECT_NE(err.find("millrace: broker: cannot"), std::string::npos) << err;
    EXPECT_NE(err.find(not_a_dir), std::string::npos) << err;
    EXPECT_EQ(p.stdout_text().find("ready"), std::string::npos);
}

// Sends `request` at `version` with generated codecs; decodes the reply.
template <typename Response, typename Request>
Response call(raw_client& c, const Request& request, int16_t version) {
    std::string body;
    writer w(body);
    request.encode(w, version);
    const bool flexible = version >= Request::k_first_flexible;
    c.send(static_cast<int16_t>(Request::k_api), version, 4242, body, flexible);
    std::string frame = c.receive();
    reader r(frame);
    EXPECT_EQ(r.int32(), 4242);
    r.skip_tags(flexible);  // response header v1
    Response response;
    response.decode(r, version);
    EXPECT_EQ(r.remaining(), 0u);
    return response;
}

void create_topic(raw_client& c, const std::string& name, int32_t partitions) {
    messages::create_topics_request request;
    auto& t = request.topics.emplace_back();
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = 1;
    auto response = call<messages::create_topics_response>(c, request, 7);
    ASSERT_EQ(response.topics.at(0).error_code, error_code::none);
}

int64_t earliest_offset(raw_client& c, const std::string& topic, int16_t version) {
    messages::list_offsets_request request;
    request.replica_id = -1;
    auto& t = request.topics.emplace_back();
    t.name = topic;
    t.partitions.push_back({0, -1, -2});
    auto response = call<messages::list_offsets_response>(c, request, version);
    EXPECT_EQ(response.topics.at(0).partitions.at(0).error_code, error_code::none);
    return response.topics.at(0).partitions.at(0).offset;
}

TEST_F(broker_protocol_test, delete_records_moves_the_log_start_durably) {
    start();
    {
        raw_client c(server_.address);
        create_topic(c, "trimmed", 1);
        for (int idx = 0; idx < 5; ++idx) {
            c.send(0, 3, 10 + idx, produce_body("trimmed", 0, testing::build_batch({{"k", std::to_string(idx)}})));
            ASSERT_FALSE(c.receive().empty());
        }
        messages::delete_records_request request;
        auto& t = request.topics.emplace_back();
        t.name = "trimmed";
        t.partitions.push_back({0, 3});
        t.partitions.push_back({7, 1});  // no such partition
        request.timeout_ms = 1000;
        auto response = call<messages::delete_records_response>(c, request, 2);
        EXPECT_EQ(response.topics.at(0).partitions.at(0).error_code, error_code::none);
        EXPECT_EQ(response.topics.at(0).partitions.at(0).low_watermark, 3);
        EXPECT_EQ(response.topics.at(0).partitions.at(1).error_code, error_code::unknown_topic_or_partition);
        EXPECT_EQ(earliest_offset(c, "trimmed", 10), 3);

        request.topics.at(0).partitions = {{0, 99}};  // beyond the log end
        response = call<messages::delete_records_response>(c, request, 0);
        EXPECT_EQ(response.topics.at(0).partitions.at(0).error_code, error_code::offset_out_of_range);

        c.send(1, 4, 8, fetch_body_v4("trimmed", 0, 1));  // below the new start
        std::string fetched = c.receive();
        reader r(fetched);
        r.int32();
        r.int32();
        r.array_length(false);
        r.string(false);
        r.array_length(false);
        r.int32();
        EXPECT_EQ(r.int16(), wire(error_code::offset_out_of_range));
    }
    ASSERT_EQ(server_.proc->stop(SIGTERM), 0);
    start();
    raw_client again(server_.address);
    EXPECT_EQ(earliest_offset(again, "trimmed", 1), 3);
    again.send(1, 4, 9, fetch_body_v4("trimmed", 0, 3));
    std::string fetched = again.receive();
    reader r(fetched);
    EXPECT_EQ(r.int32(), 9);
    messages::fetch_response response;
    response.decode(r, 4);
    const auto& partition = response.responses.at(0).partitions.at(0);
    EXPECT_EQ(partition.error_code, error_code::none);
    int records = 0;
    EXPECT_TRUE(for_each_batch(partition.records.value_or(""), [&](std::string_view batch) -> status {
                    return for_each_record(batch, [&](const record_view&) { ++records; });
                }).ok());
    EXPECT_EQ(records, 2);
}

TEST_F(broker_protocol_test, incremental_alter_configs_persists_and_applies_topic_configs) {
    start();
    {
        raw_client c(server_.address);
        create_topic(c, "configured", 1);
        messages::incremental_alter_configs_request request;
        auto& r = request.resources.emplace_back();
        r.resource_type = 2;
        r.resource_name = "configured";
        r.configs.push_back({"retention.ms", 0, "12345"});
        r.configs.push_back({"cleanup.policy", 2, "compact"});  // APPEND to "delete"
        auto response = call<messages::incremental_alter_configs_response>(c, request, 1);
        ASSERT_EQ(response.responses.at(0).error_code, error_code::none) << response.responses.at(0).error_message.value_or("");

        r.configs = {{"retention.ms", 0, "not-a-number"}};
        response = call<messages::incremental_alter_configs_response>(c, request, 0);
        EXPECT_EQ(response.responses.at(0).error_code, error_code::invalid_config);
        EXPECT_NE(response.responses.at(0).error_message.value_or("").find("retention.ms"), std::string::npos);

        r.resource_name = "missing";
        response = call<messages::incremental_alter_configs_response>(c, request, 1);
        EXPECT_EQ(response.responses.at(0).error_code, error_code::unknown_topic_or_partition);
    }
    ASSERT_EQ(server_.proc->stop(SIGTERM), 0);
    start();
    raw_client c(server_.address);
    messages::describe_configs_request describe;
    describe.resources.push_back({2, "configured", std::vector<std::string>{"retention.ms", "cleanup.policy"}});
    auto described = call<messages::describe_configs_response>(c, describe, 4);
    std::map<std::string, std::string> values;
    for (const auto& e : described.results.at(0).configs) values[e.name] = e.value.value_or("");
    EXPECT_EQ(values["retention.ms"], "12345");
    EXPECT_EQ(values["cleanup.policy"], "delete,compact");

    // AlterConfigs replaces the whole set: retention.ms returns to its default.
    messages::alter_configs_request alter;
    auto& ar = alter.resources.emplace_back();
    ar.resource_type = 2;
    ar.resource_name = "configured";
    ar.configs.push_back({"cleanup.policy", "compact"});
    auto altered = call<messages::alter_configs_response>(c, alter, 2);
    EXPECT_EQ(altered.responses.at(0).error_code, error_code::none);
    described = call<messages::describe_configs_response>(c, describe, 4);
    for (const auto& e : described.results.at(0).configs) {
        if (e.name == "retention.ms") {
            EXPECT_EQ(e.config_source, 5);  // DEFAULT_CONFIG
        }
        if (e.name == "cleanup.policy") {
            EXPECT_EQ(e.value, "compact");
        }
    }
}

TEST_F(broker_protocol_test, describe_log_dirs_producers_and_elect_leaders) {
    start();
    raw_client c(server_.address);
    create_topic(c, "sized", 2);
    testing::batch_options idempotent;
    idempotent.producer_id = 7;
    idempotent.producer_epoch = 0;
    idempotent.base_sequence = 0;
    c.send(0, 3, 1, produce_body("sized", 1, testing::build_batch({{"k", "v"}, {"k", "w"}}, idempotent)));
    ASSERT_FALSE(c.receive().empty());

    messages::describe_log_dirs_request dirs;  // null topics: everything
    auto described = call<messages::describe_log_dirs_response>(c, dirs, 4);
    ASSERT_EQ(described.results.size(), 1u);
    EXPECT_EQ(described.results[0].error_code, error_code::none);
    EXPECT_GT(described.results[0].total_bytes, 0);
    bool found = false;
    for (const auto& t : described.results[0].topics) {
        if (t.name != "sized") continue;
        found = true;
        ASSERT_EQ(t.partitions.size(), 2u);
        EXPECT_EQ(t.partitions[0].partition_size, 0);
        EXPECT_GT(t.partitions[1].partition_size, 0);
    }
    EXPECT_TRUE(found);

    messages::describe_producers_request producers;
    producers.topics.push_back({"sized", {0, 1, 5}});
    auto listed = call<messages::describe_producers_response>(c, producers, 0);
    const auto& partitions = listed.topics.at(0).partitions;
    EXPECT_TRUE(partitions.at(0).active_producers.empty());
    ASSERT_EQ(partitions.at(1).active_producers.size(), 1u);
    EXPECT_EQ(partitions.at(1).active_producers[0].producer_id, 7);
    EXPECT_EQ(partitions.at(1).active_producers[0].last_sequence, 1);
    EXPECT_EQ(partitions.at(2).error_code, error_code::unknown_topic_or_partition);

    messages::elect_leaders_request elect;
    elect.topic_partitions.emplace();
    elect.topic_partitions->push_back({"sized", {0}});
    auto elected = call<messages::elect_leaders_response>(c, elect, 2);
    EXPECT_EQ(elected.replica_election_results.at(0).partition_result.at(0).error_code, error_code::election_not_needed);
}

TEST_F(broker_protocol_test, incremental_fetch_sessions_send_only_what_changed) {
    start();
    raw_client c(server_.address);
    create_topic(c, "sessions", 2);
    auto fetch = [&](int32_t session_id, int32_t epoch, std::vector<int32_t> partitions, int16_t version = 12) {
        messages::fetch_request request;
        request.max_wait_ms = 0;
        request.min_bytes = 0;
        request.session_id = session_id;
        request.session_epoch = epoch;
        if (!partitions.empty()) {
            auto& t = request.topics.emplace_back();
            t.topic = "sessions";
            for (int32_t p : partitions) t.partitions.push_back({p, -1, 0, -1, -1, 1 << 20});
        }
        return call<messages::fetch_response>(c, request, version);
    };
    auto full = fetch(0, 0, {0, 1});
    EXPECT_EQ(full.error_code, error_code::none);
    ASSERT_NE(full.session_id, 0);
    EXPECT_EQ(full.responses.at(0).partitions.size(), 2u);

    auto nothing_new = fetch(full.session_id, 1, {});
    EXPECT_EQ(nothing_new.error_code, error_code::none);
    EXPECT_EQ(nothing_new.session_id, full.session_id);
    EXPECT_TRUE(nothing_new.responses.empty());

    c.send(0, 3, 5, produce_body("sessions", 1, testing::build_batch({{"k", "v"}})));
    ASSERT_FALSE(c.receive().empty());
    auto changed = fetch(full.session_id, 2, {});
    ASSERT_EQ(changed.responses.size(), 1u);
    ASSERT_EQ(changed.responses[0].partitions.size(), 1u);
    EXPECT_EQ(changed.responses[0].partitions[0].partition_index, 1);
    EXPECT_EQ(changed.responses[0].partitions[0].high_watermark, 1);
    EXPECT_FALSE(changed.responses[0].partitions[0].records.value_or("").empty());

    EXPECT_EQ(fetch(full.session_id, 2, {}).error_code, error_code::invalid_fetch_session_epoch);
    EXPECT_EQ(fetch(full.session_id + 1000, 1, {}).error_code, error_code::fetch_session_id_not_found);

    // Epoch -1 closes the session and fetches without one.
    auto closed = fetch(full.session_id, -1, {0});
    EXPECT_EQ(closed.session_id, 0);
    EXPECT_EQ(fetch(full.session_id, 3, {}).error_code, error_code::fetch_session_id_not_found);

    // v13+ sessions name topics by id.
    auto by_id = [&](int32_t session_id, int32_t epoch, const uuid& id) {
        messages::fetch_request request;
        request.session_id = session_id;
        request.session_epoch = epoch;
        auto& t = request.topics.emplace_back();
        t.topic_id = id;
        t.partitions.push_back({1, -1, 0, -1, -1, 1 << 20});
        return call<messages::fetch_response>(c, request, 18);
    };
    auto opened = by_id(0, 0, full.responses.at(0).topic_id);  // v12 answers carry no id: zero
    EXPECT_EQ(opened.responses.at(0).partitions.at(0).error_code, error_code::unknown_topic_id);
    messages::metadata_request metadata;
    metadata.topics.emplace().push_back({uuid{}, std::string("sessions")});
    auto described = call<messages::metadata_response>(c, metadata, 13);
    const uuid id = described.topics.at(0).topic_id;
    ASSERT_NE(id, uuid{});
    opened = by_id(0, 0, id);
    ASSERT_NE(opened.session_id, 0);
    EXPECT_EQ(opened.responses.at(0).topic_id, id);
    EXPECT_EQ(opened.responses.at(0).partitions.at(0).high_watermark, 1);
}

TEST_F(broker_protocol_test, dynamic_broker_configs_apply_at_once_and_survive_a_restart) {
    start();
    {
        raw_client c(server_.address);
        create_topic(c, "follows-broker", 1);
        messages::incremental_alter_configs_request request;
        auto& r = request.resources.emplace_back();
        r.resource_type = 4;
        r.resource_name = "1";
        r.configs.push_back({"log.retention.ms", 0, "3600000"});
        auto response = call<messages::incremental_alter_configs_response>(c, request, 1);
        ASSERT_EQ(response.responses.at(0).error_code, error_code::none) << response.responses.at(0).error_message.value_or("");
        r.configs = {{"num.partitions", 0, "4"}};
        response = call<messages::incremental_alter_configs_response>(c, request, 1);
        EXPECT_EQ(response.responses.at(0).error_code, error_code::invalid_config);
        r.configs = {{"log.segment.bytes", 0, "12"}};
        response = call<messages::incremental_alter_configs_response>(c, request, 1);
        EXPECT_EQ(response.responses.at(0).error_code, error_code::invalid_config);
    }
    ASSERT_EQ(server_.proc->stop(SIGTERM), 0);
    start();
    raw_client c(server_.address);
    messages::describe_configs_request describe;
    describe.resources.push_back({4, "1", std::vector<std::string>{"log.retention.ms", "log.segment.bytes"}});
    describe.resources.push_back({2, "follows-broker", std::vector<std::string>{"retention.ms"}});
    auto described = call<messages::describe_configs_response>(c, describe, 4);
    ASSERT_EQ(described.results.size(), 2u);
    for (const auto& e : described.results[0].configs) {
        if (e.name == "log.retention.ms") {
            EXPECT_EQ(e.value, "3600000");
            EXPECT_EQ(e.config_source, 2);  // DYNAMIC_BROKER_CONFIG
            EXPECT_FALSE(e.read_only);
        } else {
            EXPECT_NE(e.config_source, 2);
        }
    }
    ASSERT_EQ(described.results[1].configs.size(), 1u);
    EXPECT_EQ(described.results[1].configs[0].value, "3600000");
}

TEST_F(broker_protocol_test, topic_ids_are_stable_across_restarts_and_serve_fetch_by_id) {
    auto topic_id = [](raw_client& c) {
        messages::metadata_request request;
        request.topics.emplace().push_back({uuid{}, std::string("stable-id")});
        return call<messages::metadata_response>(c, request, 13).topics.at(0).topic_id;
    };
    start();
    uuid before{};
    {
        raw_client c(server_.address);
        create_topic(c, "stable-id", 1);
        before = topic_id(c);
        ASSERT_NE(before, uuid{});
        c.send(0, 3, 2, produce_body("stable-id", 0, testing::build_batch({{"k", "v"}})));
        ASSERT_FALSE(c.receive().empty());
    }
    ASSERT_EQ(server_.proc->stop(SIGTERM), 0);
    start();
    raw_client c(server_.address);
    EXPECT_EQ(topic_id(c), before);
    // Metadata v10+ asked by id alone answers with the name.
    messages::metadata_request by_id;
    by_id.topics.emplace().push_back({before, std::nullopt});
    auto described = call<messages::metadata_response>(c, by_id, 12);
    EXPECT_EQ(described.topics.at(0).name, "stable-id");
    messages::fetch_request fetch;
    fetch.max_wait_ms = 0;
    auto& t = fetch.topics.emplace_back();
    t.topic_id = before;
    t.partitions.push_back({0, -1, 0, -1, -1, 1 << 20});
    auto fetched = call<messages::fetch_response>(c, fetch, 13);
    EXPECT_EQ(fetched.responses.at(0).topic_id, before);
    EXPECT_EQ(fetched.responses.at(0).partitions.at(0).error_code, error_code::none);
    EXPECT_EQ(fetched.responses.at(0).partitions.at(0).high_watermark, 1);
}

}  // namespace
}  // namespace millrace::kafka
