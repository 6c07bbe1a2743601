// OffsetCommit (key 8): partitions of unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION; the rest go to the coordinator, which checks
// membership and generation and answers after the offsets are fsynced. The
// retention time (v2-4) and commit timestamp (v1) are ignored:
// offsets_retention_ms and the broker's clock apply.
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_offset_commit(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::offset_commit_request>(ctx, in);
    offset_commit_request commit;
    commit.group_id = request.group_id;
    commit.generation_id = request.generation_id_or_member_epoch;
    commit.member_id = request.member_id;
    commit.group_instance_id = request.group_instance_id;
    commit.api_version = ctx.api_version;
    messages::offset_commit_response response;
    response.topics.reserve(request.topics.size());
    // For each entry sent to the coordinator: where its answer goes.
    std::vector<std::pair<size_t, size_t>> positions;
    // ACLs: READ on the group (else every partition fails) and on each topic.
    const bool group_allowed = authorized(ctx, acl_operation::read, resource_type::group, request.group_id);
    for (size_t topic_idx = 0; topic_idx < request.topics.size(); ++topic_idx) {
        auto& t = request.topics[topic_idx];
        topic* found = ctx.broker.topics().find(t.name);
        auto& result = response.topics.emplace_back();
        result.name = t.name;
        const bool topic_allowed = authorized(ctx, acl_operation::read, resource_type::topic, t.name);
        for (size_t partition_idx = 0; partition_idx < t.partitions.size(); ++partition_idx) {
            auto& p = t.partitions[partition_idx];
            result.partitions.push_back({p.partition_index, error_code::none});
            if (!group_allowed || !topic_allowed) {
                result.partitions.back().error_code =
                    group_allowed ? error_code::topic_authorization_failed : error_code::group_authorization_failed;
                continue;
            }
            if (found == nullptr || p.partition_index < 0 || p.partition_index >= found->partition_count()) {
                result.partitions.back().error_code = error_code::unknown_topic_or_partition;
                continue;
            }
            offset_commit_entry entry;
            entry.topic = t.name;
            entry.partition = p.partition_index;
            entry.value.offset = p.committed_offset;
            entry.value.leader_epoch = p.committed_leader_epoch;
            entry.value.metadata = std::move(p.committed_metadata);
            commit.entries.push_back(std::move(entry));
            positions.emplace_back(topic_idx, partition_idx);
        }
    }
    if (!commit.entries.empty()) {
        auto errors = co_await ctx.broker.groups().commit_offsets(std::move(commit));
        for (size_t idx = 0; idx < positions.size() && idx < errors.size(); ++idx) {
            response.topics[positions[idx].first].partitions[positions[idx].second].error_code = errors[idx];
        }
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
