// Role and permission statements (CREATE/ALTER/DROP ROLE, GRANT, REVOKE, LIST
// ROLES, LIST PERMISSIONS), login, and the grants that follow CREATE and DROP,
// with CassandraRoleManager's and CassandraAuthorizer's rules and messages.
// Every change is written to the store first, then to the in-memory model.
#include <algorithm>
#include <functional>
#include <future>

#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "access.h"
#include "executor.h"

namespace millrace::cql {
namespace {

// Runs `fn` on `pool` and resumes the awaiting coroutine on `io` with its result.
// Not a coroutine itself (see statement_runner::apply).
template <typename T, typename Fn>
asio::awaitable<T> off_io(asio::thread_pool& pool, asio::io_context& io, Fn fn) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(T)>(
        [&pool, &io, fn = std::move(fn)](auto handler) mutable {
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            asio::post(pool, [shared, &io, fn = std::move(fn)]() mutable {
                T value = fn();
                asio::post(io, [shared, value = std::move(value)]() mutable { (*shared)(std::move(value)); });
            });
        },
        asio::use_awaitable);
}

// Checked against when the role is unknown, so an unknown name costs the same bcrypt.
const std::string& dummy_hash() {
    static const std::string hash = [] {
        auto h = hash_password("millrace: no such role");
        return h ? *h : std::string();
    }();
    return hash;
}

request_error invalid(std::string m) { return {error_code::invalid, std::move(m), {}, {}, {}}; }
request_error unauthorized(std::string m) { return {error_code::unauthorized, std::move(m), {}, {}, {}}; }

cql_type type_of(const char* name) { return parse_type(name).value(); }

std::string prefix_end(std::string prefix) {
    prefix.back() = static_cast<char>(prefix.back() + 1);
    return prefix;
}

// Deletes exactly `key` (the range [key, key 0x00) holds nothing else).
void delete_key(mutation& m, const std::string& key) { m.delete_ranges.emplace_back(key, key + std::string(1, '\0')); }

}  // namespace

struct auth_runner {
    executor& ex;
    session& sess;
    auth_model& a = ex.auth_;

    bool superuser() const { return a.is_superuser(sess.user); }

    std::optional<request_error> need(permission p, const resource& r) const {
        if (auto refused = check_access(a, sess.user, {{p, r}})) return unauthorized(std::move(*refused));
        return std::nullopt;
    }

    // Role statements (CREATE/ALTER/DROP ROLE, GRANT role) are refused with Cassandra's generic
    // message, not the "no X permission on <role r>" one data statements get.
    std::optional<request_error> need_for_role(permission p, const resource& r) const {
        if (!check_access(a, sess.user, {{p, r}})) return std::nullopt;
        return unauthorized(fmt::format("User {} does not have sufficient privileges to perform the requested operation", sess.user));
    }

    // Whether the resource exists (grants on missing ones are refused, as Cassandra does).
    bool exists(const resource& r) const {
        switch (r.k) {
            case resource::kind::keyspace: return ex.catalog_.keyspaces.count(r.keyspace) > 0 || r.keyspace == "system_auth";
            case resource::kind::table: return ex.catalog_.find_table(r.keyspace, r.name) != nullptr;
            case resource::kind::role: return a.find_role(r.name) != nullptr;
            default: return true;
        }
    }

    asio::awaitable<std::optional<request_error>> write(mutation m) {
        auto res = co_await ex.apply_mutation(std::move(m));
        if (!res.st) co_return request_error{error_code::server_error, res.st.err().message(), {}, {}, {}};
        co_return std::nullopt;
    }

    // Writes the role record and updates the model.
    asio::awaitable<std::optional<request_error>> save_role(role_record r) {
        mutation m;
        m.puts.emplace_back(role_key(r.name), encode_role(r));
        if (auto e = co_await write(std::move(m))) co_return e;
        a.put_role(std::move(r));
        co_return std::nullopt;
    }

    // Adds (or with `revoke` removes) `set` from the role's grants on `key`.
    asio::awaitable<std::optional<request_error>> change_grant(const std::string& role, const std::string& key, permission_set set,
                                                               bool revoke) {
        permission_set now = a.granted(role, key);
        permission_set next = revoke ? static_cast<permission_set>(now & ~set) : static_cast<permission_set>(now | set);
        if (next == now) co_return std::nullopt;
        mutation m;
        if (next == 0) delete_key(m, permission_key(role, key));
        else m.puts.emplace_back(permission_key(role, key), encode_permissions(next));
        if (auto e = co_await write(std::move(m))) co_return e;
        a.set_permissions(role, key, next);
        co_return std::nullopt;
    }

    asio::awaitable<std::optional<std::string>> hash(const std::string& password) {
        // The lambda is built before the co_await: GCC 12 miscompiles captures inside a co_await expression.
        std::function<std::optional<std::string>()> work = [password] {
            auto r = hash_password(password);
            return r ? std::optional<std::string>(*r) : std::nullopt;
        };
        auto h = co_await off_io<std::optional<std::string>>(ex.hash_pool_, ex.io_, std::move(work));
        co_return h;
    }

    asio::awaitable<response> create_role(const create_role_stmt& s) {
        if (auto e = need_for_role(permission::create, resource::all_roles())) co_return *e;
        if (s.options.superuser.value_or(false) && !superuser()) {
            co_return unauthorized("Only superusers can create a role with superuser status");
        }
        if (a.find_role(s.role)) {
            if (s.if_not_exists) co_return void_result_body();
            co_return invalid(fmt::format("{} already exists", s.role));
        }
        role_record r;
        r.name = s.role;
        r.can_login = s.options.login.value_or(false);
        r.is_superuser = s.options.superuser.value_or(false);
        if (s.options.password) {
            auto h = co_await hash(*s.options.password);
            if (!h) co_return request_error{error_code::server_error, "cannot hash the password", {}, {}, {}};
            r.salted_hash = *h;
        }
        if (a.find_role(s.role)) co_return invalid(fmt::format("{} already exists", s.role));  // created while hashing
        if (auto e = co_await save_role(std::move(r))) co_return *e;
        // The creator may alter, drop and grant the new role.
        auto res = resource::of_role(s.role);
        if (auto e = co_await change_grant(sess.user, res.key(), res.applicable(), false)) co_return *e;
        co_return void_result_body();
    }

    asio::awaitable<response> alter_role(const alter_role_stmt& s) {
        const role_record* target = a.find_role(s.role);
        if (target == nullptr) co_return invalid(fmt::format("Role {} doesn't exist", s.role));
        bool self = s.role == sess.user;
        bool only_password = !s.options.login && !s.options.superuser;
        if (s.options.superuser) {
            if (a.roles_of(sess.user).count(s.role)) {  // the role itself or one granted to it
                co_return unauthorized("You aren't allowed to alter your own superuser status or that of a role granted to you");
            }
            if (!superuser()) co_return unauthorized("Only superusers are allowed to alter superuser status");
        }
        if (!(self && only_password)) {
            if (auto e = need_for_role(permission::alter, resource::of_role(s.role))) co_return *e;
        }
        if (target->is_superuser && !superuser()) co_return unauthorized("Only superusers are allowed to alter superuser roles");
        std::optional<std::string> hashed;
        if (s.options.password) {
            hashed = co_await hash(*s.options.password);
            if (!hashed) co_return request_error{error_code::server_error, "cannot hash the password", {}, {}, {}};
        }
        target = a.find_role(s.role);
        if (target == nullptr) co_return invalid(fmt::format("Role {} doesn't exist", s.role));
        role_record r = *target;
        if (hashed) r.salted_hash = *hashed;
        if (s.options.login) r.can_login = *s.options.login;
        if (s.options.superuser) r.is_superuser = *s.options.superuser;
        if (auto e = co_await save_role(std::move(r))) co_return *e;
        co_return void_result_body();
    }

    asio::awaitable<response> drop_role(const drop_role_stmt& s) {
        if (auto e = need_for_role(permission::drop, resource::of_role(s.role))) co_return *e;
        if (s.role == sess.user) co_return invalid("Cannot DROP primary role for current login");
        const role_record* target = a.find_role(s.role);
        if (target == nullptr) {
            if (s.if_exists) co_return void_result_body();
            co_return invalid(fmt::format("{} doesn't exist", s.role));
        }
        if (target->is_superuser && !superuser()) co_return unauthorized("Only superusers can drop a role with superuser status");
        mutation m;
        delete_key(m, role_key(s.role));
        std::string grants = permission_key(s.role, "");  // 0x01 'p' role 0x00
        m.delete_ranges.emplace_back(grants, prefix_end(grants));
        for (const auto& [role, key] : a.grants_on(resource::of_role(s.role))) delete_key(m, permission_key(role, key));
        std::vector<role_record> changed;
        for (const auto& [name, r] : a.roles()) {
            if (name != s.role && r.member_of.count(s.role)) {
                changed.push_back(r);
                changed.back().member_of.erase(s.role);
                m.puts.emplace_back(role_key(name), encode_role(changed.back()));
            }
        }
        if (auto e = co_await write(std::move(m))) co_return *e;
        a.erase_resource(resource::of_role(s.role));
        a.erase_role(s.role);
        co_return void_result_body();
    }

    asio::awaitable<response> grant(const grant_stmt& s) {
        resource res = resolve(s.on, sess.keyspace);
        if (res.k == resource::kind::table && res.keyspace.empty()) {
            co_return invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename");
        }
        permission_set set = s.all ? res.applicable() : s.permissions;
        if ((set & res.applicable()) != set) {  // Cassandra reports it as a syntax error
            co_return request_error{error_code::syntax_error, fmt::format("Resource type {} does not support any of the requested permissions",
                                          res.k == resource::kind::role || res.k == resource::kind::all_roles ? "RoleResource"
                                                                                                             : "DataResource"),
                                    {}, {}, {}};
        }
        // The grantor needs AUTHORIZE and every permission it grants.
        if (auto e = need(permission::authorize, res)) co_return *e;
        for (const auto& name : permission_names(set)) {
            if (auto e = need(*parse_permission(name), res)) co_return *e;
        }
        if (!exists(res)) co_return invalid(fmt::format("Resource {} doesn't exist", res.display()));
        if (!a.find_role(s.role)) co_return invalid(fmt::format("Role {} doesn't exist", s.role));
        if (auto e = co_await change_grant(s.role, res.key(), set, s.revoke)) co_return *e;
        co_return void_result_body();
    }

    asio::awaitable<response> grant_role(const grant_role_stmt& s) {
        if (auto e = need_for_role(permission::authorize, resource::of_role(s.role))) co_return *e;
        const role_record* role = a.find_role(s.role);
        if (role == nullptr) co_return invalid(fmt::format("{} doesn't exist", s.role));
        if (role->is_superuser && !superuser()) {
            co_return unauthorized("Only superusers are allowed to grant or revoke a role with superuser status");
        }
        const role_record* grantee = a.find_role(s.grantee);
        if (grantee == nullptr) co_return invalid(fmt::format("{} doesn't exist", s.grantee));
        role_record r = *grantee;
        if (s.revoke) {
            if (!r.member_of.count(s.role)) co_return invalid(fmt::format("{} is not a member of {}", s.grantee, s.role));
            r.member_of.erase(s.role);
        } else {
            if (a.roles_of(s.grantee).count(s.role)) co_return invalid(fmt::format("{} is a member of {}", s.grantee, s.role));
            if (a.roles_of(s.role).count(s.grantee)) co_return invalid(fmt::format("{} is a member of {}", s.role, s.grantee));
            r.member_of.insert(s.role);
        }
        if (auto e = co_await save_role(std::move(r))) co_return *e;
        co_return void_result_body();
    }

    // LIST ROLES: role, super, login, options, datacenters; LIST USERS: name, super, datacenters.
    response list_roles(const list_roles_stmt& s) {
        bool may_describe = a.authorized(sess.user, permission::describe, resource::all_roles());
        std::set<std::string> names;
        if (!s.of.empty()) {
            const role_record* of = a.find_role(s.of);
            if (of == nullptr) return invalid(fmt::format("<role {}> doesn't exist", s.of));
            if (!may_describe && !a.roles_of(sess.user).count(s.of)) {
                return unauthorized(fmt::format("You are not authorized to view roles granted to {}", s.of));
            }
            if (s.recursive) names = a.roles_of(s.of);
            else {
                names = of->member_of;
                names.insert(s.of);
            }
        } else if (may_describe) {
            for (const auto& [name, r] : a.roles()) names.insert(name);
        } else {
            names = a.roles_of(sess.user);
        }
        std::vector<column_spec> specs;
        auto spec = [&](const char* name, const char* type) {
            specs.push_back({"system_auth", s.users ? "users" : "roles", name, type_of(type)});
        };
        if (s.users) {
            spec("name", "text");
            spec("super", "boolean");
            spec("datacenters", "text");
        } else {
            spec("role", "text");
            spec("super", "boolean");
            spec("login", "boolean");
            spec("options", "map<text, text>");
            spec("datacenters", "text");
        }
        std::vector<std::vector<std::optional<std::string>>> rows;
        for (const auto& name : names) {
            const role_record* r = a.find_role(name);
            if (r == nullptr) continue;
            if (s.users) {
                if (!r->can_login) continue;
                rows.push_back({text_value(name), bool_value(a.is_superuser(name)), text_value("ALL")});
            } else {
                rows.push_back({text_value(name), bool_value(r->is_superuser), bool_value(r->can_login), map_value({}),
                                text_value("ALL")});
            }
        }
        return rows_result_body(specs, rows);
    }

    // LIST PERMISSIONS: role, username, resource, permission.
    response list_permissions(const list_permissions_stmt& s) {
        std::set<std::string> grantees;
        if (!s.of.empty()) {
            const role_record* of = a.find_role(s.of);
            if (of == nullptr) return invalid(fmt::format("<role {}> doesn't exist", s.of));
            if (!superuser() && !a.roles_of(sess.user).count(s.of)) {
                return unauthorized(fmt::format("You are not authorized to view {}'s permissions", s.of));
            }
            if (s.recursive) grantees = a.roles_of(s.of);
            else grantees = {s.of};
        } else if (!superuser()) {
            return unauthorized("You are not authorized to view everyone's permissions");
        }
        std::set<std::string> resources;  // keys listed; empty means all
        if (s.on) {
            resource res = resolve(*s.on, sess.keyspace);
            if (!exists(res)) return invalid(fmt::format("Resource {} doesn't exist", res.display()));
            for (std::optional<resource> at = res; at; at = s.recursive ? at->parent() : std::nullopt) resources.insert(at->key());
        }
        permission_set wanted = s.all ? permission_set(0xFFFF) : s.permissions;
        struct detail {
            std::string role, resource_key;
            int perm;
            bool operator<(const detail& o) const { return std::tie(role, resource_key, perm) < std::tie(o.role, o.resource_key, o.perm); }
        };
        std::vector<detail> details;
        for (const auto& [role, grants] : a.permissions()) {
            if (!grantees.empty() && !grantees.count(role)) continue;
            for (const auto& [key, set] : grants) {
                if (!resources.empty() && !resources.count(key)) continue;
                for (int p = 0; p < 16; ++p) {
                    if ((set & wanted) & (1u << p)) details.push_back({role, key, p});
                }
            }
        }
        std::sort(details.begin(), details.end());
        std::vector<column_spec> specs;
        for (const char* name : {"role", "username", "resource", "permission"}) {
            specs.push_back({"system_auth", "permissions", name, type_of("text")});
        }
        std::vector<std::vector<std::optional<std::string>>> rows;
        for (const auto& d : details) {
            auto res = resource_from_key(d.resource_key);
            rows.push_back({text_value(d.role), text_value(d.role), text_value(res ? res->display() : d.resource_key),
                            text_value(permission_name(static_cast<permission>(d.perm)))});
        }
        return rows_result_body(specs, rows);
    }

    asio::awaitable<response> run(const statement& st) {
        if (auto* s = std::get_if<create_role_stmt>(&st)) co_return co_await create_role(*s);
        if (auto* s = std::get_if<alter_role_stmt>(&st)) co_return co_await alter_role(*s);
        if (auto* s = std::get_if<drop_role_stmt>(&st)) co_return co_await drop_role(*s);
        if (auto* s = std::get_if<grant_stmt>(&st)) co_return co_await grant(*s);
        if (auto* s = std::get_if<grant_role_stmt>(&st)) co_return co_await grant_role(*s);
        if (auto* s = std::get_if<list_roles_stmt>(&st)) co_return list_roles(*s);
        if (auto* s = std::get_if<list_permissions_stmt>(&st)) co_return list_permissions(*s);
        co_return invalid("not a role or permission statement");
    }
};

asio::awaitable<response> executor::run_auth_statement(const parsed_statement& stmt, session& s) {
    if (!auth_enabled_ || s.user.empty()) {
        co_return invalid("Role and permission statements need authentication: set cql.authenticator=password or security.enabled");
    }
    auth_runner runner{*this, s};
    co_return co_await runner.run(stmt.stmt);
}

asio::awaitable<void> executor::after_schema_change(const statement& st, const session& s) {
    auth_runner runner{*this, const_cast<session&>(s)};
    std::optional<request_error> failed;
    if (auto* c = std::get_if<create_keyspace_stmt>(&st); c && !s.user.empty()) {
        auto res = resource::of_keyspace(c->keyspace);
        failed = co_await runner.change_grant(s.user, res.key(), res.applicable(), false);
    } else if (auto* c = std::get_if<create_table_stmt>(&st); c && !s.user.empty()) {
        auto res = resource::of_table(c->keyspace.empty() ? s.keyspace : c->keyspace, c->table);
        failed = co_await runner.change_grant(s.user, res.key(), res.applicable(), false);
    } else if (auto* d = std::get_if<drop_stmt>(&st)) {
        auto res = d->keyspace_level ? resource::of_keyspace(d->keyspace)
                                     : resource::of_table(d->keyspace.empty() ? s.keyspace : d->keyspace, d->table);
        auto grants = auth_.grants_on(res);
        if (!grants.empty()) {
            mutation m;
            for (const auto& [role, key] : grants) delete_key(m, permission_key(role, key));
            failed = co_await runner.write(std::move(m));
            if (!failed) auth_.erase_resource(res);
        }
    }
    if (failed) log_.warn("updating the grants after a schema change failed: {}", failed->message);
}

asio::awaitable<std::string> executor::authenticate(std::string user, std::string password) {
    // An empty SASL PLAIN field is a missing one for Cassandra, checked password first.
    if (password.empty()) co_return "Password must not be null";
    if (user.empty()) co_return "Authentication ID must not be null";
    const role_record* r = auth_.find_role(user);
    bool known = r != nullptr && !r->salted_hash.empty();
    std::string hash = known ? r->salted_hash : std::string();
    // Built before the co_await: GCC 12 miscompiles captures inside a co_await expression.
    std::function<bool()> work = [password, hash] { return check_password(password, hash.empty() ? dummy_hash() : hash); };
    bool ok = co_await off_io<bool>(hash_pool_, io_, std::move(work));
    r = auth_.find_role(user);  // may have changed while hashing
    if (!ok || !known || r == nullptr || r->salted_hash != hash) {
        co_return fmt::format("Provided username {} and/or password are incorrect", user);
    }
    if (!r->can_login) co_return fmt::format("{} is not permitted to log in", user);
    co_return std::string();
}

status executor::bootstrap_role(const std::string& name, const std::string& password) {
    const role_record* existing = auth_.find_role(name);
    if (existing != nullptr && existing->is_superuser && existing->can_login && check_password(password, existing->salted_hash)) {
        return {};
    }
    role_record r = existing != nullptr ? *existing : role_record{name, true, true, {}, {}};
    r.can_login = true;
    r.is_superuser = true;
    auto hashed = hash_password(password);
    if (!hashed) return hashed.err();
    r.salted_hash = *hashed;
    mutation m;
    m.puts.emplace_back(role_key(name), encode_role(r));
    std::promise<mutation_result> done;
    auto future = done.get_future();
    store_.submit(std::move(m), [&done](mutation_result res) { done.set_value(std::move(res)); });
    auto res = future.get();
    if (!res.st) return res.st.err().with_context(fmt::format("writing role {}", name));
    auth_.put_role(std::move(r));
    log_.info("role {} {} (superuser, login)", name, existing != nullptr ? "updated" : "created");
    return {};
}

}  // namespace millrace::cql
