// QUERY: parse, then execute with the bound values of the frame.
#include "handlers/handler.h"

namespace millrace::cql {

asio::awaitable<handler_reply> handle_query(request_context& rc, reader& in) {
    std::string text = in.long_string();
    std::string keyspace;
    query_params params = read_query_params(in, rc.conn.version, &keyspace);
    auto parsed = parse_statement(text);
    if (!parsed) co_return error_reply({error_code::syntax_error, parsed.err().message(), {}, {}, {}});
    if (params.values.size() != parsed->markers.size() && !params.values.empty()) {
        co_return error_reply({error_code::invalid,
                               fmt::format("there were {} markers(?) in CQL but {} bound variables", parsed->markers.size(),
                                           params.values.size()), {}, {}, {}});
    }
    if (!keyspace.empty()) {
        // v5 keyspace flag: this request only; a USE in it does not change the connection.
        session s = request_session(rc.conn.sess, keyspace);
        co_return to_reply(co_await rc.exec.execute(*parsed, params, s));
    }
    co_return to_reply(co_await rc.exec.execute(*parsed, params, rc.conn.sess));
}

}  // namespace millrace::cql
