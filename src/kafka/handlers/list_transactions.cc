// ListTransactions (key 66): transactional ids filtered by state, producer
// id, how long the transaction has been open (v1+) and an id pattern (v2+,
// a Java regular expression; ECMAScript here, which agrees for plain ones).
#include <algorithm>
#include <regex>

#include "broker_core.h"
#include "handlers/handler.h"
#include "txn/txn_coordinator.h"

namespace millrace::kafka {
namespace {

constexpr const char* k_states[] = {"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit",
                                    "CompleteAbort", "Dead", "PrepareEpochFence"};

}  // namespace

asio::awaitable<void> handle_list_transactions(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::list_transactions_request>(ctx, in);
    messages::list_transactions_response response;
    for (const auto& filter : request.state_filters) {
        if (std::find(std::begin(k_states), std::end(k_states), filter) == std::end(k_states)) {
            response.unknown_state_filters.push_back(filter);
        }
    }
    std::optional<std::regex> pattern;
    if (request.transactional_id_pattern && !request.transactional_id_pattern->empty()) {
        try {
            pattern.emplace(*request.transactional_id_pattern);
        } catch (const std::regex_error&) {
            response.error_code = error_code::invalid_request;
            encode_response(ctx, out, response);
            co_return;
        }
    }
    const int64_t now = ctx.broker.clock().wall_millis();
    for (const auto& txn : ctx.broker.txns().list()) {
        if (!request.state_filters.empty() &&
            std::find(request.state_filters.begin(), request.state_filters.end(), txn.state) == request.state_filters.end()) {
            continue;
        }
        if (!request.producer_id_filters.empty() &&
            std::find(request.producer_id_filters.begin(), request.producer_id_filters.end(), txn.producer_id) ==
                request.producer_id_filters.end()) {
            continue;
        }
        if (request.duration_filter >= 0 && (txn.start_ms < 0 || now - txn.start_ms < request.duration_filter)) continue;
        if (pattern && !std::regex_match(txn.transactional_id, *pattern)) continue;
        if (!authorized(ctx, acl_operation::describe, resource_type::transactional_id, txn.transactional_id)) continue;
        auto& state = response.transaction_states.emplace_back();
        state.transactional_id = txn.transactional_id;
        state.producer_id = txn.producer_id;
        state.transaction_state = txn.state;
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
