// AlterConfigs (key 33): replaces a topic's explicitly set configs, or this
// broker's dynamic configs, with the given set (keys left out return to their
// defaults), validated, persisted and applied without a restart.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

constexpr int8_t k_resource_topic = 2;
constexpr int8_t k_resource_broker = 4;

}  // namespace

asio::awaitable<void> handle_alter_configs(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::alter_configs_request>(ctx, in);
    messages::alter_configs_response response;
    for (const auto& r : request.resources) {
        auto& result = response.responses.emplace_back();
        result.resource_type = r.resource_type;
        result.resource_name = r.resource_name;
        std::map<std::string, std::string> overrides;
        for (const auto& c : r.configs) {
            if (c.value) overrides[c.name] = *c.value;
        }
        // ACLs: ALTER_CONFIGS on the topic, or on the cluster for the broker.
        if (r.resource_type == k_resource_topic &&
            !authorized(ctx, acl_operation::alter_configs, resource_type::topic, r.resource_name)) {
            result.error_code = error_code::topic_authorization_failed;
            continue;
        }
        if (r.resource_type == k_resource_broker && !authorized_cluster(ctx, acl_operation::alter_configs)) {
            result.error_code = error_code::cluster_authorization_failed;
            continue;
        }
        if (r.resource_type == k_resource_broker) {
            if (!r.resource_name.empty() && r.resource_name != std::to_string(b.node_id())) {
                result.error_code = error_code::invalid_request;
                result.error_message = fmt::format("no broker with id {}", r.resource_name);
            } else if (auto st = b.set_dynamic_configs(overrides, request.validate_only); !st) {
                result.error_code = st.err().code() == errc::invalid_argument ? error_code::invalid_config
                                                                              : error_code::kafka_storage_error;
                result.error_message = st.err().message();
            }
            continue;
        }
        if (r.resource_type != k_resource_topic) {
            result.error_code = error_code::invalid_request;
            result.error_message = fmt::format("resource type {} cannot be altered", r.resource_type);
            continue;
        }
        if (auto err = b.topics().alter_configs(r.resource_name, overrides, request.validate_only)) {
            result.error_code = err->code;
            result.error_message = err->message;
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
