// DeleteGroups (key 42): removes Empty groups and their committed offsets
// (NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND when unknown);
// answers after the deletion is durable.
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_delete_groups(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::delete_groups_request>(ctx, in);
    // ACLs: DELETE on each group; the others answer GROUP_AUTHORIZATION_FAILED.
    std::vector<std::string> allowed;
    for (const auto& name : request.groups_names) {
        if (authorized(ctx, acl_operation::remove, resource_type::group, name)) allowed.push_back(name);
    }
    auto errors = co_await ctx.broker.groups().delete_groups(allowed);
    messages::delete_groups_response response;
    size_t allowed_idx = 0;
    for (size_t idx = 0; idx < request.groups_names.size(); ++idx) {
        const bool permitted = allowed_idx < allowed.size() && allowed[allowed_idx] == request.groups_names[idx];
        error_code code = error_code::group_authorization_failed;
        if (permitted) {
            code = allowed_idx < errors.size() ? errors[allowed_idx] : error_code::none;
            ++allowed_idx;
        }
        response.results.push_back({std::move(request.groups_names[idx]), code});
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
