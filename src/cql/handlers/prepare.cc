// PREPARE → RESULT Prepared (id, bind metadata with partition-key indexes, result metadata).
#include "handlers/handler.h"

namespace millrace::cql {

asio::awaitable<handler_reply> handle_prepare(request_context& rc, reader& in) {
    std::string text = in.long_string();
    std::string keyspace;
    if (rc.conn.version >= 5) {
        auto flags = static_cast<uint32_t>(in.int32());
        if (flags & prepare_flag::with_keyspace) keyspace = in.string();
    }
    auto reply = to_reply(rc.exec.prepare(text, request_session(rc.conn.sess, keyspace)));
    if (rc.conn.version >= 5 && reply.op == opcode::result) {
        // v5 adds <result_metadata_id> after <id>. The id is a digest of the
        // statement and its keyspace, so it also names the result metadata.
        reader r(reply.body);
        int32_t kind = r.int32();
        std::string id = r.short_bytes();
        std::string rest(r.take(r.remaining()));
        std::string body;
        writer w(body);
        w.int32(kind);
        w.short_bytes(id);
        w.short_bytes(id);
        w.raw(rest);
        reply.body = std::move(body);
    }
    co_return reply;
}

}  // namespace millrace::cql
