#include "access.h"

#include <algorithm>

#include <fmt/format.h>

namespace millrace::cql {
namespace {

std::string ks_of(const std::string& ks, const std::string& session_keyspace) { return ks.empty() ? session_keyspace : ks; }

void add_table(std::vector<access_need>& out, permission p, const std::string& ks, const std::string& table,
               const std::string& session_keyspace) {
    std::string k = ks_of(ks, session_keyspace);
    if (p == permission::select && is_public_keyspace(k)) return;
    out.push_back({p, resource::of_table(k, table)});
}

}  // namespace

bool is_public_keyspace(const std::string& keyspace) {
    return keyspace == "system" || keyspace == "system_schema" || keyspace == "system_virtual_schema";
}

resource resolve(const resource_ref& r, const std::string& session_keyspace) {
    switch (r.k) {
        case resource::kind::all_keyspaces: return resource::all_keyspaces();
        case resource::kind::keyspace: return resource::of_keyspace(r.keyspace);
        case resource::kind::table: return resource::of_table(ks_of(r.keyspace, session_keyspace), r.name);
        case resource::kind::all_roles: return resource::all_roles();
        case resource::kind::role: return resource::of_role(r.name);
    }
    return resource::all_keyspaces();
}

std::vector<access_need> required_access(const statement& st, const std::string& sk) {
    std::vector<access_need> out;
    if (auto* s = std::get_if<select_stmt>(&st)) add_table(out, permission::select, s->keyspace, s->table, sk);
    else if (auto* s = std::get_if<insert_stmt>(&st)) add_table(out, permission::modify, s->keyspace, s->table, sk);
    else if (auto* s = std::get_if<update_stmt>(&st)) add_table(out, permission::modify, s->keyspace, s->table, sk);
    else if (auto* s = std::get_if<delete_stmt>(&st)) add_table(out, permission::modify, s->keyspace, s->table, sk);
    else if (auto* s = std::get_if<truncate_stmt>(&st)) add_table(out, permission::modify, s->keyspace, s->table, sk);
    else if (auto* s = std::get_if<alter_table_stmt>(&st)) add_table(out, permission::alter, s->keyspace, s->table, sk);
    else if (auto* s = std::get_if<create_index_stmt>(&st)) add_table(out, permission::alter, s->keyspace, s->table, sk);
    else if (auto* s = std::get_if<drop_index_stmt>(&st)) out.push_back({permission::alter, resource::of_keyspace(ks_of(s->keyspace, sk))});
    else if (std::holds_alternative<create_keyspace_stmt>(st)) out.push_back({permission::create, resource::all_keyspaces()});
    else if (auto* s = std::get_if<create_table_stmt>(&st)) out.push_back({permission::create, resource::of_keyspace(ks_of(s->keyspace, sk))});
    else if (auto* s = std::get_if<type_stmt>(&st)) {
        auto perm = s->act == type_stmt::action::create ? permission::create
                    : s->act == type_stmt::action::drop ? permission::drop : permission::alter;
        out.push_back({perm, resource::of_keyspace(ks_of(s->keyspace, sk))});
    } else if (auto* s = std::get_if<drop_stmt>(&st)) {
        if (s->keyspace_level) out.push_back({permission::drop, resource::of_keyspace(s->keyspace)});
        else add_table(out, permission::drop, s->keyspace, s->table, sk);
    } else if (auto* s = std::get_if<batch_stmt>(&st)) {
        for (const auto& inner : s->statements) {
            for (auto& need : required_access(inner, sk)) {
                if (std::find(out.begin(), out.end(), need) == out.end()) out.push_back(std::move(need));
            }
        }
    }
    return out;
}

std::optional<std::string> check_access(const auth_model& auth, const std::string& role, const std::vector<access_need>& needs) {
    for (const auto& need : needs) {
        if (!auth.authorized(role, need.perm, need.on)) {
            // CREATE TABLE / TYPE check CREATE on "all tables in ks", whose parent is the keyspace: the keyspace
            // resource is checked here, named as Cassandra names it.
            std::string on = need.perm == permission::create && need.on.k == resource::kind::keyspace
                                 ? fmt::format("<all tables in {}>", need.on.keyspace)
                                 : need.on.display();
            return fmt::format("User {} has no {} permission on {} or any of its parents", role, permission_name(need.perm), on);
        }
    }
    return std::nullopt;
}

}  // namespace millrace::cql
