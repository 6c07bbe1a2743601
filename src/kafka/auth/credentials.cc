#include "auth/credentials.h"

#include <charconv>

#include "auth/acl.h"
#include "millrace/common/private_file.h"

namespace millrace::kafka::auth {

status credential_store::load() {
    if (!fs_.exists(path_)) return {};
    auto text = read_file(fs_, path_);
    if (!text) return text.err();
    std::map<key, scram_credential, std::less<>> loaded;
    auto st = for_each_record(*text, [&](size_t line_no, const std::vector<std::string_view>& fields) -> status {
        auto bad = [&] { return make_error(errc::corruption, "{}:{}: not a SCRAM credential line", path_, line_no); };
        if (fields.size() != 6) return bad();
        auto user = unescape_field(fields[0]);
        auto mechanism = mechanism_from_name(fields[1]);
        int32_t iterations = 0;
        auto [ptr, ec] = std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), iterations);
        auto salt = base64_decode(fields[3]);
        auto stored = base64_decode(fields[4]);
        auto server = base64_decode(fields[5]);
        if (!user || !mechanism || ec != std::errc() || !salt || !stored || !server) return bad();
        loaded[{std::move(*user), *mechanism}] = scram_credential{std::move(*salt), std::move(*stored), std::move(*server), iterations};
        return {};
    });
    if (!st) return st;
    stored_ = std::move(loaded);
    return {};
}

std::optional<scram_credential> credential_store::find(std::string_view user, scram_mechanism m) const {
    key k{std::string(user), m};
    if (auto it = builtin_.find(k); it != builtin_.end()) return it->second;
    if (auto it = stored_.find(k); it != stored_.end()) return it->second;
    return std::nullopt;
}

bool credential_store::has_user(std::string_view user) const {
    for (const auto* map : {&builtin_, &stored_}) {
        auto it = map->lower_bound(key{std::string(user), scram_mechanism::unknown});
        if (it != map->end() && it->first.first == user) return true;
    }
    return false;
}

std::map<std::string, std::vector<std::pair<scram_mechanism, int32_t>>> credential_store::describe() const {
    std::map<key, int32_t> merged;
    for (const auto& [k, c] : stored_) merged[k] = c.iterations;
    for (const auto& [k, c] : builtin_) merged[k] = c.iterations;
    std::map<std::string, std::vector<std::pair<scram_mechanism, int32_t>>> out;
    for (const auto& [k, iterations] : merged) out[k.first].emplace_back(k.second, iterations);
    return out;
}

status credential_store::apply(const std::vector<change>& changes) {
    auto next = stored_;
    for (const auto& c : changes) {
        if (c.credential) next[{c.user, c.mechanism}] = *c.credential;
        else next.erase(key{c.user, c.mechanism});
    }
    std::string text = "# SCRAM credentials: user mechanism iterations salt stored_key server_key (base64; user %-escaped)\n";
    for (const auto& [k, c] : next) {
        text += fmt::format("{} {} {} {} {} {}\n", escape_field(k.first), mechanism_name(k.second), c.iterations,
                            base64_encode(c.salt), base64_encode(c.stored_key), base64_encode(c.server_key));
    }
    if (auto st = write_private(fs_, path_, text); !st) return st;
    stored_ = std::move(next);
    return {};
}

void credential_store::set_builtin(std::string user, scram_mechanism m, scram_credential c) {
    builtin_[{std::move(user), m}] = std::move(c);
}

}  // namespace millrace::kafka::auth
