// Round trips of every generated Kafka message in every version we serve:
// each field present in the version gets a distinct non-default value, is
// encoded, decoded and re-encoded, and must come back equal and byte-identical.
// Every truncation of a valid body must be a protocol_error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "kafka_messages_test_fill.h"

namespace millrace::kafka::messages {
namespace {

template <typename T>
std::string encoded(const T& value, int16_t version) {
    std::string buffer;
    writer out(buffer);
    value.encode(out, version);
    return buffer;
}

template <typename T>
void check_round_trips(const char* what) {
    for (int16_t version = T::k_min_version; version <= T::k_max_version; ++version) {
        SCOPED_TRACE(::testing::Message() << what << " v" << version);
        T original;
        int32_t seed = 0;
        test::fill(original, version, seed);
        std::string bytes = encoded(original, version);
        // Only a version without fields (ApiVersions v0-2, ListGroups v0-3) may look like the defaults.
        EXPECT_TRUE(!(original == T{}) || bytes.size() <= 1) << "fill left every field at its default";

        reader in(bytes);
        T decoded;
        decoded.decode(in, version);
        EXPECT_EQ(in.remaining(), 0u);
        EXPECT_TRUE(decoded == original);
        EXPECT_EQ(encoded(decoded, version), bytes);

        for (size_t length = 0; length < bytes.size(); ++length) {
            reader truncated(std::string_view(bytes).substr(0, length));
            T partial;
            EXPECT_THROW(partial.decode(truncated, version), protocol_error) << "prefix of " << length << " bytes";
        }
    }
}

TEST(messages_test, every_message_round_trips_in_every_version) {
    test::for_each_api([]<typename Request, typename Response>() {
        check_round_trips<Request>("request");
        check_round_trips<Response>("response");
    });
}

TEST(messages_test, decode_any_request_covers_every_api_and_version) {
    size_t decoded = 0;
    test::for_each_api([&]<typename Request, typename Response>() {
        for (int16_t version = Request::k_min_version; version <= Request::k_max_version; ++version) {
            Request original;
            int32_t seed = 0;
            test::fill(original, version, seed);
            std::string bytes = encoded(original, version);
            EXPECT_TRUE(decode_any_request(static_cast<int16_t>(Request::k_api), version, bytes));
            ++decoded;
        }
        EXPECT_FALSE(decode_any_request(static_cast<int16_t>(Request::k_api), Request::k_max_version + 1, ""));
    });
    EXPECT_GT(decoded, 100u);
    EXPECT_FALSE(decode_any_request(-1, 0, ""));
}

TEST(messages_test, trailing_bytes_are_a_protocol_error) {
    heartbeat_request request;
    request.group_id = "g";
    std::string bytes = encoded(request, 4);
    bytes.push_back('\0');
    EXPECT_THROW(decode_any_request(static_cast<int16_t>(api_key::heartbeat), 4, bytes), protocol_error);
}

TEST(messages_test, unknown_tagged_fields_are_skipped) {
    heartbeat_request request;
    request.group_id = "g";
    std::string bytes = encoded(request, 4);
    // Replace the empty tag section with one unknown tag (99) of 2 bytes.
    ASSERT_EQ(bytes.back(), '\0');
    bytes.pop_back();
    bytes += std::string("\x01\x63\x02xy", 5);
    reader in(bytes);
    heartbeat_request decoded;
    decoded.decode(in, 4);
    EXPECT_EQ(in.remaining(), 0u);
    EXPECT_TRUE(decoded == request);
}

TEST(messages_test, null_array_where_not_nullable_is_a_protocol_error) {
    // Metadata v0: the topic array may not be null (v1+ may).
    std::string bytes("\xff\xff\xff\xff", 4);
    reader in(bytes);
    metadata_request request;
    EXPECT_THROW(request.decode(in, 0), protocol_error);
    reader in1(bytes);
    request.decode(in1, 1);
    EXPECT_FALSE(request.topics.has_value());
}

TEST(messages_test, tagged_fields_keep_their_values) {
    fetch_response response;
    response.responses.emplace_back();
    auto& partition = response.responses.back().partitions.emplace_back();
    partition.current_leader.leader_id = 7;
    partition.current_leader.leader_epoch = 3;
    std::string bytes = encoded(response, 12);
    reader in(bytes);
    fetch_response decoded;
    decoded.decode(in, 12);
    EXPECT_EQ(decoded.responses.at(0).partitions.at(0).current_leader.leader_id, 7);
    // Before v12 the tag does not exist: the field keeps its default.
    bytes = encoded(response, 11);
    reader in11(bytes);
    fetch_response old;
    old.decode(in11, 11);
    EXPECT_EQ(old.responses.at(0).partitions.at(0).current_leader.leader_id, -1);
}

// Requests captured from real clients by tests/kafka/messages/capture.py
// (kcat and the rdkafka suite: librdkafka; the Java client 4.x; kafkajs): each
// decodes completely and re-encodes to the very same bytes.
TEST(messages_test, captured_client_requests_reencode_identically) {
    namespace fs = std::filesystem;
    const fs::path root = MILLRACE_CAPTURED_DIR;
    size_t checked = 0;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file() || entry.path().extension() != ".bin") continue;
        SCOPED_TRACE(entry.path().string());
        std::ifstream file(entry.path(), std::ios::binary);
        std::stringstream content;
        content << file.rdbuf();
        const std::string frame = content.str();
        reader header(frame);
        const int16_t key = header.int16();
        const int16_t version = header.int16();
        header.int32();  // correlation id
        header.nullable_string(false);  // client id: a classic string in every header version
        const api_spec* spec = find_api(key);
        ASSERT_NE(spec, nullptr) << "api " << key << " is not served";
        if (version >= spec->first_flexible) header.skip_tags(true);
        const std::string body(frame.substr(header.position()));
        bool matched = false;
        test::for_each_api([&]<typename Request, typename Response>() {
            if (static_cast<int16_t>(Request::k_api) != key) return;
            matched = true;
            reader in(body);
            Request request;
            request.decode(in, version);
            EXPECT_EQ(in.remaining(), 0u);
            EXPECT_EQ(encoded(request, version), body);
            EXPECT_TRUE(round_trip_any_request(key, version, body));
        });
        EXPECT_TRUE(matched);
        ++checked;
    }
    EXPECT_GE(checked, 40u) << "captured requests missing under " << root;
}

}  // namespace
}  // namespace millrace::kafka::messages
