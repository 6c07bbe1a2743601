// ListOffsets (key 2): earliest (-2), latest (-1), max timestamp (-3, v7+),
// earliest local (-4, v8+: the log start, as nothing is tiered), latest
// tiered (-5, v9+: none), or the first offset at or after a timestamp.
#include <tuple>

#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

constexpr int64_t k_latest = -1;
constexpr int64_t k_earliest = -2;
constexpr int64_t k_max_timestamp = -3;
constexpr int64_t k_earliest_local = -4;
constexpr int64_t k_latest_tiered = -5;
// The first version in which each special timestamp may be asked for.
constexpr int16_t k_first_version_max_timestamp = 7;
constexpr int16_t k_first_version_earliest_local = 8;
constexpr int16_t k_first_version_latest_tiered = 9;

}  // namespace

asio::awaitable<void> handle_list_offsets(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    const int16_t version = ctx.api_version;
    auto request = decode_request<messages::list_offsets_request>(ctx, in);
    const bool read_committed = request.isolation_level == 1;
    messages::list_offsets_response response;
    for (const auto& rt : request.topics) {
        auto& tr = response.topics.emplace_back();
        tr.name = rt.name;
        topic* t = b.topics().find(rt.name);
        const bool allowed = authorized(ctx, acl_operation::describe, resource_type::topic, rt.name);
        for (const auto& rp : rt.partitions) {
            auto& pr = tr.partitions.emplace_back();
            pr.partition_index = rp.partition_index;
            const int64_t timestamp = rp.timestamp;
            auto* log = t ? t->partition(rp.partition_index) : nullptr;
            if (!allowed) {
                pr.error_code = error_code::topic_authorization_failed;
            } else if (log == nullptr) {
                pr.error_code = error_code::unknown_topic_or_partition;
            } else if (timestamp == k_latest) {
                // read_committed consumers start at the last stable offset.
                pr.offset = read_committed ? log->last_stable_offset() : log->next_offset();
            } else if (timestamp == k_earliest ||
                       (timestamp == k_earliest_local && version >= k_first_version_earliest_local)) {
                pr.offset = log->log_start_offset();
            } else if (timestamp == k_max_timestamp && version >= k_first_version_max_timestamp) {
                std::tie(pr.offset, pr.timestamp) = log->max_timestamp_offset();
            } else if (timestamp == k_latest_tiered && version >= k_first_version_latest_tiered) {
                pr.offset = -1;  // nothing is tiered
            } else if (timestamp < 0) {
                pr.error_code = error_code::unsupported_version;
            } else {
                std::tie(pr.offset, pr.timestamp) = log->offset_for_timestamp(timestamp);
            }
            pr.leader_epoch = pr.offset >= 0 ? 0 : -1;
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
