// ElectLeaders (key 43): one node leads every partition already, so every
// election is unnecessary: ELECTION_NOT_NEEDED for the partitions named, and
// nothing to report when all partitions are asked for (as Kafka answers).
#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {

asio::awaitable<void> handle_elect_leaders(request_context& ctx, reader& in, writer& out) {
    auto& b = ctx.broker;
    auto request = decode_request<messages::elect_leaders_request>(ctx, in);
    messages::elect_leaders_response response;
    if (!authorized_cluster(ctx, acl_operation::alter)) {
        response.error_code = error_code::cluster_authorization_failed;
        if (request.topic_partitions) {
            for (const auto& rt : *request.topic_partitions) {
                auto& tr = response.replica_election_results.emplace_back();
                tr.topic = rt.topic;
                for (int32_t index : rt.partitions) {
                    tr.partition_result.push_back({index, error_code::cluster_authorization_failed, std::nullopt});
                }
            }
        }
        encode_response(ctx, out, response);
        co_return;
    }
    if (request.topic_partitions) {
        for (const auto& rt : *request.topic_partitions) {
            auto& tr = response.replica_election_results.emplace_back();
            tr.topic = rt.topic;
            topic* t = b.topics().find(rt.topic);
            for (int32_t index : rt.partitions) {
                auto& pr = tr.partition_result.emplace_back();
                pr.partition_id = index;
                if (t == nullptr || t->partition(index) == nullptr) {
                    pr.error_code = error_code::unknown_topic_or_partition;
                } else {
                    pr.error_code = error_code::election_not_needed;
                    pr.error_message = "Leader election not needed for topic partition.";
                }
            }
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
