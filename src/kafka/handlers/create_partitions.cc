// CreatePartitions (key 37), v0-3: grows a topic's partition count.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_create_partitions(request_context& ctx, reader& in, writer& out) {
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;

    struct request_topic {
        std::string name;
        int32_t count;
        bool assignment_ok = true;
    };
    std::vector<request_topic> requested;
    int32_t topics = in.array_length(flex);
    for (int32_t topic_idx = 0; topic_idx < topics; ++topic_idx) {
        request_topic rt;
        rt.name = in.string(flex);
        rt.count = in.int32();
        int32_t assignments = in.array_length(flex);
        for (int32_t a = 0; a < assignments; ++a) {
            int32_t brokers = in.array_length(flex);
            for (int32_t idx = 0; idx < brokers; ++idx) rt.assignment_ok &= in.int32() == b.node_id();
            in.skip_tags(flex);
        }
        in.skip_tags(flex);
        requested.push_back(rt);
    }
    in.int32();  // timeout_ms
    bool validate_only = in.boolean();
    in.skip_tags(flex);

    out.int32(0);  // throttle_time_ms
    out.array_length(static_cast<int32_t>(requested.size()), flex);
    for (const auto& rt : requested) {
        std::optional<topic_error> err;
        if (!rt.assignment_ok) {
            err = topic_error{error_code::invalid_replica_assignment, "replica assignments may only name this broker"};
        } else {
            err = b.topics().add_partitions(rt.name, rt.count, validate_only);
        }
        out.string(rt.name, flex);
        out.int16(wire(err ? err->code : error_code::none));
        out.nullable_string(err ? std::optional<std::string>(err->message) : std::nullopt, flex);
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
    co_return;
}

}  // namespace millrace::kafka
