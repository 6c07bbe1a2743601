// EXECUTE: run a prepared statement; an unknown id is Unprepared so the
// driver prepares again (after a restart, for example).
#include "handlers/handler.h"

namespace millrace::cql {

asio::awaitable<handler_reply> handle_execute(request_context& rc, reader& in) {
    std::string id = in.short_bytes();
    if (rc.conn.version >= 5) in.short_bytes();  // result metadata id: ours never changes for an id (see prepare.cc)
    query_params params = read_query_params(in, rc.conn.version);
    const prepared_statement* p = rc.exec.find_prepared(id);
    if (p == nullptr) {
        std::string hex;
        for (char c : id) hex += fmt::format("{:02x}", static_cast<uint8_t>(c));
        co_return error_reply({error_code::unprepared, "Prepared query with ID " + hex +
                                                           " not found (either the query was not prepared on this host or was "
                                                           "evicted from the prepared statement cache)", {}, {}, id});
    }
    if (params.values.size() != p->bind_specs.size()) {
        co_return error_reply({error_code::invalid, fmt::format("there were {} markers(?) in CQL but {} bound variables",
                                                                p->bind_specs.size(), params.values.size()), {}, {}, {}});
    }
    // The statement runs in the keyspace it was prepared in.
    session s{p->keyspace, rc.conn.sess.user};
    auto parsed = p->parsed;  // held: the cache may evict it while this runs
    co_return to_reply(co_await rc.exec.execute(*parsed, params, s));
}

}  // namespace millrace::cql
