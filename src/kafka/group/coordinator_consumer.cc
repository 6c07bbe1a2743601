// group_coordinator's KIP-848 half: ConsumerGroupHeartbeat, the consumer
// groups' timeouts, and the checks other APIs make on consumer groups.
// The rules (epochs, assignors, reconciliation) are in consumer_group.h.
#include <algorithm>

#include <fmt/ranges.h>

#include "group/classic_group.h"
#include "group/coordinator.h"

namespace millrace::kafka {
namespace {

consumer_heartbeat_result heartbeat_error(error_code code, std::string message) {
    consumer_heartbeat_result out;
    out.error = code;
    out.error_message = std::move(message);
    return out;
}

std::chrono::milliseconds millis(int64_t value) { return std::chrono::milliseconds(value); }

// Kafka's validation of the request shape (INVALID_REQUEST).
std::optional<std::string> invalid_request(const consumer_heartbeat_request& r) {
    if (r.group_id.empty()) return "GroupId can't be empty.";
    if (r.rack_id && r.rack_id->empty()) return "RackId can't be empty.";
    if (r.instance_id && r.instance_id->empty()) return "InstanceId can't be empty.";
    if (r.member_epoch == k_join_epoch) {
        if (r.api_version >= 1 && r.member_id.empty()) return "MemberId can't be empty.";
        if (r.rebalance_timeout_ms == -1) return "RebalanceTimeoutMs must be provided in first request.";
        if (r.owned && !r.owned->empty()) return "TopicPartitions must be empty when (re-)joining.";
        if (!r.subscribed_names && !r.subscribed_regex) {
            return "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.";
        }
    } else if (r.member_epoch == k_static_leave_epoch) {
        if (r.member_id.empty()) return "MemberId can't be empty.";
        if (!r.instance_id) return "InstanceId can't be null.";
    } else if (r.member_epoch < k_static_leave_epoch) {
        return fmt::format("MemberEpoch {} is invalid.", r.member_epoch);
    } else if (r.member_id.empty()) {
        return "MemberId can't be empty.";
    }
    return std::nullopt;
}

bool subset_of(const partition_map& owned, const partition_map& assigned) {
    for (const auto& [topic, partitions] : owned) {
        if (partitions.empty()) continue;
        auto it = assigned.find(topic);
        if (it == assigned.end()) return false;
        for (int32_t p : partitions) {
            if (!it->second.contains(p)) return false;
        }
    }
    return true;
}

// The server assignor most members ask for, else the default (Kafka's
// computePreferredServerAssignor); ties go to the smaller name.
std::string preferred_assignor(const consumer_group& g, const std::string& fallback) {
    std::map<std::string, int> votes;
    for (const auto& [id, m] : g.members) {
        if (m.server_assignor) ++votes[*m.server_assignor];
    }
    std::string best = fallback;
    int most = 0;
    for (const auto& [name, count] : votes) {
        if (count > most) {
            best = name;
            most = count;
        }
    }
    return best;
}

}  // namespace

consumer_group* group_coordinator::find_consumer(const std::string& id) const {
    auto it = consumer_groups_.find(id);
    return it == consumer_groups_.end() ? nullptr : it->second.get();
}

const consumer_group* group_coordinator::find_consumer_group(const std::string& group_id) const {
    return find_consumer(group_id);
}

consumer_heartbeat_result group_coordinator::consumer_group_heartbeat(const consumer_heartbeat_request& request,
                                                                      const topic_snapshot& topics) {
    if (closed_) return heartbeat_error(error_code::not_coordinator, "The coordinator is closed.");
    if (auto why = invalid_request(request)) return heartbeat_error(error_code::invalid_request, *why);
    if (request.server_assignor &&
        std::find(settings_.consumer_assignors.begin(), settings_.consumer_assignors.end(), *request.server_assignor) ==
            settings_.consumer_assignors.end()) {
        return heartbeat_error(error_code::unsupported_assignor,
                               fmt::format("ServerAssignor {} is not supported. Supported assignors: {}.",
                                           *request.server_assignor, fmt::join(settings_.consumer_assignors, ", ")));
    }
    if (request.subscribed_regex && !compile_topic_regex(*request.subscribed_regex)) {
        return heartbeat_error(error_code::invalid_regular_expression,
                               fmt::format("SubscribedTopicRegex `{}` is not a valid regular expression.",
                                           *request.subscribed_regex));
    }
    const bool joining = request.member_epoch == k_join_epoch;
    consumer_group* g = find_consumer(request.group_id);
    if (g == nullptr) {
        if (classic_group* classic = find_group(request.group_id)) {
            // Kafka converts an empty classic group; a live one stays classic
            // (its online upgrade, group.consumer.migration.policy, is not done here).
            if (!classic->members.empty() || !classic->pending_members.empty() ||
                classic->state != group_state::empty) {
                return heartbeat_error(error_code::group_id_not_found,
                                       fmt::format("Group {} is not a consumer group.", request.group_id));
            }
            if (!joining) return heartbeat_error(error_code::unknown_member_id, "Unknown member.");
            log_.info("group {}: the empty classic group becomes a consumer group", request.group_id);
            remove_group(request.group_id);
        } else if (!joining) {
            // Kafka answers GROUP_ID_NOT_FOUND; UNKNOWN_MEMBER_ID makes the
            // client rejoin, which is what a member of a lost group must do.
            return heartbeat_error(error_code::unknown_member_id,
                                   fmt::format("Consumer group {} has no member {}.", request.group_id, request.member_id));
        }
        if (joining && find_consumer(request.group_id) == nullptr) {
            auto [it, inserted] = consumer_groups_.emplace(request.group_id, std::make_unique<consumer_group>(request.group_id));
            g = it->second.get();
        }
        g = find_consumer(request.group_id);
    }
    auto now = clock_.mono_now();
    consumer_heartbeat_result out;
    out.heartbeat_interval_ms = settings_.consumer_heartbeat_interval_ms;

    // ---- leaving ----
    if (request.member_epoch == k_leave_epoch || request.member_epoch == k_static_leave_epoch) {
        consumer_member* m = g->member(request.member_id);
        if (m == nullptr && request.instance_id) {
            auto it = g->static_members.find(*request.instance_id);
            if (it != g->static_members.end()) m = g->member(it->second);
        }
        if (m == nullptr) {
            return heartbeat_error(error_code::unknown_member_id,
                                   fmt::format("Member {} is not a member of group {}.", request.member_id, g->id));
        }
        out.member_id = request.member_id;
        out.member_epoch = request.member_epoch;
        if (request.member_epoch == k_static_leave_epoch) {
            // A static member leaving for a while keeps its partitions until
            // its session expires or its instance id rejoins.
            m->previous_member_epoch = m->member_epoch;
            m->member_epoch = k_static_leave_epoch;
            log_.info("group {}: static member {} ({}) left temporarily", g->id, m->id, *m->instance_id);
            return out;
        }
        remove_consumer_member(*g, m->id, "left the group");
        return out;
    }

    // ---- the member ----
    consumer_member* m = g->member(request.member_id);
    bool changed_group = false;
    bool keep_member = false;  // a static member taking its place back keeps its partitions
    if (joining) {
        if (request.instance_id) {
            auto it = g->static_members.find(*request.instance_id);
            if (it != g->static_members.end() && it->second != request.member_id) {
                consumer_member* old = g->member(it->second);
                if (old != nullptr && old->member_epoch != k_static_leave_epoch) {
                    return heartbeat_error(error_code::unreleased_instance_id,
                                           fmt::format("Static member {} with instance id {} is still in group {}.",
                                                       it->second, *request.instance_id, g->id));
                }
                if (old != nullptr) {
                    // The new incarnation takes the old one's place and partitions.
                    consumer_member replacement = std::move(*old);
                    std::string old_id = replacement.id;
                    g->members.erase(old_id);
                    auto target = std::move(g->target[old_id]);
                    g->target.erase(old_id);
                    replacement.id = request.member_id.empty() ? make_member_id(*request.instance_id) : request.member_id;
                    replacement.member_epoch = replacement.previous_member_epoch;
                    g->target[replacement.id] = std::move(target);
                    g->static_members[*request.instance_id] = replacement.id;
                    log_.info("group {}: static member {} rejoined as {} (was {})", g->id, *request.instance_id,
                              replacement.id, old_id);
                    m = &g->members.emplace(replacement.id, std::move(replacement)).first->second;
                    keep_member = true;
                }
            }
        }
        if (!keep_member) {
            if (m != nullptr) {
                // A known member joining again lost its state: start over.
                remove_consumer_member(*g, m->id, "rejoined with epoch 0");
                m = nullptr;
            }
            if (g->members.size() >= static_cast<size_t>(settings_.consumer_max_size)) {
                return heartbeat_error(error_code::group_max_size_reached,
                                       fmt::format("The consumer group has reached its maximum capacity of {} members.",
                                                   settings_.consumer_max_size));
            }
            consumer_member fresh;
            fresh.id = request.member_id.empty() ? make_member_id(request.client_id) : request.member_id;
            fresh.instance_id = request.instance_id;
            if (fresh.instance_id) g->static_members[*fresh.instance_id] = fresh.id;
            m = &g->members.emplace(fresh.id, std::move(fresh)).first->second;
            changed_group = true;
            log_.info("group {}: member {} (client {} from {}) joins", g->id, m->id, request.client_id,
                      request.client_host);
        }
    } else {
        if (m == nullptr) {
            return heartbeat_error(error_code::unknown_member_id,
                                   fmt::format("Member {} is not a member of group {}.", request.member_id, g->id));
        }
        if (request.instance_id && m->instance_id != request.instance_id) {
            return heartbeat_error(error_code::fenced_instance_id,
                                   fmt::format("Instance id {} does not belong to member {}.", *request.instance_id, m->id));
        }
        if (request.member_epoch > m->member_epoch) {
            return heartbeat_error(error_code::fenced_member_epoch,
                                   fmt::format("The consumer group member has a greater member epoch ({}) than the one "
                                               "known by the group coordinator ({}).",
                                               request.member_epoch, m->member_epoch));
        }
        if (request.member_epoch < m->member_epoch) {
            // The previous epoch is still accepted while the member has not
            // seen the answer that moved it (its owned partitions must fit).
            bool lagging = request.member_epoch == m->previous_member_epoch &&
                           (!request.owned || subset_of(*request.owned, m->assigned));
            if (!lagging) {
                return heartbeat_error(error_code::fenced_member_epoch,
                                       fmt::format("The consumer group member has a smaller member epoch ({}) than the "
                                                   "one known by the group coordinator ({}).",
                                                   request.member_epoch, m->member_epoch));
            }
        }
    }

    // ---- its subscription ----
    m->client_id = request.client_id;
    m->client_host = request.client_host;
    if (request.rack_id) m->rack_id = request.rack_id;
    if (request.rebalance_timeout_ms > 0) m->rebalance_timeout_ms = request.rebalance_timeout_ms;
    if (request.subscribed_names) {
        auto names = *request.subscribed_names;
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        if (names != m->subscribed_names) {
            m->subscribed_names = std::move(names);
            changed_group = true;
        }
    }
    if (request.subscribed_regex) {
        std::optional<std::string> regex = request.subscribed_regex->empty() ? std::nullopt : request.subscribed_regex;
        if (regex != m->subscribed_regex) {
            m->subscribed_regex = std::move(regex);
            changed_group = true;
        }
    }
    if (request.server_assignor) {
        std::optional<std::string> assignor = request.server_assignor->empty() ? std::nullopt : request.server_assignor;
        if (assignor != m->server_assignor) {
            m->server_assignor = std::move(assignor);
            changed_group = true;
        }
    }
    m->session_deadline = now + millis(settings_.consumer_session_timeout_ms);

    // ---- group epoch and target assignment ----
    auto subscribed = g->compute_subscribed_topics(topics);
    bool metadata_changed = subscribed != g->subscribed_topics;
    if (metadata_changed) g->subscribed_topics = std::move(subscribed);
    if (changed_group || metadata_changed) {
        ++g->group_epoch;
        log_.debug("group {}: epoch {} ({})", g->id, g->group_epoch, changed_group ? "members or subscriptions changed"
                                                                                    : "subscribed topics changed");
    }
    if (g->assignment_epoch < g->group_epoch) {
        std::string assignor = preferred_assignor(*g, settings_.consumer_assignors.front());
        g->target = compute_assignment(assignor, g->members, g->subscribed_topics, g->target);
        g->assignor = std::move(assignor);
        g->assignment_epoch = g->group_epoch;
        rebalances_.inc();
        log_.info("group {}: new target assignment at epoch {} for {} members ({} assignor)", g->id,
                  g->assignment_epoch, g->members.size(), g->assignor);
    }

    // ---- reconciliation ----
    const int32_t epoch_before = joining ? -1 : m->member_epoch;
    const partition_map assigned_before = m->assigned;
    const bool was_revoking = m->state == member_state::unrevoked_partitions;
    bool changed = reconcile(*g, *m, request.owned);
    if (m->state == member_state::unrevoked_partitions && !was_revoking) {
        m->revocation_deadline = now + millis(m->rebalance_timeout_ms);
    } else if (m->state != member_state::unrevoked_partitions) {
        m->revocation_deadline.reset();
    }
    out.member_id = m->id;
    out.member_epoch = m->member_epoch;
    // The assignment goes out when it changed, on a join, or when the member
    // reports owning something else.
    if (joining || changed || m->member_epoch != epoch_before || m->assigned != assigned_before ||
        (request.owned && !subset_of(*request.owned, m->assigned)) ||
        (request.owned && !subset_of(m->assigned, *request.owned))) {
        out.assignment = m->assigned;
    }
    return out;
}

void group_coordinator::remove_consumer_member(consumer_group& g, const std::string& member_id_ref, std::string_view reason) {
    // A copy: callers may pass a reference to the member's own id, which erase() frees.
    const std::string member_id = member_id_ref;
    auto it = g.members.find(member_id);
    if (it == g.members.end()) return;
    if (it->second.instance_id) {
        auto s = g.static_members.find(*it->second.instance_id);
        if (s != g.static_members.end() && s->second == member_id) g.static_members.erase(s);
    }
    g.members.erase(it);
    g.target.erase(member_id);
    ++g.group_epoch;
    log_.info("group {}: member {} removed ({}); group epoch {}", g.id, member_id, reason, g.group_epoch);
}

void group_coordinator::tick_consumer_group(consumer_group& g, mono_time now) {
    std::vector<std::pair<std::string, std::string>> fenced;
    for (const auto& [id, m] : g.members) {
        if (now >= m.session_deadline) {
            fenced.emplace_back(id, fmt::format("no heartbeat within the session timeout of {} ms",
                                                settings_.consumer_session_timeout_ms));
        } else if (m.revocation_deadline && now >= *m.revocation_deadline) {
            fenced.emplace_back(id, fmt::format("partitions not revoked within the rebalance timeout of {} ms",
                                                m.rebalance_timeout_ms));
        }
    }
    for (const auto& [id, why] : fenced) remove_consumer_member(g, id, why);
}

std::vector<group_listing> group_coordinator::list_all_groups() const {
    std::vector<group_listing> out;
    if (closed_) return out;
    for (const auto& [id, g] : groups_) {
        if (g->state == group_state::dead) continue;
        out.push_back(group_listing{id, g->protocol_type.value_or(""), g->state, std::string(to_string(g->state)),
                                    "classic"});
    }
    for (const auto& [id, g] : consumer_groups_) {
        auto state = g->state();
        group_state mapped = state == consumer_group_state::empty    ? group_state::empty
                             : state == consumer_group_state::stable ? group_state::stable
                                                                     : group_state::preparing_rebalance;
        out.push_back(group_listing{id, "consumer", mapped, std::string(to_string(state)), "consumer"});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.group_id < b.group_id; });
    return out;
}

error_code group_coordinator::validate_consumer_commit(consumer_group& g, const offset_commit_request& request,
                                                       int16_t api_version) {
    // Kafka's ConsumerGroup.validateOffsetCommit: an epoch of -1 (admin
    // tools, consumers without group management) may commit to an empty group.
    if (request.generation_id < 0 && g.members.empty()) return error_code::none;
    consumer_member* m = g.member(request.member_id);
    if (m == nullptr) return error_code::unknown_member_id;
    if (api_version < 9) return error_code::unsupported_version;
    if (request.generation_id > m->member_epoch) return error_code::fenced_member_epoch;
    if (request.generation_id < m->member_epoch) return error_code::stale_member_epoch;
    return error_code::none;
}

error_code group_coordinator::validate_offset_fetch(const std::string& group_id,
                                                    const std::optional<std::string>& member_id,
                                                    int32_t member_epoch) const {
    consumer_group* g = find_consumer(group_id);
    if (g == nullptr) return error_code::none;
    // Without a member (admin tools) nothing is checked.
    if (!member_id && member_epoch < 0) return error_code::none;
    auto it = g->members.find(member_id.value_or(""));
    if (it == g->members.end()) return error_code::unknown_member_id;
    if (member_epoch != it->second.member_epoch) return error_code::stale_member_epoch;
    return error_code::none;
}

}  // namespace millrace::kafka
