#include "decode.h"

#include <gtest/gtest.h>

#include "history.h"

namespace millrace::console {
namespace {

TEST(decode_test, json_object_is_parsed) {
    auto out = decode_payload(std::string(R"({"a":1,"b":[true]})"), {});
    EXPECT_EQ(out["format"], "json");
    EXPECT_EQ(out["value"]["a"], 1);
    EXPECT_EQ(out["size"], 18);
}

TEST(decode_test, scalars_and_plain_words_are_text) {
    EXPECT_EQ(decode_payload(std::string("42"), {})["format"], "text");
    EXPECT_EQ(decode_payload(std::string("hello wörld"), {})["value"], "hello wörld");
}

TEST(decode_test, null_and_empty) {
    EXPECT_EQ(decode_payload(std::nullopt, {})["format"], "null");
    auto empty = decode_payload(std::string(), {});
    EXPECT_EQ(empty["format"], "text");
    EXPECT_EQ(empty["value"], "");
}

TEST(decode_test, invalid_utf8_and_control_bytes_are_base64) {
    auto out = decode_payload(std::string("\xff\xfe\x01", 3), {});
    EXPECT_EQ(out["format"], "binary");
    EXPECT_EQ(out["value"], "//4B");
    EXPECT_EQ(decode_payload(std::string("a\x01" "b"), {})["format"], "binary");
    EXPECT_EQ(decode_payload(std::string("\xe2\x82", 2), {})["format"], "binary");  // truncated sequence
}

TEST(decode_test, confluent_framing_goes_to_the_avro_decoder) {
    std::string framed("\x00\x00\x00\x01\x2a" "body", 9);
    int32_t seen_id = 0;
    std::string seen_body;
    avro_decoder avro = [&](int32_t id, std::string_view body) -> result<nlohmann::ordered_json> {
        seen_id = id;
        seen_body = std::string(body);
        return nlohmann::ordered_json{{"decoded", true}};
    };
    auto out = decode_payload(framed, avro);
    EXPECT_EQ(out["format"], "avro");
    EXPECT_EQ(out["schema_id"], 298);
    EXPECT_EQ(out["value"]["decoded"], true);
    EXPECT_EQ(seen_id, 298);
    EXPECT_EQ(seen_body, "body");
}

TEST(decode_test, framed_payload_that_cannot_be_decoded_says_why) {
    std::string framed("\x00\x00\x00\x00\x07xyz", 8);
    avro_decoder failing = [](int32_t id, std::string_view) -> result<nlohmann::ordered_json> {
        return make_error(errc::not_found, "schema {} not found", id);
    };
    auto out = decode_payload(framed, failing);
    EXPECT_EQ(out["format"], "binary");
    EXPECT_EQ(out["schema_id"], 7);
    EXPECT_EQ(out["error"], "schema 7 not found");
    EXPECT_EQ(decode_payload(framed, {})["error"], "Confluent-framed payload, but no schema registry to decode it");
}

TEST(decode_test, base64_pads_correctly) {
    EXPECT_EQ(base64(""), "");
    EXPECT_EQ(base64("f"), "Zg==");
    EXPECT_EQ(base64("fo"), "Zm8=");
    EXPECT_EQ(base64("foo"), "Zm9v");
    EXPECT_EQ(base64("foob"), "Zm9vYg==");
}

TEST(history_test, ring_keeps_the_newest_points_in_order) {
    history h(3, 10);
    for (int idx = 1; idx <= 5; ++idx) h.record("records_in", idx * 1000, idx);
    auto points = h.points("records_in");
    ASSERT_EQ(points.size(), 3u);
    EXPECT_EQ(points[0].time_ms, 3000);
    EXPECT_EQ(points[2].value, 5);
    EXPECT_EQ(h.points("records_in", 4000).size(), 2u);
    point latest;
    ASSERT_TRUE(h.latest("records_in", latest));
    EXPECT_EQ(latest.value, 5);
    EXPECT_TRUE(h.points("unknown").empty());
}

TEST(history_test, series_count_is_bounded_and_stale_series_are_forgotten) {
    history h(4, 2);
    h.record("lag/a", 1000, 1);
    h.record("lag/b", 5000, 2);
    h.record("lag/c", 5000, 3);  // over max_series: dropped
    EXPECT_EQ(h.dropped_series(), 1u);
    EXPECT_EQ(h.names("lag/"), (std::vector<std::string>{"lag/a", "lag/b"}));
    h.forget_stale("lag/", 2000);
    EXPECT_EQ(h.names("lag/"), (std::vector<std::string>{"lag/b"}));
    h.record("lag/c", 6000, 3);  // room again
    EXPECT_EQ(h.names(), (std::vector<std::string>{"lag/b", "lag/c"}));
}

}  // namespace
}  // namespace millrace::console
