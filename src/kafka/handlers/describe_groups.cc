// DescribeGroups (key 15): state, protocol and members of each group. Unknown
// groups are reported Dead; from v6 (which has error messages) also with
// GROUP_ID_NOT_FOUND, as Kafka does.
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"

namespace millrace::kafka {
namespace {

// No ACLs here: a client may do everything a group supports, READ (3),
// DELETE (6) and DESCRIBE (8), as bits of Kafka's AclOperation codes.
constexpr int32_t k_group_operations = (1 << 3) | (1 << 6) | (1 << 8);

}  // namespace

asio::awaitable<void> handle_describe_groups(request_context& ctx, reader& in, writer& out) {
    using described = messages::describe_groups_response::described_group;
    auto request = decode_request<messages::describe_groups_request>(ctx, in);
    messages::describe_groups_response response;
    for (const auto& group_id : request.groups) {
        if (!authorized(ctx, acl_operation::describe, resource_type::group, group_id)) {
            described denied;
            denied.error_code = error_code::group_authorization_failed;
            denied.group_id = group_id;
            response.groups.push_back(std::move(denied));
            continue;
        }
        auto g = ctx.broker.groups().describe_group(group_id);
        described d;
        d.error_code = g.error;
        if (g.error == error_code::none && g.state == "Dead" && described::has_error_message(ctx.api_version)) {
            d.error_code = error_code::group_id_not_found;
            d.error_message = fmt::format("Group {} not found.", group_id);
        }
        d.group_id = std::move(g.group_id);
        d.group_state = std::move(g.state);
        d.protocol_type = std::move(g.protocol_type);
        d.protocol_data = std::move(g.protocol_data);
        for (auto& m : g.members) {
            d.members.push_back({std::move(m.member_id), std::move(m.group_instance_id), std::move(m.client_id),
                                 std::move(m.client_host), std::move(m.metadata), std::move(m.assignment)});
        }
        if (request.include_authorized_operations) d.authorized_operations = k_group_operations;
        response.groups.push_back(std::move(d));
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
