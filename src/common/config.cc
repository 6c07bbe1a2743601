#include "millrace/common/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include <yaml-cpp/yaml.h>

namespace millrace::config {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t col = 0; col <= b.size(); ++col) row[col] = col;
    for (size_t a_idx = 1; a_idx <= a.size(); ++a_idx) {
        size_t diagonal = row[0];
        row[0] = a_idx;
        for (size_t b_idx = 1; b_idx <= b.size(); ++b_idx) {
            size_t above = row[b_idx];
            size_t cost = a[a_idx - 1] == b[b_idx - 1] ? 0 : 1;
            row[b_idx] = std::min({row[b_idx] + 1, row[b_idx - 1] + 1, diagonal + cost});
            diagonal = above;
        }
    }
    return row[b.size()];
}

struct unit {
    std::string_view suffix;
    int64_t factor;
};

// Parses "<integer><suffix>" where suffix is one of `units` (or none: factor 1).
result<int64_t> parse_scaled(std::string_view text, std::initializer_list<unit> units, std::string_view what) {
    text = trim(text);
    int64_t number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end == text.data()) {
        return make_error(errc::invalid_argument, "'{}' is not {}", text, what);
    }
    std::string_view suffix = trim(std::string_view(end, text.data() + text.size() - end));
    if (suffix.empty()) return number;
    for (const auto& u : units) {
        if (u.suffix == suffix) {
            if (number != 0 && (number > INT64_MAX / u.factor || number < INT64_MIN / u.factor)) {
                return make_error(errc::invalid_argument, "'{}' is too large", text);
            }
            return number * u.factor;
        }
    }
    std::string known;
    for (const auto& u : units) known += (known.empty() ? "" : ", ") + std::string(u.suffix);
    return make_error(errc::invalid_argument, "'{}' has unknown unit '{}' (use {})", text, suffix, known);
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        size_t comma = text.find(',');
        auto item = trim(text.substr(0, comma));
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace

void schema::add(key_spec spec) {
    MILLRACE_ASSERT(!index_.contains(spec.key), "config key {} declared twice", spec.key);
    auto parsed = parse_value(spec, spec.default_value);
    MILLRACE_ASSERT(parsed.ok(), "default of {} does not parse: {}", spec.key,
                    parsed.ok() ? "" : parsed.err().message());
    index_.emplace(spec.key, keys_.size());
    keys_.push_back(std::move(spec));
}

void schema::describe_section(std::string section, std::string help) {
    section_help_[std::move(section)] = std::move(help);
}

const key_spec* schema::find(std::string_view key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &keys_[it->second];
}

std::vector<const key_spec*> schema::keys_in(std::string_view section) const {
    std::vector<const key_spec*> out;
    for (const auto& spec : keys_) {
        auto dot = spec.key.rfind('.');
        std::string_view owner = dot == std::string::npos ? std::string_view() : std::string_view(spec.key).substr(0, dot);
        if (owner == section) out.push_back(&spec);
    }
    return out;
}

std::string schema::section_help(std::string_view section) const {
    auto it = section_help_.find(section);
    return it == section_help_.end() ? std::string() : it->second;
}

std::string schema::suggest(std::string_view key) const {
    std::string best;
    size_t best_distance = 4;  // suggest only close matches
    for (const auto& spec : keys_) {
        size_t distance = edit_distance(key, spec.key);
        if (distance < best_distance) {
            best_distance = distance;
            best = spec.key;
        }
    }
    return best;
}

std::string env_name(std::string_view key) {
    std::string out = "MILLRACE_";
    for (char c : key) out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return out;
}

result<value> parse_value(const key_spec& spec, std::string_view raw) {
    std::string_view text = trim(raw);
    switch (spec.kind) {
        case value_kind::string:
        case value_kind::path:
            return value(std::string(raw));
        case value_kind::boolean:
            if (text == "true" || text == "yes" || text == "on" || text == "1") return value(true);
            if (text == "false" || text == "no" || text == "off" || text == "0") return value(false);
            return make_error(errc::invalid_argument, "'{}' is not a boolean (true or false)", text);
        case value_kind::integer:
        case value_kind::size:
        case value_kind::duration_ms: {
            result<int64_t> number =
                spec.kind == value_kind::size
                    ? parse_scaled(text, {{"B", 1}, {"KiB", 1LL << 10}, {"MiB", 1LL << 20}, {"GiB", 1LL << 30}, {"TiB", 1LL << 40}}, "a size in bytes")
                : spec.kind == value_kind::duration_ms
                    ? parse_scaled(text, {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}, "a duration")
                    : parse_scaled(text, {}, "an integer");
            if (!number) return number.err();
            if (*number < spec.min || *number > spec.max) {
                return make_error(errc::invalid_argument, "{} is out of range ({}..{})", *number, spec.min, spec.max);
            }
            return value(*number);
        }
        case value_kind::port: {
            auto number = parse_scaled(text, {}, "a port number");
            if (!number) return number.err();
            if (*number < 0 || *number > 65535) {
                return make_error(errc::invalid_argument, "{} is not a port (0..65535)", *number);
            }
            return value(*number);
        }
        case value_kind::choice:
            if (std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
                std::string options;
                for (const auto& c : spec.choices) options += (options.empty() ? "" : ", ") + c;
                return make_error(errc::invalid_argument, "'{}' is not one of: {}", text, options);
            }
            return value(std::string(text));
        case value_kind::string_list:
            return value(split_list(text));
    }
    return make_error(errc::invalid_argument, "unknown kind");
}

std::string format_value(const key_spec& spec, const value& v) {
    switch (spec.kind) {
        case value_kind::boolean: return std::get<bool>(v) ? "true" : "false";
        case value_kind::integer:
        case value_kind::port:
        case value_kind::size:
        case value_kind::duration_ms: return std::to_string(std::get<int64_t>(v));
        case value_kind::string_list: {
            std::string out;
            for (const auto& item : std::get<std::vector<std::string>>(v)) out += (out.empty() ? "" : ",") + item;
            return out;
        }
        default: return std::get<std::string>(v);
    }
}

config::config(const schema& s) : schema_(&s) {
    for (const auto& spec : s.keys()) {
        values_.emplace(spec.key, std::pair(parse_value(spec, spec.default_value).value(), std::string("default")));
    }
}

status config::set(std::string_view key, std::string_view text, std::string origin) {
    const key_spec* spec = schema_->find(key);
    if (spec == nullptr) {
        std::string hint = schema_->suggest(key);
        return make_error(errc::invalid_argument, "{}: {}: unknown key{}", origin, key,
                          hint.empty() ? "" : fmt::format(" (did you mean {}?)", hint));
    }
    auto parsed = parse_value(*spec, text);
    if (!parsed) return parsed.err().with_context(fmt::format("{}: {}", origin, key));
    values_[spec->key] = {std::move(*parsed), std::move(origin)};
    return {};
}

namespace {

std::string mark_of(const std::string& file, const YAML::Mark& mark) {
    return fmt::format("{}:{}:{}", file, mark.line + 1, mark.column + 1);
}

bool is_section(const schema& s, const std::string& prefix) {
    for (const auto& spec : s.keys()) {
        if (spec.key.size() > prefix.size() && spec.key.compare(0, prefix.size(), prefix) == 0 &&
            spec.key[prefix.size()] == '.') {
            return true;
        }
    }
    return false;
}

status load_yaml_node(config& cfg, const schema& s, const std::string& file, const YAML::Node& node,
                      const std::string& prefix) {
    for (const auto& entry : node) {
        std::string name = entry.first.as<std::string>();
        std::string key = prefix.empty() ? name : prefix + "." + name;
        const YAML::Node& child = entry.second;
        std::string where = mark_of(file, entry.first.Mark());
        if (s.find(key) == nullptr && is_section(s, key)) {
            if (child.IsNull()) continue;  // an empty section
            if (!child.IsMap()) {
                return make_error(errc::invalid_argument, "{}: {}: is a section and needs a mapping of keys", where, key);
            }
            if (auto st = load_yaml_node(cfg, s, file, child, key); !st) return st;
            continue;
        }
        const key_spec* spec = s.find(key);
        if (spec == nullptr) {
            return cfg.set(key, "", where);  // reports unknown key with a suggestion
        }
        std::string value_where = mark_of(file, child.Mark());
        if (child.IsSequence()) {
            if (spec->kind != value_kind::string_list) {
                return make_error(errc::invalid_argument, "{}: {}: expected a single value, found a list", value_where, key);
            }
            std::string joined;
            for (const auto& item : child) {
                if (!item.IsScalar()) {
                    return make_error(errc::invalid_argument, "{}: {}: list items must be plain values",
                                      mark_of(file, item.Mark()), key);
                }
                joined += (joined.empty() ? "" : ",") + item.Scalar();
            }
            if (auto st = cfg.set(key, joined, value_where); !st) return st;
        } else if (child.IsMap()) {
            return make_error(errc::invalid_argument, "{}: {}: expected a value, found a mapping", value_where, key);
        } else {
            std::string text = child.IsNull() ? std::string() : child.Scalar();
            if (auto st = cfg.set(key, text, value_where); !st) return st;
        }
    }
    return {};
}

}  // namespace

result<config> config::load(const schema& s, const std::string& file, const std::vector<std::string>& env,
                            const std::vector<override_value>& overrides) {
    config cfg(s);
    if (!file.empty()) {
        std::ifstream in(file);
        if (!in) {
            return make_error(errc::not_found, "{}: cannot read config file: {}", file, std::strerror(errno));
        }
        YAML::Node root;
        try {
            root = YAML::Load(in);
        } catch (const YAML::Exception& e) {
            return make_error(errc::invalid_argument, "{}: {}", mark_of(file, e.mark), e.msg);
        }
        if (!root.IsNull()) {
            if (!root.IsMap()) {
                return make_error(errc::invalid_argument, "{}: the top level must be a mapping of keys",
                                  mark_of(file, root.Mark()));
            }
            try {
                if (auto st = load_yaml_node(cfg, s, file, root, ""); !st) return st.err();
            } catch (const YAML::Exception& e) {
                return make_error(errc::invalid_argument, "{}: {}", mark_of(file, e.mark), e.msg);
            }
        }
    }
    std::map<std::string, const key_spec*, std::less<>> by_env;
    for (const auto& spec : s.keys()) by_env.emplace(env_name(spec.key), &spec);
    for (const auto& entry : env) {
        if (entry.rfind("MILLRACE_", 0) != 0) continue;
        auto eq = entry.find('=');
        std::string name = entry.substr(0, eq);
        std::string text = eq == std::string::npos ? std::string() : entry.substr(eq + 1);
        if (name == "MILLRACE_CONFIG") continue;
        auto it = by_env.find(name);
        if (it == by_env.end()) {
            std::string hint;
            for (const auto& [candidate, spec] : by_env) {
                if (edit_distance(name, candidate) <= 3) hint = candidate;
            }
            return make_error(errc::invalid_argument, "env {}: unknown setting{}", name,
                              hint.empty() ? "" : fmt::format(" (did you mean {}?)", hint));
        }
        if (auto st = cfg.set(it->second->key, text, "env " + name); !st) return st.err();
    }
    for (const auto& o : overrides) {
        if (auto st = cfg.set(o.key, o.text, o.origin); !st) return st.err();
    }
    return cfg;
}

const value& config::get(std::string_view key) const {
    auto it = values_.find(key);
    MILLRACE_ASSERT(it != values_.end(), "config key {} is not declared", key);
    return it->second.first;
}

bool config::get_bool(std::string_view key) const { return std::get<bool>(get(key)); }
int64_t config::get_int(std::string_view key) const { return std::get<int64_t>(get(key)); }
uint16_t config::get_port(std::string_view key) const { return static_cast<uint16_t>(std::get<int64_t>(get(key))); }
const std::string& config::get_string(std::string_view key) const { return std::get<std::string>(get(key)); }
const std::vector<std::string>& config::get_list(std::string_view key) const {
    return std::get<std::vector<std::string>>(get(key));
}
std::string config::text(std::string_view key) const { return format_value(*schema_->find(key), get(key)); }

const std::string& config::origin(std::string_view key) const {
    auto it = values_.find(key);
    MILLRACE_ASSERT(it != values_.end(), "config key {} is not declared", key);
    return it->second.second;
}

namespace {

std::string yaml_scalar(const key_spec& spec) {
    const std::string& text = spec.default_value;
    if (spec.kind == value_kind::string_list) {
        auto items = split_list(text);
        std::string out = "[";
        for (size_t idx = 0; idx < items.size(); ++idx) out += (idx ? ", " : "") + items[idx];
        return out + "]";
    }
    if (text.empty()) return "\"\"";
    return text;
}

void append_comment(std::string& out, std::string_view indent, std::string_view text) {
    // Wrap at about 88 columns.
    std::string line;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t space = text.find(' ', pos);
        std::string_view word = text.substr(pos, space == std::string_view::npos ? std::string_view::npos : space - pos);
        if (!line.empty() && indent.size() + 2 + line.size() + 1 + word.size() > 88) {
            out += fmt::format("{}# {}\n", indent, line);
            line.clear();
        }
        line += (line.empty() ? "" : " ") + std::string(word);
        if (space == std::string_view::npos) break;
        pos = space + 1;
    }
    if (!line.empty()) out += fmt::format("{}# {}\n", indent, line);
}

std::string kind_note(const key_spec& spec) {
    switch (spec.kind) {
        case value_kind::port: return "port, 0 = any free port";
        case value_kind::size: return "bytes; suffixes KiB, MiB, GiB";
        case value_kind::duration_ms: return "milliseconds; suffixes ms, s, m, h, d";
        case value_kind::boolean: return "true or false";
        case value_kind::path: return "path";
        case value_kind::string_list: return "list";
        case value_kind::choice: {
            std::string out = "one of ";
            for (size_t idx = 0; idx < spec.choices.size(); ++idx) out += (idx ? ", " : "") + spec.choices[idx];
            return out;
        }
        default: return "";
    }
}

}  // namespace

std::string example_yaml(const schema& s) {
    std::string out =
        "# millrace configuration: every key, with its default value.\n"
        "#\n"
        "# Precedence: defaults < this file (--config FILE or MILLRACE_CONFIG) < MILLRACE_*\n"
        "# environment variables < command-line flags. Each key's variable is named below.\n"
        "# Generated by `millrace config example`; do not edit by hand.\n";
    std::vector<std::string> open;  // the path of sections currently open
    for (const auto& spec : s.keys()) {
        std::vector<std::string> parts;
        for (size_t start = 0;;) {
            size_t dot = spec.key.find('.', start);
            parts.push_back(spec.key.substr(start, dot - start));
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
        std::vector<std::string> sections(parts.begin(), parts.end() - 1);
        size_t common = 0;
        while (common < open.size() && common < sections.size() && open[common] == sections[common]) ++common;
        open.resize(common);
        for (size_t depth = common; depth < sections.size(); ++depth) {
            std::string indent(depth * 2, ' ');
            std::string path;
            for (size_t idx = 0; idx <= depth; ++idx) path += (idx ? "." : "") + sections[idx];
            out += "\n";
            if (auto help = s.section_help(path); !help.empty()) append_comment(out, indent, help);
            out += fmt::format("{}{}:\n", indent, sections[depth]);
            open.push_back(sections[depth]);
        }
        std::string indent(sections.size() * 2, ' ');
        if (sections.empty()) out += "\n";
        append_comment(out, indent, spec.help);
        std::string note = kind_note(spec);
        out += fmt::format("{}# ({}env {})\n", indent, note.empty() ? "" : note + "; ", env_name(spec.key));
        out += fmt::format("{}{}: {}\n", indent, parts.back(), yaml_scalar(spec));
    }
    return out;
}

}  // namespace millrace::config
