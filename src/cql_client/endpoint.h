// One contact point: host and port.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "millrace/common/result.h"

namespace millrace::cql_client {

struct host_port {
    std::string host;
    uint16_t port = 9042;
    std::string to_string() const;
};

// "host", "host:port", "[v6]:port" or a bare IPv6 address.
result<host_port> parse_host_port(std::string_view text, uint16_t default_port);

}  // namespace millrace::cql_client
