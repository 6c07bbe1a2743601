// Configuration: a declared schema of keys, and values layered from defaults,
// a YAML file, MILLRACE_* environment variables and command-line flags, in
// that order of precedence (a later layer overrides an earlier one).
//
// Every key is declared once in a `schema` with its kind, default and help
// text; the schema drives validation, `--help`, the environment variable
// names and the generated `millrace.example.yaml`. Errors name the key and
// where the bad value came from ("bad.yaml:3:5: broker.prot: unknown key").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::config {

enum class value_kind {
    string,
    path,
    boolean,
    integer,      // signed 64-bit, bounded by min/max
    port,         // 0..65535; 0 asks the OS for a free port
    size,         // bytes; accepts suffixes B, KiB, MiB, GiB, TiB
    duration_ms,  // milliseconds; accepts suffixes ms, s, m, h, d
    choice,       // one of `choices`
    string_list,  // YAML sequence, or comma-separated in env and flags
};

struct key_spec {
    std::string key;            // dotted path, e.g. "broker.port"
    value_kind kind = value_kind::string;
    std::string default_value;  // textual, parsed like an env value
    std::string help;           // one or two sentences for --help and the example file
    std::vector<std::string> choices{};
    int64_t min = INT64_MIN;
    int64_t max = INT64_MAX;
};

// The set of declared keys. Keys are kept in declaration order so that help
// and the example file read in a deliberate order.
class schema {
public:
    // Declares a key; adding the same key twice is a bug.
    void add(key_spec spec);
    // Declares a section heading shown in the example file.
    void describe_section(std::string section, std::string help);

    const key_spec* find(std::string_view key) const;
    const std::vector<key_spec>& keys() const { return keys_; }
    std::vector<const key_spec*> keys_in(std::string_view section) const;
    std::string section_help(std::string_view section) const;
    // The closest declared key to a misspelt one, or "" when none is close.
    std::string suggest(std::string_view key) const;

private:
    std::vector<key_spec> keys_;
    std::map<std::string, size_t, std::less<>> index_;
    std::map<std::string, std::string, std::less<>> section_help_;
};

// The environment variable that sets `key`: MILLRACE_ + upper-case, '.' → '_'.
std::string env_name(std::string_view key);

using value = std::variant<bool, int64_t, std::string, std::vector<std::string>>;

// Parses the text form of a value of `spec`'s kind.
result<value> parse_value(const key_spec& spec, std::string_view text);
std::string format_value(const key_spec& spec, const value& v);

// One explicitly set value: from a flag, --set, or a test.
struct override_value {
    std::string key;
    std::string text;
    std::string origin;  // e.g. "flag --port"
};

// A validated, immutable set of values for every key in the schema.
// Thread-safe to read after construction.
class config {
public:
    // Defaults only.
    explicit config(const schema& s);

    // Layers: defaults < YAML file (when `file` is not empty) < `env` entries
    // of the form NAME=VALUE (only MILLRACE_* are read) < `overrides`.
    static result<config> load(const schema& s, const std::string& file,
                               const std::vector<std::string>& env,
                               const std::vector<override_value>& overrides);

    // Whether the schema declares `key` (every declared key has a value).
    bool has(std::string_view key) const { return values_.find(key) != values_.end(); }
    bool get_bool(std::string_view key) const;
    int64_t get_int(std::string_view key) const;     // integer, size, duration_ms
    uint16_t get_port(std::string_view key) const;
    const std::string& get_string(std::string_view key) const;  // string, path, choice
    const std::vector<std::string>& get_list(std::string_view key) const;
    // The value in its text form, as `config show` prints it.
    std::string text(std::string_view key) const;
    // Where the value came from: "default", "file.yaml:3:5", "env MILLRACE_X", "flag --x".
    const std::string& origin(std::string_view key) const;

    // Sets a value after loading (start-up code deriving defaults); parse errors
    // name `origin`.
    status set(std::string_view key, std::string_view text, std::string origin);

    const schema& keys() const { return *schema_; }

private:
    const value& get(std::string_view key) const;
    const schema* schema_;
    std::map<std::string, std::pair<value, std::string>, std::less<>> values_;
};

// The commented YAML file documenting every key with its default.
std::string example_yaml(const schema& s);

}  // namespace millrace::config
