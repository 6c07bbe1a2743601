// The registry's state, rebuilt from the records of the `_schemas` topic.
//
// Records use Confluent Schema Registry's layout, so the topic is readable by
// either registry:
//   key   {"keytype":"SCHEMA","subject":"s","version":1,"magic":1}
//   value {"subject":"s","version":1,"id":7,"schemaType":"JSON","references":[...],"schema":"...","deleted":false}
//         (schemaType omitted for AVRO; a null value is a permanent delete)
//   key   {"keytype":"CONFIG","subject":null|"s","magic":0}  value {"compatibilityLevel":"FULL"} or null
//   key   {"keytype":"MODE","subject":null|"s","magic":0}    value {"mode":"READONLY"} or null
// and one millrace addition, so that ids never repeat after a permanent delete
// of the newest schema followed by a restart (compaction keeps the latest):
//   key   {"keytype":"ID_WATERMARK","magic":0}               value {"max_id":12}
// Not thread-safe: the registry guards it with a mutex.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/avro/json.h"
#include "millrace/common/result.h"

namespace millrace::registry {

struct reference {
    std::string name;
    std::string subject;
    int version = 0;
    bool operator==(const reference&) const = default;
};

struct schema_content {
    std::string type = "AVRO";  // AVRO | JSON
    std::string text;           // normalized schema text
    std::vector<reference> references;
    // The identity used to give the same schema the same id.
    std::string identity() const;
};

struct version_entry {
    int version = 0;
    int id = 0;
    bool deleted = false;  // soft-deleted
};

struct subject_state {
    std::map<int, version_entry> versions;
    std::optional<std::string> compatibility;
    std::optional<std::string> mode;
    // Versions not soft-deleted, in order.
    std::vector<const version_entry*> live() const;
};

class store {
public:
    // Applies one record read from (or just written to) the topic. A record
    // that does not parse is an error (corruption) naming what is wrong; the
    // state is unchanged then. Unknown key types are ignored.
    status apply(std::string_view key, std::optional<std::string_view> value);

    // Record builders (key, value) for the writer.
    static std::string schema_key(const std::string& subject, int version);
    static std::string schema_value(const std::string& subject, int version, int id, const schema_content& content, bool deleted);
    static std::string config_key(const std::optional<std::string>& subject);
    static std::string config_value(const std::string& level);
    static std::string mode_key(const std::optional<std::string>& subject);
    static std::string mode_value(const std::string& mode);
    static std::string watermark_key();
    static std::string watermark_value(int max_id);

    const subject_state* subject(const std::string& name) const;
    const schema_content* schema_by_id(int id) const;
    // The id of a schema with this identity, or 0.
    int id_of(const schema_content& content) const;
    // Subjects with at least one version (deleted ones only when `deleted`).
    std::vector<std::string> subject_names(bool include_deleted) const;
    // (subject, version) pairs that use `id`.
    std::vector<std::pair<std::string, int>> uses_of(int id, bool include_deleted) const;
    // Ids of schemas whose references name (subject, version).
    std::vector<int> referenced_by(const std::string& subject, int version) const;

    int max_id() const { return max_id_; }
    const std::optional<std::string>& global_compatibility() const { return global_compatibility_; }
    const std::optional<std::string>& global_mode() const { return global_mode_; }
    size_t schema_count() const { return schemas_.size(); }

private:
    status apply_schema(const avro::json::value& key, const std::optional<avro::json::value>& value);
    void release(int id);

    std::map<std::string, subject_state> subjects_;
    std::map<int, schema_content> schemas_;
    std::map<int, int> refcount_;
    std::map<std::string, int> id_by_identity_;
    int max_id_ = 0;
    std::optional<std::string> global_compatibility_;
    std::optional<std::string> global_mode_;
};

}  // namespace millrace::registry
