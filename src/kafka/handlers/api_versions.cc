// ApiVersions (key 18), v0-3. The reply to an unsupported version is the v0
// body with UNSUPPORTED_VERSION, so that the client can retry with a version
// from our list.
#include "handlers/handler.h"

namespace millrace::kafka {

void write_api_versions_fallback(writer& out, error_code code) {
    out.int16(wire(code));
    auto apis = supported_apis();
    out.array_length(static_cast<int32_t>(apis.size()), false);
    for (const auto& spec : apis) {
        out.int16(static_cast<int16_t>(spec.key));
        out.int16(spec.min_version);
        out.int16(spec.max_version);
    }
}

asio::awaitable<void> handle_api_versions(request_context& ctx, reader& in, writer& out) {
    const bool flex = ctx.flexible;
    if (ctx.api_version >= 3) {
        in.string(true);  // client_software_name
        in.string(true);  // client_software_version
        in.skip_tags(true);
    }
    out.int16(wire(error_code::none));
    auto apis = supported_apis();
    out.array_length(static_cast<int32_t>(apis.size()), flex);
    for (const auto& spec : apis) {
        out.int16(static_cast<int16_t>(spec.key));
        out.int16(spec.min_version);
        out.int16(spec.max_version);
        out.empty_tags(flex);
    }
    if (ctx.api_version >= 1) out.int32(0);  // throttle_time_ms
    out.empty_tags(flex);
    co_return;
}

}  // namespace millrace::kafka
