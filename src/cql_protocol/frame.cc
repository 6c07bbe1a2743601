#include "millrace/cql_protocol/frame.h"

namespace millrace::cql_protocol {

std::string_view opcode_name(uint8_t op) {
    switch (static_cast<opcode>(op)) {
        case opcode::error: return "ERROR";
        case opcode::startup: return "STARTUP";
        case opcode::ready: return "READY";
        case opcode::authenticate: return "AUTHENTICATE";
        case opcode::options: return "OPTIONS";
        case opcode::supported: return "SUPPORTED";
        case opcode::query: return "QUERY";
        case opcode::result: return "RESULT";
        case opcode::prepare: return "PREPARE";
        case opcode::execute: return "EXECUTE";
        case opcode::register_: return "REGISTER";
        case opcode::event: return "EVENT";
        case opcode::batch: return "BATCH";
        case opcode::auth_challenge: return "AUTH_CHALLENGE";
        case opcode::auth_response: return "AUTH_RESPONSE";
        case opcode::auth_success: return "AUTH_SUCCESS";
    }
    return "unknown opcode";
}

std::string_view error_name(int32_t code) {
    switch (static_cast<error_code>(code)) {
        case error_code::server_error: return "server error";
        case error_code::protocol_error: return "protocol error";
        case error_code::bad_credentials: return "bad credentials";
        case error_code::unavailable: return "unavailable";
        case error_code::overloaded: return "overloaded";
        case error_code::is_bootstrapping: return "is bootstrapping";
        case error_code::truncate_error: return "truncate error";
        case error_code::write_timeout: return "write timeout";
        case error_code::read_timeout: return "read timeout";
        case error_code::read_failure: return "read failure";
        case error_code::function_failure: return "function failure";
        case error_code::write_failure: return "write failure";
        case error_code::syntax_error: return "syntax error";
        case error_code::unauthorized: return "unauthorized";
        case error_code::invalid: return "invalid";
        case error_code::config_error: return "config error";
        case error_code::already_exists: return "already exists";
        case error_code::unprepared: return "unprepared";
    }
    return "unknown error";
}

}  // namespace millrace::cql_protocol
