// JoinGroup (key 11), v0-9: suspends until the group's rebalance completes
// (or answers at once with an error, MEMBER_ID_REQUIRED on a v4+ first join).
#include "broker_core.h"
#include "group/coordinator.h"
#include "group/group_wire.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_join_group(request_context& ctx, reader& in, writer& out) {
    auto request = decode_join_group(in, ctx.api_version);
    request.client_id = ctx.client_id;
    request.client_host = "/" + ctx.client_host;  // Kafka's form, as DescribeGroups shows it
    auto result = co_await ctx.broker.groups().join_group(std::move(request));
    encode_join_group(out, ctx.api_version, result);
}

}  // namespace millrace::kafka
