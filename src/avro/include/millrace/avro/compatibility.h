// Avro schema resolution (specification 1.11, "Schema Resolution") as a
// compatibility check: can data written with `writer` be read with `reader`?
#pragma once

#include <string>
#include <vector>

#include "millrace/avro/schema.h"

namespace millrace::avro {

struct incompatibility {
    std::string kind;     // READER_FIELD_MISSING_DEFAULT_VALUE, TYPE_MISMATCH, NAME_MISMATCH,
                          // MISSING_ENUM_SYMBOLS, FIXED_SIZE_MISMATCH, MISSING_UNION_BRANCH
    std::string path;     // JSON pointer into the reader schema: /fields/2/type
    std::string message;  // one readable sentence
    std::string to_string() const;  // "TYPE_MISMATCH at /fields/0/type: ..."
};

// Every reason `reader` cannot read data written by `writer`; empty when it
// can. The rules: matching types, promotions int→long→float→double and
// string↔bytes, records matched by (alias-aware) name with reader fields
// missing from the writer needing a default, enum symbols the reader lacks
// needing a reader default, fixed sizes, union branches. Recursive types are
// followed once per (writer, reader) pair. Pure; thread-safe.
std::vector<incompatibility> check_can_read(const node& writer, const node& reader);

// Whether a writer value of `writer` type resolves to `reader` without
// looking inside records (names, primitive promotions): the union-branch test.
bool branch_matches(const node& writer, const node& reader);
// The reader union branch a writer value of type `writer` resolves to: the
// first exact match, else the first promotion; -1 when none.
int select_branch(const node& writer, const node& reader_union);

}  // namespace millrace::avro
