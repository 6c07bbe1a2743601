// CQL native protocol type option ids and consistency levels, shared by the
// server (src/cql) and the client (src/cql_client).
#pragma once

#include <cstdint>

namespace millrace::cql_protocol {

// [option] ids of column types (native protocol v4/v5, section 4.2.5.2).
enum class type_id : uint16_t {
    custom = 0x0000,
    ascii = 0x0001,
    bigint = 0x0002,
    blob = 0x0003,
    boolean = 0x0004,
    counter = 0x0005,
    decimal = 0x0006,
    double_ = 0x0007,
    float_ = 0x0008,
    int_ = 0x0009,
    timestamp = 0x000B,
    uuid = 0x000C,
    varchar = 0x000D,  // text
    varint = 0x000E,
    timeuuid = 0x000F,
    inet = 0x0010,
    date = 0x0011,
    time = 0x0012,
    smallint = 0x0013,
    tinyint = 0x0014,
    duration = 0x0015,  // v5; the server has no duration columns
    list = 0x0020,
    map = 0x0021,
    set = 0x0022,
    udt = 0x0030,
    tuple = 0x0031,
};

// Consistency levels with their wire values.
enum class consistency : uint16_t {
    any = 0x0000,
    one = 0x0001,
    two = 0x0002,
    three = 0x0003,
    quorum = 0x0004,
    all = 0x0005,
    local_quorum = 0x0006,
    each_quorum = 0x0007,
    serial = 0x0008,
    local_serial = 0x0009,
    local_one = 0x000A,
};

}  // namespace millrace::cql_protocol
