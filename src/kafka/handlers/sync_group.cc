// SyncGroup (key 14): the leader hands in the assignment; every member waits
// for its share.
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_sync_group(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::sync_group_request>(ctx, in);
    if (!authorized(ctx, acl_operation::read, resource_type::group, request.group_id)) {
        messages::sync_group_response denied;
        denied.error_code = error_code::group_authorization_failed;
        encode_response(ctx, out, denied);
        co_return;
    }
    sync_group_request sync;
    sync.group_id = std::move(request.group_id);
    sync.generation_id = request.generation_id;
    sync.member_id = std::move(request.member_id);
    sync.group_instance_id = std::move(request.group_instance_id);
    sync.protocol_type = std::move(request.protocol_type);
    sync.protocol_name = std::move(request.protocol_name);
    for (auto& a : request.assignments) sync.assignments.emplace_back(std::move(a.member_id), std::move(a.assignment));

    auto result = co_await ctx.broker.groups().sync_group(std::move(sync));
    messages::sync_group_response response;
    response.error_code = result.error;
    response.protocol_type = std::move(result.protocol_type);
    response.protocol_name = std::move(result.protocol_name);
    response.assignment = std::move(result.assignment);
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
