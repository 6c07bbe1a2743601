// An upsert sink into one CQL table, through millrace's C++ CQL client: works
// the same against `millrace cql` and Apache Cassandra / ScyllaDB.
//
// open() creates the keyspace and the table when missing, from the declared
// columns and primary key, and prepares one INSERT of every column. When the
// table exists, its real column types win: a STRING value bound to a uuid
// column is parsed as a UUID, integers are narrowed or widened, so a table
// created before (the classic job's `id uuid`) is used as it is.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "millrace/common/services.h"
#include "sink.h"

namespace millrace::processor {

struct cql_column {
    std::string name;
    std::string type;  // CQL spelling: text, bigint, int, double, boolean, timestamp, uuid, ...
};

struct cql_table_options {
    std::string contact_points;  // host[:port][,...]
    services::cql_login login;   // credentials and TLS CA (empty: none)
    std::string keyspace;
    std::string table;
    std::vector<cql_column> columns;
    std::vector<std::string> partition_key;   // at least one column
    std::vector<std::string> clustering_key;  // may be empty
    int replication_factor = 1;
    cql_client::consistency write_consistency = cql_client::consistency::local_quorum;
    int connections = 2;
};

// The CREATE TABLE IF NOT EXISTS statement of `o` (for explain and for open()).
std::string create_table_cql(const cql_table_options& o);

// Connects in open() (retried by the caller); a row whose value does not fit
// its column fails its write as not retryable (the job dead-letters it).
std::unique_ptr<sink> make_cql_table_sink(cql_table_options options);

// Whether a failed CQL request may succeed when sent again unchanged.
bool retryable_cql_error(const error& e);

// Converts `v` to the column type `target` where the wire codec does not:
// text into uuid/timeuuid/timestamp/bigint/int/double/boolean, any scalar into
// text. Errors name the column and both types.
result<cql_client::value> coerce_cql_value(const cql_client::value& v, const cql_client::data_type& target,
                                           const std::string& column);

}  // namespace millrace::processor
