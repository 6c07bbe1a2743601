// IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on a
// topic's configs (KIP-339), or on this broker's dynamic configs (see
// broker_core::set_dynamic_configs), validated as a whole, persisted and
// applied without a restart.
#include <algorithm>
#include <sstream>

#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

constexpr int8_t k_resource_topic = 2;
constexpr int8_t k_resource_broker = 4;
constexpr int8_t k_op_set = 0;
constexpr int8_t k_op_delete = 1;
constexpr int8_t k_op_append = 2;
constexpr int8_t k_op_subtract = 3;

std::vector<std::string> split_list(const std::string& value) {
    std::vector<std::string> items;
    std::stringstream in(value);
    for (std::string item; std::getline(in, item, ',');) {
        if (!item.empty()) items.push_back(item);
    }
    return items;
}

std::string join_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
    return out;
}

}  // namespace

asio::awaitable<void> handle_incremental_alter_configs(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::incremental_alter_configs_request>(ctx, in);
    messages::incremental_alter_configs_response response;
    for (const auto& r : request.resources) {
        auto& result = response.responses.emplace_back();
        result.resource_type = r.resource_type;
        result.resource_name = r.resource_name;
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
                continue;
            }
            auto values = b.dynamic_configs();
            for (const auto& c : r.configs) {
                if (c.config_operation == k_op_set) {
                    values[c.name] = c.value.value_or("");
                } else if (c.config_operation == k_op_delete) {
                    values.erase(c.name);
                } else {
                    result.error_code = error_code::invalid_config;
                    result.error_message = fmt::format("'{}' is not a list: APPEND and SUBTRACT do not apply", c.name);
                }
            }
            if (result.error_code != error_code::none) continue;
            if (auto st = b.set_dynamic_configs(values, request.validate_only); !st) {
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
        topic* t = b.topics().find(r.resource_name);
        if (t == nullptr) {
            result.error_code = error_code::unknown_topic_or_partition;
            result.error_message = fmt::format("topic '{}' does not exist", r.resource_name);
            continue;
        }
        auto overrides = t->overrides;
        auto effective = [&](const std::string& key) {
            for (const auto& e : b.topics().describe(*t)) {
                if (e.name == key) return e.value;
            }
            return std::string();
        };
        for (const auto& c : r.configs) {
            switch (c.config_operation) {
                case k_op_set:
                    overrides[c.name] = c.value.value_or("");
                    break;
                case k_op_delete:
                    overrides.erase(c.name);
                    break;
                case k_op_append:
                case k_op_subtract: {
                    auto items = split_list(overrides.count(c.name) ? overrides[c.name] : effective(c.name));
                    for (const auto& item : split_list(c.value.value_or(""))) {
                        auto found = std::find(items.begin(), items.end(), item);
                        if (c.config_operation == k_op_append && found == items.end()) items.push_back(item);
                        if (c.config_operation == k_op_subtract && found != items.end()) items.erase(found);
                    }
                    overrides[c.name] = join_list(items);
                    break;
                }
                default:
                    result.error_code = error_code::invalid_request;
                    result.error_message = fmt::format("unknown config operation {} for '{}'", c.config_operation, c.name);
            }
        }
        if (result.error_code != error_code::none) continue;
        if (auto err = b.topics().alter_configs(r.resource_name, overrides, request.validate_only)) {
            result.error_code = err->code;
            result.error_message = err->message;
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
