// Metadata (key 3): brokers (this node), cluster id, controller, and topics
// with their partitions, this node leading each. Topics may be asked for by
// name or (v10+) by id. Unknown topics are created when the broker and the
// request allow it. With ACLs, a principal sees only the topics it may
// DESCRIBE; a named topic it may not is TOPIC_AUTHORIZATION_FAILED, and
// auto-creation needs CREATE on the cluster or the topic.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
asio::awaitable<void> handle_metadata(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::metadata_request>(ctx, in);
    // Null means every topic; so does an empty list where null cannot be sent (v0).
    const bool all_topics = !request.topics || (request.topics->empty() &&
                                                !messages::metadata_request::nullable_topics(ctx.api_version));

    messages::metadata_response response;
    response.brokers.push_back({b.node_id(), b.advertised_host(), b.advertised_port(), std::nullopt});
    response.cluster_id = b.cluster_id();
    response.controller_id = b.node_id();

    auto add_topic = [&](std::optional<std::string> name, error_code code, topic* t, uuid id) {
        auto& rt = response.topics.emplace_back();
        rt.error_code = code;
        rt.name = std::move(name);
        rt.topic_id = t ? t->id : id;
        rt.is_internal = t != nullptr && t->internal();
        int32_t partitions = t ? t->partition_count() : 0;
        for (int32_t idx = 0; idx < partitions; ++idx) {
            auto& p = rt.partitions.emplace_back();
            p.partition_index = idx;
            p.leader_id = b.node_id();
            p.leader_epoch = 0;
            p.replica_nodes = {b.node_id()};
            p.isr_nodes = {b.node_id()};
        }
    };
    if (all_topics) {
        for (const auto& [name, t] : b.topics().all()) {
            if (authorized(ctx, acl_operation::describe, resource_type::topic, name)) {
                add_topic(name, error_code::none, t.get(), uuid{});
            }
        }
    } else {
        for (const auto& requested : *request.topics) {
            if (!requested.name) {
                topic* t = b.topics().find(requested.topic_id);
                if (t == nullptr) {
                    using response_topic = messages::metadata_response::metadata_response_topic;
                    add_topic(response_topic::nullable_name(ctx.api_version) ? std::nullopt : std::optional<std::string>(""),
                              error_code::unknown_topic_id, nullptr, requested.topic_id);
                } else if (!authorized(ctx, acl_operation::describe, resource_type::topic, t->name)) {
                    using response_topic = messages::metadata_response::metadata_response_topic;
                    add_topic(response_topic::nullable_name(ctx.api_version) ? std::nullopt : std::optional<std::string>(""),
                              error_code::topic_authorization_failed, nullptr, requested.topic_id);
                } else {
                    add_topic(t->name, error_code::none, t, uuid{});
                }
                continue;
            }
            const std::string& name = *requested.name;
            topic* t = b.topics().find(name);
            error_code code = error_code::none;
            if (!authorized(ctx, acl_operation::describe, resource_type::topic, name)) {
                add_topic(name, error_code::topic_authorization_failed, nullptr, uuid{});
                continue;
            }
            if (t == nullptr) {
                const bool may_create = authorized_cluster(ctx, acl_operation::create) ||
                                        authorized(ctx, acl_operation::create, resource_type::topic, name);
                if (b.config().auto_create_topics && request.allow_auto_topic_creation && !may_create) {
                    code = error_code::topic_authorization_failed;
                } else if (b.config().auto_create_topics && request.allow_auto_topic_creation) {
                    if (auto err = b.topics().create(name, 0, {}, false)) {
                        code = err->code == error_code::invalid_topic_exception ? error_code::invalid_topic_exception
                                                                               : error_code::unknown_topic_or_partition;
                    } else {
                        t = b.topics().find(name);
                    }
                } else {
                    code = error_code::unknown_topic_or_partition;
                }
            }
            add_topic(name, code, t, uuid{});
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
