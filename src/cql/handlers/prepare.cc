// PREPARE → RESULT Prepared (id, bind metadata with partition-key indexes, result metadata).
#include "handlers/handler.h"

namespace millrace::cql {

asio::awaitable<handler_reply> handle_prepare(request_context& rc, reader& in) {
    std::string text = in.long_string();
    co_return to_reply(rc.exec.prepare(text, rc.conn.sess));
}

}  // namespace millrace::cql
