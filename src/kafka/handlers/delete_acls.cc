// DeleteAcls (key 31): removes every ACL matching each filter and returns
// what each filter matched. Needs ALTER on the cluster.
#include "auth/security.h"
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_delete_acls(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::delete_acls_request>(ctx, in);
    messages::delete_acls_response response;
    response.filter_results.resize(request.filters.size());
    if (ctx.session == nullptr || !authorized_cluster(ctx, acl_operation::alter)) {
        for (auto& r : response.filter_results) {
            r.error_code = ctx.session == nullptr ? error_code::security_disabled : error_code::cluster_authorization_failed;
            if (ctx.session == nullptr) r.error_message = "No Authorizer is configured on the broker";
        }
        encode_response(ctx, out, response);
        co_return;
    }
    std::vector<auth::acl_filter> filters;
    std::vector<size_t> filter_idx;
    for (size_t idx = 0; idx < request.filters.size(); ++idx) {
        const auto& f = request.filters[idx];
        auth::acl_filter filter{static_cast<resource_type>(f.resource_type_filter), f.resource_name_filter,
                                static_cast<auth::pattern_type>(f.pattern_type_filter), f.principal_filter,
                                f.host_filter, static_cast<acl_operation>(f.operation),
                                static_cast<auth::acl_permission>(f.permission_type)};
        if (auto reason = filter.invalid_reason()) {
            response.filter_results[idx].error_code = error_code::invalid_request;
            response.filter_results[idx].error_message = *reason;
            continue;
        }
        filters.push_back(std::move(filter));
        filter_idx.push_back(idx);
    }
    auto removed = ctx.broker.security().acls().remove(filters);
    for (size_t pos = 0; pos < filter_idx.size(); ++pos) {
        auto& r = response.filter_results[filter_idx[pos]];
        if (!removed) {
            r.error_code = error_code::unknown_server_error;
            r.error_message = removed.err().message();
            continue;
        }
        for (const auto& b : (*removed)[pos]) {
            r.matching_acls.push_back({error_code::none, std::nullopt, static_cast<int8_t>(b.type), b.name,
                                       static_cast<int8_t>(b.pattern), b.principal, b.host,
                                       static_cast<int8_t>(b.operation), static_cast<int8_t>(b.permission)});
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
