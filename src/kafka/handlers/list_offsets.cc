// ListOffsets (key 2), v1-7: earliest (-2), latest (-1), max timestamp (-3),
// or the first offset at or after a timestamp.
#include <tuple>

#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_list_offsets(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;

    in.int32();               // replica_id
    if (v >= 2) in.int8();    // isolation_level
    if (v >= 2) out.int32(0);  // throttle_time_ms
    int32_t topic_count = in.array_length(flex);
    out.array_length(topic_count, flex);
    for (int32_t topic_idx = 0; topic_idx < topic_count; ++topic_idx) {
        std::string name = in.string(flex);
        out.string(name, flex);
        topic* t = b.topics().find(name);
        int32_t partition_count = in.array_length(flex);
        out.array_length(partition_count, flex);
        for (int32_t partition_idx = 0; partition_idx < partition_count; ++partition_idx) {
            int32_t index = in.int32();
            if (v >= 4) in.int32();  // current_leader_epoch
            int64_t timestamp = in.int64();
            in.skip_tags(flex);

            error_code code = error_code::none;
            int64_t found_timestamp = -1;
            int64_t offset = -1;
            auto* log = t ? t->partition(index) : nullptr;
            if (log == nullptr) {
                code = error_code::unknown_topic_or_partition;
            } else if (timestamp == -1) {
                offset = log->next_offset();
            } else if (timestamp == -2) {
                offset = log->log_start_offset();
            } else if (timestamp == -3 && v >= 7) {
                std::tie(offset, found_timestamp) = log->max_timestamp_offset();
            } else if (timestamp < 0) {
                code = error_code::unsupported_version;  // -4/-5 need tiered storage versions we do not offer
            } else {
                std::tie(offset, found_timestamp) = log->offset_for_timestamp(timestamp);
            }
            out.int32(index);
            out.int16(wire(code));
            out.int64(found_timestamp);
            out.int64(offset);
            if (v >= 4) out.int32(offset >= 0 ? 0 : -1);  // leader_epoch
            out.empty_tags(flex);
        }
        in.skip_tags(flex);
        out.empty_tags(flex);
    }
    in.skip_tags(flex);
    out.empty_tags(flex);
    co_return;
}

}  // namespace millrace::kafka
