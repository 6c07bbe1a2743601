// Heartbeat (key 12): keeps a member's session alive and tells it when a
// rebalance has started (REBALANCE_IN_PROGRESS).
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_heartbeat(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::heartbeat_request>(ctx, in);
    heartbeat_request heartbeat{std::move(request.group_id), request.generation_id, std::move(request.member_id),
                                std::move(request.group_instance_id)};
    messages::heartbeat_response response;
    response.error_code = authorized(ctx, acl_operation::read, resource_type::group, heartbeat.group_id)
                              ? ctx.broker.groups().heartbeat(heartbeat)
                              : error_code::group_authorization_failed;
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
