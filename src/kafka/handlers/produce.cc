// Produce (key 0): validates and appends record batches, then, as the flush
// policy asks, waits until they are durable before acknowledging. From v13
// topics are named by id.
#include "broker_core.h"
#include "flusher.h"
#include "handlers/handler.h"
#include "topics.h"
#include "txn/txn_coordinator.h"

namespace millrace::kafka {
namespace {

struct partition_outcome {
    int32_t index;
    storage::append_result result;
    storage::partition_log* log = nullptr;
    std::vector<record_error> record_errors;  // Produce v8+: records the validator rejected
};

struct topic_outcome {
    std::string name;  // empty when the id is unknown
    uuid id{};
    std::vector<partition_outcome> partitions;
};

}  // namespace

asio::awaitable<void> handle_produce(request_context& ctx, reader& in, writer& out) {
    using messages::produce_request;
    auto& b = ctx.broker;
    auto request = decode_request<produce_request>(ctx, in);
    const int16_t acks = request.acks;
    const bool by_id = produce_request::topic_produce_data::has_topic_id(ctx.api_version);

    // transactional_id: its batches go only to partitions added to the producer's open
    // transaction (AddPartitionsToTxn); the validator refuses transactional batches without one.
    const bool transactional_request = request.transactional_id.has_value();
    // ACLs: WRITE on the transactional id (else every partition fails) and on each topic.
    const bool transactional_id_allowed =
        !transactional_request || authorized(ctx, acl_operation::write, resource_type::transactional_id, *request.transactional_id);
    std::vector<topic_outcome> topics;
    for (auto& td : request.topic_data) {
        topic_outcome to;
        topic* t = by_id ? b.topics().find(td.topic_id) : b.topics().find(td.name);
        to.name = by_id ? (t ? t->name : std::string()) : td.name;
        to.id = t ? t->id : td.topic_id;
        const bool topic_allowed = authorized(ctx, acl_operation::write, resource_type::topic, to.name);
        for (auto& pd : td.partition_data) {
            partition_outcome po;
            po.index = pd.index;
            const auto& records = pd.records;
            if (acks != 0 && acks != 1 && acks != -1) {
                po.result.error = error_code::invalid_required_acks;
            } else if (!transactional_id_allowed) {
                po.result.error = error_code::transactional_id_authorization_failed;
            } else if (t == nullptr && by_id) {
                po.result.error = error_code::unknown_topic_id;
            } else if (!topic_allowed) {
                po.result.error = error_code::topic_authorization_failed;
            } else if (t == nullptr || t->partition(po.index) == nullptr) {
                po.result.error = error_code::unknown_topic_or_partition;
            } else if (!records || records->empty()) {
                po.result.error = error_code::invalid_record;
                po.result.message = "no records";
            } else {
                po.log = t->partition(po.index);
                auto verdict = po.log->validate_produce(*records, ctx.api_version, transactional_request);
                if (verdict.ok() && transactional_request && records->size() >= batch_format::k_header_size) {
                    const auto h = read_header(*records);
                    if (h.transactional()) {
                        verdict.error = b.txns().verify_produce(*request.transactional_id, h.producer_id,
                                                                h.producer_epoch, txn_partition{to.name, po.index});
                        if (!verdict.ok()) {
                            verdict.message = fmt::format("transactional batch of producer {} epoch {} refused: {}",
                                                          h.producer_id, h.producer_epoch, wire(verdict.error));
                        }
                    }
                }
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
        topics.push_back(std::move(to));
    }
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
        topic* t = to.name.empty() ? nullptr : b.topics().find(to.name);
        for (auto& po : to.partitions) po.log = t ? t->partition(po.index) : nullptr;
    }
    if (acks == 0) {
        ctx.send_response = false;
        co_return;
    }

    messages::produce_response response;
    for (auto& to : topics) {
        auto& tr = response.responses.emplace_back();
        tr.name = to.name;
        tr.topic_id = to.id;
        for (auto& po : to.partitions) {
            auto& pr = tr.partition_responses.emplace_back();
            pr.index = po.index;
            pr.error_code = po.result.error;
            pr.base_offset = po.result.error == error_code::none ? po.result.base_offset : -1;
            pr.log_append_time_ms = po.result.log_append_time;
            pr.log_start_offset = po.log ? po.log->log_start_offset() : -1;
            for (auto& record_err : po.record_errors) {
                auto& err = pr.record_errors.emplace_back();
                err.batch_index = record_err.batch_index;
                err.batch_index_error_message = std::move(record_err.message);
            }
            if (po.result.error != error_code::none && !po.result.message.empty()) {
                pr.error_message = std::move(po.result.message);
            }
        }
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
