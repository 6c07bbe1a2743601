// REGISTER → READY. Events are accepted but never pushed: one node has no
// topology or status changes, and drivers refresh schema after their own DDL.
#include "handlers/handler.h"

namespace millrace::cql {

asio::awaitable<handler_reply> handle_register(request_context&, reader& in) {
    for (const auto& event : in.string_list()) {
        if (event != "TOPOLOGY_CHANGE" && event != "STATUS_CHANGE" && event != "SCHEMA_CHANGE") {
            co_return error_reply({error_code::protocol_error, fmt::format("invalid event type {}", event), {}, {}, {}});
        }
    }
    co_return handler_reply{opcode::ready, {}};
}

}  // namespace millrace::cql
