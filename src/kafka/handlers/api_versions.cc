// ApiVersions (key 18). The reply to an unsupported version is the v0 body
// with UNSUPPORTED_VERSION, so that the client can retry with a version from
// our list.
#include "handlers/handler.h"

namespace millrace::kafka {
namespace {

messages::api_versions_response supported(error_code code) {
    messages::api_versions_response response;
    response.error_code = code;
    for (const auto& spec : supported_apis()) {
        response.api_keys.push_back({static_cast<int16_t>(spec.key), spec.min_version, spec.max_version});
    }
    return response;
}

}  // namespace

void write_api_versions_fallback(writer& out, error_code code) { supported(code).encode(out, 0); }

asio::awaitable<void> handle_api_versions(request_context& ctx, reader& in, writer& out) {
    (void)decode_request<messages::api_versions_request>(ctx, in);
    encode_response(ctx, out, supported(error_code::none));
    co_return;
}

}  // namespace millrace::kafka
