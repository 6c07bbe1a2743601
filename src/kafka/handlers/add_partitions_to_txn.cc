// AddPartitionsToTxn (key 24): adds partitions to the producer's open
// transaction (starting it). v0-3 carry one transaction; v4+ batch several
// (sent by brokers, which may ask to verify only).
#include "broker_core.h"
#include "handlers/handler.h"
#include "txn/txn_coordinator.h"

namespace millrace::kafka {
namespace {

using request_t = messages::add_partitions_to_txn_request;
using response_t = messages::add_partitions_to_txn_response;

// One transaction's partitions, answered in the request's shape.
template <typename TopicResult, typename Topics>
std::vector<TopicResult> add_one(request_context& ctx, const std::string& id, int64_t producer_id,
                                 int16_t producer_epoch, bool verify_only, const Topics& topics) {
    std::vector<txn_partition> partitions;
    for (const auto& t : topics) {
        for (int32_t p : t.partitions) partitions.push_back({t.name, p});
    }
    std::vector<error_code> errors;
    if (!authorized(ctx, acl_operation::write, resource_type::transactional_id, id)) {
        errors.assign(partitions.size(), error_code::transactional_id_authorization_failed);
    } else {
        errors = ctx.broker.txns().add_partitions(id, producer_id, producer_epoch, partitions, verify_only,
                                                  ctx.api_version);
        for (size_t idx = 0; idx < partitions.size(); ++idx) {
            if (!authorized(ctx, acl_operation::write, resource_type::topic, partitions[idx].topic)) {
                errors[idx] = error_code::topic_authorization_failed;
            }
        }
    }
    std::vector<TopicResult> out;
    size_t idx = 0;
    for (const auto& t : topics) {
        auto& tr = out.emplace_back();
        tr.name = t.name;
        for (int32_t p : t.partitions) {
            auto& pr = tr.results_by_partition.emplace_back();
            pr.partition_index = p;
            pr.partition_error_code = errors[idx++];
        }
    }
    return out;
}

}  // namespace

asio::awaitable<void> handle_add_partitions_to_txn(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<request_t>(ctx, in);
    response_t response;
    if (request_t::has_transactions(ctx.api_version)) {
        for (const auto& txn : request.transactions) {
            auto& result = response.results_by_transaction.emplace_back();
            result.transactional_id = txn.transactional_id;
            result.topic_results = add_one<response_t::add_partitions_to_txn_result::add_partitions_to_txn_topic_result>(
                ctx, txn.transactional_id, txn.producer_id, txn.producer_epoch, txn.verify_only, txn.topics);
        }
    } else {
        response.results_by_topic_v3_and_below = add_one<response_t::add_partitions_to_txn_topic_result_v3>(
            ctx, request.v3_and_below_transactional_id, request.v3_and_below_producer_id,
            request.v3_and_below_producer_epoch, false, request.v3_and_below_topics);
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
