// DescribeUserScramCredentials (key 50, KIP-554): each user's SCRAM
// mechanisms and iterations, never salts or keys. Needs DESCRIBE on the
// cluster. A null or empty user list describes every user.
#include <set>

#include "auth/security.h"
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_describe_user_scram_credentials(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::describe_user_scram_credentials_request>(ctx, in);
    messages::describe_user_scram_credentials_response response;
    if (!authorized_cluster(ctx, acl_operation::describe)) {
        response.error_code = error_code::cluster_authorization_failed;
        encode_response(ctx, out, response);
        co_return;
    }
    auto all = ctx.broker.security().credentials().describe();
    auto describe = [&](const std::string& user) {
        messages::describe_user_scram_credentials_response::describe_user_scram_credentials_result result;
        result.user = user;
        auto it = all.find(user);
        if (it == all.end()) {
            result.error_code = error_code::resource_not_found;
            result.error_message = "Attempt to describe a user credential that does not exist: " + user;
        } else {
            for (const auto& [mechanism, iterations] : it->second) {
                result.credential_infos.push_back({static_cast<int8_t>(mechanism), iterations});
            }
        }
        response.results.push_back(std::move(result));
    };
    if (!request.users || request.users->empty()) {
        for (const auto& [user, infos] : all) describe(user);
    } else {
        std::set<std::string> seen, duplicated;
        for (const auto& u : *request.users) {
            if (!seen.insert(u.name).second) duplicated.insert(u.name);
        }
        for (const auto& name : seen) {
            if (duplicated.contains(name)) {
                response.results.push_back({name, error_code::duplicate_resource,
                                            "Cannot describe SCRAM credentials for the same user twice in a single request: " + name,
                                            {}});
            } else {
                describe(name);
            }
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
