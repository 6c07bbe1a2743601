// BATCH (logged, unlogged): every statement's cells go into one atomic,
// synced RocksDB write, so a batch is all-or-nothing on one node either way.
#include "handlers/handler.h"

#include <memory>
#include <vector>

namespace millrace::cql {

asio::awaitable<handler_reply> handle_batch(request_context& rc, reader& in) {
    uint8_t type = in.byte();
    if (type > 2) throw protocol_error(fmt::format("invalid batch type {}", type));
    if (type == 2) co_return error_reply({error_code::invalid, "counter batches are not supported", {}, {}, {}});
    uint16_t n = in.uint16();
    // The statements, held for the batch's duration: parsed here, or shared
    // with the prepared cache (which may evict them meanwhile).
    std::vector<std::shared_ptr<const parsed_statement>> owned;
    struct item {
        const parsed_statement* stmt;
        std::vector<std::optional<std::string>> values;
        std::vector<bool> unset;
        std::string keyspace;
    };
    std::vector<item> items;
    std::optional<request_error> failure;
    for (uint16_t idx = 0; idx < n; ++idx) {
        uint8_t kind = in.byte();
        item it{nullptr, {}, {}, rc.conn.sess.keyspace};
        if (kind == 0) {
            auto parsed = parse_statement(in.long_string());
            if (!parsed && !failure) failure = request_error{error_code::syntax_error, parsed.err().message(), {}, {}, {}};
            if (parsed) {
                owned.push_back(std::make_shared<const parsed_statement>(std::move(*parsed)));
                it.stmt = owned.back().get();
            }
        } else if (kind == 1) {
            std::string id = in.short_bytes();
            const prepared_statement* p = rc.exec.find_prepared(id);
            if (p == nullptr && !failure) {
                failure = request_error{error_code::unprepared, "Prepared query not found in batch", {}, {}, id};
            }
            if (p != nullptr) {
                owned.push_back(p->parsed);
                it.stmt = owned.back().get();
                it.keyspace = p->keyspace;
            }
        } else {
            throw protocol_error(fmt::format("invalid batch statement kind {}", kind));
        }
        uint16_t count = in.uint16();
        for (uint16_t vidx = 0; vidx < count; ++vidx) {
            int32_t len = in.int32();
            if (len < -2) throw protocol_error(fmt::format("invalid value length {}", len));
            it.unset.push_back(len == -2);
            if (len < 0) it.values.emplace_back();
            else it.values.emplace_back(std::string(in.take(static_cast<size_t>(len))));
        }
        items.push_back(std::move(it));
    }
    in.int16();  // consistency
    uint32_t flags = rc.conn.version >= 5 ? static_cast<uint32_t>(in.int32()) : in.byte();
    query_params common;
    if (flags & query_flag::serial_consistency) in.int16();
    if (flags & query_flag::default_timestamp) common.default_timestamp = in.int64();
    std::string keyspace;
    if (rc.conn.version >= 5) {
        if (flags & query_flag::with_keyspace) keyspace = in.string();
        if (flags & query_flag::now_in_seconds) in.int32();
    }
    if (flags & query_flag::names_for_values) throw protocol_error("named values are not allowed in BATCH");
    if (failure) co_return error_reply(*failure);
    std::vector<std::pair<const parsed_statement*, query_params>> statements;
    for (auto& it : items) {
        query_params p;
        p.values = std::move(it.values);
        p.unset = std::move(it.unset);
        statements.emplace_back(it.stmt, std::move(p));
    }
    session s = request_session(rc.conn.sess, keyspace);
    if (!items.empty() && s.keyspace.empty()) s.keyspace = items.front().keyspace;
    co_return to_reply(co_await rc.exec.execute_batch(std::move(statements), common, s));
}

}  // namespace millrace::cql
