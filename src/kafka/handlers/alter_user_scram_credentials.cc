// AlterUserScramCredentials (key 51, KIP-554): upserts and deletes SCRAM
// credentials. The client sends the salted password (PBKDF2 of the password);
// we keep only StoredKey and ServerKey, durably. One result per user; a user
// named twice, an unknown mechanism, iterations outside 4096..16384, or the
// deletion of a missing credential fail that user's changes only. Needs
// ALTER on the cluster. The admin user's credentials come from
// security.admin_password and cannot be changed here.
#include <map>
#include <set>

#include "auth/security.h"
#include "broker_core.h"
#include "handlers/handler.h"

namespace millrace::kafka {

asio::awaitable<void> handle_alter_user_scram_credentials(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::alter_user_scram_credentials_request>(ctx, in);
    messages::alter_user_scram_credentials_response response;
    auto& security = ctx.broker.security();
    // user -> (error, message); users in request order.
    std::vector<std::string> users;
    std::map<std::string, std::pair<error_code, std::string>> errors;
    std::set<std::pair<std::string, int8_t>> seen;
    auto note = [&](const std::string& user) {
        if (!errors.contains(user)) {
            users.push_back(user);
            errors[user] = {error_code::none, {}};
        }
    };
    auto fail = [&](const std::string& user, error_code code, std::string message) {
        if (errors[user].first == error_code::none) errors[user] = {code, std::move(message)};
    };
    bool allowed = authorized_cluster(ctx, acl_operation::alter);
    auto check = [&](const std::string& user, int8_t mechanism) {
        note(user);
        if (!allowed) return fail(user, error_code::cluster_authorization_failed, {});
        if (user.empty()) return fail(user, error_code::unacceptable_credential, "Username must not be empty");
        if (user == security.config().admin_user) {
            return fail(user, error_code::unacceptable_credential,
                        "The admin user's credentials come from security.admin_password");
        }
        if (mechanism != static_cast<int8_t>(auth::scram_mechanism::sha_256) &&
            mechanism != static_cast<int8_t>(auth::scram_mechanism::sha_512)) {
            return fail(user, error_code::unsupported_sasl_mechanism, "Unknown SCRAM mechanism " + std::to_string(mechanism));
        }
        if (!seen.emplace(user, mechanism).second) {
            return fail(user, error_code::duplicate_resource,
                        "A user credential cannot be altered twice in the same request");
        }
    };
    for (const auto& d : request.deletions) {
        check(d.name, d.mechanism);
        if (errors[d.name].first == error_code::none &&
            !security.credentials().find(d.name, static_cast<auth::scram_mechanism>(d.mechanism))) {
            fail(d.name, error_code::resource_not_found, "Attempt to delete a user credential that does not exist");
        }
    }
    for (const auto& u : request.upsertions) {
        check(u.name, u.mechanism);
        if (u.iterations < auth::k_scram_min_iterations) {
            fail(u.name, error_code::unacceptable_credential,
                 fmt::format("Too few iterations: {} (at least {})", u.iterations, auth::k_scram_min_iterations));
        } else if (u.iterations > auth::k_scram_max_iterations) {
            fail(u.name, error_code::unacceptable_credential,
                 fmt::format("Too many iterations: {} (at most {})", u.iterations, auth::k_scram_max_iterations));
        } else if (u.salt.empty() || u.salted_password.empty()) {
            fail(u.name, error_code::unacceptable_credential, "The salt and the salted password must not be empty");
        }
    }
    std::vector<auth::credential_store::change> changes;
    for (const auto& d : request.deletions) {
        if (errors[d.name].first == error_code::none) {
            changes.push_back({d.name, static_cast<auth::scram_mechanism>(d.mechanism), std::nullopt});
        }
    }
    for (const auto& u : request.upsertions) {
        if (errors[u.name].first != error_code::none) continue;
        auto m = static_cast<auth::scram_mechanism>(u.mechanism);
        changes.push_back({u.name, m, auth::credential_from_salted(m, u.salt, u.salted_password, u.iterations)});
    }
    if (!changes.empty()) {
        if (auto st = security.credentials().apply(changes); !st) {
            ctx.broker.log().error("AlterUserScramCredentials: {}", st.err().message());
            for (const auto& c : changes) fail(c.user, error_code::unknown_server_error, st.err().message());
        }
    }
    for (const auto& user : users) {
        const auto& [code, message] = errors[user];
        response.results.push_back({user, code, message.empty() ? std::nullopt : std::optional<std::string>(message)});
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
