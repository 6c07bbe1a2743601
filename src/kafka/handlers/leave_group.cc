// LeaveGroup (key 13), v0-5: one member before v3, a batch (by member id or
// group.instance.id) from v3.
#include "broker_core.h"
#include "group/coordinator.h"
#include "group/group_wire.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_leave_group(request_context& ctx, reader& in, writer& out) {
    auto request = decode_leave_group(in, ctx.api_version);
    auto result = ctx.broker.groups().leave_group(request.group_id, request.members);
    encode_leave_group(out, ctx.api_version, request, result);
    co_return;
}

}  // namespace millrace::kafka
