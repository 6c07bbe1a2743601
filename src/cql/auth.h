// Roles and permissions (Cassandra's PasswordAuthenticator, CassandraRoleManager
// and CassandraAuthorizer): the in-memory model, its records in the store
// (key_format.h) and the rules that decide whether a role may do something.
// Owned by the executor on the io thread; changed only after the store made
// the change durable. Nothing here runs unless authentication is on.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::cql {

// Permissions with Cassandra's names; a set is a bitmask of 1 << value.
enum class permission : uint8_t { create, alter, drop, select, modify, authorize, describe, execute };
using permission_set = uint16_t;
constexpr permission_set bit(permission p) { return static_cast<permission_set>(1u << static_cast<unsigned>(p)); }
const char* permission_name(permission p);
std::optional<permission> parse_permission(std::string_view upper_or_lower);
// Names in Cassandra's listing order (CREATE, ALTER, DROP, SELECT, MODIFY, AUTHORIZE, DESCRIBE, EXECUTE).
std::vector<std::string> permission_names(permission_set s);

// A resource as Cassandra names it in system_auth: "data", "data/ks",
// "data/ks/t", "roles", "roles/r".
struct resource {
    enum class kind { all_keyspaces, keyspace, table, all_roles, role };
    kind k = kind::all_keyspaces;
    std::string keyspace;  // keyspace, table
    std::string name;      // table or role name

    static resource all_keyspaces() { return {}; }
    static resource of_keyspace(std::string ks) { return {kind::keyspace, std::move(ks), {}}; }
    static resource of_table(std::string ks, std::string t) { return {kind::table, std::move(ks), std::move(t)}; }
    static resource all_roles() { return {kind::all_roles, {}, {}}; }
    static resource of_role(std::string r) { return {kind::role, {}, std::move(r)}; }

    std::string key() const;      // "data/ks/t"
    std::string display() const;  // "<table ks.t>", as Cassandra prints it in errors and LIST PERMISSIONS
    std::optional<resource> parent() const;
    // What may be granted on it (ALL means these).
    permission_set applicable() const;
    bool operator==(const resource&) const = default;
};
std::optional<resource> resource_from_key(std::string_view key);

struct role_record {
    std::string name;
    bool can_login = false;
    bool is_superuser = false;
    std::set<std::string> member_of;  // roles granted to this role
    std::string salted_hash;          // bcrypt ("$2a$10$..."), empty: no password
};

// Store records (schema space, key_format.h): 0x01 'u' role → role record;
// 0x01 'p' role 0x00 resource → permission set.
std::string role_key(const std::string& role);
std::string permission_key(const std::string& role, const std::string& resource_key);
std::string encode_role(const role_record& r);
result<role_record> decode_role(std::string_view bytes);
std::string encode_permissions(permission_set s);
result<permission_set> decode_permissions(std::string_view bytes);

// bcrypt with Cassandra's prefix and cost ($2a$, 10 rounds) through libxcrypt.
// Blocking (tens of milliseconds): call off the io thread.
result<std::string> hash_password(const std::string& password);
bool check_password(const std::string& password, const std::string& salted_hash);

// The roles and grants. Not thread-safe (io thread).
class auth_model {
public:
    const role_record* find_role(const std::string& name) const;
    const std::map<std::string, role_record>& roles() const { return roles_; }
    const std::map<std::string, std::map<std::string, permission_set>>& permissions() const { return permissions_; }

    void put_role(role_record r) { roles_[r.name] = std::move(r); }
    // Removes the role, its grants and its memberships in (and of) other roles.
    void erase_role(const std::string& name);
    void set_permissions(const std::string& role, const std::string& resource_key, permission_set s);
    // Every grant on the resource and on resources below it (DROP KEYSPACE/TABLE).
    void erase_resource(const resource& r);
    // (role, resource key) pairs erase_resource would remove.
    std::vector<std::pair<std::string, std::string>> grants_on(const resource& r) const;

    // The role and every role granted to it, transitively.
    std::set<std::string> roles_of(const std::string& role) const;
    bool is_superuser(const std::string& role) const;
    // Granted directly to `role` on exactly this resource.
    permission_set granted(const std::string& role, const std::string& resource_key) const;
    // Whether `role` holds `p` on `r` or one of its parents, through any of its
    // roles; superusers hold everything.
    bool authorized(const std::string& role, permission p, const resource& r) const;
    // Roles that `role` is a member of (directly) and roles that are members of `role` (role_members).
    std::vector<std::pair<std::string, std::string>> memberships() const;  // (role, member)

private:
    std::map<std::string, role_record> roles_;
    std::map<std::string, std::map<std::string, permission_set>> permissions_;  // role → resource key → set
};

}  // namespace millrace::cql
