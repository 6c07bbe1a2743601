// REGISTER → READY. SCHEMA_CHANGE registrations get an EVENT frame (stream -1)
// for every CREATE/ALTER/DROP on the server; TOPOLOGY_CHANGE and STATUS_CHANGE
// are accepted and never fire (one node).
#include "handlers/handler.h"

namespace millrace::cql {

asio::awaitable<handler_reply> handle_register(request_context& rc, reader& in) {
    bool schema = false;
    for (const auto& event : in.string_list()) {
        if (event != "TOPOLOGY_CHANGE" && event != "STATUS_CHANGE" && event != "SCHEMA_CHANGE") {
            co_return error_reply({error_code::protocol_error, fmt::format("invalid event type {}", event), {}, {}, {}});
        }
        schema = schema || event == "SCHEMA_CHANGE";
    }
    if (schema) rc.conn.schema_events = true;
    co_return handler_reply{opcode::ready, {}};
}

}  // namespace millrace::cql
