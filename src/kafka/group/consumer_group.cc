#include "group/consumer_group.h"

#include <algorithm>

namespace millrace::kafka {

std::string_view to_string(consumer_group_state state) {
    switch (state) {
        case consumer_group_state::empty: return "Empty";
        case consumer_group_state::assigning: return "Assigning";
        case consumer_group_state::reconciling: return "Reconciling";
        case consumer_group_state::stable: return "Stable";
    }
    return "Unknown";
}

consumer_group_state consumer_group::state() const {
    if (members.empty()) return consumer_group_state::empty;
    if (assignment_epoch < group_epoch) return consumer_group_state::assigning;
    for (const auto& [id, m] : members) {
        if (m.member_epoch != assignment_epoch || m.state != member_state::stable) {
            return consumer_group_state::reconciling;
        }
    }
    return consumer_group_state::stable;
}

consumer_member* consumer_group::member(const std::string& member_id) {
    auto it = members.find(member_id);
    return it == members.end() ? nullptr : &it->second;
}

bool consumer_group::owned_by_other(const std::string& except, const uuid& topic, int32_t partition) const {
    auto holds = [&](const partition_map& map) {
        auto it = map.find(topic);
        return it != map.end() && it->second.contains(partition);
    };
    for (const auto& [id, m] : members) {
        if (id == except) continue;
        if (holds(m.assigned) || holds(m.pending_revocation)) return true;
    }
    return false;
}

std::optional<std::regex> compile_topic_regex(const std::string& expression) {
    try {
        return std::regex(expression, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
        return std::nullopt;
    }
}

namespace {

// The topics of `topics` one member subscribes to, by name.
std::set<std::string> member_topics(const consumer_member& m, const std::map<std::string, topic_info>& topics) {
    std::set<std::string> out;
    for (const auto& name : m.subscribed_names) {
        if (topics.contains(name)) out.insert(name);
    }
    if (m.subscribed_regex) {
        if (auto re = compile_topic_regex(*m.subscribed_regex)) {
            for (const auto& [name, info] : topics) {
                if (std::regex_match(name, *re)) out.insert(name);
            }
        }
    }
    return out;
}

}  // namespace

std::map<std::string, topic_info> consumer_group::compute_subscribed_topics(const topic_snapshot& topics) const {
    std::map<std::string, topic_info> out;
    for (const auto& [id, m] : members) {
        for (const auto& name : member_topics(m, topics)) out[name] = topics.at(name);
    }
    return out;
}

bool consumer_group::is_subscribed_to(const std::string& topic) const {
    if (subscribed_topics.contains(topic)) return true;
    for (const auto& [id, m] : members) {
        if (std::binary_search(m.subscribed_names.begin(), m.subscribed_names.end(), topic)) return true;
    }
    return false;
}

bool known_assignor(std::string_view name) { return name == "uniform" || name == "range"; }

namespace {

struct partition_ref {
    std::string topic;
    uuid id;
    int32_t partition;
};

// Kafka's RangeAssignor, per topic: the members subscribed to it, ordered by
// id, each take a contiguous range; the first (partitions % members) one more.
std::map<std::string, partition_map> assign_range(const std::map<std::string, consumer_member>& members,
                                                  const std::map<std::string, topic_info>& topics) {
    std::map<std::string, partition_map> out;
    for (const auto& [id, m] : members) out[id];
    std::map<std::string, std::vector<std::string>> subscribers;
    for (const auto& [id, m] : members) {
        for (const auto& name : member_topics(m, topics)) subscribers[name].push_back(id);
    }
    for (const auto& [name, ids] : subscribers) {
        const topic_info& info = topics.at(name);
        int32_t count = static_cast<int32_t>(ids.size());
        int32_t base = info.partitions / count;
        int32_t extra = info.partitions % count;
        int32_t next = 0;
        for (int32_t member_idx = 0; member_idx < count; ++member_idx) {
            int32_t take = base + (member_idx < extra ? 1 : 0);
            for (int32_t taken = 0; taken < take; ++taken) out[ids[member_idx]][info.id].insert(next++);
        }
    }
    return out;
}

// Kafka's UniformAssignor in spirit: as even as the subscriptions allow and
// sticky. Each member first keeps the partitions of its previous target it
// still subscribes to, up to its fair share; the rest go one by one to the
// eligible member holding the fewest.
std::map<std::string, partition_map> assign_uniform(const std::map<std::string, consumer_member>& members,
                                                    const std::map<std::string, topic_info>& topics,
                                                    const std::map<std::string, partition_map>& previous) {
    std::map<std::string, partition_map> out;
    std::map<std::string, std::set<std::string>> eligible_topics;
    std::map<std::string, int32_t> subscriber_count;
    for (const auto& [id, m] : members) {
        out[id];
        eligible_topics[id] = member_topics(m, topics);
        for (const auto& name : eligible_topics[id]) ++subscriber_count[name];
    }
    std::map<uuid, std::string> name_of;
    for (const auto& [name, info] : topics) name_of[info.id] = name;
    // A member's fair share: its topics' partitions divided among their subscribers, rounded up.
    std::map<std::string, int64_t> quota;
    std::map<std::string, int64_t> held;
    for (const auto& [id, names] : eligible_topics) {
        double share = 0;
        for (const auto& name : names) share += static_cast<double>(topics.at(name).partitions) / subscriber_count[name];
        quota[id] = static_cast<int64_t>(share + 0.999999);
        held[id] = 0;
    }
    std::set<std::pair<uuid, int32_t>> taken;
    for (const auto& [id, names] : eligible_topics) {
        auto prev = previous.find(id);
        if (prev == previous.end()) continue;
        for (const auto& [topic_id, partitions] : prev->second) {
            auto name = name_of.find(topic_id);
            if (name == name_of.end() || !names.contains(name->second)) continue;
            for (int32_t p : partitions) {
                if (p >= topics.at(name->second).partitions || held[id] >= quota[id]) continue;
                if (!taken.insert({topic_id, p}).second) continue;
                out[id][topic_id].insert(p);
                ++held[id];
            }
        }
    }
    for (const auto& [name, info] : topics) {
        for (int32_t p = 0; p < info.partitions; ++p) {
            if (taken.contains({info.id, p})) continue;
            const std::string* best = nullptr;
            for (const auto& [id, names] : eligible_topics) {
                if (!names.contains(name)) continue;
                if (best == nullptr || held[id] < held[*best]) best = &id;
            }
            if (best == nullptr) continue;  // nobody subscribes
            out[*best][info.id].insert(p);
            ++held[*best];
        }
    }
    return out;
}

}  // namespace

std::map<std::string, partition_map> compute_assignment(std::string_view assignor,
                                                        const std::map<std::string, consumer_member>& members,
                                                        const std::map<std::string, topic_info>& topics,
                                                        const std::map<std::string, partition_map>& previous) {
    if (assignor == "range") return assign_range(members, topics);
    return assign_uniform(members, topics, previous);
}

bool reconcile(consumer_group& group, consumer_member& member, const std::optional<partition_map>& owned) {
    auto before_epoch = member.member_epoch;
    auto before_state = member.state;
    auto before_assigned = member.assigned;
    auto before_pending = member.pending_revocation;
    if (member.member_epoch < 0) return false;  // a static member that left for now

    if (member.state == member_state::unrevoked_partitions) {
        // Waits until the member reports owning none of the revoked partitions.
        bool still_owns = !owned.has_value();
        if (owned) {
            for (const auto& [topic, partitions] : member.pending_revocation) {
                auto it = owned->find(topic);
                if (it == owned->end()) continue;
                for (int32_t p : partitions) {
                    if (it->second.contains(p)) still_owns = true;
                }
            }
        }
        if (still_owns) return false;
        member.pending_revocation.clear();
        member.revocation_deadline.reset();
        member.state = member_state::stable;
    }
    if (member.state == member_state::stable && member.member_epoch == group.assignment_epoch) return false;

    const partition_map& target = group.target[member.id];
    partition_map keep;
    partition_map revoke;
    partition_map add;
    bool unreleased = false;
    std::set<uuid> topic_ids;
    for (const auto& [topic, parts] : member.assigned) topic_ids.insert(topic);
    for (const auto& [topic, parts] : target) topic_ids.insert(topic);
    for (const auto& topic : topic_ids) {
        static const std::set<int32_t> none;
        auto current_it = member.assigned.find(topic);
        auto target_it = target.find(topic);
        const auto& current = current_it == member.assigned.end() ? none : current_it->second;
        const auto& wanted = target_it == target.end() ? none : target_it->second;
        for (int32_t p : current) (wanted.contains(p) ? keep : revoke)[topic].insert(p);
        for (int32_t p : wanted) {
            if (current.contains(p)) continue;
            if (group.owned_by_other(member.id, topic, p)) {
                unreleased = true;
            } else {
                add[topic].insert(p);
            }
        }
    }
    if (!revoke.empty()) {
        // Revoke first; the epoch stays until the member acknowledges.
        member.assigned = std::move(keep);
        member.pending_revocation = std::move(revoke);
        member.state = member_state::unrevoked_partitions;
    } else {
        for (auto& [topic, parts] : add) keep[topic].insert(parts.begin(), parts.end());
        member.assigned = std::move(keep);
        if (member.member_epoch != group.assignment_epoch) {
            member.previous_member_epoch = member.member_epoch;
            member.member_epoch = group.assignment_epoch;
        }
        member.state = unreleased ? member_state::unreleased_partitions : member_state::stable;
    }
    return before_epoch != member.member_epoch || before_state != member.state || before_assigned != member.assigned ||
           before_pending != member.pending_revocation;
}

}  // namespace millrace::kafka
