// JoinGroup (key 11): suspends until the group's rebalance completes (or
// answers at once with an error, MEMBER_ID_REQUIRED on a first join of a
// client that understands it).
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"

namespace millrace::kafka {
namespace {

// KIP-394: from JoinGroup v4 a new member first gets MEMBER_ID_REQUIRED.
constexpr int16_t k_first_version_requiring_member_id = 4;

}  // namespace

asio::awaitable<void> handle_join_group(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::join_group_request>(ctx, in);
    if (!authorized(ctx, acl_operation::read, resource_type::group, request.group_id)) {
        messages::join_group_response denied;
        denied.error_code = error_code::group_authorization_failed;
        denied.generation_id = -1;
        denied.member_id = request.member_id;
        if (!messages::join_group_response::nullable_protocol_name(ctx.api_version)) denied.protocol_name = "";
        encode_response(ctx, out, denied);
        co_return;
    }
    join_group_request join;
    join.group_id = std::move(request.group_id);
    join.member_id = std::move(request.member_id);
    join.group_instance_id = std::move(request.group_instance_id);
    join.client_id = ctx.client_id;
    join.client_host = "/" + ctx.client_host;  // Kafka's form, as DescribeGroups shows it
    join.session_timeout_ms = request.session_timeout_ms;
    // v0 has no rebalance timeout: the session timeout serves.
    join.rebalance_timeout_ms = request.rebalance_timeout_ms;
    join.protocol_type = std::move(request.protocol_type);
    for (auto& p : request.protocols) join.protocols.push_back(group_protocol{std::move(p.name), std::move(p.metadata)});
    join.require_known_member_id = ctx.api_version >= k_first_version_requiring_member_id;
    join.supports_skip_assignment = messages::join_group_response::has_skip_assignment(ctx.api_version);
    join.reason = std::move(request.reason);

    auto result = co_await ctx.broker.groups().join_group(std::move(join));
    messages::join_group_response response;
    response.error_code = result.error;
    response.generation_id = result.generation_id;
    response.protocol_type = result.protocol_type;
    // Before v7 the protocol name is not nullable: an error answer carries "".
    response.protocol_name = result.protocol_name;
    if (!response.protocol_name && !messages::join_group_response::nullable_protocol_name(ctx.api_version)) {
        response.protocol_name = "";
    }
    response.leader = std::move(result.leader_id);
    response.skip_assignment = result.skip_assignment;
    response.member_id = std::move(result.member_id);
    for (auto& m : result.members) {
        response.members.push_back({std::move(m.member_id), std::move(m.group_instance_id), std::move(m.metadata)});
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
