// CreatePartitions (key 37): grows a topic's partition count.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_create_partitions(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::create_partitions_request>(ctx, in);
    messages::create_partitions_response response;
    for (const auto& rt : request.topics) {
        bool assignment_ok = true;
        if (rt.assignments) {
            for (const auto& a : *rt.assignments) {
                for (int32_t broker_id : a.broker_ids) assignment_ok &= broker_id == b.node_id();
            }
        }
        std::optional<topic_error> err;
        if (!authorized(ctx, acl_operation::alter, resource_type::topic, rt.name)) {
            err = topic_error{error_code::topic_authorization_failed, "Authorization failed."};
        } else if (!assignment_ok) {
            err = topic_error{error_code::invalid_replica_assignment, "replica assignments may only name this broker"};
        } else {
            err = b.topics().add_partitions(rt.name, rt.count, request.validate_only);
        }
        auto& result = response.results.emplace_back();
        result.name = rt.name;
        result.error_code = err ? err->code : error_code::none;
        if (err) result.error_message = err->message;
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
