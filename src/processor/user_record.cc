#include "user_record.h"

#include <cstring>

#include <fmt/format.h>
#include <simdjson.h>

namespace millrace::processor {

std::string_view to_string(reject_code code) {
    switch (code) {
        case reject_code::empty_value: return "empty_value";
        case reject_code::malformed_json: return "malformed_json";
        case reject_code::not_an_object: return "not_an_object";
        case reject_code::missing_field: return "missing_field";
        case reject_code::wrong_type: return "wrong_type";
        case reject_code::invalid_value: return "invalid_value";
        case reject_code::sink_rejected: return "sink_rejected";
        case reject_code::unknown_schema: return "unknown_schema";
        case reject_code::malformed_avro: return "malformed_avro";
    }
    return "unknown";
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The fields we read, in a fixed order; bit i of `seen` is field i.
enum field_id : int {
    f_id,
    f_first_name,
    f_last_name,
    f_gender,
    f_address,
    f_post_code,
    f_email,
    f_username,
    f_registered_date,
    f_phone,
    f_picture,
    f_dob,
    f_nat,
    f_count,
    f_unknown = -1,
};
constexpr std::string_view k_field_names[f_count] = {
    "id",    "first_name", "last_name",       "gender", "address", "post_code", "email",
    "username", "registered_date", "phone", "picture", "dob", "nat",
};
constexpr uint32_t k_required = (1u << f_dob) - 1;  // id .. picture

field_id lookup(std::string_view key) {
    for (int idx = 0; idx < f_count; ++idx) {
        if (k_field_names[idx] == key) return static_cast<field_id>(idx);
    }
    return f_unknown;
}

std::string_view json_type_name(simdjson::dom::element_type t) {
    using simdjson::dom::element_type;
    switch (t) {
        case element_type::ARRAY: return "an array";
        case element_type::OBJECT: return "an object";
        case element_type::INT64:
        case element_type::UINT64:
        case element_type::DOUBLE: return "a number";
        case element_type::STRING: return "a string";
        case element_type::BOOL: return "a boolean";
        case element_type::NULL_VALUE: return "null";
    }
    return "unknown";
}

}  // namespace

bool parse_uuid(std::string_view text, uuid_bytes& out) {
    if (text.size() != 36) return false;
    size_t byte = 0;
    for (size_t pos = 0; pos < 36;) {
        if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
            if (text[pos] != '-') return false;
            ++pos;
            continue;
        }
        int hi = hex_value(text[pos]);
        int lo = hex_value(text[pos + 1]);
        if (hi < 0 || lo < 0) return false;
        out[byte++] = static_cast<uint8_t>(hi << 4 | lo);
        pos += 2;
    }
    return byte == 16;
}

std::string format_uuid(const uuid_bytes& id) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (size_t idx = 0; idx < 16; ++idx) {
        if (idx == 4 || idx == 6 || idx == 8 || idx == 10) out.push_back('-');
        out.push_back(k_digits[id[idx] >> 4]);
        out.push_back(k_digits[id[idx] & 0xf]);
    }
    return out;
}

// The DOM API dispatches at run time to the best SIMD kernels of the CPU
// (the on-demand API would use the compile-time target: the fallback one).
struct record_parser::impl {
    simdjson::dom::parser parser;
    std::string buffer;  // the value plus simdjson's padding
};

record_parser::record_parser() : impl_(std::make_unique<impl>()) {}
record_parser::~record_parser() = default;

bool record_parser::parse(std::string_view value, user_row& row, rejection& why) {
    using simdjson::dom::element_type;
    auto reject = [&](reject_code code, std::string field, std::string message) {
        why = rejection{code, std::move(field), std::move(message)};
        return false;
    };
    if (value.empty()) return reject(reject_code::empty_value, "", "record value is empty (null or 0 bytes)");

    std::string& buf = impl_->buffer;
    if (buf.size() < value.size() + simdjson::SIMDJSON_PADDING) buf.resize(value.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(buf.data(), value.data(), value.size());

    simdjson::dom::element doc;
    if (auto e = impl_->parser.parse(buf.data(), value.size(), false).get(doc)) {
        return reject(reject_code::malformed_json, "", fmt::format("value is not valid JSON: {}", simdjson::error_message(e)));
    }
    if (doc.type() != element_type::OBJECT) {
        return reject(reject_code::not_an_object, "", fmt::format("value is {}, expected a JSON object", json_type_name(doc.type())));
    }
    simdjson::dom::object obj = doc.get_object().value_unsafe();

    row.has_dob = false;
    row.has_nat = false;
    uint32_t seen = 0;
    std::string* targets[f_count] = {nullptr,        &row.first_name, &row.last_name,      &row.gender, &row.address,
                                     &row.post_code, &row.email,      &row.username, &row.registered_date, &row.phone,
                                     &row.picture,   &row.dob,        &row.nat};
    for (auto [key, v] : obj) {
        field_id id = lookup(key);
        if (id == f_unknown) continue;  // raw, ingested_at, anything new
        const element_type type = v.type();
        const std::string_view name = k_field_names[id];
        if (type == element_type::NULL_VALUE) {
            seen &= ~(1u << id);  // a later duplicate null clears an earlier value
            if (id == f_dob) row.has_dob = false;
            if (id == f_nat) row.has_nat = false;
            continue;
        }
        if (id == f_post_code && (type == element_type::INT64 || type == element_type::UINT64)) {
            row.post_code = type == element_type::INT64 ? std::to_string(v.get_int64().value_unsafe())
                                                        : std::to_string(v.get_uint64().value_unsafe());
            seen |= 1u << id;
            continue;
        }
        if (id == f_post_code && type == element_type::DOUBLE) {
            row.post_code = fmt::format("{}", v.get_double().value_unsafe());
            seen |= 1u << id;
            continue;
        }
        if (type != element_type::STRING) {
            return reject(reject_code::wrong_type, std::string(name),
                          fmt::format("field {} is {}, expected a string{}", name, json_type_name(type),
                                      id == f_post_code ? " or a number" : ""));
        }
        std::string_view text = v.get_string().value_unsafe();
        if (id == f_id) {
            if (!parse_uuid(text, row.id)) {
                return reject(reject_code::invalid_value, std::string(name),
                              fmt::format("field id is \"{}\", expected a UUID (8-4-4-4-12 hex digits)", text.substr(0, 64)));
            }
        } else {
            targets[id]->assign(text);
        }
        if (id == f_dob) row.has_dob = true;
        if (id == f_nat) row.has_nat = true;
        seen |= 1u << id;
    }
    if ((seen & k_required) != k_required) {
        for (int idx = 0; idx < f_dob; ++idx) {
            if ((seen & (1u << idx)) == 0) {
                std::string name(k_field_names[idx]);
                return reject(reject_code::missing_field, name, fmt::format("required field {} is missing or null", name));
            }
        }
    }
    return true;
}

}  // namespace millrace::processor
