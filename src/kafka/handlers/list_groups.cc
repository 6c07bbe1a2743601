// ListGroups (key 16): every group this coordinator knows, filtered by state
// (v4+, case-insensitive names; unknown names match nothing) and by type (v5+:
// "classic" or "consumer", case-insensitive).
#include <algorithm>

#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"

namespace millrace::kafka {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y)); });
}

}  // namespace

asio::awaitable<void> handle_list_groups(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::list_groups_request>(ctx, in);
    auto& groups = ctx.broker.groups();
    auto matches = [](const std::vector<std::string>& filter, std::string_view value) {
        return filter.empty() || std::any_of(filter.begin(), filter.end(),
                                             [&](const std::string& wanted) { return iequals(wanted, value); });
    };
    messages::list_groups_response response;
    response.error_code = groups.closed() ? error_code::coordinator_not_available : error_code::none;
    // ACLs: DESCRIBE on the cluster lists every group, else those the principal may DESCRIBE.
    const bool all_groups = authorized_cluster(ctx, acl_operation::describe);
    for (auto& g : groups.list_all_groups()) {
        if (!matches(request.states_filter, g.state_name) || !matches(request.types_filter, g.type)) continue;
        if (!all_groups && !authorized(ctx, acl_operation::describe, resource_type::group, g.group_id)) continue;
        response.groups.push_back({std::move(g.group_id), std::move(g.protocol_type), std::move(g.state_name),
                                   std::move(g.type)});
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
