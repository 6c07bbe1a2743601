// DeleteTopics (key 20): by name, or (v6) by name or id.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_delete_topics(request_context& ctx, reader& in, writer& out) {
    using messages::delete_topics_request;
    auto& b = ctx.broker;
    auto request = decode_request<delete_topics_request>(ctx, in);
    if (!delete_topics_request::has_topics(ctx.api_version)) {
        for (auto& name : request.topic_names) request.topics.push_back({std::move(name), uuid{}});
    }
    messages::delete_topics_response response;
    for (auto& rt : request.topics) {
        std::optional<std::string> name = rt.name;
        if (!name) {
            if (topic* t = b.topics().find(rt.topic_id)) name = t->name;
        }
        std::optional<topic_error> err;
        uuid id = rt.topic_id;
        if (!name) {
            err = topic_error{error_code::unknown_topic_id, "no topic has that id"};
        } else if (!authorized(ctx, acl_operation::remove, resource_type::topic, *name)) {
            err = topic_error{error_code::topic_authorization_failed, "Authorization failed."};
        } else {
            if (topic* t = b.topics().find(*name)) id = t->id;
            err = b.topics().remove(*name);
        }
        auto& result = response.responses.emplace_back();
        result.name = name;
        if (!result.name && !messages::delete_topics_response::deletable_topic_result::nullable_name(ctx.api_version)) {
            result.name = "";
        }
        result.topic_id = id;
        result.error_code = err ? err->code : error_code::none;
        if (err) result.error_message = err->message;
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
