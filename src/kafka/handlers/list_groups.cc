// ListGroups (key 16), v0-4: every group this coordinator knows, filtered by
// state from v4 (case-insensitive names; unknown names match nothing).
#include "broker_core.h"
#include "group/coordinator.h"
#include "group/group_wire.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_list_groups(request_context& ctx, reader& in, writer& out) {
    auto request = decode_list_groups(in, ctx.api_version);
    auto& groups = ctx.broker.groups();
    std::vector<group_state> states;
    for (const auto& name : request.states_filter) {
        if (auto state = parse_group_state(name)) states.push_back(*state);
    }
    std::vector<group_listing> listed;
    if (request.states_filter.empty() || !states.empty()) listed = groups.list_groups(states);
    encode_list_groups(out, ctx.api_version, groups.closed() ? error_code::coordinator_not_available : error_code::none,
                       listed);
    co_return;
}

}  // namespace millrace::kafka
