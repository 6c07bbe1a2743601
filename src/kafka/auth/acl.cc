#include "auth/acl.h"

#include <algorithm>
#include <array>

#include "millrace/common/private_file.h"

namespace millrace::kafka::auth {
namespace {

template <typename E, size_t N>
std::optional<E> from_string(const std::array<std::string_view, N>& names, std::string_view text) {
    for (size_t idx = 0; idx < N; ++idx) {
        if (names[idx] == text) return static_cast<E>(idx);
    }
    return std::nullopt;
}

constexpr std::array<std::string_view, 8> k_resource_names = {
    "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"};
constexpr std::array<std::string_view, 5> k_pattern_names = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
constexpr std::array<std::string_view, 16> k_operation_names = {
    "UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION",
    "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS", "TWO_PHASE_COMMIT"};
constexpr std::array<std::string_view, 4> k_permission_names = {"UNKNOWN", "ANY", "DENY", "ALLOW"};

template <size_t N>
std::string_view name_of(const std::array<std::string_view, N>& names, int8_t v) {
    return v >= 0 && static_cast<size_t>(v) < N ? names[static_cast<size_t>(v)] : "UNKNOWN";
}

template <size_t N>
bool known(const std::array<std::string_view, N>&, int8_t v) {
    return v >= 2 && static_cast<size_t>(v) < N;
}

bool name_matches(const acl_binding& b, std::string_view name) {
    switch (b.pattern) {
        case pattern_type::literal: return b.name == name || b.name == "*";
        case pattern_type::prefixed: return name.starts_with(b.name);
        default: return false;
    }
}

bool principal_matches(const acl_binding& b, std::string_view principal) {
    return b.principal == principal || b.principal == "User:*";
}

bool host_matches(const acl_binding& b, std::string_view host) { return b.host == "*" || b.host == host; }

// ALLOW of READ, WRITE, DELETE or ALTER implies DESCRIBE; ALLOW of
// ALTER_CONFIGS implies DESCRIBE_CONFIGS (Kafka's implied operations).
bool allow_covers(acl_operation granted, acl_operation wanted) {
    if (granted == acl_operation::all || granted == wanted) return true;
    if (wanted == acl_operation::describe) {
        return granted == acl_operation::read || granted == acl_operation::write || granted == acl_operation::remove ||
               granted == acl_operation::alter;
    }
    if (wanted == acl_operation::describe_configs) return granted == acl_operation::alter_configs;
    return false;
}

std::string format_line(const acl_binding& b) {
    return fmt::format("{} {} {} {} {} {} {}\n", to_string(b.type), to_string(b.pattern), escape_field(b.name),
                       escape_field(b.principal), escape_field(b.host), to_string(b.operation), to_string(b.permission));
}

}  // namespace

std::string_view to_string(resource_type v) { return name_of(k_resource_names, static_cast<int8_t>(v)); }
std::string_view to_string(pattern_type v) { return name_of(k_pattern_names, static_cast<int8_t>(v)); }
std::string_view to_string(acl_operation v) { return name_of(k_operation_names, static_cast<int8_t>(v)); }
std::string_view to_string(acl_permission v) { return name_of(k_permission_names, static_cast<int8_t>(v)); }

bool acl_filter::matches(const acl_binding& b) const {
    if (type != resource_type::any && type != b.type) return false;
    switch (pattern) {
        case pattern_type::any:
            if (name && *name != b.name) return false;
            break;
        case pattern_type::match:
            if (name && !(b.name == *name || (b.pattern == pattern_type::literal && b.name == "*") ||
                          (b.pattern == pattern_type::prefixed && name->starts_with(b.name)))) {
                return false;
            }
            break;
        default:
            if (pattern != b.pattern) return false;
            if (name && *name != b.name) return false;
    }
    if (principal && *principal != b.principal) return false;
    if (host && *host != b.host) return false;
    if (operation != acl_operation::any && operation != b.operation) return false;
    if (permission != acl_permission::any && permission != b.permission) return false;
    return true;
}

std::optional<std::string> acl_filter::invalid_reason() const {
    if (type == resource_type::unknown || static_cast<int8_t>(type) > 7 || static_cast<int8_t>(type) < 0) {
        return "Invalid resource type filter";
    }
    if (pattern == pattern_type::unknown || static_cast<int8_t>(pattern) > 4 || static_cast<int8_t>(pattern) < 0) {
        return "Invalid pattern type filter";
    }
    if (operation == acl_operation::unknown || static_cast<int8_t>(operation) > 15 || static_cast<int8_t>(operation) < 0) {
        return "Invalid operation filter";
    }
    if (permission == acl_permission::unknown || static_cast<int8_t>(permission) > 3 ||
        static_cast<int8_t>(permission) < 0) {
        return "Invalid permission type filter";
    }
    return std::nullopt;
}

std::optional<std::string> invalid_reason(const acl_binding& b) {
    if (!known(k_resource_names, static_cast<int8_t>(b.type))) return "Invalid resourceType " + std::to_string(int(b.type));
    if (b.pattern != pattern_type::literal && b.pattern != pattern_type::prefixed) {
        return "Invalid patternType " + std::to_string(int(b.pattern));
    }
    if (!known(k_operation_names, static_cast<int8_t>(b.operation))) {
        return "Invalid operation " + std::to_string(int(b.operation));
    }
    if (!known(k_permission_names, static_cast<int8_t>(b.permission))) {
        return "Invalid permissionType " + std::to_string(int(b.permission));
    }
    if (b.name.empty()) return std::string("Resource name should not be empty");
    if (b.type == resource_type::cluster && b.name != k_cluster_name) {
        return "The only valid name for the CLUSTER resource is " + std::string(k_cluster_name);
    }
    size_t colon = b.principal.find(':');
    if (colon == std::string::npos) {
        return "Could not parse principal from `" + b.principal +
               "` (no colon is present separating the principal type from the principal name)";
    }
    if (b.principal.substr(0, colon) != "User") {
        return "Principal type " + b.principal.substr(0, colon) + " is not supported; use User:<name>";
    }
    if (b.host.empty()) return std::string("Invalid host: an empty host; use * for every host");
    return std::nullopt;
}

std::string escape_field(std::string_view text) {
    std::string out;
    for (unsigned char ch : text) {
        bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                     ch == '_' || ch == ':' || ch == '*' || ch == '-';
        if (plain) out += static_cast<char>(ch);
        else out += fmt::format("%{:02X}", ch);
    }
    if (out.empty()) out = "%";  // an empty field still takes a column
    return out;
}

std::optional<std::string> unescape_field(std::string_view text) {
    if (text == "%") return std::string();
    std::string out;
    for (size_t idx = 0; idx < text.size(); ++idx) {
        if (text[idx] != '%') {
            out += text[idx];
            continue;
        }
        auto hex = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        if (idx + 2 >= text.size()) return std::nullopt;
        int hi = hex(text[idx + 1]);
        int lo = hex(text[idx + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        idx += 2;
    }
    return out;
}

status for_each_record(std::string_view text,
                       const std::function<status(size_t line_no, const std::vector<std::string_view>& fields)>& each) {
    size_t line_no = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_no;
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string_view> fields;
        while (!line.empty()) {
            size_t sp = line.find(' ');
            fields.push_back(line.substr(0, sp));
            line.remove_prefix(sp == std::string_view::npos ? line.size() : sp + 1);
        }
        if (auto st = each(line_no, fields); !st) return st;
    }
    return {};
}

status acl_store::load() {
    if (!fs_.exists(path_)) return {};
    auto text = read_file(fs_, path_);
    if (!text) return text.err();
    std::vector<acl_binding> loaded;
    auto st = for_each_record(*text, [&](size_t line_no, const std::vector<std::string_view>& fields) -> status {
        auto bad = [&] { return make_error(errc::corruption, "{}:{}: not an ACL line", path_, line_no); };
        if (fields.size() != 7) return bad();
        auto type = from_string<resource_type>(k_resource_names, fields[0]);
        auto pattern = from_string<pattern_type>(k_pattern_names, fields[1]);
        auto name = unescape_field(fields[2]);
        auto principal = unescape_field(fields[3]);
        auto host = unescape_field(fields[4]);
        auto op = from_string<acl_operation>(k_operation_names, fields[5]);
        auto permission = from_string<acl_permission>(k_permission_names, fields[6]);
        if (!type || !pattern || !name || !principal || !host || !op || !permission) return bad();
        loaded.push_back({*type, std::move(*name), *pattern, std::move(*principal), std::move(*host), *op, *permission});
        return {};
    });
    if (!st) return st;
    std::sort(loaded.begin(), loaded.end());
    loaded.erase(std::unique(loaded.begin(), loaded.end()), loaded.end());
    acls_ = std::move(loaded);
    return {};
}

status acl_store::persist(const std::vector<acl_binding>& next) {
    std::string text = "# ACLs: resource_type pattern_type name principal host operation permission (names %-escaped)\n";
    for (const auto& b : next) text += format_line(b);
    if (auto st = write_private(fs_, path_, text); !st) return st;
    acls_ = next;
    return {};
}

status acl_store::add(const std::vector<acl_binding>& bindings) {
    auto next = acls_;
    for (const auto& b : bindings) {
        auto at = std::lower_bound(next.begin(), next.end(), b);
        if (at == next.end() || *at != b) next.insert(at, b);
    }
    if (next == acls_) return {};
    return persist(next);
}

result<std::vector<std::vector<acl_binding>>> acl_store::remove(const std::vector<acl_filter>& filters) {
    std::vector<std::vector<acl_binding>> matched(filters.size());
    std::vector<acl_binding> next;
    for (const auto& b : acls_) {
        bool removed = false;
        for (size_t idx = 0; idx < filters.size(); ++idx) {
            if (filters[idx].matches(b)) {
                matched[idx].push_back(b);
                removed = true;
            }
        }
        if (!removed) next.push_back(b);
    }
    if (next.size() != acls_.size()) {
        if (auto st = persist(next); !st) return st.err();
    }
    return matched;
}

std::vector<acl_binding> acl_store::describe(const acl_filter& filter) const {
    std::vector<acl_binding> out;
    for (const auto& b : acls_) {
        if (filter.matches(b)) out.push_back(b);
    }
    return out;
}

bool acl_store::authorize(std::string_view principal, std::string_view host, acl_operation op, resource_type type,
                          std::string_view name) const {
    bool allowed = false;
    for (const auto& b : acls_) {
        if (b.type != type || !name_matches(b, name) || !principal_matches(b, principal) || !host_matches(b, host)) continue;
        if (b.permission == acl_permission::deny) {
            if (b.operation == acl_operation::all || b.operation == op) return false;  // DENY wins
        } else if (b.permission == acl_permission::allow && allow_covers(b.operation, op)) {
            allowed = true;
        }
    }
    return allowed;
}

bool acl_store::authorize_any(std::string_view principal, std::string_view host, acl_operation op,
                              resource_type type) const {
    bool allowed = false;
    for (const auto& b : acls_) {
        if (b.type != type || !principal_matches(b, principal) || !host_matches(b, host)) continue;
        bool op_matches = b.operation == acl_operation::all || b.operation == op;
        if (!op_matches) continue;
        if (b.permission == acl_permission::deny && b.pattern == pattern_type::literal && b.name == "*") return false;
        if (b.permission == acl_permission::allow) allowed = true;
    }
    return allowed;
}

}  // namespace millrace::kafka::auth
