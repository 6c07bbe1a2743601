// The CREATE statements of DESCRIBE (server-side, as Cassandra 4.0 answers
// it and cqlsh 6 prints it), built from the catalog. The text parses back
// with our parser and with Cassandra's.
#pragma once

#include <string>
#include <string_view>

#include "schema.h"

namespace millrace::cql {

// `name` as written in CQL: as is when lower-case identifier characters,
// else double-quoted with embedded quotes doubled.
std::string quote_identifier(std::string_view name);
// `s` as a CQL string literal ('...' with embedded quotes doubled).
std::string quote_string(std::string_view s);

// CREATE KEYSPACE ks WITH replication = {...}  AND durable_writes = true;
std::string create_keyspace_statement(const keyspace_def& k);
// CREATE TABLE ks.t (columns, PRIMARY KEY) WITH [CLUSTERING ORDER BY (...) AND] options;
std::string create_table_statement(const table_def& t);
// CREATE TYPE ks.name (\n    field type,\n    ...\n);
std::string create_type_statement(const udt_def& u);
// `CREATE INDEX name ON ks.table (target);`
std::string create_index_statement(const table_def& t, const index_def& i);

}  // namespace millrace::cql
