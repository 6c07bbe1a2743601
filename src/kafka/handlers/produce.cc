// Produce (key 0), v3-9: validates and appends record batches, then, as the
// flush policy asks, waits until they are durable before acknowledging.
#include "broker_core.h"
#include "flusher.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

struct partition_outcome {
    int32_t index;
    storage::append_result result;
    storage::partition_log* log = nullptr;
    std::vector<record_error> record_errors;  // Produce v8+: records the validator rejected
};

struct topic_outcome {
    std::string name;
    std::vector<partition_outcome> partitions;
};

}  // namespace

asio::awaitable<void> handle_produce(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;

    // transactional_id: transactions are not offered (no AddPartitionsToTxn); the validator
    // refuses transactional batches without one.
    const bool transactional_request = in.nullable_string(flex).has_value();
    int16_t acks = in.int16();
    in.int32();  // timeout_ms
    std::vector<topic_outcome> topics;
    int32_t topic_count = in.array_length(flex);
    for (int32_t topic_idx = 0; topic_idx < topic_count; ++topic_idx) {
        topic_outcome to;
        to.name = in.string(flex);
        topic* t = b.topics().find(to.name);
        int32_t partition_count = in.array_length(flex);
        for (int32_t partition_idx = 0; partition_idx < partition_count; ++partition_idx) {
            partition_outcome po;
            po.index = in.int32();
            auto records = in.nullable_bytes(flex);
            in.skip_tags(flex);
            if (acks != 0 && acks != 1 && acks != -1) {
                po.result.error = error_code::invalid_required_acks;
            } else if (t == nullptr || t->partition(po.index) == nullptr) {
                po.result.error = error_code::unknown_topic_or_partition;
            } else if (!records || records->empty()) {
                po.result.error = error_code::invalid_record;
                po.result.message = "no records";
            } else {
                po.log = t->partition(po.index);
                auto verdict = po.log->validate_produce(*records, v, transactional_request);
                if (verdict.ok()) {
                    po.result = po.log->append(*records);
                } else {
                    po.result.error = verdict.error;
                    po.result.message = std::move(verdict.message);
                    po.record_errors = std::move(verdict.record_errors);
                }
                if (po.result.error == error_code::none && !po.result.duplicate) {
                    auto& stats = b.stats(to.name);
                    stats.bytes_in.inc(records->size());
                    stats.records_in.inc(static_cast<uint64_t>(po.result.last_offset - po.result.base_offset + 1));
                } else if (po.result.error != error_code::none) {
                    b.log().warn("produce to {}-{} from {} rejected: {}", to.name, po.index, ctx.client_id,
                                 po.result.message);
                }
            }
            to.partitions.push_back(std::move(po));
        }
        in.skip_tags(flex);
        topics.push_back(std::move(to));
    }
    in.skip_tags(flex);
    b.wake_fetches();

    const auto policy = b.config().flush;
    bool wait_durable = (policy == flush_policy::always && acks != 0) || (policy == flush_policy::acks_all && acks == -1);
    if (wait_durable) {
        for (auto& to : topics) {
            for (auto& po : to.partitions) {
                if (po.log == nullptr || po.result.error != error_code::none) continue;
                auto st = co_await b.flush().wait_durable(*po.log, po.result.last_offset + 1);
                if (!st) {
                    po.result.error = error_code::kafka_storage_error;
                    po.result.message = st.err().message();
                }
            }
        }
    }
    // A topic deleted while this request waited must not be touched: look again.
    for (auto& to : topics) {
        topic* t = b.topics().find(to.name);
        for (auto& po : to.partitions) po.log = t ? t->partition(po.index) : nullptr;
    }
    if (acks == 0) {
        ctx.send_response = false;
        co_return;
    }

    out.array_length(static_cast<int32_t>(topics.size()), flex);
    for (const auto& to : topics) {
        out.string(to.name, flex);
        out.array_length(static_cast<int32_t>(to.partitions.size()), flex);
        for (const auto& po : to.partitions) {
            out.int32(po.index);
            out.int16(wire(po.result.error));
            out.int64(po.result.error == error_code::none ? po.result.base_offset : -1);
            out.int64(po.result.log_append_time);
            if (v >= 5) out.int64(po.log ? po.log->log_start_offset() : -1);
            if (v >= 8) {
                out.array_length(static_cast<int32_t>(po.record_errors.size()), flex);
                for (const auto& record_err : po.record_errors) {
                    out.int32(record_err.batch_index);
                    out.nullable_string(record_err.message, flex);
                    out.empty_tags(flex);
                }
                if (po.result.error != error_code::none && !po.result.message.empty()) {
                    out.nullable_string(po.result.message, flex);
                } else {
                    out.nullable_string(std::nullopt, flex);
                }
            }
            out.empty_tags(flex);
        }
        out.empty_tags(flex);
    }
    out.int32(0);  // throttle_time_ms
    out.empty_tags(flex);
}

}  // namespace millrace::kafka
