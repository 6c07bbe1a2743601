// DescribeClientQuotas (key 48): millrace enforces no client quotas, so every
// filter matches nothing. kafka-configs asks for them beside the SCRAM
// credentials when it describes users. Needs DESCRIBE_CONFIGS on the cluster.
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_describe_client_quotas(request_context& ctx, reader& in, writer& out) {
    (void)decode_request<messages::describe_client_quotas_request>(ctx, in);
    messages::describe_client_quotas_response response;
    if (!authorized_cluster(ctx, acl_operation::describe_configs)) {
        response.error_code = error_code::cluster_authorization_failed;
    } else {
        response.entries.emplace();
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
