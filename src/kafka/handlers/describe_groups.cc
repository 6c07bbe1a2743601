// DescribeGroups (key 15), v0-5: state, protocol and members of each group;
// unknown groups are reported Dead with no error, as Kafka does before v6.
#include "broker_core.h"
#include "group/coordinator.h"
#include "group/group_wire.h"
#include "handlers/handler.h"

namespace millrace::kafka {
namespace {

// No ACLs here: a client may do everything a group supports, READ (3),
// DELETE (6) and DESCRIBE (8), as bits of Kafka's AclOperation codes.
constexpr int32_t k_group_operations = (1 << 3) | (1 << 6) | (1 << 8);

}  // namespace

asio::awaitable<void> handle_describe_groups(request_context& ctx, reader& in, writer& out) {
    auto request = decode_describe_groups(in, ctx.api_version);
    std::vector<group_description> described;
    described.reserve(request.groups.size());
    for (const auto& group_id : request.groups) described.push_back(ctx.broker.groups().describe_group(group_id));
    std::optional<int32_t> operations;
    if (request.include_authorized_operations) operations = k_group_operations;
    encode_describe_groups(out, ctx.api_version, described, operations);
    co_return;
}

}  // namespace millrace::kafka
