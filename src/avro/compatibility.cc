#include "millrace/avro/compatibility.h"

#include <algorithm>
#include <set>

namespace millrace::avro {
namespace {

bool names_match(const node& writer, const node& reader) {
    if (writer.name == reader.name || writer.short_name() == reader.short_name()) return true;
    return std::any_of(reader.aliases.begin(), reader.aliases.end(), [&](const std::string& alias) {
        return alias == writer.name || std::string_view(alias).substr(alias.rfind('.') + 1) == writer.short_name();
    });
}

bool promotes(type writer, type reader) {
    if (writer == reader) return true;
    switch (writer) {
        case type::int_: return reader == type::long_ || reader == type::float_ || reader == type::double_;
        case type::long_: return reader == type::float_ || reader == type::double_;
        case type::float_: return reader == type::double_;
        case type::string: return reader == type::bytes;
        case type::bytes: return reader == type::string;
        default: return false;
    }
}

std::string label(const node& n) {
    return is_named(n.type) ? fmt::format("{} \"{}\"", type_name(n.type), n.name) : std::string(type_name(n.type));
}

class checker {
public:
    void check(const node& writer, const node& reader, const std::string& path) {
        if (!seen_.insert({&writer, &reader}).second) return;
        if (writer.type == type::union_) {
            // Every branch the writer may have used must be readable.
            for (size_t idx = 0; idx < writer.branches.size(); ++idx) check(*writer.branches[idx], reader, path);
            return;
        }
        if (reader.type == type::union_) {
            if (int idx = select_branch(writer, reader); idx >= 0) {
                check(writer, *reader.branches[idx], fmt::format("{}/{}", path, idx));
                return;
            }
            add("MISSING_UNION_BRANCH", path, fmt::format("the reader's union has no branch for the writer's {}", label(writer)));
            return;
        }
        if (is_named(writer.type) || is_named(reader.type)) {
            if (writer.type != reader.type) {
                add("TYPE_MISMATCH", path, fmt::format("the writer's {} cannot be read as {}", label(writer), label(reader)));
                return;
            }
            if (!names_match(writer, reader)) {
                add("NAME_MISMATCH", path + "/name",
                    fmt::format("the writer's {} does not match the reader's name \"{}\" (nor its aliases)", label(writer), reader.name));
                return;
            }
        }
        switch (reader.type) {
            case type::record: check_record(writer, reader, path); return;
            case type::enum_: {
                std::vector<std::string> missing;
                for (const auto& s : writer.symbols) {
                    if (std::find(reader.symbols.begin(), reader.symbols.end(), s) == reader.symbols.end()) missing.push_back(s);
                }
                if (!missing.empty() && !reader.enum_default) {
                    add("MISSING_ENUM_SYMBOLS", path + "/symbols",
                        fmt::format("the reader's enum \"{}\" lacks the writer's symbols [{}] and has no default", reader.name,
                                    fmt::join(missing, ", ")));
                }
                return;
            }
            case type::fixed:
                if (writer.size != reader.size) {
                    add("FIXED_SIZE_MISMATCH", path + "/size",
                        fmt::format("fixed \"{}\" is {} bytes for the writer and {} for the reader", reader.name, writer.size, reader.size));
                }
                return;
            case type::array:
            case type::map:
                if (writer.type != reader.type) break;
                check(*writer.items, *reader.items, path + (reader.type == type::array ? "/items" : "/values"));
                return;
            default:
                if (promotes(writer.type, reader.type)) return;
                break;
        }
        add("TYPE_MISMATCH", path, fmt::format("the writer's {} cannot be read as {}", label(writer), label(reader)));
    }

    std::vector<incompatibility> reasons;

private:
    void check_record(const node& writer, const node& reader, const std::string& path) {
        for (size_t idx = 0; idx < reader.fields.size(); ++idx) {
            const field& rf = reader.fields[idx];
            const field* wf = writer.find_field(rf.name);
            for (size_t alias_idx = 0; wf == nullptr && alias_idx < rf.aliases.size(); ++alias_idx) {
                wf = writer.find_field(rf.aliases[alias_idx]);
            }
            std::string field_path = fmt::format("{}/fields/{}", path, idx);
            if (wf == nullptr) {
                if (!rf.default_value) {
                    add("READER_FIELD_MISSING_DEFAULT_VALUE", field_path,
                        fmt::format("the reader's field \"{}\" of record \"{}\" has no default value and is missing from the writer",
                                    rf.name, reader.name));
                }
                continue;
            }
            check(*wf->type, *rf.type, field_path + "/type");
        }
    }

    void add(std::string kind, std::string path, std::string message) {
        reasons.push_back({std::move(kind), path.empty() ? "/" : std::move(path), std::move(message)});
    }

    std::set<std::pair<const node*, const node*>> seen_;
};

}  // namespace

std::string incompatibility::to_string() const { return fmt::format("{} at {}: {}", kind, path, message); }

bool branch_matches(const node& writer, const node& reader) {
    if (is_named(writer.type) || is_named(reader.type)) return writer.type == reader.type && names_match(writer, reader);
    if (writer.type == type::array || writer.type == type::map) return writer.type == reader.type;
    if (writer.type == type::union_ || reader.type == type::union_) return false;
    return promotes(writer.type, reader.type);
}

int select_branch(const node& writer, const node& reader_union) {
    for (size_t idx = 0; idx < reader_union.branches.size(); ++idx) {
        const node& b = *reader_union.branches[idx];
        if (b.type == writer.type && (!is_named(b.type) || names_match(writer, b))) return static_cast<int>(idx);
    }
    for (size_t idx = 0; idx < reader_union.branches.size(); ++idx) {
        if (branch_matches(writer, *reader_union.branches[idx])) return static_cast<int>(idx);
    }
    return -1;
}

std::vector<incompatibility> check_can_read(const node& writer, const node& reader) {
    checker c;
    c.check(writer, reader, "");
    return std::move(c.reasons);
}

}  // namespace millrace::avro
