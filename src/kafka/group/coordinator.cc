#include "group/coordinator.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "group/classic_group.h"

namespace millrace::kafka {
namespace {

// OFFSET_METADATA_TOO_LARGE: not in protocol/errors.h.
constexpr error_code k_offset_metadata_too_large = static_cast<error_code>(12);

constexpr std::array<group_state, 4> k_live_states = {group_state::empty, group_state::preparing_rebalance,
                                                       group_state::completing_rebalance, group_state::stable};

std::chrono::milliseconds millis(int64_t value) { return std::chrono::milliseconds(value); }

join_group_result join_error(error_code code, std::string member_id) {
    join_group_result out;
    out.error = code;
    out.member_id = std::move(member_id);
    return out;
}

sync_group_result sync_error(error_code code) {
    sync_group_result out;
    out.error = code;
    return out;
}

std::string with_reason(std::string_view what, const std::optional<std::string>& reason) {
    if (!reason || reason->empty()) return std::string(what);
    return fmt::format("{} (client reason: {})", what, *reason);
}

}  // namespace

std::string_view to_string(group_state state) {
    switch (state) {
        case group_state::empty: return "Empty";
        case group_state::preparing_rebalance: return "PreparingRebalance";
        case group_state::completing_rebalance: return "CompletingRebalance";
        case group_state::stable: return "Stable";
        case group_state::dead: return "Dead";
    }
    return "Unknown";
}

std::optional<group_state> parse_group_state(std::string_view name) {
    for (auto state : {group_state::empty, group_state::preparing_rebalance, group_state::completing_rebalance,
                       group_state::stable, group_state::dead}) {
        std::string_view candidate = to_string(state);
        if (candidate.size() != name.size()) continue;
        bool same = std::equal(candidate.begin(), candidate.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        });
        if (same) return state;
    }
    return std::nullopt;
}

group_coordinator::group_coordinator(asio::io_context& io, millrace::clock& clock, file_system& fs, std::string data_dir,
                                     group_settings settings, metrics::registry& metrics)
    : io_(io),
      clock_(clock),
      settings_(settings),
      fs_(fs),
      dir_(data_dir),
      store_(io, fs, std::move(data_dir),
             offset_store_options{settings.offsets_compact_bytes, settings.offsets_background_io}, metrics),
      rng_(settings.member_id_seed != 0 ? settings.member_id_seed : std::random_device{}()),
      last_sweep_(clock.mono_now()),
      members_gauge_(metrics.make_gauge("millrace_broker_group_members", "Members of consumer groups.")),
      rebalances_(metrics.make_counter("millrace_broker_group_rebalances_total",
                                       "Consumer-group rebalances started, over all groups.")) {
    for (auto state : k_live_states) {
        state_gauges_[state] = &metrics.make_gauge("millrace_broker_groups", "Consumer groups by state.",
                                                   {{"state", std::string(to_string(state))}});
    }
}

group_coordinator::~group_coordinator() { close(); }

status group_coordinator::open() {
    if (auto st = store_.open(); !st) return st;
    if (auto st = load_group_state(); !st) return st;
    for (const auto& id : store_.groups()) {
        if (find_group(id) != nullptr || find_consumer(id) != nullptr) continue;
        // The time it became empty is not stored: expiry goes by commit time.
        create_group(id).empty_since_ms.reset();
    }
    last_sweep_ = clock_.mono_now();
    return {};
}

void group_coordinator::close() {
    if (closed_) return;
    closed_ = true;
    size_t woken = 0;
    for (auto& [id, g] : groups_) {
        for (auto& [member_id, m] : g->members) {
            if (m.pending_join) {
                m.pending_join->complete(join_error(error_code::not_coordinator, member_id));
                m.pending_join.reset();
                ++woken;
            }
            if (m.pending_sync) {
                m.pending_sync->complete(sync_error(error_code::not_coordinator));
                m.pending_sync.reset();
                ++woken;
            }
        }
        // This coordinator's share of the gauges goes away with it.
        if (g->state != group_state::dead) state_gauges_[g->state]->add(-1);
        members_gauge_.add(-static_cast<double>(g->members.size()));
    }
    persist_group_state();
    store_.close();
    log_.info("coordinator closed: {} groups, {} waiting requests answered NOT_COORDINATOR", groups_.size(), woken);
}

// ---- groups ----

classic_group* group_coordinator::find_group(const std::string& id) const {
    auto it = groups_.find(id);
    return it == groups_.end() ? nullptr : it->second.get();
}

classic_group& group_coordinator::create_group(const std::string& id) {
    auto [it, inserted] = groups_.emplace(id, std::make_unique<classic_group>(id));
    MILLRACE_ASSERT(inserted, "group {} created twice", id);
    state_gauges_[group_state::empty]->add(1);
    it->second->empty_since_ms = clock_.wall_millis();
    return *it->second;
}

void group_coordinator::remove_group(const std::string& id) {
    auto it = groups_.find(id);
    if (it == groups_.end()) return;
    MILLRACE_ASSERT(it->second->members.empty(), "removing group {} with {} members", id, it->second->members.size());
    set_state(*it->second, group_state::dead);
    groups_.erase(it);
}

void group_coordinator::set_state(classic_group& g, group_state state) {
    if (g.state == state) return;
    if (g.state != group_state::dead) state_gauges_[g.state]->add(-1);
    if (state != group_state::dead) state_gauges_[state]->add(1);
    g.state = state;
    if (state == group_state::empty) g.empty_since_ms = clock_.wall_millis();
}

std::string group_coordinator::make_member_id(std::string_view prefix) {
    // Kafka's form: "<client id or instance id>-<random UUID>".
    uint64_t hi = (rng_() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    uint64_t lo = (rng_() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
    return fmt::format("{}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", prefix, hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                       lo >> 48, lo & 0xffffffffffffULL);
}

void group_coordinator::touch(classic_group& g, const std::string& member_id) {
    if (auto* m = g.member(member_id)) m->heartbeat_deadline = clock_.mono_now() + millis(m->session_timeout_ms);
}

error_code group_coordinator::validate_member(const classic_group& g, const std::string& member_id,
                                              const std::optional<std::string>& instance_id,
                                              std::optional<int32_t> generation) const {
    if (instance_id) {
        auto it = g.static_members.find(*instance_id);
        if (it == g.static_members.end()) return error_code::unknown_member_id;
        if (it->second != member_id) return error_code::fenced_instance_id;
    }
    if (!g.has_member(member_id)) return error_code::unknown_member_id;
    if (generation && *generation != g.generation) return error_code::illegal_generation;
    return error_code::none;
}

// ---- JoinGroup ----

asio::awaitable<join_group_result> group_coordinator::join_group(join_group_request request) {
    auto done = std::make_shared<waiter<join_group_result>>(io_.get_executor());
    std::string member_id = request.member_id;
    handle_join(request, done);
    auto outcome = co_await waiter<join_group_result>::wait(done);
    // Cancelled: the connection is gone and nobody reads the answer.
    if (!outcome) co_return join_error(error_code::rebalance_in_progress, member_id);
    co_return std::move(*outcome);
}

void group_coordinator::handle_join(join_group_request& request,
                                    const std::shared_ptr<waiter<join_group_result>>& done) {
    auto fail = [&](error_code code) { done->complete(join_error(code, request.member_id)); };
    if (closed_) return fail(error_code::not_coordinator);
    if (request.group_id.empty()) return fail(error_code::invalid_group_id);
    if (request.session_timeout_ms < settings_.min_session_timeout_ms ||
        request.session_timeout_ms > settings_.max_session_timeout_ms) {
        return fail(error_code::invalid_session_timeout);
    }
    if (request.rebalance_timeout_ms < 0) request.rebalance_timeout_ms = request.session_timeout_ms;
    bool unknown = request.member_id.empty();
    if (consumer_group* cg = find_consumer(request.group_id)) {
        // A group is one type. An empty consumer group becomes classic again
        // (Kafka's downgrade); a live one refuses classic members here (Kafka
        // 4.1 can host them inside the consumer group; not done).
        if (!cg->members.empty()) return fail(error_code::inconsistent_group_protocol);
        log_.info("group {}: the empty consumer group becomes a classic group", request.group_id);
        consumer_groups_.erase(request.group_id);
    }
    classic_group* g = find_group(request.group_id);
    if (g == nullptr) {
        if (!unknown) return fail(error_code::unknown_member_id);
        g = &create_group(request.group_id);
    }
    if (g->state == group_state::dead) return fail(error_code::coordinator_not_available);
    bool known = !unknown && (g->has_member(request.member_id) || g->pending_members.contains(request.member_id));
    bool replaces_static = unknown && request.group_instance_id && g->static_members.contains(*request.group_instance_id);
    if (!known && !replaces_static &&
        g->members.size() + g->pending_members.size() >= static_cast<size_t>(settings_.max_group_size)) {
        return fail(error_code::group_max_size_reached);
    }
    if (!g->supports_protocols(request.protocol_type, request.protocols)) {
        return fail(error_code::inconsistent_group_protocol);
    }
    if (unknown) {
        join_unknown_member(*g, request, done);
    } else {
        join_known_member(*g, request, done);
    }
    if (g->state == group_state::preparing_rebalance) try_complete_join(*g);
}

void group_coordinator::join_unknown_member(classic_group& g, join_group_request& request,
                                            const std::shared_ptr<waiter<join_group_result>>& done) {
    if (request.group_instance_id) {
        std::string new_id = make_member_id(*request.group_instance_id);
        auto it = g.static_members.find(*request.group_instance_id);
        if (it != g.static_members.end()) {
            std::string old_id = it->second;
            replace_static_member(g, old_id, new_id, request, done);
        } else {
            add_member_and_rebalance(g, new_id, request, done);
        }
        return;
    }
    std::string new_id = make_member_id(request.client_id);
    if (request.require_known_member_id) {
        // v4+: the client must come back with this id; until then it holds up
        // the rebalance for at most its session timeout.
        g.pending_members[new_id] = clock_.mono_now() + millis(request.session_timeout_ms);
        done->complete(join_error(error_code::member_id_required, new_id));
        return;
    }
    add_member_and_rebalance(g, new_id, request, done);
}

void group_coordinator::join_known_member(classic_group& g, join_group_request& request,
                                          const std::shared_ptr<waiter<join_group_result>>& done) {
    const std::string& id = request.member_id;
    auto fail = [&](error_code code) { done->complete(join_error(code, id)); };
    if (g.pending_members.erase(id) > 0) {
        add_member_and_rebalance(g, id, request, done);
        return;
    }
    if (request.group_instance_id) {
        auto it = g.static_members.find(*request.group_instance_id);
        if (it == g.static_members.end()) return fail(error_code::unknown_member_id);
        if (it->second != id) return fail(error_code::fenced_instance_id);
    }
    classic_member* m = g.member(id);
    if (m == nullptr) return fail(error_code::unknown_member_id);
    switch (g.state) {
        case group_state::preparing_rebalance:
            update_member_and_rebalance(g, id, request, done);
            return;
        case group_state::completing_rebalance:
            // A repeated JoinGroup (the response was lost): answer it again.
            if (m->same_protocols(request.protocols)) {
                touch(g, id);
                done->complete(current_generation_result(g, id, g.is_leader(id)));
                return;
            }
            update_member_and_rebalance(g, id, request, done);
            return;
        case group_state::stable:
            // A follower with unchanged metadata gets the current generation;
            // the leader or changed metadata start a rebalance.
            if (g.is_leader(id) || !m->same_protocols(request.protocols)) {
                update_member_and_rebalance(g, id, request, done);
                return;
            }
            touch(g, id);
            done->complete(current_generation_result(g, id, false));
            return;
        case group_state::empty:
        case group_state::dead:
            return fail(error_code::unknown_member_id);
    }
}

void group_coordinator::add_member_and_rebalance(classic_group& g, const std::string& member_id,
                                                 join_group_request& request,
                                                 const std::shared_ptr<waiter<join_group_result>>& done) {
    classic_member m;
    m.id = member_id;
    m.instance_id = request.group_instance_id;
    m.client_id = request.client_id;
    m.client_host = request.client_host;
    m.session_timeout_ms = request.session_timeout_ms;
    m.rebalance_timeout_ms = request.rebalance_timeout_ms;
    m.protocol_type = request.protocol_type;
    m.protocols = std::move(request.protocols);
    m.join_order = next_join_order_++;
    m.heartbeat_deadline = clock_.mono_now() + millis(request.session_timeout_ms);
    m.join_deadline = clock_.mono_now() + millis(settings_.new_member_join_timeout_ms);
    m.pending_join = done;
    if (g.members.empty()) g.protocol_type = request.protocol_type;
    if (g.leader.empty()) g.leader = member_id;
    if (m.instance_id) g.static_members[*m.instance_id] = member_id;
    g.members.emplace(member_id, std::move(m));
    members_gauge_.add(1);
    if (g.state == group_state::preparing_rebalance && g.delay_deadline) g.delay_member_added = true;
    log_.debug("group {}: member {} (client {} from {}) joins", g.id, member_id, request.client_id, request.client_host);
    maybe_prepare_rebalance(g, with_reason(fmt::format("member {} joined", member_id), request.reason));
}

void group_coordinator::update_member_and_rebalance(classic_group& g, const std::string& member_id,
                                                    join_group_request& request,
                                                    const std::shared_ptr<waiter<join_group_result>>& done) {
    classic_member& m = *g.member(member_id);
    if (m.pending_join) {
        // A second JoinGroup while the first still waits: its connection
        // timed out or closed; release that coroutine.
        m.pending_join->complete(join_error(error_code::rebalance_in_progress, member_id));
    }
    m.protocols = std::move(request.protocols);
    m.session_timeout_ms = request.session_timeout_ms;
    m.rebalance_timeout_ms = request.rebalance_timeout_ms;
    m.client_id = request.client_id;
    m.client_host = request.client_host;
    m.pending_join = done;
    touch(g, member_id);
    maybe_prepare_rebalance(g, with_reason(fmt::format("member {} rejoined", member_id), request.reason));
}

void group_coordinator::replace_static_member(classic_group& g, const std::string& old_id, const std::string& new_id,
                                              join_group_request& request,
                                              const std::shared_ptr<waiter<join_group_result>>& done) {
    auto node = g.members.extract(old_id);
    MILLRACE_ASSERT(!node.empty(), "group {}: static member {} is not a member", g.id, old_id);
    // The old incarnation's requests in flight are fenced.
    if (node.mapped().pending_join) {
        node.mapped().pending_join->complete(join_error(error_code::fenced_instance_id, old_id));
        node.mapped().pending_join.reset();
    }
    if (node.mapped().pending_sync) {
        node.mapped().pending_sync->complete(sync_error(error_code::fenced_instance_id));
        node.mapped().pending_sync.reset();
    }
    node.key() = new_id;
    node.mapped().id = new_id;
    classic_member& m = g.members.insert(std::move(node)).position->second;
    if (g.leader == old_id) g.leader = new_id;
    g.static_members[*request.group_instance_id] = new_id;
    if (g.pending_sync.erase(old_id) > 0) g.pending_sync.insert(new_id);
    bool unchanged = m.same_protocols(request.protocols);
    m.protocols = std::move(request.protocols);
    m.client_id = request.client_id;
    m.client_host = request.client_host;
    m.session_timeout_ms = request.session_timeout_ms;
    m.rebalance_timeout_ms = request.rebalance_timeout_ms;
    touch(g, new_id);
    log_.info("group {}: static member {} rejoined as {} (was {})", g.id, *request.group_instance_id, new_id, old_id);
    switch (g.state) {
        case group_state::stable: {
            bool leader = g.is_leader(new_id);
            // Same metadata and same protocol choice: the assignment still
            // holds, so no rebalance. A leader that cannot be told to skip the
            // assignment (before v9) would compute one nobody applies:
            // rebalance instead.
            if (unchanged && g.protocol_name && g.select_protocol() == *g.protocol_name &&
                (!leader || request.supports_skip_assignment)) {
                auto result = current_generation_result(g, new_id, leader);
                result.skip_assignment = leader;
                done->complete(std::move(result));
                return;
            }
            m.pending_join = done;
            prepare_rebalance(g, "static member rejoined with changed metadata");
            return;
        }
        case group_state::completing_rebalance:
            // The leader may be computing an assignment for the old member id.
            m.pending_join = done;
            prepare_rebalance(g, "static member rejoined during the sync phase");
            return;
        case group_state::preparing_rebalance:
            m.pending_join = done;
            return;
        case group_state::empty:
        case group_state::dead:
            m.pending_join = done;
            maybe_prepare_rebalance(g, "static member rejoined");
            return;
    }
}

join_group_result group_coordinator::current_generation_result(const classic_group& g, const std::string& member_id,
                                                               bool with_members) const {
    join_group_result out;
    out.generation_id = g.generation;
    out.protocol_type = g.protocol_type;
    out.protocol_name = g.protocol_name;
    out.leader_id = g.leader;
    out.member_id = member_id;
    if (with_members) out.members = g.member_list();
    return out;
}

// ---- rebalance ----

void group_coordinator::maybe_prepare_rebalance(classic_group& g, std::string_view reason) {
    if (g.state == group_state::stable || g.state == group_state::completing_rebalance ||
        g.state == group_state::empty) {
        prepare_rebalance(g, reason);
    }
}

void group_coordinator::prepare_rebalance(classic_group& g, std::string_view reason) {
    auto now = clock_.mono_now();
    if (g.state == group_state::completing_rebalance) {
        // The generation being synced is abandoned: its assignment is void.
        for (auto& [id, m] : g.members) {
            m.assignment.clear();
            if (m.pending_sync) {
                m.pending_sync->complete(sync_error(error_code::rebalance_in_progress));
                m.pending_sync.reset();
            }
        }
    }
    g.pending_sync.clear();
    g.sync_deadline.reset();
    int64_t timeout = g.rebalance_timeout_ms();
    if (g.state == group_state::empty && settings_.initial_rebalance_delay_ms > 0) {
        g.delay_deadline = now + millis(settings_.initial_rebalance_delay_ms);
        g.delay_remaining_ms = std::max<int64_t>(timeout - settings_.initial_rebalance_delay_ms, 0);
        g.delay_member_added = false;
    }
    g.rebalance_deadline = now + millis(timeout);
    log_.info("group {}: preparing to rebalance generation {} with {} members: {}", g.id, g.generation,
              g.members.size(), reason);
    set_state(g, group_state::preparing_rebalance);
    rebalances_.inc();
    try_complete_join(g);
}

void group_coordinator::try_complete_join(classic_group& g) {
    if (g.state == group_state::preparing_rebalance && !g.delay_deadline && g.all_members_joined()) complete_join(g);
}

void group_coordinator::complete_join(classic_group& g) {
    MILLRACE_ASSERT(g.state == group_state::preparing_rebalance, "group {}: completing a join in state {}", g.id,
                    to_string(g.state));
    auto now = clock_.mono_now();
    // Dynamic members that did not rejoin are gone; static ones keep their
    // place until their session expires.
    std::vector<std::string> gone;
    for (const auto& [id, m] : g.members) {
        if (!m.awaiting_join() && !m.instance_id) gone.push_back(id);
    }
    for (const auto& id : gone) {
        log_.info("group {}: member {} did not rejoin in time; removing it", g.id, id);
        remove_member(g, id, error_code::unknown_member_id);
    }
    if (!g.members.empty()) {
        classic_member* leader = g.member(g.leader);
        if (leader == nullptr || !leader->awaiting_join()) {
            std::string elected;
            for (const auto* m : g.ordered_members()) {
                if (m->awaiting_join()) {
                    elected = m->id;
                    break;
                }
            }
            if (elected.empty()) {
                // Only static members that have not rejoined remain: wait
                // another round for them (their sessions may expire).
                g.rebalance_deadline = now + millis(g.rebalance_timeout_ms());
                log_.warn("group {}: no member has rejoined; waiting another rebalance timeout", g.id);
                return;
            }
            g.leader = elected;
        }
    }
    ++g.generation;
    g.rebalance_deadline.reset();
    g.delay_deadline.reset();
    if (g.members.empty()) {
        g.protocol_name.reset();
        g.leader.clear();
        g.subscribed_topics = g.compute_subscribed_topics();
        set_state(g, group_state::empty);
        log_.info("group {}: generation {} is empty", g.id, g.generation);
        return;
    }
    g.protocol_name = g.select_protocol();
    g.subscribed_topics = g.compute_subscribed_topics();
    set_state(g, group_state::completing_rebalance);
    g.sync_deadline = now + millis(g.rebalance_timeout_ms());
    auto leader_view = g.member_list();
    for (auto& [id, m] : g.members) {
        g.pending_sync.insert(id);
        m.is_new = false;
        m.heartbeat_deadline = now + millis(m.session_timeout_ms);
        if (m.pending_join) {
            auto result = current_generation_result(g, id, false);
            if (g.is_leader(id)) result.members = leader_view;
            m.pending_join->complete(std::move(result));
            m.pending_join.reset();
        }
    }
    log_.info("group {}: generation {} with {} members, protocol {}, leader {}", g.id, g.generation, g.members.size(),
              *g.protocol_name, g.leader);
}

void group_coordinator::remove_member(classic_group& g, const std::string& member_id, error_code reason) {
    auto it = g.members.find(member_id);
    if (it == g.members.end()) return;
    classic_member& m = it->second;
    if (m.pending_join) m.pending_join->complete(join_error(reason, member_id));
    if (m.pending_sync) m.pending_sync->complete(sync_error(reason));
    if (m.instance_id) {
        auto s = g.static_members.find(*m.instance_id);
        if (s != g.static_members.end() && s->second == member_id) g.static_members.erase(s);
    }
    g.pending_sync.erase(member_id);
    g.members.erase(it);
    members_gauge_.add(-1);
    if (g.leader == member_id) {
        g.leader.clear();
        auto ordered = g.ordered_members();
        if (!ordered.empty()) g.leader = ordered.front()->id;
    }
}

void group_coordinator::on_members_removed(classic_group& g, std::string_view reason) {
    switch (g.state) {
        case group_state::stable:
        case group_state::completing_rebalance:
            prepare_rebalance(g, reason);
            break;
        case group_state::preparing_rebalance:
            try_complete_join(g);
            break;
        case group_state::empty:
        case group_state::dead:
            break;
    }
}

// ---- SyncGroup, Heartbeat, LeaveGroup ----

asio::awaitable<sync_group_result> group_coordinator::sync_group(sync_group_request request) {
    auto done = std::make_shared<waiter<sync_group_result>>(io_.get_executor());
    handle_sync(request, done);
    auto outcome = co_await waiter<sync_group_result>::wait(done);
    if (!outcome) co_return sync_error(error_code::rebalance_in_progress);
    co_return std::move(*outcome);
}

void group_coordinator::handle_sync(const sync_group_request& request,
                                    const std::shared_ptr<waiter<sync_group_result>>& done) {
    auto fail = [&](error_code code) { done->complete(sync_error(code)); };
    if (closed_) return fail(error_code::not_coordinator);
    if (request.group_id.empty()) return fail(error_code::invalid_group_id);
    classic_group* g = find_group(request.group_id);
    if (g == nullptr) return fail(error_code::unknown_member_id);
    if (g->state == group_state::dead) return fail(error_code::coordinator_not_available);
    if (auto code = validate_member(*g, request.member_id, request.group_instance_id, request.generation_id);
        code != error_code::none) {
        return fail(code);
    }
    if (request.protocol_type && g->protocol_type != request.protocol_type) {
        return fail(error_code::inconsistent_group_protocol);
    }
    if (request.protocol_name && g->protocol_name != request.protocol_name) {
        return fail(error_code::inconsistent_group_protocol);
    }
    classic_member& m = *g->member(request.member_id);
    switch (g->state) {
        case group_state::empty:
        case group_state::dead:
            return fail(error_code::unknown_member_id);
        case group_state::preparing_rebalance:
            return fail(error_code::rebalance_in_progress);
        case group_state::completing_rebalance: {
            if (m.pending_sync) m.pending_sync->complete(sync_error(error_code::rebalance_in_progress));
            m.pending_sync = done;
            g->pending_sync.erase(m.id);
            touch(*g, m.id);
            if (!g->is_leader(m.id)) return;  // followers wait for the leader
            std::map<std::string, std::string> assignment(request.assignments.begin(), request.assignments.end());
            for (auto& [id, member] : g->members) {
                auto it = assignment.find(id);
                member.assignment = it == assignment.end() ? std::string() : it->second;
            }
            set_state(*g, group_state::stable);
            for (auto& [id, member] : g->members) {
                if (!member.pending_sync) continue;
                member.pending_sync->complete(
                    sync_group_result{error_code::none, g->protocol_type, g->protocol_name, member.assignment});
                member.pending_sync.reset();
            }
            log_.info("group {}: generation {} is stable; the leader assigned {} members", g->id, g->generation,
                      g->members.size());
            return;
        }
        case group_state::stable:
            g->pending_sync.erase(m.id);
            touch(*g, m.id);
            done->complete(sync_group_result{error_code::none, g->protocol_type, g->protocol_name, m.assignment});
            return;
    }
}

error_code group_coordinator::heartbeat(const heartbeat_request& request) {
    if (closed_) return error_code::not_coordinator;
    if (request.group_id.empty()) return error_code::invalid_group_id;
    classic_group* g = find_group(request.group_id);
    if (g == nullptr) return error_code::unknown_member_id;
    if (g->state == group_state::dead) return error_code::coordinator_not_available;
    if (g->state == group_state::empty) return error_code::unknown_member_id;
    if (auto code = validate_member(*g, request.member_id, request.group_instance_id, request.generation_id);
        code != error_code::none) {
        return code;
    }
    touch(*g, request.member_id);
    return g->state == group_state::preparing_rebalance ? error_code::rebalance_in_progress : error_code::none;
}

leave_group_result group_coordinator::leave_group(const std::string& group_id,
                                                  const std::vector<leave_group_member>& members) {
    leave_group_result out;
    out.members.assign(members.size(), error_code::none);
    if (closed_) {
        out.error = error_code::not_coordinator;
        return out;
    }
    if (group_id.empty()) {
        out.error = error_code::invalid_group_id;
        return out;
    }
    classic_group* g = find_group(group_id);
    if (g == nullptr) {
        std::fill(out.members.begin(), out.members.end(), error_code::unknown_member_id);
        return out;
    }
    if (g->state == group_state::dead) {
        out.error = error_code::coordinator_not_available;
        return out;
    }
    bool removed_member = false;
    bool removed_pending = false;
    for (size_t idx = 0; idx < members.size(); ++idx) {
        const auto& leaving = members[idx];
        std::string id = leaving.member_id;
        if (leaving.group_instance_id) {
            auto it = g->static_members.find(*leaving.group_instance_id);
            if (it == g->static_members.end()) {
                out.members[idx] = error_code::unknown_member_id;
                continue;
            }
            if (!id.empty() && it->second != id) {
                out.members[idx] = error_code::fenced_instance_id;
                continue;
            }
            id = it->second;
        } else if (g->pending_members.erase(id) > 0) {
            removed_pending = true;
            continue;
        }
        if (!g->has_member(id)) {
            out.members[idx] = error_code::unknown_member_id;
            continue;
        }
        log_.info("group {}: {}", g->id, with_reason(fmt::format("member {} leaves", id), leaving.reason));
        remove_member(*g, id, error_code::unknown_member_id);
        removed_member = true;
    }
    if (removed_member) {
        on_members_removed(*g, "members left the group");
    } else if (removed_pending) {
        try_complete_join(*g);
    }
    return out;
}

// ---- offsets ----

asio::awaitable<std::vector<error_code>> group_coordinator::commit_offsets(offset_commit_request request) {
    std::vector<error_code> errors(request.entries.size(), error_code::none);
    auto fill = [&](error_code code) { std::fill(errors.begin(), errors.end(), code); };
    if (closed_) {
        fill(error_code::not_coordinator);
        co_return errors;
    }
    if (consumer_group* cg = find_consumer(request.group_id)) {
        if (auto code = validate_consumer_commit(*cg, request, request.api_version); code != error_code::none) {
            fill(code);
            co_return errors;
        }
        if (consumer_member* m = cg->member(request.member_id)) {
            m->session_deadline = clock_.mono_now() + millis(settings_.consumer_session_timeout_ms);
        }
        co_return co_await store_offsets(std::move(request), std::move(errors));
    }
    classic_group* g = find_group(request.group_id);
    if (g == nullptr) {
        if (request.generation_id >= 0) {
            // A generation of a group that does not exist: stale.
            fill(error_code::illegal_generation);
            co_return errors;
        }
        g = &create_group(request.group_id);  // offsets stored without group management
    }
    error_code code = error_code::none;
    if (g->state == group_state::dead) {
        code = error_code::coordinator_not_available;
    } else if (request.group_instance_id && g->static_members.contains(*request.group_instance_id) &&
               g->static_members.at(*request.group_instance_id) != request.member_id) {
        code = error_code::fenced_instance_id;
    } else if (request.generation_id < 0 && g->state == group_state::empty) {
        code = error_code::none;
    } else if (!g->has_member(request.member_id)) {
        code = error_code::unknown_member_id;
    } else if (request.generation_id != g->generation) {
        code = error_code::illegal_generation;
    } else if (g->state == group_state::completing_rebalance) {
        code = error_code::rebalance_in_progress;
    }
    if (code != error_code::none) {
        fill(code);
        co_return errors;
    }
    touch(*g, request.member_id);
    co_return co_await store_offsets(std::move(request), std::move(errors));
}

error_code group_coordinator::validate_txn_offset_commit(const std::string& group_id, int32_t generation_id,
                                                         const std::string& member_id,
                                                         const std::optional<std::string>& group_instance_id) const {
    if (closed_) return error_code::not_coordinator;
    const bool managed = generation_id >= 0 || !member_id.empty() || group_instance_id;
    if (consumer_group* cg = find_consumer(group_id)) {
        if (!managed) return error_code::none;
        const consumer_member* m = cg->member(member_id);
        if (m == nullptr) return error_code::unknown_member_id;
        if (generation_id > m->member_epoch) return error_code::fenced_member_epoch;
        if (generation_id < m->member_epoch) return error_code::stale_member_epoch;
        return error_code::none;
    }
    const classic_group* g = find_group(group_id);
    if (g == nullptr) return generation_id >= 0 ? error_code::illegal_generation : error_code::none;
    if (g->state == group_state::dead) return error_code::coordinator_not_available;
    if (generation_id < 0 && g->state == group_state::empty) return error_code::none;
    if (!managed) return error_code::none;
    return validate_member(*g, member_id, group_instance_id, generation_id);
}

asio::awaitable<std::vector<error_code>> group_coordinator::store_offsets(offset_commit_request request,
                                                                          std::vector<error_code> errors) {
    int64_t now_ms = clock_.wall_millis();
    std::vector<offset_commit_entry> accepted;
    std::vector<size_t> positions;
    for (size_t idx = 0; idx < request.entries.size(); ++idx) {
        auto& entry = request.entries[idx];
        if (entry.value.metadata && entry.value.metadata->size() > static_cast<size_t>(settings_.max_metadata_bytes)) {
            errors[idx] = k_offset_metadata_too_large;
            continue;
        }
        entry.value.commit_timestamp_ms = now_ms;
        accepted.push_back(std::move(entry));
        positions.push_back(idx);
    }
    if (accepted.empty()) co_return errors;
    // `g` may be gone once this resumes; only the id is used after the wait.
    std::string group_id = request.group_id;
    auto st = co_await store_.commit(group_id, std::move(accepted));
    if (!st) {
        log_.warn("group {}: offset commit of {} partitions failed: {}", group_id, positions.size(), st.err().message());
        // Retriable for the client, which rediscovers the coordinator and retries.
        error_code failure = st.err().code() == errc::unavailable ? error_code::not_coordinator
                                                                  : error_code::coordinator_not_available;
        for (size_t idx : positions) errors[idx] = failure;
    }
    co_return errors;
}

asio::awaitable<status> group_coordinator::commit_transactional_offsets(std::string group_id,
                                                                       std::vector<offset_commit_entry> entries) {
    if (closed_) co_return make_error(errc::unavailable, "group {}: the coordinator is closed", group_id);
    if (find_group(group_id) == nullptr) create_group(group_id);
    co_return co_await store_.commit(std::move(group_id), std::move(entries));
}

std::optional<committed_offset> group_coordinator::committed(const std::string& group_id, const std::string& topic,
                                                             int32_t partition) const {
    const committed_offset* found = store_.find(group_id, topic, partition);
    if (found == nullptr) return std::nullopt;
    return *found;
}

void group_coordinator::for_each_committed_in(
    const std::string& group_id,
    const std::function<void(const std::string&, int32_t, const committed_offset&)>& fn) const {
    store_.for_each_in_group(group_id, fn);
}

void group_coordinator::for_each_committed(
    const std::function<void(const std::string&, const std::string&, int32_t, int64_t)>& fn) const {
    store_.for_each([&](const std::string& group, const std::string& topic, int32_t partition,
                        const committed_offset& value) { fn(group, topic, partition, value.offset); });
}

// ---- administration ----

group_description group_coordinator::describe_group(const std::string& group_id) const {
    group_description out;
    out.group_id = group_id;
    if (closed_) {
        out.error = error_code::not_coordinator;
        return out;
    }
    if (consumer_group* cg = find_consumer(group_id)) {
        // DescribeGroups on a consumer group: its state and members, no
        // classic metadata or assignment bytes.
        out.state = std::string(to_string(cg->state()));
        out.protocol_type = "consumer";
        out.protocol_data = cg->assignor;
        for (const auto& [id, m] : cg->members) {
            out.members.push_back(described_member{id, m.instance_id, m.client_id, m.client_host, {}, {}});
        }
        return out;
    }
    classic_group* g = find_group(group_id);
    if (g == nullptr || g->state == group_state::dead) {
        out.state = std::string(to_string(group_state::dead));
        return out;
    }
    out.state = std::string(to_string(g->state));
    out.protocol_type = g->protocol_type.value_or("");
    bool stable = g->state == group_state::stable;
    if (stable) out.protocol_data = g->protocol_name.value_or("");
    for (const auto* m : g->ordered_members()) {
        described_member d{m->id, m->instance_id, m->client_id, m->client_host, {}, {}};
        if (stable) {
            if (const std::string* metadata = m->metadata_for(out.protocol_data)) d.metadata = *metadata;
            d.assignment = m->assignment;
        }
        out.members.push_back(std::move(d));
    }
    return out;
}

std::vector<group_listing> group_coordinator::list_groups(const std::vector<group_state>& states) const {
    std::vector<group_listing> out;
    if (closed_) return out;
    for (const auto& [id, g] : groups_) {
        if (g->state == group_state::dead) continue;
        if (!states.empty() && std::find(states.begin(), states.end(), g->state) == states.end()) continue;
        out.push_back(group_listing{id, g->protocol_type.value_or(""), g->state});
    }
    return out;
}

asio::awaitable<std::vector<error_code>> group_coordinator::delete_groups(std::vector<std::string> group_ids) {
    std::vector<error_code> errors(group_ids.size(), error_code::none);
    std::vector<std::string> with_offsets;
    std::vector<size_t> positions;
    for (size_t idx = 0; idx < group_ids.size(); ++idx) {
        const auto& id = group_ids[idx];
        if (closed_) {
            errors[idx] = error_code::not_coordinator;
            continue;
        }
        if (consumer_group* cg = find_consumer(id)) {
            if (!cg->members.empty()) {
                errors[idx] = error_code::non_empty_group;
                continue;
            }
            consumer_groups_.erase(id);
            if (store_.has_group(id)) {
                with_offsets.push_back(id);
                positions.push_back(idx);
            }
            log_.info("group {}: deleted", id);
            continue;
        }
        classic_group* g = find_group(id);
        if (g == nullptr || g->state == group_state::dead) {
            errors[idx] = error_code::group_id_not_found;
        } else if (g->state != group_state::empty) {
            errors[idx] = error_code::non_empty_group;
        } else {
            if (store_.has_group(id)) {
                with_offsets.push_back(id);
                positions.push_back(idx);
            }
            remove_group(id);
            log_.info("group {}: deleted", id);
        }
    }
    if (with_offsets.empty()) co_return errors;
    auto st = co_await store_.delete_groups(with_offsets);
    if (!st) {
        log_.warn("deleting the offsets of {} groups failed: {}", with_offsets.size(), st.err().message());
        for (size_t pos = 0; pos < with_offsets.size(); ++pos) {
            errors[positions[pos]] = error_code::coordinator_not_available;
            // The offsets are still there: so is the (empty) group.
            if (!closed_ && find_group(with_offsets[pos]) == nullptr && store_.has_group(with_offsets[pos])) {
                create_group(with_offsets[pos]);
            }
        }
    }
    co_return errors;
}

asio::awaitable<std::pair<error_code, std::vector<error_code>>> group_coordinator::delete_offsets(
    std::string group_id, std::vector<std::pair<std::string, int32_t>> partitions) {
    std::vector<error_code> errors(partitions.size(), error_code::none);
    if (closed_) co_return std::pair{error_code::not_coordinator, errors};
    if (consumer_group* cg = find_consumer(group_id)) {
        std::vector<std::pair<std::string, int32_t>> removable;
        for (size_t idx = 0; idx < partitions.size(); ++idx) {
            if (!cg->members.empty() && cg->is_subscribed_to(partitions[idx].first)) {
                errors[idx] = error_code::group_subscribed_to_topic;
            } else {
                removable.push_back(partitions[idx]);
            }
        }
        if (removable.empty() || !store_.has_group(group_id)) co_return std::pair{error_code::none, errors};
        auto st = co_await store_.delete_offsets(group_id, std::move(removable));
        co_return std::pair{st ? error_code::none : error_code::coordinator_not_available, errors};
    }
    classic_group* g = find_group(group_id);
    if ((g == nullptr || g->state == group_state::dead) && !store_.has_group(group_id)) {
        co_return std::pair{error_code::group_id_not_found, errors};
    }
    // Kafka: a live group of another protocol type cannot lose offsets at
    // all; a consumer group keeps those of the topics its members subscribe
    // to and loses the others. An Empty group subscribes to nothing.
    bool live = g != nullptr && g->state != group_state::empty && g->state != group_state::dead;
    if (live && g->protocol_type != "consumer") co_return std::pair{error_code::non_empty_group, errors};
    std::vector<std::pair<std::string, int32_t>> removable;
    for (size_t idx = 0; idx < partitions.size(); ++idx) {
        if (live && g->is_subscribed_to(partitions[idx].first)) {
            errors[idx] = error_code::group_subscribed_to_topic;
        } else {
            removable.push_back(partitions[idx]);
        }
    }
    size_t count = removable.size();
    if (removable.empty()) co_return std::pair{error_code::none, errors};
    auto st = co_await store_.delete_offsets(group_id, std::move(removable));
    if (!st) {
        log_.warn("group {}: deleting offsets failed: {}", group_id, st.err().message());
        co_return std::pair{error_code::coordinator_not_available, errors};
    }
    log_.info("group {}: deleted the committed offsets of {} partitions", group_id, count);
    co_return std::pair{error_code::none, errors};
}

std::optional<group_state> group_coordinator::state_of(const std::string& group_id) const {
    classic_group* g = find_group(group_id);
    if (g == nullptr) return std::nullopt;
    return g->state;
}

int32_t group_coordinator::generation_of(const std::string& group_id) const {
    classic_group* g = find_group(group_id);
    return g == nullptr ? -1 : g->generation;
}

size_t group_coordinator::member_count(const std::string& group_id) const {
    if (consumer_group* cg = find_consumer(group_id)) return cg->members.size();
    classic_group* g = find_group(group_id);
    return g == nullptr ? 0 : g->members.size();
}

// ---- time ----

void group_coordinator::tick() {
    if (closed_) return;
    auto now = clock_.mono_now();
    std::vector<std::string> ids;
    ids.reserve(groups_.size());
    for (const auto& [id, g] : groups_) ids.push_back(id);
    for (const auto& id : ids) {
        if (classic_group* g = find_group(id)) tick_group(*g, now);
    }
    for (auto& [id, g] : consumer_groups_) tick_consumer_group(*g, now);
    persist_group_state();
    if (now - last_sweep_ >= millis(settings_.offsets_retention_check_interval_ms)) {
        last_sweep_ = now;
        sweep_offsets();
    }
}

void group_coordinator::tick_group(classic_group& g, mono_time now) {
    // The initial rebalance delay of a new group: extended while members keep
    // arriving, up to the rebalance timeout (Kafka's InitialDelayedJoin).
    if (g.state == group_state::preparing_rebalance && g.delay_deadline && now >= *g.delay_deadline) {
        if (g.delay_member_added && g.delay_remaining_ms > 0) {
            int64_t delay = std::min(settings_.initial_rebalance_delay_ms, g.delay_remaining_ms);
            g.delay_remaining_ms = std::max<int64_t>(g.delay_remaining_ms - delay, 0);
            g.delay_deadline = now + millis(delay);
            g.delay_member_added = false;
        } else {
            g.delay_deadline.reset();
            complete_join(g);
        }
    }
    if (g.state == group_state::preparing_rebalance && !g.delay_deadline && g.rebalance_deadline &&
        now >= *g.rebalance_deadline) {
        log_.info("group {}: rebalance timed out after {} ms", g.id, g.rebalance_timeout_ms());
        complete_join(g);
    }
    bool pending_expired = false;
    for (auto it = g.pending_members.begin(); it != g.pending_members.end();) {
        if (now >= it->second) {
            log_.debug("group {}: member {} did not rejoin after MEMBER_ID_REQUIRED", g.id, it->first);
            it = g.pending_members.erase(it);
            pending_expired = true;
        } else {
            ++it;
        }
    }
    if (pending_expired) try_complete_join(g);
    std::vector<std::string> expired;
    std::vector<std::string> never_joined;
    for (const auto& [id, m] : g.members) {
        // A member waiting in JoinGroup or SyncGroup cannot heartbeat; the
        // rebalance and sync timeouts cover it instead, except a new member
        // whose first JoinGroup outlives new_member_join_timeout_ms (Kafka).
        if (m.is_new && m.awaiting_join() && now >= m.join_deadline) never_joined.push_back(id);
        if (m.awaiting_join() || m.awaiting_sync()) continue;
        if (now >= m.heartbeat_deadline) expired.push_back(id);
    }
    for (const auto& id : never_joined) {
        log_.info("group {}: new member {} removed: its first JoinGroup waited over {} ms", g.id, id,
                  settings_.new_member_join_timeout_ms);
        remove_member(g, id, error_code::unknown_member_id);
    }
    for (const auto& id : expired) {
        log_.info("group {}: member {} expired: no heartbeat within its session timeout of {} ms", g.id, id,
                  g.members.at(id).session_timeout_ms);
        remove_member(g, id, error_code::unknown_member_id);
    }
    expired.insert(expired.end(), never_joined.begin(), never_joined.end());
    if (!expired.empty()) on_members_removed(g, "session timeout expired");
    if ((g.state == group_state::completing_rebalance || g.state == group_state::stable) && !g.pending_sync.empty() &&
        g.sync_deadline && now >= *g.sync_deadline) {
        std::vector<std::string> late(g.pending_sync.begin(), g.pending_sync.end());
        for (const auto& id : late) {
            log_.info("group {}: member {} did not send SyncGroup in time; removing it", g.id, id);
            remove_member(g, id, error_code::unknown_member_id);
        }
        on_members_removed(g, "members did not sync in time");
    }
}

void group_coordinator::sweep_offsets() {
    int64_t cutoff = clock_.wall_millis() - settings_.offsets_retention_ms;
    std::vector<std::string> removable;
    for (const auto& [id, g] : groups_) {
        if (g->state != group_state::empty || !g->members.empty()) continue;
        if (store_.has_group(id)) {
            // Expiry is applied once durable; the group goes at a later sweep
            // that finds no offsets left (so a failed expiry keeps it listed).
            bool empty_long_enough = !g->empty_since_ms || *g->empty_since_ms <= cutoff;
            if (empty_long_enough) store_.expire(id, cutoff);
            continue;
        }
        if (g->pending_members.empty()) removable.push_back(id);
    }
    for (const auto& id : removable) {
        log_.debug("group {}: removed (empty, no committed offsets)", id);
        remove_group(id);
    }
    for (auto it = consumer_groups_.begin(); it != consumer_groups_.end();) {
        const auto& [id, g] = *it;
        if (!g->members.empty()) {
            ++it;
            continue;
        }
        if (store_.has_group(id)) {
            store_.expire(id, cutoff);
            ++it;
            continue;
        }
        log_.debug("group {}: removed (empty consumer group, no committed offsets)", id);
        it = consumer_groups_.erase(it);
    }
}

}  // namespace millrace::kafka
