// SyncGroup (key 14), v0-5: the leader hands in the assignment; every member
// waits for its share.
#include "broker_core.h"
#include "group/coordinator.h"
#include "group/group_wire.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_sync_group(request_context& ctx, reader& in, writer& out) {
    auto request = decode_sync_group(in, ctx.api_version);
    auto result = co_await ctx.broker.groups().sync_group(std::move(request));
    encode_sync_group(out, ctx.api_version, result);
}

}  // namespace millrace::kafka
