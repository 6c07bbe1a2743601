// DeleteRecords (key 21): moves each partition's log start offset (the low
// watermark) up to the requested offset (-1: the high watermark); consumers
// below it get OFFSET_OUT_OF_RANGE and ListOffsets earliest answers it.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_delete_records(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::delete_records_request>(ctx, in);
    messages::delete_records_response response;
    for (const auto& rt : request.topics) {
        auto& tr = response.topics.emplace_back();
        tr.name = rt.name;
        topic* t = b.topics().find(rt.name);
        const bool allowed = authorized(ctx, acl_operation::remove, resource_type::topic, rt.name);
        for (const auto& rp : rt.partitions) {
            auto& pr = tr.partitions.emplace_back();
            pr.partition_index = rp.partition_index;
            auto* log = t ? t->partition(rp.partition_index) : nullptr;
            if (!allowed) {
                pr.error_code = error_code::topic_authorization_failed;
                continue;
            }
            if (log == nullptr) {
                pr.error_code = error_code::unknown_topic_or_partition;
                continue;
            }
            if (auto st = log->delete_records_before(rp.offset); !st) {
                pr.error_code = st.err().code() == errc::invalid_argument ? error_code::offset_out_of_range
                                                                          : error_code::kafka_storage_error;
                b.log().warn("DeleteRecords {}-{} before {}: {}", rt.name, rp.partition_index, rp.offset,
                             st.err().message());
                continue;
            }
            pr.low_watermark = log->log_start_offset();
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
