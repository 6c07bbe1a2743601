// What the console changes, not only shows: produce or replay a record, edit a
// topic's configs, check and register a schema, run a CQL SELECT (as a page or
// as CSV). Every endpoint validates its body first and answers 400 naming the
// field; what the cluster refuses comes back with the cluster's own words.
#include <algorithm>
#include <cctype>

#include "decode.h"
#include "http_client.h"
#include "millrace/avro/codec.h"
#include "millrace/avro/json.h"
#include "millrace/avro/wire.h"
#include "millrace/common/services.h"
#include "service.h"

namespace millrace::console {
namespace {

bool config_name(const std::string& name) {
    return !name.empty() && name.size() <= 255 &&
           std::all_of(name.begin(), name.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; });
}

// A header or key given as {"value": "...", "encoding": "base64"} or a plain string.
result<std::optional<std::string>> bytes_field(const json& node, const std::string& what) {
    if (node.is_null()) return std::optional<std::string>();
    if (node.is_string()) return std::optional<std::string>(node.get<std::string>());
    if (node.is_object() && node.contains("value")) {
        const json& v = node["value"];
        if (v.is_null()) return std::optional<std::string>();
        if (!v.is_string()) return make_error(errc::invalid_argument, "{}: \"value\" must be a string or null", what);
        if (node.value("encoding", std::string()) == "base64") {
            auto raw = unbase64(v.get<std::string>());
            if (!raw) return raw.err().with_context(what);
            return std::optional<std::string>(std::move(*raw));
        }
        return std::optional<std::string>(v.get<std::string>());
    }
    return make_error(errc::invalid_argument, "{} must be a string, null or {{\"value\": ..., \"encoding\": \"base64\"}}", what);
}

// The CQL page runs reads only: the first word of the statement, comments skipped.
bool is_select(const std::string& query) {
    size_t at = 0;
    while (at < query.size()) {
        if (std::isspace(static_cast<unsigned char>(query[at]))) {
            ++at;
        } else if (query.compare(at, 2, "--") == 0 || query.compare(at, 2, "//") == 0) {
            at = query.find('\n', at);
            if (at == std::string::npos) return false;
        } else if (query.compare(at, 2, "/*") == 0) {
            at = query.find("*/", at + 2);
            if (at == std::string::npos) return false;
            at += 2;
        } else {
            break;
        }
    }
    std::string word;
    while (at < query.size() && std::isalpha(static_cast<unsigned char>(query[at]))) word += static_cast<char>(std::tolower(query[at++]));
    return word == "select";
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string csv_text(const json& cell) {
    if (cell.is_null()) return "";
    if (cell.is_string()) return cell.get<std::string>();
    return cell.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

// POST /api/topics/<name>/messages
//   {"partition": N?, "key": ..., "value": ..., "headers": [{"key", "value"}],
//    "format": "json"|"text"|"avro", "subject": "..."}      -- a new record
//   {"replay": {"topic", "partition", "offset"}}            -- a stored record's
//                                                             key, value and headers, byte for byte
http::response service::post_message(const std::string& topic, const http::request& req) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return error_response(400, "the body must be a JSON object: {\"key\": ..., \"value\": ..., \"format\": \"json\"} or {\"replay\": {...}}");
    }
    auto cluster = kafka_->metadata();
    if (!cluster) return error_response(cluster.err());
    const topic_info* target = cluster->find(topic);
    if (target == nullptr) return error_response(404, fmt::format("topic '{}' does not exist in the Kafka cluster at {}", topic, kafka_->bootstrap()));

    kafka_record record;
    record.topic = topic;
    record.partition = -1;
    if (body.contains("partition") && !body["partition"].is_null()) {
        if (!body["partition"].is_number_integer()) return error_response(400, "\"partition\" must be a whole number or null");
        int64_t partition = body["partition"];
        if (partition < 0 || partition >= static_cast<int64_t>(target->partitions.size())) {
            return error_response(400, fmt::format("topic '{}' has partitions 0 to {}, not {}", topic, target->partitions.size() - 1, partition));
        }
        record.partition = static_cast<int32_t>(partition);
    }

    if (body.contains("replay")) {
        const json& from = body["replay"];
        if (!from.is_object() || !from.contains("topic") || !from["topic"].is_string() || !from.contains("partition") ||
            !from["partition"].is_number_integer() || !from.contains("offset") || !from["offset"].is_number_integer()) {
            return error_response(400, "\"replay\" must be {\"topic\": \"...\", \"partition\": N, \"offset\": N}");
        }
        const std::string source_topic = from["topic"];
        const int32_t source_partition = from["partition"];
        const int64_t source_offset = from["offset"];
        auto reader = record_reader::create(kafka_->bootstrap(), kafka_->base_properties());
        if (!reader) return error_response(reader.err());
        if (auto st = (*reader)->assign({{{source_topic, source_partition}, source_offset}}); !st) return error_response(st.err());
        const auto deadline = std::chrono::steady_clock::now() + settings_.request_timeout;
        std::optional<kafka_record> found;
        while (!found && std::chrono::steady_clock::now() < deadline) {
            auto next = (*reader)->poll(std::chrono::milliseconds(200));
            if (!next) return error_response(next.err());
            if (*next && (*next)->offset == source_offset) found = std::move(**next);
            if (*next && (*next)->offset > source_offset) break;  // compacted or deleted: not there
        }
        if (!found) {
            return error_response(404, fmt::format("no record at offset {} of {}-{} to replay", source_offset, source_topic, source_partition));
        }
        record.key = std::move(found->key);
        record.value = std::move(found->value);
        record.headers = std::move(found->headers);
    } else {
        if (!body.contains("value")) return error_response(400, "\"value\" is required (null for a tombstone)");
        const std::string format = body.value("format", std::string("json"));
        if (body.contains("key")) {
            auto key = bytes_field(body["key"], "\"key\"");
            if (!key) return error_response(key.err());
            record.key = std::move(*key);
        }
        if (body.contains("headers")) {
            if (!body["headers"].is_array()) return error_response(400, "\"headers\" must be an array of {\"key\": \"...\", \"value\": \"...\"}");
            for (const auto& h : body["headers"]) {
                if (!h.is_object() || !h.contains("key") || !h["key"].is_string() || h["key"].get<std::string>().empty()) {
                    return error_response(400, "each header needs a non-empty string \"key\"");
                }
                auto value = bytes_field(h.contains("value") ? h : json(nullptr), fmt::format("header '{}'", h["key"].get<std::string>()));
                if (!value) return error_response(value.err());
                record.headers.emplace_back(h["key"].get<std::string>(), std::move(*value));
            }
        }
        const json& value = body["value"];
        if (value.is_null()) {
            record.value.reset();
        } else if (format == "text") {
            if (!value.is_string()) return error_response(400, "with \"format\": \"text\" the value must be a string");
            record.value = value.get<std::string>();
        } else if (format == "json") {
            record.value = value.dump(-1, ' ', false, json::error_handler_t::strict);
        } else if (format == "avro") {
            auto url = registry_url();
            if (!url) return error_response(503, "no schema registry configured (start `millrace registry` or set console.registry_url)");
            const std::string subject = body.value("subject", topic + "-value");
            auto res = http_call("GET", fmt::format("{}/subjects/{}/versions/latest", *url, subject), settings_.request_timeout, {},
                                 "application/json", registry_auth());
            if (!res) return error_response(res.err());
            auto latest = json::parse(res->body, nullptr, false);
            if (res->status == 404) return error_response(404, fmt::format("subject '{}' has no schema in the registry at {}", subject, *url));
            if (res->status != 200 || !latest.is_object() || !latest.contains("schema") || !latest.contains("id")) {
                return error_response(503, fmt::format("the registry at {} answered {} for subject '{}'", *url, res->status, subject));
            }
            if (latest.value("schemaType", std::string("AVRO")) != "AVRO") {
                return error_response(400, fmt::format("subject '{}' holds a {} schema; the console encodes AVRO", subject, latest.value("schemaType", "")));
            }
            auto schema = avro::schema::parse(latest["schema"].get<std::string>());
            if (!schema) return error_response(400, fmt::format("subject '{}': {}", subject, schema.err().message()));
            auto datum = avro::json::parse(value.dump(-1, ' ', false, json::error_handler_t::strict));
            if (!datum) return error_response(400, fmt::format("value: {}", datum.err().message()));
            auto encoded = avro::encode(schema->root(), *datum);
            if (!encoded) {
                return error_response(400, fmt::format("the value does not match the latest schema of '{}' (id {}): {}", subject,
                                                       latest["id"].get<int64_t>(), encoded.err().message()));
            }
            record.value = avro::wire::frame(static_cast<int32_t>(latest["id"].get<int64_t>()), *encoded);
        } else {
            return error_response(400, fmt::format("\"format\" must be json, text or avro, not '{}'", format));
        }
    }
    auto at = kafka_->produce(record);
    if (!at) return error_response(at.err());
    log_.info("produced a record to {}-{} at offset {} from the console", topic, at->partition, at->offset);
    return json_response(201, json{{"topic", topic}, {"partition", at->partition}, {"offset", at->offset}});
}

// POST /api/topics/<name>/configs {"set": {"retention.ms": "3600000"}, "delete": ["cleanup.policy"]}
http::response service::post_topic_configs(const std::string& topic, const http::request& req) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return error_response(400, "the body must be a JSON object: {\"set\": {\"name\": \"value\"}, \"delete\": [\"name\"]}");
    }
    std::map<std::string, std::string> set;
    std::vector<std::string> remove;
    if (body.contains("set")) {
        if (!body["set"].is_object()) return error_response(400, "\"set\" must be an object of config names to values");
        for (const auto& [name, value] : body["set"].items()) {
            if (!config_name(name)) return error_response(400, fmt::format("'{}' is not a topic config name", name));
            if (value.is_string()) set[name] = value.get<std::string>();
            else if (value.is_number() || value.is_boolean()) set[name] = value.dump();
            else return error_response(400, fmt::format("config {} must be a string or number, not {}", name, value.dump()));
        }
    }
    if (body.contains("delete")) {
        if (!body["delete"].is_array()) return error_response(400, "\"delete\" must be an array of config names");
        for (const auto& name : body["delete"]) {
            if (!name.is_string() || !config_name(name.get<std::string>())) return error_response(400, fmt::format("'{}' is not a topic config name", name.dump()));
            remove.push_back(name.get<std::string>());
        }
    }
    if (set.empty() && remove.empty()) return error_response(400, "nothing to change: give \"set\" or \"delete\"");
    auto st = kafka_->alter_topic_configs(topic, set, remove);
    if (!st) return error_response(st.err());
    log_.info("altered configs of topic '{}' from the console ({} set, {} removed)", topic, set.size(), remove.size());
    return get_topic(topic);
}

// POST /api/schemas/subjects/<subject>/check   {"schema": "...", "schemaType"?, "references"?}
//   the registry's verdict against the subject's latest version (a new subject is compatible)
// POST /api/schemas/subjects/<subject>/versions {same}: registers it
http::response service::post_schema(const http::request& req, bool check) {
    auto url = registry_url();
    if (!url) return error_response(503, "no schema registry configured (start `millrace registry` or set console.registry_url)");
    const std::string& subject = req.path_param("subject");
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("schema") || !body["schema"].is_string()) {
        return error_response(400, "the body must be {\"schema\": \"<schema text>\", \"schemaType\": \"AVRO\"}");
    }
    json forward = {{"schema", body["schema"]}};
    if (body.contains("schemaType")) forward["schemaType"] = body["schemaType"];
    if (body.contains("references")) forward["references"] = body["references"];
    const std::string path = check ? fmt::format("/compatibility/subjects/{}/versions/latest?verbose=true", http::percent_encode(subject))
                                   : fmt::format("/subjects/{}/versions", http::percent_encode(subject));
    auto res = http_call("POST", *url + path, settings_.request_timeout, forward.dump(), "application/vnd.schemaregistry.v1+json",
                         registry_auth());
    if (!res) return error_response(res.err());
    auto answer = json::parse(res->body, nullptr, false);
    if (answer.is_discarded()) answer = json{{"message", res->body.substr(0, 500)}};
    if (check) {
        // No version yet (40401 subject / 40402 version): nothing to be incompatible with.
        int code = answer.is_object() ? answer.value("error_code", 0) : 0;
        if (res->status == 404 && (code == 40401 || code == 40402)) {
            return json_response(200, json{{"subject", subject}, {"is_compatible", true}, {"new_subject", true}, {"messages", json::array()}});
        }
        if (res->status != 200) return json_response(res->status == 422 ? 422 : 502, json{{"error", answer.value("message", res->body)}, {"registry", answer}});
        return json_response(200, json{{"subject", subject},
                                       {"is_compatible", answer.value("is_compatible", false)},
                                       {"new_subject", false},
                                       {"messages", answer.contains("messages") ? answer["messages"] : json::array()}});
    }
    if (res->status != 200) {
        std::string message = answer.is_object() ? answer.value("message", res->body) : res->body;
        return json_response(res->status == 409 || res->status == 422 ? static_cast<int>(res->status) : 502,
                             json{{"error", message}, {"registry", answer}});
    }
    log_.info("registered a schema under subject '{}' from the console (id {})", subject, answer.value("id", 0));
    auto latest = http_call("GET", fmt::format("{}/subjects/{}/versions/latest", *url, subject), settings_.request_timeout, {},
                            "application/json", registry_auth());
    json out = {{"subject", subject}, {"id", answer.value("id", 0)}};
    if (latest && latest->status == 200) {
        auto doc = json::parse(latest->body, nullptr, false);
        if (doc.is_object()) out["version"] = doc.value("version", 0);
    }
    return json_response(200, out);
}

// POST /api/cql {"query": "SELECT ...", "page_size": N, "paging_state": "...", "format": "json"|"csv"}
// JSON: one page and the next paging state. CSV: every page, up to console.max_scan rows.
http::response service::post_cql(const http::request& req) {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("query") || !body["query"].is_string()) {
        return error_response(400, "the body must be {\"query\": \"SELECT ...\", \"page_size\": 50}");
    }
    const std::string query = body["query"];
    if (!is_select(query)) return error_response(400, "the CQL page runs SELECT statements only; use `millrace cql shell` to change data");
    int64_t page_size = 50;
    if (body.contains("page_size")) {
        if (!body["page_size"].is_number_integer() || body["page_size"] < 1 || body["page_size"] > 5000) {
            return error_response(400, "\"page_size\" must be a whole number from 1 to 5000");
        }
        page_size = body["page_size"];
    }
    const std::string format = body.value("format", std::string("json"));
    if (format != "json" && format != "csv") return error_response(400, fmt::format("\"format\" must be json or csv, not '{}'", format));
    auto session = cql_session();
    if (!session) {
        return error_response(503, fmt::format("the CQL store at {} cannot be reached: {}", services::cql_contact_points(ctx_), session.err().message()));
    }
    cql_client::query_options opts;
    opts.page_size = static_cast<int32_t>(page_size);
    if (body.contains("paging_state") && body["paging_state"].is_string() && !body["paging_state"].get<std::string>().empty()) {
        auto raw = unbase64(body["paging_state"].get<std::string>());
        if (!raw) return error_response(raw.err());
        opts.paging_state = *raw;
    }
    auto failed = [&](const error& e) {
        auto code = cql_client::server_error_code(e);
        return error_response(code ? 400 : 503, e.message());
    };
    if (format == "csv") {
        std::string out;
        int64_t rows = 0;
        bool header = false;
        while (true) {
            auto page = (*session)->query(query, {}, opts);
            if (!page) return failed(page.err());
            if (!header) {
                for (size_t idx = 0; idx < page->columns.size(); ++idx) out += (idx ? "," : "") + csv_field(page->columns[idx].name);
                out += "\r\n";
                header = true;
            }
            for (const auto& r : page->data) {
                for (size_t idx = 0; idx < r.size(); ++idx) out += (idx ? "," : "") + csv_field(csv_text(cql_value_json(r[idx])));
                out += "\r\n";
                ++rows;
            }
            if (!page->paging_state || rows >= settings_.max_scan) break;
            opts.paging_state = *page->paging_state;
        }
        http::response res;
        res.status = 200;
        res.content_type = "text/csv; charset=utf-8";
        res.body = std::move(out);
        res.headers.emplace_back("Content-Disposition", "attachment; filename=\"query.csv\"");
        res.headers.emplace_back("Cache-Control", "no-store");
        return res;
    }
    auto page = (*session)->query(query, {}, opts);
    if (!page) return failed(page.err());
    json columns = json::array();
    for (const auto& c : page->columns) columns.push_back({{"name", c.name}, {"type", c.type.to_string()}});
    json rows = json::array();
    for (const auto& r : page->data) {
        json row = json::array();
        for (const auto& v : r) row.push_back(cql_value_json(v));
        rows.push_back(std::move(row));
    }
    return json_response(200, json{{"columns", columns},
                                   {"rows", rows},
                                   {"paging_state", page->paging_state ? json(base64(*page->paging_state)) : json(nullptr)}});
}

}  // namespace millrace::console
