// SCRAM credentials per user and mechanism (KIP-554), persisted in one text
// file rewritten atomically on every change: salt, iterations, StoredKey and
// ServerKey only, never a password. Single-threaded (broker io thread).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/scram.h"
#include "millrace/common/file_system.h"

namespace millrace::kafka::auth {

class credential_store {
public:
    credential_store(file_system& fs, std::string path) : fs_(fs), path_(std::move(path)) {}

    // Reads the file; a missing file is an empty store. corruption names the line.
    status load();

    std::optional<scram_credential> find(std::string_view user, scram_mechanism m) const;
    // Every user with a credential, and the (mechanism, iterations) of each.
    std::map<std::string, std::vector<std::pair<scram_mechanism, int32_t>>> describe() const;
    bool has_user(std::string_view user) const;

    struct change {
        std::string user;
        scram_mechanism mechanism;
        std::optional<scram_credential> credential;  // nullopt deletes
    };
    // Applies every change and persists once; nothing changes on error.
    status apply(const std::vector<change>& changes);

    // A credential kept in memory only (the admin user's, from the config);
    // it shadows a stored one.
    void set_builtin(std::string user, scram_mechanism m, scram_credential c);

private:
    using key = std::pair<std::string, scram_mechanism>;
    file_system& fs_;
    std::string path_;
    std::map<key, scram_credential, std::less<>> stored_;
    std::map<key, scram_credential, std::less<>> builtin_;
};

}  // namespace millrace::kafka::auth
