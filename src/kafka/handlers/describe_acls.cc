// DescribeAcls (key 29): the ACLs matching one filter, grouped by resource
// pattern. Needs DESCRIBE on the cluster; SECURITY_DISABLED without
// security.enabled (Kafka without an authorizer).
#include <map>
#include <tuple>

#include "auth/security.h"
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_describe_acls(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::describe_acls_request>(ctx, in);
    messages::describe_acls_response response;
    auth::acl_filter filter{static_cast<resource_type>(request.resource_type_filter), request.resource_name_filter,
                            static_cast<auth::pattern_type>(request.pattern_type_filter), request.principal_filter,
                            request.host_filter, static_cast<acl_operation>(request.operation),
                            static_cast<auth::acl_permission>(request.permission_type)};
    if (ctx.session == nullptr) {
        response.error_code = error_code::security_disabled;
        response.error_message = "No Authorizer is configured on the broker";
    } else if (!authorized_cluster(ctx, acl_operation::describe)) {
        response.error_code = error_code::cluster_authorization_failed;
    } else if (auto reason = filter.invalid_reason()) {
        response.error_code = error_code::invalid_request;
        response.error_message = *reason;
    } else {
        std::map<std::tuple<int8_t, std::string, int8_t>, size_t> index;
        for (const auto& b : ctx.broker.security().acls().describe(filter)) {
            auto key = std::make_tuple(static_cast<int8_t>(b.type), b.name, static_cast<int8_t>(b.pattern));
            auto [it, inserted] = index.emplace(key, response.resources.size());
            if (inserted) {
                response.resources.push_back({static_cast<int8_t>(b.type), b.name, static_cast<int8_t>(b.pattern), {}});
            }
            response.resources[it->second].acls.push_back(
                {b.principal, b.host, static_cast<int8_t>(b.operation), static_cast<int8_t>(b.permission)});
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
