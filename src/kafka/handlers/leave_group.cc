// LeaveGroup (key 13): one member before v3, a batch (by member id or
// group.instance.id) from v3.
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_leave_group(request_context& ctx, reader& in, writer& out) {
    using messages::leave_group_request;
    auto request = decode_request<leave_group_request>(ctx, in);
    if (!authorized(ctx, acl_operation::read, resource_type::group, request.group_id)) {
        messages::leave_group_response denied;
        denied.error_code = error_code::group_authorization_failed;
        encode_response(ctx, out, denied);
        co_return;
    }
    std::vector<leave_group_member> members;
    if (leave_group_request::has_members(ctx.api_version)) {
        for (auto& m : request.members) members.push_back({m.member_id, m.group_instance_id, m.reason});
    } else {
        members.push_back({request.member_id, std::nullopt, std::nullopt});
    }
    auto result = ctx.broker.groups().leave_group(request.group_id, members);

    messages::leave_group_response response;
    response.error_code = result.error;
    if (leave_group_request::has_members(ctx.api_version)) {
        for (size_t idx = 0; idx < members.size(); ++idx) {
            response.members.push_back({members[idx].member_id, members[idx].group_instance_id,
                                        idx < result.members.size() ? result.members[idx] : error_code::none});
        }
    } else if (response.error_code == error_code::none && !result.members.empty()) {
        response.error_code = result.members.front();  // the single member's answer is the top-level one
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
