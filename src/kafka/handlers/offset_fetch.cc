// OffsetFetch (key 9), v0-7: committed offsets of the requested partitions
// (-1 with empty metadata when none is committed), or of every partition the
// group has committed when the topic array is null (v2+).
#include "broker_core.h"
#include "group/coordinator.h"
#include "group/group_wire.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_offset_fetch(request_context& ctx, reader& in, writer& out) {
    auto request = decode_offset_fetch(in, ctx.api_version);
    auto& groups = ctx.broker.groups();
    error_code error = groups.closed() ? error_code::not_coordinator : error_code::none;
    std::vector<fetched_topic> topics;
    if (!request.topics) {
        if (error == error_code::none) {
            groups.for_each_committed_in(request.group_id, [&](const std::string& topic_name, int32_t partition,
                                                                const committed_offset& value) {
                if (topics.empty() || topics.back().name != topic_name) topics.push_back(fetched_topic{topic_name, {}});
                topics.back().partitions.push_back(fetched_partition{partition, value.offset, value.leader_epoch,
                                                                     value.metadata.value_or(""), error_code::none});
            });
        }
    } else {
        for (const auto& [topic_name, partitions] : *request.topics) {
            fetched_topic t{topic_name, {}};
            for (int32_t partition : partitions) {
                fetched_partition p{partition, -1, -1, std::string(), error};
                if (error == error_code::none) {
                    if (auto value = groups.committed(request.group_id, topic_name, partition)) {
                        p.offset = value->offset;
                        p.leader_epoch = value->leader_epoch;
                        p.metadata = value->metadata.value_or("");
                    }
                }
                t.partitions.push_back(std::move(p));
            }
            topics.push_back(std::move(t));
        }
    }
    encode_offset_fetch(out, ctx.api_version, topics, error);
    co_return;
}

}  // namespace millrace::kafka
