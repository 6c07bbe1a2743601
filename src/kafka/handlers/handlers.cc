// The API table: adding an API means adding its handler file and one line here.
#include "handlers/handler.h"

#include "auth/security.h"
#include "broker_core.h"

namespace millrace::kafka {

asio::awaitable<void> handle_produce(request_context&, reader&, writer&);
asio::awaitable<void> handle_fetch(request_context&, reader&, writer&);
asio::awaitable<void> handle_list_offsets(request_context&, reader&, writer&);
asio::awaitable<void> handle_metadata(request_context&, reader&, writer&);
asio::awaitable<void> handle_offset_commit(request_context&, reader&, writer&);
asio::awaitable<void> handle_offset_fetch(request_context&, reader&, writer&);
asio::awaitable<void> handle_find_coordinator(request_context&, reader&, writer&);
asio::awaitable<void> handle_join_group(request_context&, reader&, writer&);
asio::awaitable<void> handle_heartbeat(request_context&, reader&, writer&);
asio::awaitable<void> handle_leave_group(request_context&, reader&, writer&);
asio::awaitable<void> handle_sync_group(request_context&, reader&, writer&);
asio::awaitable<void> handle_describe_groups(request_context&, reader&, writer&);
asio::awaitable<void> handle_list_groups(request_context&, reader&, writer&);
asio::awaitable<void> handle_api_versions(request_context&, reader&, writer&);
asio::awaitable<void> handle_create_topics(request_context&, reader&, writer&);
asio::awaitable<void> handle_delete_topics(request_context&, reader&, writer&);
asio::awaitable<void> handle_init_producer_id(request_context&, reader&, writer&);
asio::awaitable<void> handle_offset_for_leader_epoch(request_context&, reader&, writer&);
asio::awaitable<void> handle_describe_configs(request_context&, reader&, writer&);
asio::awaitable<void> handle_create_partitions(request_context&, reader&, writer&);
asio::awaitable<void> handle_delete_groups(request_context&, reader&, writer&);
asio::awaitable<void> handle_describe_cluster(request_context&, reader&, writer&);
asio::awaitable<void> handle_offset_delete(request_context&, reader&, writer&);
asio::awaitable<void> handle_delete_records(request_context&, reader&, writer&);
asio::awaitable<void> handle_alter_configs(request_context&, reader&, writer&);
asio::awaitable<void> handle_describe_log_dirs(request_context&, reader&, writer&);
asio::awaitable<void> handle_elect_leaders(request_context&, reader&, writer&);
asio::awaitable<void> handle_incremental_alter_configs(request_context&, reader&, writer&);
asio::awaitable<void> handle_describe_producers(request_context&, reader&, writer&);
asio::awaitable<void> handle_describe_client_quotas(request_context&, reader&, writer&);
asio::awaitable<void> handle_sasl_handshake(request_context&, reader&, writer&);
asio::awaitable<void> handle_sasl_authenticate(request_context&, reader&, writer&);
asio::awaitable<void> handle_describe_acls(request_context&, reader&, writer&);
asio::awaitable<void> handle_create_acls(request_context&, reader&, writer&);
asio::awaitable<void> handle_delete_acls(request_context&, reader&, writer&);
asio::awaitable<void> handle_describe_user_scram_credentials(request_context&, reader&, writer&);
asio::awaitable<void> handle_alter_user_scram_credentials(request_context&, reader&, writer&);
asio::awaitable<void> handle_add_partitions_to_txn(request_context&, reader&, writer&);
asio::awaitable<void> handle_add_offsets_to_txn(request_context&, reader&, writer&);
asio::awaitable<void> handle_end_txn(request_context&, reader&, writer&);
asio::awaitable<void> handle_txn_offset_commit(request_context&, reader&, writer&);
asio::awaitable<void> handle_describe_transactions(request_context&, reader&, writer&);
asio::awaitable<void> handle_list_transactions(request_context&, reader&, writer&);
asio::awaitable<void> handle_consumer_group_heartbeat(request_context&, reader&, writer&);
asio::awaitable<void> handle_consumer_group_describe(request_context&, reader&, writer&);

handler_fn find_handler(api_key key) {
    switch (key) {
        case api_key::produce: return handle_produce;
        case api_key::add_partitions_to_txn: return handle_add_partitions_to_txn;
        case api_key::add_offsets_to_txn: return handle_add_offsets_to_txn;
        case api_key::end_txn: return handle_end_txn;
        case api_key::txn_offset_commit: return handle_txn_offset_commit;
        case api_key::describe_transactions: return handle_describe_transactions;
        case api_key::list_transactions: return handle_list_transactions;
        case api_key::fetch: return handle_fetch;
        case api_key::list_offsets: return handle_list_offsets;
        case api_key::metadata: return handle_metadata;
        case api_key::offset_commit: return handle_offset_commit;
        case api_key::offset_fetch: return handle_offset_fetch;
        case api_key::find_coordinator: return handle_find_coordinator;
        case api_key::join_group: return handle_join_group;
        case api_key::heartbeat: return handle_heartbeat;
        case api_key::leave_group: return handle_leave_group;
        case api_key::sync_group: return handle_sync_group;
        case api_key::describe_groups: return handle_describe_groups;
        case api_key::list_groups: return handle_list_groups;
        case api_key::api_versions: return handle_api_versions;
        case api_key::create_topics: return handle_create_topics;
        case api_key::delete_topics: return handle_delete_topics;
        case api_key::init_producer_id: return handle_init_producer_id;
        case api_key::offset_for_leader_epoch: return handle_offset_for_leader_epoch;
        case api_key::describe_configs: return handle_describe_configs;
        case api_key::create_partitions: return handle_create_partitions;
        case api_key::delete_groups: return handle_delete_groups;
        case api_key::describe_cluster: return handle_describe_cluster;
        case api_key::offset_delete: return handle_offset_delete;
        case api_key::delete_records: return handle_delete_records;
        case api_key::alter_configs: return handle_alter_configs;
        case api_key::describe_log_dirs: return handle_describe_log_dirs;
        case api_key::elect_leaders: return handle_elect_leaders;
        case api_key::incremental_alter_configs: return handle_incremental_alter_configs;
        case api_key::describe_producers: return handle_describe_producers;
        case api_key::describe_client_quotas: return handle_describe_client_quotas;
        case api_key::sasl_handshake: return handle_sasl_handshake;
        case api_key::sasl_authenticate: return handle_sasl_authenticate;
        case api_key::consumer_group_heartbeat: return handle_consumer_group_heartbeat;
        case api_key::consumer_group_describe: return handle_consumer_group_describe;
        case api_key::describe_acls: return handle_describe_acls;
        case api_key::create_acls: return handle_create_acls;
        case api_key::delete_acls: return handle_delete_acls;
        case api_key::describe_user_scram_credentials: return handle_describe_user_scram_credentials;
        case api_key::alter_user_scram_credentials: return handle_alter_user_scram_credentials;
    }
    return nullptr;
}

bool authorize_session(const request_context& ctx, acl_operation op, resource_type type, std::string_view name) {
    return ctx.broker.security().authorize(ctx.session->principal(), ctx.client_host, op, type, name);
}

bool authorize_session_any(const request_context& ctx, acl_operation op, resource_type type) {
    return ctx.broker.security().authorize_any(ctx.session->principal(), ctx.client_host, op, type);
}

}  // namespace millrace::kafka
