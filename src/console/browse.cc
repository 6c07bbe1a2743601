// The message browser: GET /api/topics/<name>/messages and the live tail.
#include <algorithm>
#include <deque>

#include "decode.h"
#include "json_filter.h"
#include "service.h"

namespace millrace::console {
namespace {

constexpr int64_t k_max_limit = 1000;

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// What a record looks like to the browser, and the text the text filter searches.
struct shown_record {
    json row;
    std::string search_text;  // lower-case
    int64_t timestamp = 0;
    int32_t partition = 0;
    int64_t offset = 0;
};

shown_record show(const kafka_record& r, const avro_decoder& avro) {
    shown_record out;
    json key = decode_payload(r.key, avro);
    json value = decode_payload(r.value, avro);
    json headers = json::array();
    std::string text;
    for (const auto& [name, v] : r.headers) {
        json h = {{"key", name}};
        if (!v) {
            h["value"] = nullptr;
        } else if (valid_utf8(*v)) {
            h["value"] = *v;
            text += *v + "\n";
        } else {
            h["value"] = base64(*v);
            h["encoding"] = "base64";
        }
        text += name + "\n";
        headers.push_back(std::move(h));
    }
    auto payload_text = [](const json& decoded) {
        const json& v = decoded["value"];
        return v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, json::error_handler_t::replace);
    };
    text += payload_text(key) + "\n" + payload_text(value);
    out.search_text = lower(text);
    out.timestamp = r.timestamp;
    out.partition = r.partition;
    out.offset = r.offset;
    out.row = {{"partition", r.partition}, {"offset", r.offset},       {"timestamp", r.timestamp},
               {"timestamp_type", r.timestamp_type}, {"key", std::move(key)}, {"value", std::move(value)},
               {"headers", std::move(headers)}};
    return out;
}

bool keep(const shown_record& r, const std::string& text, const std::optional<json_filter>& filter) {
    if (!text.empty() && r.search_text.find(text) == std::string::npos) return false;
    if (filter) {
        const json& value = r.row["value"];
        std::string format = value["format"];
        if (format != "json" && format != "avro") return false;
        if (!filter->matches(value["value"])) return false;
    }
    return true;
}

bool by_time(const shown_record& a, const shown_record& b) {
    return std::tie(a.timestamp, a.partition, a.offset) < std::tie(b.timestamp, b.partition, b.offset);
}

}  // namespace

http::response service::get_messages(const std::string& name, const http::request& req) {
    auto param = [&](std::string_view key) -> std::string {
        const std::string* v = req.param(key);
        return v != nullptr ? *v : std::string();
    };
    // Validate everything before touching the cluster.
    std::string from = param("from").empty() ? "latest" : param("from");
    if (from != "earliest" && from != "latest" && from != "offset" && from != "timestamp") {
        return error_response(400, fmt::format("from must be earliest, latest, offset or timestamp, not '{}'", from));
    }
    int64_t limit = 50;
    if (!param("limit").empty()) {
        auto parsed = parse_integer("limit", param("limit"), 1, k_max_limit);
        if (!parsed) return error_response(400, parsed.err().message());
        limit = *parsed;
    }
    int64_t max_scan = std::min<int64_t>(settings_.max_scan, 10000);
    if (!param("max_scan").empty()) {
        auto parsed = parse_integer("max_scan", param("max_scan"), 1, settings_.max_scan);
        if (!parsed) return error_response(400, parsed.err().message());
        max_scan = *parsed;
    }
    std::optional<int32_t> only_partition;
    if (!param("partition").empty()) {
        auto parsed = parse_integer("partition", param("partition"), 0, INT32_MAX);
        if (!parsed) return error_response(400, parsed.err().message());
        only_partition = static_cast<int32_t>(*parsed);
    }
    int64_t offset = 0;
    if (from == "offset" || !param("offset").empty()) {
        if (param("offset").empty()) return error_response(400, "from=offset needs offset=<N>");
        auto parsed = parse_integer("offset", param("offset"), 0, INT64_MAX);
        if (!parsed) return error_response(400, parsed.err().message());
        offset = *parsed;
        if (param("from").empty()) from = "offset";
    }
    int64_t timestamp = 0;
    if (from == "timestamp") {
        if (param("timestamp").empty()) return error_response(400, "from=timestamp needs timestamp=<ms or ISO-8601>");
        auto parsed = parse_time(param("timestamp"));
        if (!parsed) return error_response(400, parsed.err().message());
        timestamp = *parsed;
    }
    std::string text = lower(param("q"));
    std::optional<json_filter> filter;
    if (!param("jsonpath").empty()) {
        auto parsed = json_filter::parse(param("jsonpath"));
        if (!parsed) return error_response(400, fmt::format("jsonpath: {}", parsed.err().message()));
        filter = std::move(*parsed);
    }
    const bool filtering = !text.empty() || filter.has_value();

    auto cluster = kafka_->metadata();
    if (!cluster) return error_response(cluster.err());
    const topic_info* topic = cluster->find(name);
    if (topic == nullptr) return error_response(404, fmt::format("topic '{}' does not exist in the Kafka cluster at {}", name, kafka_->bootstrap()));
    std::vector<topic_partition> parts;
    for (const auto& p : topic->partitions) {
        if (!only_partition || p.id == *only_partition) parts.emplace_back(name, p.id);
    }
    if (parts.empty()) {
        return error_response(400, fmt::format("partition {} does not exist in topic '{}' ({} partitions: 0..{})", *only_partition, name,
                                               topic->partitions.size(), static_cast<int64_t>(topic->partitions.size()) - 1));
    }
    auto marks = kafka_->watermarks(parts);
    if (!marks) return error_response(marks.err());
    if (from == "offset" && only_partition) {
        const auto& m = (*marks)[parts.front()];
        if (offset > m.high) {
            return error_response(400, fmt::format("offset {} is past the end of {}-{} (offsets {}..{}, next is {})", offset, name,
                                                   *only_partition, m.low, std::max<int64_t>(m.low, m.high - 1), m.high));
        }
    }
    std::map<topic_partition, int64_t> starts;
    if (from == "timestamp") {
        auto found = kafka_->offsets_for_time(parts, timestamp);
        if (!found) return error_response(found.err());
        for (const auto& tp : parts) starts[tp] = (*found)[tp] < 0 ? (*marks)[tp].high : (*found)[tp];
    } else {
        const int64_t per_partition = filtering ? std::max<int64_t>(limit, max_scan / static_cast<int64_t>(parts.size())) : limit;
        for (const auto& tp : parts) {
            const auto& m = (*marks)[tp];
            starts[tp] = from == "earliest" ? m.low
                         : from == "latest" ? std::max(m.low, m.high - per_partition)
                                            : std::clamp(offset, m.low, m.high);
        }
    }

    avro_decoder avro = [this](int32_t id, std::string_view body) { return decode_avro(id, body); };
    std::map<topic_partition, int64_t> next = starts;  // next offset to read, per partition
    std::map<topic_partition, std::deque<shown_record>> kept;
    std::vector<std::pair<topic_partition, int64_t>> assignment;
    for (const auto& tp : parts) {
        if (starts[tp] < (*marks)[tp].high) assignment.emplace_back(tp, starts[tp]);
    }
    int64_t scanned = 0;
    bool cut = false;
    std::string read_error;
    if (!assignment.empty()) {
        auto reader = record_reader::create(kafka_->bootstrap(), kafka_->base_properties());
        if (!reader) return error_response(reader.err());
        if (auto st = (*reader)->assign(assignment); !st) return error_response(st.err());
        const auto deadline = std::chrono::steady_clock::now() + settings_.request_timeout;
        auto partition_done = [&](const topic_partition& tp) {
            if (next[tp] >= (*marks)[tp].high) return true;
            return from != "latest" && static_cast<int64_t>(kept[tp].size()) >= limit;
        };
        while (true) {
            bool all_done = std::all_of(parts.begin(), parts.end(), partition_done);
            if (all_done) break;
            if (scanned >= max_scan || std::chrono::steady_clock::now() >= deadline) {
                cut = true;
                break;
            }
            auto polled = (*reader)->poll(std::chrono::milliseconds(200));
            if (!polled) {
                read_error = polled.err().message();
                break;
            }
            if (!*polled) continue;
            const kafka_record& r = **polled;
            topic_partition tp{r.topic, r.partition};
            if (!next.count(tp) || r.offset < next[tp] || partition_done(tp)) continue;
            next[tp] = r.offset + 1;
            ++scanned;
            shown_record s = show(r, avro);
            if (!keep(s, text, filter)) continue;
            auto& q = kept[tp];
            q.push_back(std::move(s));
            if (from == "latest" && static_cast<int64_t>(q.size()) > limit) q.pop_front();
        }
    }
    std::vector<shown_record> all;
    for (auto& [tp, q] : kept) {
        for (auto& s : q) all.push_back(std::move(s));
    }
    std::sort(all.begin(), all.end(), by_time);
    if (static_cast<int64_t>(all.size()) > limit) {
        if (from == "latest") {
            all.erase(all.begin(), all.end() - limit);
        } else {
            all.resize(static_cast<size_t>(limit));
        }
    }
    json records = json::array();
    for (auto& s : all) records.push_back(std::move(s.row));
    json partitions = json::array();
    for (const auto& tp : parts) {
        const auto& m = (*marks)[tp];
        partitions.push_back({{"partition", tp.second}, {"start_offset", m.low}, {"end_offset", m.high}, {"read_from", starts[tp]}, {"read_to", next[tp]}});
    }
    json out = {{"topic", name},
                {"from", from},
                {"limit", limit},
                {"scanned", scanned},
                {"truncated", cut},
                {"partitions", std::move(partitions)},
                {"records", std::move(records)}};
    if (filter) out["jsonpath"] = filter->text();
    if (!text.empty()) out["q"] = text;
    if (!read_error.empty()) out["error"] = read_error;
    return json_response(200, out);
}

// Live tail -------------------------------------------------------------------

void service::start_tail(const http::request& req, http::event_stream stream) {
    const std::string& name = req.path_param("topic");
    auto param = [&](std::string_view key) {
        const std::string* v = req.param(key);
        return v != nullptr ? *v : std::string();
    };
    auto fail = [&](const std::string& message) {
        stream.send("error", json{{"error", message}}.dump());
        stream.close();
    };
    std::optional<int32_t> partition;
    if (!param("partition").empty()) {
        auto parsed = parse_integer("partition", param("partition"), 0, INT32_MAX);
        if (!parsed) return fail(parsed.err().message());
        partition = static_cast<int32_t>(*parsed);
    }
    if (!param("jsonpath").empty()) {
        if (auto parsed = json_filter::parse(param("jsonpath")); !parsed) return fail("jsonpath: " + parsed.err().message());
    }
    if (open_tails_.fetch_add(1) >= settings_.max_tails) {
        open_tails_.fetch_sub(1);
        return fail(fmt::format("too many live tails open (console.max_tails = {}); close one first", settings_.max_tails));
    }
    std::lock_guard lock(mutex_);
    if (stopping_) {
        open_tails_.fetch_sub(1);
        return fail("the console is stopping");
    }
    // Finished tail threads are joined here, so the list stays short.
    for (auto it = tails_.begin(); it != tails_.end();) {
        if (it->second->load()) {
            it->first.join();
            it = tails_.erase(it);
        } else {
            ++it;
        }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread thread([this, name, partition, text = lower(param("q")), jsonpath = param("jsonpath"), stream, done] {
        run_tail(name, partition, text, jsonpath, stream);
        open_tails_.fetch_sub(1);
        done->store(true);
    });
    tails_.emplace_back(std::move(thread), std::move(done));
}

void service::run_tail(std::string topic_name, std::optional<int32_t> partition, std::string text, std::string jsonpath,
                       http::event_stream stream) {
    auto fail = [&](const std::string& message) {
        stream.send("error", json{{"error", message}}.dump());
        stream.close();
    };
    std::optional<json_filter> filter;
    if (!jsonpath.empty()) filter = std::move(*json_filter::parse(jsonpath));
    auto cluster = kafka_->metadata();
    if (!cluster) return fail(cluster.err().message());
    const topic_info* topic = cluster->find(topic_name);
    if (topic == nullptr) return fail(fmt::format("topic '{}' does not exist in the Kafka cluster at {}", topic_name, kafka_->bootstrap()));
    std::vector<topic_partition> parts;
    for (const auto& p : topic->partitions) {
        if (!partition || p.id == *partition) parts.emplace_back(topic_name, p.id);
    }
    if (parts.empty()) return fail(fmt::format("partition {} does not exist in topic '{}'", *partition, topic_name));
    auto marks = kafka_->watermarks(parts);
    if (!marks) return fail(marks.err().message());
    auto reader = record_reader::create(kafka_->bootstrap(), kafka_->base_properties());
    if (!reader) return fail(reader.err().message());
    std::vector<std::pair<topic_partition, int64_t>> assignment;
    json positions = json::array();
    for (const auto& tp : parts) {
        assignment.emplace_back(tp, (*marks)[tp].high);
        positions.push_back({{"partition", tp.second}, {"offset", (*marks)[tp].high}});
    }
    if (auto st = (*reader)->assign(assignment); !st) return fail(st.err().message());
    stream.send("started", json{{"topic", topic_name}, {"partitions", positions}}.dump());
    avro_decoder avro = [this](int32_t id, std::string_view body) { return decode_avro(id, body); };
    while (stream.open()) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) break;
        }
        auto polled = (*reader)->poll(std::chrono::milliseconds(250));
        if (!polled) return fail(polled.err().message());
        if (!*polled) continue;
        shown_record s = show(**polled, avro);
        if (!keep(s, text, filter)) continue;
        if (!stream.send("record", s.row.dump(-1, ' ', false, json::error_handler_t::replace))) break;
    }
    stream.close();
}

}  // namespace millrace::console
