// DeleteTopics (key 20), v0-6 (v6 may name topics by id).
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_delete_topics(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;

    struct request_topic {
        std::optional<std::string> name;
        uuid id{};
    };
    std::vector<request_topic> requested;
    int32_t count = in.array_length(flex);
    for (int32_t idx = 0; idx < count; ++idx) {
        request_topic rt;
        if (v >= 6) {
            rt.name = in.nullable_string(flex);
            rt.id = in.read_uuid();
            in.skip_tags(flex);
        } else {
            rt.name = in.string(flex);
        }
        requested.push_back(rt);
    }
    in.int32();  // timeout_ms
    in.skip_tags(flex);

    if (v >= 1) out.int32(0);  // throttle_time_ms
    out.array_length(static_cast<int32_t>(requested.size()), flex);
    for (auto& rt : requested) {
        std::optional<topic_error> err;
        if (!rt.name) {
            for (const auto& [name, t] : b.topics().all()) {
                if (t->id == rt.id) rt.name = name;
            }
        }
        uuid id = rt.id;
        if (!rt.name) {
            err = topic_error{error_code::unknown_topic_id, "no topic has that id"};
        } else {
            if (topic* t = b.topics().find(*rt.name)) id = t->id;
            err = b.topics().remove(*rt.name);
        }
        if (v >= 6) {
            out.nullable_string(rt.name, flex);
            out.write_uuid(id);
        } else {
            out.string(rt.name.value_or(""), flex);
        }
        out.int16(wire(err ? err->code : error_code::none));
        if (v >= 5) {
            out.nullable_string(err ? std::optional<std::string>(err->message) : std::nullopt, flex);
        }
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
    co_return;
}

}  // namespace millrace::kafka
