// CreateAcls (key 30): adds ACL bindings, durably, one result per creation
// (INVALID_REQUEST naming what is wrong). Needs ALTER on the cluster.
#include "auth/security.h"
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_create_acls(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::create_acls_request>(ctx, in);
    messages::create_acls_response response;
    response.results.resize(request.creations.size());
    if (ctx.session == nullptr || !authorized_cluster(ctx, acl_operation::alter)) {
        for (auto& r : response.results) {
            r.error_code = ctx.session == nullptr ? error_code::security_disabled : error_code::cluster_authorization_failed;
            if (ctx.session == nullptr) r.error_message = "No Authorizer is configured on the broker";
        }
        encode_response(ctx, out, response);
        co_return;
    }
    std::vector<auth::acl_binding> valid;
    std::vector<size_t> valid_idx;
    for (size_t idx = 0; idx < request.creations.size(); ++idx) {
        const auto& c = request.creations[idx];
        auth::acl_binding b{static_cast<resource_type>(c.resource_type), c.resource_name,
                            static_cast<auth::pattern_type>(c.resource_pattern_type), c.principal, c.host,
                            static_cast<acl_operation>(c.operation), static_cast<auth::acl_permission>(c.permission_type)};
        if (auto reason = auth::invalid_reason(b)) {
            response.results[idx].error_code = error_code::invalid_request;
            response.results[idx].error_message = *reason;
            continue;
        }
        valid.push_back(std::move(b));
        valid_idx.push_back(idx);
    }
    if (auto st = ctx.broker.security().acls().add(valid); !st) {
        ctx.broker.log().error("CreateAcls: {}", st.err().message());
        for (size_t idx : valid_idx) {
            response.results[idx].error_code = error_code::unknown_server_error;
            response.results[idx].error_message = st.err().message();
        }
    } else if (!valid.empty()) {
        ctx.broker.log().info("{} created {} ACL(s)", ctx.session->principal(), valid.size());
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
