// ListGroups (key 16): every group this coordinator knows, filtered by state
// (v4+, case-insensitive names; unknown names match nothing) and by type (v5+;
// every group here is "classic").
#include <algorithm>

#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"

namespace millrace::kafka {
namespace {

constexpr std::string_view k_group_type = "classic";

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y)); });
}

}  // namespace

asio::awaitable<void> handle_list_groups(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::list_groups_request>(ctx, in);
    auto& groups = ctx.broker.groups();
    std::vector<group_state> states;
    for (const auto& name : request.states_filter) {
        if (auto state = parse_group_state(name)) states.push_back(*state);
    }
    bool type_matches = request.types_filter.empty() ||
                        std::any_of(request.types_filter.begin(), request.types_filter.end(),
                                    [](const std::string& t) { return iequals(t, k_group_type); });
    messages::list_groups_response response;
    response.error_code = groups.closed() ? error_code::coordinator_not_available : error_code::none;
    if (type_matches && (request.states_filter.empty() || !states.empty())) {
        // ACLs: DESCRIBE on the cluster lists every group, else those the principal may DESCRIBE.
        const bool all_groups = authorized_cluster(ctx, acl_operation::describe);
        for (auto& g : groups.list_groups(states)) {
            if (!all_groups && !authorized(ctx, acl_operation::describe, resource_type::group, g.group_id)) continue;
            response.groups.push_back({std::move(g.group_id), std::move(g.protocol_type), std::string(to_string(g.state)),
                                       std::string(k_group_type)});
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
