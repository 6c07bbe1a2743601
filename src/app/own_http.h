// GETs from millrace's own HTTP endpoints for the CLI (`status`, `jobs list`):
// https, the CA and the admin user when security.enabled (docs/security.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "millrace/common/config.h"

namespace millrace::app {

// The body of a 200 answer to GET `path` on host:port, or nullopt with `why`
// set ("127.0.0.1:9464 answered 401 ..." or the connection error).
std::optional<std::string> own_http_get(const config::config& cfg, const std::string& host, uint16_t port,
                                        const std::string& path, std::string& why);

}  // namespace millrace::app
