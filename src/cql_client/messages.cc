#include "messages.h"

#include <fmt/format.h>

namespace millrace::cql_client::messages {

namespace {

column_spec read_column(wire::wire_reader& r, bool global, const std::string& ks, const std::string& table) {
    column_spec c;
    if (global) {
        c.keyspace = ks;
        c.table = table;
    } else {
        c.keyspace = r.string();
        c.table = r.string();
    }
    c.name = r.string();
    c.type = read_type(r);
    return c;
}

// <flags><columns_count>[<paging_state>][<global_table_spec>?<col_spec_1>...<col_spec_n>]
std::vector<column_spec> read_rows_metadata(wire::wire_reader& r, std::optional<std::string>& paging_state) {
    int32_t flags = r.int32();
    int32_t count = r.int32();
    if (count < 0 || count > 65535) throw wire::decode_error(fmt::format("rows metadata claims {} columns", count));
    if (flags & wire::rows_flag::has_more_pages) {
        auto state = r.bytes();
        if (state) paging_state = std::string(*state);
    }
    std::vector<column_spec> columns;
    if (flags & wire::rows_flag::no_metadata) return columns;
    std::string ks, table;
    bool global = flags & wire::rows_flag::global_tables_spec;
    if (global) {
        ks = r.string();
        table = r.string();
    }
    for (int32_t idx = 0; idx < count; ++idx) columns.push_back(read_column(r, global, ks, table));
    return columns;
}

}  // namespace

std::vector<std::string> skip_response_prefix(wire::wire_reader& r, uint8_t flags, std::string* trace_id) {
    std::vector<std::string> warnings;
    if (flags & wire::frame_flag::tracing) {
        auto id = r.take(16);
        if (trace_id != nullptr) *trace_id = std::string(id);
    }
    if (flags & wire::frame_flag::warning) warnings = r.string_list();
    if (flags & wire::frame_flag::custom_payload) {
        uint16_t n = r.uint16();
        for (uint16_t idx = 0; idx < n; ++idx) {
            r.string();
            r.bytes();
        }
    }
    return warnings;
}

data_type read_type(wire::wire_reader& r, int depth) {
    if (depth > 32) throw wire::decode_error("type nesting deeper than 32");
    data_type t;
    t.id = static_cast<type_id>(r.uint16());
    switch (t.id) {
        case type_id::custom: t.custom_class = r.string(); break;
        case type_id::list:
        case type_id::set: t.params.push_back(read_type(r, depth + 1)); break;
        case type_id::map:
            t.params.push_back(read_type(r, depth + 1));
            t.params.push_back(read_type(r, depth + 1));
            break;
        case type_id::udt: {
            t.udt_keyspace = r.string();
            t.udt_name = r.string();
            uint16_t n = r.uint16();
            for (uint16_t idx = 0; idx < n; ++idx) {
                t.field_names.push_back(r.string());
                t.params.push_back(read_type(r, depth + 1));
            }
            break;
        }
        case type_id::tuple: {
            uint16_t n = r.uint16();
            for (uint16_t idx = 0; idx < n; ++idx) t.params.push_back(read_type(r, depth + 1));
            break;
        }
        case type_id::ascii: case type_id::bigint: case type_id::blob: case type_id::boolean:
        case type_id::counter: case type_id::decimal: case type_id::double_: case type_id::float_:
        case type_id::int_: case type_id::timestamp: case type_id::uuid: case type_id::varchar:
        case type_id::varint: case type_id::timeuuid: case type_id::inet: case type_id::date:
        case type_id::time: case type_id::smallint: case type_id::tinyint: case type_id::duration:
            break;
        default:
            throw wire::decode_error(fmt::format("unknown type id 0x{:04x}", static_cast<unsigned>(t.id)));
    }
    return t;
}

result<server_error> decode_error(std::string_view body) {
    try {
        wire::wire_reader r(body);
        server_error e;
        e.code = r.int32();
        e.message = r.string();
        if (e.code == wire::k_error_unprepared) e.unprepared_id = r.short_bytes();
        return e;
    } catch (const wire::decode_error& ex) {
        return make_error(errc::corruption, "ERROR body of {} bytes: {}", body.size(), ex.what());
    }
}

result<result_body> decode_result(std::string_view body, std::string_view query) {
    result_body out;
    try {
        wire::wire_reader r(body);
        int32_t kind = r.int32();
        out.kind = static_cast<wire::result_kind>(kind);
        switch (out.kind) {
            case wire::result_kind::void_: break;
            case wire::result_kind::rows: {
                out.page.columns = read_rows_metadata(r, out.page.paging_state);
                int32_t count = r.int32();
                if (count < 0 || (!out.page.columns.empty() &&
                                  static_cast<size_t>(count) > r.remaining() / (4 * out.page.columns.size()))) {
                    throw wire::decode_error(fmt::format("rows claims {} rows of {} columns in {} bytes", count,
                                                         out.page.columns.size(), r.remaining()));
                }
                if (out.page.columns.empty() && count > 0) {
                    throw wire::decode_error("rows without metadata (the client never asks to skip it)");
                }
                out.page.data.reserve(static_cast<size_t>(count));
                for (int32_t row_idx = 0; row_idx < count; ++row_idx) {
                    row cells;
                    cells.reserve(out.page.columns.size());
                    for (const auto& column : out.page.columns) {
                        auto cell = value::decode(column.type, r.bytes());
                        if (!cell.ok()) {
                            return cell.err().with_context(fmt::format("RESULT row {} column {}", row_idx, column.name));
                        }
                        cells.push_back(std::move(cell).value());
                    }
                    out.page.data.push_back(std::move(cells));
                }
                break;
            }
            case wire::result_kind::set_keyspace: out.page.keyspace = r.string(); break;
            case wire::result_kind::prepared: {
                std::string id = r.short_bytes();
                // <flags><columns_count><pk_count>[<pk_index>...][<global_table_spec>?<col_spec>...]
                int32_t flags = r.int32();
                int32_t count = r.int32();
                int32_t pk_count = r.int32();
                if (count < 0 || count > 65535 || pk_count < 0 || pk_count > count) {
                    throw wire::decode_error(fmt::format("prepared metadata claims {} columns, {} key indexes", count,
                                                         pk_count));
                }
                std::vector<uint16_t> pk;
                for (int32_t idx = 0; idx < pk_count; ++idx) pk.push_back(r.uint16());
                std::string ks, table;
                bool global = flags & wire::rows_flag::global_tables_spec;
                if (global) {
                    ks = r.string();
                    table = r.string();
                }
                std::vector<column_spec> bind;
                for (int32_t idx = 0; idx < count; ++idx) bind.push_back(read_column(r, global, ks, table));
                std::optional<std::string> ignored;
                std::vector<column_spec> result_columns = read_rows_metadata(r, ignored);
                out.prepared = std::make_shared<prepared_statement>(std::string(query), std::move(id), std::move(bind),
                                                                    std::move(result_columns), std::move(pk));
                break;
            }
            case wire::result_kind::schema_change: {
                std::string change = r.string();
                std::string target = r.string();
                std::string ks = r.string();
                std::string name;
                if (target != "KEYSPACE") name = r.string();
                out.page.schema_change = fmt::format("{} {} {}{}{}", change, target, ks, name.empty() ? "" : ".", name);
                break;
            }
            default:
                return make_error(errc::corruption, "RESULT of unknown kind 0x{:04x}", kind);
        }
    } catch (const wire::decode_error& ex) {
        return make_error(errc::corruption, "RESULT body of {} bytes: {}", body.size(), ex.what());
    }
    return out;
}

error to_error(const server_error& e, std::string_view address) {
    errc code = errc::invalid_argument;
    switch (e.code) {
        case wire::k_error_unavailable:
        case wire::k_error_overloaded:
        case wire::k_error_is_bootstrapping: code = errc::unavailable; break;
        case wire::k_error_write_timeout:
        case wire::k_error_read_timeout: code = errc::timed_out; break;
        case wire::k_error_already_exists: code = errc::already_exists; break;
        case wire::k_error_server: code = errc::io_error; break;
        case wire::k_error_unprepared: code = errc::not_found; break;
        case wire::k_error_bad_credentials:
        case wire::k_error_unauthorized: code = errc::invalid_argument; break;
        default: break;
    }
    return make_error(code, "cql {}: [0x{:04x} {}] {}", address, e.code, wire::error_name(e.code), e.message);
}

result<std::string> encode_values(const std::vector<value>& params, const std::vector<column_spec>* bind) {
    if (bind && params.size() != bind->size()) {
        return make_error(errc::invalid_argument, "statement has {} bind markers, {} values given", bind->size(),
                          params.size());
    }
    std::string out;
    wire::wire_writer w(out);
    for (size_t idx = 0; idx < params.size(); ++idx) {
        if (params[idx].is_null()) {
            w.bytes(std::nullopt);
            continue;
        }
        auto bytes = params[idx].encode(bind ? &(*bind)[idx].type : nullptr);
        if (!bytes.ok()) {
            std::string what = bind ? fmt::format("bind marker {} ({})", idx, (*bind)[idx].name)
                                    : fmt::format("bind marker {}", idx);
            return bytes.err().with_context(what);
        }
        w.bytes(*bytes);
    }
    return out;
}

std::string encode_query_parameters(const query_options& opts, consistency default_consistency,
                                    int32_t default_page_size, const std::string& values, size_t value_count,
                                    bool skip_metadata) {
    std::string out;
    wire::wire_writer w(out);
    w.int16(static_cast<int16_t>(opts.consistency_level.value_or(default_consistency)));
    int32_t page_size = opts.page_size.value_or(default_page_size);
    uint8_t flags = 0;
    if (value_count > 0) flags |= wire::query_flag::values;
    if (skip_metadata) flags |= wire::query_flag::skip_metadata;
    if (page_size > 0) flags |= wire::query_flag::page_size;
    if (opts.paging_state) flags |= wire::query_flag::paging_state;
    if (opts.serial_consistency) flags |= wire::query_flag::serial_consistency;
    if (opts.default_timestamp) flags |= wire::query_flag::default_timestamp;
    w.byte(flags);
    if (value_count > 0) {
        w.int16(static_cast<int16_t>(value_count));
        w.raw(values);
    }
    if (page_size > 0) w.int32(page_size);
    if (opts.paging_state) w.bytes(*opts.paging_state);
    if (opts.serial_consistency) w.int16(static_cast<int16_t>(*opts.serial_consistency));
    if (opts.default_timestamp) w.int64(*opts.default_timestamp);
    return out;
}

std::string encode_startup(bool lz4) {
    std::map<std::string, std::string> m{{"CQL_VERSION", "3.0.0"}, {"DRIVER_NAME", "millrace cql_client"}};
    if (lz4) m["COMPRESSION"] = "lz4";
    std::string out;
    wire::wire_writer(out).string_map(m);
    return out;
}

std::string encode_auth_response(const std::string& username, const std::string& password) {
    std::string token;
    token.push_back('\0');
    token += username;
    token.push_back('\0');
    token += password;
    std::string out;
    wire::wire_writer(out).bytes(token);
    return out;
}

}  // namespace millrace::cql_client::messages
