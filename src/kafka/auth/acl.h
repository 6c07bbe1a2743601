// Kafka's ACL model (AclBinding, AclBindingFilter) and the authorization
// decision of its StandardAuthorizer: a principal may do an operation on a
// resource when an ALLOW ACL matches (literal name, the literal wildcard "*",
// or a prefix) and no DENY ACL does; with no matching ACL the answer is no
// (allow.everyone.if.no.acl.found=false). Super users are decided by the
// caller. The enums carry Kafka's wire values.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/file_system.h"
#include "millrace/common/result.h"

namespace millrace::kafka::auth {

enum class resource_type : int8_t {
    unknown = 0, any = 1, topic = 2, group = 3, cluster = 4, transactional_id = 5, delegation_token = 6, user = 7,
};
enum class pattern_type : int8_t { unknown = 0, any = 1, match = 2, literal = 3, prefixed = 4 };
enum class acl_operation : int8_t {
    unknown = 0, any = 1, all = 2, read = 3, write = 4, create = 5, remove = 6 /* DELETE */, alter = 7, describe = 8,
    cluster_action = 9, describe_configs = 10, alter_configs = 11, idempotent_write = 12, create_tokens = 13,
    describe_tokens = 14, two_phase_commit = 15,
};
enum class acl_permission : int8_t { unknown = 0, any = 1, deny = 2, allow = 3 };

// The one CLUSTER resource's name.
constexpr std::string_view k_cluster_name = "kafka-cluster";

std::string_view to_string(resource_type v);
std::string_view to_string(pattern_type v);
std::string_view to_string(acl_operation v);
std::string_view to_string(acl_permission v);

struct acl_binding {
    resource_type type = resource_type::unknown;
    std::string name;
    pattern_type pattern = pattern_type::literal;
    std::string principal;  // "User:alice" or "User:*"
    std::string host = "*";
    acl_operation operation = acl_operation::unknown;
    acl_permission permission = acl_permission::unknown;
    auto operator<=>(const acl_binding&) const = default;
};

struct acl_filter {
    resource_type type = resource_type::any;
    std::optional<std::string> name;
    pattern_type pattern = pattern_type::any;
    std::optional<std::string> principal;
    std::optional<std::string> host;
    acl_operation operation = acl_operation::any;
    acl_permission permission = acl_permission::any;
    // AclBindingFilter.matches: ANY matches everything, MATCH also matches
    // the wildcard and prefixes that cover `name`.
    bool matches(const acl_binding& b) const;
    // Why the filter cannot be used (UNKNOWN values), or nullopt.
    std::optional<std::string> invalid_reason() const;
};

// Why a binding may not be created (Kafka's InvalidRequestException text), or nullopt.
std::optional<std::string> invalid_reason(const acl_binding& b);

// The set of ACLs, persisted as one text line per binding in `path`
// (rewritten atomically on every change). Single-threaded (broker io thread).
class acl_store {
public:
    acl_store(file_system& fs, std::string path) : fs_(fs), path_(std::move(path)) {}

    // Reads the file; a missing file is an empty set. corruption names the line.
    status load();
    // Adds the bindings not yet present; durable when it returns ok.
    status add(const std::vector<acl_binding>& bindings);
    // Removes every binding matching any filter; returns what each filter matched.
    result<std::vector<std::vector<acl_binding>>> remove(const std::vector<acl_filter>& filters);
    std::vector<acl_binding> describe(const acl_filter& filter) const;
    const std::vector<acl_binding>& all() const { return acls_; }

    // The decision for `principal` ("User:x") from `host`.
    bool authorize(std::string_view principal, std::string_view host, acl_operation op, resource_type type,
                   std::string_view name) const;
    // Whether some resource of `type` allows `op` (Kafka's authorizeByResourceType,
    // used for idempotent producers): an ALLOW ACL and no wildcard DENY.
    bool authorize_any(std::string_view principal, std::string_view host, acl_operation op, resource_type type) const;

private:
    status persist(const std::vector<acl_binding>& next);
    file_system& fs_;
    std::string path_;
    std::vector<acl_binding> acls_;  // sorted, unique
};

// Percent-encoding for names in the broker's small text files: every byte
// outside [A-Za-z0-9._:*-] becomes %XX, so a field never holds a space.
std::string escape_field(std::string_view text);
std::optional<std::string> unescape_field(std::string_view text);
// The record files' reader (ACLs, SCRAM credentials): one record per line,
// fields split at single spaces, empty and '#' lines skipped. Calls `each`
// with the line's number (from 1) and fields; stops at its first error.
status for_each_record(std::string_view text,
                       const std::function<status(size_t line_no, const std::vector<std::string_view>& fields)>& each);

}  // namespace millrace::kafka::auth
