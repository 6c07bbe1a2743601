// DescribeLogDirs (key 35): the one log directory (the broker's data
// directory) with the size of every partition, or of those asked for.
#include <sys/statvfs.h>

#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_describe_log_dirs(request_context& ctx, reader& in, writer& out) {
    using result_t = messages::describe_log_dirs_response::describe_log_dirs_result;
    auto& b = ctx.broker;
    auto request = decode_request<messages::describe_log_dirs_request>(ctx, in);
    messages::describe_log_dirs_response response;
    if (!authorized_cluster(ctx, acl_operation::describe)) {
        response.error_code = error_code::cluster_authorization_failed;  // v3+; earlier versions see no directories
        encode_response(ctx, out, response);
        co_return;
    }
    result_t dir;
    dir.log_dir = b.config().data_dir;
    struct statvfs fs_stats {};
    if (::statvfs(dir.log_dir.c_str(), &fs_stats) == 0) {
        dir.total_bytes = static_cast<int64_t>(fs_stats.f_blocks) * static_cast<int64_t>(fs_stats.f_frsize);
        dir.usable_bytes = static_cast<int64_t>(fs_stats.f_bavail) * static_cast<int64_t>(fs_stats.f_frsize);
    }
    auto add = [&](const std::string& name, topic& t, const std::vector<int32_t>* only) {
        result_t::describe_log_dirs_topic entry;
        entry.name = name;
        for (int32_t idx = 0; idx < t.partition_count(); ++idx) {
            if (only && std::find(only->begin(), only->end(), idx) == only->end()) continue;
            entry.partitions.push_back({idx, static_cast<int64_t>(t.partition(idx)->size_bytes()), 0, false});
        }
        if (!entry.partitions.empty()) dir.topics.push_back(std::move(entry));
    };
    if (!request.topics) {
        for (const auto& [name, t] : b.topics().all()) add(name, *t, nullptr);
    } else {
        for (const auto& rt : *request.topics) {
            if (topic* t = b.topics().find(rt.topic)) add(rt.topic, *t, &rt.partitions);
        }
    }
    response.results.push_back(std::move(dir));
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
