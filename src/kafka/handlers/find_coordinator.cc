// FindCoordinator (key 10): this broker coordinates every consumer group and
// every transactional id; share groups are not supported, so their keys get
// COORDINATOR_NOT_AVAILABLE. From v4 one request batches several keys.
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {
namespace {

constexpr int8_t k_key_type_group = 0;
constexpr int8_t k_key_type_transaction = 1;
constexpr int8_t k_key_type_share = 2;

}  // namespace

asio::awaitable<void> handle_find_coordinator(request_context& ctx, reader& in, writer& out) {
    using messages::find_coordinator_request;
    auto request = decode_request<find_coordinator_request>(ctx, in);
    std::vector<std::string> keys = find_coordinator_request::has_coordinator_keys(ctx.api_version)
                                        ? std::move(request.coordinator_keys)
                                        : std::vector<std::string>{std::move(request.key)};
    messages::find_coordinator_response response;
    for (auto& key : keys) {
        auto& answer = response.coordinators.emplace_back();
        answer.key = std::move(key);
        answer.node_id = -1;
        answer.port = -1;
        if (request.key_type == k_key_type_group &&
            !authorized(ctx, acl_operation::describe, resource_type::group, answer.key)) {
            answer.error_code = error_code::group_authorization_failed;
        } else if (request.key_type == k_key_type_transaction &&
                   !authorized(ctx, acl_operation::describe, resource_type::transactional_id, answer.key)) {
            answer.error_code = error_code::transactional_id_authorization_failed;
        } else if (request.key_type == k_key_type_group || request.key_type == k_key_type_transaction) {
            answer.node_id = ctx.broker.node_id();
            answer.host = ctx.broker.advertised_host();
            answer.port = ctx.broker.advertised_port();
        } else if (request.key_type == k_key_type_share) {
            answer.error_code = error_code::coordinator_not_available;
            answer.error_message = "share groups are not supported by this broker";
        } else {
            answer.error_code = error_code::invalid_request;
            answer.error_message = fmt::format("unknown coordinator key type {}", request.key_type);
        }
    }
    // Versions before 4 answer one key in top-level fields.
    if (!response.coordinators.empty()) {
        const auto& first = response.coordinators.front();
        response.error_code = first.error_code;
        response.error_message = first.error_message;
        response.node_id = first.node_id;
        response.host = first.host;
        response.port = first.port;
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
