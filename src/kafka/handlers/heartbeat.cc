// Heartbeat (key 12), v0-4: keeps a member's session alive and tells it when
// a rebalance has started (REBALANCE_IN_PROGRESS).
#include "broker_core.h"
#include "group/coordinator.h"
#include "group/group_wire.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_heartbeat(request_context& ctx, reader& in, writer& out) {
    auto request = decode_heartbeat(in, ctx.api_version);
    encode_heartbeat(out, ctx.api_version, ctx.broker.groups().heartbeat(request));
    co_return;
}

}  // namespace millrace::kafka
