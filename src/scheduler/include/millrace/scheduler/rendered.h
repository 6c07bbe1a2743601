// A try's rendered template fields and how secrets are kept out of them,
// following Airflow's secrets masker (airflow/utils/log/secrets_masker.py):
//
// - a *name* is sensitive when, lower-cased, it contains one of access_token,
//   api_key, apikey, authorization, passphrase, passwd, password,
//   private_key, secret, token, keyfile_dict, service_account;
// - a value under a sensitive name (a dict key, e.g. env PGPASSWORD) is
//   replaced by "***" whole (a dict or list: every string leaf; numbers and
//   booleans stay, as in Airflow);
// - every occurrence of a registered secret inside any string is replaced
//   by "***". The try registers the values of Variables with a sensitive
//   name and of Connection passwords (and extras with sensitive keys) that
//   it read, as Airflow's Variable.get and get_connection do.
//
// Pure functions; no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace millrace::scheduler {

inline constexpr std::string_view k_mask = "***";

// Whether a Variable, Connection extra or dict key of this name holds a secret.
bool sensitive_name(std::string_view name);

// `value` with secrets replaced by "***" (see above). `name` is the field's
// or key's name the value sits under ("" : none). Empty masks are ignored.
nlohmann::json redact(const nlohmann::json& value, const std::vector<std::string>& masks, std::string_view name = {});

// Every occurrence of every mask in `text` replaced by "***" (longest masks first).
std::string redact_text(std::string text, const std::vector<std::string>& masks);

}  // namespace millrace::scheduler
