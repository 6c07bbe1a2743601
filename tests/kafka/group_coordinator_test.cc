#include "group/coordinator.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>

namespace millrace::kafka {
namespace {

using namespace std::chrono_literals;

constexpr const char* k_group = "orders";

// The outcome of a coordinator coroutine started by the test; ready once the
// io_context has run it to completion.
template <typename T>
struct async_result {
    std::shared_ptr<std::optional<T>> slot = std::make_shared<std::optional<T>>();
    bool ready() const { return slot->has_value(); }
    T& get() {
        MILLRACE_ASSERT(ready(), "async result read before completion");
        return **slot;
    }
};

group_settings test_settings() {
    group_settings s;
    s.min_session_timeout_ms = 1'000;
    s.max_session_timeout_ms = 60'000;
    s.offsets_background_io = false;  // deterministic: fsyncs run inside io_.poll()
    s.member_id_seed = 301;
    return s;
}

class group_coordinator_test : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(fs_.create_directories("/data").ok());
        open_coordinator();
    }

    void open_coordinator() {
        coordinator_ = std::make_unique<group_coordinator>(io_, clock_, fs_, "/data/groups", settings_, metrics_);
        auto st = coordinator_->open();
        ASSERT_TRUE(st.ok()) << st.err().message();
    }

    // Runs every handler that is ready, without waiting for timers.
    void drain() {
        io_.restart();
        io_.poll();
    }

    template <typename T>
    async_result<T> start(asio::awaitable<T> op) {
        async_result<T> result;
        asio::co_spawn(io_, std::move(op), [slot = result.slot](std::exception_ptr e, T value) {
            if (e) std::rethrow_exception(e);
            *slot = std::move(value);
        });
        drain();
        return result;
    }

    join_group_request join_request(const std::string& member_id,
                                    std::vector<group_protocol> protocols = {{"range", "meta"}}) {
        join_group_request r;
        r.group_id = k_group;
        r.member_id = member_id;
        r.client_id = "client";
        r.client_host = "/127.0.0.1";
        r.session_timeout_ms = 10'000;
        r.rebalance_timeout_ms = 30'000;
        r.protocol_type = "consumer";
        r.protocols = std::move(protocols);
        r.require_known_member_id = true;
        r.supports_skip_assignment = true;
        return r;
    }

    async_result<join_group_result> join(join_group_request r) { return start(coordinator_->join_group(std::move(r))); }

    // A new dynamic member's id: its first JoinGroup answers MEMBER_ID_REQUIRED.
    std::string new_member_id(std::vector<group_protocol> protocols = {{"range", "meta"}}) {
        auto r = join(join_request("", std::move(protocols)));
        EXPECT_TRUE(r.ready());
        EXPECT_EQ(r.get().error, error_code::member_id_required);
        EXPECT_FALSE(r.get().member_id.empty());
        return r.get().member_id;
    }

    async_result<sync_group_result> sync(const std::string& member_id, int32_t generation,
                                         std::vector<std::pair<std::string, std::string>> assignments = {}) {
        sync_group_request r;
        r.group_id = k_group;
        r.member_id = member_id;
        r.generation_id = generation;
        r.assignments = std::move(assignments);
        return start(coordinator_->sync_group(std::move(r)));
    }

    error_code heartbeat(const std::string& member_id, int32_t generation,
                         std::optional<std::string> instance_id = std::nullopt) {
        return coordinator_->heartbeat(heartbeat_request{k_group, generation, member_id, std::move(instance_id)});
    }

    // One member, joined and synced: Stable at generation 1.
    std::string stable_single_member() {
        std::string a = new_member_id();
        auto joined = join(join_request(a));
        EXPECT_TRUE(joined.ready());
        EXPECT_EQ(joined.get().error, error_code::none);
        auto synced = sync(a, 1, {{a, "assign-a"}});
        EXPECT_TRUE(synced.ready());
        EXPECT_EQ(coordinator_->state_of(k_group), group_state::stable);
        return a;
    }

    // Two members, A the leader: Stable at generation 2.
    std::pair<std::string, std::string> stable_two_members() {
        std::string a = stable_single_member();
        std::string b = new_member_id();
        auto jb = join(join_request(b));
        auto ja = join(join_request(a));
        EXPECT_TRUE(ja.ready() && jb.ready());
        auto sb = sync(b, 2);
        auto sa = sync(a, 2, {{a, "A2"}, {b, "B2"}});
        EXPECT_TRUE(sa.ready() && sb.ready());
        EXPECT_EQ(coordinator_->state_of(k_group), group_state::stable);
        EXPECT_EQ(coordinator_->generation_of(k_group), 2);
        return {a, b};
    }

    async_result<std::vector<error_code>> commit(const std::string& group, int32_t generation,
                                                 const std::string& member_id, int64_t offset,
                                                 std::optional<std::string> metadata = std::nullopt) {
        offset_commit_request r;
        r.group_id = group;
        r.generation_id = generation;
        r.member_id = member_id;
        offset_commit_entry e;
        e.topic = "t";
        e.partition = 0;
        e.value.offset = offset;
        e.value.metadata = std::move(metadata);
        r.entries.push_back(std::move(e));
        return start(coordinator_->commit_offsets(std::move(r)));
    }

    void advance(std::chrono::milliseconds delta) {
        clock_.advance(delta);
        coordinator_->tick();
        drain();
    }

    asio::io_context io_;
    manual_clock clock_;
    memory_file_system fs_;
    metrics::registry metrics_;
    group_settings settings_ = test_settings();
    std::unique_ptr<group_coordinator> coordinator_;
};

TEST_F(group_coordinator_test, single_member_join_and_sync) {
    std::string a = new_member_id();
    EXPECT_EQ(a.rfind("client-", 0), 0u) << a;
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::empty);  // MEMBER_ID_REQUIRED starts nothing

    auto joined = join(join_request(a));
    ASSERT_TRUE(joined.ready());
    const auto& j = joined.get();
    EXPECT_EQ(j.error, error_code::none);
    EXPECT_EQ(j.generation_id, 1);
    EXPECT_EQ(j.member_id, a);
    EXPECT_EQ(j.leader_id, a);
    EXPECT_EQ(j.protocol_type, "consumer");
    EXPECT_EQ(j.protocol_name, "range");
    ASSERT_EQ(j.members.size(), 1u);
    EXPECT_EQ(j.members[0].member_id, a);
    EXPECT_EQ(j.members[0].metadata, "meta");
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::completing_rebalance);

    auto synced = sync(a, 1, {{a, "assign-a"}});
    ASSERT_TRUE(synced.ready());
    EXPECT_EQ(synced.get().error, error_code::none);
    EXPECT_EQ(synced.get().assignment, "assign-a");
    EXPECT_EQ(synced.get().protocol_name, "range");
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::stable);
    EXPECT_EQ(heartbeat(a, 1), error_code::none);
}

TEST_F(group_coordinator_test, join_below_v4_assigns_member_id_at_once) {
    auto r = join_request("");
    r.require_known_member_id = false;
    auto joined = join(std::move(r));
    ASSERT_TRUE(joined.ready());
    EXPECT_EQ(joined.get().error, error_code::none);
    EXPECT_FALSE(joined.get().member_id.empty());
    EXPECT_EQ(joined.get().generation_id, 1);
    EXPECT_EQ(joined.get().leader_id, joined.get().member_id);
}

TEST_F(group_coordinator_test, second_member_triggers_rebalance_and_gets_assignment) {
    std::string a = stable_single_member();
    std::string b = new_member_id();
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::stable);  // a pending id changes nothing yet

    auto jb = join(join_request(b));
    EXPECT_FALSE(jb.ready());
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::preparing_rebalance);
    EXPECT_EQ(heartbeat(a, 1), error_code::rebalance_in_progress);

    auto ja = join(join_request(a));
    ASSERT_TRUE(ja.ready());
    ASSERT_TRUE(jb.ready());
    EXPECT_EQ(ja.get().generation_id, 2);
    EXPECT_EQ(jb.get().generation_id, 2);
    EXPECT_EQ(ja.get().leader_id, a);
    EXPECT_EQ(jb.get().leader_id, a);
    EXPECT_EQ(ja.get().members.size(), 2u);
    EXPECT_TRUE(jb.get().members.empty());  // only the leader sees the members

    auto sb = sync(b, 2);
    EXPECT_FALSE(sb.ready());  // followers wait for the leader's assignment
    auto sa = sync(a, 2, {{a, "A2"}, {b, "B2"}});
    ASSERT_TRUE(sa.ready());
    ASSERT_TRUE(sb.ready());
    EXPECT_EQ(sa.get().assignment, "A2");
    EXPECT_EQ(sb.get().assignment, "B2");
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::stable);
    EXPECT_EQ(heartbeat(a, 2), error_code::none);
    EXPECT_EQ(heartbeat(b, 2), error_code::none);
}

TEST_F(group_coordinator_test, session_expiry_removes_member_and_rebalances) {
    auto [a, b] = stable_two_members();
    for (int step = 0; step < 2; ++step) {
        advance(4s);
        EXPECT_EQ(heartbeat(a, 2), error_code::none);
    }
    EXPECT_EQ(coordinator_->member_count(k_group), 2u);
    advance(4s);  // b has been silent for 12 s, beyond its 10 s session
    EXPECT_EQ(coordinator_->member_count(k_group), 1u);
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::preparing_rebalance);
    EXPECT_EQ(heartbeat(b, 2), error_code::unknown_member_id);
    EXPECT_EQ(heartbeat(a, 2), error_code::rebalance_in_progress);
    auto ja = join(join_request(a));
    ASSERT_TRUE(ja.ready());
    EXPECT_EQ(ja.get().generation_id, 3);
    EXPECT_EQ(ja.get().members.size(), 1u);
}

TEST_F(group_coordinator_test, leave_triggers_rebalance) {
    auto [a, b] = stable_two_members();
    auto left = coordinator_->leave_group(k_group, {leave_group_member{b, std::nullopt, "shutting down"}});
    EXPECT_EQ(left.error, error_code::none);
    EXPECT_EQ(left.members, std::vector<error_code>{error_code::none});
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::preparing_rebalance);
    EXPECT_EQ(heartbeat(a, 2), error_code::rebalance_in_progress);
    auto ja = join(join_request(a));
    ASSERT_TRUE(ja.ready());
    EXPECT_EQ(ja.get().generation_id, 3);
    EXPECT_EQ(ja.get().members.size(), 1u);
}

TEST_F(group_coordinator_test, last_member_leaving_empties_group) {
    std::string a = stable_single_member();
    auto left = coordinator_->leave_group(k_group, {leave_group_member{a, std::nullopt, std::nullopt}});
    EXPECT_EQ(left.members[0], error_code::none);
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::empty);
    EXPECT_EQ(coordinator_->generation_of(k_group), 2);
    EXPECT_EQ(heartbeat(a, 2), error_code::unknown_member_id);
}

TEST_F(group_coordinator_test, leave_unknown_member_and_unknown_group) {
    std::string a = stable_single_member();
    auto left = coordinator_->leave_group(k_group, {leave_group_member{"nobody", std::nullopt, std::nullopt},
                                                    leave_group_member{"", std::string("no-instance"), std::nullopt}});
    EXPECT_EQ(left.members, (std::vector<error_code>{error_code::unknown_member_id, error_code::unknown_member_id}));
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::stable);
    auto missing = coordinator_->leave_group("missing", {leave_group_member{a, std::nullopt, std::nullopt}});
    EXPECT_EQ(missing.error, error_code::none);
    EXPECT_EQ(missing.members[0], error_code::unknown_member_id);
    EXPECT_EQ(coordinator_->leave_group("", {}).error, error_code::invalid_group_id);
}

TEST_F(group_coordinator_test, rebalance_timeout_removes_members_that_did_not_rejoin) {
    auto [a, b] = stable_two_members();
    std::string c = new_member_id();
    auto jc = join(join_request(c));
    auto ja = join(join_request(a));
    EXPECT_FALSE(ja.ready());  // b has not rejoined
    // b keeps heartbeating (so its session holds) but never rejoins.
    for (int step = 0; step < 6; ++step) {
        advance(5s);
        if (ja.ready()) break;
        EXPECT_EQ(heartbeat(b, 2), error_code::rebalance_in_progress);
    }
    ASSERT_TRUE(ja.ready());
    ASSERT_TRUE(jc.ready());
    EXPECT_EQ(ja.get().generation_id, 3);
    EXPECT_EQ(ja.get().members.size(), 2u);
    EXPECT_EQ(coordinator_->member_count(k_group), 2u);
    EXPECT_EQ(heartbeat(b, 3), error_code::unknown_member_id);
}

TEST_F(group_coordinator_test, protocol_mismatch_gives_inconsistent_group_protocol) {
    stable_single_member();
    auto other = join(join_request("", {{"roundrobin", "x"}}));
    ASSERT_TRUE(other.ready());
    EXPECT_EQ(other.get().error, error_code::inconsistent_group_protocol);

    auto wrong_type = join_request("");
    wrong_type.protocol_type = "connect";
    auto typed = join(std::move(wrong_type));
    ASSERT_TRUE(typed.ready());
    EXPECT_EQ(typed.get().error, error_code::inconsistent_group_protocol);

    auto none = join_request("other-group");
    none.group_id = "other-group";
    none.member_id = "";
    none.protocols.clear();
    auto empty = join(std::move(none));
    ASSERT_TRUE(empty.ready());
    EXPECT_EQ(empty.get().error, error_code::inconsistent_group_protocol);
}

TEST_F(group_coordinator_test, protocol_selection_follows_member_votes) {
    std::string a = new_member_id({{"range", "ra"}, {"roundrobin", "rr-a"}});
    auto ja = join(join_request(a, {{"range", "ra"}, {"roundrobin", "rr-a"}}));
    ASSERT_TRUE(ja.ready());  // alone at first: its own preference
    EXPECT_EQ(ja.get().protocol_name, "range");
    ASSERT_TRUE(sync(a, 1, {{a, "x"}}).ready());

    std::string b = new_member_id({{"roundrobin", "rr-b"}, {"range", "rb"}});
    std::string c = new_member_id({{"roundrobin", "rr-c"}, {"range", "rc"}});
    auto jb = join(join_request(b, {{"roundrobin", "rr-b"}, {"range", "rb"}}));
    auto jc = join(join_request(c, {{"roundrobin", "rr-c"}, {"range", "rc"}}));
    auto ja2 = join(join_request(a, {{"range", "ra"}, {"roundrobin", "rr-a"}}));
    ASSERT_TRUE(ja2.ready() && jb.ready() && jc.ready());
    EXPECT_EQ(ja2.get().protocol_name, "roundrobin");  // two votes to one
    EXPECT_EQ(jb.get().protocol_name, "roundrobin");
    ASSERT_EQ(ja2.get().members.size(), 3u);
    EXPECT_EQ(ja2.get().members[0].metadata, "rr-a");  // metadata of the selected protocol
    EXPECT_EQ(ja2.get().members[1].metadata, "rr-b");

    // A newcomer that supports only "range": the choice falls back to the one protocol everybody supports.
    std::string d = new_member_id({{"range", "rd"}});
    auto jd = join(join_request(d, {{"range", "rd"}}));
    auto ja3 = join(join_request(a, {{"range", "ra"}, {"roundrobin", "rr-a"}}));
    auto jb3 = join(join_request(b, {{"roundrobin", "rr-b"}, {"range", "rb"}}));
    auto jc3 = join(join_request(c, {{"roundrobin", "rr-c"}, {"range", "rc"}}));
    ASSERT_TRUE(ja3.ready() && jb3.ready() && jc3.ready() && jd.ready());
    EXPECT_EQ(ja3.get().protocol_name, "range");
}

TEST_F(group_coordinator_test, illegal_generation_and_unknown_member_errors) {
    std::string a = stable_single_member();
    EXPECT_EQ(heartbeat(a, 7), error_code::illegal_generation);
    EXPECT_EQ(heartbeat("stranger", 1), error_code::unknown_member_id);
    EXPECT_EQ(coordinator_->heartbeat(heartbeat_request{"missing", 1, a, std::nullopt}), error_code::unknown_member_id);
    EXPECT_EQ(coordinator_->heartbeat(heartbeat_request{"", 1, a, std::nullopt}), error_code::invalid_group_id);

    auto bad_sync = sync(a, 5);
    ASSERT_TRUE(bad_sync.ready());
    EXPECT_EQ(bad_sync.get().error, error_code::illegal_generation);
    auto stranger_sync = sync("stranger", 1);
    ASSERT_TRUE(stranger_sync.ready());
    EXPECT_EQ(stranger_sync.get().error, error_code::unknown_member_id);

    auto stranger_join = join(join_request("stranger"));
    ASSERT_TRUE(stranger_join.ready());
    EXPECT_EQ(stranger_join.get().error, error_code::unknown_member_id);
    auto missing_group = join_request("someone");
    missing_group.group_id = "missing";
    auto missing_join = join(std::move(missing_group));
    ASSERT_TRUE(missing_join.ready());
    EXPECT_EQ(missing_join.get().error, error_code::unknown_member_id);
}

TEST_F(group_coordinator_test, join_validates_session_timeout_and_group_id) {
    auto r = join_request("");
    r.session_timeout_ms = 500;  // below the 1 s minimum
    auto low = join(std::move(r));
    ASSERT_TRUE(low.ready());
    EXPECT_EQ(low.get().error, error_code::invalid_session_timeout);
    auto high_request = join_request("");
    high_request.session_timeout_ms = 120'000;
    auto high = join(std::move(high_request));
    EXPECT_EQ(high.get().error, error_code::invalid_session_timeout);
    auto unnamed = join_request("");
    unnamed.group_id = "";
    auto nameless = join(std::move(unnamed));
    EXPECT_EQ(nameless.get().error, error_code::invalid_group_id);
}

TEST_F(group_coordinator_test, sync_during_rebalance_is_rejected_and_pending_sync_is_released) {
    auto [a, b] = stable_two_members();
    std::string c = new_member_id();
    auto jc = join(join_request(c));
    auto stale = sync(b, 2);
    ASSERT_TRUE(stale.ready());
    EXPECT_EQ(stale.get().error, error_code::rebalance_in_progress);

    auto ja = join(join_request(a));
    auto jb = join(join_request(b));
    ASSERT_TRUE(ja.ready() && jb.ready() && jc.ready());
    auto sb = sync(b, 3);
    EXPECT_FALSE(sb.ready());
    // A newcomer before the leader syncs: the waiting follower is told to rejoin.
    std::string d = new_member_id();
    auto jd = join(join_request(d));
    ASSERT_TRUE(sb.ready());
    EXPECT_EQ(sb.get().error, error_code::rebalance_in_progress);
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::preparing_rebalance);
}

TEST_F(group_coordinator_test, members_that_never_sync_are_removed) {
    std::string a = stable_single_member();
    std::string b = new_member_id();
    auto jb = join(join_request(b));
    auto ja = join(join_request(a));
    ASSERT_TRUE(ja.ready() && jb.ready());
    auto sa = sync(a, 2, {{a, "A"}, {b, "B"}});
    ASSERT_TRUE(sa.ready());
    // b heartbeats but never sends SyncGroup; after the rebalance timeout it is out.
    for (int step = 0; step < 7; ++step) {
        advance(5s);
        heartbeat(a, coordinator_->generation_of(k_group));
        if (coordinator_->member_count(k_group) == 1) break;
        heartbeat(b, 2);
    }
    EXPECT_EQ(coordinator_->member_count(k_group), 1u);
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::preparing_rebalance);
}

TEST_F(group_coordinator_test, heartbeat_in_completing_rebalance_is_accepted) {
    std::string a = new_member_id();
    auto ja = join(join_request(a));
    ASSERT_TRUE(ja.ready());
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::completing_rebalance);
    EXPECT_EQ(heartbeat(a, 1), error_code::none);
}

TEST_F(group_coordinator_test, repeated_join_in_stable_group_returns_current_generation) {
    auto [a, b] = stable_two_members();
    auto again = join(join_request(b));  // a follower with unchanged metadata
    ASSERT_TRUE(again.ready());
    EXPECT_EQ(again.get().generation_id, 2);
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::stable);
    auto changed = join(join_request(b, {{"range", "new-subscription"}}));
    EXPECT_FALSE(changed.ready());
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::preparing_rebalance);
}

TEST_F(group_coordinator_test, pending_member_that_never_rejoins_expires) {
    std::string a = stable_single_member();
    std::string b = new_member_id();
    // Another member joins for real; the rebalance waits for nobody pending... but b is pending.
    std::string c = new_member_id();
    auto jc = join(join_request(c));
    auto ja = join(join_request(a));
    EXPECT_FALSE(ja.ready());  // b's MEMBER_ID_REQUIRED holds the rebalance
    advance(11s);              // b's 10 s session passes
    ASSERT_TRUE(ja.ready());
    ASSERT_TRUE(jc.ready());
    EXPECT_EQ(ja.get().members.size(), 2u);
}

TEST_F(group_coordinator_test, initial_rebalance_delay_waits_for_more_members) {
    settings_.initial_rebalance_delay_ms = 3'000;
    open_coordinator();
    std::string a = new_member_id();
    auto ja = join(join_request(a));
    EXPECT_FALSE(ja.ready());
    advance(2s);
    std::string b = new_member_id();
    auto jb = join(join_request(b));
    advance(1s);  // the first delay ends, but b arrived during it: one more delay
    EXPECT_FALSE(ja.ready());
    advance(3s);
    ASSERT_TRUE(ja.ready());
    ASSERT_TRUE(jb.ready());
    EXPECT_EQ(ja.get().generation_id, 1);
    EXPECT_EQ(ja.get().members.size(), 2u);
}

TEST_F(group_coordinator_test, static_member_rejoin_replaces_member_id_without_rebalance) {
    auto [a, b] = stable_two_members();
    // A static member joins (no MEMBER_ID_REQUIRED for static members).
    auto sr = join_request("");
    sr.group_instance_id = "instance-1";
    auto js = join(std::move(sr));
    EXPECT_FALSE(js.ready());
    auto ja = join(join_request(a));
    auto jb = join(join_request(b));
    ASSERT_TRUE(js.ready() && ja.ready() && jb.ready());
    std::string s = js.get().member_id;
    EXPECT_EQ(s.rfind("instance-1-", 0), 0u) << s;
    auto ss = sync(s, 3);
    auto sb = sync(b, 3);
    auto sa = sync(a, 3, {{a, "A3"}, {b, "B3"}, {s, "S3"}});
    ASSERT_TRUE(ss.ready());
    EXPECT_EQ(ss.get().assignment, "S3");

    // The static member restarts: a new JoinGroup without its old member id.
    auto restart = join_request("");
    restart.group_instance_id = "instance-1";
    auto rejoined = join(std::move(restart));
    ASSERT_TRUE(rejoined.ready());
    EXPECT_EQ(rejoined.get().error, error_code::none);
    std::string s2 = rejoined.get().member_id;
    EXPECT_NE(s2, s);
    EXPECT_EQ(rejoined.get().generation_id, 3);
    EXPECT_FALSE(rejoined.get().skip_assignment);  // not the leader
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::stable);
    EXPECT_EQ(heartbeat(s, 3, "instance-1"), error_code::fenced_instance_id);
    EXPECT_EQ(heartbeat(s2, 3, "instance-1"), error_code::none);
    EXPECT_EQ(heartbeat(a, 3), error_code::none);  // nobody else was disturbed
    auto resync = coordinator_->sync_group(sync_group_request{k_group, 3, s2, "instance-1", {}, {}, {}});
    auto resynced = start(std::move(resync));
    ASSERT_TRUE(resynced.ready());
    EXPECT_EQ(resynced.get().assignment, "S3");  // the old assignment still holds

    // Leaving by instance id alone.
    auto left = coordinator_->leave_group(k_group, {leave_group_member{"", std::string("instance-1"), std::nullopt}});
    EXPECT_EQ(left.members[0], error_code::none);
    EXPECT_EQ(coordinator_->member_count(k_group), 2u);
}

TEST_F(group_coordinator_test, static_member_with_changed_metadata_rebalances) {
    auto sr = join_request("");
    sr.group_instance_id = "instance-1";
    auto js = join(sr);
    ASSERT_TRUE(js.ready());
    auto ss = sync(js.get().member_id, 1, {{js.get().member_id, "S"}});
    ASSERT_TRUE(ss.ready());
    sr.protocols = {{"range", "changed"}};
    auto rejoined = join(sr);
    // Alone in the group, so the rebalance completes at once with a new generation.
    ASSERT_TRUE(rejoined.ready());
    EXPECT_EQ(rejoined.get().generation_id, 2);
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::completing_rebalance);
}

TEST_F(group_coordinator_test, delete_group_rules) {
    auto missing = start(coordinator_->delete_groups({"missing"}));
    ASSERT_TRUE(missing.ready());
    EXPECT_EQ(missing.get(), std::vector<error_code>{error_code::group_id_not_found});

    std::string a = stable_single_member();
    auto committed = commit(k_group, 1, a, 42);
    ASSERT_TRUE(committed.ready());
    EXPECT_EQ(committed.get()[0], error_code::none);
    auto busy = start(coordinator_->delete_groups({k_group}));
    EXPECT_EQ(busy.get(), std::vector<error_code>{error_code::non_empty_group});

    coordinator_->leave_group(k_group, {leave_group_member{a, std::nullopt, std::nullopt}});
    EXPECT_EQ(coordinator_->state_of(k_group), group_state::empty);
    auto deleted = start(coordinator_->delete_groups({k_group}));
    ASSERT_TRUE(deleted.ready());
    EXPECT_EQ(deleted.get(), std::vector<error_code>{error_code::none});
    EXPECT_FALSE(coordinator_->state_of(k_group).has_value());
    EXPECT_FALSE(coordinator_->committed(k_group, "t", 0).has_value());
    EXPECT_EQ(coordinator_->describe_group(k_group).state, "Dead");

    // The deletion is durable.
    coordinator_->close();
    open_coordinator();
    EXPECT_FALSE(coordinator_->committed(k_group, "t", 0).has_value());
    EXPECT_FALSE(coordinator_->state_of(k_group).has_value());
}

TEST_F(group_coordinator_test, commit_validation) {
    // Outside group management (generation -1): creates an Empty group.
    auto simple = commit("simple", -1, "", 10, std::string("meta"));
    ASSERT_TRUE(simple.ready());
    EXPECT_EQ(simple.get()[0], error_code::none);
    EXPECT_EQ(coordinator_->state_of("simple"), group_state::empty);
    auto value = coordinator_->committed("simple", "t", 0);
    ASSERT_TRUE(value.has_value());
    EXPECT_EQ(value->offset, 10);
    EXPECT_EQ(value->metadata, "meta");
    EXPECT_EQ(value->commit_timestamp_ms, clock_.wall_millis());

    auto stale = commit("never-existed", 3, "m", 1);
    EXPECT_EQ(stale.get()[0], error_code::illegal_generation);

    std::string a = new_member_id();
    auto ja = join(join_request(a));
    ASSERT_TRUE(ja.ready());
    auto during_sync = commit(k_group, 1, a, 5);
    EXPECT_EQ(during_sync.get()[0], error_code::rebalance_in_progress);
    ASSERT_TRUE(sync(a, 1, {{a, "x"}}).ready());
    EXPECT_EQ(commit(k_group, 2, a, 5).get()[0], error_code::illegal_generation);
    EXPECT_EQ(commit(k_group, 1, "stranger", 5).get()[0], error_code::unknown_member_id);
    EXPECT_EQ(commit(k_group, -1, "", 5).get()[0], error_code::unknown_member_id);  // the group is managed
    EXPECT_EQ(commit(k_group, 1, a, 5, std::string(5000, 'x')).get()[0], static_cast<error_code>(12));
    EXPECT_EQ(commit(k_group, 1, a, 6).get()[0], error_code::none);
    EXPECT_EQ(coordinator_->committed(k_group, "t", 0)->offset, 6);

    std::vector<std::tuple<std::string, std::string, int32_t, int64_t>> all;
    coordinator_->for_each_committed([&](const std::string& g, const std::string& t, int32_t p, int64_t o) {
        all.emplace_back(g, t, p, o);
    });
    EXPECT_EQ(all.size(), 2u);
}

// TxnOffsetCommit's group metadata (KIP-447): a zombie's stale generation or unknown member is refused;
// no group metadata (v0-2) or an empty group with generation -1 passes; a transaction commits during a
// rebalance (unlike OffsetCommit: its offsets apply only when the transaction commits).
TEST_F(group_coordinator_test, txn_offset_commit_validation) {
    auto check = [&](const std::string& group, int32_t generation, const std::string& member,
                     std::optional<std::string> instance = std::nullopt) {
        return coordinator_->validate_txn_offset_commit(group, generation, member, instance);
    };
    EXPECT_EQ(check("never-existed", -1, ""), error_code::none);
    EXPECT_EQ(check("never-existed", 3, "m"), error_code::illegal_generation);
    std::string a = new_member_id();
    auto ja = join(join_request(a));
    ASSERT_TRUE(ja.ready());
    EXPECT_EQ(check(k_group, 1, a), error_code::none);  // completing the rebalance
    ASSERT_TRUE(sync(a, 1, {{a, "x"}}).ready());
    EXPECT_EQ(check(k_group, 1, a), error_code::none);
    EXPECT_EQ(check(k_group, -1, ""), error_code::none);  // a producer of the v0-2 form
    EXPECT_EQ(check(k_group, 0, a), error_code::illegal_generation);
    EXPECT_EQ(check(k_group, 2, a), error_code::illegal_generation);
    EXPECT_EQ(check(k_group, 1, "stranger"), error_code::unknown_member_id);
    EXPECT_EQ(check(k_group, 1, a, std::string("not-a-static-member")), error_code::unknown_member_id);
}

TEST_F(group_coordinator_test, offsets_of_empty_groups_expire) {
    settings_.offsets_retention_ms = 3'600'000;
    settings_.offsets_retention_check_interval_ms = 0;
    open_coordinator();
    ASSERT_TRUE(commit("idle", -1, "", 7).ready());
    std::string a = stable_single_member();
    ASSERT_EQ(commit(k_group, 1, a, 9).get()[0], error_code::none);
    // Two hours pass; the active member heartbeats every 5 s and keeps its group (and offsets).
    for (int step = 0; step < 2 * 720; ++step) {
        clock_.advance(5s);
        ASSERT_EQ(heartbeat(a, 1), error_code::none);
        coordinator_->tick();
        drain();
    }
    EXPECT_FALSE(coordinator_->committed("idle", "t", 0).has_value());
    EXPECT_TRUE(coordinator_->committed(k_group, "t", 0).has_value());
    coordinator_->tick();  // the next sweep removes the group that has nothing left
    EXPECT_FALSE(coordinator_->state_of("idle").has_value());
}

TEST_F(group_coordinator_test, committed_offsets_survive_restart_and_group_is_listed_empty) {
    ASSERT_EQ(commit("g1", -1, "", 100).get()[0], error_code::none);
    coordinator_->close();
    open_coordinator();
    EXPECT_EQ(coordinator_->committed("g1", "t", 0)->offset, 100);
    auto listed = coordinator_->list_groups();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].group_id, "g1");
    EXPECT_EQ(listed[0].state, group_state::empty);
}

TEST_F(group_coordinator_test, describe_and_list_groups) {
    auto [a, b] = stable_two_members();
    auto d = coordinator_->describe_group(k_group);
    EXPECT_EQ(d.error, error_code::none);
    EXPECT_EQ(d.state, "Stable");
    EXPECT_EQ(d.protocol_type, "consumer");
    EXPECT_EQ(d.protocol_data, "range");
    ASSERT_EQ(d.members.size(), 2u);
    EXPECT_EQ(d.members[0].member_id, a);
    EXPECT_EQ(d.members[0].assignment, "A2");
    EXPECT_EQ(d.members[1].metadata, "meta");
    EXPECT_EQ(d.members[1].client_host, "/127.0.0.1");

    EXPECT_EQ(coordinator_->describe_group("missing").state, "Dead");
    ASSERT_EQ(commit("simple", -1, "", 1).get()[0], error_code::none);
    EXPECT_EQ(coordinator_->list_groups().size(), 2u);
    auto stable = coordinator_->list_groups({group_state::stable});
    ASSERT_EQ(stable.size(), 1u);
    EXPECT_EQ(stable[0].group_id, k_group);
    EXPECT_EQ(coordinator_->list_groups({group_state::empty})[0].group_id, "simple");
    EXPECT_EQ(parse_group_state("completingrebalance"), group_state::completing_rebalance);
    EXPECT_FALSE(parse_group_state("Bogus").has_value());

    // Outside Stable, member metadata and assignments are not shown.
    coordinator_->leave_group(k_group, {leave_group_member{b, std::nullopt, std::nullopt}});
    auto preparing = coordinator_->describe_group(k_group);
    EXPECT_EQ(preparing.state, "PreparingRebalance");
    EXPECT_EQ(preparing.protocol_data, "");
    ASSERT_EQ(preparing.members.size(), 1u);
    EXPECT_EQ(preparing.members[0].assignment, "");
}

TEST_F(group_coordinator_test, close_wakes_waiting_joins) {
    std::string a = stable_single_member();
    std::string b = new_member_id();
    auto jb = join(join_request(b));
    EXPECT_FALSE(jb.ready());
    coordinator_->close();
    drain();
    ASSERT_TRUE(jb.ready());
    EXPECT_EQ(jb.get().error, error_code::not_coordinator);
    EXPECT_EQ(heartbeat(a, 1), error_code::not_coordinator);
}

TEST_F(group_coordinator_test, new_member_parked_in_join_is_dropped_after_the_new_member_join_timeout) {
    // A's long rebalance timeout keeps the rebalance B starts open; B, new,
    // cannot heartbeat while parked (and its disconnect would go unseen).
    std::string a = new_member_id();
    auto first = join_request(a);
    first.session_timeout_ms = 60'000;
    first.rebalance_timeout_ms = 600'000;
    auto ja = join(first);
    ASSERT_TRUE(ja.ready());
    ASSERT_TRUE(sync(a, 1, {{a, "A"}}).ready());
    std::string b = new_member_id();
    auto jb = join(join_request(b));
    EXPECT_FALSE(jb.ready());
    for (int step = 0; step < 5; ++step) {  // A keeps its session alive, not rejoining yet
        advance(std::chrono::seconds(59));
        EXPECT_EQ(heartbeat(a, 1), error_code::rebalance_in_progress);
    }
    EXPECT_FALSE(jb.ready());
    advance(std::chrono::seconds(10));  // 305 s since B joined
    ASSERT_TRUE(jb.ready());
    EXPECT_EQ(jb.get().error, error_code::unknown_member_id);
    EXPECT_EQ(coordinator_->member_count(k_group), 1u);
    auto rejoined = join(join_request(a));
    ASSERT_TRUE(rejoined.ready());
    EXPECT_EQ(rejoined.get().generation_id, 2);
}

// A consumer protocol subscription as Java and KafkaJS clients send it:
// version, topic names, user data (null).
std::string consumer_subscription(const std::vector<std::string>& topics) {
    std::string out;
    auto put16 = [&](uint16_t v) { out.push_back(char(v >> 8)); out.push_back(char(v & 0xff)); };
    auto put32 = [&](uint32_t v) { for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char((v >> shift) & 0xff)); };
    put16(1);
    put32(static_cast<uint32_t>(topics.size()));
    for (const auto& t : topics) {
        put16(static_cast<uint16_t>(t.size()));
        out += t;
    }
    put32(0xffffffffu);
    return out;
}

class offset_delete_test : public group_coordinator_test {
protected:
    // One Stable member subscribed through `metadata`, with offsets committed
    // for t-0 and u-0 (outside the generation, before it joined).
    std::string stable_member_with_offsets(const std::string& protocol_type, const std::string& metadata) {
        offset_commit_request r;
        r.group_id = k_group;
        for (const char* topic : {"t", "u"}) {
            offset_commit_entry e;
            e.topic = topic;
            e.partition = 0;
            e.value.offset = 7;
            r.entries.push_back(std::move(e));
        }
        auto committed = start(coordinator_->commit_offsets(std::move(r)));
        EXPECT_TRUE(committed.ready());
        auto first = join_request("", {{"range", metadata}});
        first.protocol_type = protocol_type;
        auto id = join(first);
        std::string a = id.get().member_id;
        auto again = join_request(a, {{"range", metadata}});
        again.protocol_type = protocol_type;
        auto joined = join(again);
        EXPECT_TRUE(joined.ready());
        EXPECT_EQ(joined.get().error, error_code::none);
        auto synced = sync(a, joined.get().generation_id, {{a, "assign"}});
        EXPECT_TRUE(synced.ready());
        EXPECT_EQ(coordinator_->state_of(k_group), group_state::stable);
        return a;
    }

    std::pair<error_code, std::vector<error_code>> delete_t_and_u() {
        auto r = start(coordinator_->delete_offsets(k_group, {{"t", 0}, {"u", 0}}));
        EXPECT_TRUE(r.ready());
        return r.get();
    }
};

TEST_F(offset_delete_test, live_group_keeps_subscribed_topics_and_loses_the_others) {
    stable_member_with_offsets("consumer", consumer_subscription({"t"}));
    auto [group_error, errors] = delete_t_and_u();
    EXPECT_EQ(group_error, error_code::none);
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_EQ(errors[0], error_code::group_subscribed_to_topic);
    EXPECT_EQ(errors[1], error_code::none);
    EXPECT_TRUE(coordinator_->committed(k_group, "t", 0).has_value());
    EXPECT_FALSE(coordinator_->committed(k_group, "u", 0).has_value());
}

TEST_F(offset_delete_test, empty_group_loses_every_partition) {
    std::string a = stable_member_with_offsets("consumer", consumer_subscription({"t", "u"}));
    coordinator_->leave_group(k_group, {leave_group_member{a, std::nullopt, std::nullopt}});
    ASSERT_EQ(coordinator_->state_of(k_group), group_state::empty);
    auto [group_error, errors] = delete_t_and_u();
    EXPECT_EQ(group_error, error_code::none);
    EXPECT_EQ(errors, (std::vector<error_code>{error_code::none, error_code::none}));
    EXPECT_FALSE(coordinator_->committed(k_group, "t", 0).has_value());
    EXPECT_FALSE(coordinator_->committed(k_group, "u", 0).has_value());
}

TEST_F(offset_delete_test, unparsable_consumer_metadata_counts_as_subscribed_to_everything) {
    stable_member_with_offsets("consumer", "not a subscription");
    auto [group_error, errors] = delete_t_and_u();
    EXPECT_EQ(group_error, error_code::none);
    EXPECT_EQ(errors, (std::vector<error_code>{error_code::group_subscribed_to_topic,
                                               error_code::group_subscribed_to_topic}));
    EXPECT_TRUE(coordinator_->committed(k_group, "u", 0).has_value());
}

TEST_F(offset_delete_test, live_group_of_another_protocol_type_is_refused) {
    stable_member_with_offsets("connect", consumer_subscription({"t"}));
    auto [group_error, errors] = delete_t_and_u();
    EXPECT_EQ(group_error, error_code::non_empty_group);
    EXPECT_TRUE(coordinator_->committed(k_group, "u", 0).has_value());
}

TEST_F(offset_delete_test, unknown_group_is_not_found) {
    auto r = start(coordinator_->delete_offsets("nobody", {{"t", 0}}));
    ASSERT_TRUE(r.ready());
    EXPECT_EQ(r.get().first, error_code::group_id_not_found);
}

TEST_F(group_coordinator_test, group_metrics_follow_states) {
    stable_two_members();
    auto text = metrics_.expose();
    EXPECT_NE(text.find("millrace_broker_groups{state=\"Stable\"} 1"), std::string::npos) << text;
    EXPECT_NE(text.find("millrace_broker_group_members 2"), std::string::npos) << text;
    EXPECT_NE(text.find("millrace_broker_group_rebalances_total 2"), std::string::npos) << text;
}

}  // namespace
}  // namespace millrace::kafka
