// Web UIs built into the binary: their files, and how an http::server serves
// them. The files come from cmake/web.cmake (millrace_web_ui), which builds
// web/<ui>/ at build time, so nothing is fetched from outside at run time.
#pragma once

#include <span>
#include <string_view>

#include "millrace/common/http.h"

namespace millrace::web {

struct asset {
    std::string_view path;          // "/index.html", "/assets/index-1a2b3c.js"
    std::string_view content_type;  // "text/javascript; charset=utf-8"
    std::string_view body;
};

// Routes GET "/" and everything below it that no longer route claims (so
// register "/api/" and the like separately): a file of `assets` by its path;
// "/" and page paths without a file extension get index.html (the single-page
// app routes them); unknown files are 404. Hashed files under /assets/ are
// cacheable forever, index.html never. `assets` must outlive `server`.
void serve_assets(http::server& server, std::span<const asset> assets);

}  // namespace millrace::web
