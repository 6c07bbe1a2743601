#include "millrace/scheduler/rendered.h"

#include <algorithm>
#include <array>

namespace millrace::scheduler {
namespace {

// Airflow 2.10's DEFAULT_SENSITIVE_FIELDS.
constexpr std::array<std::string_view, 12> k_sensitive = {
    "access_token", "api_key", "apikey", "authorization", "passphrase", "passwd",
    "password", "private_key", "secret", "token", "keyfile_dict", "service_account"};

nlohmann::json redact_all(const nlohmann::json& value) {
    if (value.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [key, item] : value.items()) out[key] = redact_all(item);
        return out;
    }
    if (value.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : value) out.push_back(redact_all(item));
        return out;
    }
    // Airflow's _redact_all: strings become "***", other scalars stay.
    return value.is_string() ? nlohmann::json(std::string(k_mask)) : value;
}

}  // namespace

bool sensitive_name(std::string_view name) {
    size_t first = name.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return false;
    size_t last = name.find_last_not_of(" \t\r\n");
    std::string lowered(name.substr(first, last + 1 - first));
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return std::tolower(c); });
    return std::any_of(k_sensitive.begin(), k_sensitive.end(),
                       [&](std::string_view word) { return lowered.find(word) != std::string::npos; });
}

std::string redact_text(std::string text, const std::vector<std::string>& masks) {
    // Longest first, so a secret that contains another is replaced whole.
    std::vector<const std::string*> order;
    for (const auto& m : masks) {
        if (!m.empty()) order.push_back(&m);
    }
    std::sort(order.begin(), order.end(), [](const std::string* a, const std::string* b) { return a->size() > b->size(); });
    for (const std::string* mask : order) {
        size_t at = 0;
        while ((at = text.find(*mask, at)) != std::string::npos) {
            text.replace(at, mask->size(), k_mask);
            at += k_mask.size();
        }
    }
    return text;
}

nlohmann::json redact(const nlohmann::json& value, const std::vector<std::string>& masks, std::string_view name) {
    if (!name.empty() && sensitive_name(name)) return redact_all(value);
    if (value.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [key, item] : value.items()) out[key] = redact(item, masks, key);
        return out;
    }
    if (value.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : value) out.push_back(redact(item, masks, name));
        return out;
    }
    if (value.is_string()) return redact_text(value.get<std::string>(), masks);
    return value;
}

}  // namespace millrace::scheduler
