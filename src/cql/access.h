// What a statement needs, as CassandraAuthorizer checks it: SELECT on the
// table for reads, MODIFY for INSERT/UPDATE/DELETE/TRUNCATE/BATCH, CREATE on
// the parent for CREATE, ALTER/DROP on the object. Role and permission
// statements check their own rules in the executor.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "auth.h"
#include "parser.h"

namespace millrace::cql {

struct access_need {
    permission perm;
    resource on;
    bool operator==(const access_need&) const = default;
};

// Keyspaces anyone may read (what drivers read when they connect).
bool is_public_keyspace(const std::string& keyspace);

// The permissions `st` needs, with table names resolved against the session
// keyspace. Empty for statements nothing guards (USE, DESCRIBE, system reads).
std::vector<access_need> required_access(const statement& st, const std::string& session_keyspace);

// The first need `role` lacks, as the Unauthorized message Cassandra sends:
// "User bob has no SELECT permission on <table ks.t> or any of its parents".
std::optional<std::string> check_access(const auth_model& auth, const std::string& role, const std::vector<access_need>& needs);

// The resource a statement names, resolved against the session keyspace.
resource resolve(const resource_ref& r, const std::string& session_keyspace);

}  // namespace millrace::cql
