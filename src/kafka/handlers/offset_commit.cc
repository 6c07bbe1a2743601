// OffsetCommit (key 8), v0-8: partitions of unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION; the rest go to the coordinator, which checks
// membership and generation and answers after the offsets are fsynced.
#include "broker_core.h"
#include "group/coordinator.h"
#include "group/group_wire.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_offset_commit(request_context& ctx, reader& in, writer& out) {
    auto request = decode_offset_commit(in, ctx.api_version);
    offset_commit_request commit;
    commit.group_id = request.group_id;
    commit.generation_id = request.generation_id;
    commit.member_id = request.member_id;
    commit.group_instance_id = request.group_instance_id;
    std::vector<topic_result> results;
    results.reserve(request.topics.size());
    // For each entry sent to the coordinator: where its answer goes.
    std::vector<std::pair<size_t, size_t>> positions;
    for (size_t topic_idx = 0; topic_idx < request.topics.size(); ++topic_idx) {
        auto& t = request.topics[topic_idx];
        topic* found = ctx.broker.topics().find(t.name);
        topic_result result{t.name, {}};
        for (size_t partition_idx = 0; partition_idx < t.partitions.size(); ++partition_idx) {
            auto& p = t.partitions[partition_idx];
            result.partitions.push_back(partition_result{p.partition, error_code::none});
            if (found == nullptr || p.partition < 0 || p.partition >= found->partition_count()) {
                result.partitions.back().error = error_code::unknown_topic_or_partition;
                continue;
            }
            offset_commit_entry entry;
            entry.topic = t.name;
            entry.partition = p.partition;
            entry.value.offset = p.offset;
            entry.value.leader_epoch = p.leader_epoch;
            entry.value.metadata = std::move(p.metadata);
            commit.entries.push_back(std::move(entry));
            positions.emplace_back(topic_idx, partition_idx);
        }
        results.push_back(std::move(result));
    }
    if (!commit.entries.empty()) {
        auto errors = co_await ctx.broker.groups().commit_offsets(std::move(commit));
        for (size_t idx = 0; idx < positions.size() && idx < errors.size(); ++idx) {
            results[positions[idx].first].partitions[positions[idx].second].error = errors[idx];
        }
    }
    encode_offset_commit(out, ctx.api_version, results);
}

}  // namespace millrace::kafka
