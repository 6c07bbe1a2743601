// Metadata (key 3), v0-12: brokers (this node), cluster id, controller, and
// topics with their partitions, this node leading each. Unknown topics are
// created when the broker and the request allow it.
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_metadata(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;

    std::vector<std::string> requested;
    bool all_topics = false;
    int32_t count = in.array_length(flex);
    if (count < 0 || (v == 0 && count == 0)) all_topics = true;  // null (v1+) or empty (v0) means all
    for (int32_t idx = 0; idx < count; ++idx) {
        if (v >= 10) in.read_uuid();
        auto name = v >= 10 ? in.nullable_string(flex) : std::optional<std::string>(in.string(flex));
        in.skip_tags(flex);
        if (name) requested.push_back(*name);
    }
    bool allow_auto_create = true;
    if (v >= 4) allow_auto_create = in.boolean();
    if (v >= 8 && v <= 10) in.boolean();  // include_cluster_authorized_operations
    if (v >= 8) in.boolean();             // include_topic_authorized_operations
    in.skip_tags(flex);

    if (v >= 3) out.int32(0);  // throttle_time_ms
    out.array_length(1, flex);
    out.int32(b.node_id());
    out.string(b.advertised_host(), flex);
    out.int32(b.advertised_port());
    if (v >= 1) out.nullable_string(std::nullopt, flex);  // rack
    out.empty_tags(flex);
    if (v >= 2) out.nullable_string(b.cluster_id(), flex);
    if (v >= 1) out.int32(b.node_id());  // controller_id

    struct entry {
        std::string name;
        error_code code;
        topic* t;
    };
    std::vector<entry> topics;
    if (all_topics) {
        for (const auto& [name, t] : b.topics().all()) topics.push_back({name, error_code::none, t.get()});
    } else {
        for (const auto& name : requested) {
            topic* t = b.topics().find(name);
            error_code code = error_code::none;
            if (t == nullptr) {
                if (b.config().auto_create_topics && allow_auto_create) {
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
            topics.push_back({name, code, t});
        }
    }
    out.array_length(static_cast<int32_t>(topics.size()), flex);
    for (const auto& e : topics) {
        out.int16(wire(e.code));
        out.string(e.name, flex);
        if (v >= 10) out.write_uuid(e.t ? e.t->id : uuid{});
        if (v >= 1) out.boolean(e.t != nullptr && e.t->internal());
        int32_t partitions = e.t ? e.t->partition_count() : 0;
        out.array_length(partitions, flex);
        for (int32_t idx = 0; idx < partitions; ++idx) {
            out.int16(wire(error_code::none));
            out.int32(idx);
            out.int32(b.node_id());  // leader
            if (v >= 7) out.int32(0);  // leader_epoch
            out.array_length(1, flex);
            out.int32(b.node_id());  // replicas
            out.array_length(1, flex);
            out.int32(b.node_id());  // isr
            if (v >= 5) out.array_length(0, flex);  // offline replicas
            out.empty_tags(flex);
        }
        if (v >= 8) out.int32(INT32_MIN);  // topic_authorized_operations: not computed
        out.empty_tags(flex);
    }
    if (v >= 8 && v <= 10) out.int32(INT32_MIN);  // cluster_authorized_operations
    out.empty_tags(flex);
    co_return;
}

}  // namespace millrace::kafka
