// DescribeCluster (key 60), v0-1: this single node, which is also controller.
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_describe_cluster(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    auto& b = ctx.broker;
    in.boolean();  // include_cluster_authorized_operations
    int8_t endpoint_type = 1;  // brokers
    if (v >= 1) endpoint_type = in.int8();
    in.skip_tags(true);

    out.int32(0);  // throttle_time_ms
    out.int16(wire(error_code::none));
    out.nullable_string(std::nullopt, true);  // error_message
    if (v >= 1) out.int8(endpoint_type);
    out.string(b.cluster_id(), true);
    out.int32(b.node_id());  // controller_id
    out.array_length(1, true);
    out.int32(b.node_id());
    out.string(b.advertised_host(), true);
    out.int32(b.advertised_port());
    out.nullable_string(std::nullopt, true);  // rack
    out.empty_tags(true);
    out.int32(INT32_MIN);  // cluster_authorized_operations: not computed
    out.empty_tags(true);
    co_return;
}

}  // namespace millrace::kafka
