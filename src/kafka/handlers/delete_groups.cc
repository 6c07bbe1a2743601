// DeleteGroups (key 42), v0-2: removes Empty groups and their committed
// offsets (NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND when
// unknown); answers after the deletion is durable.
#include "broker_core.h"
#include "group/coordinator.h"
#include "group/group_wire.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_delete_groups(request_context& ctx, reader& in, writer& out) {
    auto group_ids = decode_delete_groups(in, ctx.api_version);
    auto errors = co_await ctx.broker.groups().delete_groups(group_ids);
    std::vector<std::pair<std::string, error_code>> results;
    results.reserve(group_ids.size());
    for (size_t idx = 0; idx < group_ids.size(); ++idx) {
        results.emplace_back(std::move(group_ids[idx]), idx < errors.size() ? errors[idx] : error_code::none);
    }
    encode_delete_groups(out, ctx.api_version, results);
}

}  // namespace millrace::kafka
