#include "group/group_wire.h"

#include <functional>

#include <gtest/gtest.h>

namespace millrace::kafka {
namespace {

std::string build(const std::function<void(writer&)>& fill) {
    std::string out;
    writer w(out);
    fill(w);
    return out;
}

// ---- JoinGroup ----

TEST(group_wire_test, join_group_request_v0_has_no_rebalance_timeout) {
    std::string body = build([](writer& w) {
        w.string("g", false);
        w.int32(10'000);
        w.string("", false);
        w.string("consumer", false);
        w.array_length(1, false);
        w.string("range", false);
        w.bytes("meta", false);
    });
    reader in(body);
    auto req = decode_join_group(in, 0);
    EXPECT_EQ(in.remaining(), 0u);
    EXPECT_EQ(req.group_id, "g");
    EXPECT_EQ(req.session_timeout_ms, 10'000);
    EXPECT_EQ(req.rebalance_timeout_ms, -1);
    EXPECT_FALSE(req.require_known_member_id);
    ASSERT_EQ(req.protocols.size(), 1u);
    EXPECT_EQ(req.protocols[0].name, "range");
    EXPECT_EQ(req.protocols[0].metadata, "meta");
}

TEST(group_wire_test, join_group_request_v5_carries_instance_id) {
    std::string body = build([](writer& w) {
        w.string("g", false);
        w.int32(10'000);
        w.int32(60'000);
        w.string("m-1", false);
        w.nullable_string(std::optional<std::string>("instance"), false);
        w.string("consumer", false);
        w.array_length(0, false);
    });
    reader in(body);
    auto req = decode_join_group(in, 5);
    EXPECT_EQ(in.remaining(), 0u);
    EXPECT_EQ(req.rebalance_timeout_ms, 60'000);
    EXPECT_EQ(req.member_id, "m-1");
    EXPECT_EQ(req.group_instance_id, "instance");
    EXPECT_TRUE(req.require_known_member_id);
    EXPECT_FALSE(req.supports_skip_assignment);
}

TEST(group_wire_test, join_group_request_v8_is_flexible_with_reason) {
    std::string body = build([](writer& w) {
        w.string("g", true);
        w.int32(10'000);
        w.int32(60'000);
        w.string("", true);
        w.nullable_string(std::nullopt, true);
        w.string("consumer", true);
        w.array_length(2, true);
        w.string("range", true);
        w.bytes("r", true);
        w.empty_tags(true);
        w.string("cooperative-sticky", true);
        w.bytes("c", true);
        w.uvarint(1);  // one unknown tagged field, skipped
        w.uvarint(7);
        w.uvarint(2);
        w.raw("xy");
        w.nullable_string(std::optional<std::string>("rebalance needed"), true);
        w.empty_tags(true);
    });
    reader in(body);
    auto req = decode_join_group(in, 8);
    EXPECT_EQ(in.remaining(), 0u);
    EXPECT_FALSE(req.group_instance_id.has_value());
    ASSERT_EQ(req.protocols.size(), 2u);
    EXPECT_EQ(req.protocols[1].name, "cooperative-sticky");
    EXPECT_EQ(req.protocols[1].metadata, "c");
    EXPECT_EQ(req.reason, "rebalance needed");
}

join_group_result sample_join_result() {
    join_group_result r;
    r.generation_id = 3;
    r.protocol_type = "consumer";
    r.protocol_name = "range";
    r.leader_id = "m-1";
    r.member_id = "m-1";
    r.skip_assignment = true;
    r.members.push_back(join_group_member{"m-1", std::string("i-1"), "meta-1"});
    return r;
}

TEST(group_wire_test, join_group_response_v0_and_v2) {
    std::string v0 = build([](writer& w) { encode_join_group(w, 0, sample_join_result()); });
    reader in(v0);
    EXPECT_EQ(in.int16(), 0);
    EXPECT_EQ(in.int32(), 3);
    EXPECT_EQ(in.string(false), "range");
    EXPECT_EQ(in.string(false), "m-1");
    EXPECT_EQ(in.string(false), "m-1");
    EXPECT_EQ(in.array_length(false), 1);
    EXPECT_EQ(in.string(false), "m-1");
    EXPECT_EQ(in.bytes(false), "meta-1");  // no instance id before v5
    EXPECT_EQ(in.remaining(), 0u);

    std::string v2 = build([](writer& w) { encode_join_group(w, 2, sample_join_result()); });
    EXPECT_EQ(v2.size(), v0.size() + 4);  // throttle_time_ms
    EXPECT_EQ(v2.substr(4), v0);
}

TEST(group_wire_test, join_group_response_v6_writes_empty_protocol_name_for_errors) {
    join_group_result r;
    r.error = error_code::member_id_required;
    r.member_id = "new-id";
    std::string v6 = build([&](writer& w) { encode_join_group(w, 6, r); });
    reader in(v6);
    EXPECT_EQ(in.int32(), 0);
    EXPECT_EQ(in.int16(), wire(error_code::member_id_required));
    EXPECT_EQ(in.int32(), -1);
    EXPECT_EQ(in.string(true), "");  // protocol_name is not nullable before v7
    EXPECT_EQ(in.string(true), "");
    EXPECT_EQ(in.string(true), "new-id");
    EXPECT_EQ(in.array_length(true), 0);
    in.skip_tags(true);
    EXPECT_EQ(in.remaining(), 0u);

    std::string v7 = build([&](writer& w) { encode_join_group(w, 7, r); });
    reader in7(v7);
    in7.int32();
    in7.int16();
    in7.int32();
    EXPECT_FALSE(in7.nullable_string(true).has_value());  // protocol_type
    EXPECT_FALSE(in7.nullable_string(true).has_value());  // protocol_name
}

TEST(group_wire_test, join_group_response_v9_has_skip_assignment_and_instance_ids) {
    std::string body = build([](writer& w) { encode_join_group(w, 9, sample_join_result()); });
    reader in(body);
    EXPECT_EQ(in.int32(), 0);
    EXPECT_EQ(in.int16(), 0);
    EXPECT_EQ(in.int32(), 3);
    EXPECT_EQ(in.nullable_string(true), "consumer");
    EXPECT_EQ(in.nullable_string(true), "range");
    EXPECT_EQ(in.string(true), "m-1");
    EXPECT_TRUE(in.boolean());
    EXPECT_EQ(in.string(true), "m-1");
    EXPECT_EQ(in.array_length(true), 1);
    EXPECT_EQ(in.string(true), "m-1");
    EXPECT_EQ(in.nullable_string(true), "i-1");
    EXPECT_EQ(in.bytes(true), "meta-1");
    in.skip_tags(true);
    in.skip_tags(true);
    EXPECT_EQ(in.remaining(), 0u);
}

// ---- SyncGroup ----

TEST(group_wire_test, sync_group_request_versions) {
    std::string v0 = build([](writer& w) {
        w.string("g", false);
        w.int32(4);
        w.string("m-1", false);
        w.array_length(1, false);
        w.string("m-1", false);
        w.bytes("assignment", false);
    });
    reader in0(v0);
    auto r0 = decode_sync_group(in0, 0);
    EXPECT_EQ(in0.remaining(), 0u);
    EXPECT_EQ(r0.generation_id, 4);
    ASSERT_EQ(r0.assignments.size(), 1u);
    EXPECT_EQ(r0.assignments[0].second, "assignment");
    EXPECT_FALSE(r0.protocol_type.has_value());

    std::string v5 = build([](writer& w) {
        w.string("g", true);
        w.int32(4);
        w.string("m-1", true);
        w.nullable_string(std::optional<std::string>("i"), true);
        w.nullable_string(std::optional<std::string>("consumer"), true);
        w.nullable_string(std::optional<std::string>("range"), true);
        w.array_length(0, true);
        w.empty_tags(true);
    });
    reader in5(v5);
    auto r5 = decode_sync_group(in5, 5);
    EXPECT_EQ(in5.remaining(), 0u);
    EXPECT_EQ(r5.group_instance_id, "i");
    EXPECT_EQ(r5.protocol_type, "consumer");
    EXPECT_EQ(r5.protocol_name, "range");
}

TEST(group_wire_test, sync_group_response_versions) {
    sync_group_result r{error_code::none, std::string("consumer"), std::string("range"), "abc"};
    std::string v0 = build([&](writer& w) { encode_sync_group(w, 0, r); });
    EXPECT_EQ(v0, build([](writer& w) {
                  w.int16(0);
                  w.bytes("abc", false);
              }));
    std::string v5 = build([&](writer& w) { encode_sync_group(w, 5, r); });
    EXPECT_EQ(v5, build([](writer& w) {
                  w.int32(0);
                  w.int16(0);
                  w.string("consumer", true);
                  w.string("range", true);
                  w.bytes("abc", true);
                  w.empty_tags(true);
              }));
}

// ---- Heartbeat ----

TEST(group_wire_test, heartbeat_versions) {
    std::string v3 = build([](writer& w) {
        w.string("g", false);
        w.int32(2);
        w.string("m", false);
        w.nullable_string(std::optional<std::string>("i"), false);
    });
    reader in(v3);
    auto req = decode_heartbeat(in, 3);
    EXPECT_EQ(in.remaining(), 0u);
    EXPECT_EQ(req.generation_id, 2);
    EXPECT_EQ(req.group_instance_id, "i");
    EXPECT_EQ(build([](writer& w) { encode_heartbeat(w, 0, error_code::rebalance_in_progress); }),
              build([](writer& w) { w.int16(27); }));
    EXPECT_EQ(build([](writer& w) { encode_heartbeat(w, 4, error_code::none); }), build([](writer& w) {
                  w.int32(0);
                  w.int16(0);
                  w.empty_tags(true);
              }));
}

// ---- LeaveGroup ----

TEST(group_wire_test, leave_group_single_member_before_v3) {
    std::string body = build([](writer& w) {
        w.string("g", false);
        w.string("m-1", false);
    });
    reader in(body);
    auto req = decode_leave_group(in, 1);
    ASSERT_EQ(req.members.size(), 1u);
    EXPECT_EQ(req.members[0].member_id, "m-1");
    leave_group_result result{error_code::none, {error_code::unknown_member_id}};
    EXPECT_EQ(build([&](writer& w) { encode_leave_group(w, 0, req, result); }), build([](writer& w) { w.int16(25); }));
    EXPECT_EQ(build([&](writer& w) { encode_leave_group(w, 1, req, result); }), build([](writer& w) {
                  w.int32(0);
                  w.int16(25);
              }));
}

TEST(group_wire_test, leave_group_batch_v5_with_reasons) {
    std::string body = build([](writer& w) {
        w.string("g", true);
        w.array_length(2, true);
        w.string("m-1", true);
        w.nullable_string(std::nullopt, true);
        w.nullable_string(std::optional<std::string>("bye"), true);
        w.empty_tags(true);
        w.string("", true);
        w.nullable_string(std::optional<std::string>("i-2"), true);
        w.nullable_string(std::nullopt, true);
        w.empty_tags(true);
        w.empty_tags(true);
    });
    reader in(body);
    auto req = decode_leave_group(in, 5);
    EXPECT_EQ(in.remaining(), 0u);
    ASSERT_EQ(req.members.size(), 2u);
    EXPECT_EQ(req.members[0].reason, "bye");
    EXPECT_EQ(req.members[1].group_instance_id, "i-2");
    leave_group_result result{error_code::none, {error_code::none, error_code::fenced_instance_id}};
    std::string out = build([&](writer& w) { encode_leave_group(w, 5, req, result); });
    reader r(out);
    EXPECT_EQ(r.int32(), 0);
    EXPECT_EQ(r.int16(), 0);
    EXPECT_EQ(r.array_length(true), 2);
    EXPECT_EQ(r.string(true), "m-1");
    EXPECT_FALSE(r.nullable_string(true).has_value());
    EXPECT_EQ(r.int16(), 0);
    r.skip_tags(true);
    EXPECT_EQ(r.string(true), "");
    EXPECT_EQ(r.nullable_string(true), "i-2");
    EXPECT_EQ(r.int16(), wire(error_code::fenced_instance_id));
    r.skip_tags(true);
    r.skip_tags(true);
    EXPECT_EQ(r.remaining(), 0u);
}

// ---- OffsetCommit ----

std::string offset_commit_body(int16_t version) {
    bool flex = version >= 8;
    return build([&](writer& w) {
        w.string("g", flex);
        if (version >= 1) {
            w.int32(5);
            w.string("m-1", flex);
        }
        if (version >= 7) w.nullable_string(std::optional<std::string>("i"), flex);
        if (version >= 2 && version <= 4) w.int64(86'400'000);
        w.array_length(1, flex);
        w.string("t", flex);
        w.array_length(2, flex);
        for (int32_t partition = 0; partition < 2; ++partition) {
            w.int32(partition);
            w.int64(100 + partition);
            if (version >= 6) w.int32(9);
            if (version == 1) w.int64(1234);
            if (partition == 0) {
                w.nullable_string(std::optional<std::string>("meta"), flex);
            } else {
                w.nullable_string(std::nullopt, flex);
            }
            w.empty_tags(flex);
        }
        w.empty_tags(flex);
        w.empty_tags(flex);
    });
}

TEST(group_wire_test, offset_commit_request_every_version) {
    for (int16_t version = 0; version <= 8; ++version) {
        SCOPED_TRACE(version);
        std::string body = offset_commit_body(version);
        reader in(body);
        auto req = decode_offset_commit(in, version);
        EXPECT_EQ(in.remaining(), 0u);
        EXPECT_EQ(req.group_id, "g");
        EXPECT_EQ(req.generation_id, version >= 1 ? 5 : -1);
        EXPECT_EQ(req.member_id, version >= 1 ? "m-1" : "");
        EXPECT_EQ(req.group_instance_id.has_value(), version >= 7);
        EXPECT_EQ(req.retention_time_ms, version >= 2 && version <= 4 ? 86'400'000 : -1);
        ASSERT_EQ(req.topics.size(), 1u);
        ASSERT_EQ(req.topics[0].partitions.size(), 2u);
        const auto& p0 = req.topics[0].partitions[0];
        EXPECT_EQ(p0.offset, 100);
        EXPECT_EQ(p0.leader_epoch, version >= 6 ? 9 : -1);
        EXPECT_EQ(p0.commit_timestamp, version == 1 ? 1234 : -1);
        EXPECT_EQ(p0.metadata, "meta");
        EXPECT_FALSE(req.topics[0].partitions[1].metadata.has_value());
    }
}

TEST(group_wire_test, offset_commit_response_versions) {
    std::vector<topic_result> topics = {{"t", {{0, error_code::none}, {1, error_code::unknown_topic_or_partition}}}};
    auto expected = [](bool throttle, bool flex) {
        return build([&](writer& w) {
            if (throttle) w.int32(0);
            w.array_length(1, flex);
            w.string("t", flex);
            w.array_length(2, flex);
            w.int32(0);
            w.int16(0);
            w.empty_tags(flex);
            w.int32(1);
            w.int16(3);
            w.empty_tags(flex);
            w.empty_tags(flex);
            w.empty_tags(flex);
        });
    };
    EXPECT_EQ(build([&](writer& w) { encode_offset_commit(w, 2, topics); }), expected(false, false));
    EXPECT_EQ(build([&](writer& w) { encode_offset_commit(w, 3, topics); }), expected(true, false));
    EXPECT_EQ(build([&](writer& w) { encode_offset_commit(w, 8, topics); }), expected(true, true));
}

// ---- OffsetFetch ----

TEST(group_wire_test, offset_fetch_request_topics_and_null_topics) {
    std::string v1 = build([](writer& w) {
        w.string("g", false);
        w.array_length(1, false);
        w.string("t", false);
        w.array_length(2, false);
        w.int32(0);
        w.int32(3);
    });
    reader in1(v1);
    auto r1 = decode_offset_fetch(in1, 1);
    EXPECT_EQ(in1.remaining(), 0u);
    ASSERT_TRUE(r1.topics.has_value());
    EXPECT_EQ((*r1.topics)[0].second, (std::vector<int32_t>{0, 3}));

    std::string v2 = build([](writer& w) {
        w.string("g", false);
        w.array_length(-1, false);
    });
    reader in2(v2);
    EXPECT_FALSE(decode_offset_fetch(in2, 2).topics.has_value());

    std::string v7 = build([](writer& w) {
        w.string("g", true);
        w.array_length(-1, true);
        w.boolean(true);
        w.empty_tags(true);
    });
    reader in7(v7);
    auto r7 = decode_offset_fetch(in7, 7);
    EXPECT_EQ(in7.remaining(), 0u);
    EXPECT_FALSE(r7.topics.has_value());
    EXPECT_TRUE(r7.require_stable);
}

TEST(group_wire_test, offset_fetch_response_versions) {
    std::vector<fetched_topic> topics = {{"t", {{0, 42, 7, std::string("m"), error_code::none}}}};
    auto expected = [](int16_t version) {
        bool flex = version >= 6;
        return build([&](writer& w) {
            if (version >= 3) w.int32(0);
            w.array_length(1, flex);
            w.string("t", flex);
            w.array_length(1, flex);
            w.int32(0);
            w.int64(42);
            if (version >= 5) w.int32(7);
            w.string("m", flex);
            w.int16(0);
            w.empty_tags(flex);
            w.empty_tags(flex);
            if (version >= 2) w.int16(0);
            w.empty_tags(flex);
        });
    };
    for (int16_t version = 0; version <= 7; ++version) {
        SCOPED_TRACE(version);
        EXPECT_EQ(build([&](writer& w) { encode_offset_fetch(w, version, topics, error_code::none); }), expected(version));
    }
    // Before v2 a group-wide error lands on each partition.
    std::string v1 = build([&](writer& w) { encode_offset_fetch(w, 1, topics, error_code::not_coordinator); });
    EXPECT_EQ(v1.substr(v1.size() - 2), build([](writer& w) { w.int16(16); }));
}

// ---- FindCoordinator ----

TEST(group_wire_test, find_coordinator_requests) {
    std::string v0 = build([](writer& w) { w.string("g", false); });
    reader in0(v0);
    auto r0 = decode_find_coordinator(in0, 0);
    EXPECT_EQ(r0.keys, std::vector<std::string>{"g"});
    EXPECT_EQ(r0.key_type, 0);

    std::string v3 = build([](writer& w) {
        w.string("txn", true);
        w.int8(1);
        w.empty_tags(true);
    });
    reader in3(v3);
    auto r3 = decode_find_coordinator(in3, 3);
    EXPECT_EQ(in3.remaining(), 0u);
    EXPECT_EQ(r3.key_type, 1);
    EXPECT_EQ(r3.keys, std::vector<std::string>{"txn"});

    std::string v4 = build([](writer& w) {
        w.int8(0);
        w.array_length(2, true);
        w.string("a", true);
        w.string("b", true);
        w.empty_tags(true);
    });
    reader in4(v4);
    auto r4 = decode_find_coordinator(in4, 4);
    EXPECT_EQ(in4.remaining(), 0u);
    EXPECT_EQ(r4.keys, (std::vector<std::string>{"a", "b"}));
}

TEST(group_wire_test, find_coordinator_responses) {
    std::vector<coordinator_answer> answers = {{"a", 1, "localhost", 9092, error_code::none, std::nullopt},
                                               {"b", -1, "", -1, error_code::coordinator_not_available, "no"}};
    EXPECT_EQ(build([&](writer& w) { encode_find_coordinator(w, 0, answers); }), build([](writer& w) {
                  w.int16(0);
                  w.int32(1);
                  w.string("localhost", false);
                  w.int32(9092);
              }));
    EXPECT_EQ(build([&](writer& w) { encode_find_coordinator(w, 3, answers); }), build([](writer& w) {
                  w.int32(0);
                  w.int16(0);
                  w.nullable_string(std::nullopt, true);
                  w.int32(1);
                  w.string("localhost", true);
                  w.int32(9092);
                  w.empty_tags(true);
              }));
    EXPECT_EQ(build([&](writer& w) { encode_find_coordinator(w, 4, answers); }), build([](writer& w) {
                  w.int32(0);
                  w.array_length(2, true);
                  w.string("a", true);
                  w.int32(1);
                  w.string("localhost", true);
                  w.int32(9092);
                  w.int16(0);
                  w.nullable_string(std::nullopt, true);
                  w.empty_tags(true);
                  w.string("b", true);
                  w.int32(-1);
                  w.string("", true);
                  w.int32(-1);
                  w.int16(15);
                  w.string("no", true);
                  w.empty_tags(true);
                  w.empty_tags(true);
              }));
}

// ---- ListGroups, DescribeGroups, DeleteGroups ----

TEST(group_wire_test, list_groups_versions) {
    std::string v0;
    reader in0(v0);
    EXPECT_TRUE(decode_list_groups(in0, 0).states_filter.empty());
    std::string v4 = build([](writer& w) {
        w.array_length(1, true);
        w.string("Stable", true);
        w.empty_tags(true);
    });
    reader in4(v4);
    EXPECT_EQ(decode_list_groups(in4, 4).states_filter, std::vector<std::string>{"Stable"});
    EXPECT_EQ(in4.remaining(), 0u);

    std::vector<group_listing> groups = {{"g", "consumer", group_state::stable}};
    EXPECT_EQ(build([&](writer& w) { encode_list_groups(w, 0, error_code::none, groups); }), build([](writer& w) {
                  w.int16(0);
                  w.array_length(1, false);
                  w.string("g", false);
                  w.string("consumer", false);
              }));
    EXPECT_EQ(build([&](writer& w) { encode_list_groups(w, 4, error_code::none, groups); }), build([](writer& w) {
                  w.int32(0);
                  w.int16(0);
                  w.array_length(1, true);
                  w.string("g", true);
                  w.string("consumer", true);
                  w.string("Stable", true);
                  w.empty_tags(true);
                  w.empty_tags(true);
              }));
}

TEST(group_wire_test, describe_groups_versions) {
    std::string v5 = build([](writer& w) {
        w.array_length(1, true);
        w.string("g", true);
        w.boolean(true);
        w.empty_tags(true);
    });
    reader in(v5);
    auto req = decode_describe_groups(in, 5);
    EXPECT_EQ(in.remaining(), 0u);
    EXPECT_EQ(req.groups, std::vector<std::string>{"g"});
    EXPECT_TRUE(req.include_authorized_operations);

    group_description d;
    d.group_id = "g";
    d.state = "Stable";
    d.protocol_type = "consumer";
    d.protocol_data = "range";
    d.members.push_back(described_member{"m", std::string("i"), "client", "/10.0.0.1", "md", "as"});
    std::string out = build([&](writer& w) { encode_describe_groups(w, 5, {d}, 328); });
    EXPECT_EQ(out, build([](writer& w) {
                  w.int32(0);
                  w.array_length(1, true);
                  w.int16(0);
                  w.string("g", true);
                  w.string("Stable", true);
                  w.string("consumer", true);
                  w.string("range", true);
                  w.array_length(1, true);
                  w.string("m", true);
                  w.string("i", true);
                  w.string("client", true);
                  w.string("/10.0.0.1", true);
                  w.bytes("md", true);
                  w.bytes("as", true);
                  w.empty_tags(true);
                  w.int32(328);
                  w.empty_tags(true);
                  w.empty_tags(true);
              }));
    std::string v0 = build([&](writer& w) { encode_describe_groups(w, 0, {d}, std::nullopt); });
    EXPECT_EQ(v0, build([](writer& w) {
                  w.array_length(1, false);
                  w.int16(0);
                  w.string("g", false);
                  w.string("Stable", false);
                  w.string("consumer", false);
                  w.string("range", false);
                  w.array_length(1, false);
                  w.string("m", false);
                  w.string("client", false);
                  w.string("/10.0.0.1", false);
                  w.bytes("md", false);
                  w.bytes("as", false);
              }));
    std::string v3 = build([&](writer& w) { encode_describe_groups(w, 3, {}, std::nullopt); });
    EXPECT_EQ(v3, build([](writer& w) {
                  w.int32(0);
                  w.array_length(0, false);
              }));
}

TEST(group_wire_test, delete_groups_versions) {
    std::string v2 = build([](writer& w) {
        w.array_length(2, true);
        w.string("a", true);
        w.string("b", true);
        w.empty_tags(true);
    });
    reader in(v2);
    EXPECT_EQ(decode_delete_groups(in, 2), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(in.remaining(), 0u);
    std::vector<std::pair<std::string, error_code>> results = {{"a", error_code::none},
                                                               {"b", error_code::non_empty_group}};
    EXPECT_EQ(build([&](writer& w) { encode_delete_groups(w, 0, results); }), build([](writer& w) {
                  w.int32(0);
                  w.array_length(2, false);
                  w.string("a", false);
                  w.int16(0);
                  w.string("b", false);
                  w.int16(68);
              }));
}

TEST(group_wire_test, truncated_request_throws_protocol_error) {
    std::string body = offset_commit_body(8);
    for (size_t cut : {size_t{0}, size_t{1}, body.size() / 2, body.size() - 1}) {
        SCOPED_TRACE(cut);
        reader in(std::string_view(body).substr(0, cut));
        EXPECT_THROW(decode_offset_commit(in, 8), protocol_error);
    }
    std::string join = build([](writer& w) {
        w.string("g", false);
        w.int32(1);
    });
    reader in(join);
    EXPECT_THROW(decode_join_group(in, 1), protocol_error);
}

TEST(group_wire_test, flexibility_follows_the_api_table) {
    EXPECT_FALSE(flexible_version(api_key::join_group, 5));
    EXPECT_TRUE(flexible_version(api_key::join_group, 6));
    EXPECT_TRUE(flexible_version(api_key::offset_fetch, 6));
    EXPECT_FALSE(flexible_version(api_key::offset_commit, 7));
    EXPECT_TRUE(flexible_version(api_key::find_coordinator, 3));
    EXPECT_TRUE(flexible_version(api_key::describe_groups, 5));
    EXPECT_TRUE(flexible_version(api_key::list_groups, 3));
    EXPECT_TRUE(flexible_version(api_key::delete_groups, 2));
}

}  // namespace
}  // namespace millrace::kafka
