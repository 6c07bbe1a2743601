#include "group/classic_group.h"

#include <algorithm>

#include "protocol/wire.h"

namespace millrace::kafka {

const std::string* classic_member::metadata_for(const std::string& protocol) const {
    for (const auto& p : protocols) {
        if (p.name == protocol) return &p.metadata;
    }
    return nullptr;
}

bool classic_member::same_protocols(const std::vector<group_protocol>& other) const {
    if (other.size() != protocols.size()) return false;
    for (size_t idx = 0; idx < other.size(); ++idx) {
        if (other[idx].name != protocols[idx].name || other[idx].metadata != protocols[idx].metadata) return false;
    }
    return true;
}

namespace {

constexpr std::string_view k_consumer_protocol_type = "consumer";

}  // namespace

std::optional<std::set<std::string>> classic_group::compute_subscribed_topics() const {
    if (!protocol_type || *protocol_type != k_consumer_protocol_type) return std::nullopt;
    std::set<std::string> topics;
    if (members.empty()) return topics;
    if (!protocol_name) return std::nullopt;
    try {
        for (const auto& [id, m] : members) {
            const std::string* metadata = m.metadata_for(*protocol_name);
            if (metadata == nullptr) return std::nullopt;
            reader in(*metadata);
            in.int16();  // subscription version
            int32_t count = in.array_length(false);
            if (count < 0) return std::nullopt;
            for (int32_t idx = 0; idx < count; ++idx) topics.insert(in.string(false));
        }
    } catch (const protocol_error&) {
        return std::nullopt;
    }
    return topics;
}

bool classic_group::is_subscribed_to(const std::string& topic) const {
    if (subscribed_topics) return subscribed_topics->contains(topic);
    return protocol_type && *protocol_type == k_consumer_protocol_type;
}

classic_member* classic_group::member(const std::string& member_id) {
    auto it = members.find(member_id);
    return it == members.end() ? nullptr : &it->second;
}

bool classic_group::all_members_joined() const {
    if (!pending_members.empty()) return false;
    return std::all_of(members.begin(), members.end(), [](const auto& entry) { return entry.second.awaiting_join(); });
}

bool classic_group::supports_protocols(const std::string& type, const std::vector<group_protocol>& protocols) const {
    if (members.empty()) return !type.empty() && !protocols.empty();
    if (!protocol_type || *protocol_type != type) return false;
    for (const auto& candidate : protocols) {
        bool everyone = std::all_of(members.begin(), members.end(), [&](const auto& entry) {
            return entry.second.metadata_for(candidate.name) != nullptr;
        });
        if (everyone) return true;
    }
    return false;
}

std::string classic_group::select_protocol() const {
    auto ordered = ordered_members();
    if (ordered.empty()) return {};
    // The reference order for ties: the leader's preferences, else the oldest member's.
    const classic_member* reference = ordered.front();
    if (auto it = members.find(leader); it != members.end()) reference = &it->second;
    std::vector<std::string> candidates;
    for (const auto& p : reference->protocols) {
        bool everyone = std::all_of(ordered.begin(), ordered.end(),
                                    [&](const classic_member* m) { return m->metadata_for(p.name) != nullptr; });
        if (everyone) candidates.push_back(p.name);
    }
    if (candidates.empty()) return {};
    std::map<std::string, size_t> votes;
    for (const auto* m : ordered) {
        for (const auto& p : m->protocols) {
            if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
                ++votes[p.name];
                break;
            }
        }
    }
    std::string best = candidates.front();
    for (const auto& name : candidates) {
        if (votes[name] > votes[best]) best = name;
    }
    return best;
}

int64_t classic_group::rebalance_timeout_ms() const {
    int64_t longest = 0;
    for (const auto& [id, m] : members) longest = std::max<int64_t>(longest, m.rebalance_timeout_ms);
    return longest;
}

std::vector<const classic_member*> classic_group::ordered_members() const {
    std::vector<const classic_member*> out;
    out.reserve(members.size());
    for (const auto& [id, m] : members) out.push_back(&m);
    std::sort(out.begin(), out.end(), [](const classic_member* a, const classic_member* b) { return a->join_order < b->join_order; });
    return out;
}

std::vector<join_group_member> classic_group::member_list() const {
    std::vector<join_group_member> out;
    std::string selected = protocol_name.value_or("");
    for (const auto* m : ordered_members()) {
        const std::string* metadata = m->metadata_for(selected);
        out.push_back(join_group_member{m->id, m->instance_id, metadata ? *metadata : std::string()});
    }
    return out;
}

}  // namespace millrace::kafka
