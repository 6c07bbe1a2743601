#include "auth.h"

#include <crypt.h>

#include <algorithm>
#include <cstring>

#include "protocol/wire.h"
#include "storage/key_format.h"

namespace millrace::cql {
namespace {

constexpr const char* k_names[] = {"CREATE", "ALTER", "DROP", "SELECT", "MODIFY", "AUTHORIZE", "DESCRIBE", "EXECUTE"};
constexpr int k_permission_count = 8;

// Cassandra's default auth_bcrypt_gensalt_log2_rounds.
constexpr unsigned long k_bcrypt_rounds = 10;

}  // namespace

const char* permission_name(permission p) { return k_names[static_cast<int>(p)]; }

std::optional<permission> parse_permission(std::string_view text) {
    std::string upper(text);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (int idx = 0; idx < k_permission_count; ++idx) {
        if (upper == k_names[idx]) return static_cast<permission>(idx);
    }
    return std::nullopt;
}

std::vector<std::string> permission_names(permission_set s) {
    std::vector<std::string> out;
    for (int idx = 0; idx < k_permission_count; ++idx) {
        if (s & (1u << idx)) out.emplace_back(k_names[idx]);
    }
    return out;
}

std::string resource::key() const {
    switch (k) {
        case kind::all_keyspaces: return "data";
        case kind::keyspace: return "data/" + keyspace;
        case kind::table: return "data/" + keyspace + "/" + name;
        case kind::all_roles: return "roles";
        case kind::role: return "roles/" + name;
    }
    return {};
}

std::string resource::display() const {
    switch (k) {
        case kind::all_keyspaces: return "<all keyspaces>";
        case kind::keyspace: return "<keyspace " + keyspace + ">";
        case kind::table: return "<table " + keyspace + "." + name + ">";
        case kind::all_roles: return "<all roles>";
        case kind::role: return "<role " + name + ">";
    }
    return {};
}

std::optional<resource> resource::parent() const {
    switch (k) {
        case kind::table: return of_keyspace(keyspace);
        case kind::keyspace: return all_keyspaces();
        case kind::role: return all_roles();
        default: return std::nullopt;
    }
}

permission_set resource::applicable() const {
    using p = permission;
    switch (k) {
        case kind::all_keyspaces:
        case kind::keyspace:
            return bit(p::create) | bit(p::alter) | bit(p::drop) | bit(p::select) | bit(p::modify) | bit(p::authorize);
        case kind::table: return bit(p::alter) | bit(p::drop) | bit(p::select) | bit(p::modify) | bit(p::authorize);
        case kind::all_roles: return bit(p::create) | bit(p::alter) | bit(p::drop) | bit(p::authorize) | bit(p::describe);
        case kind::role: return bit(p::alter) | bit(p::drop) | bit(p::authorize) | bit(p::describe);  // as Cassandra 5.0
    }
    return 0;
}

std::optional<resource> resource_from_key(std::string_view key) {
    auto parts = [&] {
        std::vector<std::string> out;
        size_t start = 0;
        for (;;) {
            size_t slash = key.find('/', start);
            out.emplace_back(key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
            if (slash == std::string_view::npos) return out;
            start = slash + 1;
        }
    }();
    if (parts[0] == "data") {
        if (parts.size() == 1) return resource::all_keyspaces();
        if (parts.size() == 2 && !parts[1].empty()) return resource::of_keyspace(parts[1]);
        if (parts.size() == 3 && !parts[1].empty() && !parts[2].empty()) return resource::of_table(parts[1], parts[2]);
    } else if (parts[0] == "roles") {
        if (parts.size() == 1) return resource::all_roles();
        if (parts.size() == 2 && !parts[1].empty()) return resource::of_role(parts[1]);
    }
    return std::nullopt;
}

std::string role_key(const std::string& role) { return std::string{key_format::k_schema_space, key_format::k_role_kind} + role; }
std::string permission_key(const std::string& role, const std::string& resource_key) {
    return std::string{key_format::k_schema_space, key_format::k_permission_kind} + role + std::string(1, '\0') + resource_key;
}

// Records: version byte 1, then the fields in the protocol's notation.
std::string encode_role(const role_record& r) {
    std::string out;
    writer w(out);
    w.byte(1);
    w.string(r.name);
    w.byte(static_cast<uint8_t>((r.can_login ? 1 : 0) | (r.is_superuser ? 2 : 0)));
    w.string(r.salted_hash);
    w.uint16(static_cast<uint16_t>(r.member_of.size()));
    for (const auto& m : r.member_of) w.string(m);
    return out;
}

result<role_record> decode_role(std::string_view bytes) {
    try {
        reader rd(bytes);
        if (rd.byte() != 1) return make_error(errc::corruption, "role record: unknown version");
        role_record r;
        r.name = rd.string();
        uint8_t flags = rd.byte();
        r.can_login = (flags & 1) != 0;
        r.is_superuser = (flags & 2) != 0;
        r.salted_hash = rd.string();
        uint16_t n = rd.uint16();
        for (uint16_t idx = 0; idx < n; ++idx) r.member_of.insert(rd.string());
        if (rd.remaining() != 0) return make_error(errc::corruption, "role record of {}: {} trailing bytes", r.name, rd.remaining());
        return r;
    } catch (const protocol_error& e) {
        return make_error(errc::corruption, "role record: {}", e.what());
    }
}

std::string encode_permissions(permission_set s) {
    std::string out(1, '\1');
    key_format::put_be(out, s, 2);
    return out;
}

result<permission_set> decode_permissions(std::string_view bytes) {
    if (bytes.size() != 3 || bytes[0] != '\1') {
        return make_error(errc::corruption, "permission record: {} bytes, expected 3 with version 1", bytes.size());
    }
    return static_cast<permission_set>(key_format::get_be(bytes.substr(1), 2));
}

result<std::string> hash_password(const std::string& password) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$2a$", k_bcrypt_rounds, nullptr, 0, setting, sizeof setting) == nullptr) {
        return make_error(errc::io_error, "bcrypt: cannot make a salt: {}", std::strerror(errno));
    }
    crypt_data data{};
    const char* hashed = crypt_rn(password.c_str(), setting, &data, sizeof data);
    if (hashed == nullptr || hashed[0] == '*') return make_error(errc::io_error, "bcrypt: hashing failed: {}", std::strerror(errno));
    return std::string(hashed);
}

bool check_password(const std::string& password, const std::string& salted_hash) {
    if (salted_hash.empty()) return false;
    crypt_data data{};
    const char* hashed = crypt_rn(password.c_str(), salted_hash.c_str(), &data, sizeof data);
    if (hashed == nullptr || hashed[0] == '*') return false;
    // Constant time over the hash text.
    size_t n = std::strlen(hashed);
    unsigned char diff = n == salted_hash.size() ? 0 : 1;
    for (size_t idx = 0; idx < std::min(n, salted_hash.size()); ++idx) {
        diff |= static_cast<unsigned char>(hashed[idx] ^ salted_hash[idx]);
    }
    return diff == 0;
}

const role_record* auth_model::find_role(const std::string& name) const {
    auto it = roles_.find(name);
    return it == roles_.end() ? nullptr : &it->second;
}

void auth_model::erase_role(const std::string& name) {
    roles_.erase(name);
    permissions_.erase(name);
    for (auto& [other, r] : roles_) r.member_of.erase(name);
}

void auth_model::set_permissions(const std::string& role, const std::string& resource_key, permission_set s) {
    if (s == 0) {
        auto it = permissions_.find(role);
        if (it == permissions_.end()) return;
        it->second.erase(resource_key);
        if (it->second.empty()) permissions_.erase(it);
        return;
    }
    permissions_[role][resource_key] = s;
}

std::vector<std::pair<std::string, std::string>> auth_model::grants_on(const resource& r) const {
    std::string key = r.key();
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [role, grants] : permissions_) {
        for (const auto& [res, s] : grants) {
            if (res == key || res.starts_with(key + "/")) out.emplace_back(role, res);
        }
    }
    return out;
}

void auth_model::erase_resource(const resource& r) {
    for (const auto& [role, res] : grants_on(r)) set_permissions(role, res, 0);
}

std::set<std::string> auth_model::roles_of(const std::string& role) const {
    std::set<std::string> out;
    std::vector<std::string> todo{role};
    while (!todo.empty()) {
        std::string next = std::move(todo.back());
        todo.pop_back();
        if (!out.insert(next).second) continue;
        if (const auto* r = find_role(next)) todo.insert(todo.end(), r->member_of.begin(), r->member_of.end());
    }
    return out;
}

bool auth_model::is_superuser(const std::string& role) const {
    for (const auto& name : roles_of(role)) {
        const auto* r = find_role(name);
        if (r != nullptr && r->is_superuser) return true;
    }
    return false;
}

permission_set auth_model::granted(const std::string& role, const std::string& resource_key) const {
    auto it = permissions_.find(role);
    if (it == permissions_.end()) return 0;
    auto g = it->second.find(resource_key);
    return g == it->second.end() ? 0 : g->second;
}

bool auth_model::authorized(const std::string& role, permission p, const resource& r) const {
    if (find_role(role) == nullptr) return false;
    if (is_superuser(role)) return true;
    auto roles = roles_of(role);
    for (std::optional<resource> at = r; at; at = at->parent()) {
        std::string key = at->key();
        for (const auto& name : roles) {
            if (granted(name, key) & bit(p)) return true;
        }
    }
    return false;
}

std::vector<std::pair<std::string, std::string>> auth_model::memberships() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, r] : roles_) {
        for (const auto& m : r.member_of) out.emplace_back(m, name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace millrace::cql
