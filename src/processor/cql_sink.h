// The sink on the CQL protocol, through millrace's C++ CQL client: works the
// same against `millrace cql` and Apache Cassandra.
#pragma once

#include <memory>
#include <string>

#include "millrace/cql_client/client.h"
#include "sink.h"

namespace millrace::processor {

struct cql_sink_options {
    std::string contact_points;  // host[:port][,...]
    std::string keyspace = "spark_streams";
    std::string table = "created_users";
    std::string aggregate_table = "users_by_nat_minute";  // "" when the aggregate is off
    int replication_factor = 1;
    cql_client::consistency write_consistency = cql_client::consistency::local_quorum;
    int connections = 2;
};

std::unique_ptr<sink> make_cql_sink(cql_sink_options options);

// Whether a failed CQL request may succeed when sent again unchanged.
bool retryable_cql_error(const error& e);

}  // namespace millrace::processor
