// KIP-848 consumer groups through group_coordinator::consumer_group_heartbeat:
// epochs, assignors, revoke-before-assign, timeouts, static members, and the
// coexistence rules with classic groups.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>

#include "group/coordinator.h"

namespace millrace::kafka {
namespace {

using namespace std::chrono_literals;

constexpr const char* k_group = "kip848";

uuid topic_id(uint8_t n) {
    uuid id{};
    id[15] = n;
    return id;
}

class consumer_group_test : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(fs_.create_directories("/data").ok());
        settings_.min_session_timeout_ms = 1'000;
        settings_.offsets_background_io = false;
        settings_.member_id_seed = 301;
        coordinator_ = std::make_unique<group_coordinator>(io_, clock_, fs_, "/data/groups", settings_, metrics_);
        ASSERT_TRUE(coordinator_->open().ok());
        topics_["orders"] = topic_info{topic_id(1), 6};
        topics_["audit"] = topic_info{topic_id(2), 2};
    }

    consumer_heartbeat_request request(const std::string& member, int32_t epoch) {
        consumer_heartbeat_request r;
        r.group_id = k_group;
        r.member_id = member;
        r.member_epoch = epoch;
        r.client_id = "client";
        r.client_host = "/127.0.0.1";
        r.api_version = 1;
        return r;
    }

    consumer_heartbeat_result join(const std::string& member, std::vector<std::string> topics = {"orders"},
                                   std::optional<std::string> instance = std::nullopt) {
        auto r = request(member, 0);
        r.rebalance_timeout_ms = 30'000;
        r.subscribed_names = std::move(topics);
        r.owned.emplace();
        r.instance_id = std::move(instance);
        return coordinator_->consumer_group_heartbeat(r, topics_);
    }

    // A heartbeat reporting `owned` (what the member had been told last).
    consumer_heartbeat_result beat(const std::string& member, int32_t epoch, std::optional<partition_map> owned) {
        auto r = request(member, epoch);
        r.owned = std::move(owned);
        return coordinator_->consumer_group_heartbeat(r, topics_);
    }

    static size_t count(const partition_map& map) {
        size_t n = 0;
        for (const auto& [topic, parts] : map) n += parts.size();
        return n;
    }

    // Heartbeats every member, acknowledging what it was told, until no answer changes.
    void settle(std::map<std::string, std::pair<int32_t, partition_map>>& members) {
        for (int round = 0; round < 10; ++round) {
            bool changed = false;
            for (auto& [id, state] : members) {
                auto r = beat(id, state.first, state.second);
                ASSERT_EQ(r.error, error_code::none) << id << ": " << r.error_message.value_or("");
                if (r.member_epoch != state.first || (r.assignment && *r.assignment != state.second)) changed = true;
                state.first = r.member_epoch;
                if (r.assignment) state.second = *r.assignment;
            }
            if (!changed) return;
        }
        FAIL() << "the group did not settle";
    }

    asio::io_context io_;
    manual_clock clock_;
    memory_file_system fs_;
    metrics::registry metrics_;
    group_settings settings_;
    std::unique_ptr<group_coordinator> coordinator_;
    topic_snapshot topics_;
};

TEST_F(consumer_group_test, first_member_gets_every_partition) {
    auto r = join("m1");
    ASSERT_EQ(r.error, error_code::none);
    EXPECT_EQ(r.member_id, "m1");
    EXPECT_EQ(r.member_epoch, 1);
    EXPECT_EQ(r.heartbeat_interval_ms, 5'000);
    ASSERT_TRUE(r.assignment);
    EXPECT_EQ(count(*r.assignment), 6u);
    const consumer_group* g = coordinator_->find_consumer_group(k_group);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->state(), consumer_group_state::stable);
    EXPECT_EQ(g->assignor, "uniform");
}

TEST_F(consumer_group_test, second_member_waits_for_revocation) {
    auto a = join("a");
    auto b = join("b");
    ASSERT_EQ(b.error, error_code::none);
    // a still owns everything: b moves to epoch 2 with nothing yet.
    EXPECT_EQ(b.member_epoch, 2);
    EXPECT_TRUE(!b.assignment || count(*b.assignment) == 0);
    // a is told to keep 3; its epoch stays 1 until it acknowledges.
    auto a2 = beat("a", 1, *a.assignment);
    EXPECT_EQ(a2.member_epoch, 1);
    ASSERT_TRUE(a2.assignment);
    EXPECT_EQ(count(*a2.assignment), 3u);
    EXPECT_EQ(coordinator_->find_consumer_group(k_group)->state(), consumer_group_state::reconciling);
    // b gets nothing while a has not revoked.
    auto b2 = beat("b", 2, partition_map{});
    EXPECT_TRUE(!b2.assignment || count(*b2.assignment) == 0);
    // a acknowledges: epoch 2; then b receives the other three.
    auto a3 = beat("a", 1, *a2.assignment);
    EXPECT_EQ(a3.member_epoch, 2);
    auto b3 = beat("b", 2, partition_map{});
    ASSERT_TRUE(b3.assignment);
    EXPECT_EQ(count(*b3.assignment), 3u);
    for (int32_t p : b3.assignment->at(topic_id(1))) EXPECT_FALSE(a2.assignment->at(topic_id(1)).contains(p));
    EXPECT_EQ(coordinator_->find_consumer_group(k_group)->state(), consumer_group_state::stable);
}

TEST_F(consumer_group_test, three_members_split_evenly_and_one_leaves) {
    std::map<std::string, std::pair<int32_t, partition_map>> members;
    for (const char* id : {"a", "b", "c"}) {
        auto r = join(id);
        ASSERT_EQ(r.error, error_code::none);
        members[id] = {r.member_epoch, r.assignment.value_or(partition_map{})};
        settle(members);
    }
    for (auto& [id, state] : members) EXPECT_EQ(count(state.second), 2u) << id;
    auto left = beat("c", members["c"].first, std::nullopt);
    auto r = request("c", k_leave_epoch);
    auto leave = coordinator_->consumer_group_heartbeat(r, topics_);
    EXPECT_EQ(leave.error, error_code::none);
    EXPECT_EQ(leave.member_epoch, k_leave_epoch);
    members.erase("c");
    settle(members);
    EXPECT_EQ(count(members["a"].second) + count(members["b"].second), 6u);
    (void)left;
}

TEST_F(consumer_group_test, range_assignor_when_members_ask_for_it) {
    auto r = request("a", 0);
    r.rebalance_timeout_ms = 30'000;
    r.subscribed_names = std::vector<std::string>{"orders"};
    r.server_assignor = "range";
    auto a = coordinator_->consumer_group_heartbeat(r, topics_);
    ASSERT_EQ(a.error, error_code::none);
    EXPECT_EQ(coordinator_->find_consumer_group(k_group)->assignor, "range");
    r.server_assignor = "sticky";
    r.member_id = "b";
    EXPECT_EQ(coordinator_->consumer_group_heartbeat(r, topics_).error, error_code::unsupported_assignor);
}

TEST_F(consumer_group_test, new_partitions_bump_the_group_epoch) {
    auto a = join("a");
    EXPECT_EQ(a.member_epoch, 1);
    topics_["orders"].partitions = 8;
    auto a2 = beat("a", 1, *a.assignment);
    EXPECT_EQ(a2.member_epoch, 2);
    ASSERT_TRUE(a2.assignment);
    EXPECT_EQ(count(*a2.assignment), 8u);
}

TEST_F(consumer_group_test, regex_subscription) {
    auto r = request("a", 0);
    r.rebalance_timeout_ms = 30'000;
    r.subscribed_regex = "ord.*";
    auto a = coordinator_->consumer_group_heartbeat(r, topics_);
    ASSERT_EQ(a.error, error_code::none);
    EXPECT_EQ(count(*a.assignment), 6u);
    r.member_id = "b";
    r.subscribed_regex = "([";
    EXPECT_EQ(coordinator_->consumer_group_heartbeat(r, topics_).error, error_code::invalid_regular_expression);
}

TEST_F(consumer_group_test, epoch_errors) {
    auto a = join("a");
    EXPECT_EQ(beat("a", 5, std::nullopt).error, error_code::fenced_member_epoch);
    EXPECT_EQ(beat("nobody", 1, std::nullopt).error, error_code::unknown_member_id);
    auto bad = request("", 0);
    bad.rebalance_timeout_ms = 1000;
    bad.subscribed_names = std::vector<std::string>{"orders"};
    EXPECT_EQ(coordinator_->consumer_group_heartbeat(bad, topics_).error, error_code::invalid_request);
    auto no_subscription = request("x", 0);
    no_subscription.rebalance_timeout_ms = 1000;
    EXPECT_EQ(coordinator_->consumer_group_heartbeat(no_subscription, topics_).error, error_code::invalid_request);
}

TEST_F(consumer_group_test, session_timeout_removes_the_member) {
    auto a = join("a");
    auto b = join("b");
    clock_.advance(30s);
    beat("a", a.member_epoch, *a.assignment);
    clock_.advance(20s);  // b has been silent for 50 s > 45 s
    coordinator_->tick();
    EXPECT_EQ(coordinator_->member_count(k_group), 1u);
    EXPECT_EQ(beat("b", b.member_epoch, std::nullopt).error, error_code::unknown_member_id);
}

TEST_F(consumer_group_test, member_that_does_not_revoke_is_fenced_after_rebalance_timeout) {
    auto a = join("a");
    join("b");
    auto a2 = beat("a", 1, std::nullopt);  // told to revoke three; never acknowledges
    EXPECT_EQ(a2.member_epoch, 1);
    clock_.advance(31s);
    beat("b", 2, partition_map{});
    coordinator_->tick();
    EXPECT_EQ(coordinator_->member_count(k_group), 1u);
    EXPECT_EQ(beat("a", 1, std::nullopt).error, error_code::unknown_member_id);
}

TEST_F(consumer_group_test, static_member_rejoins_with_its_partitions) {
    auto a = join("a1", {"orders"}, "instance-a");
    ASSERT_EQ(count(*a.assignment), 6u);
    // Another process with the same instance id while a1 is live: refused.
    EXPECT_EQ(join("a2", {"orders"}, "instance-a").error, error_code::unreleased_instance_id);
    auto r = request("a1", k_static_leave_epoch);
    r.instance_id = "instance-a";
    EXPECT_EQ(coordinator_->consumer_group_heartbeat(r, topics_).member_epoch, k_static_leave_epoch);
    auto back = join("a2", {"orders"}, "instance-a");
    ASSERT_EQ(back.error, error_code::none);
    EXPECT_EQ(back.member_epoch, 1);  // no new group epoch
    ASSERT_TRUE(back.assignment);
    EXPECT_EQ(count(*back.assignment), 6u);
}

TEST_F(consumer_group_test, offset_commit_checks_the_member_epoch) {
    auto a = join("a");
    auto commit = [&](int32_t epoch, std::string member) {
        offset_commit_request r;
        r.group_id = k_group;
        r.generation_id = epoch;
        r.member_id = std::move(member);
        offset_commit_entry e;
        e.topic = "orders";
        e.partition = 0;
        e.value.offset = 10;
        r.entries.push_back(e);
        auto out = std::make_shared<std::optional<std::vector<error_code>>>();
        asio::co_spawn(io_, coordinator_->commit_offsets(std::move(r)),
                       [out](std::exception_ptr, std::vector<error_code> v) { *out = std::move(v); });
        io_.restart();
        io_.poll();
        return out->value().at(0);
    };
    EXPECT_EQ(commit(1, "a"), error_code::none);
    EXPECT_EQ(commit(0, "a"), error_code::stale_member_epoch);
    EXPECT_EQ(commit(2, "a"), error_code::fenced_member_epoch);
    EXPECT_EQ(commit(1, "x"), error_code::unknown_member_id);
    EXPECT_EQ(coordinator_->validate_offset_fetch(k_group, std::string("a"), 0), error_code::stale_member_epoch);
    EXPECT_EQ(coordinator_->validate_offset_fetch(k_group, std::nullopt, -1), error_code::none);
    // TxnOffsetCommit (KIP-447) checks the same epoch; without group metadata it passes.
    EXPECT_EQ(coordinator_->validate_txn_offset_commit(k_group, 1, "a", std::nullopt), error_code::none);
    EXPECT_EQ(coordinator_->validate_txn_offset_commit(k_group, 0, "a", std::nullopt), error_code::stale_member_epoch);
    EXPECT_EQ(coordinator_->validate_txn_offset_commit(k_group, 2, "a", std::nullopt), error_code::fenced_member_epoch);
    EXPECT_EQ(coordinator_->validate_txn_offset_commit(k_group, 1, "x", std::nullopt), error_code::unknown_member_id);
    EXPECT_EQ(coordinator_->validate_txn_offset_commit(k_group, -1, "", std::nullopt), error_code::none);
    (void)a;
}

TEST_F(consumer_group_test, group_types_do_not_mix) {
    join("a");
    join_group_request classic;
    classic.group_id = k_group;
    classic.client_id = "c";
    classic.session_timeout_ms = 10'000;
    classic.protocol_type = "consumer";
    classic.protocols = {{"range", "x"}};
    auto out = std::make_shared<std::optional<join_group_result>>();
    asio::co_spawn(io_, coordinator_->join_group(classic),
                   [out](std::exception_ptr, join_group_result v) { *out = std::move(v); });
    io_.restart();
    io_.poll();
    ASSERT_TRUE(out->has_value());
    EXPECT_EQ((*out)->error, error_code::inconsistent_group_protocol);
    auto listed = coordinator_->list_all_groups();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].type, "consumer");
    EXPECT_EQ(listed[0].state_name, "Stable");
}

TEST_F(consumer_group_test, membership_survives_a_reopen) {
    std::map<std::string, std::pair<int32_t, partition_map>> members;
    for (const char* id : {"a", "b"}) {
        auto r = join(id);
        members[id] = {r.member_epoch, r.assignment.value_or(partition_map{})};
        settle(members);
    }
    int32_t epoch = coordinator_->find_consumer_group(k_group)->group_epoch;
    coordinator_->close();
    coordinator_ = std::make_unique<group_coordinator>(io_, clock_, fs_, "/data/groups", settings_, metrics_);
    ASSERT_TRUE(coordinator_->open().ok());
    const consumer_group* g = coordinator_->find_consumer_group(k_group);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->group_epoch, epoch);
    EXPECT_EQ(g->members.size(), 2u);
    // The members carry on with their epochs and partitions: nothing moves.
    for (auto& [id, state] : members) {
        auto r = beat(id, state.first, state.second);
        EXPECT_EQ(r.error, error_code::none) << id;
        EXPECT_EQ(r.member_epoch, state.first) << id;
        EXPECT_FALSE(r.assignment) << id;
    }
}

TEST_F(consumer_group_test, corrupt_group_state_fails_open) {
    join("a");
    coordinator_->close();
    auto data = read_file(fs_, "/data/groups/groups.state");
    ASSERT_TRUE(data.ok());
    std::string bytes = *data;
    bytes[bytes.size() - 3] ^= 0x5a;
    ASSERT_TRUE(write_file_atomic(fs_, "/data/groups/groups.state", bytes).ok());
    coordinator_ = std::make_unique<group_coordinator>(io_, clock_, fs_, "/data/groups", settings_, metrics_);
    auto st = coordinator_->open();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.err().code(), errc::corruption);
    EXPECT_NE(st.err().message().find("checksum"), std::string::npos) << st.err().message();
}

TEST_F(consumer_group_test, truncated_group_state_fails_open) {
    join("a");
    coordinator_->close();
    auto data = read_file(fs_, "/data/groups/groups.state");
    ASSERT_TRUE(data.ok());
    ASSERT_TRUE(write_file_atomic(fs_, "/data/groups/groups.state", data->substr(0, data->size() - 5)).ok());
    coordinator_ = std::make_unique<group_coordinator>(io_, clock_, fs_, "/data/groups", settings_, metrics_);
    auto st = coordinator_->open();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.err().code(), errc::corruption);
}

}  // namespace
}  // namespace millrace::kafka
