#include "handlers/handler.h"

namespace millrace::cql {

const std::vector<handler_entry>& all_handlers() {
    static const std::vector<handler_entry> table = {
        {opcode::options, "OPTIONS", handle_options},    {opcode::startup, "STARTUP", handle_startup},
        {opcode::register_, "REGISTER", handle_register}, {opcode::query, "QUERY", handle_query},
        {opcode::prepare, "PREPARE", handle_prepare},    {opcode::execute, "EXECUTE", handle_execute},
        {opcode::batch, "BATCH", handle_batch},          {opcode::auth_response, "AUTH_RESPONSE", handle_auth_response},
    };
    return table;
}

const handler_entry* find_handler(opcode op) {
    for (const auto& h : all_handlers()) {
        if (h.op == op) return &h;
    }
    return nullptr;
}

handler_reply error_reply(const request_error& e) {
    handler_reply r{opcode::error, {}};
    writer w(r.body);
    w.int32(static_cast<int32_t>(e.code));
    w.string(e.message);
    if (e.code == error_code::already_exists) {
        w.string(e.keyspace);
        w.string(e.table);
    } else if (e.code == error_code::unprepared) {
        w.short_bytes(e.statement_id);
    }
    return r;
}

handler_reply to_reply(const response& r) {
    if (auto* e = std::get_if<request_error>(&r)) return error_reply(*e);
    return {opcode::result, std::get<std::string>(r)};
}

query_params read_query_params(reader& in, uint8_t version, std::string* keyspace) {
    query_params p;
    p.consistency = in.int16();
    uint32_t flags = version >= 5 ? static_cast<uint32_t>(in.int32()) : in.byte();
    if (flags & query_flag::values) {
        uint16_t n = in.uint16();
        for (uint16_t idx = 0; idx < n; ++idx) {
            if (flags & query_flag::names_for_values) p.names.push_back(in.string());
            int32_t len = in.int32();
            if (len == -2) {
                p.values.emplace_back();
                p.unset.push_back(true);
                continue;
            }
            if (len < -2) throw protocol_error(fmt::format("invalid value length {} for bound value {}", len, idx));
            p.unset.push_back(false);
            if (len == -1) p.values.emplace_back();
            else p.values.emplace_back(std::string(in.take(static_cast<size_t>(len))));
        }
    }
    p.skip_metadata = (flags & query_flag::skip_metadata) != 0;
    if (flags & query_flag::page_size) p.page_size = in.int32();
    if (flags & query_flag::paging_state) p.paging_state = in.bytes();
    if (flags & query_flag::serial_consistency) in.int16();
    if (flags & query_flag::default_timestamp) p.default_timestamp = in.int64();
    if (version >= 5) {
        if (flags & query_flag::with_keyspace) {
            std::string ks = in.string();
            if (keyspace != nullptr) *keyspace = std::move(ks);
        }
        if (flags & query_flag::now_in_seconds) in.int32();  // no clock override: TTLs count from the server's clock
    }
    return p;
}

session request_session(const session& conn, const std::string& keyspace) {
    session s = conn;
    if (!keyspace.empty()) s.keyspace = keyspace;
    return s;
}

}  // namespace millrace::cql
