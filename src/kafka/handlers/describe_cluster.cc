// DescribeCluster (key 60): this single node, which is also controller.
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_describe_cluster(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::describe_cluster_request>(ctx, in);
    messages::describe_cluster_response response;
    response.endpoint_type = request.endpoint_type;
    response.cluster_id = b.cluster_id();
    response.controller_id = b.node_id();
    response.brokers.push_back({b.node_id(), b.advertised_host(), b.advertised_port(), std::nullopt, false});
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
