// JSON Schema support for the registry: structural validation of a schema
// document, and the common compatibility rules.
//
// Compatibility asks: does every document valid under `writer` stay valid
// under `reader`? Rules covered (Confluent's names): TYPE_CHANGED /
// TYPE_NARROWED (reader's types must include the writer's; "number" includes
// "integer"), REQUIRED_PROPERTY_ADDED, PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
// (a new property constrained where the writer allowed anything),
// PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL, ADDITIONAL_PROPERTIES_REMOVED /
// NARROWED, ENUM_ARRAY_NARROWED, MAX_LENGTH / MAXIMUM decreased, MIN_LENGTH /
// MINIMUM increased, items and properties checked recursively. Not covered:
// $ref resolution, combinators (oneOf/anyOf/allOf/not), patterns, formats,
// dependencies, conditionals.
#pragma once

#include <string>
#include <vector>

#include "millrace/avro/json.h"
#include "millrace/common/result.h"

namespace millrace::registry::json_schema {

// Parses and checks the structure of a JSON Schema document; returns it.
result<avro::json::value> parse(std::string_view text);
// Reasons documents valid under `writer` may be invalid under `reader`.
std::vector<std::string> check_can_read(const avro::json::value& writer, const avro::json::value& reader);

}  // namespace millrace::registry::json_schema
