// OPTIONS → SUPPORTED: CQL version, compression algorithms, protocol versions.
#include "handlers/handler.h"

namespace millrace::cql {

asio::awaitable<handler_reply> handle_options(request_context&, reader&) {
    handler_reply r{opcode::supported, {}};
    writer(r.body).string_multimap({{"CQL_VERSION", {"3.4.5"}}, {"COMPRESSION", {"lz4", "snappy"}}, {"PROTOCOL_VERSIONS", {"4/v4", "5/v5"}}});
    co_return r;
}

}  // namespace millrace::cql
