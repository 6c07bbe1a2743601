// CQL data types: names, wire type options, value validation, literal
// conversion, and the order-preserving encoding used for clustering keys.
//
// Values are kept in their protocol serialization ([bytes] content) from the
// moment they are bound or parsed until they are sent back, so the server
// never converts a value it does not have to look at.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"
#include "millrace/cql_protocol/types.h"

namespace millrace::cql {

// Wire type option ids (native protocol v4, section 4.2.5.2), shared with the
// client; `duration` is never a server column type.
using type_kind = cql_protocol::type_id;

struct cql_type {
    type_kind kind = type_kind::varchar;
    std::vector<cql_type> params;  // element types of list/set/map/tuple, field types of a udt
    bool frozen = false;           // tuples are always frozen (Cassandra 3+)
    // User-defined types: the keyspace, the type's name and its field names (params are their types).
    std::string keyspace, udt_name;
    std::vector<std::string> field_names;

    std::string name() const;  // CQL spelling: "text", "map<text, int>", "frozen<list<int>>", "frozen<tuple<int, text>>"
    bool is_collection() const { return kind == type_kind::list || kind == type_kind::set || kind == type_kind::map; }
    // Whether a udt of this name appears in this type (DROP TYPE refuses while a column uses it).
    bool references(const std::string& ks, const std::string& udt) const;
    bool operator==(const cql_type& other) const = default;
};

// Resolves a user-defined type's name (as written, lower case unless quoted) to its definition;
// nullopt when unknown.
using udt_resolver = std::function<std::optional<cql_type>(const std::string& name)>;

// Parses a CQL type name ("varchar", "frozen<set<uuid>>", "tuple<int, text>", a udt's name when
// `resolve` is given); errors name the input.
result<cql_type> parse_type(std::string_view text, const udt_resolver& resolve = {});

// Elements of a serialized tuple or udt value ([bytes] each, nullopt = null); fewer than the type has
// is allowed (the missing ones are null). False when malformed.
bool split_components(std::string_view bytes, std::vector<std::optional<std::string>>& out);
std::string join_components(const std::vector<std::optional<std::string>>& components);
// A bound tuple or udt value with fewer components than its type, padded with nulls (values are
// kept with every component, so equal values have equal bytes).
std::string pad_components(const cql_type& t, std::string_view bytes);

// Appends the wire [option] of `t`.
void write_type_option(std::string& out, const cql_type& t);

// Checks that `bytes` is a valid serialization of `t` (fixed sizes, UTF-8 for
// text is not checked). The error message names the type and the size.
status validate_value(const cql_type& t, std::string_view bytes);

// Order-preserving encoding: memcmp order of the encodings is CQL's order of
// the values. Prefix-free, so components can be concatenated; `descending`
// inverts the bytes.
void append_ordered(std::string& out, const cql_type& t, std::string_view value, bool descending);
// Decodes one component written by append_ordered from `in` (advanced past it).
// Returns nullopt on malformed input.
std::optional<std::string> read_ordered(std::string_view& in, const cql_type& t, bool descending);
// Three-way comparison of two serialized values of type `t` in CQL order.
int compare_values(const cql_type& t, std::string_view a, std::string_view b);

// Literal forms from the parser, converted to the serialization of `t`.
// udt: `{field: value, ...}` (elements alternate field name and value, the names as `ident` literals).
enum class literal_kind { string, integer, floating, boolean, uuid, hex, null, list, set, map, tuple, udt, ident };
struct literal {
    literal_kind kind = literal_kind::null;
    std::string text;               // token text (strings unquoted)
    std::vector<literal> elements;  // collections; maps alternate key, value
};
// nullopt value means CQL null. Errors are messages for an Invalid answer.
// `receiver` names the column in Cassandra's messages ("Invalid tuple literal for t: ...").
result<std::optional<std::string>> literal_to_value(const cql_type& t, const literal& lit, std::string_view receiver = {});

// Sorts and deduplicates a set's elements and a map's keys (the last entry of
// a key wins), as Cassandra returns them; lists and malformed bytes are returned as they are.
std::string normalize_collection(const cql_type& t, std::string_view bytes);

// Read-modify-write updates of a non-frozen collection (`c = c + x`,
// `c = x + c`, `c = c - x`, `m[k] = v` as append of a one-entry map).
// `current` is the live value (nullopt: none); for a map `remove` the operand
// is a set of keys. nullopt result means the collection is now empty (null).
enum class collection_op { append, prepend, remove };
std::optional<std::string> apply_collection_op(const cql_type& t, collection_op op, const std::optional<std::string>& current,
                                               std::string_view operand);

// Helpers for building system-table values.
std::string text_value(std::string_view s);
std::string int_value(int32_t v);
std::string bigint_value(int64_t v);
std::string bool_value(bool v);
std::string double_value(double v);
std::string uuid_value_from_string(std::string_view s);  // "xxxxxxxx-xxxx-..." → 16 bytes (must be valid)
std::string list_value(const std::vector<std::string>& elements);  // also sets
std::string map_value(const std::vector<std::pair<std::string, std::string>>& entries);
std::string inet_value(std::string_view address);

}  // namespace millrace::cql
