// FindCoordinator (key 10), v0-4: this broker coordinates every consumer
// group; transactions are not supported, so transaction keys get
// COORDINATOR_NOT_AVAILABLE. v4 batches several keys in one request.
#include "broker_core.h"
#include "group/group_wire.h"
#include "handlers/handler.h"

namespace millrace::kafka {
namespace {

constexpr int8_t k_key_type_group = 0;
constexpr int8_t k_key_type_transaction = 1;

}  // namespace

asio::awaitable<void> handle_find_coordinator(request_context& ctx, reader& in, writer& out) {
    auto request = decode_find_coordinator(in, ctx.api_version);
    std::vector<coordinator_answer> answers;
    answers.reserve(request.keys.size());
    for (auto& key : request.keys) {
        coordinator_answer answer;
        answer.key = std::move(key);
        if (request.key_type == k_key_type_group) {
            answer.node_id = ctx.broker.node_id();
            answer.host = ctx.broker.advertised_host();
            answer.port = ctx.broker.advertised_port();
        } else if (request.key_type == k_key_type_transaction) {
            answer.error = error_code::coordinator_not_available;
            answer.error_message = "transactions are not supported by this broker";
        } else {
            answer.error = error_code::invalid_request;
            answer.error_message = fmt::format("unknown coordinator key type {}", request.key_type);
        }
        answers.push_back(std::move(answer));
    }
    encode_find_coordinator(out, ctx.api_version, answers);
    co_return;
}

}  // namespace millrace::kafka
