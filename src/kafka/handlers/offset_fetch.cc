// OffsetFetch (key 9): committed offsets of the requested partitions (-1 with
// empty metadata when none is committed), or of every partition the group has
// committed when the topic array is null (v2+). From v8 one request asks for
// several groups. ACLs: DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED)
// and on each topic (others are left out or answer TOPIC_AUTHORIZATION_FAILED).
// With require_stable (v7+) a partition whose offset waits in an open
// transaction answers UNSTABLE_OFFSET_COMMIT (the consumer retries).
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"
#include "txn/txn_coordinator.h"

namespace millrace::kafka {
namespace {

using topics_t = std::vector<messages::offset_fetch_response::offset_fetch_response_group::offset_fetch_response_topics>;

// One group's answer; nullopt `topics` asks for every committed offset.
template <typename RequestTopics>
topics_t fetch_group(const request_context& ctx, group_coordinator& groups, const std::string& group_id,
                     const std::optional<RequestTopics>& topics, error_code error, bool require_stable) {
    auto topic_allowed = [&](const std::string& name) {
        return authorized(ctx, acl_operation::describe, resource_type::topic, name);
    };
    topics_t out;
    if (!topics) {
        if (error != error_code::none) return out;
        groups.for_each_committed_in(group_id, [&](const std::string& topic_name, int32_t partition,
                                                   const committed_offset& value) {
            if (!topic_allowed(topic_name)) return;
            if (out.empty() || out.back().name != topic_name) out.emplace_back().name = topic_name;
            out.back().partitions.push_back({partition, value.offset, value.leader_epoch, value.metadata.value_or(""),
                                             error_code::none});
        });
        return out;
    }
    for (const auto& t : *topics) {
        auto& topic = out.emplace_back();
        topic.name = t.name;
        const bool allowed = topic_allowed(t.name);
        for (int32_t partition : t.partition_indexes) {
            auto& p = topic.partitions.emplace_back();
            p.partition_index = partition;
            p.committed_offset = -1;
            p.metadata = "";
            p.error_code = error;
            if (error != error_code::none) continue;
            if (!allowed) {
                p.error_code = error_code::topic_authorization_failed;
                continue;
            }
            if (require_stable && ctx.broker.txns().has_pending_offset(group_id, t.name, partition)) {
                p.error_code = error_code::unstable_offset_commit;
                continue;
            }
            if (auto value = groups.committed(group_id, t.name, partition)) {
                p.committed_offset = value->offset;
                p.committed_leader_epoch = value->leader_epoch;
                p.metadata = value->metadata.value_or("");
            }
        }
    }
    return out;
}

}  // namespace

asio::awaitable<void> handle_offset_fetch(request_context& ctx, reader& in, writer& out) {
    using messages::offset_fetch_request;
    using messages::offset_fetch_response;
    auto request = decode_request<offset_fetch_request>(ctx, in);
    auto& groups = ctx.broker.groups();
    error_code error = groups.closed() ? error_code::not_coordinator : error_code::none;
    offset_fetch_response response;
    if (offset_fetch_request::has_groups(ctx.api_version)) {
        for (const auto& g : request.groups) {
            error_code group_error = error;
            if (!authorized(ctx, acl_operation::describe, resource_type::group, g.group_id)) {
                group_error = error_code::group_authorization_failed;
            }
            // v9: a member of a consumer group fetches with its id and epoch.
            if (group_error == error_code::none) group_error = groups.validate_offset_fetch(g.group_id, g.member_id, g.member_epoch);
            response.groups.push_back({g.group_id, fetch_group(ctx, groups, g.group_id, g.topics, group_error, request.require_stable), group_error});
        }
    } else {
        // A null topic array before v2 is malformed; read it as "no topics".
        if (!request.topics && !offset_fetch_response::has_error_code(ctx.api_version)) request.topics.emplace();
        if (!authorized(ctx, acl_operation::describe, resource_type::group, request.group_id)) {
            error = error_code::group_authorization_failed;
        }
        for (auto& t : fetch_group(ctx, groups, request.group_id, request.topics, error, request.require_stable)) {
            auto& topic = response.topics.emplace_back();
            topic.name = std::move(t.name);
            for (auto& p : t.partitions) {
                topic.partitions.push_back({p.partition_index, p.committed_offset, p.committed_leader_epoch,
                                            std::move(p.metadata), p.error_code});
            }
        }
        response.error_code = error;
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
