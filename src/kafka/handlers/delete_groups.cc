// DeleteGroups (key 42): removes Empty groups and their committed offsets
// (NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND when unknown);
// answers after the deletion is durable.
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_delete_groups(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::delete_groups_request>(ctx, in);
    auto errors = co_await ctx.broker.groups().delete_groups(request.groups_names);
    messages::delete_groups_response response;
    for (size_t idx = 0; idx < request.groups_names.size(); ++idx) {
        response.results.push_back({std::move(request.groups_names[idx]),
                                    idx < errors.size() ? errors[idx] : error_code::none});
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
