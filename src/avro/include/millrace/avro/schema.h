// Avro schemas (specification 1.11): parsing with validation, Parsing
// Canonical Form and its CRC-64-AVRO fingerprint, and a normalized form that
// keeps every attribute that matters (defaults, logical types, aliases, doc)
// in a fixed order, so that the same schema written with other whitespace or
// attribute order has the same text.
//
// A `schema` is immutable and cheap to copy (shared state); thread-safe to
// read. Nodes are owned by the schema and live as long as any copy of it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "millrace/avro/json.h"
#include "millrace/common/result.h"

namespace millrace::avro {

enum class type : uint8_t {
    null, boolean, int_, long_, float_, double_, bytes, string,  // primitives
    record, enum_, array, map, union_, fixed,
};
std::string_view type_name(type t);
bool is_named(type t);

struct node;

struct field {
    std::string name;
    const node* type = nullptr;
    std::optional<json::value> default_value;  // validated against `type`
    std::vector<std::string> aliases;
    std::string doc;
    std::string order = "ascending";  // ascending | descending | ignore
    size_t position = 0;
};

// One type in a schema. Named types (record, enum, fixed) are shared by every
// reference to their name, so recursive records are cycles of pointers.
struct node {
    avro::type type = type::null;
    std::string name;                 // full name of a named type
    std::string doc;
    std::vector<std::string> aliases; // full names
    std::vector<field> fields;        // record
    std::vector<std::string> symbols; // enum
    std::optional<std::string> enum_default;
    const node* items = nullptr;      // array items or map values
    std::vector<const node*> branches;  // union
    int64_t size = 0;                 // fixed
    std::string logical_type;         // valid logical type, else empty
    int precision = 0;                // decimal
    int scale = 0;                    // decimal
    std::vector<std::pair<std::string, json::value>> props;  // other attributes, sorted by key
    bool external = false;            // defined by a referenced schema

    const field* find_field(std::string_view field_name) const;
    // The name without its namespace.
    std::string_view short_name() const;
};

class schema {
public:
    // Parses and validates `text` (a JSON schema document, or a bare primitive
    // name). `references` are schema texts whose named types `text` may use
    // (Confluent schema references), parsed first in order. Errors are
    // invalid_argument naming the type or field and what is wrong.
    static result<schema> parse(std::string_view text, const std::vector<std::string>& references = {});

    const node& root() const;
    // Parsing Canonical Form (the spec's transformation: full names, only
    // name/type/fields/symbols/items/values/size, no whitespace).
    const std::string& canonical_form() const;
    // CRC-64-AVRO (Rabin) fingerprint of the canonical form.
    uint64_t fingerprint() const;
    // The schema with every meaningful attribute, in a fixed order, compact.
    const std::string& normalized() const;
    // A named type of this schema (or its references) by full name.
    const node* find_named(std::string_view full_name) const;

    struct state;  // internal

private:
    std::shared_ptr<const state> state_;
};

// CRC-64-AVRO over arbitrary bytes (the spec's fingerprint algorithm).
uint64_t fingerprint64(std::string_view bytes);

// Whether `datum` (JSON, unions written bare or as {"branch": value}) is a
// valid value of `t`; on failure `why` says what and where.
bool json_matches(const node& t, const json::value& datum, std::string* why = nullptr);

}  // namespace millrace::avro
