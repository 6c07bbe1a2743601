#include "service.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "http_client.h"

namespace millrace::console {

api_error to_api_error(const error& err) {
    switch (err.code()) {
        case errc::not_found: return {404, err.message()};
        case errc::already_exists: return {409, err.message()};
        case errc::invalid_argument: return {400, err.message()};
        case errc::unsupported: return {400, err.message()};
        case errc::unavailable: return {503, err.message()};
        case errc::timed_out: return {504, err.message()};
        default: return {500, err.message()};
    }
}

http::response json_response(int status, const json& body) {
    http::response res = http::response::json(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
}

http::response error_response(int status, const std::string& message) {
    return json_response(status, json{{"error", message}, {"message", message}, {"status", status}});
}

http::response error_response(const error& err) {
    auto api = to_api_error(err);
    return error_response(api.status, api.message);
}

namespace {

std::string param_or(const http::request& req, std::string_view name, std::string fallback = {}) {
    const std::string* value = req.param(name);
    return value != nullptr ? *value : fallback;
}

}  // namespace

result<int64_t> parse_integer(const std::string& name, const std::string& text, int64_t min, int64_t max) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return make_error(errc::invalid_argument, "{} '{}' is not a whole number", name, text);
    }
    if (value < min || value > max) {
        return make_error(errc::invalid_argument, "{} {} is out of range ({}..{})", name, value, min, max);
    }
    return value;
}

result<int64_t> parse_time(const std::string& text) {
    if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return parse_integer("timestamp", text, 0, INT64_MAX / 2);
    }
    std::tm tm{};
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3 || consumed != 10) {
        return make_error(errc::invalid_argument,
                          "timestamp '{}' is neither milliseconds since the epoch nor ISO-8601 (2026-11-25T06:00:00Z)", text);
    }
    std::string_view rest = std::string_view(text).substr(10);
    int64_t millis = 0;
    int64_t zone_offset_s = 0;
    if (!rest.empty()) {
        if (rest[0] != 'T' && rest[0] != ' ') return make_error(errc::invalid_argument, "timestamp '{}': expected 'T' after the date", text);
        int n = 0;
        std::string time_text(rest.substr(1));
        if (std::sscanf(time_text.c_str(), "%2d:%2d%n", &hour, &minute, &n) != 2) {
            return make_error(errc::invalid_argument, "timestamp '{}': expected HH:MM after the date", text);
        }
        rest = rest.substr(1 + static_cast<size_t>(n));
        if (!rest.empty() && rest[0] == ':') {
            std::string sec_text(rest.substr(1));
            if (std::sscanf(sec_text.c_str(), "%2d%n", &second, &n) != 1) {
                return make_error(errc::invalid_argument, "timestamp '{}': bad seconds", text);
            }
            rest = rest.substr(1 + static_cast<size_t>(n));
            if (!rest.empty() && rest[0] == '.') {
                size_t digits = 1;
                int64_t scale = 100;
                while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
                    millis += (rest[digits] - '0') * scale;
                    scale /= 10;
                    ++digits;
                }
                rest = rest.substr(digits);
            }
        }
        if (rest == "Z" || rest.empty()) {
            // UTC
        } else if ((rest[0] == '+' || rest[0] == '-') && rest.size() == 6 && rest[3] == ':') {
            int zh = 0, zm = 0;
            std::string zone(rest.substr(1));
            if (std::sscanf(zone.c_str(), "%2d:%2d", &zh, &zm) != 2) {
                return make_error(errc::invalid_argument, "timestamp '{}': bad zone offset", text);
            }
            zone_offset_s = (rest[0] == '+' ? 1 : -1) * (zh * 3600 + zm * 60);
        } else {
            return make_error(errc::invalid_argument, "timestamp '{}': unexpected '{}' at the end", text, rest);
        }
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
        return make_error(errc::invalid_argument, "timestamp '{}' is not a valid date-time", text);
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    int64_t seconds = static_cast<int64_t>(timegm(&tm)) - zone_offset_s;
    if (seconds < 0) return make_error(errc::invalid_argument, "timestamp '{}' is before 1970", text);
    return seconds * 1000 + millis;
}

service::service(component_context& ctx, settings s)
    : ctx_(ctx),
      settings_(std::move(s)),
      history_(static_cast<size_t>(std::max<int64_t>(2, settings_.history_window.count() /
                                                            std::max<int64_t>(1, settings_.sample_interval.count()))),
               4096),
      workers_(settings_.workers) {}

void service::defer(const http::request& req, http::reply reply, sync_job job) {
    bool queued = workers_.submit([this, req, reply, job = std::move(job)] {
        try {
            reply.send(job(req));
        } catch (const std::exception& e) {
            log_.error("{} {}: {}", req.method, req.path, e.what());
            reply.send(error_response(500, fmt::format("internal error: {}", e.what())));
        }
    });
    if (!queued) reply.send(error_response(503, "the console is busy or stopping: too many requests in flight, retry shortly"));
}

void service::add_routes(http::server& server) {
    // Handlers that call Kafka, the registry or the store run on the console's workers.
    auto async = [this, &server](const std::string& method, const std::string& path,
                                 std::function<http::response(service&, const http::request&)> fn) {
        server.route_async(method, path, [this, fn](const http::request& req, http::reply reply) {
            defer(req, std::move(reply), [this, fn](const http::request& r) { return fn(*this, r); });
        });
    };
    auto topic = [](const http::request& req) { return req.path_param("topic"); };
    server.route("GET", "/api/info", [this](const http::request&) { return json_response(200, console_info()); });
    server.route("GET", "/api/overview", [this](const http::request& req) { return get_overview(req); });
    server.route("GET", "/api/health", [this](const http::request& req) { return get_health(req); });
    server.route("GET", "/api/history", [this](const http::request& req) { return get_history(req); });
    async("GET", "/api/topics", &service::get_topics);
    async("POST", "/api/topics", &service::post_topic);
    async("GET", "/api/topics/{topic}", [topic](service& s, const http::request& req) { return s.get_topic(topic(req)); });
    async("DELETE", "/api/topics/{topic}", [topic](service& s, const http::request& req) { return s.delete_topic(topic(req)); });
    async("GET", "/api/topics/{topic}/messages",
          [topic](service& s, const http::request& req) { return s.get_messages(topic(req), req); });
    async("POST", "/api/topics/{topic}/messages",
          [topic](service& s, const http::request& req) { return s.post_message(topic(req), req); });
    async("POST", "/api/topics/{topic}/configs",
          [topic](service& s, const http::request& req) { return s.post_topic_configs(topic(req), req); });
    async("GET", "/api/groups", &service::get_groups);
    async("GET", "/api/groups/{group}", [](service& s, const http::request& req) { return s.get_group(req.path_param("group")); });
    async("POST", "/api/groups/{group}/reset",
          [](service& s, const http::request& req) { return s.reset_group(req.path_param("group"), req); });
    async("GET", "/api/schemas", &service::get_schemas);
    async("GET", "/api/schemas/subjects/{subject}", &service::get_subject);
    async("GET", "/api/schemas/subjects/{subject}/versions/{version}", &service::get_subject);
    async("POST", "/api/schemas/subjects/{subject}/versions", [](service& s, const http::request& req) { return s.post_schema(req, false); });
    async("POST", "/api/schemas/subjects/{subject}/check", [](service& s, const http::request& req) { return s.post_schema(req, true); });
    async("GET", "/api/scheduler", &service::get_scheduler);
    async("GET", "/api/jobs", &service::get_jobs);
    server.route("GET", "/api/pipeline", [this](const http::request& req) { return get_pipeline(req); });
    async("GET", "/api/tables", &service::get_tables);
    async("GET", "/api/tables/{keyspace}/{table}", &service::get_table_rows);
    async("GET", "/api/tables/{keyspace}/{table}/rows", &service::get_table_rows);
    async("POST", "/api/cql", &service::post_cql);
    // JSON errors for the API; the web UI's own paths are served below "/" (GET).
    server.route("GET", "/api/", [](const http::request& req) {
        return error_response(404, fmt::format("no API endpoint {} (see GET /api/info)", req.path));
    });
    server.on_miss([](const http::request& req, int status) {
        if (status == 405) return error_response(405, fmt::format("{} is not served for {}", req.method, req.path));
        return error_response(404, fmt::format("no API endpoint {} {} (see GET /api/info)", req.method, req.path));
    });
    server.route_events("/api/events", [this](const http::request&, http::event_stream stream) {
        json snapshot;
        {
            std::lock_guard lock(mutex_);
            snapshot = overview_;
            subscribers_.push_back(stream);
        }
        if (!snapshot.is_null()) stream.send("overview", snapshot.dump(-1, ' ', false, json::error_handler_t::replace));
    });
    server.route_events("/api/tail/{topic}", [this](const http::request& req, http::event_stream stream) { start_tail(req, stream); });
}

json service::console_info() const {
    json info = {{"kafka", services::kafka_bootstrap(ctx_)},
                 {"cql", services::cql_contact_points(ctx_)},
                 {"sample_interval_ms", settings_.sample_interval.count()},
                 {"history_window_ms", settings_.history_window.count()},
                 {"pipeline_topic", settings_.pipeline_topic},
                 {"pipeline_table", settings_.pipeline_table},
                 {"scheduler_ui", settings_.scheduler_url.empty() ? json(nullptr) : json(settings_.scheduler_url)}};
    if (auto url = registry_url()) info["registry"] = *url;
    return info;
}

http::response service::get_overview(const http::request&) {
    std::lock_guard lock(mutex_);
    if (overview_.is_null()) return error_response(503, "the first sample is still being taken; retry in a moment");
    return json_response(200, overview_);
}

http::response service::get_health(const http::request&) {
    std::lock_guard lock(mutex_);
    if (health_.is_null()) return error_response(503, "the first health check is still running; retry in a moment");
    return json_response(200, json{{"components", health_}});
}

http::response service::get_history(const http::request& req) {
    int64_t since = 0;
    if (const std::string* text = req.param("since")) {
        auto parsed = parse_time(*text);
        if (!parsed) return error_response(parsed.err());
        since = *parsed;
    }
    std::vector<std::string> names;
    std::string wanted = param_or(req, "series", "records_in,records_out,bytes_in,bytes_out");
    size_t start = 0;
    while (start <= wanted.size()) {
        size_t comma = wanted.find(',', start);
        std::string name = wanted.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!name.empty()) {
            if (name.back() == '*') {
                for (auto& n : history_.names(name.substr(0, name.size() - 1))) names.push_back(std::move(n));
            } else {
                names.push_back(name);
            }
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    json series = json::object();
    for (const auto& name : names) {
        json points = json::array();
        for (const auto& p : history_.points(name, since)) points.push_back(json::array({p.time_ms, p.value}));
        series[name] = std::move(points);
    }
    return json_response(200, json{{"interval_ms", settings_.sample_interval.count()}, {"series", std::move(series)}});
}

// Topics ----------------------------------------------------------------------

namespace {

std::optional<std::string> config_value(const std::vector<config_entry>& configs, std::string_view name) {
    for (const auto& c : configs) {
        if (c.name == name) return c.value;
    }
    return std::nullopt;
}

json partitions_json(const topic_info& topic, const std::map<topic_partition, watermark>& marks) {
    json out = json::array();
    for (const auto& p : topic.partitions) {
        auto it = marks.find({topic.name, p.id});
        json row = {{"partition", p.id}, {"leader", p.leader}, {"replicas", p.replicas}, {"isr", p.isr}};
        if (it != marks.end()) {
            row["start_offset"] = it->second.low;
            row["end_offset"] = it->second.high;
            row["records"] = std::max<int64_t>(0, it->second.high - it->second.low);
        }
        if (!p.error.empty()) row["error"] = p.error;
        out.push_back(std::move(row));
    }
    return out;
}

}  // namespace

http::response service::get_topics(const http::request& req) {
    auto cluster = kafka_->metadata();
    if (!cluster) return error_response(cluster.err());
    bool internal = param_or(req, "internal") == "true";
    std::vector<topic_partition> all;
    for (const auto& t : cluster->topics) {
        if (t.internal && !internal) continue;
        for (const auto& p : t.partitions) all.emplace_back(t.name, p.id);
    }
    auto marks = kafka_->watermarks(all);
    if (!marks) return error_response(marks.err());
    std::map<std::string, json> stats;
    {
        std::lock_guard lock(mutex_);
        stats = topic_stats_;
    }
    json topics = json::array();
    for (const auto& t : cluster->topics) {
        if (t.internal && !internal) continue;
        int64_t records = 0;
        for (const auto& p : t.partitions) {
            const auto& m = (*marks)[{t.name, p.id}];
            records += std::max<int64_t>(0, m.high - m.low);
        }
        json row = {{"name", t.name},
                    {"partitions", t.partitions.size()},
                    {"replication_factor", t.partitions.empty() ? 0 : t.partitions.front().replicas.size()},
                    {"records", records},
                    {"internal", t.internal}};
        auto configs = kafka_->topic_configs(t.name);
        if (configs) {
            auto retention = config_value(*configs, "retention.ms");
            auto cleanup = config_value(*configs, "cleanup.policy");
            row["retention_ms"] = retention ? json(*retention) : json(nullptr);
            row["cleanup_policy"] = cleanup ? json(*cleanup) : json(nullptr);
        }
        auto it = stats.find(t.name);
        if (it != stats.end()) {
            for (const char* key : {"records_in_rate", "records_out_rate", "bytes_in_rate", "bytes_out_rate", "size_bytes"}) {
                if (it->second.contains(key)) row[key] = it->second[key];
            }
        }
        topics.push_back(std::move(row));
    }
    return json_response(200, json{{"topics", std::move(topics)}});
}

http::response service::post_topic(const http::request& req) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return error_response(400, "the body must be a JSON object: {\"name\": \"...\", \"partitions\": N, \"configs\": {...}}");
    }
    if (!body.contains("name") || !body["name"].is_string() || body["name"].get<std::string>().empty()) {
        return error_response(400, "\"name\" is required: the topic name");
    }
    std::string name = body["name"];
    if (name.size() > 249 || name == "." || name == ".." ||
        !std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; })) {
        return error_response(400, fmt::format("topic name '{}' is not valid: use up to 249 of [a-zA-Z0-9._-]", name));
    }
    int64_t partitions = 1;
    int64_t replication = 1;
    if (body.contains("partitions")) {
        if (!body["partitions"].is_number_integer() || body["partitions"].get<int64_t>() < 1 || body["partitions"].get<int64_t>() > 10000) {
            return error_response(400, fmt::format("\"partitions\" must be a whole number from 1 to 10000, not {}", body["partitions"].dump()));
        }
        partitions = body["partitions"];
    }
    if (body.contains("replication_factor")) {
        if (!body["replication_factor"].is_number_integer() || body["replication_factor"].get<int64_t>() < 1 ||
            body["replication_factor"].get<int64_t>() > 100) {
            return error_response(400, fmt::format("\"replication_factor\" must be a whole number from 1, not {}", body["replication_factor"].dump()));
        }
        replication = body["replication_factor"];
    }
    std::vector<std::pair<std::string, std::string>> configs;
    if (body.contains("configs")) {
        if (!body["configs"].is_object()) return error_response(400, "\"configs\" must be an object of config names to values");
        for (const auto& [key, value] : body["configs"].items()) {
            if (value.is_string()) {
                configs.emplace_back(key, value.get<std::string>());
            } else if (value.is_number() || value.is_boolean()) {
                configs.emplace_back(key, value.dump());
            } else {
                return error_response(400, fmt::format("config {} must be a string or number, not {}", key, value.dump()));
            }
        }
    }
    auto st = kafka_->create_topic(name, static_cast<int32_t>(partitions), static_cast<int32_t>(replication), configs);
    if (!st) return error_response(st.err());
    log_.info("created topic '{}' ({} partitions) from the console", name, partitions);
    return json_response(201, json{{"name", name}, {"partitions", partitions}, {"replication_factor", replication}});
}

http::response service::get_topic(const std::string& name) {
    auto cluster = kafka_->metadata();
    if (!cluster) return error_response(cluster.err());
    const topic_info* topic = cluster->find(name);
    if (topic == nullptr) return error_response(404, fmt::format("topic '{}' does not exist in the Kafka cluster at {}", name, kafka_->bootstrap()));
    std::vector<topic_partition> parts;
    for (const auto& p : topic->partitions) parts.emplace_back(name, p.id);
    auto marks = kafka_->watermarks(parts);
    if (!marks) return error_response(marks.err());
    auto configs = kafka_->topic_configs(name);
    json config_rows = json::array();
    if (configs) {
        for (const auto& c : *configs) {
            config_rows.push_back({{"name", c.name},
                                   {"value", c.sensitive ? json("(sensitive)") : c.value ? json(*c.value) : json(nullptr)},
                                   {"source", c.source},
                                   {"default", c.is_default},
                                   {"read_only", c.read_only}});
        }
    }
    int64_t records = 0;
    for (const auto& [tp, m] : *marks) records += std::max<int64_t>(0, m.high - m.low);
    json out = {{"name", name},
                {"internal", topic->internal},
                {"records", records},
                {"partitions", partitions_json(*topic, *marks)},
                {"configs", std::move(config_rows)}};
    if (!configs) out["configs_error"] = configs.err().message();
    {
        std::lock_guard lock(mutex_);
        auto it = topic_stats_.find(name);
        if (it != topic_stats_.end()) out["stats"] = it->second;
    }
    // Consumer groups with commits on this topic.
    json readers = json::array();
    {
        std::lock_guard lock(mutex_);
        for (const auto& [group, stats] : group_stats_) {
            if (stats.contains("topics") && stats["topics"].is_array()) {
                for (const auto& t : stats["topics"]) {
                    if (t == name) readers.push_back({{"group", group}, {"lag", stats.value("lag", json(nullptr))}});
                }
            }
        }
    }
    out["groups"] = std::move(readers);
    return json_response(200, out);
}

http::response service::delete_topic(const std::string& name) {
    auto cluster = kafka_->metadata();
    if (!cluster) return error_response(cluster.err());
    if (cluster->find(name) == nullptr) {
        return error_response(404, fmt::format("topic '{}' does not exist in the Kafka cluster at {}", name, kafka_->bootstrap()));
    }
    auto st = kafka_->delete_topic(name);
    if (!st) return error_response(st.err());
    log_.info("deleted topic '{}' from the console", name);
    return json_response(200, json{{"deleted", name}});
}

// Consumer groups ---------------------------------------------------------------

http::response service::get_groups(const http::request&) {
    auto groups = kafka_->list_groups();
    if (!groups) return error_response(groups.err());
    std::map<std::string, json> stats;
    {
        std::lock_guard lock(mutex_);
        stats = group_stats_;
    }
    json rows = json::array();
    for (const auto& g : *groups) {
        json row = {{"group_id", g.group_id}, {"state", g.state}, {"simple", g.simple}};
        auto committed = kafka_->committed_offsets(g.group_id);
        if (committed) {
            std::vector<topic_partition> parts;
            std::vector<std::string> topics;
            for (const auto& c : *committed) {
                parts.emplace_back(c.topic, c.partition);
                if (std::find(topics.begin(), topics.end(), c.topic) == topics.end()) topics.push_back(c.topic);
            }
            auto marks = kafka_->watermarks(parts);
            if (marks) {
                int64_t lag = 0;
                for (const auto& c : *committed) lag += std::max<int64_t>(0, (*marks)[{c.topic, c.partition}].high - c.offset);
                row["lag"] = lag;
            }
            row["topics"] = topics;
            row["partitions"] = parts.size();
        } else {
            row["error"] = committed.err().message();
        }
        auto desc = kafka_->describe_group(g.group_id);
        if (desc) {
            row["members"] = desc->members.size();
            row["state"] = desc->state;
        }
        auto it = stats.find(g.group_id);
        if (it != stats.end() && it->second.contains("consume_rate")) row["consume_rate"] = it->second["consume_rate"];
        rows.push_back(std::move(row));
    }
    return json_response(200, json{{"groups", std::move(rows)}});
}

http::response service::get_group(const std::string& id) {
    auto groups = kafka_->list_groups();
    if (!groups) return error_response(groups.err());
    bool known = std::any_of(groups->begin(), groups->end(), [&](const group_listing& g) { return g.group_id == id; });
    auto committed = kafka_->committed_offsets(id);
    if (!committed) return error_response(committed.err());
    if (!known && committed->empty()) {
        return error_response(404, fmt::format("consumer group '{}' does not exist in the Kafka cluster at {}", id, kafka_->bootstrap()));
    }
    auto desc = kafka_->describe_group(id);
    json out = {{"group_id", id}};
    std::map<topic_partition, std::string> owner;
    if (desc) {
        out["state"] = desc->state;
        out["assignor"] = desc->assignor;
        out["coordinator"] = desc->coordinator;
        json members = json::array();
        for (const auto& m : desc->members) {
            json assignment = json::array();
            for (const auto& tp : m.assignment) {
                assignment.push_back({{"topic", tp.first}, {"partition", tp.second}});
                owner[tp] = m.client_id.empty() ? m.member_id : m.client_id;
            }
            members.push_back({{"member_id", m.member_id}, {"client_id", m.client_id}, {"host", m.host}, {"assignment", assignment}});
        }
        out["members"] = std::move(members);
    } else {
        out["describe_error"] = desc.err().message();
    }
    std::vector<topic_partition> parts;
    for (const auto& c : *committed) parts.emplace_back(c.topic, c.partition);
    for (const auto& [tp, who] : owner) {
        if (std::find(parts.begin(), parts.end(), tp) == parts.end()) parts.push_back(tp);
    }
    auto marks = kafka_->watermarks(parts);
    json offsets = json::array();
    int64_t total = 0;
    for (const auto& tp : parts) {
        json row = {{"topic", tp.first}, {"partition", tp.second}};
        auto c = std::find_if(committed->begin(), committed->end(), [&](const committed_offset& co) {
            return co.topic == tp.first && co.partition == tp.second;
        });
        row["committed"] = c != committed->end() ? json(c->offset) : json(nullptr);
        if (c != committed->end() && !c->metadata.empty()) row["metadata"] = c->metadata;
        if (marks) {
            const auto& m = (*marks)[tp];
            row["start_offset"] = m.low;
            row["end_offset"] = m.high;
            int64_t lag = std::max<int64_t>(0, m.high - (c != committed->end() ? c->offset : m.low));
            row["lag"] = lag;
            total += lag;
        }
        auto o = owner.find(tp);
        row["member"] = o != owner.end() ? json(o->second) : json(nullptr);
        offsets.push_back(std::move(row));
    }
    out["offsets"] = std::move(offsets);
    out["lag"] = marks ? json(total) : json(nullptr);
    if (!marks) out["offsets_error"] = marks.err().message();
    json lag_history = json::array();
    for (const auto& p : history_.points("lag/" + id)) lag_history.push_back(json::array({p.time_ms, p.value}));
    out["lag_history"] = std::move(lag_history);
    return json_response(200, out);
}

http::response service::reset_group(const std::string& id, const http::request& req) {
    auto body = json::parse(req.body.empty() ? std::string("{}") : req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return error_response(400, "the body must be a JSON object: {\"to\": \"earliest\"|\"latest\"|\"timestamp\"|\"offset\", ...}");
    }
    std::string to = body.value("to", "");
    if (to != "earliest" && to != "latest" && to != "timestamp" && to != "offset") {
        return error_response(400, fmt::format("\"to\" must be earliest, latest, timestamp or offset, not '{}'", to));
    }
    std::optional<std::string> only_topic;
    if (body.contains("topic") && !body["topic"].is_null()) {
        if (!body["topic"].is_string()) return error_response(400, "\"topic\" must be a string");
        only_topic = body["topic"].get<std::string>();
    }
    int64_t timestamp = 0;
    int64_t offset = 0;
    if (to == "timestamp") {
        if (!body.contains("timestamp")) return error_response(400, "\"timestamp\" is required when resetting to a timestamp");
        auto t = parse_time(body["timestamp"].is_string() ? body["timestamp"].get<std::string>() : body["timestamp"].dump());
        if (!t) return error_response(t.err());
        timestamp = *t;
    }
    if (to == "offset") {
        if (!body.contains("offset") || !body["offset"].is_number_integer() || body["offset"].get<int64_t>() < 0) {
            return error_response(400, "\"offset\" must be a whole number >= 0 when resetting to an offset");
        }
        offset = body["offset"];
    }
    bool dry_run = body.value("dry_run", false);

    auto desc = kafka_->describe_group(id);
    if (desc && !desc->members.empty()) {
        return error_response(409, fmt::format("consumer group '{}' is {} with {} active member(s): stop its consumers before "
                                               "resetting its offsets",
                                               id, desc->state, desc->members.size()));
    }
    auto committed = kafka_->committed_offsets(id);
    if (!committed) return error_response(committed.err());
    std::vector<topic_partition> parts;
    std::map<topic_partition, int64_t> before;
    for (const auto& c : *committed) {
        if (only_topic && c.topic != *only_topic) continue;
        parts.emplace_back(c.topic, c.partition);
        before[{c.topic, c.partition}] = c.offset;
    }
    if (parts.empty()) {
        if (!only_topic) {
            return error_response(404, fmt::format("consumer group '{}' has no committed offsets; name a \"topic\" to set its offsets", id));
        }
        auto cluster = kafka_->metadata();
        if (!cluster) return error_response(cluster.err());
        const topic_info* topic = cluster->find(*only_topic);
        if (topic == nullptr) return error_response(404, fmt::format("topic '{}' does not exist", *only_topic));
        for (const auto& p : topic->partitions) parts.emplace_back(topic->name, p.id);
    }
    auto marks = kafka_->watermarks(parts);
    if (!marks) return error_response(marks.err());
    std::map<topic_partition, int64_t> targets;
    if (to == "timestamp") {
        auto found = kafka_->offsets_for_time(parts, timestamp);
        if (!found) return error_response(found.err());
        for (const auto& tp : parts) {
            int64_t o = (*found)[tp];
            targets[tp] = o < 0 ? (*marks)[tp].high : o;
        }
    } else {
        for (const auto& tp : parts) {
            const auto& m = (*marks)[tp];
            targets[tp] = to == "earliest" ? m.low : to == "latest" ? m.high : std::clamp(offset, m.low, m.high);
        }
    }
    json plan = json::array();
    std::vector<committed_offset> changes;
    for (const auto& tp : parts) {
        auto b = before.find(tp);
        plan.push_back({{"topic", tp.first},
                        {"partition", tp.second},
                        {"from", b != before.end() ? json(b->second) : json(nullptr)},
                        {"to", targets[tp]},
                        {"lag_after", std::max<int64_t>(0, (*marks)[tp].high - targets[tp])}});
        changes.push_back({tp.first, tp.second, targets[tp], {}});
    }
    if (!dry_run) {
        auto st = kafka_->alter_offsets(id, changes);
        if (!st) return error_response(st.err());
        log_.info("reset offsets of group '{}' to {} on {} partitions from the console", id, to, changes.size());
    }
    return json_response(200, json{{"group_id", id}, {"to", to}, {"dry_run", dry_run}, {"partitions", std::move(plan)}});
}

}  // namespace millrace::console

namespace millrace::console {

// The stream jobs of every admin endpoint that runs `millrace process` (its
// GET /api/v1/jobs: state, rates, lag, last error, SQL and plan), each with
// the admin address it came from.
http::response service::get_jobs(const http::request&) {
    const auto timeout = std::min<std::chrono::milliseconds>(settings_.request_timeout, std::chrono::milliseconds(1500));
    json jobs = json::array();
    json unreachable = json::array();
    for (const auto& address : settings_.admin_endpoints) {
        auto res = http_call("GET", http::own_url(settings_.own_auth, address) + "/api/v1/jobs", timeout, {}, "application/json",
                             settings_.own_auth);
        if (!res) {
            unreachable.push_back({{"admin", address}, {"error", res.err().message()}});
            continue;
        }
        if (res->status != 200) continue;  // not a process with jobs
        auto body = json::parse(res->body, nullptr, false);
        if (!body.is_object() || !body.contains("jobs") || !body["jobs"].is_array()) continue;
        for (auto& j : body["jobs"]) {
            j["admin"] = address;
            jobs.push_back(std::move(j));
        }
    }
    return json_response(200, json{{"jobs", jobs}, {"unreachable", unreachable}});
}

}  // namespace millrace::console
