// TxnOffsetCommit (key 28): consumer offsets sent inside a transaction. They
// wait in the transaction coordinator and reach the group (durably) only if
// the transaction commits. From v3 the request carries the consumer's group
// metadata, checked against the group first (KIP-447 zombie fencing).
#include "broker_core.h"
#include "group/coordinator.h"
#include "handlers/handler.h"
#include "topics.h"
#include "txn/txn_coordinator.h"

namespace millrace::kafka {

asio::awaitable<void> handle_txn_offset_commit(request_context& ctx, reader& in, writer& out) {
    auto request = decode_request<messages::txn_offset_commit_request>(ctx, in);
    messages::txn_offset_commit_response response;
    error_code common = error_code::none;
    if (!authorized(ctx, acl_operation::write, resource_type::transactional_id, request.transactional_id)) {
        common = error_code::transactional_id_authorization_failed;
    } else if (!authorized(ctx, acl_operation::read, resource_type::group, request.group_id)) {
        common = error_code::group_authorization_failed;
    }
    std::vector<offset_commit_entry> entries;
    for (auto& t : request.topics) {
        auto& tr = response.topics.emplace_back();
        tr.name = t.name;
        topic* found = ctx.broker.topics().find(t.name);
        const bool topic_allowed = authorized(ctx, acl_operation::read, resource_type::topic, t.name);
        for (auto& p : t.partitions) {
            auto& pr = tr.partitions.emplace_back();
            pr.partition_index = p.partition_index;
            if (common != error_code::none) {
                pr.error_code = common;
            } else if (!topic_allowed) {
                pr.error_code = error_code::topic_authorization_failed;
            } else if (found == nullptr || found->partition(p.partition_index) == nullptr) {
                pr.error_code = error_code::unknown_topic_or_partition;
            } else {
                offset_commit_entry entry;
                entry.topic = t.name;
                entry.partition = p.partition_index;
                entry.value.offset = p.committed_offset;
                entry.value.leader_epoch = p.committed_leader_epoch;
                entry.value.metadata = std::move(p.committed_metadata);
                entries.push_back(std::move(entry));
            }
        }
    }
    if (!entries.empty()) {
        // KIP-447: a member fenced by a rebalance cannot commit offsets in its transaction.
        auto code = ctx.broker.groups().validate_txn_offset_commit(request.group_id, request.generation_id,
                                                                   request.member_id, request.group_instance_id);
        if (code == error_code::none) {
            code = ctx.broker.txns().txn_offset_commit(request.transactional_id, request.producer_id,
                                                        request.producer_epoch, request.group_id, std::move(entries));
        }
        for (auto& tr : response.topics) {
            for (auto& pr : tr.partitions) {
                if (pr.error_code == error_code::none) pr.error_code = code;
            }
        }
    }
    encode_response(ctx, out, response);
    co_return;
}

}  // namespace millrace::kafka
