// OffsetForLeaderEpoch (key 23), v0-4: every partition has had leader epoch 0
// since it was created, so the end offset of any epoch >= 0 is the log end.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_offset_for_leader_epoch(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;
    if (v >= 3) in.int32();  // replica_id
    if (v >= 2) out.int32(0);  // throttle_time_ms
    int32_t topics = in.array_length(flex);
    out.array_length(topics, flex);
    for (int32_t topic_idx = 0; topic_idx < topics; ++topic_idx) {
        std::string name = in.string(flex);
        out.string(name, flex);
        topic* t = b.topics().find(name);
        int32_t partitions = in.array_length(flex);
        out.array_length(partitions, flex);
        for (int32_t partition_idx = 0; partition_idx < partitions; ++partition_idx) {
            int32_t index = in.int32();
            int32_t current_epoch = v >= 2 ? in.int32() : -1;
            int32_t epoch = in.int32();
            in.skip_tags(flex);
            auto* log = t ? t->partition(index) : nullptr;
            error_code code = error_code::none;
            if (log == nullptr) {
                code = error_code::unknown_topic_or_partition;
            } else if (current_epoch > 0) {
                code = error_code::unknown_leader_epoch;
            }
            out.int16(wire(code));
            out.int32(index);
            if (v >= 1) out.int32(code == error_code::none && epoch >= 0 ? 0 : -1);
            out.int64(code == error_code::none && epoch >= 0 ? log->next_offset() : -1);
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
