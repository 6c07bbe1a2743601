#include "service.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <nlohmann/json.hpp>

#include "json_schema.h"
#include "millrace/avro/compatibility.h"
#include "millrace/avro/schema.h"

namespace millrace::registry {
namespace json = avro::json;
namespace {

constexpr const char* k_content_type = "application/vnd.schemaregistry.v1+json";
const std::vector<std::string> k_levels = {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
                                           "FULL_TRANSITIVE"};
const std::vector<std::string> k_modes = {"READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT"};

// Confluent's error codes.
constexpr int k_subject_not_found = 40401;
constexpr int k_version_not_found = 40402;
constexpr int k_schema_not_found = 40403;
constexpr int k_subject_soft_deleted = 40404;
constexpr int k_subject_not_soft_deleted = 40405;
constexpr int k_version_soft_deleted = 40406;
constexpr int k_version_not_soft_deleted = 40407;
constexpr int k_subject_level_compatibility_not_configured = 40408;
constexpr int k_subject_level_mode_not_configured = 40409;
constexpr int k_invalid_schema = 42201;
constexpr int k_invalid_version = 42202;
constexpr int k_invalid_compatibility_level = 42203;
constexpr int k_invalid_mode = 42204;
constexpr int k_operation_not_permitted = 42205;
constexpr int k_reference_exists = 42206;
constexpr int k_store_error = 50001;
constexpr int k_operation_timeout = 50002;
constexpr int k_unavailable = 50003;

http::response reply(int status, const json::value& body) {
    http::response res{status, k_content_type, json::dump(body)};
    return res;
}

http::response fail(int status, int code, std::string message) {
    json::value body = json::value::object();
    body.set("error_code", json::value::from_int(code));
    body.set("message", json::value::from_string(std::move(message)));
    return reply(status, body);
}

bool flag(const http::request& req, std::string_view name) {
    const std::string* v = req.param(name);
    return v != nullptr && (*v == "true" || *v == "1" || v->empty());
}

std::string upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    return text;
}

// "latest" and -1 mean the newest live version (0 here); other values must be 1..2^31-1.
std::optional<int> parse_version(const std::string& text) {
    if (text == "latest" || text == "-1") return 0;
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < 1) return std::nullopt;
    return v;
}

http::response invalid_version(const std::string& text) {
    return fail(422, k_invalid_version,
                fmt::format("The specified version '{}' is not a valid version id. Allowed values are between [1, 2^31-1] and the "
                            "string \"latest\"",
                            text));
}

json::value string_array(const std::vector<std::string>& items) {
    json::value out = json::value::array();
    for (const auto& item : items) out.items.push_back(json::value::from_string(item));
    return out;
}

json::value references_json(const std::vector<reference>& refs) {
    json::value out = json::value::array();
    for (const auto& ref : refs) {
        json::value r = json::value::object();
        r.set("name", json::value::from_string(ref.name));
        r.set("subject", json::value::from_string(ref.subject));
        r.set("version", json::value::from_int(ref.version));
        out.items.push_back(std::move(r));
    }
    return out;
}

void add_content(json::value& out, const schema_content& content) {
    if (content.type != "AVRO") out.set("schemaType", json::value::from_string(content.type));
    if (!content.references.empty()) out.set("references", references_json(content.references));
    out.set("schema", json::value::from_string(content.text));
}

// A parsed schema of either type, for compatibility checks.
struct parsed_schema {
    std::string type;
    std::optional<avro::schema> avro;
    json::value json_doc;
};

}  // namespace

struct service::request_info {
    enum class op {
        root, subjects, versions, version, version_schema, referenced_by, delete_version, delete_subject, register_schema, lookup,
        schema, schema_raw, schema_versions, schema_subjects, schema_types, all_schemas, compat_version, compat_all, config,
        config_subject, put_config, put_config_subject, delete_config, delete_config_subject, mode, mode_subject, put_mode,
        put_mode_subject, delete_mode_subject
    };
    op kind = op::root;
    std::string subject;
    std::string version;  // or schema id
    bool write = false;
};

service::service(service_options options, metrics::registry& metrics)
    : options_(std::move(options)),
      log_topic_(options_.bootstrap, options_.kafka_properties, options_.topic, options_.replication_factor, stop_requested_),
      requests_(metrics.make_counter("millrace_registry_requests_total", "REST requests received.")),
      registrations_(metrics.make_counter("millrace_registry_registrations_total", "Schemas registered as new versions.")),
      corrupt_records_(metrics.make_counter("millrace_registry_corrupt_records_total", "Records of the schemas topic skipped as corrupt.")) {
    metrics.make_callback_gauge("millrace_registry_schemas", "Schemas (distinct ids) known.", {}, [this] {
        std::lock_guard lock(mutex_);
        return static_cast<double>(store_.schema_count());
    });
}

service::~service() { stop(); }

bool service::loaded() const {
    std::lock_guard lock(mutex_);
    return loaded_;
}

void service::add_routes(http::server& server) {
    // What Confluent's clients send (the Java and Python clients, @kafkajs/confluent-schema-registry),
    // beside application/json.
    server.accept_content_type("application/vnd.schemaregistry.v1+json");
    server.accept_content_type("application/vnd.schemaregistry+json");
    using op = request_info::op;
    struct route {
        const char* method;
        const char* path;  // {subject}, and {version} for a version or a schema id
        op kind;
    };
    static constexpr route k_routes[] = {
        {"GET", "/", op::root},
        {"GET", "/subjects", op::subjects},
        {"POST", "/subjects/{subject}", op::lookup},
        {"DELETE", "/subjects/{subject}", op::delete_subject},
        {"GET", "/subjects/{subject}/versions", op::versions},
        {"POST", "/subjects/{subject}/versions", op::register_schema},
        {"GET", "/subjects/{subject}/versions/{version}", op::version},
        {"DELETE", "/subjects/{subject}/versions/{version}", op::delete_version},
        {"GET", "/subjects/{subject}/versions/{version}/schema", op::version_schema},
        {"GET", "/subjects/{subject}/versions/{version}/referencedby", op::referenced_by},
        {"GET", "/schemas", op::all_schemas},
        {"GET", "/schemas/types", op::schema_types},
        {"GET", "/schemas/ids/{version}", op::schema},
        {"GET", "/schemas/ids/{version}/schema", op::schema_raw},
        {"GET", "/schemas/ids/{version}/versions", op::schema_versions},
        {"GET", "/schemas/ids/{version}/subjects", op::schema_subjects},
        {"POST", "/compatibility/subjects/{subject}/versions", op::compat_all},
        {"POST", "/compatibility/subjects/{subject}/versions/{version}", op::compat_version},
        {"GET", "/config", op::config},
        {"PUT", "/config", op::put_config},
        {"DELETE", "/config", op::delete_config},
        {"GET", "/config/{subject}", op::config_subject},
        {"PUT", "/config/{subject}", op::put_config_subject},
        {"DELETE", "/config/{subject}", op::delete_config_subject},
        {"GET", "/mode", op::mode},
        {"PUT", "/mode", op::put_mode},
        {"GET", "/mode/{subject}", op::mode_subject},
        {"PUT", "/mode/{subject}", op::put_mode_subject},
        {"DELETE", "/mode/{subject}", op::delete_mode_subject},
    };
    for (const auto& r : k_routes) {
        server.route_async(r.method, r.path, [this, kind = r.kind](const http::request& req, http::responder respond) {
            if (kind == op::root && req.path != "/") {  // "/" is also the server's catch-all for GET
                requests_.inc();
                return respond(fail(404, 404, "HTTP 404 Not Found"));
            }
            request_info info;
            info.kind = kind;
            info.subject = req.path_param("subject");
            info.version = req.path_param("version");
            handle(info, req, std::move(respond));
        });
    }
    // Confluent's error body for paths and methods it does not serve.
    server.on_miss([this](const http::request&, int status) {
        requests_.inc();
        return status == 405 ? fail(405, 405, "HTTP 405 Method Not Allowed") : fail(404, 404, "HTTP 404 Not Found");
    });
}

void service::start() {
    writer_ = std::thread([this] { run_writer(); });
}

void service::stop() {
    stop_requested_ = true;
    {
        std::lock_guard lock(queue_mutex_);
        if (stopping_ && !writer_.joinable()) return;
        stopping_ = true;
    }
    queue_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    log_topic_.close();  // before the broker stops: a clean stop logs no "brokers are down"
}

void service::enqueue(std::function<void()> task) {
    {
        std::lock_guard lock(queue_mutex_);
        if (!stopping_) {
            queue_.push_back(std::move(task));
            queue_cv_.notify_one();
            return;
        }
    }
    task();  // not reached in practice: the server stops before the service
}

bool service::load() {
    std::unique_lock lock(mutex_);
    store_ = store{};
    lock.unlock();
    if (auto st = log_topic_.open(options_.kafka_timeout_ms); !st) {
        if (!stop_requested_) log_.warn("{}; retrying", st.err().message());
        return false;
    }
    int64_t records = 0;
    auto st = log_topic_.read_all(
        [&](int64_t offset, const std::string& key, const std::optional<std::string>& value) {
            std::lock_guard guard(mutex_);
            ++records;
            if (auto applied = store_.apply(key, value); !applied) {
                corrupt_records_.inc();
                log_.warn("skipping corrupt record at offset {} of {}: {}", offset, options_.topic, applied.err().message());
            }
        },
        options_.kafka_timeout_ms);
    if (!st) {
        if (!stop_requested_) log_.warn("{}; retrying", st.err().message());
        return false;
    }
    lock.lock();
    loaded_ = true;
    log_.info("read {} records of {} from {}: {} schemas, next id {}", records, options_.topic, options_.bootstrap,
              store_.schema_count(), store_.max_id() + 1);
    return true;
}

void service::run_writer() {
    int attempt = 0;
    for (;;) {
        {
            std::unique_lock lock(queue_mutex_);
            if (stopping_) break;
        }
        if (load()) break;
        ++attempt;
        std::unique_lock lock(queue_mutex_);
        queue_cv_.wait_for(lock, std::chrono::milliseconds(std::min(5000, 250 * attempt)), [this] { return stopping_; });
    }
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock lock(queue_mutex_);
            queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) break;
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        task();
    }
    // Answer what is left so no connection waits for nothing.
    std::deque<std::function<void()>> left;
    {
        std::lock_guard lock(queue_mutex_);
        left.swap(queue_);
    }
    for (auto& task : left) task();
}

void service::handle(request_info info, const http::request& req, http::responder respond) {
    requests_.inc();
    using op = request_info::op;
    switch (info.kind) {
        case op::delete_version: case op::delete_subject: case op::register_schema: case op::put_config:
        case op::put_config_subject: case op::delete_config: case op::delete_config_subject: case op::put_mode:
        case op::put_mode_subject: case op::delete_mode_subject:
            info.write = true;
            break;
        default: break;
    }
    if (!info.write) {
        std::unique_lock lock(mutex_);
        if (loaded_) {
            respond(execute(info, req));
            return;
        }
    }
    enqueue([this, info, req, respond = std::move(respond)] {
        bool stopping;
        {
            std::lock_guard lock(queue_mutex_);
            stopping = stopping_;
        }
        if (stopping || !loaded()) {
            respond(fail(503, k_unavailable, "the schema registry is stopping"));
            return;
        }
        if (info.write) {
            respond(execute(info, req));
        } else {
            std::unique_lock lock(mutex_);
            respond(execute(info, req));
        }
    });
}

http::response service::execute(const request_info& info, const http::request& req) {
    using op = request_info::op;
    switch (info.kind) {
        case op::root: return reply(200, json::value::object());
        case op::subjects: return get_subjects(req);
        case op::versions: return get_versions(info.subject, req);
        case op::version: return get_version(info.subject, info.version, req, false);
        case op::version_schema: return get_version(info.subject, info.version, req, true);
        case op::referenced_by: return get_referenced_by(info.subject, info.version);
        case op::lookup: return lookup(info.subject, req);
        case op::schema: return get_schema(info.version, false);
        case op::schema_raw: return get_schema(info.version, true);
        case op::schema_versions: return get_schema_uses(info.version, false, req);
        case op::schema_subjects: return get_schema_uses(info.version, true, req);
        case op::schema_types: return reply(200, string_array({"JSON", "AVRO"}));
        case op::all_schemas: return get_all_schemas(req);
        case op::compat_version: return test_compatibility(info.subject, &info.version, req);
        case op::compat_all: return test_compatibility(info.subject, nullptr, req);
        case op::config: return get_config(nullptr, req);
        case op::config_subject: return get_config(&info.subject, req);
        case op::mode: return get_mode(nullptr);
        case op::mode_subject: return get_mode(&info.subject);
        case op::register_schema: return register_schema(info.subject, req);
        case op::delete_version: return delete_version(info.subject, info.version, req);
        case op::delete_subject: return delete_subject(info.subject, req);
        case op::put_config: return put_config(nullptr, req);
        case op::put_config_subject: return put_config(&info.subject, req);
        case op::delete_config: return delete_config(nullptr);
        case op::delete_config_subject: return delete_config(&info.subject);
        case op::put_mode: return put_mode(nullptr, req);
        case op::put_mode_subject: return put_mode(&info.subject, req);
        case op::delete_mode_subject: return delete_mode(info.subject);
    }
    return fail(500, 50001, "unhandled registry operation");
}

std::optional<http::response> service::write(std::unique_lock<std::mutex>& lock, const std::string& key,
                                             const std::optional<std::string>& value) {
    lock.unlock();
    auto offset = log_topic_.append(key, value, options_.kafka_timeout_ms);
    lock.lock();
    if (!offset) {
        log_.error("{}", offset.err().message());
        if (offset.err().code() == errc::timed_out) {
            return fail(500, k_operation_timeout, "Write to the Kafka store timed out: " + offset.err().message());
        }
        return fail(500, k_store_error, "Error while writing to the Kafka store: " + offset.err().message());
    }
    if (auto st = store_.apply(key, value); !st) {
        return fail(500, k_store_error, "Error applying a record just written: " + st.err().message());
    }
    return std::nullopt;
}

std::string service::level_of(const std::string& subject) const {
    if (const subject_state* s = store_.subject(subject); s && s->compatibility) return *s->compatibility;
    return store_.global_compatibility().value_or(options_.default_compatibility);
}

std::string service::mode_of(const std::string& subject) const {
    if (const subject_state* s = store_.subject(subject); s && s->mode) return *s->mode;
    return store_.global_mode().value_or("READWRITE");
}

// ---- reads ------------------------------------------------------------------

http::response service::get_subjects(const http::request& req) {
    std::vector<std::string> names = store_.subject_names(flag(req, "deleted"));
    if (const std::string* prefix = req.param("subjectPrefix")) {
        std::erase_if(names, [&](const std::string& name) { return name.rfind(*prefix, 0) != 0; });
    }
    return reply(200, string_array(names));
}

http::response service::get_versions(const std::string& subject, const http::request& req) {
    const subject_state* s = store_.subject(subject);
    bool deleted = flag(req, "deleted");
    json::value out = json::value::array();
    if (s != nullptr) {
        for (const auto& [number, entry] : s->versions) {
            if (deleted || !entry.deleted) out.items.push_back(json::value::from_int(number));
        }
    }
    if (out.items.empty()) return fail(404, k_subject_not_found, fmt::format("Subject '{}' not found.", subject));
    return reply(200, out);
}

namespace {

// Finds a version: 0 means the newest live one. nullptr with `error` set when it does not exist.
const version_entry* find_version(const subject_state* s, const std::string& subject, int number, bool include_deleted,
                                  std::optional<http::response>& error) {
    if (s == nullptr || (s->live().empty() && !(include_deleted && !s->versions.empty()))) {
        error = fail(404, k_subject_not_found, fmt::format("Subject '{}' not found.", subject));
        return nullptr;
    }
    if (number == 0) {
        for (auto it = s->versions.rbegin(); it != s->versions.rend(); ++it) {
            if (include_deleted || !it->second.deleted) return &it->second;
        }
        error = fail(404, k_version_not_found, "Version latest not found.");
        return nullptr;
    }
    auto it = s->versions.find(number);
    if (it == s->versions.end() || (it->second.deleted && !include_deleted)) {
        error = fail(404, k_version_not_found, fmt::format("Version {} not found.", number));
        return nullptr;
    }
    return &it->second;
}

}  // namespace

http::response service::get_version(const std::string& subject, const std::string& version, const http::request& req, bool raw) {
    auto number = parse_version(version);
    if (!number) return invalid_version(version);
    std::optional<http::response> error;
    const version_entry* entry = find_version(store_.subject(subject), subject, *number, flag(req, "deleted"), error);
    if (entry == nullptr) return *error;
    const schema_content* content = store_.schema_by_id(entry->id);
    if (content == nullptr) return fail(404, k_schema_not_found, fmt::format("Schema {} not found", entry->id));
    if (raw) return http::response{200, k_content_type, content->text};
    json::value out = json::value::object();
    out.set("subject", json::value::from_string(subject));
    out.set("version", json::value::from_int(entry->version));
    out.set("id", json::value::from_int(entry->id));
    add_content(out, *content);
    return reply(200, out);
}

http::response service::get_referenced_by(const std::string& subject, const std::string& version) {
    auto number = parse_version(version);
    if (!number) return invalid_version(version);
    std::optional<http::response> error;
    const version_entry* entry = find_version(store_.subject(subject), subject, *number, false, error);
    if (entry == nullptr) return *error;
    json::value out = json::value::array();
    for (int id : store_.referenced_by(subject, entry->version)) out.items.push_back(json::value::from_int(id));
    return reply(200, out);
}

http::response service::get_schema(const std::string& id_text, bool raw) {
    int id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    const schema_content* content = ec == std::errc() && end == id_text.data() + id_text.size() ? store_.schema_by_id(id) : nullptr;
    if (content == nullptr) return fail(404, k_schema_not_found, fmt::format("Schema {} not found", id_text));
    if (raw) return http::response{200, k_content_type, content->text};
    json::value out = json::value::object();
    add_content(out, *content);
    return reply(200, out);
}

http::response service::get_schema_uses(const std::string& id_text, bool subjects_only, const http::request& req) {
    int id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || end != id_text.data() + id_text.size() || store_.schema_by_id(id) == nullptr) {
        return fail(404, k_schema_not_found, fmt::format("Schema {} not found", id_text));
    }
    json::value out = json::value::array();
    std::set<std::string> seen;
    for (const auto& [subject, version] : store_.uses_of(id, flag(req, "deleted"))) {
        if (subjects_only) {
            if (seen.insert(subject).second) out.items.push_back(json::value::from_string(subject));
            continue;
        }
        json::value item = json::value::object();
        item.set("subject", json::value::from_string(subject));
        item.set("version", json::value::from_int(version));
        out.items.push_back(std::move(item));
    }
    return reply(200, out);
}

http::response service::get_all_schemas(const http::request& req) {
    bool latest_only = flag(req, "latestOnly");
    const std::string* prefix = req.param("subjectPrefix");
    json::value out = json::value::array();
    for (const auto& subject : store_.subject_names(false)) {
        if (prefix != nullptr && subject.rfind(*prefix, 0) != 0) continue;
        auto live = store_.subject(subject)->live();
        for (size_t idx = latest_only ? live.size() - 1 : 0; idx < live.size(); ++idx) {
            const schema_content* content = store_.schema_by_id(live[idx]->id);
            if (content == nullptr) continue;
            json::value item = json::value::object();
            item.set("subject", json::value::from_string(subject));
            item.set("version", json::value::from_int(live[idx]->version));
            item.set("id", json::value::from_int(live[idx]->id));
            add_content(item, *content);
            out.items.push_back(std::move(item));
        }
    }
    return reply(200, out);
}

// ---- schema parsing and compatibility ------------------------------------------

namespace {

struct registration {
    schema_content content;
    parsed_schema parsed;
    nlohmann::json body;  // the request (checked by http::server: JSON, bounded depth)
};

// A request body: one JSON object, parsed by nlohmann/json (the one JSON library for request bodies).
std::optional<nlohmann::json> parse_body(const std::string& text) {
    auto body = nlohmann::json::parse(text, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return std::nullopt;
    return body;
}

// The string member `name` of `body`, or nullptr.
const std::string* string_member(const nlohmann::json& body, const char* name) {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

// Collects the texts of `refs` and, first, of their own references (Avro needs named types defined before use).
status collect_references(const store& st, const std::vector<reference>& refs, std::vector<std::string>& texts,
                          std::set<std::pair<std::string, int>>& seen, int depth) {
    if (depth > 32) return make_error(errc::invalid_argument, "references nested deeper than 32 levels");
    for (const auto& ref : refs) {
        if (!seen.insert({ref.subject, ref.version}).second) continue;
        const subject_state* s = st.subject(ref.subject);
        const version_entry* entry = nullptr;
        if (s != nullptr) {
            if (ref.version == -1) {
                auto live = s->live();
                if (!live.empty()) entry = live.back();
            } else if (auto it = s->versions.find(ref.version); it != s->versions.end() && !it->second.deleted) {
                entry = &it->second;
            }
        }
        const schema_content* content = entry ? st.schema_by_id(entry->id) : nullptr;
        if (content == nullptr) {
            return make_error(errc::not_found, "reference \"{}\" to subject '{}' version {} not found", ref.name, ref.subject, ref.version);
        }
        if (auto nested = collect_references(st, content->references, texts, seen, depth + 1); !nested) return nested;
        texts.push_back(content->text);
    }
    return {};
}

result<parsed_schema> parse_content(const store& st, schema_content& content) {
    parsed_schema out;
    out.type = content.type;
    if (content.type == "AVRO") {
        std::vector<std::string> texts;
        std::set<std::pair<std::string, int>> seen;
        if (auto refs = collect_references(st, content.references, texts, seen, 0); !refs) return refs.err();
        auto schema = avro::schema::parse(content.text, texts);
        if (!schema) return schema.err();
        content.text = schema->normalized();
        out.avro = std::move(*schema);
    } else if (content.type == "JSON") {
        std::vector<std::string> texts;
        std::set<std::pair<std::string, int>> seen;
        if (auto refs = collect_references(st, content.references, texts, seen, 0); !refs) return refs.err();
        auto doc = json_schema::parse(content.text);
        if (!doc) return doc.err();
        content.text = json::dump(*doc);
        out.json_doc = std::move(*doc);
    } else {
        return make_error(errc::unsupported, "schema type {} is not supported (AVRO, JSON)", content.type);
    }
    return out;
}

// Reasons `reader` cannot read what `writer` wrote.
std::vector<std::string> reasons_can_read(const parsed_schema& writer, const parsed_schema& reader) {
    std::vector<std::string> out;
    if (writer.type != reader.type) {
        out.push_back(fmt::format("TYPE_MISMATCH at /: schema type {} cannot be compared with {}", writer.type, reader.type));
        return out;
    }
    if (reader.type == "AVRO") {
        for (const auto& reason : avro::check_can_read(writer.avro->root(), reader.avro->root())) out.push_back(reason.to_string());
    } else {
        out = json_schema::check_can_read(writer.json_doc, reader.json_doc);
    }
    return out;
}

// Checks `candidate` against `existing` (oldest first) under `level`; returns the reasons it is incompatible.
std::vector<std::string> check_level(const std::string& level, const parsed_schema& candidate,
                                     const std::vector<std::pair<int, parsed_schema>>& existing) {
    std::vector<std::string> out;
    if (level == "NONE" || existing.empty()) return out;
    bool transitive = level.find("_TRANSITIVE") != std::string::npos;
    bool backward = level.rfind("BACKWARD", 0) == 0 || level.rfind("FULL", 0) == 0;
    bool forward = level.rfind("FORWARD", 0) == 0 || level.rfind("FULL", 0) == 0;
    size_t first = transitive ? 0 : existing.size() - 1;
    for (size_t idx = existing.size(); idx-- > first;) {
        const auto& [version, old] = existing[idx];
        if (backward) {
            for (auto& reason : reasons_can_read(old, candidate)) {
                out.push_back(fmt::format("{{oldSchemaVersion: {}, direction: BACKWARD (the new schema cannot read data written with the "
                                          "old one), {}}}",
                                          version, reason));
            }
        }
        if (forward) {
            for (auto& reason : reasons_can_read(candidate, old)) {
                out.push_back(fmt::format("{{oldSchemaVersion: {}, direction: FORWARD (the old schema cannot read data written with the "
                                          "new one), {}}}",
                                          version, reason));
            }
        }
    }
    return out;
}

// Reads {"schema": "...", "schemaType": "...", "references": [...]} into `out`; an error response when malformed.
std::optional<http::response> read_registration(const store& st, const http::request& req, registration& out) {
    auto body = parse_body(req.body);
    if (!body) return fail(400, 400, "Unrecognized request body: the request body must be a JSON object");
    const std::string* schema = string_member(*body, "schema");
    if (schema == nullptr) {
        return fail(422, k_invalid_schema, "Invalid schema: the request needs a \"schema\" string member");
    }
    out.content.text = *schema;
    if (auto type = body->find("schemaType"); type != body->end() && !type->is_null()) {
        if (!type->is_string()) return fail(422, k_invalid_schema, "Invalid schema: \"schemaType\" must be a string");
        out.content.type = upper(type->get<std::string>());
    }
    if (auto refs = body->find("references"); refs != body->end() && !refs->is_null()) {
        if (!refs->is_array()) return fail(422, k_invalid_schema, "Invalid schema: \"references\" must be an array");
        for (const auto& r : *refs) {
            const std::string* name = r.is_object() ? string_member(r, "name") : nullptr;
            const std::string* subject = r.is_object() ? string_member(r, "subject") : nullptr;
            auto version = r.is_object() ? r.find("version") : r.end();
            if (!name || !subject || version == r.end() || !version->is_number_integer()) {
                return fail(422, k_invalid_schema, "Invalid schema: a reference needs \"name\", \"subject\" and an integer \"version\"");
            }
            // Read wide, then range-checked: get<int> would silently truncate 2^32+1 to 1.
            int64_t number = version->is_number_unsigned() && version->get<uint64_t>() > uint64_t(INT64_MAX)
                                 ? INT64_MAX
                                 : version->get<int64_t>();
            if (number != -1 && (number < 1 || number > INT32_MAX)) {
                return fail(422, k_invalid_schema,
                            fmt::format("Invalid schema: reference '{}' has version {}, not in [1, 2^31-1] (or -1 for the latest)",
                                        *name, version->dump()));
            }
            out.content.references.push_back({*name, *subject, static_cast<int>(number)});
        }
    }
    auto parsed = parse_content(st, out.content);
    if (!parsed) {
        if (parsed.err().code() == errc::not_found) return fail(422, k_invalid_schema, "Invalid schema: " + parsed.err().message());
        return fail(422, k_invalid_schema, fmt::format("Invalid schema {}: {}", schema->substr(0, 200), parsed.err().message()));
    }
    out.parsed = std::move(*parsed);
    out.body = std::move(*body);
    return std::nullopt;
}

std::vector<std::pair<int, parsed_schema>> live_parsed(const store& st, const subject_state* s) {
    std::vector<std::pair<int, parsed_schema>> out;
    if (s == nullptr) return out;
    for (const version_entry* entry : s->live()) {
        const schema_content* stored = st.schema_by_id(entry->id);
        if (stored == nullptr) continue;
        schema_content copy = *stored;
        auto parsed = parse_content(st, copy);
        if (parsed) out.emplace_back(entry->version, std::move(*parsed));
    }
    return out;
}

}  // namespace

http::response service::lookup(const std::string& subject, const http::request& req) {
    registration reg;
    if (auto error = read_registration(store_, req, reg)) return *error;
    const subject_state* s = store_.subject(subject);
    bool deleted = flag(req, "deleted");
    if (s == nullptr || (s->live().empty() && !deleted)) return fail(404, k_subject_not_found, fmt::format("Subject '{}' not found.", subject));
    for (auto it = s->versions.rbegin(); it != s->versions.rend(); ++it) {
        const version_entry& entry = it->second;
        if (entry.deleted && !deleted) continue;
        const schema_content* content = store_.schema_by_id(entry.id);
        if (content != nullptr && content->identity() == reg.content.identity()) {
            json::value out = json::value::object();
            out.set("subject", json::value::from_string(subject));
            out.set("version", json::value::from_int(entry.version));
            out.set("id", json::value::from_int(entry.id));
            add_content(out, *content);
            return reply(200, out);
        }
    }
    return fail(404, k_schema_not_found, "Schema not found");
}

http::response service::test_compatibility(const std::string& subject, const std::string* version, const http::request& req) {
    registration reg;
    if (auto error = read_registration(store_, req, reg)) return *error;
    const subject_state* s = store_.subject(subject);
    std::vector<std::pair<int, parsed_schema>> against;
    std::string level = level_of(subject);
    if (version != nullptr) {
        auto number = parse_version(*version);
        if (!number) return invalid_version(*version);
        std::optional<http::response> error;
        const version_entry* entry = find_version(s, subject, *number, false, error);
        if (entry == nullptr) return *error;
        auto all = live_parsed(store_, s);
        for (auto& item : all) {
            if (item.first == entry->version) against.push_back(std::move(item));
        }
        // One named version: the level's direction, without transitivity.
        size_t pos = level.find("_TRANSITIVE");
        if (pos != std::string::npos) level.erase(pos);
    } else {
        against = live_parsed(store_, s);
    }
    std::vector<std::string> reasons = check_level(level, reg.parsed, against);
    json::value out = json::value::object();
    out.set("is_compatible", json::value::from_bool(reasons.empty()));
    if (flag(req, "verbose")) out.set("messages", string_array(reasons));
    return reply(200, out);
}

http::response service::get_config(const std::string* subject, const http::request& req) {
    json::value out = json::value::object();
    if (subject == nullptr) {
        out.set("compatibilityLevel", json::value::from_string(store_.global_compatibility().value_or(options_.default_compatibility)));
        return reply(200, out);
    }
    const subject_state* s = store_.subject(*subject);
    if (s != nullptr && s->compatibility) {
        out.set("compatibilityLevel", json::value::from_string(*s->compatibility));
    } else if (flag(req, "defaultToGlobal")) {
        out.set("compatibilityLevel", json::value::from_string(store_.global_compatibility().value_or(options_.default_compatibility)));
    } else {
        return fail(404, k_subject_level_compatibility_not_configured,
                    fmt::format("Subject '{}' does not have subject-level compatibility configured", *subject));
    }
    return reply(200, out);
}

http::response service::get_mode(const std::string* subject) {
    json::value out = json::value::object();
    if (subject == nullptr) {
        out.set("mode", json::value::from_string(store_.global_mode().value_or("READWRITE")));
        return reply(200, out);
    }
    const subject_state* s = store_.subject(*subject);
    if (s == nullptr || !s->mode) {
        return fail(404, k_subject_level_mode_not_configured, fmt::format("Subject '{}' does not have subject-level mode configured", *subject));
    }
    out.set("mode", json::value::from_string(*s->mode));
    return reply(200, out);
}

// ---- writes -------------------------------------------------------------------

http::response service::register_schema(const std::string& subject, const http::request& req) {
    std::unique_lock lock(mutex_);
    std::string mode = mode_of(subject);
    if (mode == "READONLY" || mode == "READONLY_OVERRIDE") {
        return fail(422, k_operation_not_permitted, fmt::format("Subject {} is in read-only mode", subject));
    }
    registration reg;
    if (auto error = read_registration(store_, req, reg)) return *error;
    const subject_state* s = store_.subject(subject);
    int requested_id = 0;
    int requested_version = 0;
    if (auto id = reg.body.find("id"); id != reg.body.end() && id->is_number_integer() && id->get<int64_t>() > 0) {
        requested_id = static_cast<int>(id->get<int64_t>());
    }
    if (auto v = reg.body.find("version"); v != reg.body.end() && v->is_number_integer() && v->get<int64_t>() > 0) {
        requested_version = static_cast<int>(v->get<int64_t>());
    }
    if (requested_id != 0 && mode != "IMPORT") {
        return fail(422, k_operation_not_permitted, fmt::format("Subject {} is not in import mode; an id cannot be given", subject));
    }
    // The same schema again answers with its id.
    if (s != nullptr) {
        for (const version_entry* entry : s->live()) {
            const schema_content* content = store_.schema_by_id(entry->id);
            if (content != nullptr && content->identity() == reg.content.identity()) {
                json::value out = json::value::object();
                out.set("id", json::value::from_int(entry->id));
                return reply(200, out);
            }
        }
    }
    if (mode != "IMPORT") {
        std::vector<std::string> reasons = check_level(level_of(subject), reg.parsed, live_parsed(store_, s));
        if (!reasons.empty()) {
            std::string details;
            for (const auto& reason : reasons) details += (details.empty() ? "" : ", ") + reason;
            return fail(409, 409,
                        fmt::format("Schema being registered is incompatible with an earlier schema for subject \"{}\", details: [{}]", subject,
                                    details));
        }
    }
    int id = store_.id_of(reg.content);
    if (requested_id != 0) {
        const schema_content* taken = store_.schema_by_id(requested_id);
        if (taken != nullptr && taken->identity() != reg.content.identity()) {
            return fail(422, k_operation_not_permitted, fmt::format("Overwrite new schema with id {} is not permitted.", requested_id));
        }
        id = requested_id;
    }
    if (id == 0) id = store_.max_id() + 1;
    int version = requested_version;
    if (version == 0) version = (s == nullptr || s->versions.empty()) ? 1 : s->versions.rbegin()->first + 1;
    if (s != nullptr && s->versions.count(version) && requested_version != 0) {
        return fail(422, k_invalid_version, fmt::format("Version {} of subject {} already exists", version, subject));
    }
    if (auto error = write(lock, store::schema_key(subject, version), store::schema_value(subject, version, id, reg.content, false))) {
        return *error;
    }
    registrations_.inc();
    log_.info("registered schema id {} as version {} of subject '{}'", id, version, subject);
    json::value out = json::value::object();
    out.set("id", json::value::from_int(id));
    return reply(200, out);
}

http::response service::delete_version(const std::string& subject, const std::string& version_text, const http::request& req) {
    std::unique_lock lock(mutex_);
    auto number = parse_version(version_text);
    if (!number) return invalid_version(version_text);
    if (mode_of(subject) == "READONLY") return fail(422, k_operation_not_permitted, fmt::format("Subject {} is in read-only mode", subject));
    bool permanent = flag(req, "permanent");
    std::optional<http::response> error;
    const version_entry* entry = find_version(store_.subject(subject), subject, *number, permanent || *number != 0, error);
    if (entry == nullptr) return *error;
    version_entry found = *entry;
    if (!permanent && found.deleted) {
        return fail(404, k_version_soft_deleted,
                    fmt::format("Subject '{}' Version {} was soft deleted.Set permanent=true to delete permanently", subject, found.version));
    }
    if (!store_.referenced_by(subject, found.version).empty()) {
        return fail(422, k_reference_exists,
                    fmt::format("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={},version={}}}.", subject,
                                found.version));
    }
    const schema_content* content = store_.schema_by_id(found.id);
    if (permanent) {
        if (!found.deleted) {
            return fail(404, k_version_not_soft_deleted,
                        fmt::format("Subject '{}' Version {} was not deleted first before being permanently deleted", subject, found.version));
        }
        if (auto e = write(lock, store::watermark_key(), store::watermark_value(store_.max_id()))) return *e;
        if (auto e = write(lock, store::schema_key(subject, found.version), std::nullopt)) return *e;
    } else {
        if (content == nullptr) return fail(404, k_schema_not_found, fmt::format("Schema {} not found", found.id));
        schema_content copy = *content;
        if (auto e = write(lock, store::schema_key(subject, found.version), store::schema_value(subject, found.version, found.id, copy, true))) {
            return *e;
        }
    }
    return reply(200, json::value::from_int(found.version));
}

http::response service::delete_subject(const std::string& subject, const http::request& req) {
    std::unique_lock lock(mutex_);
    if (mode_of(subject) == "READONLY") return fail(422, k_operation_not_permitted, fmt::format("Subject {} is in read-only mode", subject));
    bool permanent = flag(req, "permanent");
    const subject_state* s = store_.subject(subject);
    if (s == nullptr || s->versions.empty()) return fail(404, k_subject_not_found, fmt::format("Subject '{}' not found.", subject));
    std::vector<version_entry> entries;
    for (const auto& [number, entry] : s->versions) entries.push_back(entry);
    bool any_live = std::any_of(entries.begin(), entries.end(), [](const version_entry& e) { return !e.deleted; });
    if (permanent && any_live) {
        return fail(404, k_subject_not_soft_deleted,
                    fmt::format("Subject '{}' was not deleted first before being permanently deleted", subject));
    }
    if (!permanent && !any_live) {
        return fail(404, k_subject_soft_deleted,
                    fmt::format("Subject '{}' was soft deleted.Set permanent=true to delete permanently", subject));
    }
    for (const auto& entry : entries) {
        if (!store_.referenced_by(subject, entry.version).empty() && !entry.deleted) {
            return fail(422, k_reference_exists,
                        fmt::format("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={},version={}}}.", subject,
                                    entry.version));
        }
    }
    json::value out = json::value::array();
    if (permanent) {
        if (auto e = write(lock, store::watermark_key(), store::watermark_value(store_.max_id()))) return *e;
    }
    for (const auto& entry : entries) {
        if (!permanent && entry.deleted) continue;
        if (permanent) {
            if (auto e = write(lock, store::schema_key(subject, entry.version), std::nullopt)) return *e;
        } else {
            const schema_content* content = store_.schema_by_id(entry.id);
            if (content == nullptr) continue;
            schema_content copy = *content;
            if (auto e = write(lock, store::schema_key(subject, entry.version), store::schema_value(subject, entry.version, entry.id, copy, true))) {
                return *e;
            }
        }
        out.items.push_back(json::value::from_int(entry.version));
    }
    return reply(200, out);
}

http::response service::put_config(const std::string* subject, const http::request& req) {
    std::unique_lock lock(mutex_);
    auto body = parse_body(req.body);
    if (!body) return fail(400, 400, "The request body must be a JSON object");
    const std::string* level = string_member(*body, "compatibility");
    if (level == nullptr && !body->contains("compatibility")) level = string_member(*body, "compatibilityLevel");
    std::string text = level ? upper(*level) : std::string();
    if (std::find(k_levels.begin(), k_levels.end(), text) == k_levels.end()) {
        return fail(422, k_invalid_compatibility_level,
                    "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, "
                    "and full_transitive");
    }
    std::optional<std::string> key_subject;
    if (subject != nullptr) key_subject = *subject;
    if (auto e = write(lock, store::config_key(key_subject), store::config_value(text))) return *e;
    json::value out = json::value::object();
    out.set("compatibility", json::value::from_string(text));
    return reply(200, out);
}

http::response service::delete_config(const std::string* subject) {
    std::unique_lock lock(mutex_);
    std::string previous;
    std::optional<std::string> key_subject;
    if (subject != nullptr) {
        const subject_state* s = store_.subject(*subject);
        if (s == nullptr) return fail(404, k_subject_not_found, fmt::format("Subject '{}' not found.", *subject));
        if (!s->compatibility) {
            return fail(404, k_subject_level_compatibility_not_configured,
                        fmt::format("Subject '{}' does not have subject-level compatibility configured", *subject));
        }
        previous = *s->compatibility;
        key_subject = *subject;
    } else {
        previous = store_.global_compatibility().value_or(options_.default_compatibility);
    }
    if (auto e = write(lock, store::config_key(key_subject), std::nullopt)) return *e;
    json::value out = json::value::object();
    out.set("compatibilityLevel", json::value::from_string(previous));
    return reply(200, out);
}

http::response service::put_mode(const std::string* subject, const http::request& req) {
    std::unique_lock lock(mutex_);
    auto body = parse_body(req.body);
    if (!body) return fail(400, 400, "The request body must be a JSON object");
    const std::string* mode = string_member(*body, "mode");
    std::string text = mode ? upper(*mode) : std::string();
    if (std::find(k_modes.begin(), k_modes.end(), text) == k_modes.end()) {
        return fail(422, k_invalid_mode, "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT.");
    }
    if (text == "IMPORT" && !flag(req, "force")) {
        bool empty = subject == nullptr ? store_.subject_names(true).empty()
                                        : (store_.subject(*subject) == nullptr || store_.subject(*subject)->versions.empty());
        if (!empty) {
            return fail(422, k_operation_not_permitted,
                        "Cannot import since found existing subjects; set force=true to import into a registry that has schemas");
        }
    }
    std::optional<std::string> key_subject;
    if (subject != nullptr) key_subject = *subject;
    if (auto e = write(lock, store::mode_key(key_subject), store::mode_value(text))) return *e;
    json::value out = json::value::object();
    out.set("mode", json::value::from_string(text));
    return reply(200, out);
}

http::response service::delete_mode(const std::string& subject) {
    std::unique_lock lock(mutex_);
    const subject_state* s = store_.subject(subject);
    if (s == nullptr || !s->mode) {
        return fail(404, k_subject_level_mode_not_configured, fmt::format("Subject '{}' does not have subject-level mode configured", subject));
    }
    std::string previous = *s->mode;
    if (auto e = write(lock, store::mode_key(subject), std::nullopt)) return *e;
    json::value out = json::value::object();
    out.set("mode", json::value::from_string(previous));
    return reply(200, out);
}

}  // namespace millrace::registry
