// CreateTopics (key 19), v0-7. Replication factor must be 1 or -1 (default);
// manual replica assignments may only name this node.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_create_topics(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;

    struct request_topic {
        std::string name;
        int32_t partitions;
        int16_t replication;
        int32_t assignments;
        bool assignment_ok = true;
        std::map<std::string, std::string> configs;
    };
    std::vector<request_topic> requested;
    int32_t count = in.array_length(flex);
    for (int32_t topic_idx = 0; topic_idx < count; ++topic_idx) {
        request_topic rt;
        rt.name = in.string(flex);
        rt.partitions = in.int32();
        rt.replication = in.int16();
        rt.assignments = in.array_length(flex);
        for (int32_t a = 0; a < rt.assignments; ++a) {
            in.int32();  // partition index
            int32_t brokers = in.array_length(flex);
            for (int32_t idx = 0; idx < brokers; ++idx) rt.assignment_ok &= in.int32() == b.node_id();
            rt.assignment_ok &= brokers == 1;
            in.skip_tags(flex);
        }
        int32_t configs = in.array_length(flex);
        for (int32_t idx = 0; idx < configs; ++idx) {
            std::string key = in.string(flex);
            auto value = in.nullable_string(flex);
            in.skip_tags(flex);
            if (value) rt.configs[key] = *value;
        }
        in.skip_tags(flex);
        requested.push_back(std::move(rt));
    }
    in.int32();  // timeout_ms
    bool validate_only = v >= 1 ? in.boolean() : false;
    in.skip_tags(flex);

    if (v >= 2) out.int32(0);  // throttle_time_ms
    out.array_length(static_cast<int32_t>(requested.size()), flex);
    for (const auto& rt : requested) {
        std::optional<topic_error> err;
        if (rt.replication != -1 && rt.replication != 1) {
            err = topic_error{error_code::invalid_replication_factor,
                              fmt::format("replication factor {} is larger than the 1 available broker", rt.replication)};
        } else if (rt.assignments > 0 && (!rt.assignment_ok || rt.partitions != -1)) {
            err = topic_error{error_code::invalid_replica_assignment, "replica assignments may only name this broker"};
        } else {
            err = b.topics().create(rt.name, rt.assignments > 0 ? rt.assignments : rt.partitions, rt.configs, validate_only);
        }
        topic* t = err ? nullptr : b.topics().find(rt.name);
        out.string(rt.name, flex);
        if (v >= 7) out.write_uuid(t ? t->id : uuid{});
        out.int16(wire(err ? err->code : error_code::none));
        if (v >= 1) {
            out.nullable_string(err ? std::optional<std::string>(err->message) : std::nullopt, flex);
        }
        if (v >= 5) {
            out.int32(t ? t->partition_count() : -1);
            out.int16(t ? 1 : -1);
            if (t) {
                auto entries = b.topics().describe(*t);
                out.array_length(static_cast<int32_t>(entries.size()), flex);
                for (const auto& e : entries) {
                    out.string(e.name, flex);
                    out.nullable_string(e.value, flex);
                    out.boolean(false);                   // read_only
                    out.int8(e.is_default ? 5 : 1);       // DEFAULT_CONFIG or DYNAMIC_TOPIC_CONFIG
                    out.boolean(false);                   // is_sensitive
                    out.empty_tags(flex);
                }
            } else {
                out.array_length(-1, flex);
            }
        }
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
    co_return;
}

}  // namespace millrace::kafka
