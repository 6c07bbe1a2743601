#include "millrace/common/web_assets.h"

namespace millrace::web {
namespace {

const asset* find(std::span<const asset> assets, std::string_view path) {
    for (const auto& a : assets) {
        if (a.path == path) return &a;
    }
    return nullptr;
}

http::response file_response(const asset& file, bool immutable) {
    http::response res;
    res.content_type = std::string(file.content_type);
    res.body = std::string(file.body);
    res.headers.emplace_back("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return res;
}

}  // namespace

void serve_assets(http::server& server, std::span<const asset> assets) {
    server.route("GET", "/", [assets](const http::request& req) {
        if (const asset* file = find(assets, req.path)) {
            return file_response(*file, req.path.rfind("/assets/", 0) == 0);
        }
        auto last_slash = req.path.rfind('/');
        bool has_extension = req.path.find('.', last_slash) != std::string::npos;
        const asset* index = find(assets, "/index.html");
        if (has_extension || index == nullptr) return http::response::text(404, "not found\n");
        return file_response(*index, false);
    });
}

}  // namespace millrace::web
