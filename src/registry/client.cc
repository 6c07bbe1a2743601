#include "millrace/registry/client.h"

#include "millrace/avro/json.h"
#include "millrace/common/http_client.h"

namespace millrace::registry {
namespace json = avro::json;
namespace {

std::string registration_body(const std::string& schema_text, const std::string& type) {
    json::value body = json::value::object();
    body.set("schema", json::value::from_string(schema_text));
    if (type != "AVRO") body.set("schemaType", json::value::from_string(type));
    return json::dump(body);
}

result<subject_version> parse_subject_version(const std::string& body) {
    auto doc = json::parse(body);
    if (!doc) return doc.err().with_context("registry answer");
    subject_version out;
    const json::value* subject = doc->find("subject");
    const json::value* version = doc->find("version");
    const json::value* id = doc->find("id");
    const json::value* schema = doc->find("schema");
    if (!subject || !subject->is_string() || !version || !version->is_integer() || !id || !id->is_integer()) {
        return make_error(errc::invalid_argument, "registry answer lacks subject, version or id: {}", body.substr(0, 200));
    }
    out.subject = subject->text;
    out.version = static_cast<int>(version->integer);
    out.id = static_cast<int>(id->integer);
    if (schema && schema->is_string()) out.text = schema->text;
    return out;
}

}  // namespace

client::client(client_options options) : options_(std::move(options)) {
    while (!options_.url.empty() && options_.url.back() == '/') options_.url.pop_back();
    if (options_.url.find("://") == std::string::npos) options_.url = "http://" + options_.url;
}

result<client::http_reply> client::call(const std::string& method, const std::string& path, const std::string& body) {
    http::client_request request;
    request.method = method;
    request.url = options_.url + path;
    request.headers = {{"Content-Type", "application/vnd.schemaregistry.v1+json"},
                       {"Accept", "application/vnd.schemaregistry.v1+json, application/json"}};
    if (method != "GET") request.body = body;
    request.timeout = std::chrono::milliseconds(options_.timeout_ms);
    request.auth = options_.auth;
    auto response = http::perform(request);
    if (!response) return response.err();
    return http_reply{response->status, std::move(response->body)};
}

error client::error_from(const std::string& what, const http_reply& reply) {
    std::string message = reply.body;
    int code = 0;
    if (auto doc = json::parse(reply.body); doc.ok()) {
        if (const json::value* m = doc->find("message"); m && m->is_string()) message = m->text;
        if (const json::value* c = doc->find("error_code"); c && c->is_integer()) code = static_cast<int>(c->integer);
    }
    errc kind = reply.status == 404   ? errc::not_found
                : reply.status == 409 ? errc::already_exists
                : reply.status == 422 || reply.status == 400 ? errc::invalid_argument
                                                              : errc::unavailable;
    return make_error(kind, "{}: HTTP {} (error code {}): {}", what, reply.status, code, message);
}

result<int> client::register_schema(const std::string& subject, const std::string& schema_text, const std::string& type) {
    std::string what = fmt::format("registering a schema under subject '{}' at {}", subject, options_.url);
    auto reply = call("POST", "/subjects/" + http::url_escape(subject) + "/versions", registration_body(schema_text, type));
    if (!reply) return reply.err().with_context(what);
    if (reply->status != 200) return error_from(what, *reply);
    auto doc = json::parse(reply->body);
    const json::value* id = doc ? doc->find("id") : nullptr;
    if (id == nullptr || !id->is_integer()) return make_error(errc::invalid_argument, "{}: answer has no id: {}", what, reply->body.substr(0, 200));
    return static_cast<int>(id->integer);
}

result<std::shared_ptr<const fetched_schema>> client::schema_by_id(int id) {
    {
        std::lock_guard lock(mutex_);
        if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
    }
    std::string what = fmt::format("fetching schema id {} from {}", id, options_.url);
    auto reply = call("GET", fmt::format("/schemas/ids/{}", id), "");
    if (!reply) return reply.err().with_context(what);
    if (reply->status != 200) return error_from(what, *reply);
    auto doc = json::parse(reply->body);
    if (!doc) return doc.err().with_context(what);
    const json::value* schema = doc->find("schema");
    if (schema == nullptr || !schema->is_string()) return make_error(errc::invalid_argument, "{}: answer has no schema", what);
    auto out = std::make_shared<fetched_schema>();
    out->id = id;
    out->text = schema->text;
    if (const json::value* type = doc->find("schemaType"); type && type->is_string()) out->type = type->text;
    if (out->type == "AVRO" && doc->find("references") == nullptr) {
        auto parsed = avro::schema::parse(out->text);
        if (!parsed) return parsed.err().with_context(what);
        out->avro = std::make_shared<const avro::schema>(std::move(*parsed));
    }
    std::lock_guard lock(mutex_);
    return by_id_.emplace(id, std::move(out)).first->second;
}

result<subject_version> client::lookup(const std::string& subject, const std::string& schema_text, const std::string& type) {
    std::string what = fmt::format("looking up a schema under subject '{}' at {}", subject, options_.url);
    auto reply = call("POST", "/subjects/" + http::url_escape(subject), registration_body(schema_text, type));
    if (!reply) return reply.err().with_context(what);
    if (reply->status != 200) return error_from(what, *reply);
    return parse_subject_version(reply->body);
}

result<subject_version> client::latest(const std::string& subject) {
    std::string what = fmt::format("fetching the latest version of subject '{}' from {}", subject, options_.url);
    auto reply = call("GET", "/subjects/" + http::url_escape(subject) + "/versions/latest", "");
    if (!reply) return reply.err().with_context(what);
    if (reply->status != 200) return error_from(what, *reply);
    return parse_subject_version(reply->body);
}

result<bool> client::compatible(const std::string& subject, const std::string& schema_text, const std::string& type) {
    std::string what = fmt::format("testing compatibility with subject '{}' at {}", subject, options_.url);
    auto reply = call("POST", "/compatibility/subjects/" + http::url_escape(subject) + "/versions/latest", registration_body(schema_text, type));
    if (!reply) return reply.err().with_context(what);
    if (reply->status != 200) return error_from(what, *reply);
    auto doc = json::parse(reply->body);
    const json::value* ok = doc ? doc->find("is_compatible") : nullptr;
    if (ok == nullptr || !ok->is_bool()) return make_error(errc::invalid_argument, "{}: answer has no is_compatible", what);
    return ok->boolean;
}

}  // namespace millrace::registry
